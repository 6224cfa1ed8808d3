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

// ParseTxnIndex decodes the entries of a .txnindex file's bytes that lie
// in a segment with base offset base whose batches end before next: the
// longest prefix of whole entries of version 0 whose markers are in
// [base, next) in increasing order, with firstOffset <= lastOffset. It
// returns that prefix and an error saying why it stopped early (a torn
// tail, a foreign byte, an entry past the log end); the bytes are
// untrusted and never cause a panic or a large allocation beyond len(b).
func ParseTxnIndex(b []byte, base, next int64) ([]AbortedTxn, error) {
	entries := make([]AbortedTxn, 0, len(b)/abortedTxnSize)
	last := int64(math.MinInt64)
	for p := 0; p < len(b); p += abortedTxnSize {
		if len(b)-p < abortedTxnSize {
			return entries, fmt.Errorf("%w: transaction index of %d bytes is not a multiple of %d", errTornTxnIndex, len(b), abortedTxnSize)
		}
		a, err := parseAbortedTxn(b[p:])
		switch {
		case err != nil:
		case a.LastOffset < base || a.LastOffset >= next:
			err = fmt.Errorf("marker offset %d outside the segment [%d, %d)", a.LastOffset, base, next)
		case a.LastOffset <= last:
			err = fmt.Errorf("marker offset %d not after %d", a.LastOffset, last)
		case a.FirstOffset < 0 || a.FirstOffset > a.LastOffset:
			err = fmt.Errorf("first offset %d not in [0, %d]", a.FirstOffset, a.LastOffset)
		case a.ProducerID < 0:
			err = fmt.Errorf("producer id %d", a.ProducerID)
		}
		if err != nil {
			return entries, fmt.Errorf("transaction index entry %d: %w", p/abortedTxnSize, err)
		}
		last = a.LastOffset
		entries = append(entries, a)
	}
	return entries, nil
}

var errTornTxnIndex = errors.New("torn transaction index")

func (s *segment) txnIndexName() string { return s.path + txnIndexSuffix + s.indexExt }

// readTxnIndexFile returns the bytes of the segment's .txnindex (nil when
// missing), at most limit bytes when limit >= 0. A file whose name was
// removed or replaced while the segment is held is read through the
// descriptor hold kept.
func (s *segment) readTxnIndexFile(limit int64) ([]byte, error) {
	var b []byte
	read := func(f *os.File) error {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		n := st.Size()
		if limit >= 0 {
			n = min(n, limit)
		}
		if n > math.MaxInt32 {
			return fmt.Errorf("transaction index of %d bytes", n)
		}
		b = make([]byte, n)
		m, err := f.ReadAt(b, 0)
		if err != nil && err != io.EOF {
			return err
		}
		b = b[:m]
		return nil
	}
	s.txnHeld.Lock()
	held := s.txnHeld.f
	if held != nil {
		err := read(held)
		s.txnHeld.Unlock()
		return b, err
	}
	s.txnHeld.Unlock()
	err := s.log.cache.withTransient(s.fs(), s.txnIndexName(), os.O_RDONLY, read)
	if errors.Is(err, os.ErrNotExist) {
		// Removed since: hold may have kept it.
		s.txnHeld.Lock()
		defer s.txnHeld.Unlock()
		if s.txnHeld.f != nil {
			return b, read(s.txnHeld.f)
		}
		return nil, err
	}
	return b, err
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
	b, err := s.readTxnIndexFile(-1)
	if errors.Is(err, os.ErrNotExist) {
		if limit < s.next {
			s.txnRebuild = limit
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	entries, cut := ParseTxnIndex(b, s.base, s.next)
	keep := sort.Search(len(entries), func(i int) bool { return entries[i].LastOffset >= limit })
	switch {
	case cut != nil:
		s.txnRebuild = s.base // RebuildTxnIndex skips the entries kept
	case limit < s.next:
		s.txnRebuild = limit
	}
	if keep*abortedTxnSize != len(b) {
		if err := s.fs().TruncatePath(s.txnIndexName(), int64(keep)*abortedTxnSize); err != nil {
			return cut, err
		}
		s.txnUnsynced.Store(true)
	}
	s.txnEntries = keep
	if keep > 0 {
		s.txnLast = entries[keep-1].LastOffset
	}
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
	b, err := s.readTxnIndexFile(int64(s.txnEntries) * abortedTxnSize)
	if err != nil {
		return err
	}
	entries, _ := ParseTxnIndex(b, s.base, math.MaxInt64)
	keep := sort.Search(len(entries), func(i int) bool { return entries[i].LastOffset >= offset })
	if err := s.fs().TruncatePath(s.txnIndexName(), int64(keep)*abortedTxnSize); err != nil {
		return err
	}
	s.txnEntries, s.txnLast = keep, -1
	if keep > 0 {
		s.txnLast = entries[keep-1].LastOffset
	}
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
		b, err := v.seg.readTxnIndexFile(int64(v.txnEntries) * abortedTxnSize)
		if err != nil {
			return dst, fmt.Errorf("commitlog: transaction index of segment %d: %w", v.base, err)
		}
		// A file rewritten by compaction since may be shorter; its entries
		// are those whose data survived, which is all a reader needs.
		for p := 0; p+abortedTxnSize <= len(b); p += abortedTxnSize {
			a, err := parseAbortedTxn(b[p:])
			if err != nil {
				return dst, fmt.Errorf("commitlog: %w: transaction index of segment %d: %w", errCorruptTxnIndex, v.base, err)
			}
			if a.LastOffset >= from && a.FirstOffset < upTo {
				dst = append(dst, a)
			}
			if a.LastStableOffset >= upTo {
				return dst, nil
			}
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
