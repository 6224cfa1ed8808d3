package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/arus-io/arus/internal/record"
)

// The recovery-point file of a log directory (docs/format/segment.md),
// arus's per-partition form of Kafka's recovery-point-offset-checkpoint.
// Its name and format must never change.
const (
	recoveryPointFile    = ".arus-recovery-point"
	recoveryPointVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recoveryPoint is a place in a segment below which the log is known to
// be durable and valid: everything before position of segment (offsets
// below offset) was fsynced, and so was every earlier segment. Recovery
// after a crash checks and rescans only the bytes after it.
type recoveryPoint struct {
	segment  int64 // base offset of the segment; -1: none
	position int64 // byte position in the segment's .log, a batch boundary
	offset   int64 // the offset of the batch at position (the log end there)
}

var noRecoveryPoint = recoveryPoint{segment: -1}

func (rp recoveryPoint) valid() bool { return rp.segment >= 0 }

// encode returns the file contents: one line of the version, segment,
// position and offset, and the CRC-32C of those fields in hex, so that a
// torn or garbled file is rejected (recovery then rescans the whole last
// segment, as without a file).
func (rp recoveryPoint) encode() []byte {
	body := fmt.Appendf(nil, "%d %d %d %d", recoveryPointVersion, rp.segment, rp.position, rp.offset)
	return fmt.Appendf(body, " %08x\n", crc32.Checksum(body, castagnoli))
}

func parseRecoveryPoint(b []byte) (recoveryPoint, bool) {
	fields := bytes.Fields(b)
	if len(fields) != 5 || len(b) == 0 || b[len(b)-1] != '\n' {
		return noRecoveryPoint, false
	}
	var n [4]int64
	for i := range n {
		v, err := strconv.ParseInt(string(fields[i]), 10, 64)
		if err != nil {
			return noRecoveryPoint, false
		}
		n[i] = v
	}
	sum, err := strconv.ParseUint(string(fields[4]), 16, 32)
	body := bytes.Join(fields[:4], []byte(" "))
	if err != nil || uint32(sum) != crc32.Checksum(body, castagnoli) || n[0] != recoveryPointVersion {
		return noRecoveryPoint, false
	}
	rp := recoveryPoint{segment: n[1], position: n[2], offset: n[3]}
	if rp.segment < 0 || rp.position < 0 || rp.position > math.MaxInt32 || rp.offset < rp.segment {
		return noRecoveryPoint, false
	}
	return rp, true
}

// readRecoveryPoint reads the file of dir; a missing or invalid file is
// no recovery point.
func readRecoveryPoint(fs FS, dir string) (recoveryPoint, error) {
	f, err := fs.OpenFile(filepath.Join(dir, recoveryPointFile), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return noRecoveryPoint, nil
	}
	if err != nil {
		return noRecoveryPoint, err
	}
	defer f.Close()
	b, err := readAll(f)
	if err != nil {
		return noRecoveryPoint, err
	}
	rp, _ := parseRecoveryPoint(b)
	return rp, nil
}

// writeRecoveryPoint replaces the file of dir (a temporary file renamed
// over it). With durable it fsyncs the file and the directory; without,
// a crash may leave the old file or a torn one, both safe: the old point
// is lower, a torn one is rejected.
func writeRecoveryPoint(fs FS, dir string, rp recoveryPoint, durable bool) error {
	name := filepath.Join(dir, recoveryPointFile)
	tmp := name + ".tmp"
	f, err := fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = fs.WriteAt(f, rp.encode(), 0)
	if err == nil && durable {
		err = fs.Sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, name)
	}
	if err != nil {
		_ = fs.Remove(tmp) // best effort; Open ignores it
		return err
	}
	if durable {
		return fs.SyncDir(dir)
	}
	return nil
}

// advanceRecoveryPoint moves the in-memory recovery point forward to rp,
// which a Sync (or a roll) made durable, unless a TruncateTo ran since
// the caller looked at the log (truncations moved from seen).
func (l *Log) advanceRecoveryPoint(rp recoveryPoint, seen uint64) {
	l.rp.Lock()
	defer l.rp.Unlock()
	if l.truncations.Load() != seen {
		return
	}
	if cur := l.rp.mem; !cur.valid() || rp.offset > cur.offset || rp.offset == cur.offset && rp.segment > cur.segment {
		l.rp.mem = rp
	}
}

// lowerRecoveryPointLocked is called by TruncateTo (holding mu, after
// counting the truncation) before it cuts the log at offset in segment
// base: a recovery point past the cut would let recovery trust bytes that
// later appends rewrite, so the file is removed durably and the point in
// memory goes back to the start of that segment.
func (l *Log) lowerRecoveryPointLocked(base, offset int64) error {
	l.rp.Lock()
	defer l.rp.Unlock()
	if l.rp.mem.valid() && l.rp.mem.offset > offset {
		l.rp.mem = recoveryPoint{segment: base, position: 0, offset: base}
	}
	if !l.rp.disk.valid() || l.rp.disk.offset <= offset {
		return nil
	}
	if err := l.fs.Remove(filepath.Join(l.dir, recoveryPointFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return err
	}
	l.rp.disk = noRecoveryPoint
	return nil
}

// setRecoveryPoint sets the point in memory, as a truncation that fsynced
// the log does.
func (l *Log) setRecoveryPoint(rp recoveryPoint) {
	l.rp.Lock()
	l.rp.mem = rp
	l.rp.Unlock()
}

// RecoveryPoint is the offset below which the log is known durable: where
// the last Sync, roll or truncation left it. Recovery after a crash
// rescans only what lies after the point last written by
// CheckpointRecoveryPoint.
func (l *Log) RecoveryPoint() int64 {
	l.rp.Lock()
	defer l.rp.Unlock()
	return l.rp.mem.offset
}

// CheckpointRecoveryPoint writes the recovery point to the log directory
// when it moved since the last write, without fsync (see
// writeRecoveryPoint). Callers run it periodically
// (log.flush.offset.checkpoint.interval.ms); a crash then rescans at most
// what was written since the last checkpoint.
func (l *Log) CheckpointRecoveryPoint() error {
	l.mu.RLock()
	closed := l.mu.closed
	var first int64
	if !closed {
		first = l.mu.segments[0].base
	}
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	l.rp.Lock()
	defer l.rp.Unlock()
	if !l.rp.mem.valid() || l.rp.mem == l.rp.disk {
		return nil
	}
	if !l.rp.disk.valid() && l.rp.mem.segment == first && l.rp.mem.position == 0 {
		// A point at the very start of the log saves recovery nothing
		// over no file: an idle new log (thousands of them after a
		// CreateTopics) writes none.
		return nil
	}
	if err := writeRecoveryPoint(l.fs, l.dir, l.rp.mem, false); err != nil {
		return fmt.Errorf("commitlog: checkpoint recovery point: %w", err)
	}
	l.rp.disk = l.rp.mem
	return nil
}

// recoverFromLocked recovers the last segment after a crash from the
// recovery point rp, which lies in it: index entries below the point are
// loaded and checked like after a clean shutdown, the batches between the
// last of them and the point are walked by header (they were fsynced),
// and only the bytes after the point are checked batch by batch and cut
// at the first invalid one, as recoverLocked does for a whole segment.
// An error marked record.ErrCorrupt means the point does not fit the
// files; the caller then recovers the whole segment.
func (s *segment) recoverFromLocked(rp recoveryPoint, interval int32) (dropped int64, err error) {
	f, err := s.log.pin()
	if err != nil {
		return 0, err
	}
	defer s.log.unpin()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	fileSize := st.Size()
	if rp.position > fileSize || fileSize > math.MaxInt32 {
		return 0, fmt.Errorf("%w: recovery point at position %d of a %d-byte segment", record.ErrCorrupt, rp.position, fileSize)
	}
	var offsets []offsetEntry
	var times []timeEntry
	files := s.log.cache
	if err := files.withTransient(s.fs(), s.indexName(), os.O_RDONLY, func(idx *os.File) error {
		offsets, err = readOffsetIndex(idx, s.base, fileSize)
		return err
	}); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, indexError(err)
	}
	if err := files.withTransient(s.fs(), s.timeIndexName(), os.O_RDONLY, func(idx *os.File) error {
		times, err = readTimeIndex(idx, s.base)
		return err
	}); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, indexError(err)
	}
	for len(offsets) > 0 && int64(offsets[len(offsets)-1].pos) >= rp.position {
		offsets = offsets[:len(offsets)-1]
	}
	for len(times) > 0 && times[len(times)-1].offset >= rp.offset {
		times = times[:len(times)-1]
	}
	s.resetLocked()
	s.offsets, s.offsetsFlushed = offsets, len(offsets)
	s.times, s.timesFlushed = times, len(times)
	if err := s.scanTailLocked(f, rp.position); err != nil {
		return 0, err
	}
	if s.size != rp.position || s.next != rp.offset {
		return 0, fmt.Errorf("%w: recovery point (position %d, offset %d) is not the end of a batch (found position %d, offset %d)",
			record.ErrCorrupt, rp.position, rp.offset, s.size, s.next)
	}
	return s.recoverTailLocked(f, fileSize, rp.position, interval, true)
}
