package api

// Client telemetry (KIP-714): the state behind GetTelemetrySubscriptions
// (71_get_telemetry_subscriptions.go) and PushTelemetry
// (72_push_telemetry.go), modelled on Kafka's ClientMetricsManager. Each
// client instance (a client-chosen or broker-assigned UUID) gets one
// subscription: the metric name prefixes the broker wants (none unless
// SetTelemetrySubscription named some: Kafka's answer when no
// client-metrics resource matches the client) and the push interval. The
// last metrics each instance pushed are kept, as sent (OTLP protobuf,
// compressed with CompressionType), for the broker's metrics endpoint.
// Memory is bounded: at most telemetryMaxClients instances (Kafka's cache
// size) and telemetryMaxStoredBytes of kept payloads; instances not heard
// from for three push intervals are dropped.

import (
	"crypto/rand"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// telemetryDefaultPushInterval is Kafka's ClientMetricsConfigs.DEFAULT_INTERVAL_MS.
	telemetryDefaultPushInterval = 5 * time.Minute
	// telemetryMaxBytes is Kafka's telemetry.max.bytes default: the largest
	// metrics payload a client may push.
	telemetryMaxBytes = 1 << 20
	// telemetryMaxClients is Kafka's ClientMetricsManager CACHE_MAX_SIZE.
	telemetryMaxClients = 16384
	// telemetryMaxStoredBytes bounds the kept payloads of all instances.
	telemetryMaxStoredBytes = 64 << 20
)

// telemetryCompressionTypes are the codecs a client may compress its
// metrics with, in Kafka's order of preference: zstd, lz4, gzip, snappy.
var telemetryCompressionTypes = []int8{4, 3, 1, 2}

// ClientTelemetry is the last metrics push of one client instance.
type ClientTelemetry struct {
	InstanceID [16]byte
	ClientID   string // the request header's client id
	Host       string // the client's address
	Received   time.Time
	// CompressionType is the codec of Metrics (0 none, 1 gzip, 2 snappy,
	// 3 lz4, 4 zstd); Metrics is an OTLP MetricsData protobuf.
	CompressionType int8
	Metrics         []byte
}

// Telemetry keeps client telemetry state. Safe for concurrent use.
type Telemetry struct {
	now func() time.Time

	mu struct {
		sync.Mutex
		metrics   []string      // requested metric prefixes; empty: none
		interval  time.Duration // push interval
		instances map[[16]byte]*telemetryInstance
		stored    int // bytes of kept payloads
		// series counts the decoded series of all instances (at most
		// telemetryMaxSeries, telemetry_series.go).
		series        int
		pushes        uint64 // pushes accepted
		seriesDropped uint64 // new series refused at telemetryMaxSeries
	}
}

// telemetryInstance is one client instance; guarded by Telemetry.mu.
type telemetryInstance struct {
	subscriptionID int32
	interval       time.Duration
	lastGet        time.Time // zero until its first GetTelemetrySubscriptions
	lastPush       time.Time
	lastSeen       time.Time
	terminating    bool
	last           *ClientTelemetry // nil until a push with metrics
	clientID       string           // of the last decoded push
	series         map[seriesKey]seriesValue
}

func newTelemetry(now func() time.Time) *Telemetry {
	t := &Telemetry{now: now}
	t.mu.interval = telemetryDefaultPushInterval
	t.mu.instances = map[[16]byte]*telemetryInstance{}
	return t
}

// SetTelemetrySubscription sets the metric name prefixes clients are asked
// to push ("*" or "" for all, sent as KIP-714's [""]; none for no
// metrics) and the push interval (0
// keeps Kafka's default of 5 minutes). Instances pick it up at their next
// GetTelemetrySubscriptions; their pushes under the old subscription get
// UNKNOWN_SUBSCRIPTION_ID, which makes them ask again.
func (t *Telemetry) SetTelemetrySubscription(metrics []string, interval time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.metrics = slices.Clone(metrics)
	if slices.Contains(metrics, "*") || slices.Contains(metrics, "") {
		t.mu.metrics = []string{""}
	}
	if interval <= 0 {
		interval = telemetryDefaultPushInterval
	}
	t.mu.interval = interval
	for _, in := range t.mu.instances {
		in.subscriptionID = -1 // forces a new subscription
	}
}

// Snapshot returns the last push of every instance that pushed metrics,
// copies the caller may keep.
func (t *Telemetry) Snapshot() []ClientTelemetry {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]ClientTelemetry, 0, len(t.mu.instances))
	for _, in := range t.mu.instances {
		if in.last != nil {
			c := *in.last
			c.Metrics = slices.Clone(c.Metrics)
			out = append(out, c)
		}
	}
	return out
}

// subscription is what GetTelemetrySubscriptions answers.
type subscription struct {
	instanceID     [16]byte
	subscriptionID int32
	metrics        []string
	interval       time.Duration
}

// errTelemetryThrottled: a request before the push interval passed.
type telemetryRefusal int8

const (
	telemetryOK telemetryRefusal = iota
	telemetryThrottled
	telemetryInvalid // unknown instance id or a push after terminating
	telemetryUnknownSubscription
	telemetryUnsupportedCompression
	telemetryTooLarge
	telemetryInvalidRecord // metrics that are not compressed OTLP
)

// get serves GetTelemetrySubscriptions for instance id (zero: a new one).
func (t *Telemetry) get(id [16]byte) (subscription, telemetryRefusal) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if id == ([16]byte{}) {
		id = newInstanceID()
	}
	in := t.instanceLocked(id, now)
	if !in.lastGet.IsZero() && now.Sub(in.lastGet) < in.interval {
		return subscription{}, telemetryThrottled
	}
	in.lastGet = now
	return subscription{instanceID: id, subscriptionID: in.subscriptionID, metrics: slices.Clone(t.mu.metrics), interval: in.interval}, telemetryOK
}

// push serves PushTelemetry, with the checks of Kafka's
// ClientMetricsManager.validatePushRequest in its order.
func (t *Telemetry) push(id [16]byte, subscriptionID int32, terminating bool, compression int8, metrics []byte, clientID, host string) telemetryRefusal {
	if id == ([16]byte{}) || id == oneUUID {
		return telemetryInvalid
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	in := t.instanceLocked(id, now)
	defer func() { in.terminating = terminating }()
	if in.terminating {
		return telemetryInvalid
	}
	// A push right after a subscription fetch is accepted whatever the
	// interval (clients add jitter); otherwise one per interval.
	accept := in.lastGet.After(in.lastPush) || now.Sub(maxTime(in.lastGet, in.lastPush)) >= in.interval
	if !accept && !terminating {
		return telemetryThrottled
	}
	if accept {
		in.lastPush = now
	}
	switch {
	case subscriptionID != in.subscriptionID:
		return telemetryUnknownSubscription
	case compression < 0 || compression > 4:
		return telemetryUnsupportedCompression
	case len(metrics) > telemetryMaxBytes:
		return telemetryTooLarge
	}
	if len(metrics) > 0 {
		if in.last != nil {
			t.mu.stored -= len(in.last.Metrics)
		}
		in.last = &ClientTelemetry{InstanceID: id, ClientID: clientID, Host: host, Received: now,
			CompressionType: compression, Metrics: slices.Clone(metrics)}
		t.mu.stored += len(metrics)
		t.trimStoredLocked(in)
	}
	return telemetryOK
}

// oneUUID is reserved by Kafka (Uuid.ONE_UUID) and never a client's.
var oneUUID = [16]byte{15: 1}

// instanceLocked returns the instance for id, creating it (and making
// room) when unknown, and renewing its subscription when it changed.
func (t *Telemetry) instanceLocked(id [16]byte, now time.Time) *telemetryInstance {
	in, ok := t.mu.instances[id]
	if ok && now.Sub(in.lastSeen) > 3*in.interval {
		t.dropLocked(id, in)
		ok = false
	}
	if !ok {
		if len(t.mu.instances) >= telemetryMaxClients {
			t.evictLocked(now)
		}
		in = &telemetryInstance{subscriptionID: -1}
		t.mu.instances[id] = in
	}
	if in.subscriptionID == -1 {
		// A changed subscription starts the instance afresh, as Kafka
		// re-creates it: its next push is judged by the new subscription
		// id, not throttled by the old interval.
		in.lastGet, in.lastPush = time.Time{}, time.Time{}
		in.interval = t.mu.interval
		in.subscriptionID = subscriptionID(t.mu.metrics, in.interval, id)
	}
	in.lastSeen = now
	return in
}

// evictLocked drops expired instances, then the least recently seen one
// if the map is still full.
func (t *Telemetry) evictLocked(now time.Time) {
	var oldestID [16]byte
	var oldest *telemetryInstance
	for id, in := range t.mu.instances {
		if now.Sub(in.lastSeen) > 3*in.interval {
			t.dropLocked(id, in)
			continue
		}
		if oldest == nil || in.lastSeen.Before(oldest.lastSeen) {
			oldestID, oldest = id, in
		}
	}
	if len(t.mu.instances) >= telemetryMaxClients && oldest != nil {
		t.dropLocked(oldestID, oldest)
	}
}

// trimStoredLocked forgets the oldest kept payloads, never keep's, until
// they fit telemetryMaxStoredBytes.
func (t *Telemetry) trimStoredLocked(keep *telemetryInstance) {
	for t.mu.stored > telemetryMaxStoredBytes {
		var oldest *telemetryInstance
		for _, in := range t.mu.instances {
			if in != keep && in.last != nil && (oldest == nil || in.last.Received.Before(oldest.last.Received)) {
				oldest = in
			}
		}
		if oldest == nil {
			return
		}
		t.mu.stored -= len(oldest.last.Metrics)
		oldest.last = nil
	}
}

func (t *Telemetry) dropLocked(id [16]byte, in *telemetryInstance) {
	if in.last != nil {
		t.mu.stored -= len(in.last.Metrics)
	}
	t.mu.series -= len(in.series)
	delete(t.mu.instances, id)
}

// subscriptionID identifies a subscription's content for one instance, as
// Kafka's ClientMetricsManager.computeSubscriptionId (a CRC-32C of the
// metrics and interval plus the instance's hash); any stable value would do.
func subscriptionID(metrics []string, interval time.Duration, id [16]byte) int32 {
	s := "[" + strings.Join(metrics, ", ") + "]" + strconv.FormatInt(interval.Milliseconds(), 10)
	h := crc32.Checksum([]byte(s), crc32.MakeTable(crc32.Castagnoli))
	return int32(h) + int32(crc32.ChecksumIEEE(id[:]))
}

func newInstanceID() [16]byte {
	var id [16]byte
	for id == ([16]byte{}) || id == oneUUID {
		_, _ = rand.Read(id[:])   // crypto/rand.Read never fails (Go 1.24+)
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // variant
	}
	return id
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
