package api

// ListOffsets (key 2), versions 1-11.
//   v1: one offset per partition (v0's MaxNumOffsets is gone). v2:
//   isolation level. v4: CurrentLeaderEpoch, LeaderEpoch in the response.
//   v6: flexible. v7: MAX_TIMESTAMP (-3, KIP-734). v8: EARLIEST_LOCAL
//   (-4, KIP-405). v9: LATEST_TIERED (-5, KIP-1005). v10: TimeoutMillis.
//   v11: EARLIEST_PENDING_UPLOAD (-6); without tiered storage these equal
//   the log start offset (-4, -6) or -1 (-5).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	im := h.deps.Controller.Image()
	for _, t := range r.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.Timestamp, rp.Offset = -1, -1
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
				if p.Timestamp < 0 {
					rp.ErrorCode = kerr.InvalidRequest.Code
					break
				}
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
