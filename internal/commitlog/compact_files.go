package commitlog

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/arus-io/arus/internal/record"
)

// cleanedWriter writes batches to a new segment whose files still carry
// the .cleaned suffix, buffering small writes. The segment is private to
// the pass, so its ...Locked methods need no lock.
type cleanedWriter struct {
	seg      *segment
	interval int32
	pending  []byte // bytes after the flushed part, ending at seg.size
	// txn are the transaction index entries of the new segment, written
	// by finish.
	txn []AbortedTxn
}

const cleanedWriteBuffer = 1 << 20

// add appends the whole batch b.
func (w *cleanedWriter) add(b []byte) error {
	h, err := record.ParseHeader(b)
	if err != nil {
		return err
	}
	pos := w.seg.size
	if pos+int64(len(b)) > math.MaxInt32 {
		return fmt.Errorf("cleaned segment %d would exceed %d bytes", w.seg.base, math.MaxInt32)
	}
	w.seg.observeLocked(&h, pos, w.interval)
	w.pending = append(w.pending, b...)
	if len(w.pending) >= cleanedWriteBuffer {
		return w.flush()
	}
	return nil
}

func (w *cleanedWriter) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	if err := w.seg.log.with(func(f *os.File) error {
		_, err := w.seg.fs().WriteAt(f, w.pending, w.seg.size-int64(len(w.pending)))
		return err
	}); err != nil {
		return err
	}
	w.pending = w.pending[:0]
	return nil
}

// finish writes what is buffered, completes the indexes and fsyncs.
func (w *cleanedWriter) finish() error {
	if err := w.flush(); err != nil {
		return err
	}
	var txn []AbortedTxn
	for _, a := range w.txn {
		if a.LastOffset >= w.seg.base && a.LastOffset < w.seg.next && a.LastOffset > w.seg.txnLast {
			txn = append(txn, a)
		}
	}
	if err := w.seg.appendTxnLocked(txn); err != nil {
		return err
	}
	return w.seg.sealLocked()
}

// cleanerFileSuffixes are the files of a segment in the order they move
// through .cleaned and .swap: the .log last, because its rename is what
// commits (.cleaned to .swap) or completes (.swap to the final name).
var cleanerFileSuffixes = []string{indexSuffix, timeIndexSuffix, txnIndexSuffix, logSuffix}

// createCleaned creates the .cleaned files of a new segment with base,
// replacing leftovers of an earlier pass that stopped. Its .log file is
// held open (its name is not the segment's yet) until install renamed it;
// its index files are named with indexExt until then.
func createCleaned(files *FileCache, fs FS, dir string, base, nowMs int64) (*segment, error) {
	s := newSegment(files, fs, dir, base, nowMs)
	s.indexExt = cleanedSuffix
	for _, suffix := range cleanerFileSuffixes {
		name := s.path + suffix + cleanedSuffix
		if err := fs.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		flag := os.O_RDWR | os.O_CREATE | os.O_EXCL
		var err error
		if suffix == logSuffix {
			err = s.log.createHeld(name, flag)
		} else {
			err = files.withTransient(fs, name, flag, func(*os.File) error { return nil })
		}
		if err != nil {
			_ = s.closeFiles() // nothing written yet
			removeCleaned(s.fs(), s.path)
			return nil, err
		}
	}
	return s, nil
}

// installedCleaned is called once the files of s have their final names.
func installedCleaned(s *segment) {
	s.indexExt = ""
	s.log.unhold()
}

// discardCleaned closes and removes a new segment that will not be used.
func discardCleaned(s *segment) {
	_ = s.closeFiles() // the files are removed
	removeCleaned(s.fs(), s.path)
}

// removeCleaned removes the .cleaned and .swap files of path, ignoring
// errors: Open removes what is left.
func removeCleaned(fs FS, path string) {
	for _, suffix := range cleanerFileSuffixes {
		_ = fs.Remove(path + suffix + cleanedSuffix)
		_ = fs.Remove(path + suffix + swapSuffix)
	}
}

// commitCleaned renames the .cleaned files of s to .swap, the .log last.
func commitCleaned(s *segment) error {
	for _, suffix := range cleanerFileSuffixes {
		if err := s.fs().Rename(s.path+suffix+cleanedSuffix, s.path+suffix+swapSuffix); err != nil {
			return err
		}
	}
	return nil
}

// finishSwap renames the .swap files of path over the final names, the
// .log last.
func finishSwap(fs FS, path string) error {
	for _, suffix := range cleanerFileSuffixes {
		if err := fs.Rename(path+suffix+swapSuffix, path+suffix); err != nil {
			return err
		}
	}
	return nil
}

// parseCleanerName splits a file name of the cleaner,
// <20 digits><.log|.index|.timeindex><.cleaned|.swap>.
func parseCleanerName(name string) (base int64, fileSuffix, state string, ok bool) {
	for _, state = range []string{cleanedSuffix, swapSuffix} {
		stem, found := strings.CutSuffix(name, state)
		if !found {
			continue
		}
		for _, fileSuffix = range cleanerFileSuffixes {
			if digits, found := strings.CutSuffix(stem, fileSuffix); found {
				base, ok = parseSegmentName(digits + logSuffix)
				return base, fileSuffix, state, ok
			}
		}
	}
	return 0, "", "", false
}

// recoverCleanerFiles finishes or rolls back a compaction that a crash
// interrupted, before Open lists the segments. .cleaned files were never
// committed: they are removed. A .log.swap file was committed: the
// segments it replaces (those with a base in [its base, its next offset))
// are removed and it is renamed to its .log, whose index files are then
// rebuilt; index .swap files are removed either way. It returns the bases
// whose indexes must be rebuilt.
func recoverCleanerFiles(fs FS, dir string, logger *slog.Logger) (map[int64]bool, error) {
	entries, err := fs.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var swaps, bases []int64
	changed := false
	for _, e := range entries {
		name := e.Name()
		if base, ok := parseSegmentName(name); ok {
			bases = append(bases, base)
			continue
		}
		base, suffix, state, ok := parseCleanerName(name)
		if !ok {
			continue
		}
		if state == swapSuffix && suffix == logSuffix {
			swaps = append(swaps, base)
			continue
		}
		if err := fs.Remove(filepath.Join(dir, name)); err != nil {
			return nil, err
		}
		changed = true
	}
	slices.Sort(swaps)
	slices.Sort(bases)
	rebuild := make(map[int64]bool)
	for _, base := range swaps {
		path := segmentPath(dir, base)
		next, err := swapEnd(fs, path+logSuffix+swapSuffix)
		if err != nil {
			return nil, fmt.Errorf("swap file of segment %d: %w", base, err)
		}
		var replaced []int64
		for _, old := range bases {
			if old > base && old < next {
				if err := removeSegmentFiles(fs, segmentPath(dir, old)); err != nil {
					return nil, err
				}
				replaced = append(replaced, old)
			}
		}
		// Stale or new, the index files are rebuilt from the swapped .log.
		for _, suffix := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			if err := fs.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
		if err := fs.Rename(path+logSuffix+swapSuffix, path+logSuffix); err != nil {
			return nil, err
		}
		rebuild[base] = true
		changed = true
		logger.Warn("commitlog: finished a compaction interrupted by a crash", "segment", base, "nextOffset", next, "replaced", replaced)
	}
	if changed {
		if err := fs.SyncDir(dir); err != nil {
			return nil, err
		}
	}
	return rebuild, nil
}

// swapEnd returns the offset after the last whole, CRC-valid batch of a
// .swap file, or its base when it has none.
func swapEnd(fs FS, path string) (int64, error) {
	f, err := fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	base, _ := parseSegmentName(strings.TrimSuffix(filepath.Base(path), swapSuffix))
	next := base
	w := &window{f: f, end: min(st.Size(), math.MaxInt32), chunk: recoveryChunk}
	_, err = scan(w, 0, true, func(h *record.Header, _ int64) (bool, error) {
		if h.BaseOffset < next {
			return false, fmt.Errorf("%w: offsets go back to %d", record.ErrCorrupt, h.BaseOffset)
		}
		next = h.NextOffset()
		return true, nil
	})
	// The file was fsynced before it was committed. Should it be damaged
	// anyway, the old segments after the damage are kept.
	if err != nil && !errors.Is(err, record.ErrCorrupt) {
		return 0, err
	}
	return next, nil
}
