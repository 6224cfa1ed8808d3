package arustest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/arus-io/arus/internal/broker"
	"github.com/arus-io/arus/internal/config"
)

// QuorumCluster is an in-process cluster whose nodes each run their own
// controller in one Raft metadata quorum, talking over loopback exactly as
// separate processes would.
type QuorumCluster struct {
	nodes
	voters string
	addrs  map[int32]string // client listeners
	inter  map[int32]string // inter-broker listeners (the voters' addresses)
	dirs   map[int32]string
	http   map[int32]string // HTTP listeners of nodes started WithHTTP
	opts   []Option
	Timing broker.Timing

	starting sync.WaitGroup // node starts begun by the constructor
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
	c := &QuorumCluster{nodes: newNodes(t, voterCount+brokerCount), addrs: map[int32]string{}, inter: map[int32]string{},
		dirs: map[int32]string{}, opts: opts, Timing: FastTiming}
	var voters []string
	ports := freePorts(t, 2*(voterCount+brokerCount))
	for i := 0; i < voterCount+brokerCount; i++ {
		id := int32(i + 1)
		c.addrs[id], c.inter[id] = ports[2*i], ports[2*i+1]
		c.dirs[id] = t.TempDir()
		if i < voterCount {
			voters = append(voters, fmt.Sprintf("%d@%s", id, c.inter[id]))
		}
	}
	c.voters = strings.Join(voters, ",")
	c.startAll()
	c.Wait()
	t.Cleanup(c.crashAll)
	return c
}

// StartQuorumClusterNoWait is StartQuorumCluster returning at once while
// the nodes start (tests of what clients see while a cluster comes up):
// ListenerAddrs has their addresses from the start, Wait blocks until
// every node is up.
func StartQuorumClusterNoWait(t testing.TB, n int, opts ...Option) *QuorumCluster {
	t.Helper()
	c := &QuorumCluster{nodes: newNodes(t, n), addrs: map[int32]string{}, inter: map[int32]string{},
		dirs: map[int32]string{}, opts: opts, Timing: FastTiming}
	var voters []string
	ports := freePorts(t, 2*n)
	for i := 0; i < n; i++ {
		id := int32(i + 1)
		c.addrs[id], c.inter[id] = ports[2*i], ports[2*i+1]
		c.dirs[id] = t.TempDir()
		voters = append(voters, fmt.Sprintf("%d@%s", id, c.inter[id]))
	}
	c.voters = strings.Join(voters, ",")
	c.startAll()
	t.Cleanup(func() {
		c.Wait()
		c.crashAll()
	})
	return c
}

// startAll starts every node, each in its own goroutine (voters need each
// other to form the quorum); Wait joins them.
func (c *QuorumCluster) startAll() {
	for id := range c.addrs {
		c.starting.Add(1)
		go func() {
			defer c.starting.Done()
			c.Start(id)
		}()
	}
}

// Wait blocks until every node started by the cluster constructor is up
// (or failed to start, which fails the test).
func (c *QuorumCluster) Wait() { c.starting.Wait() }

// ListenerAddrs returns every node's client address by id order, running
// or not.
func (c *QuorumCluster) ListenerAddrs() []string {
	out := make([]string, 0, len(c.addrs))
	for id := int32(1); id <= int32(len(c.addrs)); id++ {
		out = append(out, c.addrs[id])
	}
	return out
}

// Start (re)starts node id on its address and data directory.
func (c *QuorumCluster) Start(id int32) *Broker {
	cfg := config.Broker{NodeID: id, Listener: c.addrs[id], InterBrokerListener: c.inter[id], DataDir: c.dirs[id],
		ControllerQuorumVoters: c.voters, DefaultReplicationFactor: 1}
	for _, o := range c.opts {
		o(&cfg)
	}
	if cfg.HTTPListener == httpAnyPort {
		cfg.HTTPListener = c.HTTPAddr(id)
	}
	b, err := broker.Start(cfg, Logger(c.t).With("node", id), broker.WithTiming(c.Timing))
	if err != nil {
		c.t.Errorf("start node %d: %v", id, err)
		return nil
	}
	br := &Broker{Broker: b, Config: cfg}
	c.add(id, br)
	return br
}

// HTTPAddr returns node id's HTTP listener address (with WithHTTP): a
// free loopback port reserved at the first call and kept for restarts, so
// it is known before the node has started.
func (c *QuorumCluster) HTTPAddr(id int32) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.http == nil {
		c.http = map[int32]string{}
	}
	if c.http[id] == "" {
		c.http[id] = freePorts(c.t, 1)[0]
	}
	return c.http[id]
}

// InterBrokerAddr returns node id's inter-broker listener address.
func (c *QuorumCluster) InterBrokerAddr(id int32) string { return c.inter[id] }

// Voters returns the cluster's controller.quorum.voters.
func (c *QuorumCluster) Voters() string { return c.voters }

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
