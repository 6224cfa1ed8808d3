package api

// TxnOffsetCommit (key 28), versions 0-5.
//   v1: no change. v2: LeaderEpoch per partition. v3: generation, member
//   and instance ids (KIP-447), flexible. v4: TRANSACTION_ABORTABLE
//   (KIP-890 part 1). v5 (KIP-890 part 2): the broker adds the group's
//   offsets partition to the transaction itself; the client no longer
//   sends AddOffsetsToTxn. (v6 names topics by id; not served.)
//
// Before v5, with transaction.partition.verification.enable, the offsets
// partition is first verified with the transaction coordinator
// (txn_verify.go): one not in the producer's transaction fails with
// INVALID_TXN_STATE (TRANSACTION_ABORTABLE from v4) and nothing is
// written. Retriable coordinator errors become COORDINATOR_NOT_AVAILABLE
// (Kafka's GroupCoordinatorService.normalizeException of the
// NOT_ENOUGH_REPLICAS the write path reports). Unlike Produce, the
// verification has no guard against a marker landing between it and the
// write.
//
// The commits are written to the group's __consumer_offsets partition in
// the producer's transaction and become the group's offsets when the
// transaction commits (see internal/group/txn_offsets.go).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/group"
	"github.com/arus-io/arus/internal/txn"
)

func (h *Handlers) txnOffsetCommit(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.TxnOffsetCommitRequest)
	resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	gr := group.TxnCommitRequest{Group: r.Group, ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch,
		Generation: -1}
	if r.Version >= 3 {
		gr.Generation, gr.MemberID, gr.InstanceID = r.Generation, r.MemberID, r.InstanceID
	}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			c := group.CommitOffset{TopicPartition: group.TopicPartition{Topic: t.Topic, Partition: p.Partition},
				Offset: p.Offset, LeaderEpoch: -1}
			if r.Version >= 2 {
				c.LeaderEpoch = p.LeaderEpoch
			}
			if p.Metadata != nil {
				c.Metadata = *p.Metadata
			}
			gr.Offsets = append(gr.Offsets, c)
		}
	}
	waitStart := time.Now() // the coordinator waits for the verification, the rebalance or the append
	if code := h.verifyTxnOffsets(ctx, r); code != 0 {
		req.waited(waitStart)
		for _, t := range r.Topics {
			rt := kmsg.TxnOffsetCommitResponseTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.TxnOffsetCommitResponseTopicPartition{Partition: p.Partition, ErrorCode: code})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return respond(resp)
	}
	errs := h.deps.Groups.TxnCommitOffsets(ctx, gr)
	req.waited(waitStart)
	i := 0
	for _, t := range r.Topics {
		rt := kmsg.TxnOffsetCommitResponseTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, kmsg.TxnOffsetCommitResponseTopicPartition{
				Partition: p.Partition, ErrorCode: h.txnErrorCode(errs[i], r.Version >= 2)})
			i++
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}

// verifyTxnOffsets verifies (before v5) or adds (v5+) the group's offsets
// partition in the producer's transaction; 0 when the commit may go on.
func (h *Handlers) verifyTxnOffsets(ctx context.Context, r *kmsg.TxnOffsetCommitRequest) int16 {
	if r.Version < 5 && !h.verifyTxns() {
		return 0
	}
	if err := h.deps.Groups.EnsureOffsetsTopic(ctx); err != nil {
		return errorCode(h.deps.Logger, err)
	}
	im := h.deps.Metadata.Image()
	t := im.Topics[group.OffsetsTopic]
	if t == nil || len(t.Partitions) == 0 {
		return kerr.CoordinatorNotAvailable.Code
	}
	tp := txn.TopicPartition{Topic: group.OffsetsTopic, Partition: group.PartitionFor(r.Group, int32(len(t.Partitions)))}
	code := h.verifyTxnPartitions(ctx, im, txnCheck{id: r.TransactionalID, pid: r.ProducerID, epoch: r.ProducerEpoch,
		add: r.Version >= 5, abortable: r.Version >= 4}, []txn.TopicPartition{tp})[0]
	if code, _ = produceVerifyError(code, 0); code == kerr.NotEnoughReplicas.Code {
		code = kerr.CoordinatorNotAvailable.Code
	}
	return code
}
