package api

// AddPartitionsToTxn (key 24), versions 0-5.
//   v1: no change. v2: PRODUCER_FENCED instead of INVALID_PRODUCER_EPOCH
//   (KIP-588). v3: flexible. v4: batched transactions, VerifyOnly and a
//   top-level error (KIP-890 part 1; sent by brokers, which is how arus's
//   own produce path verifies a partition). v5: TRANSACTION_ABORTABLE.
//
// Partitions of unknown topics fail with UNKNOWN_TOPIC_OR_PARTITION and
// the others with OPERATION_NOT_ATTEMPTED, as Kafka does; otherwise every
// partition gets the coordinator's answer.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/txn"
)

func (h *Handlers) addPartitionsToTxn(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.AddPartitionsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	im := h.deps.Controller.Image()
	if r.Version < 4 {
		topics := make([]kmsg.AddPartitionsToTxnRequestTransactionTopic, len(r.Topics))
		for i, t := range r.Topics {
			topics[i] = kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: t.Topic, Partitions: t.Partitions}
		}
		waitStart := time.Now() // the coordinator waits for its log
		res := h.addPartitionsOne(ctx, im, r.Version, r.TransactionalID, r.ProducerID, r.ProducerEpoch, false, topics)
		req.waited(waitStart)
		for _, t := range res.Topics {
			rt := kmsg.AddPartitionsToTxnResponseTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.AddPartitionsToTxnResponseTopicPartition{Partition: p.Partition, ErrorCode: p.ErrorCode})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return respond(resp)
	}
	waitStart := time.Now() // the coordinator waits for its log
	for _, t := range r.Transactions {
		resp.Transactions = append(resp.Transactions,
			h.addPartitionsOne(ctx, im, r.Version, t.TransactionalID, t.ProducerID, t.ProducerEpoch, t.VerifyOnly, t.Topics))
	}
	req.waited(waitStart)
	return respond(resp)
}

func (h *Handlers) addPartitionsOne(ctx context.Context, im *metadata.Image, version int16, id string, pid int64, epoch int16,
	verifyOnly bool, topics []kmsg.AddPartitionsToTxnRequestTransactionTopic) kmsg.AddPartitionsToTxnResponseTransaction {
	out := kmsg.AddPartitionsToTxnResponseTransaction{TransactionalID: id}
	var tps []txn.TopicPartition
	unknown := map[txn.TopicPartition]bool{}
	for _, t := range topics {
		for _, p := range t.Partitions {
			tp := txn.TopicPartition{Topic: t.Topic, Partition: p}
			tps = append(tps, tp)
			if ti, ok := im.Topics[t.Topic]; !ok || p < 0 || int(p) >= len(ti.Partitions) {
				unknown[tp] = true
			}
		}
	}
	errs := make([]int16, len(tps))
	c, err := h.txnCoordinator()
	switch {
	case err != nil:
		code := errorCode(h.deps.Logger, err)
		for i := range errs {
			errs[i] = code
		}
	case len(unknown) > 0:
		for i, tp := range tps {
			errs[i] = kerr.OperationNotAttempted.Code
			if unknown[tp] {
				errs[i] = kerr.UnknownTopicOrPartition.Code
			}
		}
	case verifyOnly:
		for i, err := range c.VerifyPartitions(ctx, id, pid, epoch, tps) {
			errs[i] = h.txnErrorCode(err, true)
			if errs[i] == kerr.TransactionAbortable.Code && version < 5 {
				errs[i] = kerr.InvalidTxnState.Code
			}
		}
	default:
		code := h.txnErrorCode(c.AddPartitions(ctx, id, pid, epoch, tps), version >= 2)
		for i := range errs {
			errs[i] = code
		}
	}
	for i, tp := range tps {
		if n := len(out.Topics); n == 0 || out.Topics[n-1].Topic != tp.Topic {
			out.Topics = append(out.Topics, kmsg.AddPartitionsToTxnResponseTransactionTopic{Topic: tp.Topic})
		}
		rt := &out.Topics[len(out.Topics)-1]
		rt.Partitions = append(rt.Partitions, kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{Partition: tp.Partition, ErrorCode: errs[i]})
	}
	return out
}
