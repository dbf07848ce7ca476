package resolver

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/local"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/crypto"
	"github.com/syncfs/syncfs/index"
)

func testKDF() *crypto.KDFParams {
	return &crypto.KDFParams{Algorithm: crypto.AlgorithmArgon2id, MemoryKiB: 8 << 10, Time: 1, Threads: 1, Salt: bytes.Repeat([]byte{7}, 16)}
}

func newStore(t *testing.T) blobstore.Store {
	t.Helper()
	s, err := local.Create(filepath.Join(t.TempDir(), "store"), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type device struct {
	idx   *index.DB
	cache *cache.Cache
	eng   *Engine
}

func newDevice(t *testing.T, s blobstore.Store, name string) *device {
	t.Helper()
	return newDeviceWithPass(t, s, name, "pw")
}

// newDeviceWithPass is newDevice for a store with another passphrase.
func newDeviceWithPass(t *testing.T, s blobstore.Store, name, pass string) *device {
	t.Helper()
	repo, err := Open(testCtx(t), s, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	idx, err := index.Open(filepath.Join(dir, "index.db"), index.Options{Device: name, GroupWindow: index.DefaultGroupWindow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	c, err := cache.New(filepath.Join(dir, "cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := New(repo, idx, c, Options{})
	if err := e.RegisterDevice(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return &device{idx: idx, cache: c, eng: e}
}

// writeFile creates name in the root with data, as fs would.
func (d *device) writeFile(t *testing.T, name string, data []byte) index.Attr {
	t.Helper()
	return d.put(t, index.RootIno, name, data)
}

func (d *device) readFile(t *testing.T, name string) []byte {
	t.Helper()
	a, err := d.idx.Lookup(index.RootIno, name)
	if err != nil {
		t.Fatal(err)
	}
	if a.Size == 0 {
		return nil
	}
	k := cache.Key{Ino: a.Ino, Cver: a.Cver}
	if a.State == index.StateAbsent {
		done, err := d.cache.Ensure(testCtx(t), k, a.Size, 0, a.Size)
		if err != nil {
			t.Fatalf("fetch %s: %v", name, err)
		}
		if !done {
			t.Fatalf("fetch %s: not complete", name)
		}
		if err := d.idx.MarkResident(a.Ino, a.Cver); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(d.cache.Path(k))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInitOpen(t *testing.T) {
	s := newStore(t)
	if _, err := Open(testCtx(t), s, []byte("pw")); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("open empty store: %v", err)
	}
	if _, err := Init(testCtx(t), s, []byte("pw"), InitOptions{KDF: testKDF()}); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(testCtx(t), s, []byte("pw"), InitOptions{KDF: testKDF()}); !errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("init twice: %v", err)
	}
	if _, err := Open(testCtx(t), s, []byte("wrong")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	raw, _ := blobstore.GetAll(testCtx(t), s, configName, 0)
	for name, mutate := range map[string]func([]byte) []byte{
		"format 7": func(b []byte) []byte { return bytes.Replace(b, []byte(`"format": 1`), []byte(`"format": 7`), 1) },
		"inline change": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"inline_max": 4096`), []byte(`"inline_max": 4095`), 1)
		},
		"garbage": func(b []byte) []byte { return []byte("not json") },
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := OpenConfig(mutate(bytes.Clone(raw)), []byte("pw"))
			if err == nil {
				t.Fatal("tampered config opened")
			}
			if name == "format 7" && !errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("want ErrUnknownFormat, got %v", err)
			}
			if name != "format 7" && !errors.Is(err, ErrCorruptConfig) {
				t.Fatalf("want ErrCorruptConfig, got %v", err)
			}
		})
	}
}

func TestUploadPullFetch(t *testing.T) {
	s := newStore(t)
	if _, err := Init(testCtx(t), s, []byte("pw"), InitOptions{KDF: testKDF()}); err != nil {
		t.Fatal(err)
	}
	a := newDevice(t, s, "aaaa")
	big := make([]byte, 5<<20+123)
	rand.New(rand.NewSource(1)).Read(big)
	a.writeFile(t, "big", big)
	a.writeFile(t, "small", []byte("hello"))
	a.writeFile(t, "empty", nil)
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	st, _ := a.idx.Stats()
	if st.Files[index.StateResident] != 3 || st.Pending != 0 {
		t.Fatalf("after flush: %+v", st)
	}
	b := newDevice(t, s, "bbbb")
	if err := b.eng.Sync(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := b.readFile(t, "big"); !bytes.Equal(got, big) {
		t.Fatal("big file differs on the second device")
	}
	if got := b.readFile(t, "small"); string(got) != "hello" {
		t.Fatalf("small: %q", got)
	}
	if got := b.readFile(t, "empty"); len(got) != 0 {
		t.Fatalf("empty: %q", got)
	}
	// Edit in the middle: only a few chunks are new.
	before := a.eng.Status().BytesUp
	big[len(big)/2] ^= 0xff
	a.writeFile(t, "big", big)
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	if up := a.eng.Status().BytesUp - before; up > 3<<20 {
		t.Errorf("a one-byte edit re-uploaded %d bytes", up)
	}
	if err := b.eng.Sync(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := b.readFile(t, "big"); !bytes.Equal(got, big) {
		t.Fatal("edited big file differs on the second device")
	}
}

func TestTamperedChunkFailsRead(t *testing.T) {
	s := newStore(t)
	Init(testCtx(t), s, []byte("pw"), InitOptions{KDF: testKDF()})
	a := newDevice(t, s, "aaaa")
	data := make([]byte, 1<<20)
	rand.New(rand.NewSource(2)).Read(data)
	a.writeFile(t, "f", data)
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	var chunks []string
	s.List(testCtx(t), chunksPrefix, func(i blobstore.Info) error { chunks = append(chunks, i.Name); return nil })
	if len(chunks) == 0 {
		t.Fatal("no chunks stored")
	}
	raw, _ := blobstore.GetAll(testCtx(t), s, chunks[0], 0)
	raw[len(raw)/2] ^= 1
	blobstore.PutBytes(testCtx(t), s, chunks[0], raw)
	b := newDevice(t, s, "bbbb")
	if err := b.eng.Sync(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	fa, _ := b.idx.Lookup(index.RootIno, "f")
	_, err := b.cache.Ensure(testCtx(t), cache.Key{Ino: fa.Ino, Cver: fa.Cver}, fa.Size, 0, fa.Size)
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("read of tampered chunk: %v", err)
	}
}

func TestDamagedJournalStopsOnlyThatDevice(t *testing.T) {
	s := newStore(t)
	Init(testCtx(t), s, []byte("pw"), InitOptions{KDF: testKDF()})
	a := newDevice(t, s, "aaaa")
	a.writeFile(t, "one", []byte("1"))
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	a.writeFile(t, "two", []byte("2"))
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	// Swap journal 2 for a copy of journal 1: authentication must fail.
	j1, _ := blobstore.GetAll(testCtx(t), s, journalName("aaaa", 1), 0)
	blobstore.PutBytes(testCtx(t), s, journalName("aaaa", 2), j1)
	b := newDevice(t, s, "bbbb")
	err := b.eng.Sync(context.Background())
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("sync with a swapped journal: %v", err)
	}
	if _, err := b.idx.Lookup(index.RootIno, "one"); err != nil {
		t.Fatalf("batch before the damage not applied: %v", err)
	}
	st, _ := b.idx.Stats()
	if st.PullErrors["aaaa"] == "" {
		t.Fatalf("no pull error recorded: %+v", st)
	}
}

func TestDeviceClashStopsUploading(t *testing.T) {
	s := newStore(t)
	Init(testCtx(t), s, []byte("pw"), InitOptions{KDF: testKDF()})
	a := newDevice(t, s, "aaaa")
	a.writeFile(t, "x", []byte("x"))
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	// A second index claiming the same device ID writes its own batch 1.
	twin := newDevice(t, s, "aaaa")
	twin.writeFile(t, "y", []byte("y"))
	err := twin.eng.Flush(testCtx(t), nil)
	if !errors.Is(err, ErrDeviceClash) {
		t.Fatalf("twin flush: %v", err)
	}
	if twin.eng.Status().Stopped == "" {
		t.Fatal("status does not say uploading stopped")
	}
}

// testCtx bounds every wait of a test.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
