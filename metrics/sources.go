package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	descQueueChanges = prometheus.NewDesc(namespace+"_upload_queue_changes",
		"Changes waiting to be uploaded: outbox rows and sealed batches not yet sent.", nil, nil)
	descQueueBytes = prometheus.NewDesc(namespace+"_upload_queue_bytes",
		"Bytes of Staged content waiting to be uploaded.", nil, nil)
	descCacheUsed = prometheus.NewDesc(namespace+"_cache_used_bytes",
		"Bytes of file content in the local cache.", nil, nil)
	descCacheBudget = prometheus.NewDesc(namespace+"_cache_budget_bytes",
		"The cache's byte budget (0: no limit).", nil, nil)
	descConflicts = prometheus.NewDesc(namespace+"_conflict_copies",
		"Conflict copies present in the namespace.", nil, nil)
)

// sourceCollector turns Sources into gauges at scrape time: the figures live
// in the index and the resolver, and reading them only when asked costs the
// FUSE path nothing.
type sourceCollector struct {
	src Sources
}

// Describe sends the descriptors of the gauges whose source is set.
func (c sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	if c.src.Queue != nil {
		ch <- descQueueChanges
		ch <- descQueueBytes
	}
	if c.src.Cache != nil {
		ch <- descCacheUsed
		ch <- descCacheBudget
	}
	if c.src.Conflicts != nil {
		ch <- descConflicts
	}
}

// Collect reads every source once.
func (c sourceCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	if c.src.Queue != nil {
		if n, b, err := c.src.Queue(); err == nil {
			gauge(descQueueChanges, float64(n))
			gauge(descQueueBytes, float64(b))
		}
	}
	if c.src.Cache != nil {
		if used, budget, err := c.src.Cache(); err == nil {
			gauge(descCacheUsed, float64(used))
			gauge(descCacheBudget, float64(budget))
		}
	}
	if c.src.Conflicts != nil {
		if n, err := c.src.Conflicts(); err == nil {
			gauge(descConflicts, float64(n))
		}
	}
}
