package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/ctrlchan"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/quorum"
)

// raftLog adapts the Raft quorum to the controller's Log, reporting "not
// the leader" as controller.ErrNotController.
type raftLog struct{ r *quorum.Raft }

func (l raftLog) Append(records ...[]byte) (int64, error) {
	off, err := l.r.Append(records...)
	if errors.Is(err, quorum.ErrNotLeader) || errors.Is(err, quorum.ErrLeadershipLost) {
		// Retriable for the caller: ask the (new) active controller. After
		// a lost leadership the records may still commit, as in Kafka.
		return off, fmt.Errorf("%w: %v", controller.ErrNotController, err)
	}
	return off, err
}
func (l raftLog) IsLeader() bool   { return l.r.IsLeader() }
func (l raftLog) LeaderID() uint64 { return l.r.LeaderID() }

// errNoController: no active controller is known yet (an election runs).
var errNoController = errors.New("no active controller known yet")

// remote sends requests to the node whose controller is active.
type remote struct {
	b  *Broker
	mu struct {
		sync.Mutex
		clients map[string]*kgo.Client
	}
}

func newRemote(b *Broker) *remote {
	r := &remote{b: b}
	r.mu.clients = map[string]*kgo.Client{}
	return r
}

// activeAddr returns the listener address of the active controller's node.
func (r *remote) activeAddr() (string, error) {
	id := r.b.controller.ActiveID(r.b.cfg.NodeID)
	if id < 0 {
		return "", errNoController
	}
	if addr, ok := r.b.voters[id]; ok {
		return addr, nil
	}
	if br, ok := r.b.controller.Image().Brokers[id]; ok && br.InterBrokerAddr() != "" {
		return br.InterBrokerAddr(), nil
	}
	return "", fmt.Errorf("no address for controller node %d", id)
}

// forward sends req to the active controller's node.
func (r *remote) forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	addr, err := r.activeAddr()
	if err != nil {
		return nil, err
	}
	cl, err := r.clientFor(addr)
	if err != nil {
		return nil, err
	}
	return cl.SeedBrokers()[0].Request(ctx, req)
}

// sendToNode sends req to the inter-broker listener of broker node (this
// node included: the request then loops back through its own listener).
func (r *remote) sendToNode(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error) {
	br, ok := r.b.controller.Image().Brokers[node]
	if !ok || br.InterBrokerAddr() == "" {
		return nil, fmt.Errorf("no inter-broker address for node %d", node)
	}
	cl, err := r.clientFor(br.InterBrokerAddr())
	if err != nil {
		return nil, err
	}
	return cl.SeedBrokers()[0].Request(ctx, req)
}

// clientFor returns the (cached) client whose only seed is addr, a peer's
// inter-broker listener.
func (r *remote) clientFor(addr string) (*kgo.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cl, ok := r.mu.clients[addr]
	if !ok {
		var err error
		cl, err = kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID(fmt.Sprintf("arus-broker-%d", r.b.cfg.NodeID)),
			kgo.Dialer(r.b.dialPeer))
		if err != nil {
			return nil, err
		}
		r.mu.clients[addr] = cl
	}
	return cl, nil
}

func (r *remote) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for addr, cl := range r.mu.clients {
		cl.Close()
		delete(r.mu.clients, addr)
	}
}

// register registers this broker with the active controller through
// the controller channel; it retries until the quorum has a leader
// (bounded by registrationTimeout).
func (b *Broker) register() error {
	rec := metadata.RegisterBrokerRecord{BrokerID: b.cfg.NodeID, Host: b.advertised.host, Port: b.advertised.port, Rack: b.cfg.Rack,
		InterBrokerHost: b.interAdvertised.host, InterBrokerPort: b.interAdvertised.port,
		MaxPartitions: b.maxPartitions, Listeners: b.registeredListeners()}
	deadline := time.Now().Add(registrationTimeout)
	backoff := 20 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := b.ctrl.RegisterBroker(ctx, rec)
		cancel()
		if err == nil {
			return nil
		}
		if lerr := b.refusedLogin(); lerr != nil {
			return lerr
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("register with the metadata quorum (voters %v): %w", b.voters, err)
		}
		b.logger.Debug("registration not done yet", "err", err)
		select {
		case <-time.After(backoff):
		case <-b.stop:
			return errors.New("stopped while registering")
		}
		backoff = min(2*backoff, time.Second)
	}
}

// registrationTimeout bounds how long a starting node waits for the quorum.
const registrationTimeout = 2 * time.Minute

// sendHeartbeat tells the active controller this broker is alive (or,
// with shutdown, that it is leaving and should be fenced now).
func (b *Broker) sendHeartbeat(shutdown bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := b.ctrl.Heartbeat(ctx, b.cfg.NodeID, b.controller.Image().Offset, shutdown)
	if err == nil && !shutdown {
		b.heartbeatAcked.Store(time.Now().UnixNano())
	}
	return err
}

// alterPartition proposes an ISR to the active controller.
func (b *Broker) alterPartition(topic string, index, leaderEpoch, partitionEpoch int32, isr []int32) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return b.ctrl.AlterPartition(ctx, b.cfg.NodeID, ctrlchan.ISRChange{
		Topic: topic, Index: index, LeaderEpoch: leaderEpoch, PartitionEpoch: partitionEpoch, ISR: isr,
	})
}

// connListener is a net.Listener fed with connections the Kafka server
// handed over (Raft's, recognised by their preface).
type connListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnListener() *connListener {
	return &connListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *connListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }
