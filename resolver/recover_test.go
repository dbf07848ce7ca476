package resolver

import (
	"os"
	"testing"

	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
)

// TestStartTakesStagedSizeFromCacheFile checks the crash rule for sizes: a
// Staged file whose cache file holds bytes past its committed size (writes
// not committed before a crash) takes the cache file's size when an engine
// starts, and a file already uploaded is left alone.
func TestStartTakesStagedSizeFromCacheFile(t *testing.T) {
	s := initStore(t)
	d := newDevice(t, s, "aaaa")
	up := d.writeFile(t, "uploaded", []byte("hello"))
	if err := d.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	staged := d.writeFile(t, "staged", []byte("hello"))
	// Bytes past both sizes, as writes lost with the daemon would leave.
	for _, a := range []index.Attr{up, staged} {
		f, err := os.OpenFile(d.cache.Path(cache.Key{Ino: a.Ino, Cver: a.Cver}), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(" world"); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	repo, err := Open(testCtx(t), s, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	New(repo, d.idx, d.cache, Options{})
	if a, err := d.idx.GetAttr(staged.Ino); err != nil || a.Size != int64(len("hello world")) {
		t.Errorf("staged file after start: size %d (%v), want %d", a.Size, err, len("hello world"))
	}
	if a, err := d.idx.GetAttr(up.Ino); err != nil || a.Size != int64(len("hello")) || a.State != index.StateResident {
		t.Errorf("uploaded file after start: size %d state %s (%v), want 5 Resident", a.Size, a.State, err)
	}
}
