package commitlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/arus-io/arus/internal/arustest/errorfs"
)

var _ FS = (*errorfs.FS)(nil)

// faultLog is a log on an error-injecting file system with a model of
// what was appended and which offsets a successful Sync acknowledged.
type faultLog struct {
	t     *testing.T
	dir   string
	cfg   Config
	fs    *errorfs.FS
	l     *Log
	m     model
	acked int64 // the log end offset the last successful Sync returned
}

func newFaultLog(t *testing.T, cfg Config) *faultLog {
	t.Helper()
	f := &faultLog{t: t, dir: t.TempDir(), fs: errorfs.New(), m: model{}}
	cfg.FS = f.fs
	f.cfg = cfg
	l, err := Open(f.dir, cfg, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	f.l = l
	t.Cleanup(func() { _ = f.l.Close() })
	return f
}

// add appends one record for key and returns Append's error.
func (f *faultLog) add(key string) error {
	off := f.l.LogEndOffset()
	r := rec(key, fmt.Sprintf("v%d-%s", off, strings.Repeat("x", 40)))
	b, h := buildSpec(f.t, batchSpec{ts: 1000, recs: []kv{r}})
	base, err := f.l.Append(b, &h, 1)
	if err == nil {
		f.m.add(base, []kv{r})
	}
	return err
}

// fill appends n records over nkeys keys and syncs; nothing may fail.
func (f *faultLog) fill(n, nkeys int) {
	f.t.Helper()
	for i := range n {
		if err := f.add(fmt.Sprintf("k%d", i%nkeys)); err != nil {
			f.t.Fatalf("append: %v", err)
		}
	}
	if err := f.sync(); err != nil {
		f.t.Fatalf("sync: %v", err)
	}
}

func (f *faultLog) sync() error {
	to, err := f.l.Sync()
	if err == nil {
		if to < f.acked {
			f.t.Fatalf("sync went back from %d to %d", f.acked, to)
		}
		f.acked = to
	}
	return err
}

// failed reports whether the log refuses writes.
func (f *faultLog) failed() bool {
	f.l.mu.RLock()
	defer f.l.mu.RUnlock()
	return f.l.mu.failed != nil
}

// reopen heals the disk, closes the log (a failed log does not write the
// clean-shutdown marker, so this is a recovery) and opens it again on the
// same, now healthy, file system. Every acknowledged record must be there,
// every record read must be the one appended at its offset, and the
// directory must hold no leftover or partial files.
func (f *faultLog) reopen() {
	f.t.Helper()
	f.fs.Reset()
	closeErr := f.l.Close()
	if _, err := os.Stat(filepath.Join(f.dir, cleanShutdownFile)); (err == nil) != (closeErr == nil) {
		f.t.Fatalf("close error %v, but marker present = %v", closeErr, err == nil)
	}
	l, err := Open(f.dir, f.cfg, nil)
	if err != nil {
		f.t.Fatalf("reopen: %v", err)
	}
	f.l = l
	if leo := l.LogEndOffset(); leo < f.acked {
		f.t.Fatalf("log end %d after reopen, %d were acknowledged", leo, f.acked)
	}
	got := readLog(f.t, l)
	f.m.checkAgainst(f.t, got)
	present := map[int64]bool{}
	for _, r := range got {
		present[r.Offset] = true
	}
	// Compaction may remove older records of a key, never the latest one.
	for key, off := range f.m.latest(f.acked) {
		if !present[off] && off >= l.LogStartOffset() {
			f.t.Fatalf("acknowledged record %d (latest of key %s) lost", off, key)
		}
	}
	checkDirFiles(f.t, l)
	// The recovered log takes writes again.
	if err := f.add("after"); err != nil {
		f.t.Fatalf("append after reopen: %v", err)
	}
	if err := f.sync(); err != nil {
		f.t.Fatalf("sync after reopen: %v", err)
	}
}

// faultCase injects one rule and runs one operation that must fail.
type faultCase struct {
	name  string
	rules []errorfs.Rule
	// wantFailed: the log must refuse every later write (the files are in
	// doubt); otherwise the failed operation must have changed nothing
	// and the log takes writes again once the disk is healthy.
	wantFailed bool
	errIs      error // when set, the operation's error must match it
}

func runFaultCases(t *testing.T, cfg Config, setup func(*faultLog), op func(*faultLog) error, cases []faultCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFaultLog(t, cfg)
			setup(f)
			leo := f.l.LogEndOffset()
			for _, r := range tc.rules {
				f.fs.Inject(r)
			}
			err := op(f)
			if err == nil {
				t.Fatalf("operation succeeded; %d injected errors", f.fs.Injected())
			}
			if f.fs.Injected() == 0 {
				t.Fatalf("failed without an injected error: %v", err)
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Fatalf("error %v, want %v", err, tc.errIs)
			}
			if f.failed() != tc.wantFailed {
				t.Fatalf("failed = %v, want %v (err %v)", f.failed(), tc.wantFailed, err)
			}
			if tc.wantFailed {
				// Nothing more is written or acknowledged, even on a healthy disk.
				f.fs.Reset()
				if err := f.add("refused"); err == nil {
					t.Fatal("append accepted by a failed log")
				}
				if _, err := f.l.Sync(); err == nil {
					t.Fatal("sync succeeded on a failed log")
				}
			} else if f.l.LogEndOffset() < leo {
				t.Fatalf("log end %d after a failed operation; was %d", f.l.LogEndOffset(), leo)
			}
			f.reopen()
		})
	}
}

// TestFaultsAppend: a failed write is cut off again and changes nothing;
// a write that cannot be undone, or a failed fsync, fails the log, and
// Sync never acknowledges again.
func TestFaultsAppend(t *testing.T) {
	eio := syscall.EIO
	runFaultCases(t, Config{SegmentBytes: 1 << 20},
		func(f *faultLog) { f.fill(20, 5) },
		func(f *faultLog) error {
			if err := f.add("k1"); err != nil {
				return err
			}
			return f.sync()
		},
		[]faultCase{
			{name: "write error", rules: []errorfs.Rule{{Ops: errorfs.OpWrite, Path: errorfs.HasSuffix(logSuffix), Err: eio}}, errIs: eio},
			{name: "full disk", rules: []errorfs.Rule{errorfs.FullDisk()}, errIs: syscall.ENOSPC},
			{name: "full disk and the cut fails", rules: []errorfs.Rule{errorfs.FullDisk(), {Ops: errorfs.OpTruncate, Err: eio}}, wantFailed: true, errIs: syscall.ENOSPC},
			{name: "fsync", rules: []errorfs.Rule{{Ops: errorfs.OpSync, Err: eio}}, wantFailed: true, errIs: eio},
		})
}

// TestFaultsRoll fails each step of a segment roll and of the Sync after
// it: sealing the old segment (index writes), creating the new one, and
// the fsyncs of the old segment's files and of the directory, which the
// roll leaves to the next Sync.
func TestFaultsRoll(t *testing.T) {
	eio := syscall.EIO
	cfg := Config{SegmentBytes: 1500, IndexIntervalBytes: 64}
	setup := func(f *faultLog) {
		// Fill the active segment up to just before a roll.
		for f.l.Size()+200 < cfg.SegmentBytes {
			if err := f.add(fmt.Sprintf("k%d", f.l.LogEndOffset()%5)); err != nil {
				f.t.Fatal(err)
			}
		}
		if err := f.sync(); err != nil {
			f.t.Fatal(err)
		}
	}
	roll := func(f *faultLog) error {
		segs := len(segmentBases(f.l))
		for len(segmentBases(f.l)) == segs {
			if err := f.add("k1"); err != nil {
				return err
			}
		}
		return f.sync()
	}
	runFaultCases(t, cfg, setup, roll, []faultCase{
		{name: "seal fsync of the log", rules: []errorfs.Rule{{Ops: errorfs.OpSync, Path: errorfs.HasSuffix(logSuffix), Err: eio}}, wantFailed: true},
		{name: "seal write of the index", rules: []errorfs.Rule{{Ops: errorfs.OpWrite, Path: errorfs.HasSuffix(indexSuffix), Err: eio}}, wantFailed: true},
		{name: "seal fsync of the time index", rules: []errorfs.Rule{{Ops: errorfs.OpSync, Path: errorfs.HasSuffix(timeIndexSuffix), Err: eio}}, wantFailed: true},
		{name: "create the new segment", rules: []errorfs.Rule{{Ops: errorfs.OpCreate, Path: errorfs.HasSuffix(logSuffix), Err: syscall.ENOSPC}}, errIs: syscall.ENOSPC},
		{name: "sync the directory", rules: []errorfs.Rule{{Ops: errorfs.OpSyncDir, Err: eio}}, wantFailed: true, errIs: eio},
		{name: "full disk while sealing", rules: []errorfs.Rule{{Ops: errorfs.OpWrite | errorfs.OpCreate, Path: errorfs.HasSuffix(indexSuffix), Err: syscall.ENOSPC, Partial: true}},
			wantFailed: true, errIs: syscall.ENOSPC},
	})
}

// TestFaultsRetention: a segment that cannot be removed stays in the log;
// what retention did before the failure is kept.
func TestFaultsRetention(t *testing.T) {
	clock := newFakeClock()
	cfg := Config{SegmentBytes: 800, RetentionBytes: 1, Now: clock.Now}
	runFaultCases(t, cfg,
		func(f *faultLog) { f.fill(60, 7) },
		func(f *faultLog) error {
			segs := len(segmentBases(f.l))
			n, err := f.l.EnforceRetention()
			if err != nil && len(segmentBases(f.l)) != segs-n {
				f.t.Fatalf("%d segments, %d before, %d deleted", len(segmentBases(f.l)), segs, n)
			}
			return err
		},
		[]faultCase{
			{name: "remove the first log", rules: []errorfs.Rule{{Ops: errorfs.OpRemove, Path: errorfs.HasSuffix(logSuffix)}}},
			{name: "remove the third log", rules: []errorfs.Rule{{Ops: errorfs.OpRemove, Path: errorfs.HasSuffix(logSuffix), Skip: 2}}},
			{name: "remove an index", rules: []errorfs.Rule{{Ops: errorfs.OpRemove, Path: errorfs.HasSuffix(indexSuffix), Skip: 1}}},
		})
}

// TestFaultsCompaction fails each step of a cleaner pass: before the
// commit point the pass is rolled back and the log is intact; after it the
// log fails and the next Open finishes the swap.
func TestFaultsCompaction(t *testing.T) {
	eio := syscall.EIO
	cfg := Config{SegmentBytes: 700, IndexIntervalBytes: 64}
	compactOp := func(f *faultLog) error {
		_, err := f.l.Compact(noBound)
		return err
	}
	runFaultCases(t, cfg, func(f *faultLog) { f.fill(120, 40) }, compactOp, []faultCase{
		{name: "create cleaned", rules: []errorfs.Rule{{Ops: errorfs.OpCreate, Path: errorfs.HasSuffix(cleanedSuffix)}}},
		{name: "write cleaned", rules: []errorfs.Rule{{Ops: errorfs.OpWrite, Path: errorfs.HasSuffix(logSuffix + cleanedSuffix), Err: eio}}},
		{name: "full disk", rules: []errorfs.Rule{errorfs.FullDisk()}, errIs: syscall.ENOSPC},
		{name: "fsync cleaned", rules: []errorfs.Rule{{Ops: errorfs.OpSync, Path: errorfs.HasSuffix(cleanedSuffix), Err: eio}}},
		{name: "rename cleaned index", rules: []errorfs.Rule{{Ops: errorfs.OpRename, Path: errorfs.HasSuffix(indexSuffix + cleanedSuffix)}}},
		{name: "rename cleaned log (the commit)", rules: []errorfs.Rule{{Ops: errorfs.OpRename, Path: errorfs.HasSuffix(logSuffix + cleanedSuffix)}}},
		{name: "sync dir after commit", rules: []errorfs.Rule{{Ops: errorfs.OpSyncDir, Err: eio}}, wantFailed: true},
		{name: "remove a replaced segment", rules: []errorfs.Rule{{Ops: errorfs.OpRemove, Path: errorfs.HasSuffix(logSuffix)}}, wantFailed: true},
		{name: "rename swap log", rules: []errorfs.Rule{{Ops: errorfs.OpRename, Path: errorfs.HasSuffix(logSuffix + swapSuffix)}}, wantFailed: true},
		{name: "rename swap index", rules: []errorfs.Rule{{Ops: errorfs.OpRename, Path: errorfs.HasSuffix(indexSuffix + swapSuffix)}}, wantFailed: true},
	})
}

// TestFaultsRecovery fails Open at each step of recovery after a crash:
// Open returns the error and changes nothing it cannot redo; the next Open
// on a healthy disk recovers every acknowledged record.
func TestFaultsRecovery(t *testing.T) {
	eio := syscall.EIO
	cfg := Config{SegmentBytes: 900, IndexIntervalBytes: 64}
	cases := []struct {
		name  string
		clean bool // the log was closed cleanly (marker present)
		rule  errorfs.Rule
	}{
		{name: "mkdir", rule: errorfs.Rule{Ops: errorfs.OpMkdir, Err: eio}},
		{name: "remove the marker", clean: true, rule: errorfs.Rule{Ops: errorfs.OpRemove, Path: errorfs.HasSuffix(cleanShutdownFile), Err: eio}},
		{name: "read the directory", rule: errorfs.Rule{Ops: errorfs.OpReadDir, Err: eio}},
		{name: "open a segment", rule: errorfs.Rule{Ops: errorfs.OpCreate | errorfs.OpOpen, Path: errorfs.HasSuffix(logSuffix), Err: eio, Skip: 1}},
		{name: "truncate the torn tail", rule: errorfs.Rule{Ops: errorfs.OpTruncate, Path: errorfs.HasSuffix(logSuffix), Err: eio}},
		{name: "rewrite the indexes", rule: errorfs.Rule{Ops: errorfs.OpTruncate | errorfs.OpWrite, Path: errorfs.HasSuffix(indexSuffix), Err: eio}},
		{name: "fsync the recovered segment", rule: errorfs.Rule{Ops: errorfs.OpSync, Err: eio}},
		{name: "full disk", rule: errorfs.FullDisk()},
	}
	for _, tc := range cases {
		for _, withPoint := range []bool{false, true} {
			if withPoint && tc.clean {
				continue
			}
			name := tc.name
			if withPoint {
				name += " from the recovery point"
			}
			t.Run(name, func(t *testing.T) { runRecoveryFault(t, cfg, tc.clean, withPoint, tc.rule) })
		}
	}
}

func runRecoveryFault(t *testing.T, cfg Config, clean, withPoint bool, rule errorfs.Rule) {
	f := newFaultLog(t, cfg)
	f.fill(30, 6)
	if withPoint {
		if err := f.l.CheckpointRecoveryPoint(); err != nil {
			t.Fatal(err)
		}
		if err := f.add("after the point"); err != nil {
			t.Fatal(err)
		}
	}
	dir := f.dir
	if clean {
		if err := f.l.Close(); err != nil {
			t.Fatal(err)
		}
	} else {
		// A crash: the files as they are, with a torn tail.
		dir = copyDir(t, f.dir)
		appendToFile(t, lastSegmentPath(t, dir), []byte("torn"))
	}
	f.dir = dir
	f.fs.Inject(rule)
	if l, err := Open(dir, f.cfg, nil); err == nil {
		_ = l.Close()
		t.Fatalf("open succeeded; %d injected errors", f.fs.Injected())
	}
	if f.fs.Injected() == 0 {
		t.Fatal("open failed without an injected error")
	}
	f.fs.Reset()
	l, err := Open(dir, f.cfg, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if l.LogEndOffset() < f.acked {
		t.Fatalf("log end %d, acknowledged %d", l.LogEndOffset(), f.acked)
	}
	f.m.checkAgainst(t, readLog(t, l))
	want := f.acked
	if withPoint {
		want++ // the record after the point was whole in the page cache
	}
	if got := len(readLog(t, l)); int64(got) != want {
		t.Fatalf("%d records after recovery, want %d", got, want)
	}
	checkDirFiles(t, l)
	if info, err := os.Stat(lastSegmentPath(t, dir)); err != nil || info.Size() != l.Size()-sizeBefore(l) {
		t.Fatalf("last segment file %v (%v), log says %d bytes", info.Size(), err, l.Size()-sizeBefore(l))
	}
	_ = l.Close()
}

// sizeBefore is the size of every segment but the active one.
func sizeBefore(l *Log) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.mu.segments[:len(l.mu.segments)-1] {
		n += s.size
	}
	return n
}

// TestFaultsTxnIndex: a transaction index entry that cannot be written or
// fsynced fails the log (a reader could otherwise see aborted data), and
// Sync acknowledges nothing after it; the next Open recovers.
func TestFaultsTxnIndex(t *testing.T) {
	eio := syscall.EIO
	abort := func(f *faultLog) error {
		r := rec("t", "in a transaction")
		b, h := buildSpec(f.t, batchSpec{ts: 1000, producerID: 9, transactional: true, recs: []kv{r}})
		first, err := f.l.Append(b, &h, 1)
		if err != nil {
			return err
		}
		f.m.add(first, []kv{r})
		ctl := []kv{{key: []byte{0, 0, 0, controlAbort}, value: []byte{0, 0, 0, 0, 0, 0}}}
		b, h = buildSpec(f.t, batchSpec{ts: 1000, producerID: 9, control: true, recs: ctl})
		m, err := f.l.Append(b, &h, 1)
		if err != nil {
			return err
		}
		f.m.add(m, ctl)
		if err := f.l.AppendAbortedTxn(AbortedTxn{ProducerID: 9, FirstOffset: first, LastOffset: m, LastStableOffset: m + 1}); err != nil {
			return err
		}
		return f.sync()
	}
	runFaultCases(t, Config{SegmentBytes: 1 << 20}, func(f *faultLog) { f.fill(10, 3) }, abort, []faultCase{
		{name: "write", rules: []errorfs.Rule{{Ops: errorfs.OpWrite | errorfs.OpCreate, Path: errorfs.HasSuffix(txnIndexSuffix), Err: syscall.ENOSPC}},
			wantFailed: true, errIs: syscall.ENOSPC},
		{name: "fsync", rules: []errorfs.Rule{{Ops: errorfs.OpSync, Path: errorfs.HasSuffix(txnIndexSuffix), Err: eio}}, wantFailed: true, errIs: eio},
	})
}
