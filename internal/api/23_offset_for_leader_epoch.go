package api

// OffsetForLeaderEpoch (key 23), versions 0-4.
//   v1: the response names the epoch it answers for (LeaderEpoch). v2:
//   CurrentLeaderEpoch fencing (KIP-320) and throttle. v3: ReplicaID
//   (KIP-392). v4: flexible.
// Consumers (franz-go after a leader change) and followers ask the leader
// where an epoch ended, to detect truncated logs. Only the leader answers;
// errors are those of Fetch: NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
// FENCED_LEADER_EPOCH and UNKNOWN_LEADER_EPOCH.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) offsetForLeaderEpoch(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.OffsetForLeaderEpochRequest)
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	im := h.deps.Metadata.Image()
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition = p.Partition
			part, code := h.leaderFor(im, t.Topic, p.Partition)
			if code == 0 {
				code = errorCode(h.deps.Logger, part.CheckLeaderEpoch(p.CurrentLeaderEpoch))
			}
			if code != 0 {
				rp.ErrorCode = code
			} else {
				rp.LeaderEpoch, rp.EndOffset = part.EndOffsetForEpoch(p.LeaderEpoch)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}
