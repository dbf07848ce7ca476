package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreV1Mounts mounts a copy of the kept format-1 store
// (testdata/store-v1) with the built binary and reads it back: every
// regular file's content matches the manifest, and verify finds nothing
// wrong.
func TestStoreV1Mounts(t *testing.T) {
	const kept = "../../testdata/store-v1"
	mb, err := os.ReadFile("../../testdata/store-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Tree map[string]struct {
			Mode   uint32 `json:"mode"`
			SHA256 string `json:"sha256"`
			Target string `json:"target"`
		} `json:"tree"`
	}
	if err := json.Unmarshal(mb, &manifest); err != nil {
		t.Fatal(err)
	}
	st := store{url: filepath.Join(t.TempDir(), "store")}
	copyDir(t, kept, st.url)
	env := []string{"SYNCFS_PASSPHRASE=syncfs format 1 test store"}
	r := syncfs(t, env, append([]string{"verify", "--read-data"}, st.args()...)...)
	if r.code != 0 || !strings.Contains(r.stdout, ": 0 problems") {
		t.Fatalf("verify of the kept store: %s", r)
	}
	mnt, cacheDir := newMountDirs(t)
	t.Cleanup(func() { forceUnmount(t, mnt, cacheDir) })
	mustSyncfs(t, env, append(append([]string{"mount"}, st.args()...), "--cache-dir", cacheDir, mnt)...)
	seen := 0
	err = filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == mnt {
			return err
		}
		rel := "/" + strings.TrimPrefix(p, mnt+"/")
		want, ok := manifest.Tree[rel]
		if !ok {
			t.Errorf("%s is not in the manifest", rel)
			return nil
		}
		seen++
		switch {
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("read %s: %v", rel, err)
				return nil
			}
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:]) != want.SHA256 {
				t.Errorf("%s: content differs from the manifest", rel)
			}
		case d.Type()&fs.ModeSymlink != 0:
			if target, _ := os.Readlink(p); target != want.Target {
				t.Errorf("%s: link to %q, want %q", rel, target, want.Target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(manifest.Tree) {
		t.Errorf("the mount shows %d paths, the manifest %d", seen, len(manifest.Tree))
	}
	r = mustSyncfs(t, nil, "versions", filepath.Join(mnt, "docs/notes.txt"))
	if strings.Count(r.stdout, "\n") < 5 {
		t.Errorf("versions of docs/notes.txt:\n%s", r.stdout)
	}
	mustSyncfs(t, nil, "unmount", mnt)
}
