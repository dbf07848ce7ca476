package storemetrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/local"
	"github.com/syncfs/syncfs/metrics"
)

// counter reads one series of m's registry.
func counter(t *testing.T, m *metrics.Metrics, name, label string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetValue() == label {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestCounts(t *testing.T) {
	dir := t.TempDir()
	inner, err := local.Create(dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fault := blobstore.NewFault(inner, 1)
	failures := 1
	fault.OnPut = func(string) error {
		if failures > 0 {
			failures--
			return fmt.Errorf("injected: %w", blobstore.ErrTransient)
		}
		return nil
	}
	m := metrics.New()
	retry := blobstore.NewRetry(Attempts(fault, m), blobstore.RetryOptions{
		Sleep: func(context.Context, time.Duration) error { return nil },
	})
	s := Calls(retry, m)
	ctx := context.Background()
	body := []byte("hello store")

	if err := s.Put(ctx, "chunks/a", bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Get(ctx, "chunks/a", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, err := s.Stat(ctx, "chunks/missing"); !errors.Is(err, blobstore.ErrNotExist) {
		t.Fatalf("stat missing: %v", err)
	}

	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"syncfs_store_calls_total", "put", 1},
		{"syncfs_store_attempts_total", "put", 2},
		{"syncfs_store_retries_total", "put", 1},
		{"syncfs_store_errors_total", "put", 1},
		{"syncfs_store_errors_total", "stat", 0}, // a missing object is an answer
		{"syncfs_store_objects_total", "up", 1},
		{"syncfs_store_bytes_total", "up", float64(len(body))},
		{"syncfs_store_objects_total", "down", 1},
		{"syncfs_store_bytes_total", "down", float64(len(body))},
	} {
		t.Run(c.name+"/"+c.label, func(t *testing.T) {
			if got := counter(t, m, c.name, c.label); got != c.want {
				t.Errorf("%s{%s} = %v, want %v", c.name, c.label, got, c.want)
			}
		})
	}
}
