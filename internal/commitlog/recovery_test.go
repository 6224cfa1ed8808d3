package commitlog

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/arus-io/arus/internal/arustest/errorfs"
	"github.com/arus-io/arus/internal/record"
)

func flipAt(t *testing.T, path string, pos int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[pos] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustSync(t *testing.T, l *Log) int64 {
	t.Helper()
	to, err := l.Sync()
	if err != nil {
		t.Fatal(err)
	}
	return to
}

func mustCheckpoint(t *testing.T, l *Log) {
	t.Helper()
	if err := l.CheckpointRecoveryPoint(); err != nil {
		t.Fatal(err)
	}
}

// TestRecoveryPointBoundsRescan: after a crash only the bytes after the
// checkpointed recovery point are checked. A byte flipped before it (the
// disk's problem, not a torn write) is not even read, while without the
// file the whole segment is rescanned and cut there; bytes after the
// point are checked and a torn tail cut.
func TestRecoveryPointBoundsRescan(t *testing.T) {
	cfg := Config{IndexIntervalBytes: 100}
	src := t.TempDir()
	l := openLog(t, src, cfg)
	batches := appendN(t, l, 20, 3, 100)
	size := int64(len(batches[0]))
	if to := mustSync(t, l); to != 60 || l.RecoveryPoint() != 60 {
		t.Fatalf("synced to %d, recovery point %d, want 60", to, l.RecoveryPoint())
	}
	mustCheckpoint(t, l)
	appendN(t, l, 5, 3, 100) // page cache only
	crash := func(t *testing.T) string {
		dir := copyDir(t, src)
		flipAt(t, lastSegmentPath(t, dir), 2*size+size-5) // a record of batch 2
		appendToFile(t, lastSegmentPath(t, dir), []byte("torn tail"))
		return dir
	}

	t.Run("with recovery point", func(t *testing.T) {
		l2 := openLog(t, crash(t), cfg)
		if l2.LogEndOffset() != 75 {
			t.Fatalf("LEO %d, want 75: the batches after the point are whole", l2.LogEndOffset())
		}
		if b := mustRead(t, l2, 6, 9, 1<<20, true); record.CheckCRC(b) == nil {
			t.Fatal("batch 2 was rewritten: recovery should not have read it")
		}
		checkDirFiles(t, l2)
		if got := len(recordOffsets(t, mustRead(t, l2, 9, 75, 1<<20, false))); got != 66 {
			t.Fatalf("%d records after batch 2, want 66", got)
		}
	})
	t.Run("without recovery point", func(t *testing.T) {
		dir := crash(t)
		if err := os.Remove(filepath.Join(dir, recoveryPointFile)); err != nil {
			t.Fatal(err)
		}
		l2 := openLog(t, dir, cfg)
		if l2.LogEndOffset() != 6 {
			t.Fatalf("LEO %d, want 6: the full rescan stops at the flipped byte", l2.LogEndOffset())
		}
	})
	t.Run("damage after the point is cut", func(t *testing.T) {
		dir := copyDir(t, src)
		flipAt(t, lastSegmentPath(t, dir), 22*size+size-5) // batch 22, after the point
		l2 := openLog(t, dir, cfg)
		if l2.LogEndOffset() != 66 {
			t.Fatalf("LEO %d, want 66", l2.LogEndOffset())
		}
		// The recovered log is durable to its end; a second crash finds it whole.
		if l2.RecoveryPoint() != 66 {
			t.Fatalf("recovery point %d after open, want 66", l2.RecoveryPoint())
		}
	})
	for name, content := range map[string][]byte{
		"garbled file":        []byte("1 0 12345 60 deadbeef\n"),
		"empty file":          nil,
		"point past the file": recoveryPoint{segment: 0, position: 1 << 30, offset: 60}.encode(),
		"point inside batch":  recoveryPoint{segment: 0, position: 3*size + 7, offset: 9}.encode(),
		"wrong offset":        recoveryPoint{segment: 0, position: 3 * size, offset: 10}.encode(),
	} {
		t.Run(name, func(t *testing.T) {
			dir := crash(t)
			if err := os.WriteFile(filepath.Join(dir, recoveryPointFile), content, 0o644); err != nil {
				t.Fatal(err)
			}
			l2 := openLog(t, dir, cfg)
			if l2.LogEndOffset() != 6 {
				t.Fatalf("LEO %d, want 6 (a full rescan)", l2.LogEndOffset())
			}
			// A valid point that did not fit is removed before the rescan
			// may cut below it; an unreadable one is never trusted anyway.
			if _, ok := parseRecoveryPoint(content); ok {
				if _, err := os.Stat(filepath.Join(dir, recoveryPointFile)); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("recovery point file left after a full rescan: %v", err)
				}
			}
		})
	}
}

// TestRecoveryPointMoves: Sync moves it forward (a roll does not), TruncateTo
// moves it back and removes a file that points past the cut before any
// byte changes, so a crash after the truncation rescans what it rewrote.
func TestRecoveryPointMoves(t *testing.T) {
	batch, _ := makeBatch(t, 1, 2, 3)
	cfg := Config{SegmentBytes: int64(4 * len(batch)), IndexIntervalBytes: 100}
	src := t.TempDir()
	l := openLog(t, src, cfg)
	if l.RecoveryPoint() != 0 {
		t.Fatalf("recovery point of a new log %d", l.RecoveryPoint())
	}
	appendN(t, l, 5, 3, 100) // segment 0 holds 4 batches; the 5th rolled
	if got := l.RecoveryPoint(); got != 0 {
		// A roll fsyncs nothing; the next Sync does.
		t.Fatalf("recovery point %d after a roll at 12 without a Sync", got)
	}
	mustSync(t, l)
	if got := l.RecoveryPoint(); got != 15 {
		t.Fatalf("recovery point %d after sync, want 15", got)
	}
	appendN(t, l, 2, 3, 100)
	mustSync(t, l)
	mustCheckpoint(t, l)
	rpPath := filepath.Join(src, recoveryPointFile)
	if b, err := os.ReadFile(rpPath); err != nil || string(b) != string(recoveryPoint{segment: 12, position: int64(3 * len(batch)), offset: 21}.encode()) {
		t.Fatalf("file %q (%v)", b, err)
	}
	if err := l.TruncateTo(15); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rpPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file pointing past the cut still there: %v", err)
	}
	if got := l.RecoveryPoint(); got != 15 {
		t.Fatalf("recovery point %d after truncation to 15", got)
	}
	// New, different batches where the old ones were; a crash before the
	// next checkpoint must check them.
	appendN(t, l, 3, 2, 100)
	dir := copyDir(t, src)
	flipAt(t, lastSegmentPath(t, dir), int64(len(batch))+10)
	l2 := openLog(t, dir, cfg)
	if l2.LogEndOffset() != 15 {
		t.Fatalf("LEO %d after the crash, want 15", l2.LogEndOffset())
	}
	mustCheckpoint(t, l)
	if b, err := os.ReadFile(rpPath); err != nil || string(b) != string(recoveryPoint{segment: 12, position: int64(len(batch)), offset: 15}.encode()) {
		t.Fatalf("file %q (%v)", b, err)
	}
}

// TestRecoveryPointFaults: a failed checkpoint write changes nothing the
// log depends on, and a failed removal of a stale file stops the
// truncation before it cut anything.
func TestRecoveryPointFaults(t *testing.T) {
	fs := errorfs.New()
	cfg := Config{IndexIntervalBytes: 100, FS: fs}
	dir := t.TempDir()
	l := openLog(t, dir, cfg)
	appendN(t, l, 10, 3, 100)
	mustSync(t, l)
	for _, op := range []errorfs.Op{errorfs.OpCreate, errorfs.OpWrite, errorfs.OpRename} {
		fs.Inject(errorfs.Rule{Ops: op, Path: errorfs.Contains(recoveryPointFile), Err: syscall.ENOSPC, Times: 1})
		if err := l.CheckpointRecoveryPoint(); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("%v: checkpoint error %v", op, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 { // the .log only
			t.Fatalf("%v: files left: %v", op, entries)
		}
	}
	mustCheckpoint(t, l)
	fs.Inject(errorfs.Rule{Ops: errorfs.OpRemove, Path: errorfs.Contains(recoveryPointFile), Err: syscall.EIO, Times: 1})
	if err := l.TruncateTo(15); !errors.Is(err, syscall.EIO) {
		t.Fatalf("truncate: %v", err)
	}
	if l.LogEndOffset() != 30 {
		t.Fatalf("LEO %d after a refused truncation", l.LogEndOffset())
	}
	if err := l.TruncateTo(15); err != nil || l.LogEndOffset() != 15 {
		t.Fatalf("truncate: %v, LEO %d", err, l.LogEndOffset())
	}
}
