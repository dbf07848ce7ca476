package azure

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/syncfs/syncfs/blobstore"
)

func TestExactReader(t *testing.T) {
	reset := errors.New("connection reset by peer")
	for _, tc := range []struct {
		name    string
		body    io.Reader
		remain  int64
		want    string
		wantErr error // nil: a clean end
	}{
		{"Exact", strings.NewReader("hello"), 5, "hello", nil},
		{"LongerBodyIsCut", strings.NewReader("hello world"), 5, "hello", nil},
		{"ShortBody", strings.NewReader("hel"), 5, "hel", io.ErrUnexpectedEOF},
		{"UnknownLength", strings.NewReader("hello"), -1, "hello", nil},
		{"UnknownLengthTruncated", io.MultiReader(strings.NewReader("he"), iotest.ErrReader(io.ErrUnexpectedEOF)), -1, "he", io.ErrUnexpectedEOF},
		{"Reset", io.MultiReader(strings.NewReader("he"), iotest.ErrReader(reset)), 5, "he", blobstore.ErrTransient},
		{"Empty", strings.NewReader(""), 0, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &exactReader{rc: io.NopCloser(tc.body), remain: tc.remain}
			got, err := io.ReadAll(r)
			if string(got) != tc.want {
				t.Errorf("read %q, want %q", got, tc.want)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestSizedReader(t *testing.T) {
	t.Run("Whole", func(t *testing.T) {
		got, err := io.ReadAll(newSizedReader(strings.NewReader("hello world"), 5))
		if err != nil || string(got) != "hello" {
			t.Fatalf("got %q, %v", got, err)
		}
	})
	t.Run("Short", func(t *testing.T) {
		_, err := io.ReadAll(newSizedReader(strings.NewReader("hel"), 5))
		if !errors.Is(err, errShortBody) {
			t.Fatalf("got %v, want errShortBody", err)
		}
	})
}
