package api

// AddOffsetsToTxn (key 25), versions 0-4.
//   v1: no change. v2: PRODUCER_FENCED (KIP-588). v3: flexible. v4:
//   TRANSACTION_ABORTABLE (KIP-890).
//
// Adds the group's __consumer_offsets partition to the transaction, so
// its TxnOffsetCommit records get the transaction's marker.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/group"
	"github.com/arus-io/arus/internal/txn"
)

func (h *Handlers) addOffsetsToTxn(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.AddOffsetsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	c, err := h.txnCoordinator()
	if err == nil {
		err = h.deps.Groups.EnsureOffsetsTopic(ctx)
	}
	if err == nil {
		t := h.deps.Controller.Image().Topics[group.OffsetsTopic]
		tp := txn.TopicPartition{Topic: group.OffsetsTopic, Partition: group.PartitionFor(r.Group, int32(len(t.Partitions)))}
		waitStart := time.Now() // the coordinator waits for its log
		err = c.AddPartitions(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, []txn.TopicPartition{tp})
		req.waited(waitStart)
	}
	resp.ErrorCode = h.txnErrorCode(err, r.Version >= 2)
	return respond(resp)
}
