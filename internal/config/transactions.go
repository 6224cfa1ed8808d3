package config

import (
	"fmt"
	"strconv"
	"time"
)

// Transactions holds the transaction coordinator's settings, with Kafka's
// names and defaults.
type Transactions struct {
	// MaxTimeout is transaction.max.timeout.ms (15 min): the largest
	// transaction.timeout.ms a producer may ask for.
	MaxTimeout time.Duration
	// IDExpiration is transactional.id.expiration.ms (7 days): a
	// transactional id without a transaction for this long is forgotten.
	IDExpiration time.Duration
	// AbortTimedOutInterval is
	// transaction.abort.timed.out.transaction.cleanup.interval.ms (10 s):
	// how often transactions past their timeout are looked for.
	AbortTimedOutInterval time.Duration
	// RemoveExpiredInterval is
	// transaction.remove.expired.transaction.cleanup.interval.ms (1 h).
	RemoveExpiredInterval time.Duration
	// StateLogPartitions is transaction.state.log.num.partitions (50),
	// used when __transaction_state is created.
	StateLogPartitions int32
	// StateLogReplicationFactor is transaction.state.log.replication.factor
	// (3, capped at the number of registered brokers).
	StateLogReplicationFactor int16
	// StateLogSegmentBytes is transaction.state.log.segment.bytes (100 MiB).
	StateLogSegmentBytes int32
	// StateLogMinISR is transaction.state.log.min.isr (2, capped at the
	// replication factor): min.insync.replicas of __transaction_state.
	StateLogMinISR int32
	// StateLogLoadBufferSize is transaction.state.log.load.buffer.size
	// (5 MiB): how much of the state log a loading coordinator reads at once.
	StateLogLoadBufferSize int32
	// PartitionVerification is transaction.partition.verification.enable
	// (true): a transactional produce to a partition where the producer
	// has no open transaction is first verified with the transaction
	// coordinator (KIP-890 part 1). nil: the default.
	PartitionVerification *bool
	// ProducerIDExpiration is producer.id.expiration.ms (1 day): a
	// partition forgets an idempotent producer's state once it has written
	// nothing there for this long and has no open transaction.
	ProducerIDExpiration time.Duration
	// ProducerIDExpirationCheckInterval is
	// producer.id.expiration.check.interval.ms (10 min).
	ProducerIDExpirationCheckInterval time.Duration
	// AddPartitionsRetryBackoff is add.partitions.to.txn.retry.backoff.ms
	// (20 ms) and AddPartitionsRetryBackoffMax
	// add.partitions.to.txn.retry.backoff.max.ms (100 ms): when a
	// partition is added to a transaction on a client's behalf (Produce
	// v12+, TxnOffsetCommit v5+) and the coordinator is still completing
	// the previous transaction (CONCURRENT_TRANSACTIONS), the broker tries
	// again this often, for this long, before answering the client.
	AddPartitionsRetryBackoff    time.Duration
	AddPartitionsRetryBackoffMax time.Duration
}

// VerifyPartitions reports transaction.partition.verification.enable.
func (t *Transactions) VerifyPartitions() bool {
	return t.PartitionVerification == nil || *t.PartitionVerification
}

// validate fills the transaction defaults.
func (t *Transactions) validate() error {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&t.MaxTimeout, 15*time.Minute)
	def(&t.IDExpiration, 7*24*time.Hour)
	def(&t.AbortTimedOutInterval, 10*time.Second)
	def(&t.RemoveExpiredInterval, time.Hour)
	def(&t.ProducerIDExpiration, 24*time.Hour)
	def(&t.ProducerIDExpirationCheckInterval, 10*time.Minute)
	def(&t.AddPartitionsRetryBackoff, 20*time.Millisecond)
	def(&t.AddPartitionsRetryBackoffMax, 100*time.Millisecond)
	if t.StateLogMinISR == 0 {
		t.StateLogMinISR = 2
	}
	if t.StateLogLoadBufferSize == 0 {
		t.StateLogLoadBufferSize = 5 << 20
	}
	if t.StateLogPartitions == 0 {
		t.StateLogPartitions = 50
	}
	if t.StateLogReplicationFactor == 0 {
		t.StateLogReplicationFactor = 3
	}
	if t.StateLogSegmentBytes == 0 {
		t.StateLogSegmentBytes = 100 << 20
	}
	if t.MaxTimeout < 0 || t.IDExpiration < 0 || t.AbortTimedOutInterval < 0 || t.RemoveExpiredInterval < 0 ||
		t.StateLogPartitions < 0 || t.StateLogReplicationFactor < 0 || t.StateLogSegmentBytes < 0 ||
		t.StateLogMinISR < 0 || t.StateLogLoadBufferSize < 0 || t.ProducerIDExpiration < 0 || t.ProducerIDExpirationCheckInterval < 0 ||
		t.AddPartitionsRetryBackoff < 0 || t.AddPartitionsRetryBackoffMax < 0 {
		return fmt.Errorf("transaction settings must be positive")
	}
	return nil
}

// applyTxnProperty sets the transaction setting named by a Kafka broker
// config key; ok is false for keys that are not transaction settings.
func applyTxnProperty(t *Transactions, key, value string) (ok bool, err error) {
	ms := func(d *time.Duration) (bool, error) {
		n, err := strconv.ParseInt(value, 10, 64)
		if err == nil {
			*d = time.Duration(n) * time.Millisecond
		}
		return true, err
	}
	integer := func(bits int, set func(int64)) (bool, error) {
		n, err := strconv.ParseInt(value, 10, bits)
		if err == nil {
			set(n)
		}
		return true, err
	}
	switch key {
	case "transaction.max.timeout.ms":
		return ms(&t.MaxTimeout)
	case "transactional.id.expiration.ms":
		return ms(&t.IDExpiration)
	case "transaction.abort.timed.out.transaction.cleanup.interval.ms":
		return ms(&t.AbortTimedOutInterval)
	case "transaction.remove.expired.transaction.cleanup.interval.ms":
		return ms(&t.RemoveExpiredInterval)
	case "transaction.state.log.num.partitions":
		return integer(32, func(n int64) { t.StateLogPartitions = int32(n) })
	case "transaction.state.log.replication.factor":
		return integer(16, func(n int64) { t.StateLogReplicationFactor = int16(n) })
	case "transaction.state.log.segment.bytes":
		return integer(32, func(n int64) { t.StateLogSegmentBytes = int32(n) })
	case "transaction.state.log.min.isr":
		return integer(32, func(n int64) { t.StateLogMinISR = int32(n) })
	case "transaction.state.log.load.buffer.size":
		return integer(32, func(n int64) { t.StateLogLoadBufferSize = int32(n) })
	case "transaction.partition.verification.enable":
		b, err := strconv.ParseBool(value)
		if err == nil {
			t.PartitionVerification = &b
		}
		return true, err
	case "producer.id.expiration.ms":
		return ms(&t.ProducerIDExpiration)
	case "producer.id.expiration.check.interval.ms":
		return ms(&t.ProducerIDExpirationCheckInterval)
	case "add.partitions.to.txn.retry.backoff.ms":
		return ms(&t.AddPartitionsRetryBackoff)
	case "add.partitions.to.txn.retry.backoff.max.ms":
		return ms(&t.AddPartitionsRetryBackoffMax)
	}
	return false, nil
}
