package api

// ListOffsets (key 2), versions 1-11.
//   v1: one offset per partition (v0's MaxNumOffsets is gone). v2:
//   isolation level. v4: CurrentLeaderEpoch, LeaderEpoch in the response.
//   v6: flexible. v7: MAX_TIMESTAMP (-3, KIP-734). v8: EARLIEST_LOCAL
//   (-4, KIP-405). v9: LATEST_TIERED (-5, KIP-1005). v10: TimeoutMillis.
//   v11: EARLIEST_PENDING_UPLOAD (-6); without tiered storage these equal
//   the log start offset (-4, -6) or -1 (-5).
// A partition named twice is answered once with INVALID_REQUEST; a
// negative timestamp that is not one of these, or one newer than the
// request's version, is UNSUPPORTED_VERSION (as Kafka's ReplicaManager).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
)

// Special timestamps of ListOffsets.
const (
	tsLatest         = -1
	tsEarliest       = -2
	tsMax            = -3
	tsEarliestLocal  = -4
	tsLatestTiered   = -5
	tsEarliestUpload = -6
)

func (h *Handlers) listOffsets(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.ListOffsetsRequest)
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	im := h.deps.Metadata.Image()
	type tp struct {
		topic     string
		partition int32
	}
	count := map[tp]int{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			count[tp{t.Topic, p.Partition}]++
		}
	}
	answered := map[tp]bool{}
	for _, t := range r.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			k := tp{t.Topic, p.Partition}
			if answered[k] {
				continue
			}
			answered[k] = true
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.Timestamp, rp.Offset = -1, -1
			// ReplicaManager.fetchOffset checks duplicates and the
			// timestamp before the partition.
			if count[k] > 1 {
				rp.ErrorCode = kerr.InvalidRequest.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			if timestampUnsupported(p.Timestamp, r.Version) {
				rp.ErrorCode = kerr.UnsupportedVersion.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			if !h.authorized(req, auth.OpDescribe, auth.ResourceTopic, t.Topic) {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			part, code := h.leaderFor(im, t.Topic, p.Partition)
			rp.ErrorCode = code
			if code == 0 {
				rp.ErrorCode = errorCode(h.deps.Logger, part.CheckLeaderEpoch(p.CurrentLeaderEpoch))
			}
			if rp.ErrorCode != 0 {
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			rp.LeaderEpoch = part.Role().LeaderEpoch
			var err error
			switch p.Timestamp {
			case tsLatest:
				rp.Offset = part.HighWatermark()
				if r.IsolationLevel == 1 {
					rp.Offset = part.LastStableOffset()
				}
			case tsEarliest, tsEarliestLocal, tsEarliestUpload:
				rp.Offset = part.LogStartOffset()
			case tsLatestTiered:
				rp.Offset = -1
			case tsMax:
				var found bool
				rp.Offset, rp.Timestamp, found, err = part.MaxTimestamp()
				if !found {
					rp.Offset, rp.Timestamp = -1, -1
				}
			default:
				var found bool
				rp.Offset, rp.Timestamp, found, err = part.OffsetForTimestamp(p.Timestamp)
				if !found {
					rp.Offset, rp.Timestamp = -1, -1
				}
			}
			if err != nil {
				rp.ErrorCode = errorCode(h.deps.Logger, err)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}

// timestampUnsupported reports a special (negative) timestamp this
// version may not ask for, or one that is not special at all: Kafka
// answers both UNSUPPORTED_VERSION (ReplicaManager.isListOffsetsTimestampUnsupported).
func timestampUnsupported(ts int64, version int16) bool {
	if ts >= 0 {
		return false
	}
	minVersion, ok := map[int64]int16{
		tsLatest: 1, tsEarliest: 1, tsMax: 7, tsEarliestLocal: 8, tsLatestTiered: 9, tsEarliestUpload: 11,
	}[ts]
	return !ok || version < minVersion
}
