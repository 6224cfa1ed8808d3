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
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/metadata"
)

func (h *Handlers) metadata(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.MetadataRequest)
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	im := h.deps.Controller.Image()

	allowAuto := *h.deps.Broker.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)

	if !all {
		// Auto-create first, so the response describes the new topics.
		var create []controller.TopicSpec
		for _, t := range r.Topics {
			if t.Topic == nil {
				continue
			}
			// Internal topics are created by their coordinators, with
			// their own partition count and configs.
			if _, ok := im.Topics[*t.Topic]; !ok && allowAuto && !config.IsInternalTopic(*t.Topic) && config.ValidTopicName(*t.Topic) == nil {
				create = append(create, controller.TopicSpec{Name: *t.Topic, NumPartitions: -1, ReplicationFactor: -1})
			}
		}
		if len(create) > 0 {
			for _, res := range h.deps.Controller.CreateTopics(create, false) {
				if res.Err != nil && !errors.Is(res.Err, controller.ErrTopicExists) {
					h.deps.Logger.Warn("auto-create topic failed", "topic", res.Name, "err", res.Err)
				} else if res.Err == nil {
					h.deps.Logger.Info("auto-created topic", "topic", res.Name, "partitions", res.NumPartitions)
				}
			}
			im = h.deps.Controller.Image()
		}
	}

	for _, id := range im.BrokerIDs() {
		b := im.Brokers[id]
		if b.Fenced && id != h.deps.Broker.NodeID {
			// Kafka lists alive (unfenced) brokers only: a client that
			// cached a coordinator on a dead broker (franz-go's sharded
			// AddPartitionsToTxn) looks it up again once it is gone.
			continue
		}
		host, port := b.Host, b.Port
		if id == h.deps.Broker.NodeID {
			host, port = h.advertised()
		}
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = id, host, port
		if b.Rack != "" {
			rack := b.Rack
			mb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	clusterID := im.ClusterID
	resp.ClusterID = &clusterID
	resp.ControllerID = h.deps.Controller.ActiveID(h.deps.Broker.NodeID)

	if all {
		for _, name := range im.TopicNames() {
			resp.Topics = append(resp.Topics, describeTopic(im, im.Topics[name]))
		}
		return respond(resp)
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
		default:
			if err := config.ValidTopicName(*t.Topic); err != nil {
				mt.ErrorCode = kerr.InvalidTopicException.Code
			} else if topic = im.Topics[*t.Topic]; topic == nil {
				mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
		}
		if topic != nil {
			mt = describeTopic(im, topic)
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return respond(resp)
}

func describeTopic(im *metadata.Image, t *metadata.Topic) kmsg.MetadataResponseTopic {
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
		if _, ok := im.Brokers[p.Leader]; !ok {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
