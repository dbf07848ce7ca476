package fstests

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// dirent is one entry getdents64 returned: the name and the offset that
// resumes the listing after it (what telldir returns).
type dirent struct {
	name string
	off  int64
}

// getdents reads one batch of entries into a buffer of size bytes.
func getdents(t *testing.T, fd, size int) []dirent {
	t.Helper()
	buf := make([]byte, size)
	var n int
	err := ignoringEINTR(func() (err error) { n, err = unix.Getdents(fd, buf); return err })
	if err != nil {
		t.Fatalf("getdents: %v", err)
	}
	var out []dirent
	for b := buf[:n]; len(b) > 0; {
		// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		name := b[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		out = append(out, dirent{name: string(name), off: int64(binary.NativeEndian.Uint64(b[8:16]))})
		b = b[reclen:]
	}
	return out
}

func seekDir(t *testing.T, fd int, off int64) {
	t.Helper()
	if err := ignoringEINTR(func() error { _, err := unix.Seek(fd, off, unix.SEEK_SET); return err }); err != nil {
		t.Fatalf("seekdir %d: %v", off, err)
	}
}

// ReaddirSeek checks telldir and seekdir (the d_off of each entry, and
// lseek on the directory): resuming at an entry's offset continues with
// the entry after it, offset 0 starts again, and a saved offset still
// resumes correctly after entries before and after it were removed or
// added. It also checks that a listing read in small batches while other
// names are created and removed lists every name that existed throughout
// exactly once and no name twice.
func ReaddirSeek(t *testing.T, dir string) {
	d := join(dir, "d")
	mustMkdir(t, d)
	const n = 300
	for i := range n {
		create(t, join(d, fmt.Sprintf("f%03d", i)), nil)
	}
	f := mustOpen(t, d, os.O_RDONLY)
	fd := int(f.Fd())
	var all []dirent
	for {
		batch := getdents(t, fd, 512)
		if len(batch) == 0 {
			break
		}
		all = append(all, batch...)
	}
	if len(all) != n+2 {
		t.Fatalf("listed %d entries, want %d and . and ..", len(all), n)
	}
	for _, k := range []int{0, 1, 57, 150, n} {
		seekDir(t, fd, all[k].off)
		got := getdents(t, fd, 512)
		if len(got) == 0 || got[0].name != all[k+1].name {
			t.Errorf("seekdir to the offset of entry %d (%q): next is %v, want %q", k, all[k].name, got[:min(len(got), 1)], all[k+1].name)
		}
	}
	seekDir(t, fd, 0)
	if got := getdents(t, fd, 512); len(got) == 0 || got[0].name != all[0].name {
		t.Errorf("seekdir 0: next is %v, want %q", got[:min(len(got), 1)], all[0].name)
	}

	// Remove the entry at the saved position and others around it, add
	// some, then resume.
	k := 100
	for _, i := range []int{k - 5, k, k + 1, k + 40} {
		if err := unlink(join(d, all[i].name)); err != nil {
			t.Fatalf("unlink: %v", err)
		}
	}
	create(t, join(d, "added"), nil)
	seekDir(t, fd, all[k].off)
	seen := map[string]int{}
	for {
		batch := getdents(t, fd, 512)
		if len(batch) == 0 {
			break
		}
		for _, e := range batch {
			seen[e.name]++
		}
	}
	for i := k + 2; i < len(all); i++ {
		if i == k+40 {
			continue
		}
		if seen[all[i].name] != 1 {
			t.Errorf("after seekdir past removed entries: %q listed %d times, want once", all[i].name, seen[all[i].name])
		}
	}
	for i := 0; i < k; i++ {
		if seen[all[i].name] > 0 {
			t.Errorf("after seekdir: %q, before the saved position, listed again", all[i].name)
		}
	}

	// A listing in small batches while names come and go.
	seekDir(t, fd, 0)
	seen = map[string]int{}
	round := 0
	for {
		batch := getdents(t, fd, 256)
		if len(batch) == 0 {
			break
		}
		for _, e := range batch {
			seen[e.name]++
		}
		round++
		if round > 20 {
			// Names added during a listing may be listed or not, so
			// adding one per batch forever could keep it going forever.
			continue
		}
		create(t, join(d, fmt.Sprintf("new%03d", round)), nil)
		if err := unlink(join(d, fmt.Sprintf("new%03d", round))); err != nil {
			t.Fatalf("unlink: %v", err)
		}
		create(t, join(d, fmt.Sprintf("kept%03d", round)), nil)
	}
	for i, e := range all {
		if i == k-5 || i == k || i == k+1 || i == k+40 {
			continue
		}
		if seen[e.name] != 1 {
			t.Errorf("listing during changes: %q listed %d times, want once", e.name, seen[e.name])
		}
	}
	for name, c := range seen {
		if c > 1 {
			t.Errorf("listing during changes: %q listed %d times", name, c)
		}
	}
}
