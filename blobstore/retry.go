package blobstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Retry defaults, used for zero fields of RetryOptions.
const (
	DefaultRetryBase     = 100 * time.Millisecond
	DefaultRetryMax      = 30 * time.Second
	DefaultRetryAttempts = 8
)

// RetryOptions tunes NewRetry. Zero fields take the defaults above; the
// function fields are seams for tests, which should not really sleep.
type RetryOptions struct {
	// Base is the backoff limit before the first retry; it doubles with
	// each further retry up to Max.
	Base time.Duration
	// Max caps the backoff limit of any one retry.
	Max time.Duration
	// Attempts is the number of tries in all, counting the first.
	Attempts int
	// Logger receives a debug record for every retry; nil discards them.
	Logger *slog.Logger
	// Sleep waits for d or until ctx is done, returning ctx.Err() in that
	// case. nil uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter picks the wait before a retry from [0, limit]. nil picks
	// uniformly at random ("full jitter"), so that many clients failing
	// together do not retry together.
	Jitter func(limit time.Duration) time.Duration
}

func (o RetryOptions) withDefaults() RetryOptions {
	if o.Base <= 0 {
		o.Base = DefaultRetryBase
	}
	if o.Max <= 0 {
		o.Max = DefaultRetryMax
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultRetryAttempts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Jitter == nil {
		o.Jitter = func(limit time.Duration) time.Duration {
			if limit <= 0 {
				return 0
			}
			return rand.N(limit + 1)
		}
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NewRetry wraps s so that calls failing with a transient error (see
// IsTransient) are tried again after an exponential backoff with full
// jitter, up to opts.Attempts tries in all. Other errors, context errors
// among them, are returned at once; after the last try the last error is
// returned, still wrapping ErrTransient so that callers can back off
// further themselves.
//
// Get retries opening the stream, never a read in the middle of it. List
// resumes after the last object it delivered, so fn never sees a name
// twice, and an error from fn is returned as is, never retried. A
// PutIfAbsent whose earlier try failed transiently may have landed
// nonetheless (the answer was lost, not the write): if a later try then
// meets ErrExist, the stored object is compared with body and an identical
// one counts as success.
func NewRetry(s Store, opts RetryOptions) Store {
	return &retryStore{inner: s, opts: opts.withDefaults()}
}

type retryStore struct {
	inner Store
	opts  RetryOptions
}

// Unwrap returns the store that the retry wrapper calls.
func (r *retryStore) Unwrap() Store { return r.inner }

// backoff returns the limit of the wait before retry number n (from 1).
func (r *retryStore) backoff(n int) time.Duration {
	d := r.opts.Base
	for i := 1; i < n && d < r.opts.Max; i++ {
		d *= 2
	}
	return min(d, r.opts.Max)
}

// do runs try until it succeeds, fails for good, or runs out of attempts.
func (r *retryStore) do(ctx context.Context, op, name string, try func() error) error {
	for attempt := 1; ; attempt++ {
		err := try()
		if err == nil || !IsTransient(err) {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w (after: %v)", cerr, err)
		}
		if attempt >= r.opts.Attempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		wait := r.opts.Jitter(r.backoff(attempt))
		r.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "retrying store call",
			slog.String("op", op), slog.String("name", name), slog.Int("attempt", attempt),
			slog.Duration("wait", wait), slog.Any("err", err))
		if serr := r.opts.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%s %s: waiting to retry: %w (after: %v)", op, name, serr, err)
		}
	}
}

// Put stores body under name, retrying transient failures.
func (r *retryStore) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	return r.do(ctx, "put", name, func() error { return r.inner.Put(ctx, name, body, size) })
}

// PutIfAbsent stores body under name unless the name is taken, retrying
// transient failures; see NewRetry for how a lost answer is recognised.
func (r *retryStore) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	failedBefore := false
	return r.do(ctx, "put-if-absent", name, func() error {
		err := r.inner.PutIfAbsent(ctx, name, body, size)
		if errors.Is(err, ErrExist) && failedBefore {
			same, cerr := r.sameContent(ctx, name, body, size)
			switch {
			case cerr == nil && same:
				return nil
			case IsTransient(cerr):
				return cerr // compare again on the next try
			}
		}
		failedBefore = failedBefore || err != nil
		return err
	})
}

// sameContent reports whether the stored object holds exactly body.
func (r *retryStore) sameContent(ctx context.Context, name string, body io.ReaderAt, size int64) (bool, error) {
	info, err := r.inner.Stat(ctx, name)
	if err != nil || info.Size != size {
		return false, err
	}
	rc, err := r.inner.Get(ctx, name, 0, size)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	const bufSize = 64 << 10
	stored, want := make([]byte, bufSize), make([]byte, bufSize)
	for off := int64(0); off < size; {
		n := int(min(bufSize, size-off))
		if _, err := io.ReadFull(rc, stored[:n]); err != nil {
			return false, err
		}
		if _, err := body.ReadAt(want[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if !bytes.Equal(stored[:n], want[:n]) {
			return false, nil
		}
		off += int64(n)
	}
	return true, nil
}

// Get opens a reader of the range, retrying transient failures to open it;
// errors while reading the stream are the caller's to handle.
func (r *retryStore) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := r.do(ctx, "get", name, func() error {
		var err error
		rc, err = r.inner.Get(ctx, name, off, length)
		return err
	})
	return rc, err
}

// Stat returns the object's Info, retrying transient failures.
func (r *retryStore) Stat(ctx context.Context, name string) (Info, error) {
	var info Info
	err := r.do(ctx, "stat", name, func() error {
		var err error
		info, err = r.inner.Stat(ctx, name)
		return err
	})
	return info, err
}

// callbackError carries an error from List's fn through do. It has no
// Unwrap on purpose: do must not see a transient error inside and retry.
type callbackError struct{ err error }

// Error returns the callback's message.
func (e callbackError) Error() string { return e.err.Error() }

// List lists the objects under prefix, retrying transient failures from
// after the last object already given to fn.
func (r *retryStore) List(ctx context.Context, prefix string, fn func(Info) error) error {
	var last string
	delivered := false
	err := r.do(ctx, "list", prefix, func() error {
		return r.inner.List(ctx, prefix, func(info Info) error {
			if delivered && info.Name <= last {
				return nil // given to fn before the failure
			}
			if err := fn(info); err != nil {
				return callbackError{err}
			}
			last, delivered = info.Name, true
			return nil
		})
	})
	if ce, ok := errors.AsType[callbackError](err); ok {
		return ce.err
	}
	return err
}

// Delete removes the object, retrying transient failures.
func (r *retryStore) Delete(ctx context.Context, name string) error {
	return r.do(ctx, "delete", name, func() error { return r.inner.Delete(ctx, name) })
}
