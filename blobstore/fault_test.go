package blobstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/storetest"
)

func TestFaultConformance(t *testing.T) {
	// With no faults switched on, a Fault is a transparent Store.
	storetest.RunWithOptions(t, func(*testing.T) blobstore.Store { return blobstore.NewFault(newMemStore(), 1) }, wrapperSuite)
}

// everyOp calls each Store method once on s and returns the errors by op.
func everyOp(ctx context.Context, s blobstore.Store) map[string]error {
	errs := make(map[string]error)
	errs[blobstore.OpPut] = blobstore.PutBytes(ctx, s, "obj", []byte("x"))
	errs[blobstore.OpPutIfAbsent] = blobstore.PutBytesIfAbsent(ctx, s, "new", []byte("y"))
	rc, err := s.Get(ctx, "obj", 0, -1)
	if err == nil {
		rc.Close()
	}
	errs[blobstore.OpGet] = err
	_, errs[blobstore.OpStat] = s.Stat(ctx, "obj")
	errs[blobstore.OpList] = s.List(ctx, "", func(blobstore.Info) error { return nil })
	errs[blobstore.OpDelete] = s.Delete(ctx, "new")
	return errs
}

func TestFaultDown(t *testing.T) {
	mem := newMemStore()
	f := blobstore.NewFault(mem, 1)
	f.SetDown(true)
	for op, err := range everyOp(t.Context(), f) {
		if !errors.Is(err, blobstore.ErrStoreDown) || !errors.Is(err, blobstore.ErrTransient) || !blobstore.IsTransient(err) {
			t.Errorf("%s while down: got %v, want ErrStoreDown and ErrTransient", op, err)
		}
	}
	if n := len(mem.objs); n != 0 {
		t.Fatalf("%d objects reached the inner store while down", n)
	}
	f.SetDown(false)
	for op, err := range everyOp(t.Context(), f) {
		if err != nil {
			t.Errorf("%s after coming back: %v", op, err)
		}
	}
}

func TestFaultErrorRate(t *testing.T) {
	t.Run("PerOp", func(t *testing.T) {
		f := blobstore.NewFault(newMemStore(), 1)
		f.SetErrorRate(blobstore.OpAll, 1)
		f.SetErrorRate(blobstore.OpPut, 0)
		for op, err := range everyOp(t.Context(), f) {
			if op == blobstore.OpPut {
				if err != nil {
					t.Errorf("put with rate 0: %v", err)
				}
				continue
			}
			if !blobstore.IsTransient(err) || errors.Is(err, blobstore.ErrStoreDown) {
				t.Errorf("%s with rate 1: got %v, want a transient error", op, err)
			}
		}
	})
	// failures returns which of n Stats fail with the given seed and rate.
	failures := func(t *testing.T, seed int64, rate float64, n int) []bool {
		f := blobstore.NewFault(newMemStore(), seed)
		f.SetErrorRate(blobstore.OpStat, rate)
		out := make([]bool, n)
		for i := range out {
			_, err := f.Stat(t.Context(), "x")
			out[i] = blobstore.IsTransient(err)
		}
		return out
	}
	t.Run("Rate", func(t *testing.T) {
		failed := 0
		for _, fail := range failures(t, 7, 0.3, 1000) {
			if fail {
				failed++
			}
		}
		if failed < 200 || failed > 400 {
			t.Fatalf("%d of 1000 calls failed at rate 0.3", failed)
		}
	})
	t.Run("DeterministicForSeed", func(t *testing.T) {
		a, b, c := failures(t, 7, 0.5, 100), failures(t, 7, 0.5, 100), failures(t, 8, 0.5, 100)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatal("same seed, different failures")
		}
		if fmt.Sprint(a) == fmt.Sprint(c) {
			t.Fatal("different seeds, same failures")
		}
	})
}

func TestFaultLatency(t *testing.T) {
	f := blobstore.NewFault(newMemStore(), 1)
	t.Run("Delays", func(t *testing.T) {
		f.SetLatency(20 * time.Millisecond)
		start := time.Now()
		if err := blobstore.PutBytes(t.Context(), f, "x", nil); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 20*time.Millisecond {
			t.Fatalf("call took %v, want at least 20ms", d)
		}
	})
	t.Run("HonoursContext", func(t *testing.T) {
		f.SetLatency(time.Hour)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := f.Stat(ctx, "x"); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %v, want context.DeadlineExceeded", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("latency ignored the context")
		}
	})
}

func TestFaultTruncateReads(t *testing.T) {
	f := blobstore.NewFault(newMemStore(), 1)
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i)
	}
	if err := blobstore.PutBytes(t.Context(), f, "obj", data); err != nil {
		t.Fatal(err)
	}
	f.SetTruncateReads(true)
	for _, tc := range []struct {
		name        string
		off, length int64
		want        []byte
		wantErr     bool
	}{
		{"Whole", 0, -1, data[:500], true},
		{"Range", 100, 200, data[100:200], true},
		{"ToEnd", 900, -1, data[900:950], true},
		{"Empty", 1000, -1, nil, false},
		{"OneByte", 10, 1, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := f.Get(t.Context(), "obj", tc.off, tc.length)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if tc.wantErr != errors.Is(err, io.ErrUnexpectedEOF) || (!tc.wantErr && err != nil) {
				t.Fatalf("read error %v, want io.ErrUnexpectedEOF: %v", err, tc.wantErr)
			}
			if string(got) != string(tc.want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
	f.SetTruncateReads(false)
	if b, err := blobstore.GetAll(t.Context(), f, "obj", 0); err != nil || len(b) != len(data) {
		t.Fatalf("after switching off: %d bytes, %v", len(b), err)
	}
}

func TestFaultCounters(t *testing.T) {
	f := blobstore.NewFault(newMemStore(), 1)
	ctx := t.Context()
	for range 3 {
		if err := blobstore.PutBytes(ctx, f, "a", make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := blobstore.PutBytesIfAbsent(ctx, f, "a", make([]byte, 50)); !errors.Is(err, blobstore.ErrExist) {
		t.Fatalf("put-if-absent: %v", err)
	}
	f.SetDown(true)
	_ = blobstore.PutBytes(ctx, f, "b", make([]byte, 70))
	f.SetDown(false)
	if _, err := blobstore.GetAll(ctx, f, "a", 0); err != nil {
		t.Fatal(err)
	}
	rc, err := f.Get(ctx, "a", 10, 20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	for op, want := range map[string]int{
		blobstore.OpPut: 4, blobstore.OpPutIfAbsent: 1, blobstore.OpGet: 2,
		blobstore.OpStat: 0, blobstore.OpList: 0, blobstore.OpDelete: 0,
	} {
		if got := f.Calls(op); got != want {
			t.Errorf("calls of %s: %d, want %d", op, got, want)
		}
	}
	if got := f.BytesWritten(); got != 300 {
		t.Errorf("bytes written: %d, want 300 (failed puts do not count)", got)
	}
	if got := f.BytesRead(); got != 120 {
		t.Errorf("bytes read: %d, want 120", got)
	}
}

func TestFaultOnPut(t *testing.T) {
	mem := newMemStore()
	f := blobstore.NewFault(mem, 1)
	errKilled := errors.New("killed before journal/d/2")
	f.OnPut = func(name string) error {
		if name == "journal/d/2" {
			return errKilled
		}
		return nil
	}
	ctx := t.Context()
	if err := blobstore.PutBytes(ctx, f, "journal/d/1", nil); err != nil {
		t.Fatal(err)
	}
	if err := blobstore.PutBytesIfAbsent(ctx, f, "journal/d/2", nil); !errors.Is(err, errKilled) {
		t.Fatalf("got %v, want the hook's error", err)
	}
	if _, err := mem.Stat(ctx, "journal/d/2"); !errors.Is(err, blobstore.ErrNotExist) {
		t.Fatalf("the failed put reached the store: %v", err)
	}
}

func TestFaultConcurrent(t *testing.T) {
	// Run under -race: settings change while calls are in flight.
	f := blobstore.NewFault(newMemStore(), 3)
	f.SetErrorRate(blobstore.OpAll, 0.3)
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				name := fmt.Sprintf("w%d/%d", w, i)
				if err := blobstore.PutBytes(ctx, f, name, []byte(name)); err != nil && !blobstore.IsTransient(err) {
					t.Errorf("put: %v", err)
				}
				if _, err := blobstore.GetAll(ctx, f, name, 0); err != nil && !blobstore.IsTransient(err) && !errors.Is(err, blobstore.ErrNotExist) {
					t.Errorf("get: %v", err)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			f.SetDown(i%2 == 0)
			f.SetTruncateReads(false)
			f.SetLatency(0)
			_ = f.Calls(blobstore.OpPut)
		}
		f.SetDown(false)
	})
	wg.Wait()
	if got := f.Calls(blobstore.OpPut); got != 200 {
		t.Errorf("put calls: %d, want 200", got)
	}
}

func TestFaultUnwrap(t *testing.T) {
	mem := newMemStore()
	if blobstore.NewFault(mem, 1).Unwrap() != mem {
		t.Fatal("Unwrap does not return the wrapped store")
	}
}
