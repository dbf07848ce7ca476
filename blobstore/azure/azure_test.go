package azure

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/storetest"
)

// envConnectionString names the local Azurite (scripts/servers.sh starts it
// and exports a connection string for its well-known dev account).
const envConnectionString = "SYNCFS_TEST_AZURE_CONNECTION_STRING"

// server returns Options for the local Azurite (no container yet), or
// skips/fails through storetest.RequireServer when none is configured.
func server(t testing.TB) Options {
	t.Helper()
	cs := os.Getenv(envConnectionString)
	if cs == "" {
		storetest.RequireServer(t, "Azurite ("+envConnectionString+")")
	}
	return Options{ConnectionString: cs}
}

// connField returns one key=value field of a connection string.
func connField(cs, key string) string {
	for f := range strings.SplitSeq(cs, ";") {
		if k, v, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

func randomName(t testing.TB, prefix string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// newContainer creates a container with a random name and removes it, with
// everything in it, when t ends.
func newContainer(t testing.TB, opts Options) Options {
	t.Helper()
	opts.Container = randomName(t, "syncfs-test-")
	s, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.Create(t.Context(), nil); err != nil {
		t.Fatalf("create container %s: %v", opts.Container, err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run; deleting the
		// container deletes its blobs.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.client.Delete(ctx, nil); err != nil {
			t.Errorf("delete container %s: %v", opts.Container, err)
		}
	})
	return opts
}

// TestConformance runs the blobstore suite with one container for the
// whole run and a random prefix per store, so that every subtest also
// proves its store never sees blobs of a sibling prefix (they are all
// still there while later subtests run).
func TestConformance(t *testing.T) {
	opts := newContainer(t, server(t))
	storetest.Run(t, func(t *testing.T) blobstore.Store {
		o := opts
		o.Prefix = randomName(t, "store-")
		s, err := Open(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		// The container's deletion at the end removes every store's
		// blobs; Azurite deletes blobs one by one slowly.
		return s
	})
}

// TestSharedKey opens the store with account, key and endpoint rather than
// a connection string, the other way OptionsFromEnv can be filled.
func TestSharedKey(t *testing.T) {
	cs := server(t).ConnectionString
	o := newContainer(t, Options{
		Account:  connField(cs, "AccountName"),
		Key:      connField(cs, "AccountKey"),
		Endpoint: connField(cs, "BlobEndpoint"),
	})
	s, err := Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := blobstore.PutBytes(t.Context(), s, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	got, err := blobstore.GetAll(t.Context(), s, "k", 0)
	if err != nil || string(got) != "v" {
		t.Fatalf("get: %q, %v", got, err)
	}
}

func TestOptionsFromEnv(t *testing.T) {
	t.Setenv(EnvConnectionString, "cs")
	t.Setenv(EnvAccount, "acct")
	t.Setenv(EnvKey, "key")
	got := OptionsFromEnv()
	want := Options{ConnectionString: "cs", Account: "acct", Key: "key"}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestOpenFailsFast(t *testing.T) {
	opts := server(t)
	cs := opts.ConnectionString
	t.Run("UnreachableEndpoint", func(t *testing.T) {
		o := Options{
			Container: "syncfs-unreachable",
			Account:   connField(cs, "AccountName"),
			Key:       connField(cs, "AccountKey"),
			Endpoint:  "http://" + closedPort(t) + "/" + connField(cs, "AccountName"),
		}
		start := time.Now()
		_, err := Open(t.Context(), o)
		if !errors.Is(err, blobstore.ErrTransient) {
			t.Fatalf("got %v, want an error wrapping ErrTransient", err)
		}
		if !strings.Contains(err.Error(), o.Container) {
			t.Errorf("error %q does not name the container", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v to fail", d)
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		o := newContainer(t, opts)
		// A well-formed key that is not the account's.
		o = Options{
			Container: o.Container,
			Account:   connField(cs, "AccountName"),
			Key:       "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==",
			Endpoint:  connField(cs, "BlobEndpoint"),
		}
		_, err := Open(t.Context(), o)
		if !errors.Is(err, blobstore.ErrPermission) {
			t.Fatalf("got %v, want an error wrapping ErrPermission", err)
		}
	})
	t.Run("MissingContainer", func(t *testing.T) {
		o := opts
		o.Container = randomName(t, "syncfs-missing-")
		_, err := Open(t.Context(), o)
		if !errors.Is(err, ErrNoContainer) {
			t.Fatalf("got %v, want an error wrapping ErrNoContainer", err)
		}
		if errors.Is(err, blobstore.ErrNotExist) || errors.Is(err, blobstore.ErrTransient) {
			t.Errorf("a missing container must not look like a missing object or a passing fault: %v", err)
		}
		if !strings.Contains(err.Error(), o.Container) {
			t.Errorf("error %q does not name the container", err)
		}
	})
	t.Run("NoCredentials", func(t *testing.T) {
		_, err := Open(t.Context(), Options{Container: "c"})
		if !errors.Is(err, blobstore.ErrPermission) {
			t.Fatalf("got %v, want an error wrapping ErrPermission", err)
		}
	})
}

// TestMissingContainerAfterOpen checks that blobs of a container deleted
// after Open are not reported as merely missing.
func TestMissingContainerAfterOpen(t *testing.T) {
	o := server(t)
	o.Container = randomName(t, "syncfs-missing-")
	s, err := New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(t.Context(), "config", 0, -1)
	if !errors.Is(err, ErrNoContainer) || errors.Is(err, blobstore.ErrNotExist) {
		t.Fatalf("get: got %v, want ErrNoContainer and not ErrNotExist", err)
	}
	err = s.List(t.Context(), "", func(blobstore.Info) error { return nil })
	if !errors.Is(err, ErrNoContainer) {
		t.Fatalf("list: got %v, want ErrNoContainer", err)
	}
}

// TestStagedUpload sends a body above the single-request limit, so that it
// is staged as blocks and committed, with and without create-if-absent
// (checked at the commit).
func TestStagedUpload(t *testing.T) {
	s, err := Open(t.Context(), newContainer(t, server(t)))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, singleRequestMax+blockSize+77)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	// Azurite now and then resets a connection mid-upload under load: the
	// retry wrapper, as syncfs uses it, rides that out.
	if err := blobstore.NewRetry(s, blobstore.RetryOptions{}).PutIfAbsent(t.Context(), "big", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	err = s.PutIfAbsent(t.Context(), "big", bytes.NewReader(data), int64(len(data)))
	if !errors.Is(err, blobstore.ErrExist) {
		t.Fatalf("second put-if-absent: got %v, want ErrExist", err)
	}
	t.Run("ShortBody", func(t *testing.T) {
		err := s.Put(t.Context(), "short", bytes.NewReader(data[:singleRequestMax+1]), int64(len(data)))
		if err == nil {
			t.Fatal("short staged body succeeded")
		}
		if _, err := s.Stat(t.Context(), "short"); !errors.Is(err, blobstore.ErrNotExist) {
			t.Fatalf("stat after failed put: got %v, want ErrNotExist", err)
		}
	})
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
	s, err := Open(t.Context(), newContainer(t, server(t)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
