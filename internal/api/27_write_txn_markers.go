package api

// WriteTxnMarkers (key 27), versions 0-2; inter-broker only.
//   v1: flexible. v2 (KIP-1228): TransactionVersion per marker; a marker
//   of transaction version 2 ends a transaction with an epoch bump, so the
//   partition refuses one whose epoch is not newer than the producer's
//   (INVALID_PRODUCER_EPOCH).
//
// The transaction coordinator sends it to each leader of the partitions
// of a finished transaction. Each marker is appended as a COMMIT or ABORT
// control batch and answered once replicated (acks=all). A marker on a
// __consumer_offsets partition then completes the transaction's offset
// commits in the group coordinator, as Kafka's ReplicaManager does.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/group"
	"github.com/arus-io/arus/internal/partition"
	"github.com/arus-io/arus/internal/txn"
)

// markerTimeout bounds the wait for a marker's replication.
const markerTimeout = 30 * time.Second

func (h *Handlers) writeTxnMarkers(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.WriteTxnMarkersRequest)
	resp := r.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	im := h.deps.Controller.Image()
	type pending struct {
		rp     *kmsg.WriteTxnMarkersResponseMarkerTopicPartition
		p      *partition.Partition
		end    int64
		pid    int64
		commit bool
		group  bool
	}
	var waits []pending
	for _, m := range r.Markers {
		rm := kmsg.WriteTxnMarkersResponseMarker{ProducerID: m.ProducerID}
		for _, t := range m.Topics {
			rt := kmsg.WriteTxnMarkersResponseMarkerTopic{Topic: t.Topic}
			rt.Partitions = make([]kmsg.WriteTxnMarkersResponseMarkerTopicPartition, len(t.Partitions))
			for i, index := range t.Partitions {
				rp := &rt.Partitions[i]
				rp.Partition = index
				part, code := h.leaderFor(im, t.Topic, index)
				if code != 0 {
					rp.ErrorCode = code
					continue
				}
				res, err := part.AppendMarker(partition.Marker{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch,
					CoordinatorEpoch: m.CoordinatorEpoch, Commit: m.Committed, TransactionVersion: m.TransactionVersion})
				if err != nil {
					rp.ErrorCode = errorCode(h.deps.Logger, err)
					h.deps.Logger.Info("transaction marker not written", "topic", t.Topic, "partition", index,
						"producer_id", m.ProducerID, "producer_epoch", m.ProducerEpoch, "commit", m.Committed, "err", err)
					continue
				}
				waits = append(waits, pending{rp: rp, p: part, end: res.End, pid: m.ProducerID, commit: m.Committed,
					group: t.Topic == group.OffsetsTopic})
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	if len(waits) == 0 {
		return respond(resp)
	}
	wctx, cancel := context.WithTimeout(ctx, markerTimeout)
	return Outcome{Wait: func() Outcome {
		defer cancel()
		for _, w := range waits {
			if err := w.p.WaitReplicated(wctx, w.end); err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					err = kerr.RequestTimedOut
				}
				w.rp.ErrorCode = errorCode(h.deps.Logger, err)
				continue
			}
			if w.group {
				h.deps.Groups.CompleteTxn(wctx, w.p.Index(), w.pid, w.commit)
			}
		}
		return respond(resp)
	}}
}

// MarkerSender returns the transaction coordinator's way of delivering
// markers: a WriteTxnMarkers request to the node's inter-broker listener
// through send, with each partition's error code sorted into written,
// retry or dropped.
func MarkerSender(send func(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error)) txn.SendMarkers {
	return func(ctx context.Context, node int32, m txn.Markers) (map[txn.TopicPartition]txn.MarkerOutcome, error) {
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		rm := kmsg.NewWriteTxnMarkersRequestMarker()
		rm.ProducerID, rm.ProducerEpoch, rm.Committed, rm.CoordinatorEpoch = m.ProducerID, m.ProducerEpoch, m.Commit, m.CoordinatorEpoch
		rm.TransactionVersion = m.TransactionVersion // dropped below v2
		for _, tp := range m.Partitions {
			if n := len(rm.Topics); n == 0 || rm.Topics[n-1].Topic != tp.Topic {
				rm.Topics = append(rm.Topics, kmsg.WriteTxnMarkersRequestMarkerTopic{Topic: tp.Topic})
			}
			t := &rm.Topics[len(rm.Topics)-1]
			t.Partitions = append(t.Partitions, tp.Partition)
		}
		req.Markers = append(req.Markers, rm)
		resp, err := send(ctx, node, req)
		if err != nil {
			return nil, err
		}
		out := map[txn.TopicPartition]txn.MarkerOutcome{}
		for _, mk := range resp.(*kmsg.WriteTxnMarkersResponse).Markers {
			for _, t := range mk.Topics {
				for _, p := range t.Partitions {
					out[txn.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = markerOutcome(p.ErrorCode)
				}
			}
		}
		return out, nil
	}
}

// markerOutcome classifies a partition's answer as Kafka's
// TransactionMarkerRequestCompletionHandler does.
func markerOutcome(code int16) txn.MarkerOutcome {
	switch code {
	case 0:
		return txn.MarkerWritten
	case kerr.UnknownTopicOrPartition.Code, kerr.InvalidProducerEpoch.Code, kerr.ProducerFenced.Code,
		kerr.TransactionCoordinatorFenced.Code:
		// Deleted, or a newer epoch or coordinator already wrote there:
		// this marker is not needed any more.
		return txn.MarkerDropped
	default:
		return txn.MarkerRetry
	}
}
