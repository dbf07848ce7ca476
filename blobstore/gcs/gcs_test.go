package gcs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/storetest"
)

// requireEmulator skips or fails (through storetest.RequireServer) unless
// STORAGE_EMULATOR_HOST names a local fake-gcs-server, which
// scripts/servers.sh starts. The tests never talk to Google.
func requireEmulator(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvEmulatorHost) == "" {
		storetest.RequireServer(t, "GCS emulator ("+EnvEmulatorHost+")")
	}
}

func randomName(t testing.TB, prefix string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// newBucket creates a bucket with a random name on the emulator and removes
// it, with everything in it, when t ends.
func newBucket(t testing.TB) Options {
	t.Helper()
	opts := Options{Bucket: randomName(t, "syncfs-test-")}
	s, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.bucket.Create(t.Context(), "syncfs-test", nil); err != nil {
		t.Fatalf("create bucket %s: %v", opts.Bucket, err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		emptyStore(t, ctx, s)
		if err := s.bucket.Delete(ctx); err != nil {
			t.Errorf("delete bucket %s: %v", opts.Bucket, err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return opts
}

// emptyStore deletes every object of s (under its prefix), a few at a time.
func emptyStore(t testing.TB, ctx context.Context, s blobstore.Store) {
	t.Helper()
	var names []string
	err := s.List(ctx, "", func(info blobstore.Info) error {
		names = append(names, info.Name)
		return nil
	})
	if err != nil {
		t.Errorf("list for cleanup: %v", err)
		return
	}
	work := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for name := range work {
				if err := s.Delete(ctx, name); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		})
	}
	for _, name := range names {
		work <- name
	}
	close(work)
	wg.Wait()
}

// TestConformance runs the blobstore suite with one bucket for the whole
// run and a random prefix per store, so that every subtest also proves its
// store never sees objects of a sibling prefix.
func TestConformance(t *testing.T) {
	requireEmulator(t)
	opts := newBucket(t)
	storetest.Run(t, func(t *testing.T) blobstore.Store {
		o := opts
		o.Prefix = randomName(t, "store-")
		s, err := Open(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			emptyStore(t, ctx, s)
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}

func TestOpenFailsFast(t *testing.T) {
	requireEmulator(t)
	t.Run("MissingBucket", func(t *testing.T) {
		o := Options{Bucket: randomName(t, "syncfs-missing-")}
		_, err := Open(t.Context(), o)
		if !errors.Is(err, ErrNoBucket) {
			t.Fatalf("got %v, want an error wrapping ErrNoBucket", err)
		}
		if errors.Is(err, blobstore.ErrNotExist) || errors.Is(err, blobstore.ErrTransient) {
			t.Errorf("a missing bucket must not look like a missing object or a passing fault: %v", err)
		}
		if !strings.Contains(err.Error(), o.Bucket) {
			t.Errorf("error %q does not name the bucket", err)
		}
	})
	// fake-gcs-server accepts any credentials, so there is no
	// wrong-credentials case here; the mapping of 401/403 is unit-tested.
	t.Run("UnreachableEndpoint", func(t *testing.T) {
		t.Setenv(EnvEmulatorHost, closedPort(t))
		o := Options{Bucket: "syncfs-unreachable"}
		start := time.Now()
		_, err := Open(t.Context(), o)
		if !errors.Is(err, blobstore.ErrTransient) {
			t.Fatalf("got %v, want an error wrapping ErrTransient", err)
		}
		if !strings.Contains(err.Error(), o.Bucket) {
			t.Errorf("error %q does not name the bucket", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v to fail", d)
		}
	})
}

// TestChunkedUpload sends a body above the single-request limit, so that it
// goes up as a resumable upload in chunks, with and without the
// create-if-absent precondition.
func TestChunkedUpload(t *testing.T) {
	requireEmulator(t)
	s, err := Open(t.Context(), newBucket(t))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, singleRequestMax+(3<<20)+5)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(t.Context(), "big", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	err = s.PutIfAbsent(t.Context(), "big", bytes.NewReader(data[:10]), 10)
	if !errors.Is(err, blobstore.ErrExist) {
		t.Fatalf("second put-if-absent: got %v, want ErrExist", err)
	}
	got, err := blobstore.GetAll(t.Context(), s, "big", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("object differs from what was put")
	}
}

// closedPort returns a loopback address on which nothing listens.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// failingBody is an io.ReaderAt whose reads fail past limit bytes from the
// pass'th pass on (a pass starts with a read at offset 0), like a file
// whose disk goes away halfway through an upload. A backend may read the
// body more than once (checksums, payload hashes); the failure must cut
// whichever pass actually sends it.
type failingBody struct {
	data    []byte
	pass    int32
	limit   int64
	seen    atomic.Int32
	tripped atomic.Bool
}

var errDiskGone = errors.New("disk went away")

func (b *failingBody) ReadAt(p []byte, off int64) (int, error) {
	if off == 0 {
		b.seen.Add(1)
	}
	if b.seen.Load() >= b.pass && off+int64(len(p)) > b.limit {
		b.tripped.Store(true)
		n := copy(p, b.data[off:max(off, b.limit)])
		return n, errDiskGone
	}
	return copy(p, b.data[off:]), nil
}

// TestAbortedUploadLeavesNothing fails the body partway through each pass
// the backend makes over it: the Put must then fail and leave no object,
// never the part that was sent (some servers store a request body cut
// short as if it were whole).
func TestAbortedUploadLeavesNothing(t *testing.T) {
	s := openForAbortTest(t)
	data := make([]byte, 1<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	for pass := int32(1); pass <= 3; pass++ {
		t.Run(fmt.Sprintf("Pass%d", pass), func(t *testing.T) {
			for i := range 5 {
				body := &failingBody{data: data, pass: pass, limit: 64 << 10}
				err := s.Put(t.Context(), "aborted", body, int64(len(data)))
				if err == nil {
					if body.tripped.Load() {
						t.Fatalf("round %d: put succeeded although its body failed", i)
					}
					// The backend read the body fewer than pass times.
					if err := s.Delete(t.Context(), "aborted"); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if _, err := s.Stat(t.Context(), "aborted"); !errors.Is(err, blobstore.ErrNotExist) {
					t.Fatalf("round %d: stat after failed put: got %v, want ErrNotExist", i, err)
				}
			}
		})
	}
}

func openForAbortTest(t *testing.T) *Store {
	requireEmulator(t)
	s, err := Open(t.Context(), newBucket(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
