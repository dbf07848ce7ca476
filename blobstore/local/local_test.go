package local

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/storetest"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) blobstore.Store { return newStore(t) })
}

func listNames(t *testing.T, s blobstore.Store, prefix string) []string {
	t.Helper()
	var out []string
	err := s.List(t.Context(), prefix, func(info blobstore.Info) error {
		out = append(out, info.Name)
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return out
}

// tempFiles returns the temp files anywhere under the store's root.
func tempFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tempPrefix) {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpen(t *testing.T) {
	t.Run("MissingDirectory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nope")
		_, err := Open(dir, Options{})
		if !errors.Is(err, blobstore.ErrNotExist) {
			t.Fatalf("got %v, want ErrNotExist", err)
		}
		if !strings.Contains(err.Error(), dir) {
			t.Fatalf("error %q does not name %s", err, dir)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Open created the directory (stat: %v)", err)
		}
	})
	t.Run("NotADirectory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(file, Options{}); err == nil || !strings.Contains(err.Error(), file) {
			t.Fatalf("got %v, want an error naming %s", err, file)
		}
	})
	t.Run("RelativePath", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		if err := os.Mkdir("store", 0o700); err != nil {
			t.Fatal(err)
		}
		s, err := Open("store", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "store"); s.Root() != want {
			t.Fatalf("root %q, want %q", s.Root(), want)
		}
	})
	t.Run("Create", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		s, err := Create(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := blobstore.PutBytes(t.Context(), s, "config", []byte("c")); err != nil {
			t.Fatal(err)
		}
		// Create on an existing store keeps its objects.
		s, err = Create(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := listNames(t, s, ""); !slices.Equal(got, []string{"config"}) {
			t.Fatalf("list after second Create: %q", got)
		}
	})
}

func TestLayout(t *testing.T) {
	s := newStore(t)
	if err := blobstore.PutBytes(t.Context(), s, "chunks/ab/cd", []byte("x")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.root, "chunks", "ab", "cd"))
	if err != nil || string(b) != "x" {
		t.Fatalf("file for chunks/ab/cd: %q, %v", b, err)
	}
	if got := tempFiles(t, s); len(got) != 0 {
		t.Fatalf("temp files left after Put: %q", got)
	}
}

func TestTempFilesNeverListed(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, name := range []string{"chunks/aa", "journal/dev1/1"} {
		if err := blobstore.PutBytes(ctx, s, name, []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("CrashLeftovers", func(t *testing.T) {
		// What a crash between creating the temp file and renaming it leaves:
		// temp files beside objects, and one alone in an otherwise empty
		// directory tree.
		for _, p := range []string{
			filepath.Join(s.root, ".tmp-123"),
			filepath.Join(s.root, "chunks", ".tmp-456"),
			filepath.Join(s.root, "journal", "dev1", ".tmp-789"),
			filepath.Join(s.root, "trees", "t", ".tmp-000"),
		} {
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"chunks/aa", "journal/dev1/1"}
		for _, prefix := range []string{"", "chunks/", "journal/dev1/", ".tmp", "trees/"} {
			var exp []string
			for _, n := range want {
				if strings.HasPrefix(n, prefix) {
					exp = append(exp, n)
				}
			}
			if got := listNames(t, s, prefix); !slices.Equal(got, exp) {
				t.Errorf("list %q: got %q, want %q", prefix, got, exp)
			}
		}
	})
	t.Run("NotAddressable", func(t *testing.T) {
		if _, err := s.Stat(ctx, ".tmp-123"); !errors.Is(err, blobstore.ErrBadName) {
			t.Errorf("stat of a temp file: got %v, want ErrBadName", err)
		}
		if err := blobstore.PutBytes(ctx, s, "chunks/.tmp-1", nil); !errors.Is(err, blobstore.ErrBadName) {
			t.Errorf("put of a temp name: got %v, want ErrBadName", err)
		}
	})
	t.Run("DeleteKeepsDirectoryWithLeftovers", func(t *testing.T) {
		if err := s.Delete(ctx, "chunks/aa"); err != nil {
			t.Fatal(err)
		}
		if got := listNames(t, s, "chunks/"); len(got) != 0 {
			t.Fatalf("list: got %q", got)
		}
		if err := blobstore.PutBytes(ctx, s, "chunks/bb", []byte("b")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("FailedPutLeavesNoTemp", func(t *testing.T) {
		before := len(tempFiles(t, s))
		err := s.Put(ctx, "chunks/short", bytes.NewReader([]byte("abc")), 10)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("short body: got %v, want io.ErrUnexpectedEOF", err)
		}
		if after := len(tempFiles(t, s)); after != before {
			t.Fatalf("temp files: %d before, %d after", before, after)
		}
	})
}

func TestNames(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"config", true},
		{"chunks/3f2a", true},
		{"journal/dev1/17", true},
		{"a.b/c..d/.e", true},
		{"with space/ünïcode", true},
		{"", false},
		{"/abs", false},
		{"/", false},
		{"..", false},
		{".", false},
		{"../escape", false},
		{"a/../../escape", false},
		{"a/./b", false},
		{"a/..", false},
		{"a//b", false},
		{"a/", false},
		{"nul\x00byte", false},
		{".tmp-x", false},
		{"dir/.tmp-x/y", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.name), func(t *testing.T) {
			err := blobstore.PutBytes(ctx, s, tc.name, []byte("v"))
			if tc.ok {
				if err != nil {
					t.Fatalf("put: %v", err)
				}
				if _, err := s.Stat(ctx, tc.name); err != nil {
					t.Fatalf("stat: %v", err)
				}
				return
			}
			if !errors.Is(err, blobstore.ErrBadName) {
				t.Errorf("put: got %v, want ErrBadName", err)
			}
			if err := blobstore.PutBytesIfAbsent(ctx, s, tc.name, nil); !errors.Is(err, blobstore.ErrBadName) {
				t.Errorf("put-if-absent: got %v, want ErrBadName", err)
			}
			if _, err := s.Get(ctx, tc.name, 0, -1); !errors.Is(err, blobstore.ErrBadName) {
				t.Errorf("get: got %v, want ErrBadName", err)
			}
			if _, err := s.Stat(ctx, tc.name); !errors.Is(err, blobstore.ErrBadName) {
				t.Errorf("stat: got %v, want ErrBadName", err)
			}
			if err := s.Delete(ctx, tc.name); !errors.Is(err, blobstore.ErrBadName) {
				t.Errorf("delete: got %v, want ErrBadName", err)
			}
		})
	}
	t.Run("ListPrefix", func(t *testing.T) {
		for _, prefix := range []string{"../", "a/../../", "/etc/", "a//"} {
			err := s.List(ctx, prefix, func(blobstore.Info) error { return nil })
			if !errors.Is(err, blobstore.ErrBadName) {
				t.Errorf("list %q: got %v, want ErrBadName", prefix, err)
			}
		}
	})
}

func TestReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root, which bypasses directory permissions; errno mapping is covered by TestClassify")
	}
	s := newStore(t)
	ctx := t.Context()
	if err := blobstore.PutBytes(ctx, s, "d/old", []byte("x")); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.root, "d")
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	if err := blobstore.PutBytes(ctx, s, "d/new", []byte("y")); !errors.Is(err, blobstore.ErrPermission) {
		t.Errorf("put: got %v, want ErrPermission", err)
	}
	if err := s.Delete(ctx, "d/old"); !errors.Is(err, blobstore.ErrPermission) {
		t.Errorf("delete: got %v, want ErrPermission", err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		errno syscall.Errno
		want  error // nil: no sentinel
	}{
		{syscall.ENOENT, blobstore.ErrNotExist},
		{syscall.EACCES, blobstore.ErrPermission},
		{syscall.EPERM, blobstore.ErrPermission},
		{syscall.EROFS, blobstore.ErrPermission},
		{syscall.ENOSPC, blobstore.ErrNoSpace},
		{syscall.EDQUOT, blobstore.ErrNoSpace},
		{syscall.ETIMEDOUT, blobstore.ErrTransient},
		{syscall.EIO, nil},
		{syscall.EISDIR, nil},
	} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			orig := &fs.PathError{Op: "write", Path: "/store/x", Err: tc.errno}
			err := fmt.Errorf("put x: %w", classify(orig))
			if !errors.Is(err, tc.errno) {
				t.Errorf("%v lost its errno", err)
			}
			if !strings.Contains(err.Error(), "/store/x") {
				t.Errorf("%v lost its path", err)
			}
			for _, sentinel := range []error{
				blobstore.ErrNotExist, blobstore.ErrPermission, blobstore.ErrNoSpace,
				blobstore.ErrTransient, blobstore.ErrExist,
			} {
				if got := errors.Is(err, sentinel); got != (sentinel == tc.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, sentinel, got)
				}
			}
		})
	}
}

// failingWriter fails every write with errno, as a full disk would.
type failingWriter struct{ errno syscall.Errno }

func (w failingWriter) Write([]byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: "temp", Err: w.errno}
}

func TestWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		errno syscall.Errno
		want  error
	}{
		{syscall.ENOSPC, blobstore.ErrNoSpace},
		{syscall.EIO, syscall.EIO},
	} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			s := newStore(t)
			s.wrapTemp = func(io.Writer) io.Writer { return failingWriter{tc.errno} }
			for op, put := range map[string]func() error{
				"Put":         func() error { return blobstore.PutBytes(t.Context(), s, "chunks/x", []byte("data")) },
				"PutIfAbsent": func() error { return blobstore.PutBytesIfAbsent(t.Context(), s, "chunks/x", []byte("data")) },
			} {
				if err := put(); !errors.Is(err, tc.want) {
					t.Errorf("%s: got %v, want %v", op, err, tc.want)
				}
			}
			if got := tempFiles(t, s); len(got) != 0 {
				t.Errorf("temp files left: %q", got)
			}
			if _, err := s.Stat(t.Context(), "chunks/x"); !errors.Is(err, blobstore.ErrNotExist) {
				t.Errorf("stat: got %v, want ErrNotExist", err)
			}
		})
	}
}

func TestDeletePrunes(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, name := range []string{"a/b/c/d", "a/x"} {
		if err := blobstore.PutBytes(ctx, s, name, []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "a", "b")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a/b not pruned: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "a", "x")); err != nil {
		t.Errorf("sibling gone: %v", err)
	}
	if err := s.Delete(ctx, "a/x"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(s.root)
	if err != nil {
		t.Fatalf("root: %v", err)
	}
	if len(entries) != 0 {
		t.Errorf("root not empty: %v", entries)
	}
	t.Run("DirectoryIsNotAnObject", func(t *testing.T) {
		if err := blobstore.PutBytes(ctx, s, "p/q", nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "p"); err != nil {
			t.Fatalf("delete of a prefix directory: %v", err)
		}
		if _, err := s.Stat(ctx, "p/q"); err != nil {
			t.Fatalf("object under the directory: %v", err)
		}
	})
}

// TestPutDeleteRace keeps deleting the only object in a directory, which
// prunes it, while other goroutines put into the same directory: every Put
// must succeed even when its directory vanishes under it.
func TestPutDeleteRace(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	const rounds = 50
	var wg sync.WaitGroup
	errc := make(chan error, 3*rounds)
	for w := range 2 {
		wg.Go(func() {
			for i := range rounds {
				name := fmt.Sprintf("race/dir/w%d-%d", w, i)
				if err := blobstore.PutBytes(ctx, s, name, []byte("x")); err != nil {
					errc <- err
				}
				if err := s.Delete(ctx, name); err != nil {
					errc <- err
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if got := listNames(t, s, ""); len(got) != 0 {
		t.Errorf("left over: %q", got)
	}
}

func TestGetHoldsOldVersion(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := blobstore.PutBytes(ctx, s, "obj", []byte("old bytes")); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Get(ctx, "obj", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := blobstore.PutBytes(ctx, s, "obj", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "obj"); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "old bytes" {
		t.Fatalf("read after overwrite and delete: %q, %v", b, err)
	}
}

func TestNoSync(t *testing.T) {
	s, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := blobstore.PutBytes(t.Context(), s, "a/b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	b, err := blobstore.GetAll(t.Context(), s, "a/b", 0)
	if err != nil || string(b) != "x" {
		t.Fatalf("get: %q, %v", b, err)
	}
}
