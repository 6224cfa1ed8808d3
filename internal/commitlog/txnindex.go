package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// The transaction index (Kafka's TransactionIndex, docs/format/segment.md):
// a segment's <base>.txnindex lists the transactions aborted by an ABORT
// marker in that segment, in marker order, as Kafka's AbortedTxn entries
// of 34 bytes:
//
//	int16 version (0)
//	int64 producerId
//	int64 firstOffset       first offset of the transaction's data
//	int64 lastOffset        offset of the ABORT marker
//	int64 lastStableOffset  first offset of the earliest other transaction
//	                        open when the marker was written, else lastOffset+1
//
// The file exists only once an entry was written (or compaction wrote the
// segment); a missing file has no entries. Its entries are never held in
// memory: read_committed fetches read them from the files of the segments
// they need (CollectAbortedTxns), so memory does not grow with the number
// of aborted transactions. The constants must never change.
const (
	txnIndexSuffix    = ".txnindex"
	abortedTxnSize    = 34
	abortedTxnVersion = 0
)

// AbortedTxn is one entry of the transaction index.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64 // first offset of the transaction's data
	LastOffset  int64 // offset of its ABORT marker
	// LastStableOffset is the first offset of the earliest other
	// transaction still open when the marker was written, or LastOffset+1:
	// no transaction aborted later has data below it.
	LastStableOffset int64
}

// ErrTxnIndexOrder is returned by AppendAbortedTxn for an entry whose
// marker is not after the last entry of its segment, or outside the log.
var ErrTxnIndexOrder = errors.New("commitlog: aborted transaction out of order")

// AppendTo appends the 34-byte entry.
func (a AbortedTxn) AppendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, abortedTxnVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.ProducerID))
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.FirstOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.LastOffset))
	return binary.BigEndian.AppendUint64(dst, uint64(a.LastStableOffset))
}

// parseAbortedTxn decodes one entry of b (at least abortedTxnSize bytes).
func parseAbortedTxn(b []byte) (AbortedTxn, error) {
	if len(b) < abortedTxnSize {
		return AbortedTxn{}, fmt.Errorf("%d bytes for an aborted transaction entry", len(b))
	}
	if v := int16(binary.BigEndian.Uint16(b)); v != abortedTxnVersion {
		return AbortedTxn{}, fmt.Errorf("aborted transaction entry version %d", v)
	}
	return AbortedTxn{
		ProducerID:       int64(binary.BigEndian.Uint64(b[2:])),
		FirstOffset:      int64(binary.BigEndian.Uint64(b[10:])),
		LastOffset:       int64(binary.BigEndian.Uint64(b[18:])),
		LastStableOffset: int64(binary.BigEndian.Uint64(b[26:])),
	}, nil
}

// txnChecker checks entries of one segment's .txnindex in file order:
// whole entries of version 0 whose markers are in [base, next) in
// increasing order, with 0 <= firstOffset <= lastOffset and a producer id.
type txnChecker struct {
	base, next int64
	last       int64
}

func newTxnChecker(base, next int64) txnChecker {
	return txnChecker{base: base, next: next, last: math.MinInt64}
}

func (c *txnChecker) check(e []byte) (AbortedTxn, error) {
	a, err := parseAbortedTxn(e)
	switch {
	case err != nil:
	case a.LastOffset < c.base || a.LastOffset >= c.next:
		err = fmt.Errorf("marker offset %d outside the segment [%d, %d)", a.LastOffset, c.base, c.next)
	case a.LastOffset <= c.last:
		err = fmt.Errorf("marker offset %d not after %d", a.LastOffset, c.last)
	case a.FirstOffset < 0 || a.FirstOffset > a.LastOffset:
		err = fmt.Errorf("first offset %d not in [0, %d]", a.FirstOffset, a.LastOffset)
	case a.ProducerID < 0:
		err = fmt.Errorf("producer id %d", a.ProducerID)
	}
	if err != nil {
		return a, err
	}
	c.last = a.LastOffset
	return a, nil
}

// ParseTxnIndex decodes the bytes of a .txnindex file of a segment with
// base offset base whose batches end before next: the longest prefix of
// valid entries (see txnChecker). It returns that prefix and an error
// saying why it stopped early (a torn tail, a foreign byte, an entry past
// the log end). The bytes are untrusted: they never cause a panic or an
// allocation beyond len(b).
func ParseTxnIndex(b []byte, base, next int64) ([]AbortedTxn, error) {
	entries := make([]AbortedTxn, 0, len(b)/abortedTxnSize)
	c := newTxnChecker(base, next)
	for p := 0; p < len(b); p += abortedTxnSize {
		a, err := c.check(b[p:min(p+abortedTxnSize, len(b))])
		if err != nil {
			return entries, fmt.Errorf("transaction index entry %d: %w", p/abortedTxnSize, err)
		}
		entries = append(entries, a)
	}
	return entries, nil
}

func (s *segment) txnIndexName() string { return s.path + txnIndexSuffix + s.indexExt }

// txnIndexChunk is how much of a .txnindex one read takes: whole entries,
// about 64 KiB, so that a large index never sits in memory at once.
const txnIndexChunk = (64 << 10) / abortedTxnSize * abortedTxnSize

// scanTxnIndex calls fn with the entries of the segment's .txnindex in
// file order, reading at most limit bytes (all when negative) a chunk at
// a time; the last one is shorter than abortedTxnSize when the file ends
// inside an entry. With skipBelow above math.MinInt64 it starts at the
// first entry whose marker is at or after skipBelow, found by a binary
// search over the sorted entries (a few small reads), so that a fetch at
// the end of a segment with many aborts does not read them all. The slice is valid during the call. It stops when fn
// returns false or an error. A missing file returns an error matching
// os.ErrNotExist. A file whose name was removed or replaced while the
// segment is held is read through the descriptor hold kept.
func (s *segment) scanTxnIndex(limit, skipBelow int64, fn func(i int, e []byte) (bool, error)) error {
	scanFile := func(f *os.File) error {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		size := st.Size()
		if limit >= 0 {
			size = min(size, limit)
		}
		var start int64
		if skipBelow > math.MinInt64 {
			if start, err = searchTxnIndex(f, size/abortedTxnSize, skipBelow); err != nil {
				return err
			}
		}
		buf := make([]byte, min(size, txnIndexChunk))
		for pos := start * abortedTxnSize; pos < size; {
			n := int(min(int64(len(buf)), size-pos))
			m, err := f.ReadAt(buf[:n], pos)
			if err != nil && err != io.EOF {
				return err
			}
			for p := 0; p < m; p += abortedTxnSize {
				more, err := fn(int((pos+int64(p))/abortedTxnSize), buf[p:min(p+abortedTxnSize, m)])
				if err != nil || !more {
					return err
				}
			}
			if m < n {
				return nil // the file is shorter than it was
			}
			pos += int64(m)
		}
		return nil
	}
	s.txnHeld.Lock()
	if held := s.txnHeld.f; held != nil {
		defer s.txnHeld.Unlock()
		return scanFile(held)
	}
	s.txnHeld.Unlock()
	err := s.log.cache.withTransient(s.fs(), s.txnIndexName(), os.O_RDONLY, scanFile)
	if errors.Is(err, os.ErrNotExist) {
		// Removed since: hold may have kept it.
		s.txnHeld.Lock()
		defer s.txnHeld.Unlock()
		if s.txnHeld.f != nil {
			return scanFile(s.txnHeld.f)
		}
	}
	return err
}

// searchTxnIndex returns the index of the first of the n entries of f
// whose lastOffset is >= offset (n when none). Entries are sorted by
// lastOffset (checked at open); a short read ends the search early.
func searchTxnIndex(f *os.File, n, offset int64) (int64, error) {
	var e [abortedTxnSize]byte
	lo, hi := int64(0), n
	for lo < hi {
		mid := lo + (hi-lo)/2
		if m, err := f.ReadAt(e[:], mid*abortedTxnSize); m < abortedTxnSize {
			if err == io.EOF {
				return lo, nil // shorter than it was: scan from lo
			}
			return 0, err
		}
		if int64(binary.BigEndian.Uint64(e[18:])) < offset {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// holdTxnIndex keeps the .txnindex open for readers before its name is
// removed or replaced (see segment.hold).
func (s *segment) holdTxnIndex() error {
	s.txnHeld.Lock()
	defer s.txnHeld.Unlock()
	if s.txnHeld.f != nil {
		return nil
	}
	f, err := s.log.cache.openTransient(s.fs(), s.txnIndexName(), os.O_RDONLY)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	s.txnHeld.f = f
	return nil
}

func (s *segment) closeTxnIndex() error {
	s.txnHeld.Lock()
	defer s.txnHeld.Unlock()
	if s.txnHeld.f == nil {
		return nil
	}
	err := s.log.cache.closeTransient(s.txnHeld.f)
	s.txnHeld.f = nil
	return err
}

// appendTxnLocked writes entries after the segment's last one.
func (s *segment) appendTxnLocked(entries []AbortedTxn) error {
	if len(entries) == 0 {
		return nil
	}
	b := make([]byte, 0, len(entries)*abortedTxnSize)
	for _, a := range entries {
		b = a.AppendTo(b)
	}
	err := s.log.cache.withTransient(s.fs(), s.txnIndexName(), os.O_RDWR|os.O_CREATE, func(f *os.File) error {
		_, err := s.fs().WriteAt(f, b, int64(s.txnEntries)*abortedTxnSize)
		return err
	})
	if err != nil {
		return fmt.Errorf("write transaction index of segment %d: %w", s.base, err)
	}
	s.txnEntries += len(entries)
	s.txnLast = entries[len(entries)-1].LastOffset
	s.txnUnsynced.Store(true)
	return nil
}

// syncTxnIndex fsyncs the .txnindex when entries were written since the
// last fsync.
func (s *segment) syncTxnIndex() error {
	if !s.txnUnsynced.Swap(false) {
		return nil
	}
	err := s.log.cache.withTransient(s.fs(), s.txnIndexName(), os.O_RDWR, s.fs().Sync)
	if errors.Is(err, os.ErrNotExist) {
		return nil // removed since (truncation, retention): nothing to keep
	}
	if err != nil {
		s.txnUnsynced.Store(true)
		return fmt.Errorf("sync transaction index %d: %w", s.base, err)
	}
	return nil
}

// loadTxnIndexLocked loads the segment's transaction index at open and
// keeps the entries whose markers lie below limit (the segment's end, or
// the recovery point when the log after it is rescanned): the file is cut
// after the longest valid prefix of such entries (a torn tail, entries
// past the log end, foreign bytes). Entries for markers from
// txnRebuild on are then missing; Log.RebuildTxnIndex writes them.
func (s *segment) loadTxnIndexLocked(limit int64) (cut error, err error) {
	s.txnEntries, s.txnLast, s.txnRebuild = 0, -1, math.MaxInt64
	c := newTxnChecker(s.base, s.next)
	keep, size := 0, int64(0)
	err = s.scanTxnIndex(-1, math.MinInt64, func(i int, e []byte) (bool, error) {
		size += int64(len(e))
		a, err := c.check(e)
		if err != nil {
			cut = fmt.Errorf("entry %d: %w", i, err)
			return false, nil
		}
		if a.LastOffset >= limit {
			return false, nil
		}
		keep, s.txnLast = i+1, a.LastOffset
		return true, nil
	})
	missing := errors.Is(err, os.ErrNotExist)
	if err != nil && !missing {
		return nil, err
	}
	switch {
	case cut != nil:
		s.txnRebuild = s.base // RebuildTxnIndex skips the entries kept
	case limit < s.next:
		s.txnRebuild = limit
	}
	if !missing && size != int64(keep)*abortedTxnSize || cut != nil {
		if err := s.fs().TruncatePath(s.txnIndexName(), int64(keep)*abortedTxnSize); err != nil {
			return cut, err
		}
		s.txnUnsynced.Store(true)
	}
	s.txnEntries = keep
	return cut, nil
}

// resetTxnIndexLocked empties the transaction index of a segment that is
// rescanned whole: every entry is rebuilt.
func (s *segment) resetTxnIndexLocked() error {
	s.txnEntries, s.txnLast, s.txnRebuild = 0, -1, s.base
	if err := s.fs().TruncatePath(s.txnIndexName(), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// truncateTxnIndexLocked drops the entries of markers at or after offset.
func (s *segment) truncateTxnIndexLocked(offset int64) error {
	if s.txnEntries == 0 || s.txnLast < offset {
		return nil
	}
	keep, last := 0, int64(-1)
	err := s.scanTxnIndex(int64(s.txnEntries)*abortedTxnSize, math.MinInt64, func(i int, e []byte) (bool, error) {
		a, err := parseAbortedTxn(e)
		if err != nil || a.LastOffset >= offset {
			return false, nil
		}
		keep, last = i+1, a.LastOffset
		return true, nil
	})
	if err != nil {
		return err
	}
	if err := s.fs().TruncatePath(s.txnIndexName(), int64(keep)*abortedTxnSize); err != nil {
		return err
	}
	s.txnEntries, s.txnLast = keep, last
	s.txnUnsynced.Store(true)
	return nil
}

// AppendAbortedTxn adds the entry of an ABORT marker just appended (at
// a.LastOffset) to the transaction index of its segment. The caller
// computes a.FirstOffset and a.LastStableOffset from its producer state
// (internal/partition). Entries of one log must come in marker order.
// It does not fsync the active segment's index: Sync, a roll and Close
// do. A failed write fails the log (like a failed fsync): recovery then
// rebuilds the index from the log.
func (l *Log) AppendAbortedTxn(a AbortedTxn) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	s := l.segmentForLocked(a.LastOffset)
	if s == nil || a.LastOffset >= s.next || a.LastOffset <= s.txnLast || a.FirstOffset > a.LastOffset {
		return fmt.Errorf("%w: marker at %d (first offset %d)", ErrTxnIndexOrder, a.LastOffset, a.FirstOffset)
	}
	err := s.appendTxnLocked([]AbortedTxn{a})
	if err == nil && s != l.activeLocked() {
		err = s.syncTxnIndex() // sealed segments are not fsynced again
	}
	if err != nil {
		l.mu.failed = fmt.Errorf("commitlog: %w", err)
		return l.mu.failed
	}
	return nil
}

// segmentForLocked returns the segment whose offsets include offset, or nil.
func (l *Log) segmentForLocked(offset int64) *segment {
	segs := l.mu.segments
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
	if i < 0 {
		return nil
	}
	return segs[i]
}

// TxnIndexRebuildFrom is the offset from which ABORT markers may be
// missing from the transaction index after Open: the recovery point when
// the log after it was rescanned, the base of a segment whose index was
// damaged, or math.MaxInt64 when the index is complete. The owner of the
// producer state then calls RebuildTxnIndex.
func (l *Log) TxnIndexRebuildFrom() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	from := int64(math.MaxInt64)
	for _, s := range l.mu.segments {
		from = min(from, s.txnRebuild)
	}
	return from
}

// RebuildTxnIndex writes the entries of the ABORT markers that Open found
// missing (see TxnIndexRebuildFrom), in marker order; entries the index
// already has are skipped. It fsyncs what it wrote and marks the index
// complete.
func (l *Log) RebuildTxnIndex(entries []AbortedTxn) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	var errs []error
	for i := 0; i < len(entries); {
		s := l.segmentForLocked(entries[i].LastOffset)
		j := i
		var add []AbortedTxn
		for ; j < len(entries) && l.segmentForLocked(entries[j].LastOffset) == s; j++ {
			a := entries[j]
			if s != nil && a.LastOffset >= s.txnRebuild && a.LastOffset > s.txnLast && a.LastOffset < s.next && a.FirstOffset <= a.LastOffset {
				add = append(add, a)
			}
		}
		if s != nil {
			errs = append(errs, s.appendTxnLocked(add))
		}
		i = j
	}
	for _, s := range l.mu.segments {
		if s.txnRebuild != math.MaxInt64 {
			errs = append(errs, s.syncTxnIndex())
			s.txnRebuild = math.MaxInt64
		}
	}
	if err := errors.Join(errs...); err != nil {
		l.mu.failed = fmt.Errorf("commitlog: rebuild transaction index: %w", err)
		return l.mu.failed
	}
	return nil
}

// collectAbortedTxns appends to dst the entries of the views from the
// first on whose transactions may have data in [from, upTo): marker at
// or after from, first offset before upTo. Like Kafka's
// UnifiedLog.collectAbortedTransactions it stops at the first entry whose
// last stable offset reaches upTo: every later abort began after it.
func (sn *snapshot) collectAbortedTxns(dst []AbortedTxn, from, upTo int64) ([]AbortedTxn, error) {
	for i := range sn.views {
		v := &sn.views[i]
		if v.txnEntries == 0 || v.next <= from {
			continue
		}
		done := false
		// Entries of markers before from are skipped: their last stable
		// offset is at most from, so they never end the search either.
		err := v.seg.scanTxnIndex(int64(v.txnEntries)*abortedTxnSize, from, func(_ int, e []byte) (bool, error) {
			a, err := parseAbortedTxn(e)
			if err != nil {
				return false, fmt.Errorf("%w: %w", errCorruptTxnIndex, err)
			}
			if a.LastOffset >= from && a.FirstOffset < upTo {
				dst = append(dst, a)
			}
			done = a.LastStableOffset >= upTo
			return !done, nil
		})
		// A file rewritten by compaction since may be shorter; its entries
		// are those whose data survived, which is all a reader needs.
		if err != nil {
			return dst, fmt.Errorf("commitlog: transaction index of segment %d: %w", v.base, err)
		}
		if done {
			return dst, nil
		}
	}
	return dst, nil
}

var errCorruptTxnIndex = errors.New("corrupt transaction index")

// CollectAbortedTxns returns the aborted transactions that may have data
// in [from, upTo), read from the transaction index files.
func (l *Log) CollectAbortedTxns(from, upTo int64) ([]AbortedTxn, error) {
	return withSnapshot(l, from, func(sn *snapshot) ([]AbortedTxn, error) {
		return sn.collectAbortedTxns(nil, from, upTo)
	})
}

// ReadCommittedRegions is ReadRegions (maxOffset the last stable offset)
// that also returns the aborted transactions with data in the range read,
// from the same view of the segments.
func (l *Log) ReadCommittedRegions(offset, maxOffset int64, maxBytes int, minOneBatch bool) ([]FileRegion, func(), []AbortedTxn, error) {
	sn, err := l.acquire(offset)
	if err != nil {
		return nil, func() {}, nil, err
	}
	regions, end, err := sn.regionsTo(offset, maxOffset, maxBytes, minOneBatch)
	if err != nil || len(regions) == 0 {
		sn.release()
		return nil, func() {}, nil, err
	}
	aborted, err := sn.collectAbortedTxns(nil, offset, end)
	if err != nil {
		sn.release()
		return nil, func() {}, nil, err
	}
	return regions, sn.release, aborted, nil
}
