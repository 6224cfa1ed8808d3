package commitlog

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/arus-io/arus/internal/record"
)

// ErrOffsetOutOfRange is returned by Read and TruncateTo for offsets outside
// [LogStartOffset, LogEndOffset], and by AppendAsFollower when the first
// batch does not start at LogEndOffset.
var ErrOffsetOutOfRange = errors.New("commitlog: offset out of range")

// ErrClosed is returned by every method of a Log after Close.
var ErrClosed = errors.New("commitlog: log closed")

// ErrNotBatchBoundary is returned by TruncateTo for an offset inside a batch.
var ErrNotBatchBoundary = errors.New("commitlog: offset is not a batch boundary")

// Log is one partition's log in one directory. See the package doc for the
// concurrency rules.
type Log struct {
	dir    string
	fs     FS // Config.FS at Open
	logger *slog.Logger
	files  *FileCache             // Config.Files at Open
	cfg    atomic.Pointer[Config] // replaced whole by SetConfig

	// leo, start and size are written under mu (write lock) and may be read
	// without it.
	leo   atomic.Int64 // log end offset: offset of the next batch
	start atomic.Int64 // log start offset: first segment's base or later (start.go)
	size  atomic.Int64 // bytes of whole batches in all segments
	// truncations counts TruncateTo calls. Readers copy file bytes outside
	// the lock; they compare it before and after and retry when it moved,
	// because truncation may let later appends overwrite bytes they planned
	// to read (a sequence lock).
	truncations atomic.Uint64

	mu struct {
		sync.RWMutex
		// segments in ascending base order; the last is the active one that
		// takes appends. Never empty while the log is open.
		segments []*segment
		closed   bool
		// failed is set when a write or fsync failed in a way that leaves
		// the files in doubt; every later write returns it.
		failed error
		// rolled are the segments a roll sealed since the last Sync, oldest
		// first: their index files are written but nothing of them is
		// fsynced yet. Sync fsyncs them outside the lock (appends and reads
		// go on meanwhile) before it vouches for anything after them. Each
		// holds a reference, so retention or compaction keep its .log open.
		rolled []*segment
		// dirDirty: a segment file was created since the directory was
		// last fsynced; Sync fsyncs it.
		dirDirty bool
	}

	// cleaner serializes Compact with TruncateTo, EnforceRetention and
	// Close; see compact.go.
	cleaner cleanerState

	// startMu serializes IncrementLogStartOffset (its file write); taken
	// before mu, never while holding it.
	startMu sync.Mutex
	// rp is the recovery point (recovery.go): mem where the last Sync,
	// roll or truncation left the durable end, disk what the file in dir
	// says (noRecoveryPoint when there is none). Lock order: mu before rp.
	rp struct {
		sync.Mutex
		mem, disk recoveryPoint
	}
}

// Open opens the log in dir, creating dir if missing, and recovers it: after
// a clean shutdown it loads the index files; after a crash it rescans the
// last segment and truncates a torn tail. logger may be nil.
func Open(dir string, cfg Config, logger *slog.Logger) (*Log, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	l := &Log{dir: dir, fs: cfg.FS, logger: logger.With("dir", dir), files: cfg.Files}
	if l.files == nil {
		l.files = defaultFileCache()
	}
	l.cfg.Store(&cfg)
	l.cleaner.mu.pendingHorizon = math.MinInt64
	l.rp.mem, l.rp.disk = noRecoveryPoint, noRecoveryPoint
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.openLocked(); err != nil {
		for _, s := range l.mu.segments {
			_ = s.closeFiles() // already failing; the open error says why
		}
		l.mu.segments = nil
		return nil, fmt.Errorf("commitlog: open %s: %w", dir, err)
	}
	return l, nil
}

func (l *Log) openLocked() error {
	cfg := l.cfg.Load()
	// The marker goes first: if we crash after this point, the next open
	// must recover.
	clean := false
	switch err := l.fs.Remove(filepath.Join(l.dir, cleanShutdownFile)); {
	case err == nil:
		clean = true
		if err := l.fs.SyncDir(l.dir); err != nil {
			return err
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	rp, err := readRecoveryPoint(l.fs, l.dir)
	if err != nil {
		return err
	}
	l.rp.disk = rp
	rebuild, err := recoverCleanerFiles(l.fs, l.dir, l.logger)
	if err != nil {
		return err
	}
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return err
	}
	var bases []int64
	logs := make(map[string]bool)
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			bases = append(bases, base)
			logs[segmentName(base)] = true
		}
	}
	// Index files without their .log are left over from a deletion that a
	// crash interrupted.
	for _, e := range entries {
		name := e.Name()
		stem, ok := strings.CutSuffix(name, indexSuffix)
		if !ok {
			stem, ok = strings.CutSuffix(name, timeIndexSuffix)
		}
		if !ok {
			stem, ok = strings.CutSuffix(name, txnIndexSuffix)
		}
		if ok && len(stem) == baseOffsetDigits && !logs[stem] {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil {
				return err
			}
		}
	}
	slices.Sort(bases)
	nowMs := cfg.Now().UnixMilli()
	for i, base := range bases {
		s := newSegment(l.files, l.fs, l.dir, base, nowMs)
		if err := s.openFiles(false); err != nil {
			return err
		}
		l.mu.segments = append(l.mu.segments, s)
		cut, err := l.loadSegmentLocked(s, clean, rebuild[base], rp)
		if err != nil {
			return fmt.Errorf("segment %d: %w", base, err)
		}
		if cut && i < len(bases)-1 {
			// A torn segment before the last: a crash came before the Sync
			// that would have made it durable, so nothing after the cut
			// was acknowledged. As Kafka's LogLoader.recoverLog, the log
			// ends at the cut and the later segments go.
			for _, later := range bases[i+1:] {
				if err := removeSegmentFiles(l.fs, segmentPath(l.dir, later)); err != nil {
					return fmt.Errorf("segment %d after a torn one: %w", later, err)
				}
			}
			if err := l.fs.SyncDir(l.dir); err != nil {
				return err
			}
			l.logger.Warn("commitlog: removed segments after a torn one", "segment", base, "removed", len(bases)-i-1)
			break
		}
	}
	if len(l.mu.segments) == 0 {
		s := newSegment(l.files, l.fs, l.dir, 0, nowMs)
		if err := s.openFiles(true); err != nil {
			return err
		}
		l.mu.segments = append(l.mu.segments, s)
		if err := l.fs.SyncDir(l.dir); err != nil {
			return err
		}
	}
	var size int64
	for i, s := range l.mu.segments {
		if i > 0 && l.mu.segments[i-1].next > s.base {
			return fmt.Errorf("%w: segment %d ends at offset %d, after the next segment's base %d",
				record.ErrCorrupt, l.mu.segments[i-1].base, l.mu.segments[i-1].next, s.base)
		}
		size += s.size
	}
	l.size.Store(size)
	l.leo.Store(l.activeLocked().next)
	l.start.Store(l.loadStartOffsetLocked())
	// Open fsynced what it recovered, and a clean close what it sealed:
	// the whole log is durable now.
	a := l.activeLocked()
	l.rp.mem = recoveryPoint{segment: a.base, position: a.size, offset: a.next}
	return nil
}

// loadSegmentLocked loads one segment at open. After a clean shutdown
// every segment is trusted once its indexes check out. After a crash the
// segments from the recovery point rp on may hold bytes that were never
// fsynced (a roll does not fsync; the next Sync does), so they are
// rescanned, the one holding rp from rp, and cut at the first invalid
// batch; cut reports such a cut. Without a recovery point every segment
// is rescanned (Kafka recovers from offset 0 without a checkpoint).
// Segments before rp were fsynced and are loaded as after a clean
// shutdown. rebuild forces a rescan (a segment swapped in by
// recoverCleanerFiles).
func (l *Log) loadSegmentLocked(s *segment, clean, rebuild bool, rp recoveryPoint) (cut bool, err error) {
	interval := l.cfg.Load().IndexIntervalBytes
	unflushed := !clean && (!rp.valid() || s.base >= rp.segment)
	if unflushed && !rebuild && rp.valid() && rp.segment == s.base {
		dropped, err := s.recoverFromLocked(rp, interval)
		if err == nil {
			if dropped > 0 {
				l.logger.Warn("commitlog: truncated torn tail of segment", "segment", s.base,
					"position", s.size, "bytesDropped", dropped, "logEndOffset", s.next, "recoveryPoint", rp.offset)
			}
			// Entries below the recovery point were fsynced with it; those
			// after it are rebuilt from the log (RebuildTxnIndex).
			return dropped > 0, l.loadTxnIndexLocked(s, min(rp.offset, s.next))
		}
		if !errors.Is(err, record.ErrCorrupt) {
			return false, err
		}
		l.logger.Warn("commitlog: recovery point does not fit the segment, rescanning it", "segment", s.base, "err", err)
	}
	if unflushed && !rebuild && l.rp.disk.valid() && l.rp.disk.segment == s.base {
		// The full rescan below may cut the segment before the point the
		// file names; later appends would then rewrite bytes it vouches
		// for. Remove it first.
		if err := l.fs.Remove(filepath.Join(l.dir, recoveryPointFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			return false, err
		}
		l.rp.disk = noRecoveryPoint
	}
	if !unflushed && !rebuild {
		err := s.loadLocked()
		if err == nil {
			return false, l.loadTxnIndexLocked(s, s.next)
		}
		if !errors.Is(err, record.ErrCorrupt) {
			return false, err
		}
		l.logger.Warn("commitlog: segment indexes inconsistent, rebuilding", "segment", s.base, "err", err)
	}
	dropped, err := s.recoverLocked(interval, unflushed)
	if err != nil {
		return false, err
	}
	switch {
	case dropped > 0 && unflushed:
		l.logger.Warn("commitlog: truncated torn tail of segment", "segment", s.base,
			"position", s.size, "bytesDropped", dropped, "logEndOffset", s.next)
		return true, nil
	case dropped > 0:
		// Truncating a segment that was fsynced would leave a hole in
		// the offsets; keep the bytes and stop reading before them.
		l.logger.Error("commitlog: corrupt batch inside an older segment; later bytes of it are unreadable",
			"segment", s.base, "position", s.size, "bytesUnreadable", dropped)
	}
	return false, nil
}

// loadTxnIndexLocked loads the transaction index of a segment at open,
// trusting the entries of markers below limit.
func (l *Log) loadTxnIndexLocked(s *segment, limit int64) error {
	cut, err := s.loadTxnIndexLocked(limit)
	if err != nil {
		return fmt.Errorf("transaction index: %w", err)
	}
	if cut != nil {
		l.logger.Warn("commitlog: transaction index damaged, rebuilding it", "segment", s.base, "entriesKept", s.txnEntries, "err", cut)
	}
	return s.syncTxnIndex()
}

func (l *Log) activeLocked() *segment { return l.mu.segments[len(l.mu.segments)-1] }

func (l *Log) writableLocked() error {
	switch {
	case l.mu.closed:
		return ErrClosed
	case l.mu.failed != nil:
		return l.mu.failed
	}
	return nil
}

// Append writes one batch that the caller already validated (record.Validate)
// and whose parsed header is h. It assigns offsets: baseOffset (in batch and
// h) becomes LogEndOffset and partitionLeaderEpoch becomes leaderEpoch, both
// patched in place. It rolls a new segment first when needed, and does not
// fsync (see Sync). Append must not be called concurrently with itself,
// AppendAsFollower or TruncateTo.
func (l *Log) Append(batch []byte, h *record.Header, leaderEpoch int32) (baseOffset int64, err error) {
	if len(batch) != h.Size() || len(batch) < record.HeaderSize {
		return -1, fmt.Errorf("commitlog: %w: batch of %d bytes, header says %d", record.ErrCorrupt, len(batch), h.Size())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return -1, err
	}
	base := l.leo.Load()
	record.SetBaseOffset(batch, base)
	record.SetPartitionLeaderEpoch(batch, leaderEpoch)
	h.BaseOffset, h.PartitionLeaderEpoch = base, leaderEpoch

	cfg := l.cfg.Load()
	s := l.activeLocked()
	if l.needsRollLocked(cfg, s, s.size, h) {
		if err := l.rollLocked(h.BaseOffset); err != nil {
			return -1, err
		}
		s = l.activeLocked()
	}
	pos := s.size
	if err := l.writeUnlocked(s, batch); err != nil {
		return -1, err
	}
	s.observeLocked(h, pos, cfg.IndexIntervalBytes)
	l.publishLocked(s, int64(len(batch)))
	return base, nil
}

// AppendAsFollower appends one or more whole batches keeping their offsets,
// as a follower does with what it fetched from the leader. The first batch
// must start at or after LogEndOffset (a compacted leader's log has gaps)
// and offsets must increase. Every batch is
// checked (size, magic, CRC) before anything is written; on such an error
// nothing is appended. It returns the last offset appended.
func (l *Log) AppendAsFollower(batches []byte) (lastOffset int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return -1, err
	}
	next := l.leo.Load()
	var headers []record.Header
	for p := 0; p < len(batches); {
		size, err := record.PeekSize(batches[p:])
		if err != nil {
			return -1, fmt.Errorf("commitlog: batch at byte %d: %w", p, err)
		}
		if size > len(batches)-p {
			return -1, fmt.Errorf("commitlog: %w: batch at byte %d claims %d bytes, %d present", record.ErrCorrupt, p, size, len(batches)-p)
		}
		b := batches[p : p+size]
		h, err := record.ParseHeader(b)
		if err != nil {
			return -1, fmt.Errorf("commitlog: batch at byte %d: %w", p, err)
		}
		if err := record.CheckCRC(b); err != nil {
			return -1, fmt.Errorf("commitlog: batch at byte %d: %w", p, err)
		}
		if h.LastOffsetDelta < 0 {
			return -1, fmt.Errorf("commitlog: %w: batch at byte %d has last offset delta %d", record.ErrCorrupt, p, h.LastOffsetDelta)
		}
		// A compacted leader's log has gaps, so the first batch may start
		// past our end (Kafka accepts that too), never before it.
		if len(headers) == 0 && h.BaseOffset < next {
			return -1, fmt.Errorf("%w: first batch has offset %d, log end offset is %d", ErrOffsetOutOfRange, h.BaseOffset, next)
		}
		if h.BaseOffset < next {
			return -1, fmt.Errorf("commitlog: %w: batch at byte %d has offset %d below %d", record.ErrCorrupt, p, h.BaseOffset, next)
		}
		headers = append(headers, h)
		next = h.NextOffset()
		p += size
	}
	if len(headers) == 0 {
		return l.leo.Load() - 1, nil
	}
	cfg := l.cfg.Load()
	// Write runs of batches that land in the same segment with one call each.
	for i, p := 0, 0; i < len(headers); {
		s := l.activeLocked()
		if l.needsRollLocked(cfg, s, s.size, &headers[i]) {
			if err := l.rollLocked(headers[i].BaseOffset); err != nil {
				return l.leo.Load() - 1, err
			}
			s = l.activeLocked()
		}
		j, end := i+1, p+headers[i].Size()
		for j < len(headers) && !l.needsRollLocked(cfg, s, s.size+int64(end-p), &headers[j]) {
			end += headers[j].Size()
			j++
		}
		pos := s.size
		if err := l.writeUnlocked(s, batches[p:end]); err != nil {
			return l.leo.Load() - 1, err
		}
		for k := i; k < j; k++ {
			s.observeLocked(&headers[k], pos, cfg.IndexIntervalBytes)
			pos += int64(headers[k].Size())
		}
		l.publishLocked(s, int64(end-p))
		i, p = j, end
	}
	return l.leo.Load() - 1, nil
}

// needsRollLocked reports whether a batch h must go to a new segment when
// the active segment s holds size bytes.
func (l *Log) needsRollLocked(cfg *Config, s *segment, size int64, h *record.Header) bool {
	if size == 0 {
		return false
	}
	if size+int64(h.Size()) > cfg.SegmentBytes || h.LastOffset()-s.base > math.MaxInt32 {
		return true
	}
	// Age counts from the first batch's timestamp, but never from before
	// this process created or opened the segment: batches with old
	// timestamps must not roll on every append.
	since := max(s.firstTS, s.openedMs)
	return cfg.Now().UnixMilli()-since > cfg.SegmentMs
}

// rollLocked seals the active segment (final time index entry, index
// files written) and starts a new one at base. It does not fsync: the old
// segment and the directory join l.mu.rolled and dirDirty, and the next
// Sync makes them durable outside the lock, as Kafka's roll schedules an
// asynchronous flush of the old segment. The recovery point stays where
// it is until then, so recovery after a crash rescans the old segment.
func (l *Log) rollLocked(base int64) error {
	old := l.activeLocked()
	old.maybeAppendTimeLocked()
	if err := old.flushIndexesLocked(); err != nil {
		l.mu.failed = fmt.Errorf("commitlog: roll: %w", err)
		return l.mu.failed
	}
	s := newSegment(l.files, l.fs, l.dir, base, l.cfg.Load().Now().UnixMilli())
	if err := s.openFiles(true); err != nil {
		return fmt.Errorf("commitlog: roll: %w", err)
	}
	old.acquire() // released by the Sync that fsyncs it
	l.mu.rolled = append(l.mu.rolled, old)
	l.mu.dirDirty = true
	l.mu.segments = append(l.mu.segments, s)
	l.logger.Debug("commitlog: rolled segment", "segment", base, "previous", old.base, "previousBytes", old.size)
	return nil
}

// syncRolled fsyncs the .log and index files of segments a roll sealed.
// It runs without Log.mu; the caller holds a reference on each (the one
// rollLocked took).
func (l *Log) syncRolled(rolled []rolledSegment) error {
	for _, r := range rolled {
		if err := r.seg.log.with(l.fs.Sync); err != nil {
			return fmt.Errorf("sync segment %d: %w", r.seg.base, err)
		}
		for _, name := range r.indexes {
			err := r.seg.log.cache.withTransient(l.fs, name, os.O_RDWR, l.fs.Sync)
			// A segment with no index entries has no index file; one that
			// retention or compaction removed meanwhile needs no fsync.
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("sync index of segment %d: %w", r.seg.base, err)
			}
		}
		if err := r.seg.syncTxnIndex(); err != nil {
			return err
		}
	}
	return nil
}

// rolledSegment is a sealed segment waiting for its fsync, with the
// names of its index files taken under Log.mu.
type rolledSegment struct {
	seg     *segment
	indexes [2]string
}

// syncRolledLocked makes every rolled segment and the directory durable
// while holding Log.mu (Close, TruncateTo: rare, and they need it done).
func (l *Log) syncRolledLocked() error {
	if err := l.syncRolled(l.rolledLocked()); err != nil {
		return err
	}
	if l.mu.dirDirty {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return err
		}
		l.mu.dirDirty = false
	}
	l.forgetRolledLocked(len(l.mu.rolled))
	return nil
}

func (l *Log) rolledLocked() []rolledSegment {
	out := make([]rolledSegment, len(l.mu.rolled))
	for i, s := range l.mu.rolled {
		out[i] = rolledSegment{seg: s, indexes: [2]string{s.indexName(), s.timeIndexName()}}
	}
	return out
}

// forgetRolledLocked drops the first n rolled segments, now durable.
func (l *Log) forgetRolledLocked(n int) {
	for _, s := range l.mu.rolled[:n] {
		s.release()
	}
	l.mu.rolled = slices.Delete(l.mu.rolled, 0, n)
}

// writeUnlocked writes data at the end of s with one pwrite, called with
// mu held for writing: it releases mu for the write (readers and Sync go
// on; they never look past the published size, and appends are
// serialised by the caller) and holds it again when it returns. A failed
// write is cut off again so that the file holds whole batches only.
func (l *Log) writeUnlocked(s *segment, data []byte) error {
	f, err := s.log.pin()
	if err != nil {
		return fmt.Errorf("commitlog: append to segment %d: %w", s.base, err)
	}
	pos := s.size
	s.acquire()
	l.mu.Unlock()
	n, err := l.fs.WriteAt(f, data, pos)
	var cutErr error
	if err != nil && n > 0 {
		cutErr = l.fs.Truncate(f, pos)
	}
	s.log.unpin()
	l.mu.Lock()
	s.release()
	if err != nil {
		if cutErr != nil {
			l.mu.failed = fmt.Errorf("commitlog: segment %d: failed write could not be undone: %w", s.base, cutErr)
		}
		return fmt.Errorf("commitlog: append to segment %d: %w", s.base, err)
	}
	// Close may have run meanwhile (callers keep it out); the bytes past
	// the published size are then not part of the log.
	return l.writableLocked()
}

// publishLocked makes n bytes just observed in s visible to readers.
func (l *Log) publishLocked(s *segment, n int64) {
	l.size.Add(n)
	l.leo.Store(s.next)
	if err := s.maybeFlushIndexesLocked(); err != nil {
		// Entries stay in memory and are written again on the next flush;
		// indexes are rebuilt at recovery anyway.
		l.logger.Warn("commitlog: writing index entries", "segment", s.base, "err", err)
	}
}

// Sync makes the log durable up to the end it had when Sync started and
// returns that offset: everything below it survives a crash. It fsyncs the
// segments rolled since the last Sync (their .log and index files), the
// directory when a segment was created, then the active segment. It does
// not hold the lock during the fsyncs, so appends and reads continue;
// callers batch acknowledgements behind it (group commit). When it made
// rolled segments durable it also writes the recovery point file (without
// fsync), so a crash rescans from the current segment, not the old one.
func (l *Log) Sync() (syncedTo int64, err error) {
	l.mu.RLock()
	if l.mu.closed {
		l.mu.RUnlock()
		return 0, ErrClosed
	}
	if l.mu.failed != nil {
		l.mu.RUnlock()
		return 0, l.mu.failed
	}
	s := l.activeLocked()
	s.acquire()
	rolled := l.rolledLocked()
	dirDirty := l.mu.dirDirty
	leo := l.leo.Load()
	rp := recoveryPoint{segment: s.base, position: s.size, offset: leo}
	seen := l.truncations.Load()
	l.mu.RUnlock()
	defer s.release()
	err = l.syncRolled(rolled)
	if err == nil && dirDirty {
		err = l.fs.SyncDir(l.dir)
	}
	if err == nil {
		err = s.log.with(l.fs.Sync)
		if err != nil {
			err = fmt.Errorf("sync segment %d: %w", s.base, err)
		}
	}
	if err == nil {
		err = s.syncTxnIndex()
	}
	l.mu.Lock()
	if err != nil {
		// After a failed fsync the kernel may have dropped the dirty pages;
		// a later fsync could succeed without the data. Refuse further writes.
		if l.mu.failed == nil {
			l.mu.failed = fmt.Errorf("commitlog: %w", err)
		}
		err = l.mu.failed
		l.mu.Unlock()
		return 0, err
	}
	// Rolls that happened meanwhile stay for the next Sync. TruncateTo
	// and Close sync the rolled segments themselves; they leave fewer.
	n := 0
	for n < len(rolled) && n < len(l.mu.rolled) && l.mu.rolled[n] == rolled[n].seg {
		n++
	}
	l.forgetRolledLocked(n)
	if dirDirty && len(l.mu.rolled) == 0 && l.activeLocked() == s {
		l.mu.dirDirty = false
	}
	l.mu.Unlock()
	l.advanceRecoveryPoint(rp, seen)
	if len(rolled) > 0 {
		if err := l.CheckpointRecoveryPoint(); err != nil && !errors.Is(err, ErrClosed) {
			l.logger.Warn("commitlog: recovery point after a roll", "err", err)
		}
	}
	return leo, nil
}

// LogStartOffset is the first offset of the log: the base of its first
// segment, or a later offset set by IncrementLogStartOffset.
func (l *Log) LogStartOffset() int64 { return l.start.Load() }

// LogEndOffset is the offset the next appended batch gets.
func (l *Log) LogEndOffset() int64 { return l.leo.Load() }

// Size is the total bytes of all segments' .log files.
func (l *Log) Size() int64 { return l.size.Load() }

// SegmentCount is how many segments the log has (the active one included).
func (l *Log) SegmentCount() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.mu.segments)
}

// Dir is the log's directory.
func (l *Log) Dir() string { return l.dir }

// SetConfig replaces the configuration for later appends and retention
// runs. An invalid config is logged and ignored.
func (l *Log) SetConfig(cfg Config) {
	cfg, err := cfg.validate()
	if err != nil {
		l.logger.Warn("commitlog: config ignored", "err", err)
		return
	}
	l.cfg.Store(&cfg)
}

// TruncateTo removes every batch at and after offset, which must be a batch
// boundary or LogEndOffset, as a follower does when its log diverged from
// the leader's. It truncates the files and indexes, deletes later segments
// and fsyncs. A running Compact is stopped first (ErrCompactAborted).
func (l *Log) TruncateTo(offset int64) error {
	l.lockCleaner()
	defer l.cleaner.mu.Unlock()
	l.cleaner.mu.firstDirty = min(l.cleaner.mu.firstDirty, offset)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if offset < l.start.Load() || offset > l.leo.Load() {
		return fmt.Errorf("%w: truncate to %d, log holds [%d, %d]", ErrOffsetOutOfRange, offset, l.start.Load(), l.leo.Load())
	}
	if offset == l.leo.Load() {
		return nil
	}
	// The recovery point set below vouches for every segment before the
	// cut: segments rolled but not yet fsynced are made durable first.
	if err := l.syncRolledLocked(); err != nil {
		l.mu.failed = fmt.Errorf("commitlog: truncate to %d: %w", offset, err)
		return l.mu.failed
	}
	segs := l.mu.segments
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
	s := segs[i]
	f, err := s.log.pin()
	if err != nil {
		return fmt.Errorf("commitlog: truncate to %d: %w", offset, err)
	}
	defer s.log.unpin()
	w := &window{f: f, end: s.size, chunk: lookupChunk}
	pos, err := scan(w, lookupOffset(s.offsets, offset), false, func(h *record.Header, _ int64) (bool, error) {
		if h.LastOffset() < offset {
			return true, nil
		}
		if h.BaseOffset != offset {
			return false, fmt.Errorf("%w: truncate to %d, batch %d-%d", ErrNotBatchBoundary, offset, h.BaseOffset, h.LastOffset())
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	// Readers of the later segments keep their files (hold) while their
	// names go away; a new segment may take the same name later.
	for _, later := range segs[i+1:] {
		if later.refs.Load() > 1 {
			if err := later.hold(); err != nil {
				return fmt.Errorf("commitlog: truncate to %d: %w", offset, err)
			}
		}
	}
	// From here on, readers that copied bytes outside the lock retry.
	l.truncations.Add(1)
	if err := l.lowerRecoveryPointLocked(s.base, offset); err != nil {
		return fmt.Errorf("commitlog: truncate to %d: recovery point: %w", offset, err)
	}
	var errs []error
	for _, later := range segs[i+1:] {
		errs = append(errs, later.remove())
		later.release()
	}
	l.mu.segments = segs[:i+1]
	if err := s.truncateLocked(pos, offset); err != nil {
		errs = append(errs, err)
		l.mu.failed = fmt.Errorf("commitlog: truncate to %d: %w", offset, err)
	} else {
		// truncateLocked fsynced the segment.
		l.setRecoveryPoint(recoveryPoint{segment: s.base, position: pos, offset: offset})
	}
	if len(segs) > i+1 {
		errs = append(errs, l.fs.SyncDir(l.dir))
	}
	var size int64
	for _, s := range l.mu.segments {
		size += s.size
	}
	l.size.Store(size)
	l.leo.Store(s.next)
	l.logger.Info("commitlog: truncated", "offset", offset, "segmentsDeleted", len(segs)-i-1)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("commitlog: truncate to %d: %w", offset, err)
	}
	return nil
}

// EnforceRetention deletes whole segments from the oldest while they are
// past retention.ms (by their largest timestamp, or the file's modification
// time when they have none), while the log without them stays at or above
// retention.bytes, or while they end at or before the log start offset
// (moved by IncrementLogStartOffset; Kafka's
// deleteLogStartOffsetBreachedSegments, which runs whatever the cleanup
// policy). It never deletes the active segment. It moves LogStartOffset
// to the base of the new first segment when that is later. Reads in progress
// keep working: they hold a reference that keeps the deleted files open.
// It waits for a running Compact pass to finish.
func (l *Log) EnforceRetention() (deletedSegments int, err error) {
	l.cleaner.mu.Lock()
	defer l.cleaner.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return 0, ErrClosed
	}
	cfg := l.cfg.Load()
	nowMs := cfg.Now().UnixMilli()
	for len(l.mu.segments) > 1 {
		s := l.mu.segments[0]
		expired := false
		if cfg.RetentionMs >= 0 {
			ts := s.maxTS
			if ts == record.NoTimestamp {
				st, err := l.fs.Stat(s.path + logSuffix)
				if err != nil {
					return deletedSegments, fmt.Errorf("commitlog: retention: %w", err)
				}
				ts = st.ModTime().UnixMilli()
			}
			expired = nowMs-ts > cfg.RetentionMs
		}
		if !expired && cfg.RetentionBytes >= 0 {
			expired = l.size.Load()-s.size >= cfg.RetentionBytes
		}
		if !expired {
			expired = l.mu.segments[1].base <= l.start.Load()
		}
		if !expired {
			break
		}
		// Readers keep reading the deleted files; reopening by name would fail.
		if s.refs.Load() > 1 {
			if err := s.hold(); err != nil {
				return deletedSegments, fmt.Errorf("commitlog: retention: segment %d: %w", s.base, err)
			}
		}
		if err := s.remove(); err != nil {
			return deletedSegments, fmt.Errorf("commitlog: retention: delete segment %d: %w", s.base, err)
		}
		l.mu.segments = slices.Delete(l.mu.segments, 0, 1)
		l.size.Add(-s.size)
		l.start.Store(max(l.start.Load(), l.mu.segments[0].base))
		s.release()
		deletedSegments++
		l.logger.Info("commitlog: deleted segment by retention", "segment", s.base, "bytes", s.size, "logStartOffset", l.start.Load())
	}
	return deletedSegments, nil
}

// Close syncs the active segment and its indexes, closes the files (reads
// in progress finish first) and writes the clean-shutdown marker so that
// the next Open skips recovery. It stops a running Compact first. It is
// idempotent.
func (l *Log) Close() error {
	l.lockCleaner()
	defer l.cleaner.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.closed {
		return nil
	}
	l.mu.closed = true
	err := l.syncRolledLocked()
	if err != nil {
		l.forgetRolledLocked(len(l.mu.rolled))
	}
	err = errors.Join(err, l.activeLocked().sealLocked())
	for _, s := range l.mu.segments {
		if s.refs.Load() > 1 {
			// Readers finish on the files even if the directory is then
			// removed or renamed (Delete, a deleted topic).
			err = errors.Join(err, s.hold())
		}
		s.release()
	}
	l.mu.segments = nil
	if err != nil || l.mu.failed != nil {
		return errors.Join(err, l.mu.failed)
	}
	if err := writeMarker(l.fs, l.dir); err != nil {
		return fmt.Errorf("commitlog: close: %w", err)
	}
	return nil
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	closeErr := l.Close()
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("commitlog: delete: %w", err)
	}
	if closeErr != nil && !errors.Is(closeErr, ErrClosed) {
		l.logger.Warn("commitlog: close before delete", "err", closeErr)
	}
	return nil
}

func writeMarker(fs FS, dir string) error {
	f, err := fs.OpenFile(filepath.Join(dir, cleanShutdownFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return fs.SyncDir(dir)
}
