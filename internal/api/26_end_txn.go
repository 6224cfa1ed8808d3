package api

// EndTxn (key 26), versions 0-5.
//   v1: no change. v2: PRODUCER_FENCED (KIP-588). v3: flexible. v4:
//   TRANSACTION_ABORTABLE. v5 (KIP-890 part 2, transaction version 2):
//   the coordinator bumps the producer epoch at every end, writes the
//   markers with the new epoch (so a late write of the finished
//   transaction is fenced on every partition) and returns the producer id
//   and epoch to use next; an exhausted epoch moves to a new producer id.
//   Clients send v5 only when the finalized transaction.version is 2
//   (features.go), as Kafka's KafkaApis.handleEndTxnRequest derives the
//   client's transaction version from the request version.
//
// The answer comes once PrepareCommit/PrepareAbort is durable in
// __transaction_state; the coordinator then writes the markers.

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/txn"
)

func (h *Handlers) endTxn(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.EndTxnRequest)
	resp := r.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	c, err := h.txnCoordinator()
	end := txn.EndRequest{ID: r.TransactionalID, ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch,
		Commit: r.Commit, EpochBump: r.Version >= 5, FreshProducerID: -1}
	if err == nil && end.EpochBump && r.ProducerEpoch >= math.MaxInt16-2 {
		// The epoch may be exhausted by this bump: the coordinator moves
		// the transactional id to a new producer id.
		end.FreshProducerID, err = h.nextProducerID()
	}
	if err == nil {
		waitStart := time.Now() // the coordinator waits for its log
		res := c.EndTxn(ctx, end)
		req.waited(waitStart)
		err = res.Err
		if err == nil && r.Version >= 5 {
			resp.ProducerID, resp.ProducerEpoch = res.ProducerID, res.ProducerEpoch
		}
	}
	resp.ErrorCode = h.txnErrorCode(err, r.Version >= 2)
	return respond(resp)
}
