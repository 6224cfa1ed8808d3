package api

// KIP-890 on the write path: before a transactional batch opens a
// transaction on a partition (Produce) or a group's offsets partition
// (TxnOffsetCommit), the broker asks the transactional id's coordinator
// whether the partition is in the producer's transaction (VerifyOnly,
// part 1, for clients of the classic protocol) or to add it (part 2:
// Produce v12+ and TxnOffsetCommit v5+, whose clients no longer send
// AddPartitionsToTxn/AddOffsetsToTxn). Kafka's AddPartitionsToTxnManager
// sends these as AddPartitionsToTxn v4+ between brokers; arus does the
// same for a coordinator on another broker (one request per produce
// request, carrying all its partitions) and calls its own coordinator
// directly. The answers are translated as Kafka's AddPartitionsToTxnManager
// and ReplicaManager.handleProduceAppend translate them.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/txn"
)

// txnVerifyTimeout bounds a verification round trip (Kafka's
// request.timeout.ms for inter-broker requests is 30 s).
const txnVerifyTimeout = 30 * time.Second

// txnCheck is one transactional write to verify.
type txnCheck struct {
	id    string
	pid   int64
	epoch int16
	// add adds the partitions to the transaction (KIP-890 part 2) instead
	// of only verifying them.
	add bool
	// abortable: the client's request version knows TRANSACTION_ABORTABLE
	// (Produce v11+, TxnOffsetCommit v4+); older ones get INVALID_TXN_STATE.
	abortable bool
}

// verifyTxnPartitions asks the coordinator of c.id about tps and returns
// one code per partition (0: verified or added), after Kafka's
// AddPartitionsToTxnManager translation: PRODUCER_FENCED becomes
// INVALID_PRODUCER_EPOCH and TRANSACTION_ABORTABLE INVALID_TXN_STATE for
// clients that predate it.
func (h *Handlers) verifyTxnPartitions(ctx context.Context, im *metadata.Image, c txnCheck, tps []txn.TopicPartition) []int16 {
	ctx, cancel := context.WithTimeout(ctx, txnVerifyTimeout)
	defer cancel()
	codes := h.askTxnCoordinator(ctx, im, c, tps)
	if c.add {
		// KAFKA-18654: an add right after the previous transaction ended
		// usually finds its markers still being written; retry on the
		// server for add.partitions.to.txn.retry.backoff.max.ms.
		backoff, limit := 20*time.Millisecond, 100*time.Millisecond
		if b := h.deps.Broker; b != nil && b.Transactions.AddPartitionsRetryBackoff > 0 {
			backoff, limit = b.Transactions.AddPartitionsRetryBackoff, b.Transactions.AddPartitionsRetryBackoffMax
		}
		deadline := time.Now().Add(limit)
		for slices.Contains(codes, kerr.ConcurrentTransactions.Code) && time.Now().Add(backoff).Before(deadline) {
			timer := time.NewTimer(backoff)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return codes
			}
			codes = h.askTxnCoordinator(ctx, im, c, tps)
		}
	}
	for i, code := range codes {
		switch {
		case code == kerr.ProducerFenced.Code:
			codes[i] = kerr.InvalidProducerEpoch.Code
		case code == kerr.TransactionAbortable.Code && !c.abortable:
			codes[i] = kerr.InvalidTxnState.Code
		}
	}
	return codes
}

func (h *Handlers) askTxnCoordinator(ctx context.Context, im *metadata.Image, c txnCheck, tps []txn.TopicPartition) []int16 {
	codes := make([]int16, len(tps))
	all := func(code int16) []int16 {
		for i := range codes {
			codes[i] = code
		}
		return codes
	}
	t := im.Topics[txn.StateTopic]
	if t == nil || len(t.Partitions) == 0 {
		// No state topic: no transaction was ever started.
		return all(kerr.CoordinatorNotAvailable.Code)
	}
	leader := t.Partitions[txn.PartitionFor(c.id, int32(len(t.Partitions)))].Leader
	if _, ok := im.Brokers[leader]; !ok || leader < 0 {
		return all(kerr.CoordinatorNotAvailable.Code)
	}
	if h.deps.Broker != nil && leader == h.deps.Broker.NodeID {
		coord, err := h.txnCoordinator()
		if err != nil {
			return all(errorCode(h.deps.Logger, err))
		}
		if c.add {
			return all(h.txnErrorCode(coord.AddPartitions(ctx, c.id, c.pid, c.epoch, tps), true))
		}
		for i, err := range coord.VerifyPartitions(ctx, c.id, c.pid, c.epoch, tps) {
			codes[i] = h.txnErrorCode(err, true)
		}
		return codes
	}
	if h.deps.SendToNode == nil {
		return all(kerr.CoordinatorNotAvailable.Code)
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	rt := kmsg.NewAddPartitionsToTxnRequestTransaction()
	rt.TransactionalID, rt.ProducerID, rt.ProducerEpoch, rt.VerifyOnly = c.id, c.pid, c.epoch, !c.add
	for _, tp := range tps {
		if n := len(rt.Topics); n == 0 || rt.Topics[n-1].Topic != tp.Topic {
			rt.Topics = append(rt.Topics, kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: tp.Topic})
		}
		top := &rt.Topics[len(rt.Topics)-1]
		top.Partitions = append(top.Partitions, tp.Partition)
	}
	req.Transactions = append(req.Transactions, rt)
	raw, err := h.deps.SendToNode(ctx, leader, req)
	if err != nil {
		h.deps.Logger.Debug("transaction verification", "coordinator", leader, "transactional_id", c.id, "err", err)
		return all(kerr.NetworkException.Code)
	}
	resp := raw.(*kmsg.AddPartitionsToTxnResponse)
	if resp.Version < 4 {
		return all(kerr.UnsupportedVersion.Code)
	}
	if resp.ErrorCode != 0 {
		if resp.ErrorCode == kerr.ClusterAuthorizationFailed.Code {
			// Kafka does not show the client an inter-broker
			// authorization failure: the verification did not complete.
			return all(kerr.InvalidTxnState.Code)
		}
		return all(resp.ErrorCode)
	}
	got := map[txn.TopicPartition]int16{}
	for _, tr := range resp.Transactions {
		if tr.TransactionalID != c.id {
			continue
		}
		for _, top := range tr.Topics {
			for _, p := range top.Partitions {
				got[txn.TopicPartition{Topic: top.Topic, Partition: p.Partition}] = p.ErrorCode
			}
		}
	}
	for i, tp := range tps {
		code, ok := got[tp]
		if !ok {
			code = kerr.UnknownServerError.Code
		}
		codes[i] = code
	}
	return codes
}

// verifyTxns reports transaction.partition.verification.enable.
func (h *Handlers) verifyTxns() bool {
	return h.deps.Broker == nil || h.deps.Broker.Transactions.VerifyPartitions()
}

// produceVerifyError is how Produce answers a failed verification
// (ReplicaManager.handleProduceAppend): retriable coordinator errors
// become NOT_ENOUGH_REPLICAS, which every client retries without a
// metadata refresh; from v12 CONCURRENT_TRANSACTIONS is answered as is.
func produceVerifyError(code int16, version int16) (int16, string) {
	if code == kerr.ConcurrentTransactions.Code && version >= 12 {
		// KAFKA-18662: clients of Produce v12+ know it is retriable.
		return code, ""
	}
	switch code {
	case kerr.InvalidTxnState.Code:
		return code, "Partition was not added to the transaction"
	case kerr.ConcurrentTransactions.Code, kerr.NetworkException.Code, kerr.CoordinatorLoadInProgress.Code,
		kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
		return kerr.NotEnoughReplicas.Code, fmt.Sprintf("Unable to verify the partition has been added to the transaction. Underlying error: %s",
			kerr.ErrorForCode(code))
	}
	return code, ""
}
