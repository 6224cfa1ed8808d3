package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every arus metric.
const namespace = "arus"

// latencyBuckets are the buckets of every latency histogram, in seconds:
// 50 µs to 10 s.
var latencyBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Options configure a Metrics.
type Options struct {
	// PerPartition enables the series labelled by partition (log size,
	// segments and offsets per partition, consumer lag and committed
	// offset per partition): arus.metrics.per.partition.enabled. Off,
	// only the per-topic (and per group and topic) sums remain.
	PerPartition bool
}

// Metrics holds the registry of one broker and the instruments its hot
// paths use. The zero value is not usable; a nil *Metrics is (it records
// nothing).
type Metrics struct {
	// Registry holds every arus metric plus Go runtime and process
	// metrics; Handler serves it.
	Registry *prometheus.Registry
	opts     Options

	requests        *prometheus.CounterVec
	requestErrors   *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	requestPhase    *prometheus.HistogramVec
	apis            [maxAPIKey + 1]apiSlot

	bytesIn, recordsIn, bytesOut, recordsOut *prometheus.CounterVec
	topics                                   struct {
		sync.RWMutex
		byName map[string]*TopicMetrics
	}

	flushDuration prometheus.Histogram
	flushBatches  prometheus.Histogram
	isrShrinks    prometheus.Counter
	isrExpands    prometheus.Counter

	collector *collector
}

// New returns metrics with a fresh registry.
func New(opts Options) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), opts: opts}
	m.topics.byName = map[string]*TopicMetrics{}
	f := factory{m.Registry}
	m.requests = f.counterVec("requests_total",
		"Requests handled, by API (Kafka's request name) and version.", "api", "version")
	m.requestErrors = f.counterVec("request_errors_total",
		"Error codes in responses, by API, version and Kafka error name; one per partition, topic or group that failed, as Kafka's ErrorsPerSec.",
		"api", "version", "error")
	m.requestDuration = f.histogramVec("request_duration_seconds",
		"Time from a request's last byte read to its response's last byte written, by API.", latencyBuckets, "api")
	m.requestPhase = f.histogramVec("request_phase_seconds",
		"Time a request spends in each phase, by API: queue (decode and wait before the handler), handler (handler run), "+
			"wait (waiting for fsync, replication, long poll or earlier responses of the connection), send (writing the response).",
		latencyBuckets, "api", "phase")

	m.bytesIn = f.counterVec("topic_bytes_in_total", "Record batch bytes appended by producers, by topic.", "topic")
	m.recordsIn = f.counterVec("topic_records_in_total", "Records appended by producers, by topic.", "topic")
	m.bytesOut = f.counterVec("topic_bytes_out_total", "Record batch bytes sent to consumers, by topic (replication excluded).", "topic")
	m.recordsOut = f.counterVec("topic_records_out_total", "Records sent to consumers, by topic (replication excluded).", "topic")

	m.flushDuration = f.histogram("log_flush_duration_seconds",
		"Duration of one group-commit fsync of a partition's log.", latencyBuckets)
	m.flushBatches = f.histogram("log_flush_batches",
		"Batches made durable by one group-commit fsync (group-commit size).",
		[]float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512})
	m.isrShrinks = f.counter("isr_shrinks_total", "ISR shrinks of partitions this broker leads, committed by the controller.")
	m.isrExpands = f.counter("isr_expands_total", "ISR expansions of partitions this broker leads, committed by the controller.")

	m.collector = newCollector(opts)
	m.Registry.MustRegister(m.collector,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// SetSource sets what the scrape-time collector reads broker state from.
func (m *Metrics) SetSource(s Source) {
	if m == nil {
		return
	}
	m.collector.setSource(s)
}

// Handler serves the registry in Prometheus's text (or protobuf) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		// A failing collector yields a partial answer, not a 500.
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       30 * time.Second,
	})
}

// ObserveFlush records one group-commit fsync that took d and made
// batches appended batches durable (partition's flusher calls it).
func (m *Metrics) ObserveFlush(d time.Duration, batches int) {
	if m == nil {
		return
	}
	m.flushDuration.Observe(d.Seconds())
	if batches > 0 {
		m.flushBatches.Observe(float64(batches))
	}
}

// ISRChanged counts a committed ISR change of a partition this broker
// leads: a shrink (a replica left), an expand (one joined), or both.
func (m *Metrics) ISRChanged(shrink, expand bool) {
	if m == nil {
		return
	}
	if shrink {
		m.isrShrinks.Inc()
	}
	if expand {
		m.isrExpands.Inc()
	}
}

// factory registers metrics with the arus namespace.
type factory struct{ r *prometheus.Registry }

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.r.MustRegister(v)
	return v
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	f.r.MustRegister(c)
	return c
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.r.MustRegister(v)
	return v
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets})
	f.r.MustRegister(h)
	return h
}
