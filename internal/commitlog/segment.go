package commitlog

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/arus-io/arus/internal/record"
)

// File names of a log directory, see docs/format/segment.md. They are part
// of the on-disk format and must never change.
const (
	logSuffix         = ".log"
	indexSuffix       = ".index"
	timeIndexSuffix   = ".timeindex"
	cleanShutdownFile = ".arus-clean-shutdown"
	baseOffsetDigits  = 20
	// Compaction writes a new segment's files with cleanedSuffix appended
	// and renames them to swapSuffix to commit it (compact_files.go).
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// Scan window sizes: small when hopping over a few headers after an index
// lookup, large when reading a whole segment at recovery.
const (
	lookupChunk   = 16 << 10
	recoveryChunk = 1 << 20
)

// segmentName is the file name of a segment without suffix: its base offset
// in 20 zero-padded digits, as in Kafka.
func segmentName(base int64) string {
	return fmt.Sprintf("%0*d", baseOffsetDigits, base)
}

// parseSegmentName returns the base offset of a .log file name.
func parseSegmentName(name string) (int64, bool) {
	stem, ok := strings.CutSuffix(name, logSuffix)
	if !ok || len(stem) != baseOffsetDigits {
		return 0, false
	}
	base, err := strconv.ParseInt(stem, 10, 64)
	if err != nil || base < 0 {
		return 0, false
	}
	return base, true
}

// segment is one .log file with its two index files. The segment list of
// Log holds one reference; readers take one each so that retention can
// unlink a segment while a read is still copying from it. The .log file
// goes through the Log's FileCache (open while used, closed when evicted)
// and closes for good when the last reference goes. The index files hold
// no descriptor: their entries are in memory and the files are opened only
// to load, write, truncate or fsync them (Kafka's LazyIndex, taken further).
type segment struct {
	base int64 // offset of the first batch; fixed
	path string
	log  *segmentFile
	// indexExt is appended to the index file names: cleanedSuffix while
	// the cleaner writes a new segment, then "". Guarded like the fields
	// below.
	indexExt string
	refs     atomic.Int32

	// All fields below are guarded by Log.mu: written under the write lock,
	// read under either lock. Readers copy what they need into a
	// segmentView and never touch them after unlocking.

	size int64 // bytes of whole batches in the .log file
	next int64 // offset after the last batch; base when empty
	// offsets and times are never changed in place once published: they only
	// grow, and truncation replaces them with copies, so a view may keep an
	// old slice header.
	offsets         []offsetEntry
	times           []timeEntry
	offsetsFlushed  int   // entries of offsets already written to .index
	timesFlushed    int   // entries of times already written to .timeindex
	bytesSinceIndex int64 // bytes appended since the last offset index entry
	maxTS           int64 // largest batch max timestamp; record.NoTimestamp when none
	maxTSOffset     int64 // last offset of the first batch carrying maxTS
	firstTS         int64 // max timestamp of the first batch; record.NoTimestamp when none
	openedMs        int64 // when this process created or opened the segment (Config.Now)

	// The transaction index (txnindex.go): entries in the .txnindex file,
	// the marker offset of the last one (-1: none), and the offset from
	// which entries are missing after Open until RebuildTxnIndex
	// (math.MaxInt64: none).
	txnEntries int
	txnLast    int64
	txnRebuild int64
	// txnUnsynced is set when entries were written since the last fsync of
	// the .txnindex (Sync reads it without the write lock).
	txnUnsynced atomic.Bool
	// txnHeld keeps the .txnindex open once its name is about to go while
	// readers hold the segment (hold), like the .log.
	txnHeld struct {
		sync.Mutex
		f *os.File
	}
}

// segmentPath is the path of a segment's files without suffix.
func segmentPath(dir string, base int64) string {
	return filepath.Join(dir, segmentName(base))
}

func newSegment(files *FileCache, fs FS, dir string, base, nowMs int64) *segment {
	path := segmentPath(dir, base)
	s := &segment{
		base:     base,
		path:     path,
		log:      files.newFile(fs, path+logSuffix),
		next:     base,
		maxTS:    record.NoTimestamp,
		firstTS:  record.NoTimestamp,
		openedMs: nowMs,

		txnLast:    -1,
		txnRebuild: math.MaxInt64,
	}
	s.refs.Store(1)
	return s
}

// openFiles opens the .log file (or with create, exclusively creates it).
// Index files are created when their first entries are written or the
// segment is sealed; any left over from an older segment of the same base
// are removed first. Index files that are missing at load (deleted by
// hand, or a crash) are taken as empty and rebuilt.
func (s *segment) openFiles(create bool) error {
	flag := os.O_RDWR | os.O_CREATE
	if create {
		flag |= os.O_EXCL
	}
	if err := s.log.create(flag); err != nil {
		return err
	}
	if !create {
		return nil
	}
	for _, name := range []string{s.indexName(), s.timeIndexName(), s.txnIndexName()} {
		if err := s.fs().Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = s.closeFiles() // the caller removes or abandons the segment
			return err
		}
	}
	return nil
}

func (s *segment) indexName() string     { return s.path + indexSuffix + s.indexExt }
func (s *segment) timeIndexName() string { return s.path + timeIndexSuffix + s.indexExt }

func (s *segment) closeFiles() error { return errors.Join(s.log.close(), s.closeTxnIndex()) }

// hold keeps the .log file (and the .txnindex) open until the segment's
// last reference goes: its name is about to be removed or replaced while
// readers may use it.
func (s *segment) hold() error { return errors.Join(s.log.hold(), s.holdTxnIndex()) }

func (s *segment) acquire() { s.refs.Add(1) }

// release drops a reference and closes the files with the last one.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		_ = s.closeFiles() // read-only use remains; nothing to lose
	}
}

// remove unlinks the segment's files. Open descriptors stay usable; hold
// first when readers may still need the .log file.
func (s *segment) remove() error { return removeSegmentFiles(s.fs(), s.path) }

// fs is the file system of the segment's Log.
func (s *segment) fs() FS { return s.log.fs }

func removeSegmentFiles(fs FS, path string) error {
	var errs []error
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if err := fs.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// observeLocked updates the in-memory state for a batch written at pos,
// following Kafka's LogSegment.append: the max timestamp is updated first,
// then an index entry is added when more than interval bytes were appended
// since the previous one.
func (s *segment) observeLocked(h *record.Header, pos int64, interval int32) {
	if pos == 0 {
		s.firstTS = h.MaxTimestamp
	}
	if h.MaxTimestamp > s.maxTS {
		s.maxTS = h.MaxTimestamp
		s.maxTSOffset = h.LastOffset()
	}
	if s.bytesSinceIndex > int64(interval) {
		s.offsets = append(s.offsets, offsetEntry{offset: h.LastOffset(), pos: int32(pos)})
		s.maybeAppendTimeLocked()
		s.bytesSinceIndex = 0
	}
	size := int64(h.Size())
	s.bytesSinceIndex += size
	s.size = pos + size
	s.next = h.NextOffset()
}

// maybeAppendTimeLocked adds a time index entry for the largest timestamp
// so far when it is larger than the last indexed one.
func (s *segment) maybeAppendTimeLocked() {
	if s.maxTS == record.NoTimestamp {
		return
	}
	if n := len(s.times); n > 0 && s.maxTS <= s.times[n-1].ts {
		return
	}
	s.times = append(s.times, timeEntry{ts: s.maxTS, offset: s.maxTSOffset})
}

// maybeFlushIndexesLocked writes buffered index entries once enough piled up.
func (s *segment) maybeFlushIndexesLocked() error {
	if (len(s.offsets)-s.offsetsFlushed)*offsetEntrySize < indexFlushBytes &&
		(len(s.times)-s.timesFlushed)*timeEntrySize < indexFlushBytes {
		return nil
	}
	return s.flushIndexesLocked()
}

// flushIndexesLocked writes buffered index entries to the index files.
func (s *segment) flushIndexesLocked() error { return s.writeIndexesLocked(false) }

// writeIndexesLocked writes buffered index entries to the index files and
// with sync fsyncs them, opening each file once for both.
func (s *segment) writeIndexesLocked(sync bool) error {
	files := s.log.cache
	// A file that never had an entry need not exist: loading takes a
	// missing index as empty.
	if n := len(s.offsets); n > s.offsetsFlushed || sync && n > 0 {
		err := files.withTransient(s.fs(), s.indexName(), os.O_RDWR|os.O_CREATE, func(f *os.File) error {
			if n > s.offsetsFlushed {
				b := appendOffsetEntries(nil, s.base, s.offsets[s.offsetsFlushed:])
				if _, err := s.fs().WriteAt(f, b, int64(s.offsetsFlushed)*offsetEntrySize); err != nil {
					return fmt.Errorf("write offset index: %w", err)
				}
			}
			if sync {
				if err := s.fs().Sync(f); err != nil {
					return fmt.Errorf("sync offset index %d: %w", s.base, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.offsetsFlushed = n
	}
	if n := len(s.times); n > s.timesFlushed || sync && n > 0 {
		err := files.withTransient(s.fs(), s.timeIndexName(), os.O_RDWR|os.O_CREATE, func(f *os.File) error {
			if n > s.timesFlushed {
				b := appendTimeEntries(nil, s.base, s.times[s.timesFlushed:])
				if _, err := s.fs().WriteAt(f, b, int64(s.timesFlushed)*timeEntrySize); err != nil {
					return fmt.Errorf("write time index: %w", err)
				}
			}
			if sync {
				if err := s.fs().Sync(f); err != nil {
					return fmt.Errorf("sync time index %d: %w", s.base, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.timesFlushed = n
	}
	return nil
}

// sealLocked makes the segment durable and its indexes complete, as Kafka
// does when a segment becomes inactive: the time index gets a last entry
// for the segment's largest timestamp so that it can be loaded at open
// without scanning.
func (s *segment) sealLocked() error {
	s.maybeAppendTimeLocked()
	return s.syncFilesLocked()
}

// syncFilesLocked writes buffered index entries and fsyncs the .log and
// the index files.
func (s *segment) syncFilesLocked() error {
	if err := s.log.with(s.fs().Sync); err != nil {
		return fmt.Errorf("sync segment %d: %w", s.base, err)
	}
	if err := s.writeIndexesLocked(true); err != nil {
		return err
	}
	return s.syncTxnIndex()
}

// resetLocked forgets all batches, keeping the files.
func (s *segment) resetLocked() {
	s.size, s.next = 0, s.base
	s.offsets, s.times = nil, nil
	s.offsetsFlushed, s.timesFlushed = 0, 0
	s.bytesSinceIndex = 0
	s.maxTS, s.maxTSOffset, s.firstTS = record.NoTimestamp, 0, record.NoTimestamp
}

// truncateIndexesLocked cuts the index files to the entries flushed.
func (s *segment) truncateIndexesLocked() error {
	for _, f := range []struct {
		name string
		size int64
	}{
		{s.indexName(), int64(s.offsetsFlushed) * offsetEntrySize},
		{s.timeIndexName(), int64(s.timesFlushed) * timeEntrySize},
	} {
		// A missing file is as good as an empty one.
		if err := s.fs().TruncatePath(f.name, f.size); err != nil && (f.size > 0 || !errors.Is(err, os.ErrNotExist)) {
			return err
		}
	}
	return nil
}

// loadLocked loads the indexes from their files and scans the batches after
// the last offset index entry to find the segment's end, as done after a
// clean shutdown. Any inconsistency returns an error; the caller then
// rebuilds the segment with recoverLocked.
func (s *segment) loadLocked() error {
	return s.log.with(func(f *os.File) error {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		fileSize := st.Size()
		if fileSize > math.MaxInt32 {
			return fmt.Errorf("%w: segment of %d bytes exceeds the int32 index range", record.ErrCorrupt, fileSize)
		}
		var offsets []offsetEntry
		var times []timeEntry
		files := s.log.cache
		// A missing index file (never written, deleted by hand) is empty.
		if err := files.withTransient(s.fs(), s.indexName(), os.O_RDONLY, func(idx *os.File) error {
			offsets, err = readOffsetIndex(idx, s.base, fileSize)
			return err
		}); err != nil && !errors.Is(err, os.ErrNotExist) {
			return indexError(err)
		}
		if err := files.withTransient(s.fs(), s.timeIndexName(), os.O_RDONLY, func(idx *os.File) error {
			times, err = readTimeIndex(idx, s.base)
			return err
		}); err != nil && !errors.Is(err, os.ErrNotExist) {
			return indexError(err)
		}
		s.resetLocked()
		s.offsets, s.offsetsFlushed = offsets, len(offsets)
		s.times, s.timesFlushed = times, len(times)
		return s.scanTailLocked(f, fileSize)
	})
}

// indexError marks a content error of an index file as corruption (the
// index is rebuilt); I/O errors stay what they are.
func indexError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("%w: %w", record.ErrCorrupt, err)
}

// scanTailLocked sets the segment's state from its index entries and the
// batches after the last offset index entry, up to end. Every batch up to
// the last offset entry is covered by the time index: its last entry at the
// time that offset entry was added was the largest timestamp so far.
func (s *segment) scanTailLocked(f *os.File, end int64) error {
	s.size, s.next, s.bytesSinceIndex = 0, s.base, 0
	s.maxTS, s.maxTSOffset, s.firstTS = record.NoTimestamp, 0, record.NoTimestamp
	if n := len(s.times); n > 0 {
		s.maxTS, s.maxTSOffset = s.times[n-1].ts, s.times[n-1].offset
	}
	var start int64
	var indexed int64 = -1
	if n := len(s.offsets); n > 0 {
		start, indexed = int64(s.offsets[n-1].pos), s.offsets[n-1].offset
	}
	w := &window{f: f, end: end, chunk: lookupChunk}
	if end > 0 {
		h, err := readHeader(w, 0)
		if err != nil {
			return err
		}
		s.firstTS = h.MaxTimestamp
	}
	stop, err := scan(w, start, false, func(h *record.Header, pos int64) (bool, error) {
		if h.BaseOffset < s.next {
			return false, fmt.Errorf("%w: batch at position %d has offset %d below %d", record.ErrCorrupt, pos, h.BaseOffset, s.next)
		}
		if pos == start && indexed >= 0 && h.LastOffset() != indexed {
			return false, fmt.Errorf("%w: batch at position %d ends at offset %d, its index entry says %d", record.ErrCorrupt, pos, h.LastOffset(), indexed)
		}
		if h.MaxTimestamp > s.maxTS {
			s.maxTS, s.maxTSOffset = h.MaxTimestamp, h.LastOffset()
		}
		s.next = h.NextOffset()
		return true, nil
	})
	if err != nil {
		return err
	}
	if start > 0 && stop == start {
		return fmt.Errorf("%w: offset index points at the segment end %d", record.ErrCorrupt, start)
	}
	if n := len(s.times); n > 0 && s.times[n-1].offset >= s.next {
		return fmt.Errorf("%w: time index entry for offset %d beyond the segment end %d", record.ErrCorrupt, s.times[n-1].offset, s.next)
	}
	s.size = stop
	s.bytesSinceIndex = stop - start
	return nil
}

// truncateLocked cuts the segment at pos, the position of the batch that
// starts at offset (or the segment's end), drops the index entries of the
// removed batches and fsyncs.
func (s *segment) truncateLocked(pos, offset int64) error {
	return s.log.with(func(f *os.File) error { return s.truncateFileLocked(f, pos, offset) })
}

func (s *segment) truncateFileLocked(f *os.File, pos, offset int64) error {
	if err := s.fs().Truncate(f, pos); err != nil {
		return err
	}
	keepOffsets := sort.Search(len(s.offsets), func(i int) bool { return int64(s.offsets[i].pos) >= pos })
	keepTimes := sort.Search(len(s.times), func(i int) bool { return s.times[i].offset >= offset })
	// Copies, not reslices: views held by readers may still use the old arrays.
	s.offsets = slices.Clone(s.offsets[:keepOffsets])
	s.times = slices.Clone(s.times[:keepTimes])
	s.offsetsFlushed = min(s.offsetsFlushed, keepOffsets)
	s.timesFlushed = min(s.timesFlushed, keepTimes)
	if err := s.truncateIndexesLocked(); err != nil {
		return err
	}
	if err := s.truncateTxnIndexLocked(offset); err != nil {
		return err
	}
	if err := s.scanTailLocked(f, pos); err != nil {
		return err
	}
	return s.syncFilesLocked()
}

// recoverLocked rebuilds the segment's state and index files by reading
// every batch from the start, checking sizes, CRCs, magic and increasing
// offsets. With truncate it cuts the .log file at the first invalid batch (a
// torn tail) and returns how many bytes it dropped; without, it only stops
// there, leaving the bytes on disk. I/O errors are returned as they are and
// change nothing on disk.
func (s *segment) recoverLocked(interval int32, truncate bool) (dropped int64, err error) {
	f, err := s.log.pin()
	if err != nil {
		return 0, err
	}
	defer s.log.unpin()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	s.resetLocked()
	if err := s.resetTxnIndexLocked(); err != nil {
		return 0, err
	}
	return s.recoverTailLocked(f, st.Size(), 0, interval, truncate)
}

// recoverTailLocked checks the batches of f from position from (where the
// segment's state ends) to fileSize, adding them to the state, cuts the
// file at the first invalid one with truncate, cuts the index files to
// their flushed entries and writes and fsyncs the rest. I/O errors of the
// scan change nothing on disk.
func (s *segment) recoverTailLocked(f *os.File, fileSize, from int64, interval int32, truncate bool) (dropped int64, err error) {
	w := &window{f: f, end: min(fileSize, math.MaxInt32), chunk: recoveryChunk}
	end, scanErr := scan(w, from, true, func(h *record.Header, pos int64) (bool, error) {
		if h.BaseOffset < s.next || h.LastOffset()-s.base > math.MaxInt32 {
			return false, fmt.Errorf("%w: batch at position %d has offsets %d-%d outside [%d, %d]",
				record.ErrCorrupt, pos, h.BaseOffset, h.LastOffset(), s.next, s.base+math.MaxInt32)
		}
		s.observeLocked(h, pos, interval)
		return true, nil
	})
	if scanErr != nil && !errors.Is(scanErr, record.ErrCorrupt) {
		return 0, scanErr
	}
	s.maybeAppendTimeLocked()
	if end < fileSize {
		dropped = fileSize - end
		if truncate {
			if err := s.fs().Truncate(f, end); err != nil {
				return 0, fmt.Errorf("truncate segment %d: %w", s.base, err)
			}
		}
	}
	if err := s.truncateIndexesLocked(); err != nil {
		return dropped, err
	}
	return dropped, s.syncFilesLocked()
}

// window reads a segment file forward through a reusable buffer, so that a
// scan over many small batches costs few pread calls.
type window struct {
	f     io.ReaderAt
	end   int64 // bytes of the file that may be read
	chunk int   // minimum size of one read
	buf   []byte
	at    int64 // file position of buf[0]
}

// bytes returns the n bytes at pos, valid until the next call. Reading past
// end is reported as corruption (a torn or truncated batch).
func (w *window) bytes(pos int64, n int) ([]byte, error) {
	if pos < 0 || pos+int64(n) > w.end {
		return nil, fmt.Errorf("%w: %d bytes at position %d run past the end %d", record.ErrCorrupt, n, pos, w.end)
	}
	if pos < w.at || pos+int64(n) > w.at+int64(len(w.buf)) {
		size := min(int64(max(n, w.chunk)), w.end-pos)
		if int64(cap(w.buf)) < size {
			w.buf = make([]byte, size)
		}
		w.buf = w.buf[:size]
		if _, err := w.f.ReadAt(w.buf, pos); err != nil {
			w.buf = w.buf[:0]
			return nil, fmt.Errorf("read at %d: %w", pos, err)
		}
		w.at = pos
	}
	off := pos - w.at
	return w.buf[off : off+int64(n)], nil
}

// readHeader parses the batch header at pos and checks that the whole batch
// lies before the end of the window.
func readHeader(w *window, pos int64) (record.Header, error) {
	b, err := w.bytes(pos, record.HeaderSize)
	if err != nil {
		return record.Header{}, err
	}
	h, err := record.ParseHeader(b)
	if err != nil {
		if !errors.Is(err, record.ErrCorrupt) {
			err = fmt.Errorf("%w: %w", record.ErrCorrupt, err)
		}
		return h, fmt.Errorf("batch at position %d: %w", pos, err)
	}
	if h.LastOffsetDelta < 0 {
		return h, fmt.Errorf("%w: batch at position %d has last offset delta %d", record.ErrCorrupt, pos, h.LastOffsetDelta)
	}
	if pos+int64(h.Size()) > w.end {
		return h, fmt.Errorf("%w: batch at position %d of %d bytes runs past the end %d", record.ErrCorrupt, pos, h.Size(), w.end)
	}
	return h, nil
}

// scan calls fn for each batch from pos until the end of the window, fn
// returns false, or an error. With verify it also checks each batch's CRC.
// It returns the position of the batch it stopped at (the end when all were
// read).
func scan(w *window, pos int64, verify bool, fn func(h *record.Header, pos int64) (bool, error)) (int64, error) {
	var h record.Header // one allocation per scan: fn receives a pointer
	for pos < w.end {
		var err error
		if h, err = readHeader(w, pos); err != nil {
			return pos, err
		}
		if verify {
			b, err := w.bytes(pos, h.Size())
			if err != nil {
				return pos, err
			}
			if err := record.CheckCRC(b); err != nil {
				return pos, fmt.Errorf("batch at position %d: %w", pos, err)
			}
		}
		more, err := fn(&h, pos)
		if err != nil || !more {
			return pos, err
		}
		pos += int64(h.Size())
	}
	return pos, nil
}
