package commitlog

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"sync"

	"github.com/arus-io/arus/internal/record"
)

// lookupBuffers holds scan windows for Read, the hot path: an index lookup
// lands within about index.interval.bytes of the wanted batch.
var lookupBuffers = sync.Pool{New: func() any {
	b := make([]byte, lookupChunk)
	return &b
}}

// segmentView is what a reader copies out of a segment under the read lock;
// it then reads the files without the lock, holding a reference.
type segmentView struct {
	seg         *segment
	f           *os.File // the .log file once pinned (file), until release
	base        int64
	next        int64
	size        int64 // bytes readable: whole batches published so far
	offsets     []offsetEntry
	times       []timeEntry
	maxTS       int64
	maxTSOffset int64
	txnEntries  int // entries of the .txnindex readable
}

// snapshot is a consistent view of the segments from some offset on.
type snapshot struct {
	views []segmentView
	start int64  // log start offset
	end   int64  // log end offset
	gen   uint64 // Log.truncations when taken
}

// acquire takes a snapshot of the segments that may hold offset from and
// all later ones, with a reference on each. Call release when done.
func (l *Log) acquire(from int64) (*snapshot, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.mu.closed {
		return nil, ErrClosed
	}
	segs := l.mu.segments
	i := max(sort.Search(len(segs), func(i int) bool { return segs[i].base > from })-1, 0)
	sn := &snapshot{
		views: make([]segmentView, 0, len(segs)-i),
		start: l.start.Load(),
		end:   l.leo.Load(),
		gen:   l.truncations.Load(),
	}
	for _, s := range segs[i:] {
		s.acquire()
		sn.views = append(sn.views, segmentView{
			seg: s, base: s.base, next: s.next, size: s.size,
			offsets: s.offsets, times: s.times,
			maxTS: s.maxTS, maxTSOffset: s.maxTSOffset,
			txnEntries: s.txnEntries,
		})
	}
	return sn, nil
}

func (sn *snapshot) release() {
	for i := range sn.views {
		sn.views[i].unpin()
		sn.views[i].seg.release()
	}
}

// file returns the segment's .log file, pinned open in the FileCache until
// unpin or the snapshot's release: file regions handed to sendfile stay
// valid until then, whatever the cache evicts.
func (v *segmentView) file() (*os.File, error) {
	if v.f == nil {
		f, err := v.seg.log.pin()
		if err != nil {
			return nil, fmt.Errorf("commitlog: segment %d: %w", v.base, err)
		}
		v.f = f
	}
	return v.f, nil
}

// unpin lets the cache close the file again (a long scan over many
// segments unpins each when done with it).
func (v *segmentView) unpin() {
	if v.f != nil {
		v.f = nil
		v.seg.log.unpin()
	}
}

// withSnapshot runs fn on a snapshot, again when a truncation ran meanwhile
// and may have changed bytes fn read.
func withSnapshot[T any](l *Log, from int64, fn func(sn *snapshot) (T, error)) (T, error) {
	for {
		sn, err := l.acquire(from)
		if err != nil {
			var zero T
			return zero, err
		}
		res, err := fn(sn)
		sn.release()
		if l.truncations.Load() == sn.gen {
			return res, err
		}
	}
}

// window returns a scan window over the readable bytes of v, pinning the
// file unless there are none.
func (v *segmentView) window(chunk int) (*window, error) {
	if v.size == 0 {
		return &window{end: 0, chunk: chunk}, nil
	}
	f, err := v.file()
	if err != nil {
		return nil, err
	}
	return &window{f: f, end: v.size, chunk: chunk}, nil
}

// findBatch returns the position of the first batch in v whose last offset
// is >= offset, or v.size when there is none.
func (v *segmentView) findBatch(w *window, offset int64) (int64, error) {
	return scan(w, lookupOffset(v.offsets, offset), false, func(h *record.Header, _ int64) (bool, error) {
		return h.LastOffset() < offset, nil
	})
}

// Read returns a copy of whole batches starting with the batch that holds
// offset (which may start before offset, as in Kafka), ending before the
// first batch whose last offset is >= maxOffset (the high watermark,
// exclusive) and totalling at most maxBytes, except that with minOneBatch
// the first batch is returned whole even when larger (KIP-74). It continues
// into later segments. It returns nil for offset == LogEndOffset or offset
// >= maxOffset, and ErrOffsetOutOfRange outside [LogStartOffset,
// LogEndOffset]. Safe for concurrent use with every other method.
func (l *Log) Read(offset, maxOffset int64, maxBytes int, minOneBatch bool) ([]byte, error) {
	return withSnapshot(l, offset, func(sn *snapshot) ([]byte, error) {
		return sn.read(offset, maxOffset, maxBytes, minOneBatch)
	})
}

func (sn *snapshot) read(offset, maxOffset int64, maxBytes int, minOneBatch bool) ([]byte, error) {
	if offset < sn.start || offset > sn.end {
		return nil, fmt.Errorf("%w: offset %d, log holds [%d, %d)", ErrOffsetOutOfRange, offset, sn.start, sn.end)
	}
	if offset >= sn.end || offset >= maxOffset {
		return nil, nil
	}
	// Plan: the byte range of each segment that may hold wanted batches.
	type span struct {
		v        *segmentView
		from, to int64
		cut      bool // to is before the segment's end (maxOffset)
	}
	var spans []span
	var total int64
	for i := range sn.views {
		v := &sn.views[i]
		if v.base >= maxOffset {
			break
		}
		var from int64
		if i == 0 {
			w, err := v.window(lookupChunk)
			if err != nil {
				return nil, err
			}
			buf := lookupBuffers.Get().(*[]byte)
			w.buf = (*buf)[:0]
			from, err = v.findBatch(w, offset)
			lookupBuffers.Put(buf) // findBatch reads headers only: w.buf never outgrew it
			if err != nil {
				return nil, err
			}
		}
		to, cut := v.size, false
		if b := boundOffset(v.offsets, maxOffset); b >= 0 && b < to {
			to, cut = b, true
		}
		if to > from {
			spans = append(spans, span{v: v, from: from, to: to, cut: cut})
			total += to - from
		}
		if cut || (len(spans) > 0 && total >= int64(maxBytes)) {
			break
		}
	}
	if len(spans) == 0 {
		return nil, nil
	}
	out := make([]byte, 0, min(total, int64(max(maxBytes, record.HeaderSize))))
	for _, sp := range spans {
		want := min(sp.to-sp.from, int64(maxBytes-len(out)))
		if len(out) == 0 && minOneBatch {
			want = min(sp.to-sp.from, max(want, record.HeaderSize))
		}
		if want <= 0 {
			break
		}
		f, err := sp.v.file()
		if err != nil {
			return nil, err
		}
		old := len(out)
		out = slices.Grow(out, int(want))[:old+int(want)]
		if _, err := f.ReadAt(out[old:], sp.from); err != nil {
			return nil, fmt.Errorf("commitlog: read segment %d at %d: %w", sp.v.base, sp.from, err)
		}
		p, done := old, false
		for p < len(out) {
			if len(out)-p < record.HeaderSize {
				done = true
				break
			}
			h, err := record.ParseHeader(out[p:])
			if err != nil {
				return nil, fmt.Errorf("commitlog: segment %d position %d: %w", sp.v.base, sp.from+int64(p-old), err)
			}
			if h.LastOffset() >= maxOffset {
				done = true
				break
			}
			end := p + h.Size()
			if end > len(out) {
				if p == 0 && minOneBatch && sp.from+int64(h.Size()) <= sp.to {
					have := len(out)
					out = slices.Grow(out, end-have)[:end]
					if _, err := f.ReadAt(out[have:], sp.from+int64(have-old)); err != nil {
						return nil, fmt.Errorf("commitlog: read segment %d: %w", sp.v.base, err)
					}
					p = end
				}
				done = true
				break
			}
			p = end
		}
		out = out[:p]
		if done || sp.cut || want < sp.to-sp.from {
			break
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// OffsetForTimestamp implements ListOffsets by timestamp: the offset and
// timestamp of the earliest record with timestamp >= ts and offset <
// maxOffset. found is false when there is none.
func (l *Log) OffsetForTimestamp(ts, maxOffset int64) (offset, timestamp int64, found bool, err error) {
	r, err := withSnapshot(l, math.MinInt64, func(sn *snapshot) (timestampResult, error) {
		return sn.offsetForTimestamp(ts, maxOffset)
	})
	return r.offset, r.timestamp, r.found, err
}

type timestampResult struct {
	offset, timestamp int64
	found             bool
}

func (sn *snapshot) offsetForTimestamp(ts, maxOffset int64) (timestampResult, error) {
	var res timestampResult
	for i := range sn.views {
		v := &sn.views[i]
		if v.base >= maxOffset {
			break
		}
		// maxTS bounds every batch of the segment from above.
		if v.maxTS < ts {
			continue
		}
		var start int64
		if o := lookupTime(v.times, ts); o >= 0 {
			start = lookupOffset(v.offsets, o)
		}
		w, err := v.window(lookupChunk)
		if err != nil {
			return res, err
		}
		stop := false
		_, err = scan(w, start, false, func(h *record.Header, pos int64) (bool, error) {
			if h.LastOffset() >= maxOffset {
				stop = true
				return false, nil
			}
			if h.MaxTimestamp < ts {
				return true, nil
			}
			b, err := w.bytes(pos, h.Size())
			if err != nil {
				return false, err
			}
			recs, err := record.Records(b)
			if err != nil {
				return false, fmt.Errorf("commitlog: segment %d position %d: %w", v.base, pos, err)
			}
			for _, r := range recs {
				// Records below the log start offset (DeleteRecords) are gone
				// (Kafka's LogSegment.findOffsetByTimestamp skips them too).
				if r.Timestamp >= ts && r.Offset >= sn.start {
					res = timestampResult{offset: r.Offset, timestamp: r.Timestamp, found: true}
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil || res.found || stop {
			return res, err
		}
	}
	return res, nil
}

// MaxTimestamp implements ListOffsets MAX_TIMESTAMP: the offset and
// timestamp of the record with the largest timestamp in the batches below
// maxOffset; on ties the earliest. found is false when no record has a
// timestamp (all are record.NoTimestamp).
func (l *Log) MaxTimestamp(maxOffset int64) (offset, timestamp int64, found bool, err error) {
	r, err := withSnapshot(l, math.MinInt64, func(sn *snapshot) (timestampResult, error) {
		return sn.maxTimestamp(maxOffset)
	})
	return r.offset, r.timestamp, r.found, err
}

func (sn *snapshot) maxTimestamp(maxOffset int64) (timestampResult, error) {
	bestTS, bestOffset, best := int64(record.NoTimestamp), int64(0), -1
	for i := range sn.views {
		v := &sn.views[i]
		if v.base >= maxOffset {
			break
		}
		ts, off := v.maxTS, v.maxTSOffset
		if ts != record.NoTimestamp && off >= maxOffset {
			// The segment's largest timestamp lies beyond maxOffset: find
			// the largest below it.
			ts = record.NoTimestamp
			w, err := v.window(lookupChunk)
			if err != nil {
				return timestampResult{}, err
			}
			_, err = scan(w, 0, false, func(h *record.Header, _ int64) (bool, error) {
				if h.LastOffset() >= maxOffset {
					return false, nil
				}
				if h.MaxTimestamp > ts {
					ts, off = h.MaxTimestamp, h.LastOffset()
				}
				return true, nil
			})
			if err != nil {
				return timestampResult{}, err
			}
		}
		if ts > bestTS {
			bestTS, bestOffset, best = ts, off, i
		}
	}
	if best < 0 {
		return timestampResult{}, nil
	}
	// Decode the batch holding the maximum to find the exact record.
	v := &sn.views[best]
	w, err := v.window(lookupChunk)
	if err != nil {
		return timestampResult{}, err
	}
	pos, err := v.findBatch(w, bestOffset)
	if err != nil {
		return timestampResult{}, err
	}
	h, err := readHeader(w, pos)
	if err != nil {
		return timestampResult{}, err
	}
	b, err := w.bytes(pos, h.Size())
	if err != nil {
		return timestampResult{}, err
	}
	recs, err := record.Records(b)
	if err != nil {
		return timestampResult{}, fmt.Errorf("commitlog: segment %d position %d: %w", v.base, pos, err)
	}
	res := timestampResult{timestamp: record.NoTimestamp}
	for _, r := range recs {
		if !res.found || r.Timestamp > res.timestamp {
			res = timestampResult{offset: r.Offset, timestamp: r.Timestamp, found: true}
		}
	}
	if !res.found && h.RecordCount != 0 {
		return res, fmt.Errorf("commitlog: %w: batch at segment %d position %d holds no records", record.ErrCorrupt, v.base, pos)
	}
	// A batch without records is a header that compaction kept for its
	// producer; like Kafka, report no record rather than a made-up one.
	return res, nil
}

// ScanBatches calls fn with the header of every batch whose last offset is
// >= from, in offset order, without holding the lock (fn may call the
// Log). It stops at fn's first error and returns it. A concurrent
// TruncateTo makes it fail, since headers already passed to fn may be gone.
func (l *Log) ScanBatches(from int64, fn func(h record.Header) error) error {
	sn, err := l.acquire(from)
	if err != nil {
		return err
	}
	defer sn.release()
	for i := range sn.views {
		v := &sn.views[i]
		w, err := v.window(lookupChunk)
		if err != nil {
			return err
		}
		var start int64
		if i == 0 {
			if start, err = v.findBatch(w, from); err != nil {
				return err
			}
		}
		if _, err := scan(w, start, false, func(h *record.Header, _ int64) (bool, error) {
			if h.LastOffset() < from {
				return true, nil
			}
			return true, fn(*h)
		}); err != nil {
			return err
		}
		v.unpin()
	}
	if l.truncations.Load() != sn.gen {
		return errTruncatedDuringScan
	}
	return nil
}

var errTruncatedDuringScan = errors.New("commitlog: log truncated during scan")
