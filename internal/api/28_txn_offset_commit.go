package api

// TxnOffsetCommit (key 28), versions 0-5.
//   v1: no change. v2: LeaderEpoch per partition. v3: generation, member
//   and instance ids (KIP-447), flexible. v4: no change (KIP-890 part 1).
//   v5: TRANSACTION_ABORTABLE. (v6 names topics by id; not served.)
//
// The commits are written to the group's __consumer_offsets partition in
// the producer's transaction and become the group's offsets when the
// transaction commits (see internal/group/txn_offsets.go).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/group"
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
	waitStart := time.Now() // the coordinator waits for the rebalance or the append
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
