package api

// DescribeTransactions (key 65), version 0 (KIP-664): the state of
// transactional ids this broker coordinates.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) describeTransactions(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	c, cerr := h.txnCoordinator()
	for _, id := range r.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.ProducerEpoch, st.StartTimestamp = id, -1, -1, -1
		err := cerr
		if err == nil {
			var m txnMetadata
			m, err = c.Describe(ctx, id)
			if err == nil {
				st.State, st.TimeoutMillis = m.State.String(), int32(m.Timeout.Milliseconds())
				st.ProducerID, st.ProducerEpoch = m.ProducerID, m.ProducerEpoch
				if !m.Start.IsZero() {
					st.StartTimestamp = m.Start.UnixMilli()
				}
				for _, tp := range m.Partitions {
					if n := len(st.Topics); n == 0 || st.Topics[n-1].Topic != tp.Topic {
						st.Topics = append(st.Topics, kmsg.DescribeTransactionsResponseTransactionStateTopic{Topic: tp.Topic})
					}
					st.Topics[len(st.Topics)-1].Partitions = append(st.Topics[len(st.Topics)-1].Partitions, tp.Partition)
				}
			}
		}
		st.ErrorCode = errorCode(h.deps.Logger, err)
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return respond(resp)
}
