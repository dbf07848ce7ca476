package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// namespace prefixes every metric name.
const namespace = "syncfs"

// Metrics holds the collectors of one daemon, in a registry of its own (never
// the global default one, so that tests may make as many as they like).
type Metrics struct {
	reg *prometheus.Registry

	fuseRequests *prometheus.CounterVec   // by op
	fuseLatency  *prometheus.HistogramVec // by op

	storeCalls    *prometheus.CounterVec // by op: calls by syncfs
	storeAttempts *prometheus.CounterVec // by op: tries, the first included
	storeErrors   *prometheus.CounterVec // by op: failed attempts
	storeRetries  *prometheus.CounterVec // by op: attempts after the first
	storeObjects  *prometheus.CounterVec // by direction: objects written (up) or read (down)
	storeBytes    *prometheus.CounterVec // by direction: bytes written or read
}

// New returns a fresh set of collectors, with Go runtime and process
// metrics registered beside them.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		fuseRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "fuse", Name: "requests_total",
			Help: "FUSE requests served, by operation.",
		}, []string{"op"}),
		fuseLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "fuse", Name: "request_duration_seconds",
			Help: "Time spent serving FUSE requests, by operation.",
			// 5 µs to about 10 s: a cached GETATTR to a fetch from a slow store.
			Buckets: prometheus.ExponentialBuckets(5e-6, 4, 12),
		}, []string{"op"}),
		storeCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "store", Name: "calls_total",
			Help: "Object store calls made, by operation (retries not counted).",
		}, []string{"op"}),
		storeAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "store", Name: "attempts_total",
			Help: "Object store requests tried, by operation (retries counted).",
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "store", Name: "errors_total",
			Help: "Object store requests that failed, by operation (a missing object, or an existing one for put-if-absent, is an answer, not a failure).",
		}, []string{"op"}),
		storeRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "store", Name: "retries_total",
			Help: "Object store requests tried again after a transient failure, by operation.",
		}, []string{"op"}),
		storeObjects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "store", Name: "objects_total",
			Help: "Objects uploaded (direction up) and fetched (direction down).",
		}, []string{"direction"}),
		storeBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "store", Name: "bytes_total",
			Help: "Bytes uploaded (direction up) and fetched (direction down), as stored: sealed and compressed.",
		}, []string{"direction"}),
	}
	m.reg.MustRegister(m.fuseRequests, m.fuseLatency, m.storeCalls, m.storeAttempts, m.storeErrors,
		m.storeRetries, m.storeObjects, m.storeBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry the collectors are in, for serving or for
// tests that gather them.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Op records the requests of one FUSE operation.
type Op struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// FUSEOp returns the recorder of the FUSE operation name (LOOKUP, WRITE...),
// or nil when m is nil.
func (m *Metrics) FUSEOp(name string) *Op {
	if m == nil {
		return nil
	}
	return &Op{requests: m.fuseRequests.WithLabelValues(name), latency: m.fuseLatency.WithLabelValues(name)}
}

// Done counts one request that started at start.
func (o *Op) Done(start time.Time) {
	if o == nil {
		return
	}
	o.requests.Inc()
	o.latency.Observe(time.Since(start).Seconds())
}

// Direction of a transfer, for StoreTransfer.
type Direction string

// The directions of StoreTransfer.
const (
	Up   Direction = "up"
	Down Direction = "down"
)

// StoreCall counts one call of the store operation op by syncfs.
func (m *Metrics) StoreCall(op string) {
	if m != nil {
		m.storeCalls.WithLabelValues(op).Inc()
	}
}

// StoreAttempt counts one try of the store operation op: the attempt'th
// of its call (1 for the first), failed when failed is set.
func (m *Metrics) StoreAttempt(op string, attempt int, failed bool) {
	if m == nil {
		return
	}
	m.storeAttempts.WithLabelValues(op).Inc()
	if attempt > 1 {
		m.storeRetries.WithLabelValues(op).Inc()
	}
	if failed {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// StoreTransfer counts objects and bytes moved to or from the store.
func (m *Metrics) StoreTransfer(d Direction, objects int, bytes int64) {
	if m == nil {
		return
	}
	if objects > 0 {
		m.storeObjects.WithLabelValues(string(d)).Add(float64(objects))
	}
	if bytes > 0 {
		m.storeBytes.WithLabelValues(string(d)).Add(float64(bytes))
	}
}

// Sources are the figures the metrics read from the daemon when scraped.
// A nil function leaves its metrics out; an error from one leaves its
// figures out of that scrape.
type Sources struct {
	// Queue returns the changes waiting to be uploaded (outbox rows and
	// unsent batches) and the bytes of Staged content among them.
	Queue func() (changes int, bytes int64, err error)
	// Cache returns the bytes of content in the cache and the budget
	// (0: no limit).
	Cache func() (used, budget int64, err error)
	// Conflicts returns the conflict copies present in the namespace.
	Conflicts func() (int, error)
}

// SetSources registers gauges read from src at each scrape. Call it once.
func (m *Metrics) SetSources(src Sources) {
	if m == nil {
		return
	}
	m.reg.MustRegister(sourceCollector{src: src})
}
