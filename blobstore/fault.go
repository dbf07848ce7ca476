package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Operation names, for Fault.SetErrorRate and Fault.Calls.
const (
	OpPut         = "put"
	OpPutIfAbsent = "put-if-absent"
	OpGet         = "get"
	OpStat        = "stat"
	OpList        = "list"
	OpDelete      = "delete"
	// OpAll sets the error rate of every operation that has no rate of
	// its own (SetErrorRate only).
	OpAll = "*"
)

// Fault wraps a Store and injects failures, for tests of everything above
// the store: an unreachable store, flaky calls, slow calls, short reads and
// failures at named points. It also counts calls and bytes. It is safe for
// concurrent use. Random failures are drawn from a generator seeded by
// NewFault, so a test that makes the same calls in the same order sees the
// same failures (concurrent callers draw in whatever order they arrive).
type Fault struct {
	inner Store

	// OnPut, if set, is called with the object name before each Put or
	// PutIfAbsent reaches the inner store; a non-nil error fails that call
	// with the error (wrapped) and the store is left unchanged. Tests use
	// it to fail or stop a writer at a named point. Set it before the Fault
	// is shared; it may be called from several goroutines at once.
	OnPut func(name string) error

	bytesRead    atomic.Int64
	bytesWritten atomic.Int64

	mu       sync.Mutex // mu protects the following
	rng      *rand.Rand
	down     bool               // every call fails with ErrStoreDown
	rates    map[string]float64 // op (or OpAll) -> probability of failure
	latency  time.Duration      // added before every call
	truncate bool               // Get delivers half the range
	calls    map[string]int     // op -> calls made, failed or not
}

var _ Store = (*Fault)(nil)

// NewFault wraps s in a Fault with no faults switched on yet, drawing its
// random failures from seed.
func NewFault(s Store, seed int64) *Fault {
	return &Fault{
		inner: s,
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		rates: make(map[string]float64),
		calls: make(map[string]int),
	}
}

// Unwrap returns the store that the Fault calls.
func (f *Fault) Unwrap() Store { return f.inner }

// SetDown switches the "store unreachable" state: while on, every call
// fails with an error wrapping both ErrStoreDown and ErrTransient.
func (f *Fault) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// SetErrorRate makes calls of op (one of the Op names, or OpAll) fail with
// an error wrapping ErrTransient with probability rate, clamped to [0, 1].
// A rate set for one op takes precedence over OpAll's.
func (f *Fault) SetErrorRate(op string, rate float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rates[op] = min(max(rate, 0), 1)
}

// SetLatency delays every call by d before it does anything; a context
// done meanwhile ends the call with the context's error.
func (f *Fault) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// SetTruncateReads makes each Get deliver only the first half of the
// requested range and then fail with io.ErrUnexpectedEOF, as a connection
// dropped mid-body does. An empty range is delivered as it is.
func (f *Fault) SetTruncateReads(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.truncate = on
}

// Calls returns how many calls of op were made, including failed ones.
func (f *Fault) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// BytesRead returns how many bytes Get readers have delivered.
func (f *Fault) BytesRead() int64 { return f.bytesRead.Load() }

// BytesWritten returns the total size of the Puts and PutIfAbsents that
// succeeded.
func (f *Fault) BytesWritten() int64 { return f.bytesWritten.Load() }

// enter counts a call and decides whether it fails before reaching the
// inner store.
func (f *Fault) enter(ctx context.Context, op, name string) error {
	f.mu.Lock()
	f.calls[op]++
	down, latency := f.down, f.latency
	rate, ok := f.rates[op]
	if !ok {
		rate = f.rates[OpAll]
	}
	// Draw only when a rate is set, so that switching on one op's faults
	// does not shift the failures seen by another.
	fail := rate > 0 && f.rng.Float64() < rate
	f.mu.Unlock()

	if latency > 0 {
		if err := sleep(ctx, latency); err != nil {
			return fmt.Errorf("%s %s: %w", op, name, err)
		}
	}
	switch {
	case down:
		return fmt.Errorf("%s %s: %w (%w)", op, name, ErrStoreDown, ErrTransient)
	case fail:
		return fmt.Errorf("%s %s: injected failure: %w", op, name, ErrTransient)
	}
	return nil
}

func (f *Fault) put(ctx context.Context, op, name string, size int64, put func() error) error {
	if err := f.enter(ctx, op, name); err != nil {
		return err
	}
	if f.OnPut != nil {
		if err := f.OnPut(name); err != nil {
			return fmt.Errorf("%s %s: %w", op, name, err)
		}
	}
	if err := put(); err != nil {
		return err
	}
	f.bytesWritten.Add(size)
	return nil
}

// Put stores body under name unless a fault is injected.
func (f *Fault) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	return f.put(ctx, OpPut, name, size, func() error { return f.inner.Put(ctx, name, body, size) })
}

// PutIfAbsent stores body under name unless it exists or a fault is
// injected.
func (f *Fault) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	return f.put(ctx, OpPutIfAbsent, name, size, func() error { return f.inner.PutIfAbsent(ctx, name, body, size) })
}

// Get opens a reader of the range unless a fault is injected; with
// truncated reads on, the reader stops halfway.
func (f *Fault) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := f.enter(ctx, OpGet, name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	truncate := f.truncate
	f.mu.Unlock()
	rc, err := f.inner.Get(ctx, name, off, length)
	if err != nil {
		return nil, err
	}
	if truncate {
		want := length
		if want < 0 {
			info, err := f.inner.Stat(ctx, name)
			if err != nil {
				rc.Close()
				return nil, err
			}
			want = info.Size - off
		}
		if want > 0 {
			rc = &truncatedReader{ReadCloser: rc, name: name, left: want / 2}
		}
	}
	return &countingReader{ReadCloser: rc, n: &f.bytesRead}, nil
}

// Stat returns the object's Info unless a fault is injected.
func (f *Fault) Stat(ctx context.Context, name string) (Info, error) {
	if err := f.enter(ctx, OpStat, name); err != nil {
		return Info{}, err
	}
	return f.inner.Stat(ctx, name)
}

// List lists the objects under prefix unless a fault is injected.
func (f *Fault) List(ctx context.Context, prefix string, fn func(Info) error) error {
	if err := f.enter(ctx, OpList, prefix); err != nil {
		return err
	}
	return f.inner.List(ctx, prefix, fn)
}

// Delete removes the object unless a fault is injected.
func (f *Fault) Delete(ctx context.Context, name string) error {
	if err := f.enter(ctx, OpDelete, name); err != nil {
		return err
	}
	return f.inner.Delete(ctx, name)
}

// truncatedReader passes through left bytes and then fails.
type truncatedReader struct {
	io.ReadCloser
	name string
	left int64
}

// Read passes bytes through until the cut, then fails.
func (r *truncatedReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, fmt.Errorf("read %s: injected truncation: %w", r.name, io.ErrUnexpectedEOF)
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.ReadCloser.Read(p)
	r.left -= int64(n)
	if errors.Is(err, io.EOF) {
		// The object ended before even half the range: still short.
		err = fmt.Errorf("read %s: %w", r.name, io.ErrUnexpectedEOF)
	}
	return n, err
}

// countingReader adds the bytes it delivers to n.
type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

// Read reads from the wrapped reader and counts what it got.
func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}
