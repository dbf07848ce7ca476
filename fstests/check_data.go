package fstests

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// CreateReadWrite checks that a new file is an empty regular file with one
// link, that what is written reads back, that an overwrite in the middle
// changes only those bytes, and that reading at or past the end gives EOF.
func CreateReadWrite(t *testing.T, dir string) {
	p := join(dir, "file")
	f := mustOpen(t, p, os.O_RDWR|os.O_CREATE|os.O_EXCL)
	st := mustFstat(t, f)
	if fileType(st.Mode) != unix.S_IFREG || st.Size != 0 || st.Nlink != 1 {
		t.Errorf("new file: type %#o size %d links %d, want regular, 0, 1", fileType(st.Mode), st.Size, st.Nlink)
	}
	writeAt(t, f, 0, []byte("hello, world"))
	writeAt(t, f, 7, []byte("WORLD"))
	expectBytes(t, "read back", readAt(t, f, 0, 100), []byte("hello, WORLD"))
	expectBytes(t, "read at offset 3", readAt(t, f, 3, 4), []byte("lo, "))
	if st := mustFstat(t, f); st.Size != 12 {
		t.Errorf("fstat size: got %d, want 12", st.Size)
	}
	for _, off := range []int64{12, 4096} {
		n, err := f.ReadAt(make([]byte, 10), off)
		if n != 0 || !errors.Is(err, io.EOF) {
			t.Errorf("read at %d of a 12-byte file: got %d bytes, %v; want 0, EOF", off, n, err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	expectBytes(t, "read after close", readFile(t, p), []byte("hello, WORLD"))
	expectSize(t, p, 12)
}

// WriteVisibleAcrossFD checks that a write through one descriptor is seen at
// once through another descriptor of the same file, and by a new open.
func WriteVisibleAcrossFD(t *testing.T, dir string) {
	p := join(dir, "file")
	create(t, p, []byte("0123456789"))
	w := mustOpen(t, p, os.O_WRONLY)
	r := mustOpen(t, p, os.O_RDONLY)
	expectBytes(t, "first read", readAt(t, r, 0, 10), []byte("0123456789"))
	writeAt(t, w, 2, []byte("ab"))
	writeAt(t, w, 10, []byte("XYZ"))
	expectBytes(t, "read through the other descriptor", readAt(t, r, 0, 100), []byte("01ab456789XYZ"))
	expectBytes(t, "read through a new open", readFile(t, p), []byte("01ab456789XYZ"))
	if st := mustFstat(t, r); st.Size != 13 {
		t.Errorf("size seen by the reader: got %d, want 13", st.Size)
	}
}

// WriteRandomOffsets writes random data at random offsets, holes and all,
// and compares every read with an in-memory model of the file, before and
// after reopening it.
func WriteRandomOffsets(t *testing.T, dir string) {
	const (
		ops     = 300
		maxSize = 1 << 20
		maxLen  = 64 << 10
	)
	r := newRand(t)
	p := join(dir, "file")
	f := mustOpen(t, p, os.O_RDWR|os.O_CREATE|os.O_EXCL)
	var model []byte
	for i := range ops {
		off := r.IntN(maxSize - maxLen)
		data := randomBytes(r, 1+r.IntN(maxLen))
		writeAt(t, f, int64(off), data)
		if end := off + len(data); end > len(model) {
			model = append(model, make([]byte, end-len(model))...)
		}
		copy(model[off:], data)
		if i%10 == 0 {
			roff := r.IntN(len(model))
			n := 1 + r.IntN(2*maxLen)
			want := model[roff:min(roff+n, len(model))]
			got := readAt(t, f, int64(roff), n)
			if !bytes.Equal(got, want) {
				expectBytes(t, "read after write", got, want)
				t.Fatalf("after write %d: read of %d bytes at %d is wrong", i, n, roff)
			}
		}
	}
	if st := mustFstat(t, f); st.Size != int64(len(model)) {
		t.Errorf("size: got %d, want %d", st.Size, len(model))
	}
	expectBytes(t, "whole file before close", readAt(t, f, 0, len(model)+1), model)
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	expectBytes(t, "whole file after reopen", readFile(t, p), model)
}

// AppendWrite checks that every write through an O_APPEND descriptor lands
// at the end of the file, wherever the offset was and whoever else wrote.
func AppendWrite(t *testing.T, dir string) {
	p := join(dir, "file")
	create(t, p, []byte("start;"))
	a := mustOpen(t, p, os.O_WRONLY|os.O_APPEND)
	other := mustOpen(t, p, os.O_WRONLY)
	if _, err := a.Write([]byte("one;")); err != nil {
		t.Fatalf("append: %v", err)
	}
	if _, err := a.Seek(0, io.SeekStart); err != nil {
		t.Fatalf("seek: %v", err)
	}
	if _, err := a.Write([]byte("two;")); err != nil {
		t.Fatalf("append after seek: %v", err)
	}
	writeAt(t, other, 14, []byte("other;"))
	if _, err := a.Write([]byte("three;")); err != nil {
		t.Fatalf("append after another writer: %v", err)
	}
	want := []byte("start;one;two;other;three;")
	expectBytes(t, "content", readFile(t, p), want)
	expectSize(t, p, int64(len(want)))
	if off, err := a.Seek(0, io.SeekCurrent); err != nil || off != int64(len(want)) {
		t.Errorf("offset after append: got %d, %v; want %d", off, err, len(want))
	}
}

// TruncateGrow checks that growing a file, by path and by descriptor, keeps
// its data and reads the new part as zeros.
func TruncateGrow(t *testing.T, dir string) {
	p := join(dir, "file")
	data := []byte("some data")
	create(t, p, data)
	if err := os.Truncate(p, 10000); err != nil {
		t.Fatalf("truncate by path: %v", err)
	}
	expectSize(t, p, 10000)
	want := append(append([]byte{}, data...), make([]byte, 10000-len(data))...)
	expectBytes(t, "after growing by path", readFile(t, p), want)

	f := mustOpen(t, p, os.O_RDWR)
	if err := f.Truncate(3 << 20); err != nil {
		t.Fatalf("ftruncate: %v", err)
	}
	if st := mustFstat(t, f); st.Size != 3<<20 {
		t.Errorf("fstat size after ftruncate: got %d, want %d", st.Size, 3<<20)
	}
	want = append(want, make([]byte, 3<<20-len(want))...)
	expectBytes(t, "after growing by descriptor", readAt(t, f, 0, len(want)+1), want)

	expectErrno(t, "truncate a missing file", os.Truncate(join(dir, "missing"), 1), unix.ENOENT)
	expectErrno(t, "truncate a directory", os.Truncate(dir, 1), unix.EISDIR)
	expectErrno(t, "truncate to a negative size", os.Truncate(p, -1), unix.EINVAL)
	ro := mustOpen(t, p, os.O_RDONLY)
	expectErrno(t, "ftruncate a read-only descriptor", ro.Truncate(1), unix.EINVAL)
}

// TruncateShrink checks that shrinking cuts the data, and that growing the
// file again reads zeros there, never the old bytes.
func TruncateShrink(t *testing.T, dir string) {
	r := newRand(t)
	p := join(dir, "file")
	data := randomBytes(r, 300<<10)
	create(t, p, data)
	f := mustOpen(t, p, os.O_RDWR)
	if err := f.Truncate(1000); err != nil {
		t.Fatalf("shrink: %v", err)
	}
	if st := mustFstat(t, f); st.Size != 1000 {
		t.Errorf("size after shrink: got %d, want 1000", st.Size)
	}
	expectBytes(t, "after shrink", readAt(t, f, 0, 2000), data[:1000])

	if err := f.Truncate(200 << 10); err != nil {
		t.Fatalf("grow again: %v", err)
	}
	want := append(append([]byte{}, data[:1000]...), make([]byte, 200<<10-1000)...)
	expectBytes(t, "after shrink then grow", readAt(t, f, 0, len(want)+1), want)

	if err := os.Truncate(p, 0); err != nil {
		t.Fatalf("truncate to zero by path: %v", err)
	}
	expectSize(t, p, 0)
	expectBytes(t, "after truncate to zero", readFile(t, p), []byte{})
	writeAt(t, f, 5, []byte("x"))
	expectBytes(t, "write after truncate to zero", readFile(t, p), []byte("\x00\x00\x00\x00\x00x"))
}

// LargeFileRoundTrip writes 5 MiB of random data in uneven pieces, and reads
// it back whole and in random ranges, before and after reopening.
func LargeFileRoundTrip(t *testing.T, dir string) {
	const size = 5 << 20
	r := newRand(t)
	data := randomBytes(r, size)
	p := join(dir, "large")
	f := mustOpen(t, p, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	// Sizes that straddle pages and the usual 128 KiB FUSE request size.
	pieces := []int{1, 4095, 4096, 4097, 65537, 128 << 10, 131071, 1 << 20}
	for off, i := 0, 0; off < size; i++ {
		n := min(pieces[i%len(pieces)], size-off)
		if _, err := f.Write(data[off : off+n]); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
		off += n
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	expectSize(t, p, size)

	rf := mustOpen(t, p, os.O_RDONLY)
	got := make([]byte, 0, size)
	buf := make([]byte, 1<<20+13)
	for {
		n, err := rf.Read(buf)
		got = append(got, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("sequential read: %v", err)
		}
	}
	expectBytes(t, "sequential read", got, data)
	for range 64 {
		off := r.IntN(size)
		n := 1 + r.IntN(256<<10)
		want := data[off:min(off+n, size)]
		if got := readAt(t, rf, int64(off), n); !bytes.Equal(got, want) {
			expectBytes(t, "random read", got, want)
			t.Fatalf("read of %d bytes at %d is wrong", n, off)
		}
	}
}

// UnlinkedOpenFile checks that a file whose last name is removed lives on
// for its open descriptors (readable, writable, truncatable, with zero links)
// and that a new file of the same name is a different file.
func UnlinkedOpenFile(t *testing.T, dir string) {
	p := join(dir, "file")
	f := mustOpen(t, p, os.O_RDWR|os.O_CREATE|os.O_EXCL)
	writeAt(t, f, 0, []byte("before;"))
	old := mustFstat(t, f)
	if err := unlink(p); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	expectMissing(t, p)
	expectNames(t, dir, 0)
	if st := mustFstat(t, f); st.Nlink != 0 || st.Size != 7 {
		t.Errorf("fstat after unlink: links %d size %d, want 0, 7", st.Nlink, st.Size)
	}
	expectBytes(t, "read after unlink", readAt(t, f, 0, 100), []byte("before;"))
	writeAt(t, f, 7, []byte("after;"))
	expectBytes(t, "read after write after unlink", readAt(t, f, 0, 100), []byte("before;after;"))
	if err := f.Truncate(3); err != nil {
		t.Fatalf("ftruncate after unlink: %v", err)
	}
	expectBytes(t, "read after ftruncate after unlink", readAt(t, f, 0, 100), []byte("bef"))

	create(t, p, []byte("new file"))
	if st := mustStat(t, p); st.Ino == old.Ino {
		t.Errorf("new file reuses the open unlinked file's inode %d", st.Ino)
	}
	expectBytes(t, "old descriptor after a new file took the name", readAt(t, f, 0, 100), []byte("bef"))
	expectBytes(t, "new file", readFile(t, p), []byte("new file"))
}
