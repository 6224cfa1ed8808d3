package commitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// startOffsetFile keeps a log start offset that lies inside the first
// segment (moved there by DeleteRecords, or by a follower taking its
// leader's), so it survives a restart; Kafka keeps the same number in its
// log-start-offset-checkpoint. Format: the offset in decimal and a newline
// (docs/format/segment.md). The name must never change.
const startOffsetFile = "log-start-offset"

// IncrementLogStartOffset moves the log start offset forward to offset,
// which may lie inside a batch or a segment: reads below it fail with
// ErrOffsetOutOfRange from then on, and EnforceRetention deletes the
// segments that end at or before it. It never moves the start back (moved
// is false when offset is not above it) and fails with ErrOffsetOutOfRange
// when offset is past the log end. The new start is fsynced to disk before
// it returns, so it survives a crash. Callers bound offset by the high
// watermark (Kafka's rule); the log does not know it.
func (l *Log) IncrementLogStartOffset(offset int64) (moved bool, err error) {
	l.startMu.Lock()
	defer l.startMu.Unlock()
	l.mu.RLock()
	closed, start, leo := l.mu.closed, l.start.Load(), l.leo.Load()
	var firstBase int64
	if !closed {
		firstBase = l.mu.segments[0].base
	}
	l.mu.RUnlock()
	switch {
	case closed:
		return false, ErrClosed
	case offset > leo:
		return false, fmt.Errorf("%w: log start offset %d is past the log end offset %d", ErrOffsetOutOfRange, offset, leo)
	case offset <= start:
		return false, nil
	}
	// Only a start inside the first segment needs the file; one at a
	// segment base is what Open finds anyway.
	if offset > firstBase {
		if err := writeStartOffset(l.fs, l.dir, offset); err != nil {
			return false, fmt.Errorf("commitlog: persist log start offset %d: %w", offset, err)
		}
	}
	l.mu.Lock()
	if offset > l.start.Load() {
		l.start.Store(offset)
	}
	l.mu.Unlock()
	l.logger.Info("commitlog: incremented log start offset", "logStartOffset", offset)
	return true, nil
}

// loadStartOffsetLocked returns the log start offset at open: the first
// segment's base, or the persisted start when that is later (never past
// the log end).
func (l *Log) loadStartOffsetLocked() int64 {
	start := l.mu.segments[0].base
	leo := l.activeLocked().next
	saved, ok, err := readStartOffset(l.dir)
	switch {
	case err != nil:
		l.logger.Warn("commitlog: ignoring unreadable log start offset file", "err", err)
	case ok && saved > start:
		if saved > leo {
			l.logger.Warn("commitlog: saved log start offset is past the log end; using the log end",
				"saved", saved, "logEndOffset", leo)
			saved = leo
		}
		start = saved
	}
	return start
}

func writeStartOffset(fs FS, dir string, offset int64) error {
	path := filepath.Join(dir, startOffsetFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.FormatInt(offset, 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp) // best effort; the old file is still valid
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return fs.SyncDir(dir)
}

// readStartOffset reads the persisted start; ok is false when there is none.
func readStartOffset(dir string) (offset int64, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, startOffsetFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("%s holds %q", startOffsetFile, b)
	}
	return n, true, nil
}
