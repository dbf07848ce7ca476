package blobstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/syncfs/syncfs/blobstore"
)

func TestGetAll(t *testing.T) {
	mem := newMemStore()
	ctx := t.Context()
	if err := blobstore.PutBytes(ctx, mem, "obj", make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		limit int64
		err   error
	}{
		{"ExactLimit", 100, nil},
		{"OverLimit", 99, blobstore.ErrTooLarge},
		{"DefaultLimit", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := blobstore.GetAll(ctx, mem, "obj", tc.limit)
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if err == nil && len(b) != 100 {
				t.Fatalf("got %d bytes", len(b))
			}
		})
	}
	t.Run("Missing", func(t *testing.T) {
		if _, err := blobstore.GetAll(ctx, mem, "absent", 0); !errors.Is(err, blobstore.ErrNotExist) {
			t.Fatalf("got %v, want ErrNotExist", err)
		}
	})
}

func TestIsTransient(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("put x: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"Nil", nil, false},
		{"Transient", wrap(blobstore.ErrTransient), true},
		{"StoreDown", wrap(fmt.Errorf("%w (%w)", blobstore.ErrStoreDown, blobstore.ErrTransient)), true},
		{"Plain", errors.New("boom"), false},
		{"NotExist", wrap(blobstore.ErrNotExist), false},
		{"TransientButExist", errors.Join(blobstore.ErrTransient, blobstore.ErrExist), false},
		{"TransientButNoSpace", errors.Join(blobstore.ErrTransient, blobstore.ErrNoSpace), false},
		{"TransientButCanceled", errors.Join(blobstore.ErrTransient, context.Canceled), false},
		{"TransientButDeadline", errors.Join(blobstore.ErrTransient, context.DeadlineExceeded), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := blobstore.IsTransient(tc.err); got != tc.want {
				t.Fatalf("IsTransient(%v) = %v", tc.err, got)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"config", true},
		{"journal/dev1/1", true},
		{"a..b/.c", true},
		{"", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{".", false},
		{"..", false},
		{"a/./b", false},
		{"a/../b", false},
		{"a\x00b", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.name), func(t *testing.T) {
			err := blobstore.CheckName(tc.name)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, blobstore.ErrBadName)) {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
