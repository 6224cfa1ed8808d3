package api

// OffsetCommit (key 8), versions 0-10.
//   v0: no generation or member (commits outside group management). v1:
//   Generation, MemberID, a commit timestamp per partition. v2:
//   RetentionTimeMillis replaces the timestamp (the offsets expire then).
//   v3: throttle. v4: no change. v5: retention removed (KIP-211: offsets
//   expire only after the group is empty). v6: LeaderEpoch per partition
//   (KIP-320). v7: InstanceID (KIP-345). v8: flexible. v9: a generation
//   for a group that does not exist is GROUP_ID_NOT_FOUND instead of
//   ILLEGAL_GENERATION (KIP-848). v10: topics by id.
//
// Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION (by id:
// UNKNOWN_TOPIC_ID) and the others are committed; metadata longer than
// offset.metadata.max.bytes gets OFFSET_METADATA_TOO_LARGE. The response
// is sent once the commits are durable. The empty group id is accepted,
// as Kafka does for backwards compatibility.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/group"
)

func (h *Handlers) offsetCommit(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.OffsetCommitRequest)
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	im := h.deps.Metadata.Image()
	cr := group.CommitRequest{
		Group: r.Group, Generation: r.Generation, MemberID: r.MemberID, MissingGroupNotFound: r.Version >= 9,
	}
	if r.Version < 1 {
		cr.Generation = -1
	}
	if r.Version >= 7 {
		cr.InstanceID = r.InstanceID
	}
	if r.Version >= 2 && r.Version <= 4 && r.RetentionTimeMillis >= 0 {
		cr.Retention = time.Duration(r.RetentionTimeMillis) * time.Millisecond
	}
	// where[i] is the response partition of cr.Offsets[i].
	var where []*kmsg.OffsetCommitResponseTopicPartition
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(r.Topics))
	groupAllowed := h.authorized(req, auth.OpRead, auth.ResourceGroup, r.Group)
	for ti, t := range r.Topics {
		rt := &resp.Topics[ti]
		rt.Default()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name, unknownCode := t.Topic, kerr.UnknownTopicOrPartition.Code
		if r.Version >= 10 {
			name, unknownCode = im.TopicIDs[t.TopicID], kerr.UnknownTopicID.Code
		}
		rt.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(t.Partitions))
		for pi, p := range t.Partitions {
			rp := &rt.Partitions[pi]
			rp.Default()
			rp.Partition = p.Partition
			if !groupAllowed {
				rp.ErrorCode = kerr.GroupAuthorizationFailed.Code
				continue
			}
			if name == "" && r.Version >= 10 {
				// An id that names no topic: nothing to authorize.
				rp.ErrorCode = unknownCode
				continue
			}
			if !h.authorized(req, auth.OpRead, auth.ResourceTopic, name) {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			if !knownPartition(im, name, p.Partition) {
				rp.ErrorCode = unknownCode
				if name != "" {
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				}
				continue
			}
			c := group.CommitOffset{
				TopicPartition: group.TopicPartition{Topic: name, Partition: p.Partition},
				Offset:         p.Offset, LeaderEpoch: -1, Metadata: strOrEmpty(p.Metadata),
			}
			if r.Version >= 6 {
				c.LeaderEpoch = p.LeaderEpoch
			}
			if r.Version == 1 && p.Timestamp >= 0 {
				c.CommitTime = time.UnixMilli(p.Timestamp)
			}
			cr.Offsets = append(cr.Offsets, c)
			where = append(where, rp)
		}
	}
	if len(cr.Offsets) == 0 {
		return respond(resp)
	}
	waitStart := time.Now() // the coordinator waits for the append
	committed := h.deps.Groups.CommitOffsets(ctx, cr)
	req.waited(waitStart)
	for i, err := range committed {
		where[i].ErrorCode = errorCode(h.deps.Logger, err)
	}
	return respond(resp)
}
