// Package arustest starts in-process arus brokers on 127.0.0.1:0 for tests
// and provides Eventually, which waits on a condition with a deadline
// instead of sleeping.
package arustest

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/broker"
	"github.com/arus-io/arus/internal/config"
)

// Broker is a running in-process broker.
type Broker struct {
	*broker.Broker
	Config config.Broker
}

// Option changes the broker config before start.
type Option func(*config.Broker)

// WithAutoCreate sets auto.create.topics.enable.
func WithAutoCreate(on bool) Option {
	return func(c *config.Broker) { c.AutoCreateTopics = &on }
}

// WithDefaultReplicationFactor sets default.replication.factor.
func WithDefaultReplicationFactor(rf int16) Option {
	return func(c *config.Broker) { c.DefaultReplicationFactor = rf }
}

// WithDataDir uses dir instead of a fresh temporary directory (restarts).
func WithDataDir(dir string) Option {
	return func(c *config.Broker) { c.DataDir = dir }
}

// WithTopicDefault sets a broker-wide topic config default.
func WithTopicDefault(name, value string) Option {
	return func(c *config.Broker) {
		if c.TopicDefaults == nil {
			c.TopicDefaults = map[string]string{}
		}
		c.TopicDefaults[name] = value
	}
}

// WithHTTP serves /metrics, /healthz and /readyz on a free loopback port
// (Broker.HTTPAddr); a QuorumCluster keeps each node's port across restarts.
func WithHTTP() Option {
	return func(c *config.Broker) { c.HTTPListener = httpAnyPort }
}

// httpAnyPort is the HTTPListener WithHTTP sets.
const httpAnyPort = "127.0.0.1:0"

// WithMetricsPerPartition sets arus.metrics.per.partition.enabled.
func WithMetricsPerPartition(on bool) Option {
	return func(c *config.Broker) { c.MetricsPerPartition = &on }
}

// WithNumPartitions sets num.partitions.
func WithNumPartitions(n int32) Option {
	return func(c *config.Broker) { c.NumPartitions = n }
}

// WithGroupInitialRebalanceDelay sets group.initial.rebalance.delay.ms.
// Test brokers use 0 unless told otherwise, as Kafka's own tests do, so
// the first rebalance of a group does not wait 3s.
func WithGroupInitialRebalanceDelay(d time.Duration) Option {
	return func(c *config.Broker) { c.Groups.InitialRebalanceDelay = &d }
}

// WithGroupSessionTimeouts sets group.min.session.timeout.ms and
// group.max.session.timeout.ms, so tests can use session timeouts below
// Kafka's 6s minimum.
func WithGroupSessionTimeouts(min, max time.Duration) Option {
	return func(c *config.Broker) { c.Groups.MinSessionTimeout, c.Groups.MaxSessionTimeout = min, max }
}

// WithOffsetsRetention sets offsets.retention.minutes (as a duration) and
// offsets.retention.check.interval.ms.
func WithOffsetsRetention(retention, checkInterval time.Duration) Option {
	return func(c *config.Broker) {
		c.Groups.OffsetsRetention, c.Groups.OffsetsRetentionCheckInterval = retention, checkInterval
	}
}

// WithTransactionAbortInterval sets
// transaction.abort.timed.out.transaction.cleanup.interval.ms.
func WithTransactionAbortInterval(d time.Duration) Option {
	return func(c *config.Broker) { c.Transactions.AbortTimedOutInterval = d }
}

// WithTransactionStatePartitions sets transaction.state.log.num.partitions
// (fewer partitions start faster in multi-node tests).
func WithTransactionStatePartitions(n int32) Option {
	return func(c *config.Broker) { c.Transactions.StateLogPartitions = n }
}

// WithPartitionVerification sets transaction.partition.verification.enable.
func WithPartitionVerification(on bool) Option {
	return func(c *config.Broker) { c.Transactions.PartitionVerification = &on }
}

// WithProducerIDExpiration sets producer.id.expiration.ms and
// producer.id.expiration.check.interval.ms.
func WithProducerIDExpiration(expiration, checkInterval time.Duration) Option {
	return func(c *config.Broker) {
		c.Transactions.ProducerIDExpiration, c.Transactions.ProducerIDExpirationCheckInterval = expiration, checkInterval
	}
}

// Logger returns a logger for tests: quiet unless ARUS_TEST_LOG is set.
func Logger(t testing.TB) *slog.Logger {
	level := slog.LevelError
	if os.Getenv("ARUS_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// StartBroker starts a one-node broker on 127.0.0.1:0 and stops it when
// the test ends.
func StartBroker(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	cfg := config.Broker{Listener: "127.0.0.1:0", DataDir: t.TempDir()}
	noDelay := time.Duration(0)
	cfg.Groups.InitialRebalanceDelay = &noDelay
	for _, o := range opts {
		o(&cfg)
	}
	b, err := broker.Start(cfg, Logger(t))
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	return &Broker{Broker: b, Config: cfg}
}

// Addr returns host:port of the client listener.
func (b *Broker) Addr() string { return b.Broker.Addr().String() }

// Eventually polls cond every few milliseconds until it returns true or
// the timeout passes, then fails the test with msg.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	EventuallyExplained(t, timeout, func() string { return msg }, cond)
}

// EventuallyExplained is Eventually with a failure message built when it
// fails, so it can tell the last state cond saw.
func EventuallyExplained(t testing.TB, timeout time.Duration, msg func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", timeout, msg())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
