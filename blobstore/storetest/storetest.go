package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/syncfs/syncfs/blobstore"
)

// Environment variables the suite reads.
const (
	// EnvLargeSize overrides Options.LargeSize (a byte count) when the
	// option is zero, so that cloud backends can be pushed into multipart
	// uploads from the command line.
	EnvLargeSize = "SYNCFS_STORETEST_LARGE_SIZE"
	// EnvRequireServers, when "1", turns RequireServer's skip into a failure.
	EnvRequireServers = "SYNCFS_REQUIRE_SERVERS"
)

// DefaultLargeSize is the size of the large round-trip object.
const DefaultLargeSize = 20 << 20

// DefaultListCount is how many objects the listing test stores.
const DefaultListCount = 2500

// Options tunes the suite for one backend. The zero value runs it in full.
type Options struct {
	// LargeSize is the size of the large round trip; 0 means EnvLargeSize
	// if set, else DefaultLargeSize.
	LargeSize int64
	// ListCount is how many objects the listing test stores; 0 means
	// DefaultListCount.
	ListCount int
}

// Run runs the conformance suite against the stores newStore makes, with
// default Options. newStore is called once per subtest with that subtest's
// t and must return an empty store (a fresh directory, bucket or prefix);
// it registers its own cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) blobstore.Store) {
	t.Helper()
	RunWithOptions(t, newStore, Options{})
}

// RunWithOptions runs the conformance suite like Run, tuned by opts.
func RunWithOptions(t *testing.T, newStore func(t *testing.T) blobstore.Store, opts Options) {
	t.Helper()
	if opts.LargeSize == 0 {
		opts.LargeSize = DefaultLargeSize
		if v := os.Getenv(EnvLargeSize); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				t.Fatalf("%s=%q: want a byte count", EnvLargeSize, v)
			}
			opts.LargeSize = n
		}
	}
	if opts.ListCount == 0 {
		opts.ListCount = DefaultListCount
	}
	s := suite{newStore: newStore, opts: opts}
	t.Run("RoundTrip", s.roundTrip)
	t.Run("PutOverwrites", s.putOverwrites)
	t.Run("OverwriteIsAtomic", s.overwriteIsAtomic)
	t.Run("PutShortBody", s.putShortBody)
	t.Run("PutIfAbsent", s.putIfAbsent)
	t.Run("PutIfAbsentRace", s.putIfAbsentRace)
	t.Run("RangedGet", s.rangedGet)
	t.Run("Missing", s.missing)
	t.Run("Delete", s.delete)
	t.Run("ListOrder", s.listOrder)
	t.Run("ListMany", s.listMany)
	t.Run("ListNoMatch", s.listNoMatch)
	t.Run("ListSharedPrefix", s.listSharedPrefix)
	t.Run("ListCallbackError", s.listCallbackError)
	t.Run("Cancelled", s.cancelled)
}

// RequireServer skips the test because the server named by what is not
// available, unless EnvRequireServers is "1" (as in CI), in which case it
// fails the test: a missing server must not turn a run green.
func RequireServer(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(EnvRequireServers) == "1" {
		t.Fatalf("%s is not available and %s=1 requires it", what, EnvRequireServers)
	}
	t.Skipf("%s is not available; set %s=1 to make this a failure", what, EnvRequireServers)
}

type suite struct {
	newStore func(t *testing.T) blobstore.Store
	opts     Options
}

// payload returns n deterministic pseudo-random bytes; seeds keep objects
// in one test distinct so a mixed-up read cannot pass.
func payload(seed uint64, n int64) []byte {
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b) // ChaCha8.Read never fails
	return b
}

func put(t *testing.T, s blobstore.Store, name string, b []byte) {
	t.Helper()
	if err := blobstore.PutBytes(t.Context(), s, name, b); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
}

// read returns the bytes of a ranged Get and the first error, whether from
// Get or from reading the stream.
func read(ctx context.Context, s blobstore.Store, name string, off, length int64) ([]byte, error) {
	rc, err := s.Get(ctx, name, off, length)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	return b, err
}

func mustRead(t *testing.T, s blobstore.Store, name string, off, length int64) []byte {
	t.Helper()
	b, err := read(t.Context(), s, name, off, length)
	if err != nil {
		t.Fatalf("get %s [%d,%d): %v", name, off, length, err)
	}
	return b
}

func checkSame(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes, want %d (first difference at %d)", what, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func checkStat(t *testing.T, s blobstore.Store, name string, size int64) {
	t.Helper()
	info, err := s.Stat(t.Context(), name)
	if err != nil {
		t.Fatalf("stat %s: %v", name, err)
	}
	if info.Name != name || info.Size != size {
		t.Fatalf("stat %s: got name %q size %d, want size %d", name, info.Name, info.Size, size)
	}
}

func list(t *testing.T, s blobstore.Store, prefix string) []blobstore.Info {
	t.Helper()
	var out []blobstore.Info
	err := s.List(t.Context(), prefix, func(info blobstore.Info) error {
		out = append(out, info)
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return out
}

func names(infos []blobstore.Info) []string {
	out := make([]string, len(infos))
	for i, info := range infos {
		out[i] = info.Name
	}
	return out
}

func (s suite) roundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
	}{
		{"Empty", 0},
		{"OneByte", 1},
		{"OneMiB", 1 << 20},
		{"Large", s.opts.LargeSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := s.newStore(t)
			name := "roundtrip/" + strings.ToLower(tc.name)
			want := payload(uint64(tc.size), tc.size)
			put(t, st, name, want)
			checkStat(t, st, name, tc.size)
			checkSame(t, "get", mustRead(t, st, name, 0, -1), want)
			got, err := blobstore.GetAll(t.Context(), st, name, tc.size+1)
			if err != nil {
				t.Fatalf("get all: %v", err)
			}
			checkSame(t, "get all", got, want)
		})
	}
	t.Run("DeepName", func(t *testing.T) {
		st := s.newStore(t)
		name := "a/b/c/d/e/f"
		want := payload(6, 100)
		put(t, st, name, want)
		checkSame(t, "get", mustRead(t, st, name, 0, -1), want)
	})
}

func (s suite) putOverwrites(t *testing.T) {
	st := s.newStore(t)
	first, second := payload(1, 5000), payload(2, 300)
	put(t, st, "obj", first)
	put(t, st, "obj", second)
	checkStat(t, st, "obj", int64(len(second)))
	checkSame(t, "get after overwrite", mustRead(t, st, "obj", 0, -1), second)
	if got := names(list(t, st, "")); !slices.Equal(got, []string{"obj"}) {
		t.Fatalf("list after overwrite: got %q", got)
	}
}

// overwriteIsAtomic reads while another goroutine keeps replacing the object:
// every read must see one whole version, never a mix or a partial object.
func (s suite) overwriteIsAtomic(t *testing.T) {
	st := s.newStore(t)
	versions := [][]byte{bytes.Repeat([]byte{'a'}, 64<<10), bytes.Repeat([]byte{'b'}, 96<<10)}
	put(t, st, "obj", versions[0])
	const rounds = 20
	errc := make(chan error, 1)
	go func() {
		for i := range rounds {
			if err := blobstore.PutBytes(t.Context(), st, "obj", versions[(i+1)%2]); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := 0; ; i++ {
		got, err := read(t.Context(), st, "obj", 0, -1)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) {
			t.Fatalf("read %d: got %d bytes that are neither version", i, len(got))
		}
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			return
		default:
		}
	}
}

// putShortBody checks that a body shorter than the declared size fails the
// Put and leaves no partial object behind.
func (s suite) putShortBody(t *testing.T) {
	st := s.newStore(t)
	err := st.Put(t.Context(), "short", bytes.NewReader(payload(3, 10)), 20)
	if err == nil {
		t.Fatal("put of 10 bytes declared as 20 succeeded")
	}
	if _, err := st.Stat(t.Context(), "short"); !errors.Is(err, blobstore.ErrNotExist) {
		t.Fatalf("stat after failed put: got %v, want ErrNotExist", err)
	}
}

func (s suite) putIfAbsent(t *testing.T) {
	st := s.newStore(t)
	first, second := payload(1, 100), payload(2, 200)
	if err := blobstore.PutBytesIfAbsent(t.Context(), st, "once", first); err != nil {
		t.Fatalf("first put-if-absent: %v", err)
	}
	err := blobstore.PutBytesIfAbsent(t.Context(), st, "once", second)
	if !errors.Is(err, blobstore.ErrExist) {
		t.Fatalf("second put-if-absent: got %v, want ErrExist", err)
	}
	checkSame(t, "get after refused put", mustRead(t, st, "once", 0, -1), first)
	if got := names(list(t, st, "")); !slices.Equal(got, []string{"once"}) {
		t.Fatalf("list: got %q, want only the object (no leftovers)", got)
	}
	t.Run("AfterPut", func(t *testing.T) {
		put(t, st, "plain", first)
		err := blobstore.PutBytesIfAbsent(t.Context(), st, "plain", second)
		if !errors.Is(err, blobstore.ErrExist) {
			t.Fatalf("got %v, want ErrExist", err)
		}
	})
	t.Run("AfterDelete", func(t *testing.T) {
		if err := st.Delete(t.Context(), "once"); err != nil {
			t.Fatal(err)
		}
		if err := blobstore.PutBytesIfAbsent(t.Context(), st, "once", second); err != nil {
			t.Fatalf("put-if-absent after delete: %v", err)
		}
		checkSame(t, "get", mustRead(t, st, "once", 0, -1), second)
	})
}

func (s suite) putIfAbsentRace(t *testing.T) {
	st := s.newStore(t)
	const racers = 8
	bodies := make([][]byte, racers)
	for i := range bodies {
		bodies[i] = payload(uint64(100+i), int64(1000+i))
	}
	start := make(chan struct{})
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = blobstore.PutBytesIfAbsent(t.Context(), st, "race/journal/1", bodies[i])
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, blobstore.ErrExist):
			t.Fatalf("racer %d: got %v, want nil or ErrExist", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer won")
	}
	checkSame(t, "winner's bytes", mustRead(t, st, "race/journal/1", 0, -1), bodies[winner])
	if got := names(list(t, st, "race/")); !slices.Equal(got, []string{"race/journal/1"}) {
		t.Fatalf("list: got %q, want only the object (no leftovers)", got)
	}
}

func (s suite) rangedGet(t *testing.T) {
	st := s.newStore(t)
	const size = 10000
	data := payload(7, size)
	put(t, st, "ranged", data)
	for _, tc := range []struct {
		name        string
		off, length int64
		want        []byte
	}{
		{"Start", 0, 100, data[:100]},
		{"Middle", 4000, 1234, data[4000:5234]},
		{"End", size - 100, 100, data[size-100:]},
		{"ToEnd", 6000, -1, data[6000:]},
		{"Whole", 0, -1, data},
		{"WholeExact", 0, size, data},
		{"LengthZero", 500, 0, nil},
		{"AtEndToEnd", size, -1, nil},
		{"AtEndLengthZero", size, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSame(t, "range", mustRead(t, st, "ranged", tc.off, tc.length), tc.want)
		})
	}
	t.Run("PastEnd", func(t *testing.T) {
		got, err := read(t.Context(), st, "ranged", size-100, 200)
		if err == nil {
			t.Fatalf("read past the end gave %d bytes and no error", len(got))
		}
		if got != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("read past the end: stream error %v, want io.ErrUnexpectedEOF", err)
		}
		if !bytes.HasPrefix(data[size-100:], got) {
			t.Fatal("read past the end: bytes before the error are wrong")
		}
	})
	t.Run("OffsetBeyondEnd", func(t *testing.T) {
		for _, length := range []int64{-1, 0, 10} {
			got, err := read(t.Context(), st, "ranged", size+1, length)
			if err == nil {
				t.Fatalf("length %d: got %d bytes and no error", length, len(got))
			}
		}
	})
}

func (s suite) missing(t *testing.T) {
	st := s.newStore(t)
	put(t, st, "present/x", []byte("x"))
	for _, name := range []string{"absent", "present/absent", "no/such/dir/obj", "present/x/below"} {
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			if _, err := st.Get(t.Context(), name, 0, -1); !errors.Is(err, blobstore.ErrNotExist) {
				t.Errorf("get: got %v, want ErrNotExist", err)
			}
			if _, err := st.Get(t.Context(), name, 5, 10); !errors.Is(err, blobstore.ErrNotExist) {
				t.Errorf("ranged get: got %v, want ErrNotExist", err)
			}
			if _, err := st.Stat(t.Context(), name); !errors.Is(err, blobstore.ErrNotExist) {
				t.Errorf("stat: got %v, want ErrNotExist", err)
			}
		})
	}
	t.Run("DirectoryPart", func(t *testing.T) {
		// "present" is only a prefix of "present/x", never an object.
		if _, err := st.Stat(t.Context(), "present"); !errors.Is(err, blobstore.ErrNotExist) {
			t.Errorf("stat: got %v, want ErrNotExist", err)
		}
		if _, err := st.Get(t.Context(), "present", 0, -1); !errors.Is(err, blobstore.ErrNotExist) {
			t.Errorf("get: got %v, want ErrNotExist", err)
		}
	})
}

func (s suite) delete(t *testing.T) {
	st := s.newStore(t)
	t.Run("Missing", func(t *testing.T) {
		for _, name := range []string{"absent", "no/such/dir/obj"} {
			if err := st.Delete(t.Context(), name); err != nil {
				t.Errorf("delete %s: %v", name, err)
			}
		}
	})
	t.Run("Existing", func(t *testing.T) {
		put(t, st, "d/one", []byte("1"))
		put(t, st, "d/two", []byte("2"))
		if err := st.Delete(t.Context(), "d/one"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Stat(t.Context(), "d/one"); !errors.Is(err, blobstore.ErrNotExist) {
			t.Fatalf("stat after delete: got %v, want ErrNotExist", err)
		}
		if got := names(list(t, st, "d/")); !slices.Equal(got, []string{"d/two"}) {
			t.Fatalf("list after delete: got %q", got)
		}
		if err := st.Delete(t.Context(), "d/one"); err != nil {
			t.Fatalf("second delete: %v", err)
		}
	})
	t.Run("LastInDirectory", func(t *testing.T) {
		put(t, st, "deep/a/b/c", []byte("c"))
		if err := st.Delete(t.Context(), "deep/a/b/c"); err != nil {
			t.Fatal(err)
		}
		if got := list(t, st, "deep/"); len(got) != 0 {
			t.Fatalf("list after delete: got %q", names(got))
		}
		// The emptied prefix must still take new objects, at its old depth
		// and as a shorter name where a directory used to be.
		put(t, st, "deep/a/b/d", []byte("d"))
		if err := st.Delete(t.Context(), "deep/a/b/d"); err != nil {
			t.Fatal(err)
		}
		put(t, st, "deep/a", []byte("a"))
		checkSame(t, "get", mustRead(t, st, "deep/a", 0, -1), []byte("a"))
	})
}

func (s suite) listOrder(t *testing.T) {
	st := s.newStore(t)
	// Byte order, not directory order: '-' and '.' sort before '/', and
	// '0' and letters after it, so "a-c" and "a.d" come before "a/b".
	want := []string{"order/a-c", "order/a.d", "order/a/b", "order/a/b0", "order/a0", "order/aa", "order/b"}
	for i, name := range slices.Backward(want) {
		put(t, st, name, payload(uint64(i), int64(i)))
	}
	got := list(t, st, "order/")
	if !slices.Equal(names(got), want) {
		t.Fatalf("list: got %q, want %q", names(got), want)
	}
	for i, info := range got {
		if info.Size != int64(i) {
			t.Errorf("list %s: size %d, want %d", info.Name, info.Size, i)
		}
	}
	if all := names(list(t, st, "")); !slices.Equal(all, want) {
		t.Fatalf("list everything: got %q, want %q", all, want)
	}
}

func (s suite) listMany(t *testing.T) {
	st := s.newStore(t)
	n := s.opts.ListCount
	want := make([]string, n)
	for i := range n {
		// Half nest one level deeper, so that directory-walking backends
		// must order "0a-..." files before the "0a/" directory's contents.
		if i%2 == 0 {
			want[i] = fmt.Sprintf("list/many/%02x/%05d", i%37, i)
		} else {
			want[i] = fmt.Sprintf("list/many/%02x-%05d", i%37, i)
		}
	}
	putAll(t, st, append(slices.Clone(want), "list/other", "list/manz", "lisx"))
	slices.Sort(want)

	got := list(t, st, "list/many/")
	if len(got) != n {
		t.Fatalf("list: got %d objects, want %d", len(got), n)
	}
	if !slices.Equal(names(got), want) {
		for i := range got {
			if got[i].Name != want[i] {
				t.Fatalf("list: item %d is %q, want %q", i, got[i].Name, want[i])
			}
		}
	}
	for _, prefix := range []string{"list/many/0a", "list/many/0a/", "list/many/1", "list/ma"} {
		var sub []string
		for _, name := range append(slices.Clone(want), "list/manz") {
			if strings.HasPrefix(name, prefix) {
				sub = append(sub, name)
			}
		}
		slices.Sort(sub)
		if got := names(list(t, st, prefix)); !slices.Equal(got, sub) {
			t.Errorf("list %q: got %d names, want %d", prefix, len(got), len(sub))
		}
	}
}

// putAll stores a small object under every name, a few at a time so that
// remote backends are not held up by round trips.
func putAll(t *testing.T, st blobstore.Store, all []string) {
	t.Helper()
	const workers = 4
	work := make(chan string)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for name := range work {
				if err := blobstore.PutBytes(t.Context(), st, name, []byte(name)); err != nil {
					errc <- fmt.Errorf("put %s: %w", name, err)
					return
				}
			}
		})
	}
	var err error
feed:
	for _, name := range all {
		select {
		case work <- name:
		case err = <-errc:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil && len(errc) > 0 {
		err = <-errc
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (s suite) listNoMatch(t *testing.T) {
	st := s.newStore(t)
	if got := list(t, st, ""); len(got) != 0 {
		t.Fatalf("list of an empty store: got %q", names(got))
	}
	put(t, st, "chunks/ab", []byte("x"))
	for _, prefix := range []string{"nothing/", "nothing", "chunks/ac", "chunks/ab/", "chunks/abc", "z"} {
		if got := list(t, st, prefix); len(got) != 0 {
			t.Errorf("list %q: got %q, want nothing", prefix, names(got))
		}
	}
}

func (s suite) listSharedPrefix(t *testing.T) {
	st := s.newStore(t)
	all := []string{"journal/dev1/1", "journal/dev1/2", "journal/dev10/1", "journal/dev2/1"}
	for _, name := range all {
		put(t, st, name, []byte(name))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"journal/dev1/", all[:2]},
		{"journal/dev1", all[:3]},
		{"journal/dev10/", all[2:3]},
		{"journal/dev", all},
		{"journal/", all},
		{"", all},
		{"journal/dev1/1", all[:1]},
	} {
		t.Run("Prefix="+tc.prefix, func(t *testing.T) {
			if got := names(list(t, st, tc.prefix)); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func (s suite) listCallbackError(t *testing.T) {
	st := s.newStore(t)
	for i := range 5 {
		put(t, st, fmt.Sprintf("cb/%d", i), []byte{byte(i)})
	}
	errStop := errors.New("stop here")
	calls := 0
	err := st.List(t.Context(), "cb/", func(blobstore.Info) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("got %v, want the callback's error", err)
	}
	if calls != 2 {
		t.Fatalf("callback ran %d times after failing on the 2nd", calls)
	}
}

func (s suite) cancelled(t *testing.T) {
	st := s.newStore(t)
	put(t, st, "here", []byte("here"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	body := bytes.NewReader([]byte("new"))
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Put", func() error { return st.Put(ctx, "new", body, 3) }},
		{"PutIfAbsent", func() error { return st.PutIfAbsent(ctx, "new", body, 3) }},
		{"Get", func() error {
			rc, err := st.Get(ctx, "here", 0, -1)
			if err == nil {
				rc.Close()
			}
			return err
		}},
		{"Stat", func() error { _, err := st.Stat(ctx, "here"); return err }},
		{"List", func() error {
			return st.List(ctx, "", func(blobstore.Info) error { return nil })
		}},
		{"Delete", func() error { return st.Delete(ctx, "here") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want an error wrapping context.Canceled", err)
			}
		})
	}
	t.Run("NothingChanged", func(t *testing.T) {
		if _, err := st.Stat(t.Context(), "new"); !errors.Is(err, blobstore.ErrNotExist) {
			t.Errorf("stat new: got %v, want ErrNotExist", err)
		}
		checkStat(t, st, "here", 4)
	})
}
