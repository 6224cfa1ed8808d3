package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/controller"
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

// register registers this broker with the active controller: directly
// when it is local, else with BrokerRegistration; it retries until the
// quorum has a leader (bounded by registrationTimeout).
func (b *Broker) register() error {
	rec := metadata.RegisterBrokerRecord{BrokerID: b.cfg.NodeID, Host: b.advertised.host, Port: b.advertised.port, Rack: b.cfg.Rack,
		InterBrokerHost: b.interAdvertised.host, InterBrokerPort: b.interAdvertised.port,
		MaxPartitions: b.maxPartitions, Listeners: b.registeredListeners()}
	deadline := time.Now().Add(registrationTimeout)
	backoff := 20 * time.Millisecond
	for {
		err := b.controller.Bootstrap(rec)
		if errors.Is(err, controller.ErrNotController) {
			err = b.registerRemote(rec)
		}
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

func (b *Broker) registerRemote(rec metadata.RegisterBrokerRecord) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID = rec.BrokerID
	for _, rl := range rec.Listeners {
		l := kmsg.NewBrokerRegistrationRequestListener()
		l.Name, l.Host, l.Port = rl.Name, rl.Host, uint16(rl.Port)
		l.SecurityProtocol = securityProtocolCode(rl.SecurityProtocol)
		req.Listeners = append(req.Listeners, l)
	}
	ib := kmsg.NewBrokerRegistrationRequestListener()
	ib.Name, ib.Host, ib.Port = api.InterBrokerListenerName, rec.InterBrokerHost, uint16(rec.InterBrokerPort)
	req.Listeners = append(req.Listeners, ib)
	req.ClusterID = b.controller.Image().ClusterID
	if rec.Rack != "" {
		req.Rack = &rec.Rack
	}
	if rec.MaxPartitions > 0 {
		api.SetRegistrationMaxPartitions(req, rec.MaxPartitions)
	}
	resp, err := b.remote.forward(ctx, req)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.(*kmsg.BrokerRegistrationResponse).ErrorCode)
}

// sendHeartbeat tells the active controller this broker is alive (or,
// with shutdown, that it is leaving and should be fenced now).
func (b *Broker) sendHeartbeat(shutdown bool) error {
	err := b.sendHeartbeatOnce(shutdown)
	if err == nil && !shutdown {
		b.heartbeatAcked.Store(time.Now().UnixNano())
	}
	return err
}

func (b *Broker) sendHeartbeatOnce(shutdown bool) error {
	if b.controller.IsActive() || b.remote == nil {
		if shutdown {
			return b.controller.FenceBroker(b.cfg.NodeID)
		}
		err := b.controller.Heartbeat(b.cfg.NodeID, time.Now())
		if !errors.Is(err, controller.ErrNotController) || b.opts.controller != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID = b.cfg.NodeID
	req.CurrentMetadataOffset = b.controller.Image().Offset
	req.WantShutdown = shutdown
	resp, err := b.remote.forward(ctx, req)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.(*kmsg.BrokerHeartbeatResponse).ErrorCode)
}

// alterPartition proposes an ISR to the active controller.
func (b *Broker) alterPartition(topic string, index, leaderEpoch, partitionEpoch int32, isr []int32) error {
	_, err := b.controller.AlterPartition(topic, index, b.cfg.NodeID, leaderEpoch, partitionEpoch, isr)
	if !errors.Is(err, controller.ErrNotController) || b.opts.controller != nil {
		return err
	}
	t, ok := b.controller.Image().Topics[topic]
	if !ok {
		return fmt.Errorf("topic %q is gone", topic)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrAlterPartitionRequest()
	req.BrokerID = b.cfg.NodeID
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.TopicID = t.ID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = index, leaderEpoch, partitionEpoch, isr
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := b.remote.forward(ctx, req)
	if err != nil {
		return err
	}
	ar := resp.(*kmsg.AlterPartitionResponse)
	if err := kerr.ErrorForCode(ar.ErrorCode); err != nil {
		return err
	}
	for _, t := range ar.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return err
			}
		}
	}
	return nil
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

// securityProtocolCode is Kafka's SecurityProtocol id of a protocol name.
func securityProtocolCode(name string) int16 {
	switch name {
	case "SSL":
		return 1
	case "SASL_PLAINTEXT":
		return 2
	case "SASL_SSL":
		return 3
	}
	return 0
}
