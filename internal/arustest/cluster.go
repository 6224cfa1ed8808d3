package arustest

import (
	"context"
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
	t          testing.TB
	Controller *controller.Controller
	Timing     broker.Timing
	opts       []Option

	mu      sync.Mutex
	brokers map[int32]*Broker
	dirs    map[int32]string
	stop    chan struct{}
	done    chan struct{}
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
	c := &Cluster{t: t, Controller: ctrl, Timing: FastTiming, opts: opts,
		brokers: map[int32]*Broker{}, dirs: map[int32]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	for id := int32(1); id <= int32(n); id++ {
		c.dirs[id] = t.TempDir()
		c.Start(id)
	}
	go c.tickLoop()
	t.Cleanup(func() {
		close(c.stop)
		<-c.done
		c.mu.Lock()
		defer c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, b := range c.brokers {
			_ = b.Crash(ctx)
		}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, running := c.brokers[id]; running {
		c.t.Fatalf("broker %d is already running", id)
	}
	cfg := config.Broker{NodeID: id, Listener: "127.0.0.1:0", DataDir: c.dirs[id]}
	for _, o := range c.opts {
		o(&cfg)
	}
	b, err := broker.Start(cfg, Logger(c.t).With("node", id), broker.WithController(c.Controller), broker.WithTiming(c.Timing))
	if err != nil {
		c.t.Fatalf("start broker %d: %v", id, err)
	}
	br := &Broker{Broker: b, Config: cfg}
	c.brokers[id] = br
	return br
}

// Crash stops broker id without a controlled shutdown.
func (c *Cluster) Crash(id int32) {
	c.t.Helper()
	c.mu.Lock()
	b := c.brokers[id]
	delete(c.brokers, id)
	c.mu.Unlock()
	if b == nil {
		c.t.Fatalf("broker %d is not running", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Crash(ctx); err != nil {
		c.t.Logf("crash broker %d: %v", id, err)
	}
}

// Broker returns a running broker.
func (c *Cluster) Broker(id int32) *Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.brokers[id]
}

// Addrs returns the client addresses of the running brokers.
func (c *Cluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id := int32(1); id <= int32(len(c.dirs)); id++ {
		if b, ok := c.brokers[id]; ok {
			out = append(out, b.Addr())
		}
	}
	return out
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
