package partition

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arus-io/arus/internal/commitlog"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/record"
)

// Errors returned to callers, mapped to Kafka codes by internal/api.
var (
	// ErrClosed is returned for operations on a closed (or deleted) partition.
	ErrClosed = errors.New("partition: closed")
	// ErrStorage wraps I/O failures of the log: the write may not be durable.
	ErrStorage = errors.New("partition: storage error")
	// ErrNotLeader: this replica is a follower (NOT_LEADER_OR_FOLLOWER).
	ErrNotLeader = errors.New("partition: not the leader")
	// ErrNotEnoughReplicas: acks=all while the ISR is below min.insync.replicas.
	ErrNotEnoughReplicas = errors.New("partition: in-sync replicas below min.insync.replicas")
	// ErrNotEnoughReplicasAfterAppend: appended, but the ISR shrank below
	// min.insync.replicas before the batch was replicated.
	ErrNotEnoughReplicasAfterAppend = errors.New("partition: in-sync replicas fell below min.insync.replicas after append")
	// ErrUnknownReplica: a fetch from a broker that is not a replica.
	ErrUnknownReplica = errors.New("partition: fetch from a broker that is not a replica")
	// ErrFencedLeaderEpoch / ErrUnknownLeaderEpoch: the requester's leader
	// epoch is older / newer than ours (KIP-320).
	ErrFencedLeaderEpoch  = errors.New("partition: fenced leader epoch")
	ErrUnknownLeaderEpoch = errors.New("partition: unknown leader epoch")
)

// Config of a partition.
type Config struct {
	Topic     string
	Index     int32
	Dir       string
	TopicConf config.Topic
	// Role is the replica's initial role; the zero Role (no replicas)
	// means a single-replica leader on broker 0.
	Role   Role
	Now    func() time.Time
	Logger *slog.Logger
	// ReplicaLagMax is replica.lag.time.max.ms (default 30 s).
	ReplicaLagMax time.Duration
	// Files is the broker's segment file cache (nil: the process-wide one).
	Files *commitlog.FileCache
	// Flushes, when set, is told about every group-commit fsync.
	Flushes FlushObserver
	// RecoveryPointInterval is log.flush.offset.checkpoint.interval.ms
	// (default 60 s): how often the flusher writes the log's recovery
	// point when it moved, which bounds what a restart after a crash
	// rescans (commitlog.Log.CheckpointRecoveryPoint).
	RecoveryPointInterval time.Duration
	// FS is the log's file system (nil: commitlog.OS); tests inject
	// storage faults through it. Checkpoint files (producer snapshots,
	// leader epochs, high watermark) still use package os.
	FS commitlog.FS
}

// FlushObserver is told how long each group-commit fsync took and how many
// appends it made durable (internal/metrics implements it). Called from
// the partition's flusher goroutine.
type FlushObserver interface {
	ObserveFlush(d time.Duration, appends int)
}

func (c Config) logConfig() commitlog.Config {
	return commitlog.Config{
		SegmentBytes:       c.TopicConf.SegmentBytes,
		SegmentMs:          c.TopicConf.SegmentMs,
		RetentionMs:        retentionMs(c.TopicConf),
		RetentionBytes:     retentionBytes(c.TopicConf),
		IndexIntervalBytes: c.TopicConf.IndexIntervalBytes,
		Now:                c.Now,
		Files:              c.Files,
		FS:                 c.FS,
	}
}

// Compacted topics without "delete" keep data regardless of retention.
func retentionMs(t config.Topic) int64 {
	if !t.CleanupDelete {
		return -1
	}
	return t.RetentionMs
}

func retentionBytes(t config.Topic) int64 {
	if !t.CleanupDelete {
		return -1
	}
	return t.RetentionBytes
}

// Role is what the metadata says about this replica.
type Role struct {
	Self           int32
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas       []int32
	ISR            []int32
}

// IsLeader reports whether this replica leads.
func (r Role) IsLeader() bool { return r.Leader == r.Self }

// Partition is one partition replica. Safe for concurrent use.
type Partition struct {
	topic         string
	index         int32
	dir           string
	now           func() time.Time
	logger        *slog.Logger
	log           *commitlog.Log
	replicaLagMax time.Duration
	rpInterval    time.Duration // Config.RecoveryPointInterval

	conf atomic.Pointer[config.Topic]
	// flushed is the local durable log end whose batches the partition
	// state reflects: min(mu.synced, mu.stateEnd). Written under mu.
	flushed atomic.Int64
	hw      atomic.Int64 // high watermark: what consumers may read

	// appendMu serialises the writers of the log (appends, follower
	// appends, markers, truncation) and is held across their disk writes,
	// so offsets are assigned in order and producer checks stay atomic
	// with the append. Readers, fetches, ISR and follower-state updates
	// never take it; a change of leadership or leader epoch does, so an
	// append never straddles one. Lock order: appendMu before mu.
	appendMu sync.Mutex

	// mu guards the state below; it is never held across a disk write or
	// fsync of the log.
	mu struct {
		sync.Mutex
		producers map[int64]*producerEntry
		closed    bool
		role      Role
		tracker   *tracker // leader only: followers, ISR and HW decisions (isr.go)
		epochs    epochCache
		leaderHW  int64 // follower only: the leader's HW from the last fetch
		txns      txnTracker
		// verifying holds the KIP-890 verification in progress per
		// producer id (verify.go); nil until the first.
		verifying map[int64]verification
		lastGuard uint64
		// stateEnd is the log end offset up to which producers, txns and
		// epochs reflect the log; the log's own end may be ahead while an
		// append is between its write and its state update.
		stateEnd int64
		// synced is the log end the last Sync made durable; truncations
		// counts TruncateTo calls so that a Sync that raced one is
		// ignored.
		synced      int64
		truncations uint64
	}

	notify struct {
		sync.Mutex
		hwChanged  chan struct{} // closed and replaced when hw moves
		leoChanged chan struct{} // closed and replaced on every append
		err        error         // sticky fsync failure
	}

	// lowWM.changed is closed when the low watermark may have moved
	// (log_start.go); nil until someone waits.
	lowWM struct {
		sync.Mutex
		changed chan struct{}
	}

	// hwCheckpoint is the high watermark the checkpoint file holds (0
	// when there is none: a missing file reads as 0), so CheckpointHW
	// touches no file while it did not move; thousands of idle partitions
	// then cost nothing per checkpoint round.
	hwCheckpoint struct {
		sync.Mutex
		written int64
	}

	flushReq chan struct{}
	flushes  FlushObserver // nil: none
	unsynced atomic.Int64  // appends since the last fsync started (metrics)
	stop     chan struct{}
	done     chan struct{}
}

// Open opens the partition's log (recovering it if needed), rebuilds the
// idempotent-producer state and the leader-epoch cache, and starts the flusher.
func Open(cfg Config) (*Partition, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReplicaLagMax == 0 {
		cfg.ReplicaLagMax = 30 * time.Second
	}
	if cfg.RecoveryPointInterval <= 0 {
		cfg.RecoveryPointInterval = DefaultRecoveryPointInterval
	}
	if len(cfg.Role.Replicas) == 0 {
		cfg.Role = Role{Self: cfg.Role.Self, Leader: cfg.Role.Self, Replicas: []int32{cfg.Role.Self}, ISR: []int32{cfg.Role.Self}}
	}
	logger := cfg.Logger.With("topic", cfg.Topic, "partition", cfg.Index)
	l, err := commitlog.Open(cfg.Dir, cfg.logConfig(), logger)
	if err != nil {
		return nil, fmt.Errorf("open %s-%d: %w", cfg.Topic, cfg.Index, err)
	}
	p := &Partition{
		topic: cfg.Topic, index: cfg.Index, dir: cfg.Dir, now: cfg.Now, logger: logger, log: l,
		replicaLagMax: cfg.ReplicaLagMax, flushes: cfg.Flushes, rpInterval: cfg.RecoveryPointInterval,
		flushReq: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	tc := cfg.TopicConf
	p.conf.Store(&tc)
	leo := l.LogEndOffset()
	p.flushed.Store(leo)
	p.mu.stateEnd, p.mu.synced = leo, leo
	p.notify.hwChanged = make(chan struct{})
	p.notify.leoChanged = make(chan struct{})
	if err := p.rebuildState(); err != nil {
		l.Close()
		return nil, err
	}
	// A restarted single replica has everything durable (recovery
	// truncated the rest). A replicated one starts from its last
	// checkpointed HW (never above its log end) and learns newer ones from
	// the leader or, as leader, from its followers.
	p.hwCheckpoint.written = readHWCheckpoint(cfg.Dir)
	if len(cfg.Role.Replicas) <= 1 {
		p.hw.Store(leo)
	} else {
		p.hw.Store(min(p.hwCheckpoint.written, leo))
	}
	p.SetRole(cfg.Role)
	go p.flushLoop()
	return p, nil
}

// rebuildState loads the newest producer snapshot and replays batch
// headers to rebuild producer state and the leader-epoch cache.
func (p *Partition) rebuildState() error {
	leo := p.log.LogEndOffset()
	from, producers, ok := loadSnapshot(p.dir, leo)
	if !ok || from < p.log.LogStartOffset() {
		from, producers = p.log.LogStartOffset(), map[int64]*producerEntry{}
	}
	var epochs epochCache
	err := p.log.ScanBatches(p.log.LogStartOffset(), func(h record.Header) error {
		epochs = epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset)
		if h.ProducerID < 0 || h.BaseOffset < from {
			return nil
		}
		e := producers[h.ProducerID]
		if e == nil {
			e = &producerEntry{Epoch: h.ProducerEpoch}
			producers[h.ProducerID] = e
		}
		e.observe(&h, h.MaxTimestamp)
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild state of %s-%d: %w", p.topic, p.index, err)
	}
	// Epochs that wrote nothing yet (a leader that never appended) come
	// from the checkpoint.
	for _, e := range readEpochCheckpoint(p.dir) {
		if e.StartOffset >= leo {
			epochs = epochs.assign(e.Epoch, e.StartOffset)
		}
	}
	txns, err := p.scanTxns()
	if err != nil {
		return fmt.Errorf("rebuild transactions of %s-%d: %w", p.topic, p.index, err)
	}
	p.mu.producers = producers
	p.mu.epochs = epochs
	p.mu.txns = txns
	return nil
}

// Topic returns the topic name.
func (p *Partition) Topic() string { return p.topic }

// Index returns the partition number.
func (p *Partition) Index() int32 { return p.index }

// SetTopicConfig applies changed topic configs.
func (p *Partition) SetTopicConfig(tc config.Topic) {
	p.conf.Store(&tc)
	p.log.SetConfig(Config{TopicConf: tc, Now: p.now}.logConfig())
	p.mu.Lock()
	p.maybeAdvanceHWLocked()
	p.mu.Unlock()
}

// CompressionType is the topic's compression.type as this partition
// applies it (producer, uncompressed, gzip, snappy, lz4 or zstd).
func (p *Partition) CompressionType() string { return p.conf.Load().CompressionType }

// Role returns the current role.
func (p *Partition) Role() Role {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.role
}

// SetRole applies the metadata's view of this partition: leader or
// follower, leader epoch, replicas and ISR. A change of the ISR or
// replicas within one leadership does not wait for an append's disk
// write; a change of leader or leader epoch does (appendMu), so no append
// is stamped with an epoch that ended.
func (p *Partition) SetRole(r Role) {
	p.mu.Lock()
	old := p.mu.role
	if old.Leader != r.Leader || old.LeaderEpoch != r.LeaderEpoch || old.Self != r.Self {
		p.mu.Unlock()
		p.appendMu.Lock()
		defer p.appendMu.Unlock()
		p.mu.Lock()
	}
	epochs, write := p.setRoleLocked(r)
	p.mu.Unlock()
	if write {
		if err := writeEpochCheckpoint(p.dir, epochs); err != nil {
			p.logger.Warn("write leader epoch checkpoint", "err", err)
		}
	}
}

// setRoleLocked applies r; it returns the epoch cache when it changed and
// must be written to its checkpoint (the caller holds appendMu then).
func (p *Partition) setRoleLocked(r Role) (epochCache, bool) {
	old := p.mu.role
	p.mu.role = r
	if old.IsLeader() && (!r.IsLeader() || old.LeaderEpoch != r.LeaderEpoch) {
		// Fetches long-polling on the old leadership answer now
		// (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH) instead of at
		// their MaxWait, so clients move to the new leader at once.
		p.wakeWaiters()
		p.signalLowWatermark() // DeleteRecords waiters answer NOT_LEADER_OR_FOLLOWER
	}
	if !r.IsLeader() {
		p.mu.tracker = nil
		return nil, false
	}
	now := p.now()
	write := false
	if !old.IsLeader() || old.LeaderEpoch != r.LeaderEpoch || p.mu.tracker == nil {
		// A new leadership: remember where this epoch starts and give
		// every follower a full lag period before it can be dropped.
		if r.LeaderEpoch > p.mu.epochs.latest() {
			p.mu.epochs = p.mu.epochs.assign(r.LeaderEpoch, p.mu.stateEnd)
			write = true
		}
		var epochStart int64
		if n := len(p.mu.epochs); n > 0 {
			epochStart = p.mu.epochs[n-1].StartOffset
		}
		p.mu.tracker = newTracker(r, epochStart, now)
	} else {
		p.mu.tracker.setRole(r, now)
	}
	p.maybeAdvanceHWLocked()
	return p.mu.epochs, write
}

// maybeAdvanceHWLocked recomputes a leader's high watermark: the smallest
// log end offset over the ISR (its own counted only once durable), moved
// only forward and only while the ISR has min.insync.replicas members.
func (p *Partition) maybeAdvanceHWLocked() {
	if !p.mu.role.IsLeader() || p.mu.tracker == nil {
		return
	}
	if hw, ok := p.mu.tracker.highWatermark(p.flushed.Load(), int(p.conf.Load().MinInsyncReplicas)); ok {
		p.setHW(hw)
	}
}

// setHW moves the high watermark forward and wakes its waiters.
func (p *Partition) setHW(hw int64) {
	if hw <= p.hw.Load() {
		return
	}
	p.notify.Lock()
	defer p.notify.Unlock()
	if hw > p.hw.Load() {
		p.hw.Store(hw)
		close(p.notify.hwChanged)
		p.notify.hwChanged = make(chan struct{})
	}
}

func (p *Partition) signalAppended() {
	if p.flushes != nil {
		p.unsynced.Add(1)
	}
	p.notify.Lock()
	close(p.notify.leoChanged)
	p.notify.leoChanged = make(chan struct{})
	p.notify.Unlock()
	select {
	case p.flushReq <- struct{}{}:
	default:
	}
}

// AppendResult describes an appended (or duplicate) batch.
type AppendResult struct {
	BaseOffset     int64
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
	Duplicate      bool
	// End is the offset after the batch: what to wait for before
	// acknowledging (see WaitDurable and WaitReplicated).
	End int64
}

// Append validates one producer batch, checks idempotence and appends it
// to the page cache; a duplicate of a recent batch is not appended again
// and reports the original offsets. With acks=-1 it first checks the ISR
// against min.insync.replicas. Wait with WaitDurable (acks=1) or
// WaitReplicated (acks=all) before acknowledging.
func (p *Partition) Append(batch []byte, acks int16) (AppendResult, error) {
	return p.AppendContext(context.Background(), batch, acks)
}

// AppendContext is Append with a context that bounds the wait for the
// decompression budget while the batch's records are validated
// (record.ValidateProduce): a batch that breaks a rule appends nothing.
func (p *Partition) AppendContext(ctx context.Context, batch []byte, acks int16) (AppendResult, error) {
	return p.appendBatch(ctx, batch, acks, false, 0)
}

// AppendVerified is AppendContext for a transactional batch whose
// partition the transaction coordinator verified (KIP-890 part 1): guard
// is what StartTxnVerification returned. If the batch would open a
// transaction here and the verification is no longer current (a marker
// ended the producer's transaction meanwhile, or a newer verification
// replaced it), nothing is appended and the error is ErrInvalidTxnState.
// A zero guard checks nothing.
func (p *Partition) AppendVerified(ctx context.Context, batch []byte, acks int16, guard uint64) (AppendResult, error) {
	return p.appendBatch(ctx, batch, acks, false, guard)
}

// AppendFromCoordinator appends a batch a coordinator of this broker
// wrote (transactional offset commits in __consumer_offsets): like a
// client's, but a transactional batch carries the producer's id and epoch
// without a sequence, which is not checked (Kafka's AppendOrigin.COORDINATOR).
func (p *Partition) AppendFromCoordinator(batch []byte, acks int16) (AppendResult, error) {
	return p.appendBatch(context.Background(), batch, acks, true, 0)
}

func (p *Partition) appendBatch(ctx context.Context, batch []byte, acks int16, coordinator bool, guard uint64) (AppendResult, error) {
	conf := p.conf.Load()
	res := AppendResult{LogAppendTime: -1}
	batch, h, err := p.storedBatch(ctx, batch, conf, coordinator)
	if err != nil {
		return res, err
	}
	// appendMu keeps the checks below true until the state update after
	// the write: producer state and the leader epoch change only under it.
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.mu.Lock()
	switch {
	case p.mu.closed:
		p.mu.Unlock()
		return res, ErrClosed
	case !p.mu.role.IsLeader():
		p.mu.Unlock()
		return res, ErrNotLeader
	case acks == -1 && len(p.mu.role.ISR) < int(conf.MinInsyncReplicas):
		err := fmt.Errorf("%w: ISR %v, min.insync.replicas %d", ErrNotEnoughReplicas, p.mu.role.ISR, conf.MinInsyncReplicas)
		p.mu.Unlock()
		return res, err
	}
	leaderEpoch := p.mu.role.LeaderEpoch
	now := p.now().UnixMilli()
	var entry *producerEntry
	if h.ProducerID >= 0 {
		entry = p.mu.producers[h.ProducerID]
		if entry != nil {
			if dup, ok := entry.duplicate(&h); ok {
				p.mu.Unlock()
				res.BaseOffset, res.Duplicate, res.End = dup.FirstOffset, true, dup.LastOffset+1
				res.LogStartOffset = p.log.LogStartOffset()
				return res, nil
			}
		}
		if coordinator && h.BaseSequence == record.NoSequence {
			if entry != nil && h.ProducerEpoch < entry.Epoch {
				p.mu.Unlock()
				return res, fmt.Errorf("%w: epoch %d is older than the current %d", ErrInvalidProducerEpoch, h.ProducerEpoch, entry.Epoch)
			}
		} else if err := entry.check(&h); err != nil {
			p.mu.Unlock()
			return res, err
		}
		if guard != 0 {
			if err := p.checkVerificationLocked(&h, guard); err != nil {
				p.mu.Unlock()
				return res, err
			}
		}
	}
	p.mu.Unlock()
	if conf.LogAppendTime {
		record.SetLogAppendTime(batch, now)
		h.MaxTimestamp = now
		res.LogAppendTime = now
	}
	// The disk write, and a roll, run without mu: fetches, ListOffsets and
	// follower fetches do not wait for them.
	base, err := p.log.Append(batch, &h, leaderEpoch)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	p.mu.Lock()
	if h.ProducerID >= 0 {
		if entry == nil {
			entry = &producerEntry{Epoch: h.ProducerEpoch}
			p.mu.producers[h.ProducerID] = entry
		}
		entry.update(&h, now)
		_, _, err = p.mu.txns.observe(&h, nil)
		if err == nil && h.IsTransactional() {
			delete(p.mu.verifying, h.ProducerID) // the transaction is open here now
		}
	}
	p.appendedLocked(h.NextOffset())
	p.mu.Unlock()
	if err != nil {
		return res, err
	}
	res.BaseOffset = base
	res.LogStartOffset = p.log.LogStartOffset()
	res.End = h.NextOffset()
	p.signalAppended()
	return res, nil
}

// appendedLocked records that the partition state now reflects the log up
// to end, and counts what a finished Sync already covered as durable.
func (p *Partition) appendedLocked(end int64) {
	p.mu.stateEnd = end
	p.updateFlushedLocked()
}

// updateFlushedLocked sets flushed to min(synced, stateEnd) when that is
// ahead: the high watermark never passes a batch whose producer or
// transaction state is not yet recorded (read_committed's LSO depends on
// it), nor one that is not durable.
func (p *Partition) updateFlushedLocked() {
	if f := min(p.mu.synced, p.mu.stateEnd); f > p.flushed.Load() {
		p.flushed.Store(f)
		p.maybeAdvanceHWLocked()
	}
}

// storedBatch validates a produced batch (record.ValidateProduce) and
// returns the bytes to append with their header: the batch itself, its
// maxTimestamp patched to the largest record timestamp as Kafka does, or,
// when the topic's compression.type names a codec other than the batch's,
// a new batch recompressed with that codec (record.ValidateRecompress, as
// Kafka's LogValidator rebuilds such batches). Nothing is appended here.
func (p *Partition) storedBatch(ctx context.Context, batch []byte, conf *config.Topic, coordinator bool) ([]byte, record.Header, error) {
	rules := record.Rules{
		MaxBytes:             int(conf.MaxMessageBytes),
		Compacted:            conf.CleanupCompact,
		CheckTimestamps:      true,
		LogAppendTime:        conf.LogAppendTime,
		Now:                  p.now().UnixMilli(),
		TimestampBeforeMaxMs: conf.TimestampBeforeMaxMs,
		TimestampAfterMaxMs:  conf.TimestampAfterMaxMs,
		Topic:                p.topic,
		Partition:            p.index,
		Coordinator:          coordinator,
	}
	var (
		h   record.Header
		err error
	)
	if target, ok := targetCompression(conf); ok {
		batch, h, err = record.ValidateRecompress(ctx, batch, rules, target)
	} else {
		h, err = record.ValidateProduce(ctx, batch, rules)
	}
	if err != nil {
		return nil, h, err
	}
	if stored, _ := record.ParseHeader(batch); !conf.LogAppendTime && stored.MaxTimestamp != h.MaxTimestamp {
		// Kafka keeps the largest record timestamp, not the producer's claim.
		record.SetMaxTimestamp(batch, h.MaxTimestamp)
		h.CRC = record.ComputeCRC(batch)
	}
	return batch, h, nil
}

// targetCompression is the codec the topic stores batches with, false
// for compression.type=producer (each batch as its producer sent it).
func targetCompression(conf *config.Topic) (record.Compression, bool) {
	switch conf.CompressionType {
	case "uncompressed":
		return record.Compression{Codec: record.CodecNone}, true
	case "gzip":
		return record.Compression{Codec: record.CodecGzip, Level: conf.GzipLevel}, true
	case "snappy":
		return record.Compression{Codec: record.CodecSnappy}, true
	case "lz4":
		return record.Compression{Codec: record.CodecLZ4, Level: conf.LZ4Level}, true
	case "zstd":
		return record.Compression{Codec: record.CodecZstd, Level: conf.ZstdLevel}, true
	}
	return record.Compression{}, false
}

// WaitDurable blocks until end is fsynced locally (acks=1).
func (p *Partition) WaitDurable(ctx context.Context, end int64) error {
	return p.wait(ctx, func() bool { return p.flushed.Load() >= end }, false)
}

// WaitReplicated blocks until the high watermark reaches end (acks=all):
// durable here and on every in-sync replica.
func (p *Partition) WaitReplicated(ctx context.Context, end int64) error {
	err := p.wait(ctx, func() bool { return p.hw.Load() >= end }, true)
	if errors.Is(err, context.DeadlineExceeded) {
		p.mu.Lock()
		short := len(p.mu.role.ISR) < int(p.conf.Load().MinInsyncReplicas)
		p.mu.Unlock()
		if short {
			return ErrNotEnoughReplicasAfterAppend
		}
	}
	return err
}

func (p *Partition) wait(ctx context.Context, done func() bool, onHW bool) error {
	for {
		p.notify.Lock()
		ch, err := p.notify.hwChanged, p.notify.err
		if !onHW {
			ch = p.notify.leoChanged // flushes also close it, see flushLoop
		}
		p.notify.Unlock()
		if done() {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			if done() {
				return nil
			}
			return ErrClosed
		}
	}
}

// wakeWaiters closes the change channels so every long-poll fetch waiting
// on this partition looks at it again.
func (p *Partition) wakeWaiters() {
	p.notify.Lock()
	defer p.notify.Unlock()
	close(p.notify.hwChanged)
	p.notify.hwChanged = make(chan struct{})
	close(p.notify.leoChanged)
	p.notify.leoChanged = make(chan struct{})
}

// Changed returns a channel closed the next time the high watermark moves;
// consumers' long-poll fetches wait on it.
func (p *Partition) Changed() <-chan struct{} {
	p.notify.Lock()
	defer p.notify.Unlock()
	return p.notify.hwChanged
}

// Appended returns a channel closed at the next append or flush; followers'
// long-poll fetches wait on it.
func (p *Partition) Appended() <-chan struct{} {
	p.notify.Lock()
	defer p.notify.Unlock()
	return p.notify.leoChanged
}

// DefaultRecoveryPointInterval is Kafka's
// log.flush.offset.checkpoint.interval.ms default.
const DefaultRecoveryPointInterval = 60 * time.Second

// flushLoop is the group commit: each fsync covers all appends made before
// it started; appends arriving meanwhile wait for the next round. Every
// rpInterval it also writes the log's recovery point if it moved.
func (p *Partition) flushLoop() {
	defer close(p.done)
	checkpoint := time.NewTicker(p.rpInterval)
	defer checkpoint.Stop()
	for {
		select {
		case <-p.stop:
			// Make whatever was appended durable before waiters give up.
			p.flushOnce()
			return
		case <-checkpoint.C:
			if err := p.log.CheckpointRecoveryPoint(); err != nil {
				p.logger.Warn("recovery point checkpoint", "err", err)
			}
			continue
		case <-p.flushReq:
		}
		p.flushOnce()
	}
}

// RecoveryPoint is the offset below which the log is known durable; see
// commitlog.Log.RecoveryPoint.
func (p *Partition) RecoveryPoint() int64 { return p.log.RecoveryPoint() }

func (p *Partition) flushOnce() {
	var start time.Time
	var appends int64
	if p.flushes != nil {
		appends = p.unsynced.Swap(0)
		start = time.Now()
	}
	p.mu.Lock()
	truncations := p.mu.truncations
	p.mu.Unlock()
	synced, err := p.log.Sync()
	if p.flushes != nil && err == nil && appends > 0 {
		p.flushes.ObserveFlush(time.Since(start), int(appends))
	}
	if err != nil {
		p.logger.Error("fsync failed; acknowledgements stop", "err", err)
		p.notify.Lock()
		if p.notify.err == nil {
			p.notify.err = fmt.Errorf("%w: fsync: %v", ErrStorage, err)
		}
		p.notify.Unlock()
		// Every waiter looks again and fails, acks=all ones too: they
		// wait on the HW channel, which a failed flush never moves.
		p.wakeWaiters()
		return
	}
	p.mu.Lock()
	// A truncation since the Sync started may have cut below what it
	// synced: its answer says nothing about the bytes written since.
	if p.mu.truncations == truncations && synced > p.mu.synced {
		p.mu.synced = synced
	}
	p.updateFlushedLocked()
	p.maybeAdvanceHWLocked()
	p.mu.Unlock()
	p.notify.Lock()
	close(p.notify.leoChanged)
	p.notify.leoChanged = make(chan struct{})
	p.notify.Unlock()
}

// HighWatermark is the offset below which records are visible to consumers.
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// LogStartOffset is the first offset still in the log.
func (p *Partition) LogStartOffset() int64 { return p.log.LogStartOffset() }

// LogEndOffset is the offset the next record will get.
func (p *Partition) LogEndOffset() int64 { return p.log.LogEndOffset() }

// Read returns whole batches from offset up to the high watermark, at most
// maxBytes unless the first batch alone is larger and minOneBatch is set.
func (p *Partition) Read(offset int64, maxBytes int, minOneBatch bool) ([]byte, error) {
	hw := p.hw.Load()
	if offset > hw && offset <= p.log.LogEndOffset() {
		// Written but not yet committed: nothing to read yet, not out of range.
		return nil, nil
	}
	return p.log.Read(offset, hw, maxBytes, minOneBatch)
}

// OffsetForTimestamp returns the first visible offset with a timestamp >= ts.
func (p *Partition) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	return p.log.OffsetForTimestamp(ts, p.hw.Load())
}

// MaxTimestamp returns the visible record with the largest timestamp.
func (p *Partition) MaxTimestamp() (offset, timestamp int64, found bool, err error) {
	return p.log.MaxTimestamp(p.hw.Load())
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the largest epoch <=
// epoch this replica knows and the offset where it ended.
func (p *Partition) EndOffsetForEpoch(epoch int32) (int32, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.epochs.endOffsetFor(epoch, p.mu.stateEnd)
}

// CheckLeaderEpoch compares a requester's leader epoch with ours (KIP-320);
// -1 skips the check.
func (p *Partition) CheckLeaderEpoch(epoch int32) error {
	if epoch < 0 {
		return nil
	}
	p.mu.Lock()
	ours := p.mu.role.LeaderEpoch
	p.mu.Unlock()
	switch {
	case epoch < ours:
		return ErrFencedLeaderEpoch
	case epoch > ours:
		return ErrUnknownLeaderEpoch
	}
	return nil
}

// EnforceRetention deletes segments past retention; never past the high
// watermark, so followers can still fetch what is not committed.
func (p *Partition) EnforceRetention() (int, error) {
	n, err := p.log.EnforceRetention() // the transaction index entries go with their segments
	if n > 0 {
		p.snapshotProducers()
	}
	return n, err
}

// snapshotProducers writes the producer state at the log end offset. After
// retention moved the log start, the state of producers whose batches are
// all gone lives only in memory and in snapshots; without a snapshot at or
// above the new log start, a restart after a crash would rebuild from the
// log and forget them. Kafka keeps that state until
// producer.id.expiration.ms (KIP-360), so a producer can go on writing in
// sequence, and a sequence gap is still OUT_OF_ORDER_SEQUENCE_NUMBER.
func (p *Partition) snapshotProducers() {
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return
	}
	leo := p.log.LogEndOffset()
	b, err := json.Marshal(snapshot{Producers: p.mu.producers})
	p.mu.Unlock()
	if err == nil {
		err = writeSnapshotBytes(p.dir, leo, b)
	}
	if err != nil {
		p.logger.Warn("write producer state snapshot", "err", err)
	}
}

// TopicConfig returns the topic config in effect.
func (p *Partition) TopicConfig() config.Topic { return *p.conf.Load() }

// SegmentCount is how many segments the log has.
func (p *Partition) SegmentCount() int { return p.log.SegmentCount() }

// Size is the bytes on disk of the log.
func (p *Partition) Size() int64 { return p.log.Size() }

// Close stops the flusher, writes a producer-state snapshot and closes the
// log cleanly. Idempotent.
func (p *Partition) Close() error { return p.shutdown(false) }

// Delete closes the partition and removes its data.
func (p *Partition) Delete() error { return p.shutdown(true) }

func (p *Partition) shutdown(remove bool) error {
	// An append in flight finishes first: its state goes into the snapshot.
	p.appendMu.Lock()
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		p.appendMu.Unlock()
		return nil
	}
	p.mu.closed = true
	producers := p.mu.producers
	epochs := p.mu.epochs
	p.mu.Unlock()
	p.appendMu.Unlock()
	close(p.stop)
	<-p.done
	p.wakeWaiters() // long-poll fetches answer now, not at their MaxWait
	if remove {
		return p.log.Delete()
	}
	snapErr := writeSnapshot(p.dir, p.log.LogEndOffset(), producers)
	epochErr := writeEpochCheckpoint(p.dir, epochs)
	hwErr := p.CheckpointHW()
	return errors.Join(snapErr, epochErr, hwErr, p.log.Close())
}

// Compact runs one cleaner pass when the topic is compacted
// (cleanup.policy=compact), never past the high watermark so a record a
// follower may still truncate never removes a committed older one.
func (p *Partition) Compact() (commitlog.CompactStats, error) {
	conf := p.conf.Load()
	if !conf.CleanupCompact {
		return commitlog.CompactStats{}, nil
	}
	return p.log.Compact(commitlog.CompactConfig{
		DeleteRetentionMs: conf.DeleteRetentionMs, MinCompactionLagMs: conf.MinCompactionLagMs,
		MaxOffset: p.hw.Load(),
	})
}

const hwCheckpointFile = "high-watermark-checkpoint"

// CheckpointHW writes the high watermark (Kafka's
// replication-offset-checkpoint, per partition), so a restarted replica
// does not show consumers an HW of 0 until its followers report in.
// It writes only when the high watermark moved since the last write.
func (p *Partition) CheckpointHW() error {
	p.hwCheckpoint.Lock()
	defer p.hwCheckpoint.Unlock()
	hw := p.hw.Load()
	if hw == p.hwCheckpoint.written {
		return nil
	}
	if err := writeCheckpointFile(p.dir, hwCheckpointFile, []byte(strconv.FormatInt(hw, 10)+"\n")); err != nil {
		return err
	}
	p.hwCheckpoint.written = hw
	return nil
}

func readHWCheckpoint(dir string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, hwCheckpointFile))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// ReadRegions is Read as file regions for sendfile; release must be
// called once they were sent (see commitlog.Log.ReadRegions).
func (p *Partition) ReadRegions(offset int64, maxBytes int, minOneBatch bool) ([]commitlog.FileRegion, func(), error) {
	hw := p.hw.Load()
	if offset > hw && offset <= p.log.LogEndOffset() {
		return nil, func() {}, nil
	}
	return p.log.ReadRegions(offset, hw, maxBytes, minOneBatch)
}
