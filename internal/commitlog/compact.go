package commitlog

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/arus-io/arus/internal/record"
)

// Defaults for CompactConfig.
const (
	// DefaultDeleteRetentionMs is Kafka's delete.retention.ms default: one day.
	DefaultDeleteRetentionMs = 24 * 60 * 60 * 1000
	// DefaultCompactMaxKeys bounds the key map of a pass when
	// CompactConfig.MaxKeys is 0: about 40 MiB.
	DefaultCompactMaxKeys = 1 << 20
)

// ErrCompactAborted is returned by Compact when TruncateTo or Close asked
// it to stop. What it finished before stays done; the log is consistent.
var ErrCompactAborted = errors.New("commitlog: compaction aborted")

// CompactConfig configures one Compact pass. Field names mirror Kafka's
// topic configs; unlike Config, zero values are taken literally.
type CompactConfig struct {
	// DeleteRetentionMs (delete.retention.ms): how long a tombstone
	// survives after the pass that first cleaned its segment. 0 removes it
	// in the next pass. Kafka's default is DefaultDeleteRetentionMs.
	DeleteRetentionMs int64
	// MinCompactionLagMs (min.compaction.lag.ms): a segment whose largest
	// timestamp (or file modification time, when it has none) is younger
	// than this is neither cleaned nor used to clean older ones.
	MinCompactionLagMs int64
	// MaxOffset bounds the pass: records at or after it are neither removed
	// nor used to remove older ones, and segments reaching it are not
	// cleaned. A replicated partition passes its high watermark (or last
	// stable offset): a record a follower may still truncate must not
	// supersede a committed one. A single replica passes math.MaxInt64.
	// The zero value cleans nothing.
	MaxOffset int64
	// MaxKeys bounds the key map: a pass maps at most this many distinct
	// keys (about 40 bytes each) and cleans up to where the map filled;
	// the next pass continues from there. 0 means DefaultCompactMaxKeys.
	MaxKeys int
}

func (c CompactConfig) validate() (CompactConfig, error) {
	var errs []error
	if c.DeleteRetentionMs < 0 {
		errs = append(errs, fmt.Errorf("delete retention ms %d is negative", c.DeleteRetentionMs))
	}
	if c.MinCompactionLagMs < 0 {
		errs = append(errs, fmt.Errorf("min compaction lag ms %d is negative", c.MinCompactionLagMs))
	}
	if c.MaxOffset < 0 {
		errs = append(errs, fmt.Errorf("max offset %d is negative", c.MaxOffset))
	}
	switch {
	case c.MaxKeys == 0:
		c.MaxKeys = DefaultCompactMaxKeys
	case c.MaxKeys < 0:
		errs = append(errs, fmt.Errorf("max keys %d is negative", c.MaxKeys))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("commitlog: invalid compact config: %w", errors.Join(errs...))
	}
	return c, nil
}

// CompactStats says what one Compact pass did.
type CompactStats struct {
	// SegmentsCleaned counts the segments replaced: rewritten, merged
	// into a neighbour or removed because nothing in them survived.
	SegmentsCleaned int
	// BytesBefore and BytesAfter are the .log bytes of those segments
	// before and after the pass.
	BytesBefore, BytesAfter int64
	// RecordsRemoved counts superseded records, expired tombstones and
	// records of aborted transactions removed.
	RecordsRemoved int64
}

// cleanerState is the part of Log that belongs to Compact.
type cleanerState struct {
	// abort asks a running pass to stop at its next batch: TruncateTo and
	// Close raise it while they wait for mu.
	abort atomic.Int32
	mu    struct {
		// Mutex is held by Compact for a whole pass and by TruncateTo,
		// EnforceRetention and Close; it is taken before Log.mu.
		sync.Mutex
		// firstDirty is the offset from which the log was not yet mapped
		// by a completed pass; everything below it holds each key at most
		// once (Kafka's cleaner checkpoint, kept in memory only).
		firstDirty int64
		// pendingHorizon is the earliest delete horizon of a tombstone
		// left by the last completed pass; math.MinInt64 when unknown.
		pendingHorizon int64
	}
}

// lockCleaner stops a running Compact pass and takes the cleaner mutex.
func (l *Log) lockCleaner() {
	l.cleaner.abort.Add(1)
	l.cleaner.mu.Lock()
	l.cleaner.abort.Add(-1)
}

// Compact cleans the log once, as Kafka's log cleaner does for
// cleanup.policy=compact: it maps each key to its latest offset over the
// part of the log not yet mapped (up to the active segment, MaxOffset, the
// first open transaction and the segments younger than
// MinCompactionLagMs), then rewrites the non-active segments below that
// bound keeping the latest record per key, tombstones until their delete
// horizon, records without key and control batches, and merges small
// neighbours. Offsets never change. Rewritten segments replace the old ones
// through .cleaned and .swap files (docs/format/segment.md), so a crash at
// any point leaves the old or the new segments; Open finishes the job.
//
// Compact may run concurrently with Append, AppendAsFollower, Read, Sync
// and the accessors; readers of a replaced segment keep reading its old
// files. It is serialized with itself, EnforceRetention, TruncateTo and
// Close; the last two abort it (ErrCompactAborted). A failure after a new
// segment was committed on disk marks the log failed, like a failed fsync:
// it takes a reopen to finish the swap.
func (l *Log) Compact(cc CompactConfig) (CompactStats, error) {
	cc, err := cc.validate()
	if err != nil {
		return CompactStats{}, err
	}
	l.cleaner.mu.Lock()
	defer l.cleaner.mu.Unlock()
	cfg := l.cfg.Load()
	p := &compactPass{l: l, cc: cc, cfg: cfg, nowMs: cfg.Now().UnixMilli()}
	if err := p.acquire(); err != nil {
		return CompactStats{}, err
	}
	defer p.sn.release()
	st := &l.cleaner.mu
	st.firstDirty = max(st.firstDirty, p.sn.start)
	if st.firstDirty >= min(p.active().base, cc.MaxOffset) && p.nowMs < st.pendingHorizon {
		return CompactStats{}, nil // nothing new to map, no tombstone due
	}
	mappedTo, pending, err := p.run(st.firstDirty)
	if err != nil {
		st.pendingHorizon = math.MinInt64
		return p.stats, err
	}
	st.firstDirty = max(st.firstDirty, mappedTo)
	st.pendingHorizon = pending
	if p.stats.SegmentsCleaned > 0 {
		l.logger.Info("commitlog: compacted", "segments", p.stats.SegmentsCleaned,
			"bytesBefore", p.stats.BytesBefore, "bytesAfter", p.stats.BytesAfter,
			"recordsRemoved", p.stats.RecordsRemoved, "cleanedTo", mappedTo)
	}
	return p.stats, nil
}

// compactPass is one run of Compact.
type compactPass struct {
	l     *Log
	cc    CompactConfig
	cfg   *Config
	nowMs int64
	// sn holds a reference on every segment as of the start of the pass;
	// its last view is the active segment, never cleaned.
	sn    *snapshot
	stats CompactStats
}

func (p *compactPass) acquire() error {
	p.l.mu.RLock()
	failed := p.l.mu.failed
	p.l.mu.RUnlock()
	if failed != nil {
		return failed
	}
	sn, err := p.l.acquire(math.MinInt64)
	if err != nil {
		return err
	}
	p.sn = sn
	return nil
}

func (p *compactPass) active() *segmentView { return &p.sn.views[len(p.sn.views)-1] }

func (p *compactPass) aborted() bool { return p.l.cleaner.abort.Load() > 0 }

// run does the pass from firstDirty on. It returns the offset up to which
// the log is now mapped and the earliest delete horizon of a kept tombstone.
func (p *compactPass) run(firstDirty int64) (mappedTo, pendingHorizon int64, err error) {
	// Headers of the whole log, the active segment included: a batch is
	// its producer's last only if no later one exists anywhere.
	producers := newProducerScan()
	for i := range p.sn.views {
		w, err := p.sn.views[i].window(lookupChunk)
		if err != nil {
			return 0, 0, fmt.Errorf("commitlog: compact: %w", err)
		}
		if _, err := scan(w, 0, false, func(h *record.Header, pos int64) (bool, error) {
			if p.aborted() {
				return false, ErrCompactAborted
			}
			var b []byte
			if h.IsControl() && h.ProducerID >= 0 {
				var err error
				if b, err = w.bytes(pos, h.Size()); err != nil {
					return false, err
				}
				if err := record.CheckCRC(b); err != nil {
					return false, fmt.Errorf("batch %d: %w", h.BaseOffset, err)
				}
			}
			return true, producers.observe(h, b)
		}); err != nil {
			return 0, 0, fmt.Errorf("commitlog: compact: segment %d: %w", p.sn.views[i].base, err)
		}
		p.sn.views[i].unpin() // a pass over many segments keeps few open
	}
	bound := min(p.active().base, p.cc.MaxOffset, producers.firstUnstable())
	views, err := p.cleanable(bound, firstDirty)
	if err != nil {
		return 0, 0, fmt.Errorf("commitlog: compact: %w", err)
	}
	if len(views) == 0 {
		return firstDirty, math.MinInt64, nil
	}
	keys := &offsetMap{latest: map[keyHash]int64{}, maxKeys: p.cc.MaxKeys}
	if mappedTo, err = p.buildMap(views, firstDirty, keys, producers); err != nil {
		return 0, 0, fmt.Errorf("commitlog: compact: %w", err)
	}
	f := &batchFilter{keys: keys, producers: producers, mappedTo: mappedTo, nowMs: p.nowMs,
		newHorizon: p.nowMs + min(p.cc.DeleteRetentionMs, math.MaxInt64-p.nowMs)}
	// A dry run finds the segments that change, so that a clean segment is
	// not rewritten for nothing, and the next tombstone horizon.
	changed := make([]bool, len(views))
	pendingHorizon = math.MaxInt64
	for i := range views {
		if err := p.scanBatches(&views[i], recoveryChunk, true, func(h *record.Header, b []byte) error {
			plan, err := f.plan(h, b)
			changed[i] = changed[i] || plan.action != keepBatch
			if plan.tombstones {
				pendingHorizon = min(pendingHorizon, plan.horizon)
			}
			if plan.txnData {
				// Markers of those transactions may get their horizon
				// in the next pass.
				pendingHorizon = min(pendingHorizon, p.nowMs)
			}
			return err
		}); err != nil {
			return 0, 0, fmt.Errorf("commitlog: compact: segment %d: %w", views[i].base, err)
		}
	}
	for i := 0; i < len(views); {
		j := p.groupEnd(views, i)
		if j-i > 1 || changed[i] {
			// The first segment stays, even empty: its base is the log start offset.
			if err := p.cleanGroup(views[i:j], f, i == 0); err != nil {
				return 0, 0, err
			}
		}
		i = j
	}
	return mappedTo, pendingHorizon, nil
}

// scanBatches calls fn for every batch of v with the whole batch bytes
// (valid until fn returns), checking CRCs with verify. It stops with
// ErrCompactAborted when asked to.
func (p *compactPass) scanBatches(v *segmentView, chunk int, verify bool, fn func(h *record.Header, b []byte) error) error {
	w, err := v.window(chunk)
	if err != nil {
		return err
	}
	defer v.unpin()
	_, err = scan(w, 0, verify, func(h *record.Header, pos int64) (bool, error) {
		if p.aborted() {
			return false, ErrCompactAborted
		}
		b, err := w.bytes(pos, h.Size())
		if err != nil {
			return false, err
		}
		return true, fn(h, b)
	})
	return err
}

// cleanable returns the views of the segments that may be cleaned: the
// longest run of non-active segments from the first one that lie wholly
// below bound and, from the first one not yet mapped on, are older than
// min.compaction.lag.ms. Kafka's cleaner stops at the same places.
func (p *compactPass) cleanable(bound, firstDirty int64) ([]segmentView, error) {
	views := p.sn.views[:len(p.sn.views)-1]
	for i := range views {
		v := &views[i]
		if v.next > bound {
			return views[:i], nil
		}
		if p.cc.MinCompactionLagMs > 0 && v.next > firstDirty {
			ts := v.maxTS
			if ts == record.NoTimestamp {
				st, err := p.l.fs.Stat(v.seg.path + logSuffix)
				if err != nil {
					return nil, err
				}
				ts = st.ModTime().UnixMilli()
			}
			if ts > p.nowMs-p.cc.MinCompactionLagMs {
				return views[:i], nil
			}
		}
	}
	return views, nil
}

// buildMap maps the keys of the records from firstDirty on in views (data
// batches not aborted) to their latest offsets, until the map is full. It
// returns the offset after the mapped part: a batch boundary.
func (p *compactPass) buildMap(views []segmentView, firstDirty int64, keys *offsetMap, producers *producerScan) (int64, error) {
	var recs []rawRecord
	errFull := errors.New("key map full")
	mappedTo := firstDirty
	for i := range views {
		v := &views[i]
		if v.next <= firstDirty {
			continue
		}
		err := p.scanBatches(v, recoveryChunk, true, func(h *record.Header, b []byte) error {
			if h.LastOffset() < firstDirty {
				return nil
			}
			if h.IsControl() || (h.IsTransactional() && producers.isAborted(h.ProducerID, h.BaseOffset)) {
				mappedTo = h.NextOffset()
				return nil
			}
			if !keys.fits(int(h.RecordCount)) {
				return errFull
			}
			section, err := record.Decompress(h.Codec(), b[record.HeaderSize:])
			if err != nil {
				return fmt.Errorf("batch %d: %w", h.BaseOffset, err)
			}
			if recs, err = parseRecords(h, section, recs[:0]); err != nil {
				return err
			}
			for _, r := range recs {
				if r.hasKey && r.offset >= firstDirty {
					keys.latest[hashKey(r.key)] = r.offset
				}
			}
			mappedTo = h.NextOffset()
			return nil
		})
		if errors.Is(err, errFull) {
			p.l.logger.Debug("commitlog: compaction key map full", "keys", len(keys.latest), "mappedTo", mappedTo)
			return mappedTo, nil
		}
		if err != nil {
			return 0, fmt.Errorf("segment %d: %w", v.base, err)
		}
		mappedTo = max(mappedTo, v.next)
	}
	return mappedTo, nil
}

// groupEnd returns the end of the group of segments starting at views[i]
// that are cleaned into one: neighbours are added while their sizes before
// cleaning add up to at most segment.bytes and their offsets stay within
// an int32 of the group's base (Kafka's groupSegmentsBySize).
func (p *compactPass) groupEnd(views []segmentView, i int) int {
	size := views[i].size
	j := i + 1
	for ; j < len(views); j++ {
		if size+views[j].size > p.cfg.SegmentBytes || views[j].next-1-views[i].base > math.MaxInt32 {
			break
		}
		size += views[j].size
	}
	return j
}

// cleanGroup writes the surviving batches of group into one new segment
// with the group's base and swaps it in. keepEmpty keeps an empty segment
// for the first segment of the log, whose base is the log start offset;
// otherwise a group left empty is just removed.
func (p *compactPass) cleanGroup(group []segmentView, f *batchFilter, keepEmpty bool) error {
	ns, err := createCleaned(p.l.files, p.l.fs, p.l.dir, group[0].base, p.nowMs)
	if err != nil {
		return fmt.Errorf("commitlog: compact: create segment %d: %w", group[0].base, err)
	}
	w := &cleanedWriter{seg: ns, interval: p.cfg.IndexIntervalBytes}
	// The new transaction index keeps the aborted transactions whose data
	// this pass saw (Kafka's cleaned TransactionIndex): an abort without
	// data left has nothing for a reader to skip.
	for i := range group {
		if err := group[i].abortedWithData(f.producers, func(a AbortedTxn) { w.txn = append(w.txn, a) }); err != nil {
			discardCleaned(ns)
			return fmt.Errorf("commitlog: compact: segment %d: %w", group[i].base, err)
		}
	}
	var removed int64
	var out []byte
	for i := range group {
		err = p.scanBatches(&group[i], recoveryChunk, true, func(h *record.Header, b []byte) error {
			plan, err := f.plan(h, b)
			if err != nil {
				return err
			}
			removed += int64(plan.removed)
			switch plan.action {
			case keepBatch:
				return w.add(b)
			case rewriteBatch:
				if out, err = appendRewritten(out[:0], b, h, &plan); err != nil {
					return err
				}
				return w.add(out)
			case emptyBatch:
				out = appendEmptyHeader(out[:0], b, h)
				return w.add(out)
			}
			return nil
		})
		if err != nil {
			err = fmt.Errorf("segment %d: %w", group[i].base, err)
			break
		}
	}
	if err == nil {
		err = w.finish()
	}
	if err != nil {
		discardCleaned(ns)
		if errors.Is(err, ErrCompactAborted) {
			return err
		}
		return fmt.Errorf("commitlog: compact: %w", err)
	}
	if ns.size == 0 && !keepEmpty {
		discardCleaned(ns)
		ns = nil
	}
	if err := p.install(group, ns); err != nil {
		return err
	}
	var before int64
	for _, v := range group {
		before += v.size
	}
	p.stats.SegmentsCleaned += len(group)
	p.stats.BytesBefore += before
	if ns != nil {
		p.stats.BytesAfter += ns.size
	}
	p.stats.RecordsRemoved += removed
	return nil
}

// abortedWithData calls fn with the entries of v's transaction index whose
// transactions still had data when the pass scanned the log.
func (v *segmentView) abortedWithData(producers *producerScan, fn func(AbortedTxn)) error {
	if v.txnEntries == 0 {
		return nil
	}
	c := newTxnChecker(v.base, v.next)
	err := v.seg.scanTxnIndex(int64(v.txnEntries)*abortedTxnSize, math.MinInt64, func(_ int, e []byte) (bool, error) {
		a, err := c.check(e)
		if err != nil {
			return false, fmt.Errorf("%w: transaction index: %w", record.ErrCorrupt, err)
		}
		if producers.hasAborted(a.ProducerID, a.LastOffset) {
			fn(a)
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("transaction index: %w", err)
	}
	return nil
}

// install replaces the segments of group by ns (nil: by nothing), on disk
// and then in memory. On disk: rename ns's .cleaned files to .swap (the
// .log last: the commit point), remove the other old segments in offset
// order, rename the .swap files over the old files of the group's base.
// Open finishes an interrupted install from the .swap files.
func (p *compactPass) install(group []segmentView, ns *segment) error {
	l := p.l
	olds := group
	// Readers of the old segments keep their files: their names are about
	// to be removed, or to name the new segment's files.
	for _, v := range group {
		if err := v.seg.hold(); err != nil {
			if ns != nil {
				discardCleaned(ns)
			}
			return fmt.Errorf("commitlog: compact: segment %d: %w", v.base, err)
		}
	}
	if ns != nil {
		if err := commitCleaned(ns); err != nil {
			discardCleaned(ns)
			return fmt.Errorf("commitlog: compact: commit segment %d: %w", ns.base, err)
		}
		olds = group[1:]
	}
	// From here on the files say the group is replaced.
	fail := func(err error) error {
		l.mu.Lock()
		if l.mu.failed == nil {
			l.mu.failed = fmt.Errorf("commitlog: compact: install segment %d: %w", group[0].base, err)
		}
		err = l.mu.failed
		l.mu.Unlock()
		if ns != nil {
			ns.release()
		}
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fail(err)
	}
	for _, v := range olds {
		if err := v.seg.remove(); err != nil {
			return fail(err)
		}
	}
	if ns != nil {
		if err := finishSwap(l.fs, ns.path); err != nil {
			return fail(err)
		}
		installedCleaned(ns)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return fail(err)
	}

	l.mu.Lock()
	segs := l.mu.segments
	i := slices.Index(segs, group[0].seg)
	if i < 0 || i+len(group) > len(segs) || !slices.EqualFunc(segs[i:i+len(group)], group, func(s *segment, v segmentView) bool { return s == v.seg }) {
		l.mu.Unlock()
		return fail(errors.New("segments changed during compaction"))
	}
	var replacement []*segment
	var delta int64
	for _, v := range group {
		delta -= v.size
	}
	if ns != nil {
		replacement = []*segment{ns}
		delta += ns.size
	}
	l.mu.segments = slices.Concat(segs[:i], replacement, segs[i+len(group):])
	l.size.Add(delta)
	l.mu.Unlock()
	for _, v := range group {
		v.seg.release() // the list's reference; readers keep the files open
	}
	return nil
}
