package txn

import "errors"

// Errors of the transaction coordinator, mapped to Kafka codes by
// internal/api.
var (
	// ErrNotCoordinator: this broker does not lead the transactional id's
	// __transaction_state partition (NOT_COORDINATOR).
	ErrNotCoordinator = errors.New("txn: not the coordinator")
	// ErrCoordinatorNotAvailable: no coordinator can serve right now
	// (COORDINATOR_NOT_AVAILABLE).
	ErrCoordinatorNotAvailable = errors.New("txn: coordinator not available")
	// ErrLoadInProgress: the partition is being loaded
	// (COORDINATOR_LOAD_IN_PROGRESS).
	ErrLoadInProgress = errors.New("txn: coordinator load in progress")
	// ErrConcurrentTransactions: a state change of the transactional id
	// is in flight, retry (CONCURRENT_TRANSACTIONS).
	ErrConcurrentTransactions = errors.New("txn: concurrent transactions")
	// ErrInvalidProducerIDMapping: the producer id is not the one of the
	// transactional id (INVALID_PRODUCER_ID_MAPPING).
	ErrInvalidProducerIDMapping = errors.New("txn: invalid producer id mapping")
	// ErrProducerFenced: a newer producer with the same transactional id
	// exists (PRODUCER_FENCED; INVALID_PRODUCER_EPOCH for old versions).
	ErrProducerFenced = errors.New("txn: producer fenced")
	// ErrInvalidTxnState: the request does not fit the transaction's state
	// (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("txn: invalid transaction state")
	// ErrInvalidTransactionTimeout: transaction.timeout.ms is not within
	// (0, transaction.max.timeout.ms] (INVALID_TRANSACTION_TIMEOUT).
	ErrInvalidTransactionTimeout = errors.New("txn: invalid transaction timeout")
	// ErrTransactionalIDNotFound: DescribeTransactions of an unknown id
	// (TRANSACTIONAL_ID_NOT_FOUND).
	ErrTransactionalIDNotFound = errors.New("txn: transactional id not found")
	// ErrTransactionAbortable: a KIP-890 verification found the partition
	// not in the transaction (TRANSACTION_ABORTABLE from v5 clients,
	// INVALID_TXN_STATE before).
	ErrTransactionAbortable = errors.New("txn: partition not added to the transaction")
)
