package api

// ListTransactions (key 66), versions 0-1 (KIP-664): the transactional ids
// this broker coordinates, filtered by state names and producer ids, and
// from v1 by how long their transaction has run (KIP-994). Unknown state
// names are returned in UnknownStateFilters. (v2's id pattern is not
// served yet.)

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/txn"
)

// txnMetadata keeps the describe handler's declarations short.
type txnMetadata = txn.Metadata

var txnStateNames = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

func (h *Handlers) listTransactions(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.ListTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.ListTransactionsResponse)
	c, err := h.txnCoordinator()
	if err != nil {
		resp.ErrorCode = errorCode(h.deps.Logger, err)
		return respond(resp)
	}
	f := txn.Filter{ProducerIDs: r.ProducerIDFilters, MinDuration: -1}
	for _, s := range r.StateFilters {
		if !slices.Contains(txnStateNames, s) {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
			continue
		}
		f.States = append(f.States, s)
	}
	if len(r.StateFilters) > 0 && len(f.States) == 0 {
		return respond(resp) // only unknown states: nothing matches
	}
	if r.Version >= 1 && r.DurationFilterMillis >= 0 {
		f.MinDuration = time.Duration(r.DurationFilterMillis) * time.Millisecond
	}
	list, err := c.List(ctx, f)
	resp.ErrorCode = errorCode(h.deps.Logger, err)
	for _, m := range list {
		resp.TransactionStates = append(resp.TransactionStates, kmsg.ListTransactionsResponseTransactionState{
			TransactionalID: m.ID, ProducerID: m.ProducerID, TransactionState: m.State.String()})
	}
	return respond(resp)
}
