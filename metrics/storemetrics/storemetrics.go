// Package storemetrics counts object store traffic into a metrics.Metrics by
// wrapping a blobstore.Store. It is apart from metrics so that fs, which
// records FUSE requests into metrics, never depends on blobstore.
//
// Wrap the store twice, around a retrying store:
//
//	s = storemetrics.Calls(blobstore.NewRetry(storemetrics.Attempts(s, m), opts), m)
//
// Calls marks each call in its context; Attempts counts every try beneath it,
// so that the tries after the first of one call are its retries.
package storemetrics

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/metrics"
)

// Operation names, the "op" label.
const (
	opPut         = "put"
	opPutIfAbsent = "put_if_absent"
	opGet         = "get"
	opStat        = "stat"
	opList        = "list"
	opDelete      = "delete"
)

// callKey is the context key of a call's attempt counter.
type callKey struct{}

// Calls returns s counting each call into m (the outer wrapper).
func Calls(s blobstore.Store, m *metrics.Metrics) blobstore.Store {
	return &calls{inner: s, m: m}
}

// Attempts returns s counting each try into m, with errors, retries,
// objects and bytes (the inner wrapper).
func Attempts(s blobstore.Store, m *metrics.Metrics) blobstore.Store {
	return &attempts{inner: s, m: m}
}

type calls struct {
	inner blobstore.Store
	m     *metrics.Metrics
}

// Unwrap returns the wrapped store.
func (c *calls) Unwrap() blobstore.Store { return c.inner }

func (c *calls) begin(ctx context.Context, op string) context.Context {
	c.m.StoreCall(op)
	return context.WithValue(ctx, callKey{}, new(atomic.Int32))
}

// Put counts one call.
func (c *calls) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	return c.inner.Put(c.begin(ctx, opPut), name, body, size)
}

// PutIfAbsent counts one call.
func (c *calls) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	return c.inner.PutIfAbsent(c.begin(ctx, opPutIfAbsent), name, body, size)
}

// Get counts one call.
func (c *calls) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	return c.inner.Get(c.begin(ctx, opGet), name, off, length)
}

// Stat counts one call.
func (c *calls) Stat(ctx context.Context, name string) (blobstore.Info, error) {
	return c.inner.Stat(c.begin(ctx, opStat), name)
}

// List counts one call.
func (c *calls) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	return c.inner.List(c.begin(ctx, opList), prefix, fn)
}

// Delete counts one call.
func (c *calls) Delete(ctx context.Context, name string) error {
	return c.inner.Delete(c.begin(ctx, opDelete), name)
}

type attempts struct {
	inner blobstore.Store
	m     *metrics.Metrics
}

// Unwrap returns the wrapped store.
func (a *attempts) Unwrap() blobstore.Store { return a.inner }

// done counts one try of op that ended with err.
func (a *attempts) done(ctx context.Context, op string, err error) {
	n := 1
	if c, ok := ctx.Value(callKey{}).(*atomic.Int32); ok {
		n = int(c.Add(1))
	}
	// A missing object (or, for PutIfAbsent, an existing one) is an answer.
	failed := err != nil && !errors.Is(err, blobstore.ErrNotExist) && !errors.Is(err, blobstore.ErrExist)
	a.m.StoreAttempt(op, n, failed)
}

// Put counts one try, and the object when it is stored.
func (a *attempts) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	err := a.inner.Put(ctx, name, body, size)
	a.done(ctx, opPut, err)
	if err == nil {
		a.m.StoreTransfer(metrics.Up, 1, size)
	}
	return err
}

// PutIfAbsent counts one try, and the object when it is stored.
func (a *attempts) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	err := a.inner.PutIfAbsent(ctx, name, body, size)
	a.done(ctx, opPutIfAbsent, err)
	if err == nil {
		a.m.StoreTransfer(metrics.Up, 1, size)
	}
	return err
}

// Get counts one try; the object and its bytes count as they are read.
func (a *attempts) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	rc, err := a.inner.Get(ctx, name, off, length)
	a.done(ctx, opGet, err)
	if err != nil {
		return nil, err
	}
	a.m.StoreTransfer(metrics.Down, 1, 0)
	return &countingReader{ReadCloser: rc, m: a.m}, nil
}

// Stat counts one try.
func (a *attempts) Stat(ctx context.Context, name string) (blobstore.Info, error) {
	info, err := a.inner.Stat(ctx, name)
	a.done(ctx, opStat, err)
	return info, err
}

// List counts one try.
func (a *attempts) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	err := a.inner.List(ctx, prefix, fn)
	a.done(ctx, opList, err)
	return err
}

// Delete counts one try.
func (a *attempts) Delete(ctx context.Context, name string) error {
	err := a.inner.Delete(ctx, name)
	a.done(ctx, opDelete, err)
	return err
}

// countingReader counts the bytes read from a fetched object.
type countingReader struct {
	io.ReadCloser
	m *metrics.Metrics
}

// Read reads and counts.
func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.m.StoreTransfer(metrics.Down, 0, int64(n))
	return n, err
}
