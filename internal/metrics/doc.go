// Package metrics is arus's Prometheus instrumentation: the registry, the
// counters and histograms the request path bumps, a collector that reads
// broker state at scrape time, and the HTTP handlers for /metrics,
// /healthz and /readyz. Every metric is documented in docs/metrics.md.
//
// # Cost on the hot path
//
// Request, produce, fetch and fsync paths only add to counters and observe
// histograms whose children were resolved once: per API key (an array
// indexed by key, filled on first use), per API version (an array in the
// key's entry) and per topic (a map lookup by the topic name the request
// already holds, once per topic in a request, never a string built per
// request). Error counters are resolved on the error path only.
//
// Gauges of state (partition roles, log sizes and offsets, ISR health,
// consumer groups and their lag, the metadata quorum, connections) are not
// kept up to date by the code that changes the state: the Collector asks a
// Source for a Snapshot when Prometheus scrapes, so they cost nothing
// between scrapes.
//
// # Concurrency
//
// A Metrics is safe for concurrent use. Its methods accept a nil receiver
// (no metrics), so packages can be used without it in tests.
//
// This package imports no other arus package: callers hand it plain
// values (Snapshot) or call it through small interfaces they define.
package metrics
