package arustest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/broker"
	"github.com/arus-io/arus/internal/config"
)

// QuorumCluster is an in-process cluster whose nodes each run their own
// controller in one Raft metadata quorum, talking over loopback exactly as
// separate processes would.
type QuorumCluster struct {
	t      testing.TB
	voters string
	addrs  map[int32]string
	dirs   map[int32]string
	opts   []Option
	Timing broker.Timing

	mu      sync.Mutex
	brokers map[int32]*Broker
}

// freePorts reserves n loopback addresses (listen, note, close); a port is
// rarely taken again before the broker binds it.
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// StartQuorumCluster starts n combined nodes (broker and controller),
// ids 1..n, and stops them when the test ends.
func StartQuorumCluster(t testing.TB, n int, opts ...Option) *QuorumCluster {
	return StartQuorumClusterWithBrokers(t, n, 0, opts...)
}

// StartQuorumClusterWithBrokers starts voters combined nodes (ids
// 1..voters) and brokers broker-only nodes (the following ids).
func StartQuorumClusterWithBrokers(t testing.TB, voterCount, brokerCount int, opts ...Option) *QuorumCluster {
	t.Helper()
	c := &QuorumCluster{t: t, addrs: map[int32]string{}, dirs: map[int32]string{}, opts: opts,
		Timing: FastTiming, brokers: map[int32]*Broker{}}
	var voters []string
	for i, addr := range freePorts(t, voterCount+brokerCount) {
		id := int32(i + 1)
		c.addrs[id] = addr
		c.dirs[id] = t.TempDir()
		if i < voterCount {
			voters = append(voters, fmt.Sprintf("%d@%s", id, addr))
		}
	}
	c.voters = strings.Join(voters, ",")
	var wg sync.WaitGroup
	for id := range c.addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Start(id)
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
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

// Start (re)starts node id on its address and data directory.
func (c *QuorumCluster) Start(id int32) *Broker {
	cfg := config.Broker{NodeID: id, Listener: c.addrs[id], DataDir: c.dirs[id], ControllerQuorumVoters: c.voters,
		DefaultReplicationFactor: 1}
	for _, o := range c.opts {
		o(&cfg)
	}
	b, err := broker.Start(cfg, Logger(c.t).With("node", id), broker.WithTiming(c.Timing))
	if err != nil {
		c.t.Errorf("start node %d: %v", id, err)
		return nil
	}
	br := &Broker{Broker: b, Config: cfg}
	c.mu.Lock()
	c.brokers[id] = br
	c.mu.Unlock()
	return br
}

// Crash stops node id without a controlled shutdown.
func (c *QuorumCluster) Crash(id int32) {
	c.mu.Lock()
	b := c.brokers[id]
	delete(c.brokers, id)
	c.mu.Unlock()
	if b == nil {
		c.t.Fatalf("node %d is not running", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = b.Crash(ctx)
}

// Broker returns a running node, or nil.
func (c *QuorumCluster) Broker(id int32) *Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.brokers[id]
}

// Addrs returns the client addresses of the running nodes.
func (c *QuorumCluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id := int32(1); id <= int32(len(c.addrs)); id++ {
		if _, ok := c.brokers[id]; ok {
			out = append(out, c.addrs[id])
		}
	}
	return out
}

// ActiveController returns the node id whose controller leads, -1 if none
// of the running nodes knows one.
func (c *QuorumCluster) ActiveController() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, b := range c.brokers {
		if b.Controller().IsActive() {
			return id
		}
	}
	return -1
}
