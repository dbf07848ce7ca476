package blobstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/storetest"
)

// memStore is the in-memory Store the wrapper tests run on; it passes the
// conformance suite itself, so a wrapper's failure is the wrapper's.
type memStore struct {
	mu   sync.Mutex
	objs map[string]memObject // mu protects objs
}

type memObject struct {
	data    []byte
	modTime time.Time
}

var _ blobstore.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{objs: make(map[string]memObject)}
}

func (m *memStore) read(ctx context.Context, op, name string, body io.ReaderAt, size int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, name, err)
	}
	if err := blobstore.CheckName(name); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	b := make([]byte, size)
	// ReaderAt may report io.EOF alongside a full read; only a short read counts.
	if n, err := body.ReadAt(b, 0); int64(n) < size {
		return nil, fmt.Errorf("%s %s: read body: %w", op, name, err)
	}
	return b, nil
}

func (m *memStore) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	b, err := m.read(ctx, "put", name, body, size)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[name] = memObject{b, time.Now()}
	return nil
}

func (m *memStore) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	b, err := m.read(ctx, "put-if-absent", name, body, size)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[name]; ok {
		return fmt.Errorf("put-if-absent %s: %w", name, blobstore.ErrExist)
	}
	m.objs[name] = memObject{b, time.Now()}
	return nil
}

func (m *memStore) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	m.mu.Lock()
	obj, ok := m.objs[name]
	m.mu.Unlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("get %s: %w", name, blobstore.ErrNotExist)
	case off < 0 || off > int64(len(obj.data)):
		return nil, fmt.Errorf("get %s: offset %d outside [0,%d]", name, off, len(obj.data))
	}
	data := obj.data[off:]
	if length < 0 || length <= int64(len(data)) {
		if length >= 0 {
			data = data[:length]
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	short := io.MultiReader(bytes.NewReader(data), errReader{io.ErrUnexpectedEOF})
	return io.NopCloser(short), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func (m *memStore) Stat(ctx context.Context, name string) (blobstore.Info, error) {
	if err := ctx.Err(); err != nil {
		return blobstore.Info{}, fmt.Errorf("stat %s: %w", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	obj, ok := m.objs[name]
	if !ok {
		return blobstore.Info{}, fmt.Errorf("stat %s: %w", name, blobstore.ErrNotExist)
	}
	return blobstore.Info{Name: name, Size: int64(len(obj.data)), ModTime: obj.modTime}, nil
}

func (m *memStore) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	m.mu.Lock()
	var infos []blobstore.Info
	for name, obj := range m.objs {
		if strings.HasPrefix(name, prefix) {
			infos = append(infos, blobstore.Info{Name: name, Size: int64(len(obj.data)), ModTime: obj.modTime})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(infos, func(a, b blobstore.Info) int { return strings.Compare(a.Name, b.Name) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	return nil
}

func (m *memStore) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, name)
	return nil
}

// wrapperSuite runs the conformance suite lighter for the wrappers: the
// in-memory store below them has passed it in full already, and the
// wrappers do not look at sizes or counts.
var wrapperSuite = storetest.Options{LargeSize: 2 << 20, ListCount: 500}

func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) blobstore.Store { return newMemStore() })
}
