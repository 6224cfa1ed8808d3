package quota

import (
	"sync"
	"time"

	"github.com/arus-io/arus/internal/metadata"
)

// Quota keys of user and client-id entities (Kafka's QuotaConfig).
const (
	ProducerByteRate       = "producer_byte_rate"
	ConsumerByteRate       = "consumer_byte_rate"
	RequestPercentage      = "request_percentage"
	ControllerMutationRate = "controller_mutation_rate"
	// ConnectionCreationRate is the key of ip entities.
	ConnectionCreationRate = "connection_creation_rate"
)

// Kind is what a sensor measures.
type Kind int8

// The measured kinds.
const (
	Produce Kind = iota // request bytes of Produce, against producer_byte_rate
	Fetch               // response bytes of Fetch, against consumer_byte_rate
	Request             // request handling time, against request_percentage
)

func (k Kind) key() string {
	switch k {
	case Produce:
		return ProducerByteRate
	case Request:
		return RequestPercentage
	}
	return ConsumerByteRate
}

// Config configures a Manager.
type Config struct {
	// Samples is quota.window.num (default 11): how many windows the
	// rate spans.
	Samples int
	// Window is quota.window.size.seconds (default 1 s).
	Window time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Defaults of Config, Kafka's.
const (
	DefaultSamples = 11
	DefaultWindow  = time.Second
)

// inactiveExpiry is how long a sensor lives unused (Kafka's
// InactiveSensorExpirationTimeSeconds).
const inactiveExpiry = time.Hour

func (c *Config) validate() {
	if c.Samples < 2 {
		c.Samples = DefaultSamples
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Manager measures clients' rates. The quotas themselves are passed in
// with each call (the current metadata image's), so a change applies to
// the next request.
type Manager struct {
	cfg Config
	mu  struct {
		sync.Mutex
		sensors   map[sensorKey]*sensor
		buckets   map[bucketKey]*bucket // controller_mutation_rate
		lastSweep time.Time
	}
}

// New returns a Manager.
func New(cfg Config) *Manager {
	cfg.validate()
	m := &Manager{cfg: cfg}
	m.mu.sensors = map[sensorKey]*sensor{}
	m.mu.buckets = map[bucketKey]*bucket{}
	return m
}

type sensorKey struct {
	kind           Kind
	user, clientID string
}

type bucketKey struct{ user, clientID string }

// Resolve finds the quota of key for (user, clientID) with Kafka's
// precedence, and the user and client-id tags usage is counted under.
// ok is false when no entity sets key.
func Resolve(quotas map[metadata.QuotaEntity]map[string]float64, key, user, clientID string) (bound float64, tagUser, tagClient string, ok bool) {
	if len(quotas) == 0 {
		return 0, "", "", false
	}
	u, c, none := metadata.Named(user), metadata.Named(clientID), metadata.QuotaEntityName{}
	d := metadata.DefaultEntity
	for _, e := range [...]metadata.QuotaEntity{
		{User: u, ClientID: c}, {User: u, ClientID: d}, {User: u, ClientID: none},
		{User: d, ClientID: c}, {User: d, ClientID: d}, {User: d, ClientID: none},
		{User: none, ClientID: c}, {User: none, ClientID: d},
	} {
		if v, found := quotas[e][key]; found {
			if e.User.Set {
				tagUser = user
			}
			if e.ClientID.Set {
				tagClient = clientID
			}
			return v, tagUser, tagClient, true
		}
	}
	return 0, "", "", false
}

// Record counts n bytes of kind for (user, clientID) and returns how
// long the client is to be throttled: zero when it has no quota or is
// within it.
func (m *Manager) Record(quotas map[metadata.QuotaEntity]map[string]float64, kind Kind, user, clientID string, n int) time.Duration {
	bound, tu, tc, ok := Resolve(quotas, kind.key(), user, clientID)
	if !ok {
		return 0
	}
	now := m.cfg.Now()
	s := m.sensor(sensorKey{kind, tu, tc}, now)
	rate, window := s.record(float64(n), now, m.cfg)
	if bound <= 0 {
		// A zero quota allows nothing: throttle for the longest time.
		return time.Duration(m.cfg.Samples) * m.cfg.Window
	}
	if rate <= bound {
		return 0
	}
	return time.Duration((rate - bound) / bound * float64(window))
}

// RecordTime counts d of request handling for (user, clientID) against
// request_percentage, and returns how long the client is to be
// throttled. As Kafka's ClientRequestQuotaManager: the time is counted in
// percent of one thread (a second of handling per second is 100), and the
// throttle time is at most one quota window.
func (m *Manager) RecordTime(quotas map[metadata.QuotaEntity]map[string]float64, user, clientID string, d time.Duration) time.Duration {
	bound, tu, tc, ok := Resolve(quotas, RequestPercentage, user, clientID)
	if !ok {
		return 0
	}
	now := m.cfg.Now()
	s := m.sensor(sensorKey{Request, tu, tc}, now)
	rate, window := s.record(d.Seconds()*100, now, m.cfg)
	if bound <= 0 {
		return m.cfg.Window
	}
	if rate <= bound {
		return 0
	}
	return min(time.Duration((rate-bound)/bound*float64(window)), m.cfg.Window)
}

// Mutations is the controller_mutation_rate quota of one (user, client
// id) for one request (KIP-599): partitions created, added or deleted per
// second, measured with Kafka's token bucket. The bucket holds at most
// rate x quota.window.num x quota.window.size.seconds tokens; a mutation
// takes one token per partition and may take the bucket below zero, after
// which the quota is exceeded until it refills.
type Mutations struct {
	now         func() time.Time
	b           *bucket
	bound       float64
	burst       float64
	maxThrottle time.Duration
}

// Mutations returns the client's mutation quota, nil when it has none.
func (m *Manager) Mutations(quotas map[metadata.QuotaEntity]map[string]float64, user, clientID string) *Mutations {
	bound, tu, tc, ok := Resolve(quotas, ControllerMutationRate, user, clientID)
	if !ok {
		return nil
	}
	burst := bound * float64(m.cfg.Samples) * m.cfg.Window.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := bucketKey{tu, tc}
	b, ok := m.mu.buckets[k]
	if !ok {
		b = &bucket{tokens: burst, last: m.cfg.Now()}
		m.mu.buckets[k] = b
	}
	return &Mutations{now: m.cfg.Now, b: b, bound: bound, burst: burst, maxThrottle: time.Duration(m.cfg.Samples) * m.cfg.Window}
}

// Exceeded reports whether the bucket is below zero: a strict request
// (CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+) then fails
// its next topic with THROTTLING_QUOTA_EXCEEDED.
func (q *Mutations) Exceeded() bool {
	if q == nil {
		return false
	}
	return q.b.refill(q.now(), q.bound, q.burst) < 0
}

// Record takes n partition mutations (negative n gives them back).
func (q *Mutations) Record(n int) {
	if q == nil || n == 0 {
		return
	}
	b := q.b
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillLocked(q.now(), q.bound, q.burst)
	b.tokens = min(q.burst, b.tokens-float64(n))
}

// Throttle is how long the client must wait for the bucket to come back
// to zero (ControllerMutationQuotaManager.throttleTime); zero when it is
// not below zero.
func (q *Mutations) Throttle() time.Duration {
	if q == nil {
		return 0
	}
	tokens := q.b.refill(q.now(), q.bound, q.burst)
	switch {
	case tokens >= 0:
		return 0
	case q.bound <= 0:
		// A zero quota never refills: throttle for the longest time.
		return q.maxThrottle
	}
	return time.Duration(-tokens / q.bound * float64(time.Second))
}

// bucket is a token bucket (Kafka's TokenBucket stat).
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (b *bucket) refill(now time.Time, rate, burst float64) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillLocked(now, rate, burst)
	return b.tokens
}

func (b *bucket) refillLocked(now time.Time, rate, burst float64) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(burst, b.tokens+rate*d.Seconds())
		b.last = now
	}
}

// Unrecord takes back n bytes recorded for (user, clientID): Kafka does
// so for a Fetch it answers throttled and empty.
func (m *Manager) Unrecord(quotas map[metadata.QuotaEntity]map[string]float64, kind Kind, user, clientID string, n int) {
	_, tu, tc, ok := Resolve(quotas, kind.key(), user, clientID)
	if !ok {
		return
	}
	now := m.cfg.Now()
	m.sensor(sensorKey{kind, tu, tc}, now).record(-float64(n), now, m.cfg)
}

// MaxValueInWindow is how many bytes of kind (user, clientID) may move in
// one quota window span (bound x (samples-1) x window), and ok false
// without a quota: Kafka bounds a Fetch response by it.
func (m *Manager) MaxValueInWindow(quotas map[metadata.QuotaEntity]map[string]float64, kind Kind, user, clientID string) (int64, bool) {
	bound, _, _, ok := Resolve(quotas, kind.key(), user, clientID)
	if !ok {
		return 0, false
	}
	return int64(bound * float64(m.cfg.Samples-1) * m.cfg.Window.Seconds()), true
}

func (m *Manager) sensor(k sensorKey, now time.Time) *sensor {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.mu.sensors[k]
	if !ok {
		if now.Sub(m.mu.lastSweep) > time.Minute {
			m.mu.lastSweep = now
			for key, old := range m.mu.sensors {
				if now.Sub(old.lastUsed()) > inactiveExpiry {
					delete(m.mu.sensors, key)
				}
			}
			for key, b := range m.mu.buckets {
				b.mu.Lock()
				idle := now.Sub(b.last)
				b.mu.Unlock()
				if idle > inactiveExpiry {
					delete(m.mu.buckets, key)
				}
			}
		}
		s = newSensor(m.cfg.Samples)
		m.mu.sensors[k] = s
	}
	return s
}

// sensor is a sampled rate (Kafka's Rate over a SampledStat).
type sensor struct {
	mu      sync.Mutex
	starts  []time.Time // start of each sample's window
	values  []float64
	current int
	used    time.Time
}

func newSensor(samples int) *sensor {
	return &sensor{starts: make([]time.Time, samples), values: make([]float64, samples)}
}

func (s *sensor) lastUsed() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// record adds v at now and returns the rate (per second) and the window
// it was measured over.
func (s *sensor) record(v float64, now time.Time, cfg Config) (rate float64, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = now
	if s.starts[s.current].IsZero() {
		s.starts[s.current] = now
	} else if now.Sub(s.starts[s.current]) >= cfg.Window {
		s.current = (s.current + 1) % len(s.values)
		s.starts[s.current], s.values[s.current] = now, 0
	}
	s.values[s.current] += v
	// Samples older than the whole span no longer count (purge).
	span := time.Duration(len(s.values)) * cfg.Window
	total, oldest := 0.0, now
	for i := range s.values {
		if s.starts[i].IsZero() {
			continue
		}
		if now.Sub(s.starts[i]) >= span {
			s.starts[i], s.values[i] = now, 0
		}
		total += s.values[i]
		if s.starts[i].Before(oldest) {
			oldest = s.starts[i]
		}
	}
	elapsed := now.Sub(oldest)
	if full := int(elapsed / cfg.Window); full < len(s.values)-1 {
		elapsed += time.Duration(len(s.values)-1-full) * cfg.Window
	}
	return total / elapsed.Seconds(), elapsed
}
