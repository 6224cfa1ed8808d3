package api

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/arus-io/arus/internal/txn"
)

// txnErrorCode maps a transaction coordinator's error; before the
// versions of KIP-588 (producerFenced false) PRODUCER_FENCED is answered
// as INVALID_PRODUCER_EPOCH, as Kafka does.
func (h *Handlers) txnErrorCode(err error, producerFenced bool) int16 {
	code := errorCode(h.deps.Logger, err)
	if code == kerr.ProducerFenced.Code && !producerFenced {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}

// txnCoordinator reports the transaction coordinator, or an error when
// this broker has none (never nil in a real broker).
func (h *Handlers) txnCoordinator() (*txn.Coordinator, error) {
	if h.deps.Txns == nil {
		return nil, txn.ErrCoordinatorNotAvailable
	}
	return h.deps.Txns, nil
}
