package broker

import (
	"context"
	"time"

	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/partition"
)

// hwCheckpointInterval is replica.high.watermark.checkpoint.interval.ms.
const hwCheckpointInterval = 5 * time.Second

// Timing holds the cluster liveness settings (Kafka's names in comments).
type Timing struct {
	HeartbeatInterval       time.Duration // broker.heartbeat.interval.ms (2 s)
	SessionTimeout          time.Duration // broker.session.timeout.ms (9 s)
	ReplicaLagMax           time.Duration // replica.lag.time.max.ms (30 s)
	LeaderRebalanceInterval time.Duration // leader.imbalance.check.interval.seconds (300 s); 0 off
	ISRCheckInterval        time.Duration // how often leaders review their ISR (replica.lag.time.max.ms / 2)
	CleanerBackoff          time.Duration // log.cleaner.backoff.ms (15 s)
}

type options struct {
	controller *controller.Controller
	appliedBy  func(ctx context.Context, offset int64) error
	timing     Timing
}

func defaultOptions() options {
	return options{timing: Timing{
		HeartbeatInterval: 2 * time.Second, SessionTimeout: 9 * time.Second,
		ReplicaLagMax: 30 * time.Second, LeaderRebalanceInterval: 300 * time.Second,
		ISRCheckInterval: 15 * time.Second, CleanerBackoff: 15 * time.Second,
	}}
}

// Option changes how a broker starts.
type Option func(*options)

// WithController makes the broker use an existing controller instead of
// opening its own metadata log: the brokers of an in-process test cluster
// share one. Its owner drives its clock (Tick); the broker reaches it
// through a Local controller channel like any voter.
func WithController(c *controller.Controller) Option {
	return func(o *options) { o.controller = c }
}

// WithAppliedBy makes admin requests served here, which answer once this
// broker applied their change, also wait for wait(ctx, offset): an
// in-process cluster sharing one controller (WithController) waits for
// every one of its brokers, as a client of a real cluster sees once the
// metadata propagated. wait should ignore brokers that stopped.
func WithAppliedBy(wait func(ctx context.Context, offset int64) error) Option {
	return func(o *options) { o.appliedBy = wait }
}

// WithTiming overrides the liveness settings (tests shorten them).
func WithTiming(t Timing) Option {
	return func(o *options) { o.timing = t }
}

// heartbeat tells the controller this broker is alive.
func (b *Broker) heartbeat(time.Time) {
	if err := b.sendHeartbeat(false); err != nil {
		b.logger.Warn("heartbeat", "err", err)
	}
}

// tickController drives the controller's clock: fencing silent brokers and
// restoring preferred leaders (a no-op unless it is the active one).
func (b *Broker) tickController(now time.Time) {
	if err := b.controller.Tick(now); err != nil {
		b.logger.Error("controller tick", "err", err)
	}
}

// reviewReplicas has each led partition propose ISR changes to the
// controller and checkpoints high watermarks every hwCheckpointInterval.
func (b *Broker) reviewReplicas(now time.Time) {
	b.CheckISR()
	if now.Sub(b.lastHWCheckpoint) < hwCheckpointInterval {
		return
	}
	b.lastHWCheckpoint = now
	for _, p := range b.partitionList() {
		if err := p.CheckpointHW(); err != nil {
			b.logger.Warn("high watermark checkpoint", "topic", p.Topic(), "partition", p.Index(), "err", err)
		}
	}
}

// CheckISR runs one ISR review of every partition this broker leads.
func (b *Broker) CheckISR() {
	b.mu.RLock()
	parts := make(map[topicPartition]*partition.Partition, len(b.mu.partitions))
	for tp, p := range b.mu.partitions {
		parts[tp] = p
	}
	b.mu.RUnlock()
	// Without the lock: alterPartition waits for a commit.
	for tp, p := range parts {
		old := p.Role().ISR
		c, ok := p.ProposeISR()
		if !ok {
			continue
		}
		if err := b.alterPartition(tp.topic, tp.index, c.LeaderEpoch, c.PartitionEpoch, c.ISR); err != nil {
			p.ISRChangeFailed()
			b.logger.Info("ISR change refused", "topic", tp.topic, "partition", tp.index, "isr", c.ISR, "err", err)
		} else {
			b.logger.Info("ISR changed", "topic", tp.topic, "partition", tp.index, "isr", c.ISR)
			b.metrics.ISRChanged(isrShrank(old, c.ISR), isrShrank(c.ISR, old))
		}
	}
}

// isrShrank reports whether a replica of old is missing from isr.
func isrShrank(old, isr []int32) bool {
	for _, id := range old {
		if !containsID(isr, id) {
			return true
		}
	}
	return false
}
