// Package ctrlchan is a node's one way to the active controller of the
// metadata quorum: the proposals a broker makes for itself (registration,
// heartbeats, ISR changes, topics its coordinators need, producer-id
// blocks) and the client admin requests it relays (Kafka's forwarding,
// KIP-590, without the envelope).
//
// A broker chooses one implementation once, at start:
//
//   - Local, on a voter (combined node): its own controller may be the
//     active one. While it is, a proposal runs on it; when it is not, or
//     it answers controller.ErrNotController (leadership was just lost),
//     the proposal goes to the active controller's node as a request, as
//     on Remote. Registration alone always tries the local controller
//     first: a restarting voter whose registration is unchanged in its own
//     image needs no round trip (and no elected leader) to start.
//   - Remote, on a broker-only node (an observer): every proposal is a
//     request to the active controller's node over the inter-broker
//     listener.
//
// Callers never branch on ErrNotController to forward themselves. Errors:
// controller errors of a local proposal as they are; a remote answer's
// Kafka code as its kerr error, except NOT_CONTROLLER as
// controller.ErrNotController and TOPIC_ALREADY_EXISTS as
// controller.ErrTopicExists; ErrUnavailable (which wraps
// controller.ErrNotController, so it is retriable the same way) when no
// active controller could be reached.
//
// Both implementations are safe for concurrent use and hold no goroutines:
// the Sender owns connections.
package ctrlchan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/metadata"
)

// ErrUnavailable is returned by a forwarded proposal when no active
// controller is known or its node could not be reached (an election runs,
// the node is down). It wraps controller.ErrNotController.
var ErrUnavailable = fmt.Errorf("ctrlchan: active controller unavailable: %w", controller.ErrNotController)

// Channel reaches the active controller. Methods block until the proposal
// committed (or failed), at most until ctx ends.
type Channel interface {
	// ServesLocally reports whether this node's controller is the active
	// one now, so a request that changes metadata is served here rather
	// than forwarded (Remote: never). The answer may be stale at once;
	// a local proposal then fails with controller.ErrNotController, which
	// handlers map to NOT_CONTROLLER and clients retry.
	ServesLocally() bool
	// Forward sends a whole request to the active controller's node and
	// returns its answer.
	Forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error)

	// RegisterBroker registers (or re-registers) a broker; on a new
	// cluster the local controller also gives it its id.
	RegisterBroker(ctx context.Context, rec metadata.RegisterBrokerRecord) error
	// Heartbeat tells the active controller broker id is alive with its
	// metadata applied up to metadataOffset; shutdown asks instead to be
	// fenced now (controlled shutdown).
	Heartbeat(ctx context.Context, id int32, metadataOffset int64, shutdown bool) error
	// AlterPartition proposes a new ISR for a partition broker leads.
	AlterPartition(ctx context.Context, broker int32, c ISRChange) error
	// CreateTopics creates topics and returns one error per spec, in order.
	CreateTopics(ctx context.Context, specs []controller.TopicSpec) []error
	// AllocateProducerIDs takes a block of producer ids for broker:
	// the first id and how many.
	AllocateProducerIDs(ctx context.Context, broker int32) (start, count int64, err error)
}

// ISRChange is an AlterPartition proposal.
type ISRChange struct {
	Topic                       string
	Index                       int32
	LeaderEpoch, PartitionEpoch int32
	ISR                         []int32
}

// ProducerIDBlockSize is how many producer ids one AllocateProducerIDs
// hands out (Kafka's ProducerIdManager block size).
const ProducerIDBlockSize = 1000

// Sender sends a request to the active controller's node and returns its
// answer; an error when none is known or the request failed in transit.
type Sender func(ctx context.Context, req kmsg.Request) (kmsg.Response, error)

// Remote forwards everything to the active controller (broker-only nodes).
type Remote struct {
	send Sender
	// image is this node's newest metadata image: the cluster id for
	// registration and topic ids for AlterPartition.
	image func() *metadata.Image
}

// NewRemote returns the channel of a node without a controller of its
// own. image gives the node's current metadata image.
func NewRemote(send Sender, image func() *metadata.Image) *Remote {
	return &Remote{send: send, image: image}
}

// ServesLocally implements Channel: never.
func (r *Remote) ServesLocally() bool { return false }

// Forward implements Channel.
func (r *Remote) Forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if r.send == nil {
		return nil, ErrUnavailable
	}
	return r.send(ctx, req)
}

// request is Forward with transport errors marked ErrUnavailable.
func (r *Remote) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	resp, err := r.Forward(ctx, req)
	if err != nil && !errors.Is(err, ErrUnavailable) {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return resp, err
}

// codeError is the error of a Kafka code in an answer of the active
// controller.
func codeError(code int16) error {
	switch code {
	case 0:
		return nil
	case kerr.NotController.Code:
		return fmt.Errorf("%w (the active controller moved)", controller.ErrNotController)
	case kerr.TopicAlreadyExists.Code:
		return controller.ErrTopicExists
	}
	return kerr.ErrorForCode(code)
}

// RegisterBroker implements Channel with BrokerRegistration.
func (r *Remote) RegisterBroker(ctx context.Context, rec metadata.RegisterBrokerRecord) error {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID = rec.BrokerID
	for _, rl := range rec.Listeners {
		l := kmsg.NewBrokerRegistrationRequestListener()
		l.Name, l.Host, l.Port = rl.Name, rl.Host, uint16(rl.Port)
		l.SecurityProtocol = securityProtocolCode(rl.SecurityProtocol)
		req.Listeners = append(req.Listeners, l)
	}
	ib := kmsg.NewBrokerRegistrationRequestListener()
	ib.Name, ib.Host, ib.Port = InterBrokerListenerName, rec.InterBrokerHost, uint16(rec.InterBrokerPort)
	req.Listeners = append(req.Listeners, ib)
	req.ClusterID = r.image().ClusterID
	if rec.Rack != "" {
		req.Rack = &rec.Rack
	}
	if rec.MaxPartitions > 0 {
		SetRegistrationMaxPartitions(req, rec.MaxPartitions)
	}
	resp, err := r.request(ctx, req)
	if err != nil {
		return err
	}
	return codeError(resp.(*kmsg.BrokerRegistrationResponse).ErrorCode)
}

// Heartbeat implements Channel with BrokerHeartbeat.
func (r *Remote) Heartbeat(ctx context.Context, id int32, metadataOffset int64, shutdown bool) error {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID = id
	req.CurrentMetadataOffset = metadataOffset
	req.WantShutdown = shutdown
	resp, err := r.request(ctx, req)
	if err != nil {
		return err
	}
	return codeError(resp.(*kmsg.BrokerHeartbeatResponse).ErrorCode)
}

// AlterPartition implements Channel with AlterPartition (v2: by topic id).
func (r *Remote) AlterPartition(ctx context.Context, broker int32, c ISRChange) error {
	t, ok := r.image().Topics[c.Topic]
	if !ok {
		return fmt.Errorf("topic %q is gone", c.Topic)
	}
	req := kmsg.NewPtrAlterPartitionRequest()
	req.BrokerID = broker
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.TopicID = t.ID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = c.Index, c.LeaderEpoch, c.PartitionEpoch, c.ISR
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := r.request(ctx, req)
	if err != nil {
		return err
	}
	ar := resp.(*kmsg.AlterPartitionResponse)
	if err := codeError(ar.ErrorCode); err != nil {
		return err
	}
	for _, t := range ar.Topics {
		for _, p := range t.Partitions {
			if err := codeError(p.ErrorCode); err != nil {
				return err
			}
		}
	}
	return nil
}

// defaultCreateTimeout is CreateTopics' TimeoutMillis when ctx has no
// deadline.
const defaultCreateTimeout = 30 * time.Second

// CreateTopics implements Channel with CreateTopics. A topic the answer
// does not mention fails with controller.ErrNotController (try again).
func (r *Remote) CreateTopics(ctx context.Context, specs []controller.TopicSpec) []error {
	errs := make([]error, len(specs))
	req := kmsg.NewPtrCreateTopicsRequest()
	timeout := defaultCreateTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(deadline), time.Millisecond)
	}
	req.TimeoutMillis = int32(timeout / time.Millisecond)
	for _, s := range specs {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = s.Name, s.NumPartitions, s.ReplicationFactor
		if len(s.Assignment) > 0 {
			// Kafka refuses counts beside an explicit assignment.
			rt.NumPartitions, rt.ReplicationFactor = -1, -1
		}
		for i, replicas := range s.Assignment {
			a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			a.Partition, a.Replicas = int32(i), replicas
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
		}
		for name, value := range s.Configs {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = name, value
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := r.request(ctx, req)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	byName := map[string]error{}
	answered := map[string]bool{}
	for _, rt := range resp.(*kmsg.CreateTopicsResponse).Topics {
		byName[rt.Topic] = codeError(rt.ErrorCode)
		answered[rt.Topic] = true
	}
	for i, s := range specs {
		if !answered[s.Name] {
			errs[i] = fmt.Errorf("%w: topic %q not answered", controller.ErrNotController, s.Name)
			continue
		}
		errs[i] = byName[s.Name]
	}
	return errs
}

// AllocateProducerIDs implements Channel with AllocateProducerIds.
func (r *Remote) AllocateProducerIDs(ctx context.Context, broker int32) (int64, int64, error) {
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.BrokerID = broker
	resp, err := r.request(ctx, req)
	if err != nil {
		return 0, 0, err
	}
	ar := resp.(*kmsg.AllocateProducerIDsResponse)
	if err := codeError(ar.ErrorCode); err != nil {
		return 0, 0, err
	}
	return ar.ProducerIDStart, int64(ar.ProducerIDLen), nil
}

// Local proposes on this node's controller and forwards what it refuses
// with controller.ErrNotController (voters).
type Local struct {
	ctrl   *controller.Controller
	remote *Remote
	now    func() time.Time
}

// NewLocal returns the channel of a voter: proposals run on ctrl, and
// go to the active controller through send when ctrl is not active.
// A nil send never forwards (ctrl is always active: a one-node log, or a
// controller shared by in-process test brokers). now is the heartbeat
// clock (nil: time.Now).
func NewLocal(ctrl *controller.Controller, send Sender, now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	return &Local{ctrl: ctrl, remote: NewRemote(send, ctrl.Image), now: now}
}

// ServesLocally implements Channel.
func (l *Local) ServesLocally() bool { return l.remote.send == nil || l.ctrl.IsActive() }

// Forward implements Channel.
func (l *Local) Forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	return l.remote.Forward(ctx, req)
}

// forwards reports whether a local proposal that failed with err goes to
// the active controller instead.
func (l *Local) forwards(err error) bool {
	return l.remote.send != nil && errors.Is(err, controller.ErrNotController)
}

// errForward stands for a proposal not tried here: the local controller
// is not the active one.
var errForward = fmt.Errorf("ctrlchan: not tried locally: %w", controller.ErrNotController)

// RegisterBroker implements Channel.
func (l *Local) RegisterBroker(ctx context.Context, rec metadata.RegisterBrokerRecord) error {
	if err := l.ctrl.Bootstrap(rec); !l.forwards(err) {
		return err
	}
	return l.remote.RegisterBroker(ctx, rec)
}

// Heartbeat implements Channel.
func (l *Local) Heartbeat(ctx context.Context, id int32, metadataOffset int64, shutdown bool) error {
	// Only the active controller's image tells whether a fence is
	// needed: a stale one here may already show the broker fenced.
	err := errForward
	switch {
	case !l.ServesLocally():
	case shutdown:
		err = l.ctrl.FenceBroker(id)
	default:
		err = l.ctrl.HeartbeatAt(id, l.now(), metadataOffset)
	}
	if !l.forwards(err) {
		return err
	}
	return l.remote.Heartbeat(ctx, id, metadataOffset, shutdown)
}

// AlterPartition implements Channel.
func (l *Local) AlterPartition(ctx context.Context, broker int32, c ISRChange) error {
	err := errForward
	if l.ServesLocally() {
		_, err = l.ctrl.AlterPartition(c.Topic, c.Index, broker, c.LeaderEpoch, c.PartitionEpoch, c.ISR)
	}
	if !l.forwards(err) {
		return err
	}
	return l.remote.AlterPartition(ctx, broker, c)
}

// CreateTopics implements Channel. When the local controller refuses
// any topic as not active, the whole set goes to the active controller
// (it refused all of them: one proposal).
func (l *Local) CreateTopics(ctx context.Context, specs []controller.TopicSpec) []error {
	if !l.ServesLocally() {
		return l.remote.CreateTopics(ctx, specs)
	}
	errs := make([]error, len(specs))
	byName := map[string]error{}
	forward := false
	for _, res := range l.ctrl.CreateTopics(specs, false) {
		byName[res.Name] = res.Err
		forward = forward || l.forwards(res.Err)
	}
	if forward {
		return l.remote.CreateTopics(ctx, specs)
	}
	for i, s := range specs {
		errs[i] = byName[s.Name]
	}
	return errs
}

// AllocateProducerIDs implements Channel.
func (l *Local) AllocateProducerIDs(ctx context.Context, broker int32) (int64, int64, error) {
	if !l.ServesLocally() {
		return l.remote.AllocateProducerIDs(ctx, broker)
	}
	start, err := l.ctrl.AllocateProducerIDs(broker, ProducerIDBlockSize)
	if !l.forwards(err) {
		return start, ProducerIDBlockSize, err
	}
	return l.remote.AllocateProducerIDs(ctx, broker)
}
