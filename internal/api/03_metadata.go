package api

// Metadata (key 3), versions 0-13.
//   v0: an empty topic list means all topics. v1: null means all topics,
//   rack, controller id, IsInternal. v2: cluster id. v3: throttle. v4:
//   AllowAutoTopicCreation (before v4 topics are always auto-created when the
//   broker allows it). v5: offline replicas. v7: leader epoch. v8-v10:
//   authorized operations (v11 drops the cluster-level one). v9: flexible.
//   v10: topic ids; topics may be asked for by id. v12: null topic name with
//   an id. v13: top-level ErrorCode.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/metadata"
)

func (h *Handlers) metadata(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.MetadataRequest)
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	im := h.deps.Metadata.Image()

	allowAuto := *h.deps.Broker.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)

	// Topics asked for that do not exist are created on the active
	// controller (Kafka's AutoTopicCreationManager) and answered
	// LEADER_NOT_AVAILABLE with no partitions while that runs, even when
	// the create is quick: as in Kafka's handleTopicMetadataRequest, the
	// client asks again for the partitions.
	var creating map[string]int16
	if !all && allowAuto {
		var missing, present []string
		for _, t := range r.Topics {
			// Internal topics are created by their coordinators, with
			// their own partition count and configs.
			if t.Topic == nil || config.IsInternalTopic(*t.Topic) || config.ValidTopicName(*t.Topic) != nil {
				continue
			}
			if _, ok := im.Topics[*t.Topic]; ok {
				if h.autoCreate.awaited.Load() > 0 {
					present = append(present, *t.Topic)
				}
			} else if h.mayAutoCreate(req, *t.Topic) {
				missing = append(missing, *t.Topic)
			}
		}
		h.autoCreate.arrived(present)
		if len(missing) > 0 {
			creating = h.autoCreate.request(im, missing)
		}
	}

	for _, id := range im.BrokerIDs() {
		if b := im.Brokers[id]; b.Fenced && id != h.deps.Broker.NodeID {
			// Kafka lists alive (unfenced) brokers only: a client that
			// cached a coordinator on a dead broker (franz-go's sharded
			// AddPartitionsToTxn) looks it up again once it is gone.
			continue
		}
		// Each broker's address on the listener this request came in
		// through; a broker without that listener is left out (Kafka).
		host, port, ok := h.brokerAddress(im, id, req.ListenerName)
		if !ok {
			continue
		}
		b := im.Brokers[id]
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = id, host, port
		if b.Rack != "" {
			rack := b.Rack
			mb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	listed := make(map[int32]bool, len(resp.Brokers))
	for _, b := range resp.Brokers {
		listed[b.NodeID] = true
	}
	clusterID := im.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = h.deps.Controller.ActiveID(h.deps.Broker.NodeID)

	if all {
		for _, name := range im.TopicNames() {
			// All topics: only those the principal may describe.
			if h.authorized(req, auth.OpDescribe, auth.ResourceTopic, name) {
				resp.Topics = append(resp.Topics, describeTopic(im, im.Topics[name], listed))
			}
		}
		return respond(h.metadataAuthorizedOperations(req, r, resp))
	}
	for _, t := range r.Topics {
		var topic *metadata.Topic
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic, mt.TopicID = t.Topic, t.TopicID
		switch {
		case t.Topic == nil:
			if name, ok := im.TopicIDs[t.TopicID]; ok {
				topic = im.Topics[name]
			} else {
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
		case !h.authorized(req, auth.OpDescribe, auth.ResourceTopic, *t.Topic):
			// Kafka hides whether the topic exists.
			mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
		default:
			if err := config.ValidTopicName(*t.Topic); err != nil {
				mt.ErrorCode = kerr.InvalidTopicException.Code
			} else if topic = im.Topics[*t.Topic]; topic == nil {
				mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if code, ok := creating[*t.Topic]; ok {
					mt.ErrorCode = code
				}
				mt.IsInternal = config.IsInternalTopic(*t.Topic)
			}
		}
		if topic != nil && t.Topic == nil && !h.authorized(req, auth.OpDescribe, auth.ResourceTopic, topic.Name) {
			mt.ErrorCode, topic = kerr.TopicAuthorizationFailed.Code, nil
		}
		if topic != nil {
			mt = describeTopic(im, topic, listed)
		} else if mt.ErrorCode == kerr.UnknownTopicOrPartition.Code && t.Topic != nil && allowAuto &&
			config.ValidTopicName(*t.Topic) == nil && !config.IsInternalTopic(*t.Topic) && !h.mayAutoCreate(req, *t.Topic) {
			// Kafka: a topic the principal may describe but not create.
			mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return respond(h.metadataAuthorizedOperations(req, r, resp))
}

// metadataAuthorizedOperations fills the authorized operations a v8+
// request asked for (KafkaApis.handleTopicMetadataRequest): per topic
// answered, and for the cluster (v8-v10) only when the principal may
// DESCRIBE it, else 0.
func (h *Handlers) metadataAuthorizedOperations(req *Request, r *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) *kmsg.MetadataResponse {
	if r.Version < 8 {
		return resp
	}
	if r.IncludeClusterAuthorizedOperations && r.Version <= 10 {
		resp.AuthorizedOperations = 0
		if h.authorizedCluster(req, auth.OpDescribe) {
			resp.AuthorizedOperations = h.authorizedOperations(req, auth.ResourceCluster, auth.ClusterName)
		}
	}
	if r.IncludeTopicAuthorizedOperations {
		for i := range resp.Topics {
			if t := &resp.Topics[i]; t.ErrorCode == 0 && t.Topic != nil {
				t.AuthorizedOperations = h.authorizedOperations(req, auth.ResourceTopic, *t.Topic)
			}
		}
	}
	return resp
}

// describeTopic describes t's partitions. listed holds the brokers the
// response lists; a partition whose leader is not among them (gone,
// fenced and about to lose its leadership, or without this listener) is
// LEADER_NOT_AVAILABLE with leader -1, as Kafka answers for a leader it has
// no live endpoint for. Naming a leader missing from the broker list makes
// clients fail the partition's records outright (franz-go: "unknown
// broker") instead of waiting for the new leader.
func describeTopic(im *metadata.Image, t *metadata.Topic, listed map[int32]bool) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = config.IsInternalTopic(t.Name)
	for _, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.Index
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = p.Replicas
		mp.ISR = p.ISR
		for _, r := range p.Replicas {
			if _, ok := im.Brokers[r]; !ok {
				mp.OfflineReplicas = append(mp.OfflineReplicas, r)
			}
		}
		if !listed[p.Leader] {
			mp.ErrorCode, mp.Leader = kerr.LeaderNotAvailable.Code, -1
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// mayAutoCreate reports whether the principal may have Metadata create
// topic: CREATE on the cluster or on the topic.
func (h *Handlers) mayAutoCreate(req *Request, topic string) bool {
	return h.authorizedCluster(req, auth.OpCreate) || h.authorized(req, auth.OpCreate, auth.ResourceTopic, topic)
}
