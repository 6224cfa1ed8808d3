package txn

// Records of __transaction_state (spec: docs/format/transaction-state.md),
// in Kafka's own encodings (kmsg's TxnMetadataKey/Value, key version 0,
// value version 0 or the flexible version 1 of KIP-915), so Kafka tools
// reading the topic understand them and the log compacts by key:
//
//	key   int16 version 0, string transactional id
//	value producer id, epoch, timeout, state, partitions, timestamps;
//	      null value: the transactional id expired (tombstone)
//
// These formats must never change: they are on disk.

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// StateTopic is the internal topic holding transaction state.
const StateTopic = "__transaction_state"

// State is a transaction's state, with Kafka's numbering (TransactionState).
type State int8

// Transaction states; the values are on disk.
const (
	StateEmpty             State = 0
	StateOngoing           State = 1
	StatePrepareCommit     State = 2
	StatePrepareAbort      State = 3
	StateCompleteCommit    State = 4
	StateCompleteAbort     State = 5
	StateDead              State = 6
	StatePrepareEpochFence State = 7
)

// String is Kafka's name of the state (DescribeTransactions, ListTransactions).
func (s State) String() string {
	switch s {
	case StateEmpty:
		return "Empty"
	case StateOngoing:
		return "Ongoing"
	case StatePrepareCommit:
		return "PrepareCommit"
	case StatePrepareAbort:
		return "PrepareAbort"
	case StateCompleteCommit:
		return "CompleteCommit"
	case StateCompleteAbort:
		return "CompleteAbort"
	case StateDead:
		return "Dead"
	case StatePrepareEpochFence:
		return "PrepareEpochFence"
	}
	return fmt.Sprintf("Unknown(%d)", int8(s))
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Metadata is the durable state of one transactional id.
type Metadata struct {
	ID             string
	ProducerID     int64
	ProducerEpoch  int16
	LastProducerID int64 // the id before an epoch exhaustion or -1
	LastEpoch      int16 // the epoch before the last bump, or -1
	Timeout        time.Duration
	State          State
	Partitions     []TopicPartition // sorted
	Start          time.Time        // when the current transaction began; zero when none
	Update         time.Time        // last state change
	// ClientVersion is the transaction version the client ended its last
	// transaction with (Kafka's ClientTransactionVersion): 2 when it
	// used EndTxn v5+ (KIP-890 part 2, an epoch bump at every end), else 0.
	ClientVersion int16
	// NextProducerID is the producer id a prepared transaction-version-2
	// transaction moves to when it completes because its epoch is
	// exhausted; set only with HasNextProducerID.
	NextProducerID    int64
	HasNextProducerID bool
}

func (m *Metadata) clone() Metadata {
	c := *m
	c.Partitions = slices.Clone(m.Partitions)
	return c
}

func (m *Metadata) has(tp TopicPartition) bool {
	_, ok := slices.BinarySearchFunc(m.Partitions, tp, compareTP)
	return ok
}

func (m *Metadata) addPartitions(tps []TopicPartition) {
	for _, tp := range tps {
		if i, ok := slices.BinarySearchFunc(m.Partitions, tp, compareTP); !ok {
			m.Partitions = slices.Insert(m.Partitions, i, tp)
		}
	}
}

func compareTP(a, b TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

func stateKey(id string) []byte {
	k := kmsg.TxnMetadataKey{Version: 0, TransactionalID: id}
	return k.AppendTo(nil)
}

func stateValue(m *Metadata) []byte {
	v := kmsg.NewTxnMetadataValue()
	v.Version = 0
	if m.ClientVersion > 0 || m.HasNextProducerID {
		// Kafka's flexible version 1 (KIP-890) carries what version 0
		// cannot; ids that never used transaction version 2 keep writing
		// version 0.
		v.Version = 1
		v.ClientTransactionVersion = m.ClientVersion
		if m.LastProducerID >= 0 {
			v.PreviousProducerID = m.LastProducerID
		}
		if m.HasNextProducerID {
			v.NextProducerID = m.NextProducerID
		}
	}
	v.ProducerID, v.ProducerEpoch = m.ProducerID, m.ProducerEpoch
	v.TimeoutMillis = int32(m.Timeout.Milliseconds())
	v.State = kmsg.TransactionState(m.State)
	for _, tp := range m.Partitions {
		if n := len(v.Topics); n > 0 && v.Topics[n-1].Topic == tp.Topic {
			v.Topics[n-1].Partitions = append(v.Topics[n-1].Partitions, tp.Partition)
			continue
		}
		v.Topics = append(v.Topics, kmsg.TxnMetadataValueTopic{Topic: tp.Topic, Partitions: []int32{tp.Partition}})
	}
	v.LastUpdateTimestamp = m.Update.UnixMilli()
	v.StartTimestamp = -1
	if !m.Start.IsZero() {
		v.StartTimestamp = m.Start.UnixMilli()
	}
	return v.AppendTo(nil)
}

// decodeRecord decodes one record; the metadata is nil for a tombstone.
func decodeRecord(key, value []byte) (string, *Metadata, error) {
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return "", nil, fmt.Errorf("transaction state key: %w", err)
	}
	if k.Version != 0 {
		return "", nil, fmt.Errorf("transaction state key version %d", k.Version)
	}
	if value == nil {
		return k.TransactionalID, nil, nil
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return "", nil, fmt.Errorf("transaction state of %q: %w", k.TransactionalID, err)
	}
	m := &Metadata{
		ID: k.TransactionalID, ProducerID: v.ProducerID, ProducerEpoch: v.ProducerEpoch,
		LastProducerID: v.PreviousProducerID, LastEpoch: -1,
		NextProducerID: v.NextProducerID, HasNextProducerID: v.NextProducerID >= 0, ClientVersion: v.ClientTransactionVersion,
		Timeout: time.Duration(v.TimeoutMillis) * time.Millisecond, State: State(v.State),
		Update: time.UnixMilli(v.LastUpdateTimestamp),
	}
	if v.StartTimestamp >= 0 && m.State != StateEmpty {
		m.Start = time.UnixMilli(v.StartTimestamp)
	}
	for _, t := range v.Topics {
		for _, p := range t.Partitions {
			m.Partitions = append(m.Partitions, TopicPartition{t.Topic, p})
		}
	}
	slices.SortFunc(m.Partitions, compareTP)
	return k.TransactionalID, m, nil
}
