package api

// EndTxn (key 26), versions 0-4.
//   v1: no change. v2: PRODUCER_FENCED (KIP-588). v3: flexible. v4:
//   TRANSACTION_ABORTABLE. v5 (KIP-890 part 2: the epoch is bumped at
//   every end and returned) is not served yet.
//
// The answer comes once PrepareCommit/PrepareAbort is durable in
// __transaction_state; the coordinator then writes the markers.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) endTxn(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.EndTxnRequest)
	resp := r.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	c, err := h.txnCoordinator()
	if err == nil {
		waitStart := time.Now() // the coordinator waits for its log
		err = c.EndTxn(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit)
		req.waited(waitStart)
	}
	resp.ErrorCode = h.txnErrorCode(err, r.Version >= 2)
	return respond(resp)
}
