package api

// Fetch (key 1) of the metadata log, between arus nodes only.
//
// Broker-only nodes (observers of the metadata quorum) follow the
// committed metadata log as KRaft observers do: a Fetch of topic
// __cluster_metadata (by name, or by MetadataTopicID from v13), partition
// 0, from FetchOffset = the offset after their image. A voter answers with
// the committed batches from there, one RecordBatch per proposal (each
// metadata record is a record's value; BaseOffset is the proposal's first
// offset), so a change costs the observer bytes proportional to it. When
// the offset precedes what the voter retains in memory the answer is
// OFFSET_OUT_OF_RANGE with LogStartOffset, and the observer fetches a
// snapshot (FetchSnapshot). HighWatermark is the offset after the voter's
// image; CurrentLeader names the active controller. Long polling as for
// data: when nothing after FetchOffset is committed yet, the voter holds
// the request until something is (published on this node) or
// MaxWaitMillis (capped at maxMetadataWait) passes, so an observer learns
// of a change about as soon as the voters do, without polling.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/record"
)

// MetadataTopicID is the topic id of __cluster_metadata (Kafka's
// Uuid.METADATA_TOPIC_ID, 0...01).
var MetadataTopicID = [16]byte{15: 1}

// isMetadataFetch reports whether r fetches the metadata log (alone).
func isMetadataFetch(r *kmsg.FetchRequest) bool {
	return len(r.Topics) == 1 && (r.Topics[0].Topic == MetadataTopic || (r.Version >= 13 && r.Topics[0].TopicID == MetadataTopicID))
}

// maxMetadataWait caps how long a metadata Fetch is held: an observer
// asks again at once, so a longer hold gains nothing and keeps a handler
// goroutine longer.
const maxMetadataWait = 5 * time.Second

func (h *Handlers) fetchMetadataLog(ctx context.Context, r *kmsg.FetchRequest) Outcome {
	h.waitForMetadataAfter(ctx, r)
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	t := r.Topics[0]
	rt := kmsg.NewFetchResponseTopic()
	rt.Topic, rt.TopicID = t.Topic, t.TopicID
	for _, p := range t.Partitions {
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition = p.Partition
		rp.RecordBatches = []byte{}
		rp.CurrentLeader.LeaderID = h.deps.Controller.ActiveID(h.deps.Broker.NodeID)
		im := h.deps.Controller.Image()
		rp.HighWatermark, rp.LastStableOffset = im.Offset+1, im.Offset+1
		switch {
		case p.Partition != 0:
			rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
		case !h.deps.Controller.IsVoter():
			rp.ErrorCode = kerr.NotController.Code
		default:
			batches, err := h.deps.Controller.MetadataBatches(p.FetchOffset, int(max(p.PartitionMaxBytes, 1)))
			if errors.Is(err, controller.ErrOffsetTooOld) {
				rp.ErrorCode = kerr.OffsetOutOfRange.Code
				break
			}
			for _, b := range batches {
				bld := record.NewBuilder()
				for _, rec := range b.Records {
					bld.Add(0, nil, rec)
				}
				batch, err := bld.Build(0)
				if err != nil {
					rp.ErrorCode = errorCode(h.deps.Logger, err)
					break
				}
				record.SetBaseOffset(batch, b.First)
				rp.RecordBatches = append(rp.RecordBatches, batch...)
			}
		}
		rt.Partitions = append(rt.Partitions, rp)
	}
	resp.Topics = append(resp.Topics, rt)
	return respond(resp)
}

// waitForMetadataAfter holds a voter's answer to a metadata Fetch that is
// caught up until a later image is published, MaxWaitMillis passes or the
// connection goes away; it returns at once otherwise.
func (h *Handlers) waitForMetadataAfter(ctx context.Context, r *kmsg.FetchRequest) {
	if r.MaxWaitMillis <= 0 || !h.deps.Controller.IsVoter() || len(r.Topics[0].Partitions) != 1 {
		return
	}
	next := r.Topics[0].Partitions[0].FetchOffset
	if next <= h.deps.Controller.Image().Offset {
		return // something to send now
	}
	wait := min(time.Duration(r.MaxWaitMillis)*time.Millisecond, maxMetadataWait)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	_ = h.deps.Metadata.WaitApplied(ctx, next) // a timeout answers with nothing new
}
