package api

// DeleteRecords (key 21), versions 0-2.
//   v1: no change. v2: flexible.
// Moves the log start offset of each partition to the offset given (-1:
// the high watermark), as Kafka's ReplicaManager.deleteRecords: on the
// partition's leader only (NOT_LEADER_OR_FOLLOWER elsewhere), never above
// the high watermark (OFFSET_OUT_OF_RANGE), only when cleanup.policy
// includes delete (POLICY_VIOLATION), never on internal topics
// (INVALID_TOPIC_EXCEPTION). The answer waits, up to TimeoutMillis, until
// every alive replica's log start offset reached the new start (the low
// watermark, which followers report in their fetches); a partition still
// short then gets REQUEST_TIMED_OUT, as Kafka's DelayedDeleteRecords.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/partition"
)

// deleteRecordsWait is one partition whose low watermark must reach offset.
type deleteRecordsWait struct {
	part   *partition.Partition
	offset int64
	result *kmsg.DeleteRecordsResponseTopicPartition
}

func (h *Handlers) deleteRecords(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DeleteRecordsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	im := h.deps.Metadata.Image()
	alive := aliveBrokers(im)

	// Kafka keys the request by partition: a partition named twice is
	// answered once, for the last offset given.
	type tp struct {
		topic     string
		partition int32
	}
	offsets := map[tp]int64{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			offsets[tp{t.Topic, p.Partition}] = p.Offset
		}
	}
	topicIndex := map[string]int{}
	done := map[tp]bool{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			k := tp{t.Topic, p.Partition}
			if done[k] {
				continue
			}
			done[k] = true
			i, ok := topicIndex[t.Topic]
			if !ok {
				rt := kmsg.NewDeleteRecordsResponseTopic()
				rt.Topic = t.Topic
				resp.Topics = append(resp.Topics, rt)
				i = len(resp.Topics) - 1
				topicIndex[t.Topic] = i
			}
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition, rp.LowWatermark = p.Partition, -1
			resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
		}
	}
	var waits []deleteRecordsWait
	for ti := range resp.Topics {
		rt := &resp.Topics[ti]
		for pi := range rt.Partitions {
			rp := &rt.Partitions[pi]
			offset := offsets[tp{rt.Topic, rp.Partition}]
			if _, _, code := h.lookupPartition(im, rt.Topic, rp.Partition); code != 0 {
				rp.ErrorCode = code
				continue
			}
			if config.IsInternalTopic(rt.Topic) {
				rp.ErrorCode = kerr.InvalidTopicException.Code
				continue
			}
			part, code := h.leaderFor(im, rt.Topic, rp.Partition)
			if code != 0 {
				rp.ErrorCode = code
				continue
			}
			requested, err := part.DeleteRecords(offset)
			if err == nil {
				rp.LowWatermark, err = part.LowWatermark(alive)
			}
			if err != nil {
				rp.ErrorCode = errorCode(h.deps.Logger, err)
				rp.LowWatermark = -1
				continue
			}
			if rp.LowWatermark < requested {
				// Until the replicas catch up, the answer is a timeout.
				rp.ErrorCode = kerr.RequestTimedOut.Code
				waits = append(waits, deleteRecordsWait{part: part, offset: requested, result: rp})
			}
		}
	}
	waitStart := time.Now()
	h.awaitLowWatermarks(ctx, waits, time.Duration(r.TimeoutMillis)*time.Millisecond, alive)
	req.waited(waitStart)
	return respond(resp)
}

// awaitLowWatermarks waits until every partition's low watermark reached
// its offset, an error ends its wait, or the timeout passes.
func (h *Handlers) awaitLowWatermarks(ctx context.Context, waits []deleteRecordsWait, timeout time.Duration, alive func(int32) bool) {
	deadline := h.deps.Now().Add(timeout)
	for len(waits) > 0 {
		// Channels first, then the check, so no change is missed.
		chans := make([]<-chan struct{}, len(waits))
		for i, w := range waits {
			chans[i] = w.part.LowWatermarkChanged()
		}
		pending := waits[:0]
		for _, w := range waits {
			low, err := w.part.LowWatermark(alive)
			switch {
			case err != nil:
				w.result.ErrorCode, w.result.LowWatermark = errorCode(h.deps.Logger, err), -1
			case low >= w.offset:
				w.result.ErrorCode, w.result.LowWatermark = 0, low
			default:
				pending = append(pending, w)
			}
		}
		waits = pending
		remaining := deadline.Sub(h.deps.Now())
		if len(waits) == 0 || remaining <= 0 || !waitAny(ctx, chans, remaining) {
			return
		}
	}
}

// lookupPartition returns the topic and partition of the image, or
// UNKNOWN_TOPIC_OR_PARTITION.
func (h *Handlers) lookupPartition(im *metadata.Image, topic string, index int32) (*metadata.Topic, metadata.Partition, int16) {
	t, ok := im.Topics[topic]
	if !ok || index < 0 || int(index) >= len(t.Partitions) {
		return nil, metadata.Partition{}, kerr.UnknownTopicOrPartition.Code
	}
	return t, t.Partitions[index], 0
}

// aliveBrokers reports whether a broker is registered and not fenced
// (Kafka's MetadataCache.hasAliveBroker).
func aliveBrokers(im *metadata.Image) func(int32) bool {
	return func(id int32) bool {
		b, ok := im.Brokers[id]
		return ok && !b.Fenced
	}
}
