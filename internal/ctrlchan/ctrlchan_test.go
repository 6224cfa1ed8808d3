package ctrlchan_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/ctrlchan"
	"github.com/arus-io/arus/internal/metadata"
)

// quorum is a replicated metadata log shared by the controllers of a few
// voters, with a leader the test moves: only the leader's controller
// appends, every record is applied on all of them, as Raft would.
type quorum struct {
	mu     sync.Mutex
	next   int64
	ctrls  map[int32]*controller.Controller
	leader atomic.Int32 // 0: no leader (an election runs)
	// handlers serve each voter's inter-broker requests (the real api
	// handlers, so forwarded requests are answered as in a broker).
	handlers map[int32]*api.Handlers
	// sent counts the requests each node sent to the active controller.
	sent map[int32]*atomic.Int32
}

// nodeLog is voter id's view of the log.
type nodeLog struct {
	q  *quorum
	id int32
}

func (l nodeLog) Append(records ...[]byte) (int64, error) {
	if l.q.leader.Load() != l.id {
		return 0, controller.ErrNotController
	}
	l.q.mu.Lock()
	defer l.q.mu.Unlock()
	first := l.q.next
	l.q.next += int64(len(records))
	for _, c := range l.q.ctrls {
		c.ApplyBatch(first, records)
	}
	return first, nil
}

func (l nodeLog) IsLeader() bool { return l.q.leader.Load() == l.id }

func (l nodeLog) LeaderID() uint64 { return uint64(max(l.q.leader.Load(), 0)) }

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newQuorum(t *testing.T, voters ...int32) *quorum {
	t.Helper()
	q := &quorum{ctrls: map[int32]*controller.Controller{}, handlers: map[int32]*api.Handlers{}, sent: map[int32]*atomic.Int32{}}
	for _, id := range voters {
		c := controller.NewStateMachine(controller.Defaults{NumPartitions: 1, DefaultReplicationFactor: 1}, discard())
		c.SetLog(nodeLog{q, id})
		q.ctrls[id] = c
		cfg := config.Broker{NodeID: id, Listener: "127.0.0.1:0", DataDir: t.TempDir()}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		h := api.New(api.Deps{Broker: &cfg, Controller: c, Logger: discard()}, func() (string, int32) { return "127.0.0.1", 9092 })
		t.Cleanup(h.Close)
		q.handlers[id] = h
	}
	for _, id := range []int32{1, 2, 3, 4} {
		q.sent[id] = new(atomic.Int32)
	}
	q.leader.Store(voters[0])
	return q
}

// sender is node from's way to the active controller's node: the request
// and its answer go through their wire encoding, and the leader's
// handlers serve it as on the inter-broker listener.
func (q *quorum) sender(from int32) ctrlchan.Sender {
	return func(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
		q.sent[from].Add(1)
		leader := q.leader.Load()
		if leader == 0 {
			return nil, errors.New("no active controller known yet")
		}
		return q.serve(ctx, leader, from, req)
	}
}

// serve has node at answer req sent by node from.
func (q *quorum) serve(ctx context.Context, at, from int32, req kmsg.Request) (kmsg.Response, error) {
	// The newest version both sides know, as kgo negotiates it.
	_, served, ok := api.VersionRange(req.Key())
	if !ok {
		return nil, fmt.Errorf("%T: not served", req)
	}
	req.SetVersion(min(served, req.MaxVersion()))
	decoded := kmsg.RequestForKey(req.Key())
	decoded.SetVersion(req.GetVersion())
	if err := decoded.ReadFrom(req.AppendTo(nil)); err != nil {
		return nil, fmt.Errorf("decode %T: %w", req, err)
	}
	out := q.handlers[at].Serve(ctx, &api.Request{Version: decoded.GetVersion(), Body: decoded,
		Listener: api.ListenerInterBroker, Peer: api.Peer{NodeID: from}})
	if out.Response == nil {
		return nil, fmt.Errorf("%T: no answer (connection closed)", req)
	}
	resp := decoded.ResponseKind()
	resp.SetVersion(decoded.GetVersion())
	if err := resp.ReadFrom(out.Response.AppendTo(nil)); err != nil {
		return nil, fmt.Errorf("decode %T: %w", resp, err)
	}
	return resp, nil
}

func register(t *testing.T, ch ctrlchan.Channel, id int32) {
	t.Helper()
	rec := metadata.RegisterBrokerRecord{BrokerID: id, Host: "127.0.0.1", Port: 9000 + id,
		InterBrokerHost: "127.0.0.1", InterBrokerPort: 9100 + id, MaxPartitions: 500,
		Listeners: []metadata.BrokerListener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9000 + id, SecurityProtocol: "PLAINTEXT"}}}
	if err := ch.RegisterBroker(context.Background(), rec); err != nil {
		t.Fatalf("register broker %d: %v", id, err)
	}
}

// TestLocalProposesHereWhileActive: a voter whose controller is active
// commits every proposal itself and sends nothing.
func TestLocalProposesHereWhileActive(t *testing.T) {
	q := newQuorum(t, 1, 2)
	ctx := context.Background()
	ch := ctrlchan.NewLocal(q.ctrls[1], q.sender(1), nil)
	if !ch.ServesLocally() {
		t.Fatal("the active controller's channel does not serve locally")
	}
	register(t, ch, 1)
	if err := ch.Heartbeat(ctx, 1, q.ctrls[1].Image().Offset, false); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if errs := ch.CreateTopics(ctx, []controller.TopicSpec{{Name: "a", NumPartitions: 2, ReplicationFactor: 1}}); errs[0] != nil {
		t.Fatalf("create: %v", errs[0])
	}
	if errs := ch.CreateTopics(ctx, []controller.TopicSpec{{Name: "a", NumPartitions: 2, ReplicationFactor: 1}}); !errors.Is(errs[0], controller.ErrTopicExists) {
		t.Fatalf("create again: %v, want ErrTopicExists", errs[0])
	}
	start, n, err := ch.AllocateProducerIDs(ctx, 1)
	if err != nil || n != ctrlchan.ProducerIDBlockSize {
		t.Fatalf("producer ids: %d+%d, %v", start, n, err)
	}
	if got := q.sent[1].Load(); got != 0 {
		t.Fatalf("the active controller's node sent %d requests, want 0", got)
	}
	if _, ok := q.ctrls[2].Image().Topics["a"]; !ok {
		t.Fatal("the topic did not reach the other voter")
	}
}

// TestLocalForwardsWhenActiveMoves: when another voter becomes the active
// controller, the same channel forwards every proposal there (and stops
// again once leadership comes back); with no leader the proposal fails as
// ErrUnavailable, retriable like NOT_CONTROLLER.
func TestLocalForwardsWhenActiveMoves(t *testing.T) {
	q := newQuorum(t, 1, 2)
	ctx := context.Background()
	ch := ctrlchan.NewLocal(q.ctrls[1], q.sender(1), nil)
	register(t, ch, 1)
	register(t, ctrlchan.NewLocal(q.ctrls[2], q.sender(2), nil), 2)
	if got, other := q.sent[1].Load(), q.sent[2].Load(); got != 0 || other != 1 {
		t.Fatalf("while node 1 led, it sent %d requests (want 0) and node 2 %d (its registration, want 1)", got, other)
	}

	q.leader.Store(2)
	if ch.ServesLocally() {
		t.Fatal("node 1 still serves locally after the active controller moved")
	}
	if errs := ch.CreateTopics(ctx, []controller.TopicSpec{{Name: "moved", NumPartitions: 3, ReplicationFactor: 2}}); errs[0] != nil {
		t.Fatalf("create after the move: %v", errs[0])
	}
	if errs := ch.CreateTopics(ctx, []controller.TopicSpec{{Name: "moved", NumPartitions: 3, ReplicationFactor: 2}}); !errors.Is(errs[0], controller.ErrTopicExists) {
		t.Fatalf("forwarded create of an existing topic: %v, want ErrTopicExists", errs[0])
	}
	if err := ch.Heartbeat(ctx, 1, q.ctrls[1].Image().Offset, false); err != nil {
		t.Fatalf("forwarded heartbeat: %v", err)
	}
	start, n, err := ch.AllocateProducerIDs(ctx, 1)
	if err != nil || n != ctrlchan.ProducerIDBlockSize {
		t.Fatalf("forwarded producer ids: %d+%d, %v", start, n, err)
	}
	// The ISR of a partition node 1 leads, shrunk to the leader alone.
	im := q.ctrls[1].Image()
	var part metadata.Partition
	for _, p := range im.Topics["moved"].Partitions {
		if p.Leader == 1 {
			part = p
			break
		}
	}
	if part.Leader != 1 {
		t.Fatalf("node 1 leads no partition of %v", im.Topics["moved"].Partitions)
	}
	change := ctrlchan.ISRChange{Topic: "moved", Index: part.Index, LeaderEpoch: part.LeaderEpoch, PartitionEpoch: part.PartitionEpoch, ISR: []int32{1}}
	if err := ch.AlterPartition(ctx, 1, change); err != nil {
		t.Fatalf("forwarded AlterPartition: %v", err)
	}
	if isr := q.ctrls[2].Image().Topics["moved"].Partitions[part.Index].ISR; len(isr) != 1 || isr[0] != 1 {
		t.Fatalf("ISR after the forwarded change: %v", isr)
	}
	// The same change again carries a stale partition epoch.
	if err := ch.AlterPartition(ctx, 1, change); !errors.Is(err, kerr.InvalidUpdateVersion) {
		t.Fatalf("stale AlterPartition: %v, want INVALID_UPDATE_VERSION", err)
	}
	forwarded := q.sent[1].Load()
	if forwarded != 6 {
		t.Fatalf("node 1 sent %d requests after the move, want 6", forwarded)
	}

	// No leader: retriable.
	q.leader.Store(0)
	if _, _, err := ch.AllocateProducerIDs(ctx, 1); !errors.Is(err, ctrlchan.ErrUnavailable) || !errors.Is(err, controller.ErrNotController) {
		t.Fatalf("without a leader: %v, want ErrUnavailable (a NOT_CONTROLLER)", err)
	}

	// Leadership back: local again.
	q.leader.Store(1)
	sent := q.sent[1].Load()
	if errs := ch.CreateTopics(ctx, []controller.TopicSpec{{Name: "back", NumPartitions: 1, ReplicationFactor: 1}}); errs[0] != nil {
		t.Fatalf("create once back: %v", errs[0])
	}
	if q.sent[1].Load() != sent {
		t.Fatal("node 1 forwarded although it is the active controller again")
	}
}

// TestRemoteAlwaysForwards: a broker-only node has no controller; every
// proposal is a request, and the answer's codes come back as the errors
// a local proposal returns.
func TestRemoteAlwaysForwards(t *testing.T) {
	q := newQuorum(t, 1)
	ctx := context.Background()
	register(t, ctrlchan.NewLocal(q.ctrls[1], q.sender(1), nil), 1)
	// The observer's image: it follows the voter's log.
	ch := ctrlchan.NewRemote(q.sender(3), q.ctrls[1].Image)
	if ch.ServesLocally() {
		t.Fatal("a remote channel serves locally")
	}
	register(t, ch, 3)
	b, ok := q.ctrls[1].Image().Brokers[3]
	if !ok || b.MaxPartitions != 500 || b.InterBrokerAddr() != "127.0.0.1:9103" || len(b.Listeners) != 1 {
		t.Fatalf("broker 3 registered as %+v", b)
	}
	if err := ch.Heartbeat(ctx, 3, q.ctrls[1].Image().Offset, false); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if errs := ch.CreateTopics(ctx, []controller.TopicSpec{{Name: "r", NumPartitions: 2, ReplicationFactor: 1,
		Assignment: [][]int32{{3}, {1}}}}); errs[0] != nil {
		t.Fatalf("create: %v", errs[0])
	}
	if got := q.ctrls[1].Image().Topics["r"].Partitions[0].Replicas; len(got) != 1 || got[0] != 3 {
		t.Fatalf("explicit assignment lost on the way: %v", got)
	}
	if _, n, err := ch.AllocateProducerIDs(ctx, 3); err != nil || n != ctrlchan.ProducerIDBlockSize {
		t.Fatalf("producer ids: %d, %v", n, err)
	}
	if err := ch.Heartbeat(ctx, 3, q.ctrls[1].Image().Offset, true); err != nil {
		t.Fatalf("controlled shutdown: %v", err)
	}
	if !q.ctrls[1].Image().Brokers[3].Fenced {
		t.Fatal("broker 3 not fenced after its controlled shutdown")
	}
	if got := q.sent[3].Load(); got != 5 {
		t.Fatalf("%d requests sent, want 5", got)
	}
	// An answer from a node that is no longer active: NOT_CONTROLLER.
	stale := ctrlchan.NewRemote(func(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
		q.leader.Store(2) // node 1 lost leadership just before answering
		defer q.leader.Store(1)
		return q.serve(ctx, 1, 3, req)
	}, q.ctrls[1].Image)
	if _, _, err := stale.AllocateProducerIDs(ctx, 3); !errors.Is(err, controller.ErrNotController) || errors.Is(err, ctrlchan.ErrUnavailable) {
		t.Fatalf("NOT_CONTROLLER answer: %v, want ErrNotController", err)
	}
}

// TestLocalWithoutSenderNeverForwards: a controller that is always active
// (a one-node log, an in-process test cluster's shared controller) needs
// no way to another node.
func TestLocalWithoutSenderNeverForwards(t *testing.T) {
	c, _ := controller.NewMemLog(controller.Defaults{NumPartitions: 1, DefaultReplicationFactor: 1}, discard())
	now := time.Unix(1_700_000_000, 0)
	ch := ctrlchan.NewLocal(c, nil, func() time.Time { return now })
	if !ch.ServesLocally() {
		t.Fatal("does not serve locally")
	}
	register(t, ch, 1)
	if err := ch.Heartbeat(context.Background(), 1, c.Image().Offset, false); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if _, err := ch.Forward(context.Background(), kmsg.NewPtrCreateTopicsRequest()); !errors.Is(err, ctrlchan.ErrUnavailable) {
		t.Fatalf("Forward without a sender: %v", err)
	}
}
