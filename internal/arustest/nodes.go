package arustest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// nodes are the running brokers of an in-process cluster, by node id
// 1..count; both cluster kinds embed it.
type nodes struct {
	t     testing.TB
	count int

	mu      sync.Mutex
	brokers map[int32]*Broker
}

func newNodes(t testing.TB, count int) nodes {
	return nodes{t: t, count: count, brokers: map[int32]*Broker{}}
}

func (n *nodes) add(id int32, b *Broker) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, running := n.brokers[id]; running {
		n.t.Fatalf("node %d is already running", id)
	}
	n.brokers[id] = b
}

// Crash stops node id without a controlled shutdown, as a dead process
// would look to the others.
func (n *nodes) Crash(id int32) {
	n.t.Helper()
	n.mu.Lock()
	b := n.brokers[id]
	delete(n.brokers, id)
	n.mu.Unlock()
	if b == nil {
		n.t.Fatalf("node %d is not running", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Crash(ctx); err != nil {
		n.t.Logf("crash node %d: %v", id, err)
	}
}

// crashAll stops every running node (test cleanup).
func (n *nodes) crashAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for id, b := range n.brokers {
		_ = b.Crash(ctx)
		delete(n.brokers, id)
	}
}

// Broker returns running node id, or nil.
func (n *nodes) Broker(id int32) *Broker {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.brokers[id]
}

// Addrs returns the client addresses of the running nodes, by id.
func (n *nodes) Addrs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for id := int32(1); id <= int32(n.count); id++ {
		if b, ok := n.brokers[id]; ok {
			out = append(out, b.Addr())
		}
	}
	return out
}
