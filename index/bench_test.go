package index

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkCreate measures Create of empty files in one directory, the cost
// of a create(2) on the mount without the FUSE round trip.
func BenchmarkCreate(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "index.db"), Options{Device: "bench"})
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
