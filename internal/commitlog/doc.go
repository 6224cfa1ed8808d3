// Package commitlog owns one partition's log on disk, in Kafka's layout: a
// directory of segments, each a .log file of RecordBatch v2 bytes exactly as
// produced (only baseOffset and partitionLeaderEpoch patched), an .index
// file mapping offsets to positions, a .timeindex file mapping
// timestamps to offsets and a .txnindex of aborted transactions (Kafka's
// AbortedTxn entries, txnindex.go). The format is specified in
// docs/format/segment.md.
//
//	00000000000000000000.log        batches of offsets [0, 1234)
//	00000000000000000000.index      int32 relative offset, int32 position
//	00000000000000000000.timeindex  int64 timestamp, int32 relative offset
//	00000000000000000000.txnindex   34-byte aborted transactions, if any
//	00000000000000001234.log        the active segment: appends go here
//	...
//	.arus-clean-shutdown            present only while the log is closed cleanly
//	.arus-recovery-point            the log was durable up to here (a checkpoint)
//
// Invariants:
//   - Segments are ordered by base offset and never overlap; the last one is
//     active. LogStartOffset is the first segment's base, or a later offset
//     inside the first segments set by IncrementLogStartOffset
//     (DeleteRecords) and kept in the log-start-offset file (start.go);
//     it only moves forward, and retention deletes segments that end at or
//     before it.
//   - A .log file holds whole, CRC-valid batches only; the published size
//     of a segment always ends at a batch boundary.
//   - A roll seals the old segment (its index files written) and creates
//     the new one without fsync; the next Sync fsyncs the rolled segments
//     and the directory outside the lock, before it vouches for anything
//     after them, and only then moves the recovery point past them (as
//     Kafka's roll hands the old segment to an asynchronous flush). Every
//     segment before the recovery point is durable. Recovery after a crash
//     therefore rescans the segments from the one the .arus-recovery-point
//     file names (from the point in it; every segment when there is no
//     file, recovery.go) and cuts the log at the first invalid batch (a
//     torn tail), removing the segments after it, which a crash before
//     their Sync left unacknowledged. It never removes bytes before an
//     invalid batch.
//   - Index entries are kept in memory for lookups and written to their
//     files in small buffered chunks; the files are complete after a roll or
//     Close and rebuilt from the .log file whenever they are in doubt. The
//     transaction index is the exception: its entries stay on disk (read
//     by read_committed fetches), are written by the owner of the producer
//     state (AppendAbortedTxn), fsynced with the segment, and rebuilt by
//     that owner past the point Open trusts (TxnIndexRebuildFrom).
//   - Offsets never change. Compaction (compact.go, for
//     cleanup.policy=compact) rewrites non-active segments without the
//     records it removes, so segments may have gaps between batches and
//     batches between their records, and a batch may hold no record at all
//     (a producer's last batch). A rewritten segment keeps its base offset
//     and replaces the old files through .cleaned and .swap files that Open
//     rolls back or completes after a crash.
//
// File descriptors: a Log keeps no index file open (entries live in
// memory; the files are opened briefly to load, write, truncate or fsync
// them) and its .log files go through a FileCache shared by the broker
// (fdcache.go): opened on use, closed by a CLOCK sweep when the cache is
// full, never while pinned by an append, an fsync or a reader's snapshot
// (file regions handed to sendfile stay valid until released). A segment
// whose files are deleted or renamed while readers hold it keeps its .log
// open until the last reader is done. So the descriptors of all logs stay
// within the cache's capacity however many partitions and segments there
// are.
//
// Storage faults: every file operation goes through Config.FS (vfs.go),
// so tests fail writes, fsyncs, renames and a full disk at any step
// (internal/arustest/errorfs). A failed write is cut off again and changes
// nothing; a failure that leaves the files in doubt (an fsync, a cut that
// fails, a compaction past its commit point) fails the log: every later
// write and Sync returns the error, Close writes no clean-shutdown marker,
// and the next Open recovers from the files.
//
// Concurrency: one goroutine at a time appends (Append, AppendAsFollower,
// TruncateTo); Read, Sync, OffsetForTimestamp, MaxTimestamp, ScanBatches,
// EnforceRetention, Compact and the accessors may run concurrently with it
// and with each other, except that Compact, EnforceRetention, TruncateTo
// and Close are serialized by the cleaner mutex (TruncateTo and Close make
// a running Compact stop early). Log.mu (an RWMutex) guards the segment
// list and each segment's in-memory state; appends hold it for writing
// to decide where a batch goes (and to roll), release it for the pwrite
// (readers never look past the published size) and hold it again to
// publish the batch. Readers
// copy what they need under the read lock, take a reference on the segments
// and read the files (pread) without the lock; a segment's files close when
// retention has dropped it and the last reader has released it. Because
// TruncateTo lets later appends overwrite bytes a reader planned to read,
// readers compare a truncation counter before and after and retry (a
// sequence lock). Sync fsyncs without the lock, rolled segments too. LogEndOffset,
// LogStartOffset and Size are atomics readable without any lock. Lock
// order: Log.startMu (IncrementLogStartOffset) and the cleaner mutex
// (Log.cleaner.mu), never both, before Log.mu, before a
// segment file's mutex, before FileCache.mu (the cache's eviction only
// tries a file's mutex); nothing else nests. Compact holds the cleaner
// mutex for a whole pass but Log.mu only to take a snapshot and to swap
// the segment list: it reads and writes files outside it, and readers of
// a replaced segment keep its old files open through their reference.
package commitlog
