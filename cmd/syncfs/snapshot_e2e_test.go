package main

// Snapshots end to end: create on a mount, change things, create again;
// list, diff, restore each (on the mount and through --store) and compare
// with the tree as it was, byte for byte and attribute for attribute;
// verify, then damage chunks and verify again; scheduled snapshots.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// snapEntry is what the test compares of one path.
type snapEntry struct {
	Mode     uint32
	UID, GID uint32
	Mtime    int64
	Size     int64
	Sum      string // regular files: SHA-256 of the content
	Target   string
	Rdev     uint64
	Xattrs   map[string]string
	LinkTo   string // the first path (in walk order) of the same inode, if not this one
}

// captureTree records every path below root (and root itself as ".").
func captureTree(t *testing.T, root string) map[string]snapEntry {
	t.Helper()
	out := map[string]snapEntry{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		e := snapEntry{Mode: st.Mode, UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Nano(), Xattrs: map[string]string{}}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			e.Size, e.Sum = int64(len(b)), hex.EncodeToString(sum[:])
		case syscall.S_IFLNK:
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
		case syscall.S_IFCHR, syscall.S_IFBLK:
			e.Rdev = st.Rdev
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			if first, ok := inodes[st.Ino]; ok {
				e.LinkTo = first
			} else {
				inodes[st.Ino] = rel
			}
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFLNK {
			buf := make([]byte, 4096)
			n, err := unix.Llistxattr(p, buf)
			if err != nil {
				return fmt.Errorf("listxattr %s: %w", p, err)
			}
			for _, name := range strings.Split(string(buf[:n]), "\x00") {
				if name == "" {
					continue
				}
				v := make([]byte, 4096)
				m, err := unix.Lgetxattr(p, name, v)
				if err != nil {
					return fmt.Errorf("getxattr %s %s: %w", p, name, err)
				}
				e.Xattrs[name] = string(v[:m])
			}
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("capture %s: %v", root, err)
	}
	return out
}

// compareTrees reports every path that differs.
func compareTrees(t *testing.T, what string, want, got map[string]snapEntry) {
	t.Helper()
	for _, rel := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[rel]
		w := want[rel]
		switch {
		case !ok:
			t.Errorf("%s: %s missing", what, rel)
		case g.Mode != w.Mode || g.UID != w.UID || g.GID != w.GID || g.Mtime != w.Mtime || g.Size != w.Size || g.Sum != w.Sum ||
			g.Target != w.Target || g.Rdev != w.Rdev || !maps.Equal(g.Xattrs, w.Xattrs) || g.LinkTo != w.LinkTo:
			t.Errorf("%s: %s differs:\n got  %+v\n want %+v", what, rel, g, w)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("%s: %s should not be there", what, rel)
		}
	}
}

// mtimeNs is a modification time with nanoseconds.
func mtimeNs(i int) time.Time { return time.Unix(1_650_000_000+int64(i)*3600, 123_456_789+int64(i)) }

// buildSnapTree writes the first tree through the mount.
func buildSnapTree(t *testing.T, root string) {
	t.Helper()
	p := func(rel string) string { return filepath.Join(root, rel) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	bounded(t, 2*time.Minute, "building the tree", func() {
		for _, d := range []string{"a", "links", "sticky"} {
			must(os.Mkdir(p(d), 0o755))
		}
		files := map[string][]byte{
			"empty": nil, "small.txt": []byte("small and inline\n"), "big.bin": content(7, 5<<20+17),
			"a/edited.txt": []byte("before\n"), "a/mode.txt": []byte("mode\n"), "suid": []byte("#!/bin/sh\n"),
			"x.txt": []byte("xattrs\n"), "gone.txt": []byte("to be removed\n"),
		}
		for rel, b := range files {
			must(os.WriteFile(p(rel), b, 0o644))
		}
		must(os.Link(p("small.txt"), p("links/small-hard")))
		must(os.Symlink("big.bin", p("sym")))
		must(unix.Mkfifo(p("fifo"), 0o640))
		must(unix.Mknod(p("null"), syscall.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
		must(unix.Setxattr(p("x.txt"), "user.k", []byte("v1"), 0))
		must(unix.Setxattr(p("a"), "user.dir", []byte("d"), 0))
		must(unix.Chmod(p("suid"), 0o4755))
		must(unix.Chmod(p("a"), 0o750))
		must(unix.Chmod(p("sticky"), 0o1777))
		must(os.Lchown(p("a/mode.txt"), 1234, 5678))
		i := 0
		for _, rel := range []string{"empty", "small.txt", "big.bin", "a/edited.txt", "a/mode.txt", "suid", "x.txt", "gone.txt", "fifo", "null", "a", "links", "sticky"} {
			i++
			must(os.Chtimes(p(rel), mtimeNs(i), mtimeNs(i)))
		}
		must(unix.Lutimes(p("sym"), []unix.Timeval{unix.NsecToTimeval(mtimeNs(50).UnixNano()), unix.NsecToTimeval(mtimeNs(50).UnixNano())}))
	})
}

// changeSnapTree makes the changes the diff must show.
func changeSnapTree(t *testing.T, root string) {
	t.Helper()
	p := func(rel string) string { return filepath.Join(root, rel) }
	bounded(t, time.Minute, "changing the tree", func() {
		for _, err := range []error{
			os.WriteFile(p("a/edited.txt"), []byte("after, and longer\n"), 0o644),
			unix.Chmod(p("a/mode.txt"), 0o600),
			os.WriteFile(p("new.txt"), []byte("new\n"), 0o644),
			os.Remove(p("gone.txt")),
			unix.Setxattr(p("x.txt"), "user.k", []byte("v2"), 0),
		} {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

var snapIDRe = regexp.MustCompile(`snapshot ([0-9a-f]{32}) saved`)

func snapshotID(t *testing.T, r result) string {
	t.Helper()
	m := snapIDRe.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no snapshot ID in: %s", r)
	}
	return m[1]
}

func TestSnapshots(t *testing.T) {
	st := localStore(t)
	st.init(t)
	m := mountStore(t, st, "")
	buildSnapTree(t, m.dir)
	want1 := captureTree(t, m.dir)
	id1 := snapshotID(t, mustSyncfs(t, nil, "snapshot", "create", m.dir, "--name", "one"))
	changeSnapTree(t, m.dir)
	want2 := captureTree(t, m.dir)
	id2 := snapshotID(t, mustSyncfs(t, nil, "snapshot", "create", m.path("a"), "--name", "two"))

	t.Run("list", func(t *testing.T) {
		r := mustSyncfs(t, nil, "snapshot", "list", m.dir)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "SIZE") ||
			!strings.HasPrefix(lines[1], id1+"  one") || !strings.HasPrefix(lines[2], id2+"  two") {
			t.Fatalf("list:\n%s", r.stdout)
		}
		var l []struct {
			ID, Name string
			Files    int64
			Bytes    int64
		}
		r = mustSyncfs(t, nil, "snapshot", "list", "--json", m.dir)
		if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || len(l) != 2 || l[0].ID != id1 || l[0].Files != 11 || l[0].Bytes < 5<<20 {
			t.Fatalf("list --json: %v %+v\n%s", err, l, r.stdout)
		}
	})
	t.Run("diff", func(t *testing.T) {
		r := mustSyncfs(t, nil, "snapshot", "diff", m.dir, "one", id2[:8])
		want := "M / (times)\nM /a/edited.txt (content, times)\nM /a/mode.txt (mode)\n- /gone.txt\n+ /new.txt\nM /x.txt (xattrs)\n"
		if r.stdout != want {
			t.Fatalf("diff:\n%s\nwant:\n%s", r.stdout, want)
		}
	})
	restoreAndCompare := func(t *testing.T, where []string, ref string, want map[string]snapEntry) {
		dst := filepath.Join(t.TempDir(), "restored")
		args := append([]string{"snapshot", "restore"}, where...)
		mustSyncfs(t, passEnv(), append(args, ref, "--to", dst)...)
		compareTrees(t, "restore "+ref, want, captureTree(t, dst))
	}
	t.Run("restore on the mount", func(t *testing.T) {
		restoreAndCompare(t, []string{m.dir}, "one", want1)
		restoreAndCompare(t, []string{m.dir}, id2, want2)
	})
	t.Run("verify on the mount", func(t *testing.T) {
		r := mustSyncfs(t, nil, "snapshot", "verify", m.dir, "one")
		if !strings.Contains(r.stdout, "no problems") {
			t.Fatalf("verify: %s", r)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		r := syncfs(t, nil, "snapshot", "restore", m.dir, "no-such-snapshot", "--to", filepath.Join(t.TempDir(), "x"))
		if r.code == 0 || !strings.Contains(r.stderr, "no such snapshot") {
			t.Errorf("restore of an unknown name: %s", r)
		}
		dst := t.TempDir()
		os.WriteFile(filepath.Join(dst, "keep"), []byte("mine"), 0o600)
		r = syncfs(t, nil, "snapshot", "restore", m.dir, "one", "--to", dst)
		if r.code == 0 || !strings.Contains(r.stderr, "not an empty directory") {
			t.Errorf("restore into a non-empty directory: %s", r)
		}
		if b, _ := os.ReadFile(filepath.Join(dst, "keep")); string(b) != "mine" {
			t.Errorf("the refused target changed")
		}
	})
	m.unmount(t)
	storeArgs := st.args()
	t.Run("restore with --store", func(t *testing.T) {
		restoreAndCompare(t, storeArgs, "one", want1)
		restoreAndCompare(t, storeArgs, "two", want2)
	})
	t.Run("create with --store", func(t *testing.T) {
		id3 := snapshotID(t, mustSyncfs(t, passEnv(), append([]string{"snapshot", "create", "--name", "three"}, storeArgs...)...))
		restoreAndCompare(t, storeArgs, id3, want2)
		r := mustSyncfs(t, passEnv(), append([]string{"snapshot", "diff", "two", "three"}, storeArgs...)...)
		if r.stdout != "" {
			t.Errorf("diff of the same tree: %q", r.stdout)
		}
		mustSyncfs(t, passEnv(), append([]string{"snapshot", "delete", id3}, storeArgs...)...)
		r = mustSyncfs(t, passEnv(), append([]string{"snapshot", "list"}, storeArgs...)...)
		if strings.Contains(r.stdout, id3) || !strings.Contains(r.stdout, id2) {
			t.Errorf("list after delete:\n%s", r.stdout)
		}
	})
	t.Run("verify finds damage", func(t *testing.T) {
		r := mustSyncfs(t, passEnv(), append([]string{"snapshot", "verify", "two"}, storeArgs...)...)
		if !strings.Contains(r.stdout, "no problems") {
			t.Fatalf("verify before damage: %s", r)
		}
		chunks := storeObjects(t, st.url, "chunks")
		if len(chunks) < 2 {
			t.Fatalf("want at least 2 chunks, store has %v", chunks)
		}
		if err := os.Remove(filepath.Join(st.url, chunks[0])); err != nil {
			t.Fatal(err)
		}
		flipByte(t, filepath.Join(st.url, chunks[1]))
		r = syncfs(t, passEnv(), append([]string{"snapshot", "verify", "two"}, storeArgs...)...)
		if r.code != exitDamaged {
			t.Errorf("verify of a damaged snapshot exited %d, want %d", r.code, exitDamaged)
		}
		for _, want := range []string{"MISSING " + chunks[0], "DAMAGED " + chunks[1], "used by /big.bin"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("verify output lacks %q:\n%s", want, r)
			}
		}
	})
}

func TestScheduledSnapshots(t *testing.T) {
	st := localStore(t)
	st.init(t)
	m := mountStore(t, st, "", "--snapshot-every", "1s")
	if err := os.WriteFile(m.path("f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var last result
	ok := poll(30*time.Second, func() bool {
		last = mustSyncfs(t, nil, "snapshot", "list", m.dir)
		return strings.Count(last.stdout, "scheduled") >= 2
	})
	if !ok {
		t.Fatalf("no two scheduled snapshots within 30s:\n%s\nlog:\n%s", last.stdout, readLog(m.cache))
	}
	m.unmount(t)
}
