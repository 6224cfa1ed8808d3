package api

// Requests between brokers and the active controller, as KRaft has them:
// BrokerRegistration (62, v0-v4), BrokerHeartbeat (63, v0-v2),
// AlterPartition (56, v2: partitions by topic id, NewISR) and
// AllocateProducerIds (67, v0). A broker sends them to the node whose
// controller leads the metadata quorum; any other node answers
// NOT_CONTROLLER and the sender looks for the new leader.
//
// Admin requests from clients that change metadata (CreateTopics,
// DeleteTopics, ...) may reach any broker: a broker whose controller is not
// active forwards them to the active one and relays its answer (Kafka's
// forwarding, KIP-590, without the envelope).

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/ctrlchan"
	"github.com/arus-io/arus/internal/metadata"
)

// InterBrokerListenerName is the listener name under which a broker
// registers its inter-broker listener.
const InterBrokerListenerName = ctrlchan.InterBrokerListenerName

// SetRegistrationMaxPartitions puts a broker's partition limit into its
// registration request (arus's tagged field, see ctrlchan).
func SetRegistrationMaxPartitions(req *kmsg.BrokerRegistrationRequest, limit int32) {
	ctrlchan.SetRegistrationMaxPartitions(req, limit)
}

// registrationMaxPartitions reads the limit; 0 when absent or malformed.
func registrationMaxPartitions(req *kmsg.BrokerRegistrationRequest) int32 {
	return ctrlchan.RegistrationMaxPartitions(req)
}

// forwarded lists the client requests that run on the active controller.
// AlterConfigs (33) and IncrementalAlterConfigs (44) forward themselves,
// after the checks Kafka makes on the receiving broker.
var forwarded = map[int16]bool{19: true, 20: true, 30: true, 31: true, 37: true, 43: true, 45: true, 49: true, 51: true, 57: true}

// forwardTimeout bounds a request forwarded to the active controller.
const forwardTimeout = 30 * time.Second

// maybeForward relays req to the active controller when this node's is
// not; ok is false when the request should be served here.
func (h *Handlers) maybeForward(ctx context.Context, req *Request) (Outcome, bool) {
	if !forwarded[req.Body.Key()] || h.deps.Channel == nil || h.deps.Channel.ServesLocally() {
		return Outcome{}, false
	}
	if req.Listener != ListenerInterBroker || req.forwardedFor {
		markForwarded(req)
	}
	fctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	resp, err := h.deps.Channel.Forward(fctx, req.Body)
	if err != nil {
		h.deps.Logger.Warn("forwarding to the active controller failed; closing the connection so the client retries",
			"api_key", req.Body.Key(), "err", err)
		return Outcome{Close: true}, true
	}
	resp.SetVersion(req.Version)
	if cr, ok := resp.(*kmsg.CreateTopicsResponse); ok {
		h.awaitCreated(ctx, req.Body.(*kmsg.CreateTopicsRequest), cr)
	}
	return respond(resp), true
}

// maxCreateVisibleWait bounds how long a forwarded CreateTopics waits for
// its topics to reach this node's metadata.
const maxCreateVisibleWait = 5 * time.Second

// awaitCreated waits, after the active controller created topics for a
// request forwarded from here, until this node's image has them (bounded
// by the request's timeout and maxCreateVisibleWait), so a client that
// asks this node for Metadata right after CreateTopics finds the
// partitions and their leaders. On the active controller's own node the
// image already has them when CreateTopics returns.
func (h *Handlers) awaitCreated(ctx context.Context, r *kmsg.CreateTopicsRequest, resp *kmsg.CreateTopicsResponse) {
	if r.ValidateOnly {
		return
	}
	var names []string
	for _, t := range resp.Topics {
		if t.ErrorCode == 0 {
			names = append(names, t.Topic)
		}
	}
	if len(names) == 0 {
		return
	}
	if h.deps.MetadataChanged != nil {
		h.deps.MetadataChanged()
	}
	wait := min(time.Duration(r.TimeoutMillis)*time.Millisecond, maxCreateVisibleWait)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	h.images.wait(wctx, func(im *metadata.Image) bool {
		for _, name := range names {
			if _, ok := im.Topics[name]; !ok {
				return false
			}
		}
		return true
	})
}

func (h *Handlers) brokerRegistration(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.BrokerRegistrationRequest)
	resp := r.ResponseKind().(*kmsg.BrokerRegistrationResponse)
	if h.clusterIDMismatch(&r.ClusterID) {
		// Kafka's ClusterControlManager.registerBroker: "Expected cluster
		// ID ..., but got cluster ID ...".
		resp.ErrorCode = kerr.InconsistentClusterID.Code
		return respond(resp)
	}
	rec := metadata.RegisterBrokerRecord{BrokerID: r.BrokerID}
	for _, l := range r.Listeners {
		// The client listener is the one named like the connection's
		// security protocol; arus names its listeners PLAINTEXT (clients)
		// and BROKER (inter-broker) when it registers.
		switch l.Name {
		case InterBrokerListenerName:
			rec.InterBrokerHost, rec.InterBrokerPort = l.Host, int32(l.Port)
		default:
			if rec.Port == 0 {
				rec.Host, rec.Port = l.Host, int32(l.Port)
			}
			rec.Listeners = append(rec.Listeners, metadata.BrokerListener{Name: l.Name, Host: l.Host, Port: int32(l.Port),
				SecurityProtocol: securityProtocolName(l.SecurityProtocol)})
		}
	}
	if r.Rack != nil {
		rec.Rack = *r.Rack
	}
	rec.MaxPartitions = registrationMaxPartitions(r)
	resp.ErrorCode = h.controllerCode(h.deps.Controller.Bootstrap(rec))
	resp.BrokerEpoch = h.deps.Controller.Image().Offset
	return respond(resp)
}

func (h *Handlers) brokerHeartbeat(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.BrokerHeartbeatRequest)
	resp := r.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
	var err error
	if r.WantShutdown {
		err = h.deps.Controller.FenceBroker(r.BrokerID)
	} else {
		err = h.deps.Controller.HeartbeatAt(r.BrokerID, h.deps.Now(), r.CurrentMetadataOffset)
	}
	resp.ErrorCode = h.controllerCode(err)
	im := h.deps.Controller.Image()
	resp.IsCaughtUp = r.CurrentMetadataOffset >= im.Offset
	resp.IsFenced = im.Brokers[r.BrokerID].Fenced
	return respond(resp)
}

func (h *Handlers) alterPartition(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.AlterPartitionRequest)
	resp := r.ResponseKind().(*kmsg.AlterPartitionResponse)
	if !h.deps.Controller.IsActive() {
		resp.ErrorCode = kerr.NotController.Code
		return respond(resp)
	}
	im := h.deps.Controller.Image()
	for _, t := range r.Topics {
		rt := kmsg.NewAlterPartitionResponseTopic()
		rt.TopidID = t.TopicID // sic: kmsg spells it TopidID
		name := im.TopicIDs[t.TopicID]
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionResponseTopicPartition()
			rp.Partition = p.Partition
			if name == "" {
				rp.ErrorCode = kerr.UnknownTopicID.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			part, err := h.deps.Controller.AlterPartition(name, p.Partition, r.BrokerID, p.LeaderEpoch, p.PartitionEpoch, p.NewISR)
			rp.ErrorCode = h.controllerCode(err)
			rp.LeaderID, rp.LeaderEpoch, rp.ISR, rp.PartitionEpoch = part.Leader, part.LeaderEpoch, part.ISR, part.PartitionEpoch
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}

func (h *Handlers) allocateProducerIDs(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.AllocateProducerIDsRequest)
	resp := r.ResponseKind().(*kmsg.AllocateProducerIDsResponse)
	start, err := h.deps.Controller.AllocateProducerIDs(r.BrokerID, ctrlchan.ProducerIDBlockSize)
	resp.ErrorCode = h.controllerCode(err)
	if err == nil {
		resp.ProducerIDStart, resp.ProducerIDLen = start, ctrlchan.ProducerIDBlockSize
	}
	return respond(resp)
}

// controllerCode maps controller errors of inter-broker requests.
func (h *Handlers) controllerCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, controller.ErrNotController):
		return kerr.NotController.Code
	case errors.Is(err, controller.ErrStaleEpoch):
		return kerr.InvalidUpdateVersion.Code
	case errors.Is(err, controller.ErrNotLeaderOfPartition):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, controller.ErrInvalidISR):
		return kerr.IneligibleReplica.Code
	case errors.Is(err, controller.ErrUnknownBroker):
		return kerr.BrokerIDNotRegistered.Code
	}
	return errorCode(h.deps.Logger, err)
}

// securityProtocolName names Kafka's SecurityProtocol ids.
func securityProtocolName(id int16) string {
	switch id {
	case 1:
		return "SSL"
	case 2:
		return "SASL_PLAINTEXT"
	case 3:
		return "SASL_SSL"
	}
	return "PLAINTEXT"
}
