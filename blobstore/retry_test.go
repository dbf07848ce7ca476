package blobstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/storetest"
)

// scripted wraps a Store and fails calls as a test scripts it.
type scripted struct {
	blobstore.Store

	// fail, if set, returns an error for the op's n-th call (from 1) to
	// give instead of calling the inner store.
	fail func(op string, n int) error
	// lose, if set, returns an error to give after the op's n-th call
	// succeeded in the inner store: the write landed, the answer was lost.
	lose func(op string, n int) error
	// listBreak, if > 0, makes the first List fail transiently after
	// delivering that many objects.
	listBreak int
	// streamErr, if set, fails Get readers after their first byte.
	streamErr error

	mu    sync.Mutex
	calls map[string]int // mu protects calls
}

func newScripted(inner blobstore.Store) *scripted {
	return &scripted{Store: inner, calls: make(map[string]int)}
}

func (s *scripted) count(op string) (int, error) {
	s.mu.Lock()
	s.calls[op]++
	n := s.calls[op]
	s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(op, n); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *scripted) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *scripted) landed(op string, n int, err error) error {
	if err == nil && s.lose != nil {
		return s.lose(op, n)
	}
	return err
}

func (s *scripted) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	n, err := s.count(blobstore.OpPut)
	if err != nil {
		return err
	}
	return s.landed(blobstore.OpPut, n, s.Store.Put(ctx, name, body, size))
}

func (s *scripted) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	n, err := s.count(blobstore.OpPutIfAbsent)
	if err != nil {
		return err
	}
	return s.landed(blobstore.OpPutIfAbsent, n, s.Store.PutIfAbsent(ctx, name, body, size))
}

func (s *scripted) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if _, err := s.count(blobstore.OpGet); err != nil {
		return nil, err
	}
	rc, err := s.Store.Get(ctx, name, off, length)
	if err != nil || s.streamErr == nil {
		return rc, err
	}
	broken := io.MultiReader(io.LimitReader(rc, 1), errReader{s.streamErr})
	return struct {
		io.Reader
		io.Closer
	}{broken, rc}, nil
}

func (s *scripted) Stat(ctx context.Context, name string) (blobstore.Info, error) {
	if _, err := s.count(blobstore.OpStat); err != nil {
		return blobstore.Info{}, err
	}
	return s.Store.Stat(ctx, name)
}

func (s *scripted) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	n, err := s.count(blobstore.OpList)
	if err != nil {
		return err
	}
	delivered := 0
	return s.Store.List(ctx, prefix, func(info blobstore.Info) error {
		if n == 1 && s.listBreak > 0 && delivered == s.listBreak {
			return fmt.Errorf("list broke off: %w", blobstore.ErrTransient)
		}
		delivered++
		return fn(info)
	})
}

func (s *scripted) Delete(ctx context.Context, name string) error {
	if _, err := s.count(blobstore.OpDelete); err != nil {
		return err
	}
	return s.Store.Delete(ctx, name)
}

// failFirst fails the first n calls of every op with a transient error.
func failFirst(n int) func(string, int) error {
	return func(op string, i int) error {
		if i <= n {
			return fmt.Errorf("%s: try %d: %w", op, i, blobstore.ErrTransient)
		}
		return nil
	}
}

// sleepRecorder is a RetryOptions.Sleep that records waits instead of
// waiting.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
	return ctx.Err()
}

func noJitter(limit time.Duration) time.Duration { return limit }

func TestRetryConformance(t *testing.T) {
	noSleep := func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	t.Run("Plain", func(t *testing.T) {
		storetest.RunWithOptions(t, func(*testing.T) blobstore.Store {
			return blobstore.NewRetry(newMemStore(), blobstore.RetryOptions{Sleep: noSleep})
		}, wrapperSuite)
	})
	t.Run("OverFlakyStore", func(t *testing.T) {
		// A fifth of all calls fail; the retry wrapper must hide every one.
		storetest.RunWithOptions(t, func(*testing.T) blobstore.Store {
			f := blobstore.NewFault(newMemStore(), 42)
			f.SetErrorRate(blobstore.OpAll, 0.2)
			return blobstore.NewRetry(f, blobstore.RetryOptions{Attempts: 30, Sleep: noSleep})
		}, wrapperSuite)
	})
}

func TestRetryBackoff(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  blobstore.RetryOptions
		fails int
		want  []time.Duration
	}{
		{
			name:  "Defaults",
			fails: 7,
			want: []time.Duration{
				100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
				800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond,
				6400 * time.Millisecond,
			},
		},
		{
			name:  "CappedAtMax",
			opts:  blobstore.RetryOptions{Base: time.Second, Max: 5 * time.Second, Attempts: 6},
			fails: 5,
			want:  []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second},
		},
		{
			name:  "OneRetry",
			fails: 1,
			want:  []time.Duration{100 * time.Millisecond},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScripted(newMemStore())
			sc.fail = failFirst(tc.fails)
			rec := &sleepRecorder{}
			tc.opts.Sleep, tc.opts.Jitter = rec.sleep, noJitter
			r := blobstore.NewRetry(sc, tc.opts)
			if err := blobstore.PutBytes(t.Context(), r, "x", []byte("x")); err != nil {
				t.Fatalf("put: %v", err)
			}
			if got := sc.Calls(blobstore.OpPut); got != tc.fails+1 {
				t.Errorf("calls: %d, want %d", got, tc.fails+1)
			}
			if !slices.Equal(rec.waits, tc.want) {
				t.Errorf("waits: %v, want %v", rec.waits, tc.want)
			}
		})
	}
	t.Run("FullJitter", func(t *testing.T) {
		// The default jitter draws from [0, limit]: never more than the
		// limit, and not always the limit.
		sc := newScripted(newMemStore())
		sc.fail = failFirst(1000)
		rec := &sleepRecorder{}
		r := blobstore.NewRetry(sc, blobstore.RetryOptions{Attempts: 200, Base: time.Second, Max: time.Second, Sleep: rec.sleep})
		if _, err := r.Stat(t.Context(), "x"); !errors.Is(err, blobstore.ErrTransient) {
			t.Fatalf("stat: %v", err)
		}
		distinct := make(map[time.Duration]bool)
		for _, w := range rec.waits {
			if w < 0 || w > time.Second {
				t.Fatalf("wait %v outside [0, 1s]", w)
			}
			distinct[w] = true
		}
		if len(distinct) < 10 {
			t.Fatalf("only %d distinct waits in %d", len(distinct), len(rec.waits))
		}
	})
}

func TestRetryGivesUp(t *testing.T) {
	sc := newScripted(newMemStore())
	sc.fail = failFirst(1000)
	rec := &sleepRecorder{}
	r := blobstore.NewRetry(sc, blobstore.RetryOptions{Attempts: 5, Sleep: rec.sleep, Jitter: noJitter})
	_, err := r.Stat(t.Context(), "x")
	if !errors.Is(err, blobstore.ErrTransient) {
		t.Fatalf("got %v, want the last transient error", err)
	}
	if got := sc.Calls(blobstore.OpStat); got != 5 {
		t.Errorf("calls: %d, want 5", got)
	}
	if len(rec.waits) != 4 {
		t.Errorf("waits: %v, want 4", rec.waits)
	}
}

func TestRetryOnlyTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"NotExist", blobstore.ErrNotExist},
		{"Exist", blobstore.ErrExist},
		{"Permission", blobstore.ErrPermission},
		{"BadName", blobstore.ErrBadName},
		{"NoSpace", blobstore.ErrNoSpace},
		{"Canceled", context.Canceled},
		{"DeadlineExceeded", context.DeadlineExceeded},
		{"Plain", errors.New("corrupt answer")},
		{"TransientAndNotExist", errors.Join(blobstore.ErrTransient, blobstore.ErrNotExist)},
		{"TransientAndCanceled", fmt.Errorf("%w: %w", blobstore.ErrTransient, context.Canceled)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScripted(newMemStore())
			sc.fail = func(string, int) error { return fmt.Errorf("wrapped: %w", tc.err) }
			rec := &sleepRecorder{}
			r := blobstore.NewRetry(sc, blobstore.RetryOptions{Sleep: rec.sleep})
			_, err := r.Stat(t.Context(), "x")
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if got := sc.Calls(blobstore.OpStat); got != 1 {
				t.Errorf("calls: %d, want 1", got)
			}
			if len(rec.waits) != 0 {
				t.Errorf("slept %v", rec.waits)
			}
		})
	}
}

func TestRetryContext(t *testing.T) {
	t.Run("CancelledWhileWaiting", func(t *testing.T) {
		sc := newScripted(newMemStore())
		sc.fail = failFirst(1000)
		ctx, cancel := context.WithCancel(t.Context())
		sleep := func(ctx context.Context, _ time.Duration) error {
			cancel()
			return ctx.Err()
		}
		r := blobstore.NewRetry(sc, blobstore.RetryOptions{Sleep: sleep})
		err := r.Delete(ctx, "x")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if blobstore.IsTransient(err) {
			t.Errorf("a cancelled call reports a transient error: %v", err)
		}
		if got := sc.Calls(blobstore.OpDelete); got != 1 {
			t.Errorf("calls: %d, want 1", got)
		}
	})
	t.Run("RealTimerHonoursContext", func(t *testing.T) {
		sc := newScripted(newMemStore())
		sc.fail = failFirst(1000)
		ctx, cancel := context.WithCancel(t.Context())
		// The retry is logged just before the wait starts; cancelling there
		// leaves the hour-long timer as the only way out but the context.
		logger := slog.New(cancelHandler{cancel})
		r := blobstore.NewRetry(sc, blobstore.RetryOptions{Base: time.Hour, Max: time.Hour, Jitter: noJitter, Logger: logger})
		done := make(chan error, 1)
		go func() { _, err := r.Stat(ctx, "x"); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("retry wait ignored the cancelled context")
		}
	})
	t.Run("CancelledDuringCall", func(t *testing.T) {
		// A backend that reports a transient error for a call its context
		// ended must not be retried, and the caller learns of the context.
		sc := newScripted(newMemStore())
		ctx, cancel := context.WithCancel(t.Context())
		sc.fail = func(op string, n int) error {
			cancel()
			return fmt.Errorf("%s: connection reset: %w", op, blobstore.ErrTransient)
		}
		r := blobstore.NewRetry(sc, blobstore.RetryOptions{Sleep: (&sleepRecorder{}).sleep})
		if err := r.Delete(ctx, "x"); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if got := sc.Calls(blobstore.OpDelete); got != 1 {
			t.Errorf("calls: %d, want 1", got)
		}
	})
}

func TestRetryLogs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sc := newScripted(newMemStore())
	sc.fail = failFirst(2)
	r := blobstore.NewRetry(sc, blobstore.RetryOptions{Logger: logger, Sleep: (&sleepRecorder{}).sleep, Jitter: noJitter})
	if err := blobstore.PutBytes(t.Context(), r, "chunks/ab", nil); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&buf)
	var records []map[string]any
	for dec.More() {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		records = append(records, rec)
	}
	if len(records) != 2 {
		t.Fatalf("got %d log records, want 2: %v", len(records), records)
	}
	for i, rec := range records {
		if rec["level"] != "DEBUG" || rec["op"] != "put" || rec["name"] != "chunks/ab" || rec["attempt"] != float64(i+1) || rec["err"] == nil {
			t.Errorf("record %d: %v", i, rec)
		}
	}
}

func TestRetryGet(t *testing.T) {
	mem := newMemStore()
	if err := blobstore.PutBytes(t.Context(), mem, "obj", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	t.Run("RetriesOpening", func(t *testing.T) {
		sc := newScripted(mem)
		sc.fail = failFirst(2)
		r := blobstore.NewRetry(sc, blobstore.RetryOptions{Sleep: (&sleepRecorder{}).sleep})
		b, err := blobstore.GetAll(t.Context(), r, "obj", 0)
		if err != nil || string(b) != "hello" {
			t.Fatalf("get: %q, %v", b, err)
		}
		if got := sc.Calls(blobstore.OpGet); got != 3 {
			t.Errorf("calls: %d, want 3", got)
		}
	})
	t.Run("NotMidStream", func(t *testing.T) {
		sc := newScripted(mem)
		sc.streamErr = fmt.Errorf("connection reset: %w", blobstore.ErrTransient)
		r := blobstore.NewRetry(sc, blobstore.RetryOptions{Sleep: (&sleepRecorder{}).sleep})
		_, err := blobstore.GetAll(t.Context(), r, "obj", 0)
		if !errors.Is(err, blobstore.ErrTransient) {
			t.Fatalf("got %v, want the stream's error", err)
		}
		if got := sc.Calls(blobstore.OpGet); got != 1 {
			t.Errorf("calls: %d, want 1", got)
		}
	})
}

func TestRetryList(t *testing.T) {
	mem := newMemStore()
	var want []string
	for i := range 10 {
		name := fmt.Sprintf("l/%02d", i)
		want = append(want, name)
		if err := blobstore.PutBytes(t.Context(), mem, name, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("ResumesWithoutRepeats", func(t *testing.T) {
		sc := newScripted(mem)
		sc.listBreak = 4
		r := blobstore.NewRetry(sc, blobstore.RetryOptions{Sleep: (&sleepRecorder{}).sleep})
		var got []string
		err := r.List(t.Context(), "l/", func(info blobstore.Info) error {
			got = append(got, info.Name)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		if n := sc.Calls(blobstore.OpList); n != 2 {
			t.Errorf("list calls: %d, want 2", n)
		}
	})
	t.Run("CallbackErrorNotRetried", func(t *testing.T) {
		sc := newScripted(mem)
		r := blobstore.NewRetry(sc, blobstore.RetryOptions{Sleep: (&sleepRecorder{}).sleep})
		errFn := fmt.Errorf("caller's own: %w", blobstore.ErrTransient)
		err := r.List(t.Context(), "l/", func(blobstore.Info) error { return errFn })
		if !errors.Is(err, errFn) {
			t.Fatalf("got %v, want the callback's error", err)
		}
		if n := sc.Calls(blobstore.OpList); n != 1 {
			t.Errorf("list calls: %d, want 1", n)
		}
	})
}

func TestRetryPutIfAbsentLostAnswer(t *testing.T) {
	body := []byte("journal batch")
	loseFirst := func(op string, n int) error {
		if n == 1 {
			return fmt.Errorf("%s: answer lost: %w", op, blobstore.ErrTransient)
		}
		return nil
	}
	opts := blobstore.RetryOptions{Sleep: (&sleepRecorder{}).sleep}
	t.Run("OwnWriteLanded", func(t *testing.T) {
		sc := newScripted(newMemStore())
		sc.lose = loseFirst
		r := blobstore.NewRetry(sc, opts)
		if err := blobstore.PutBytesIfAbsent(t.Context(), r, "journal/d/1", body); err != nil {
			t.Fatalf("got %v, want success: the stored bytes are ours", err)
		}
		if n := sc.Calls(blobstore.OpPutIfAbsent); n != 2 {
			t.Errorf("calls: %d, want 2", n)
		}
	})
	t.Run("OtherWriterWon", func(t *testing.T) {
		mem := newMemStore()
		sc := newScripted(mem)
		sc.fail = func(op string, n int) error {
			if n == 1 {
				// Someone else takes the name while our first try fails.
				_ = blobstore.PutBytes(t.Context(), mem, "journal/d/1", []byte("other device"))
				return fmt.Errorf("%s: timeout: %w", op, blobstore.ErrTransient)
			}
			return nil
		}
		r := blobstore.NewRetry(sc, opts)
		if err := blobstore.PutBytesIfAbsent(t.Context(), r, "journal/d/1", body); !errors.Is(err, blobstore.ErrExist) {
			t.Fatalf("got %v, want ErrExist", err)
		}
	})
	t.Run("NoCompareWithoutFailure", func(t *testing.T) {
		mem := newMemStore()
		if err := blobstore.PutBytes(t.Context(), mem, "journal/d/1", body); err != nil {
			t.Fatal(err)
		}
		sc := newScripted(mem)
		r := blobstore.NewRetry(sc, opts)
		if err := blobstore.PutBytesIfAbsent(t.Context(), r, "journal/d/1", body); !errors.Is(err, blobstore.ErrExist) {
			t.Fatalf("got %v, want ErrExist: nothing of ours can have landed", err)
		}
		if n := sc.Calls(blobstore.OpGet) + sc.Calls(blobstore.OpStat); n != 0 {
			t.Errorf("compared content (%d calls) without a failed try", n)
		}
	})
}

func TestRetryUnwrap(t *testing.T) {
	mem := newMemStore()
	r := blobstore.NewRetry(mem, blobstore.RetryOptions{})
	u, ok := r.(interface{ Unwrap() blobstore.Store })
	if !ok || u.Unwrap() != mem {
		t.Fatal("Unwrap does not return the wrapped store")
	}
}

// cancelHandler is a slog.Handler that cancels a context on every record.
type cancelHandler struct{ cancel context.CancelFunc }

func (h cancelHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelHandler) Handle(context.Context, slog.Record) error {
	h.cancel()
	return nil
}
func (h cancelHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h cancelHandler) WithGroup(string) slog.Handler      { return h }
