package api

// OffsetFetch (key 9), versions 0-10.
//   v1: offsets from __consumer_offsets (v0 read ZooKeeper in Kafka; arus
//   serves both the same). v2: top-level ErrorCode; null Topics means
//   every committed partition. v3: throttle. v4: no change. v5:
//   LeaderEpoch (KIP-320). v6: flexible. v7: RequireStable (KIP-447).
//   v8: many groups per request. v9: MemberID/MemberEpoch (KIP-848; not
//   used by classic groups). v10: topics by id.
//
// Offsets are returned whatever the group's state; a partition without a
// commit has offset -1 and empty metadata. RequireStable answers
// UNSTABLE_OFFSET_COMMIT for a partition with a transactional commit
// waiting for its marker. Before v2 a group error is repeated per partition.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/group"
	"github.com/arus-io/arus/internal/metadata"
)

func (h *Handlers) offsetFetch(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.OffsetFetchRequest)
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	im := h.deps.Metadata.Image()
	if r.Version >= 8 {
		for _, g := range r.Groups {
			resp.Groups = append(resp.Groups, h.offsetFetchGroup(ctx, req, im, r.Version, g, r.RequireStable))
		}
		return respond(resp)
	}
	// v0-v7: one group; reuse the v8 path and flatten its result.
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = r.Group
	if r.Topics != nil || r.Version < 2 {
		g.Topics = make([]kmsg.OffsetFetchRequestGroupTopic, len(r.Topics))
		for i, t := range r.Topics {
			g.Topics[i].Default()
			g.Topics[i].Topic, g.Topics[i].Partitions = t.Topic, t.Partitions
		}
	}
	rg := h.offsetFetchGroup(ctx, req, im, r.Version, g, r.RequireStable)
	if r.Version >= 2 {
		resp.ErrorCode = rg.ErrorCode
	}
	for _, t := range rg.Topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}

// offsetFetchGroup answers one group in the v8+ shape.
func (h *Handlers) offsetFetchGroup(ctx context.Context, req *Request, im *metadata.Image, version int16, g kmsg.OffsetFetchRequestGroup, requireStable bool) kmsg.OffsetFetchResponseGroup {
	rg := kmsg.NewOffsetFetchResponseGroup()
	rg.Group = g.Group
	if !h.authorized(req, auth.OpDescribe, auth.ResourceGroup, g.Group) {
		rg.ErrorCode = kerr.GroupAuthorizationFailed.Code
		if version < 2 {
			for _, t := range g.Topics {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.ErrorCode = p, -1, rg.ErrorCode
					rt.Partitions = append(rt.Partitions, rp)
				}
				rg.Topics = append(rg.Topics, rt)
			}
		}
		return rg
	}
	byID := version >= 10
	var partitions []group.TopicPartition
	var unknownIDs []kmsg.OffsetFetchResponseGroupTopic
	if g.Topics != nil {
		partitions = []group.TopicPartition{}
		for _, t := range g.Topics {
			name := t.Topic
			if byID {
				var ok bool
				if name, ok = im.TopicIDs[t.TopicID]; !ok {
					rt := kmsg.NewOffsetFetchResponseGroupTopic()
					rt.TopicID = t.TopicID
					for _, p := range t.Partitions {
						rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
						rp.Partition, rp.Offset, rp.ErrorCode = p, -1, kerr.UnknownTopicID.Code
						rt.Partitions = append(rt.Partitions, rp)
					}
					unknownIDs = append(unknownIDs, rt)
					continue
				}
			}
			for _, p := range t.Partitions {
				partitions = append(partitions, group.TopicPartition{Topic: name, Partition: p})
			}
		}
	}
	offsets, err := h.deps.Groups.FetchOffsets(ctx, g.Group, partitions)
	if err != nil {
		rg.ErrorCode = errorCode(h.deps.Logger, err)
		if version >= 2 {
			return rg
		}
		// Before v2 the error is repeated on every requested partition.
		for _, tp := range partitions {
			offsets = append(offsets, group.FetchedOffset{TopicPartition: tp, Offset: -1, LeaderEpoch: -1})
		}
	}
	topicIndex := map[string]int{}
	for _, o := range offsets {
		if g.Topics == nil && !h.authorized(req, auth.OpDescribe, auth.ResourceTopic, o.Topic) {
			continue // all topics: only those the principal may describe
		}
		i, ok := topicIndex[o.Topic]
		if !ok {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = o.Topic
			if byID {
				if t := im.Topics[o.Topic]; t != nil {
					rt.TopicID = t.ID
				} else if g.Topics == nil {
					continue // committed for a topic that no longer exists
				}
			}
			i = len(rg.Topics)
			topicIndex[o.Topic] = i
			rg.Topics = append(rg.Topics, rt)
		}
		rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = o.Partition, o.Offset, o.LeaderEpoch
		md := o.Metadata
		rp.Metadata = &md
		rp.ErrorCode = rg.ErrorCode
		if !h.authorized(req, auth.OpDescribe, auth.ResourceTopic, o.Topic) {
			rp.Offset, rp.LeaderEpoch, rp.Metadata = -1, -1, nil
			rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
		} else if requireStable && o.Unstable && rp.ErrorCode == 0 {
			rp.ErrorCode, rp.Offset = kerr.UnstableOffsetCommit.Code, -1
		}
		rg.Topics[i].Partitions = append(rg.Topics[i].Partitions, rp)
	}
	rg.Topics = append(rg.Topics, unknownIDs...)
	return rg
}
