// Package metrics defines syncfs's Prometheus metrics and serves them, with
// net/http/pprof beside them, on a loopback address (syncfs mount
// --metrics-addr). It imports no other syncfs package, so that fs, resolver
// and cmd may all record into it.
//
// # Words
//
//   - FUSE op: one kind of kernel request (LOOKUP, GETATTR, CREATE, WRITE...),
//     named as go-fuse and the kernel name it. fs counts every request and
//     observes its latency through an Op resolved once per kind, so that
//     recording costs no label lookup.
//   - Store call: one call of a blobstore method by syncfs; an attempt is one
//     try of it, and a retry every attempt after the first (see
//     storemetrics, which wraps a Store at both levels).
//   - Source: a function the daemon supplies that the metrics read when they
//     are scraped (upload queue, cache use and budget, conflicts), so that
//     nothing has to push those figures.
//
// A nil *Metrics and a nil *Op record nothing: tests and tools that do not
// serve metrics pass nil.
package metrics
