package commitlog

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/arustest/errorfs"
)

// TestRollDoesNotFsyncUnderTheLock: while the fsync of a rolled segment
// hangs in Sync, appends (rolling again) and reads go on, and the
// recovery point does not pass the rolled segment until Sync returns.
func TestRollDoesNotFsyncUnderTheLock(t *testing.T) {
	batch, _ := makeBatch(t, 1, 2, 3)
	fs := errorfs.New()
	l := openLog(t, t.TempDir(), Config{SegmentBytes: int64(4 * len(batch)), IndexIntervalBytes: 100, FS: fs})
	before := fs.Count(errorfs.OpSync | errorfs.OpSyncDir) // Open's
	appendN(t, l, 5, 3, 100)                               // segment 0 holds 4 batches; the 5th rolled
	if n := fs.Count(errorfs.OpSync|errorfs.OpSyncDir) - before; n != 0 {
		t.Fatalf("a roll fsynced %d times", n)
	}
	hold := fs.Hold(errorfs.OpSync, nil)
	defer hold.Release()
	type syncResult struct {
		to  int64
		err error
	}
	synced := make(chan syncResult, 1)
	go func() {
		to, err := l.Sync()
		synced <- syncResult{to, err}
	}()
	select {
	case <-hold.Reached():
	case <-time.After(10 * time.Second):
		t.Fatal("Sync never reached its fsync")
	}
	appendN(t, l, 8, 3, 100) // two more rolls while the fsync hangs
	if got := len(segmentBases(l)); got != 4 {
		t.Fatalf("%d segments, want 4", got)
	}
	if data := mustRead(t, l, 0, math.MaxInt64, 1<<20, true); len(data) != 13*len(batch) {
		t.Fatalf("read %d bytes, want %d", len(data), 13*len(batch))
	}
	if rp := l.RecoveryPoint(); rp != 0 {
		t.Fatalf("recovery point %d while the rolled segment's fsync hangs", rp)
	}
	select {
	case r := <-synced:
		t.Fatalf("Sync returned %d, %v while its fsync hangs", r.to, r.err)
	default:
	}
	hold.Release()
	var r syncResult
	select {
	case r = <-synced:
	case <-time.After(10 * time.Second):
		t.Fatal("Sync did not return after the release")
	}
	if r.err != nil || r.to != 15 {
		t.Fatalf("Sync: %d, %v; want 15", r.to, r.err)
	}
	if rp := l.RecoveryPoint(); rp != 15 {
		t.Fatalf("recovery point %d, want 15", rp)
	}
	// The later rolls are durable after the next Sync, which also writes
	// the recovery point file so that a crash rescans from there.
	if to := mustSync(t, l); to != 39 {
		t.Fatalf("synced to %d, want 39", to)
	}
	rp, err := readRecoveryPoint(OS, l.Dir())
	if err != nil || rp.offset != 39 || rp.segment != 36 {
		t.Fatalf("recovery point file %+v (%v), want segment 36, offset 39", rp, err)
	}
}

// TestCrashAfterRollBeforeSync: a crash after rolls that no Sync made
// durable rescans every segment after the recovery point; a torn batch in
// one of them ends the log there and the later segments go, as in Kafka's
// LogLoader. Without a recovery point file every segment is rescanned.
func TestCrashAfterRollBeforeSync(t *testing.T) {
	batch, _ := makeBatch(t, 1, 2, 3)
	size := int64(len(batch))
	cfg := Config{SegmentBytes: 4 * size, IndexIntervalBytes: 100}
	for _, withRP := range []bool{true, false} {
		name := "recovery point"
		if !withRP {
			name = "no recovery point"
		}
		t.Run(name, func(t *testing.T) {
			src := t.TempDir()
			l := openLog(t, src, cfg)
			appendN(t, l, 2, 3, 100)
			mustSync(t, l)
			if withRP {
				mustCheckpoint(t, l) // segment 0, offset 6
			}
			appendN(t, l, 10, 3, 100) // segments 0..2 full, 12 in segment 36 -- never synced
			dir := copyDir(t, src)
			if !withRP {
				_ = os.Remove(filepath.Join(dir, recoveryPointFile))
			}
			// A torn batch in the middle segment (base 12), its second batch.
			flipAt(t, filepath.Join(dir, segmentName(12)+logSuffix), size+size-5)
			l2 := openLog(t, dir, cfg)
			if got := l2.LogEndOffset(); got != 15 {
				t.Fatalf("log end %d after the crash, want 15 (the torn batch's base)", got)
			}
			if got := segmentBases(l2); len(got) != 2 || got[1] != 12 {
				t.Fatalf("segments %v, want [0 12]", got)
			}
			for _, base := range []int64{24, 36} {
				if _, err := os.Stat(filepath.Join(dir, segmentName(base)+logSuffix)); !os.IsNotExist(err) {
					t.Fatalf("segment %d after the torn one still there: %v", base, err)
				}
			}
			if data := mustRead(t, l2, 0, math.MaxInt64, 1<<20, true); int64(len(data)) != 5*size {
				t.Fatalf("read %d bytes, want %d", len(data), 5*size)
			}
			appendN(t, l2, 1, 3, 100)
			if got := l2.LogEndOffset(); got != 18 {
				t.Fatalf("log end %d after an append, want 18", got)
			}
		})
	}
}

// TestNoRecoveryPointFileForAnIdleLog: a new log with nothing written
// writes no recovery point file (it would save recovery nothing); one
// that synced data does.
func TestNoRecoveryPointFileForAnIdleLog(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	mustCheckpoint(t, l)
	if _, err := os.Stat(filepath.Join(dir, recoveryPointFile)); !os.IsNotExist(err) {
		t.Fatalf("idle log wrote a recovery point file: %v", err)
	}
	appendN(t, l, 2, 3, 100)
	mustSync(t, l)
	mustCheckpoint(t, l)
	if rp, err := readRecoveryPoint(OS, dir); err != nil || rp.offset != 6 {
		t.Fatalf("recovery point file %+v (%v), want offset 6", rp, err)
	}
}
