// Package partition is one partition replica on this broker: its log, the
// high watermark, idempotent-producer state and the waiters of acks and
// long-poll fetches.
//
// On a single replica the high watermark is the durable log end: appends
// are written to the page cache under the append lock, and one flusher
// goroutine per partition fsyncs in a loop, so one fsync covers every
// append that arrived while the previous one ran (group commit). Producers
// with acks=1/all wait until the high watermark passes their batch;
// consumers never see a record that is not yet durable. A failed fsync
// fails every waiting producer with ErrStorage and every later append: the
// log is in doubt until the partition is reopened, which recovers it.
//
// Replication: a leader's ISR and high-watermark decisions live in a pure
// tracker (isr.go) driven with explicit times and tested as transcripts
// (isr_test.go); Partition feeds it fetches and role changes under mu and
// does the I/O.
//
// Transactions (txn.go): each producer's open transaction runs from its
// first transactional batch to the COMMIT or ABORT marker the transaction
// coordinator writes; the last stable offset bounds read_committed reads
// and the aborted transactions are listed for them from the log's
// transaction index (.txnindex), which ABORT markers add to. That state
// is rebuilt from the log whenever the partition opens or truncates, and
// so are the index entries a crash left missing.
//
// Locking: appendMu serialises the writers of the log (appends, follower
// appends, markers, truncation) and is held across their disk writes, so
// offsets are assigned in order and idempotence checks stay atomic with
// the append; a change of leader or leader epoch takes it too. mu guards
// the role, the ISR tracker, producer and transaction state and is held
// only around in-memory work, never across a write or fsync of the log:
// fetches, offset lookups, follower fetches and ISR changes do not wait
// for the disk. An append updates producer state after its write, so the
// high watermark never passes the end up to which that state is recorded
// (stateEnd) nor the durable end. Lock order: appendMu before mu. The high
// watermark is atomic and its changes are broadcast by closing a channel.
package partition
