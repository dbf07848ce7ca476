package metrics

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:9100", true},
		{"127.0.0.1:0", true},
		{"127.1.2.3:9100", true},
		{"[::1]:9100", true},
		{"localhost:9100", true},
		{"0.0.0.0:9100", false},
		{":9100", false},
		{"[::]:9100", false},
		{"192.0.2.1:9100", false},
		{"example.com:9100", false},
		{"127.0.0.1:", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			err := CheckAddr(tc.addr)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckAddr(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, ErrNotLoopback) {
				t.Errorf("error %v is not ErrNotLoopback", err)
			}
		})
	}
	t.Run("no port", func(t *testing.T) {
		if err := CheckAddr("127.0.0.1"); err == nil {
			t.Fatal("accepted an address without a port")
		}
	})
}

func TestRecorders(t *testing.T) {
	t.Run("nil records nothing", func(t *testing.T) {
		var m *Metrics
		m.FUSEOp("LOOKUP").Done(time.Now())
		m.StoreCall("put")
		m.StoreAttempt("put", 2, true)
		m.StoreTransfer(Up, 1, 10)
		m.SetSources(Sources{})
	})
	t.Run("counts", func(t *testing.T) {
		m := New()
		op := m.FUSEOp("LOOKUP")
		op.Done(time.Now())
		op.Done(time.Now())
		if got := testutil.ToFloat64(m.fuseRequests.WithLabelValues("LOOKUP")); got != 2 {
			t.Errorf("LOOKUP requests = %v, want 2", got)
		}
		m.StoreAttempt("get", 1, true)
		m.StoreAttempt("get", 2, false)
		if got := testutil.ToFloat64(m.storeRetries.WithLabelValues("get")); got != 1 {
			t.Errorf("retries = %v, want 1", got)
		}
		if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("get")); got != 1 {
			t.Errorf("errors = %v, want 1", got)
		}
	})
	t.Run("sources", func(t *testing.T) {
		m := New()
		m.SetSources(Sources{Queue: func() (int, int64, error) { return 3, 42, nil }})
		n, err := testutil.GatherAndCount(m.Registry(), "syncfs_upload_queue_changes", "syncfs_upload_queue_bytes", "syncfs_cache_used_bytes")
		if err != nil || n != 2 {
			t.Errorf("gathered %d series (%v), want 2", n, err)
		}
	})
}
