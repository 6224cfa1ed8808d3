package api

// OffsetDelete (key 47), version 0 (KIP-496).
//
// Deletes committed offsets of a group: any partition of an empty group;
// of a consumer group with members only partitions of topics no member
// subscribes to (GROUP_SUBSCRIBED_TO_TOPIC otherwise). Partitions of
// unknown topics get UNKNOWN_TOPIC_OR_PARTITION; an unknown group
// GROUP_ID_NOT_FOUND.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/group"
)

func (h *Handlers) offsetDelete(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.OffsetDeleteRequest)
	resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
	im := h.deps.Metadata.Image()
	var partitions []group.TopicPartition
	var where []*kmsg.OffsetDeleteResponseTopicPartition
	resp.Topics = make([]kmsg.OffsetDeleteResponseTopic, len(r.Topics))
	for ti, t := range r.Topics {
		rt := &resp.Topics[ti]
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.OffsetDeleteResponseTopicPartition, len(t.Partitions))
		for pi, p := range t.Partitions {
			rp := &rt.Partitions[pi]
			rp.Partition = p.Partition
			if !knownPartition(im, t.Topic, p.Partition) {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			partitions = append(partitions, group.TopicPartition{Topic: t.Topic, Partition: p.Partition})
			where = append(where, rp)
		}
	}
	errs, err := h.deps.Groups.DeleteOffsets(ctx, r.Group, partitions)
	if err != nil {
		// A group error replaces the partition results, as in Kafka.
		resp.ErrorCode = errorCode(h.deps.Logger, err)
		resp.Topics = nil
		return respond(resp)
	}
	for i, e := range errs {
		where[i].ErrorCode = errorCode(h.deps.Logger, e)
	}
	return respond(resp)
}
