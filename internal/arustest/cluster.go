package arustest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/broker"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/controller"
)

// Cluster is an in-process cluster of brokers sharing one controller.
type Cluster struct {
	nodes
	Controller *controller.Controller
	Timing     broker.Timing
	opts       []Option
	dirs       map[int32]string
	stop       chan struct{}
	done       chan struct{}

	// started are the brokers started so far (stopped ones too), by
	// id: an admin request answers once each applied its change
	// (waitApplied). Its own lock: a request waiting here must never
	// hold up the nodes' (crashAll holds that while brokers stop).
	started struct {
		sync.Mutex
		byID map[int32]*broker.Broker
	}
}

// FastTiming is liveness timing for tests: failures are noticed within
// about a second.
var FastTiming = broker.Timing{
	HeartbeatInterval: 100 * time.Millisecond, SessionTimeout: 1 * time.Second,
	ReplicaLagMax: 2 * time.Second, LeaderRebalanceInterval: 500 * time.Millisecond,
	ISRCheckInterval: 100 * time.Millisecond, CleanerBackoff: time.Second,
}

// StartCluster starts n brokers (ids 1..n) on 127.0.0.1:0 and stops them
// when the test ends.
func StartCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	ctrl, _ := controller.NewMemLog(controller.Defaults{NumPartitions: 1, DefaultReplicationFactor: int16(min(n, 3))}, Logger(t))
	ctrl.SetClusterConfig(controller.ClusterConfig{
		SessionTimeout: FastTiming.SessionTimeout, LeaderRebalanceInterval: FastTiming.LeaderRebalanceInterval,
	})
	c := &Cluster{nodes: newNodes(t, n), Controller: ctrl, Timing: FastTiming, opts: opts,
		dirs: map[int32]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	for id := int32(1); id <= int32(n); id++ {
		c.dirs[id] = t.TempDir()
		c.Start(id)
	}
	go c.tickLoop()
	t.Cleanup(func() {
		close(c.stop)
		<-c.done
		c.crashAll()
	})
	return c
}

// tickLoop drives the shared controller's clock, as an active controller's
// own loop would.
func (c *Cluster) tickLoop() {
	defer close(c.done)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			_ = c.Controller.Tick(now)
		}
	}
}

// Start (re)starts broker id on its data directory.
func (c *Cluster) Start(id int32) *Broker {
	c.t.Helper()
	cfg := config.Broker{NodeID: id, Listener: "127.0.0.1:0", DataDir: c.dirs[id]}
	for _, o := range c.opts {
		o(&cfg)
	}
	b, err := broker.Start(cfg, Logger(c.t).With("node", id), broker.WithController(c.Controller), broker.WithTiming(c.Timing),
		broker.WithAppliedBy(c.waitApplied))
	if err != nil {
		c.t.Fatalf("start broker %d: %v", id, err)
	}
	c.started.Lock()
	if c.started.byID == nil {
		c.started.byID = map[int32]*broker.Broker{}
	}
	c.started.byID[id] = b
	c.started.Unlock()
	br := &Broker{Broker: b, Config: cfg}
	c.add(id, br)
	return br
}

// waitApplied waits until every running broker applied the shared
// controller's metadata up to offset: the brokers share one controller,
// so an admin call answers once the change reached all of them, as a
// client of a real cluster sees once the metadata propagated.
func (c *Cluster) waitApplied(ctx context.Context, offset int64) error {
	c.started.Lock()
	brokers := make([]*broker.Broker, 0, len(c.started.byID))
	for _, b := range c.started.byID {
		brokers = append(brokers, b)
	}
	c.started.Unlock()
	for _, b := range brokers {
		if err := b.WaitApplied(ctx, offset); err != nil && !errors.Is(err, broker.ErrPublisherStopped) {
			return err
		}
	}
	return nil
}

// Leader returns the current leader of topic/partition per the controller.
func (c *Cluster) Leader(topic string, partition int32) (int32, error) {
	im := c.Controller.Image()
	t, ok := im.Topics[topic]
	if !ok || int(partition) >= len(t.Partitions) {
		return -1, fmt.Errorf("no partition %s-%d", topic, partition)
	}
	return t.Partitions[partition].Leader, nil
}
