package index

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
)

// benchModes runs bench with every change committed on its own
// ("single") and with group commit, as a mount has it ("grouped").
func benchModes(b *testing.B, bench func(*testing.B, Options)) {
	b.Run("single", func(b *testing.B) { bench(b, Options{Device: "bench"}) })
	b.Run("grouped", func(b *testing.B) { bench(b, Options{Device: "bench", GroupWindow: DefaultGroupWindow}) })
}

// BenchmarkCreate measures Create of empty files in one directory, the cost
// of a create(2) on the mount without the FUSE round trip.
func BenchmarkCreate(b *testing.B) { benchModes(b, benchCreate) }

func benchCreate(b *testing.B, opts Options) {
	db, err := Open(filepath.Join(b.TempDir(), "index.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ResetTimer()
	for i := range b.N {
		if _, err := db.Create(RootIno, fmt.Sprintf("f%07d", i), NewNode{Mode: syscall.S_IFREG | 0o644}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnlink measures Unlink of journaled empty files (each leaves a
// tombstone), the cost of an unlink(2) on the mount without FUSE.
func BenchmarkUnlink(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "index.db"), Options{Device: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := range b.N {
		if _, err := db.Create(RootIno, fmt.Sprintf("f%07d", i), NewNode{Mode: syscall.S_IFREG | 0o644}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if err := db.Unlink(RootIno, fmt.Sprintf("f%07d", i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtractFile measures what tar does to the index for each file it
// extracts, without FUSE: create and open, write (the size), chown, chmod,
// set the times, flush and release.
func BenchmarkExtractFile(b *testing.B) { benchModes(b, benchExtractFile) }

func benchExtractFile(b *testing.B, opts Options) {
	db, err := Open(filepath.Join(b.TempDir(), "index.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	uid, gid, mode := uint32(1000), uint32(1000), uint32(0o644)
	mtime := int64(1_600_000_000_000_000_000)
	b.ResetTimer()
	for i := range b.N {
		a, err := db.CreateOpen(RootIno, fmt.Sprintf("f%07d", i), NewNode{Mode: syscall.S_IFREG | 0o600}, true)
		if err != nil {
			b.Fatal(err)
		}
		db.NoteWrite(a.Ino, 4096, mtime)
		for _, in := range []SetAttrIn{{UID: &uid, GID: &gid}, {Mode: &mode}, {Atime: &mtime, Mtime: &mtime}} {
			if _, err := db.SetAttr(a.Ino, in); err != nil {
				b.Fatal(err)
			}
		}
		if err := db.Flush(a.Ino); err != nil {
			b.Fatal(err)
		}
		if err := db.Release(a.Ino, true); err != nil {
			b.Fatal(err)
		}
	}
}
