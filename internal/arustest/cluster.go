package arustest

import (
	"fmt"
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
	b, err := broker.Start(cfg, Logger(c.t).With("node", id), broker.WithController(c.Controller), broker.WithTiming(c.Timing))
	if err != nil {
		c.t.Fatalf("start broker %d: %v", id, err)
	}
	br := &Broker{Broker: b, Config: cfg}
	c.add(id, br)
	return br
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
