package resolver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/cache"
)

func TestCheck(t *testing.T) {
	s := initStore(t)
	d := newDevice(t, s, "aaaa")
	d.writeFile(t, "keep", randBytes(1, 300<<10))
	lost := d.writeFile(t, "lost", randBytes(2, 10<<10))
	if err := d.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}

	t.Run("clean", func(t *testing.T) {
		rep, err := Check(testCtx(t), d.idx, d.cache, CheckOptions{Store: s})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 0 || rep.Files != 2 || rep.Chunks == 0 {
			t.Fatalf("clean check: %+v", rep)
		}
	})

	// Damage: a resident file's cache file gone, an unknown cache file, a
	// stray name, and a chunk missing from the store.
	os.Remove(d.cache.Path(cache.Key{Ino: lost.Ino, Cver: lost.Cver}))
	unknown := cache.Key{Ino: 999, Cver: 3}
	os.WriteFile(d.cache.Path(unknown), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(filepath.Dir(d.cache.Path(unknown)), "leftover.tmp"), nil, 0o600)
	var chunk string
	s.List(testCtx(t), chunksPrefix, func(i blobstore.Info) error { chunk = i.Name; return nil })
	if err := s.Delete(testCtx(t), chunk); err != nil {
		t.Fatal(err)
	}

	t.Run("damaged", func(t *testing.T) {
		rep, err := Check(testCtx(t), d.idx, d.cache, CheckOptions{Store: s, Repair: true})
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(rep.Problems, "\n")
		for _, want := range []string{"no cache file", "not known to the index", "stray name", "missing from the store"} {
			if !strings.Contains(all, want) {
				t.Errorf("no problem %q in:\n%s", want, all)
			}
		}
		if len(rep.Problems) != 4 || len(rep.Repaired) != 2 {
			t.Fatalf("problems %q repaired %q", rep.Problems, rep.Repaired)
		}
		if _, err := os.Stat(d.cache.Path(unknown)); !os.IsNotExist(err) {
			t.Fatalf("unknown cache file not removed: %v", err)
		}
	})

	t.Run("after_repair", func(t *testing.T) {
		rep, err := Check(testCtx(t), d.idx, d.cache, CheckOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 1 || len(rep.Repaired) != 0 {
			t.Fatalf("after repair: %q", rep.Problems)
		}
	})
}
