package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/syncfs/syncfs/blobstore"
)

// lazyStore opens its store on first use, retrying on every call until it
// succeeds: a mount that started offline reaches the store once it is back.
type lazyStore struct {
	open func(context.Context) (blobstore.Store, error)

	mu sync.Mutex
	s  blobstore.Store
}

func (l *lazyStore) get(ctx context.Context) (blobstore.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s != nil {
		return l.s, nil
	}
	s, err := l.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", blobstore.ErrTransient, err)
	}
	l.s = s
	return s, nil
}

func (l *lazyStore) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.Put(ctx, name, body, size)
}

func (l *lazyStore) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.PutIfAbsent(ctx, name, body, size)
}

func (l *lazyStore) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	s, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, name, off, length)
}

func (l *lazyStore) Stat(ctx context.Context, name string) (blobstore.Info, error) {
	s, err := l.get(ctx)
	if err != nil {
		return blobstore.Info{}, err
	}
	return s.Stat(ctx, name)
}

func (l *lazyStore) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.List(ctx, prefix, fn)
}

func (l *lazyStore) Delete(ctx context.Context, name string) error {
	s, err := l.get(ctx)
	if err != nil {
		return err
	}
	return s.Delete(ctx, name)
}
