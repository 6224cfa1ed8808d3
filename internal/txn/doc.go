// Package txn is the transaction coordinator (Kafka's
// TransactionCoordinator) and its state in __transaction_state.
//
// # What it owns
//
// A Coordinator serves InitProducerId with a transactional id,
// AddPartitionsToTxn (and its KIP-890 verification), AddOffsetsToTxn
// (through AddPartitions with the group's offsets partition), EndTxn,
// DescribeTransactions and ListTransactions for the transactional ids
// whose __transaction_state partition this broker leads:
// abs(javaStringHashCode(id)) % partitions, as Kafka computes it. Every
// state change is a record in that partition in Kafka's format (records.go,
// docs/format/transaction-state.md) and is acted on only once it is
// replicated (acks=all). After PrepareCommit/PrepareAbort the coordinator
// sends WriteTxnMarkers to the leaders of the transaction's partitions
// (SendMarkers, retrying while leaders move) and then writes
// CompleteCommit/CompleteAbort. A new leader of a state partition loads it
// (COORDINATOR_LOAD_IN_PROGRESS meanwhile) and finishes the prepared
// transactions it finds.
//
// KIP-890 part 2: an EndTxn of transaction version 2 (EndTxn v5+) prepares
// with the producer epoch bumped (or, when it is exhausted, a next
// producer id the transactional id moves to on completion), so the markers
// carry the new epoch and fence every late write of the finished
// transaction; retries are recognised by the epoch below the current one.
// Part 1 verification (VerifyPartitions) answers whether partitions are in
// the producer's ongoing transaction.
//
// # Structure and concurrency
//
//	Coordinator   routing by transactional id, state topic creation, shard lifecycle
//	shard         one goroutine per state partition: load, inbox, timers, writes, marker rounds
//	txnSet        pure: the state machine over the partition's transactional ids (state.go)
//
// txnSet has no goroutines, clock or I/O: methods take the time and ask the
// store interface for writes and marker rounds, whose completions come back
// on the shard goroutine. Tests drive it with a fake store and clock. A
// shard's goroutine owns its txnSet; request methods send closures to its
// inbox and wait for the reply. Coordinator.mu guards the shard map only
// and is never held while calling the controller.
package txn
