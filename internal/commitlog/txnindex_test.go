package commitlog

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/record"
)

// txnIndexPath is the .txnindex of the segment with base in dir.
func txnIndexPath(dir string, base int64) string {
	return filepath.Join(dir, segmentName(base)+txnIndexSuffix)
}

// abortTxn appends a transactional data batch of pid, then n-1 other
// batches, then an ABORT marker, and indexes it. It returns the entry.
func abortTxn(t *testing.T, l *Log, pid int64, lso func(marker int64) int64) AbortedTxn {
	t.Helper()
	first := appendSpec(t, l, batchSpec{producerID: pid, transactional: true, recs: []kv{rec("k", "aborted")}})
	m := marker(t, l, pid, false, 0)
	a := AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: m, LastStableOffset: m + 1}
	if lso != nil {
		a.LastStableOffset = lso(m)
	}
	if err := l.AppendAbortedTxn(a); err != nil {
		t.Fatalf("append aborted txn: %v", err)
	}
	return a
}

func mustCollect(t *testing.T, l *Log, from, upTo int64) []AbortedTxn {
	t.Helper()
	got, err := l.CollectAbortedTxns(from, upTo)
	if err != nil {
		t.Fatalf("collect [%d, %d): %v", from, upTo, err)
	}
	return got
}

// TestAbortedTxnKafkaFormat: an entry is Kafka's AbortedTxn byte for byte
// (storage/.../log/AbortedTxn.java: putShort(0), then producerId,
// firstOffset, lastOffset, lastStableOffset as big-endian longs), and the
// file holds exactly the entries in marker order.
func TestAbortedTxnKafkaFormat(t *testing.T) {
	a := AbortedTxn{ProducerID: 0x0102030405060708, FirstOffset: 10, LastOffset: 300, LastStableOffset: -2}
	want, _ := hex.DecodeString("0000" + "0102030405060708" + "000000000000000a" + "000000000000012c" + "fffffffffffffffe")
	if got := a.AppendTo(nil); !bytes.Equal(got, want) || len(got) != 34 {
		t.Fatalf("entry %x, want %x", got, want)
	}
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	e1 := abortTxn(t, l, 7, nil)
	e2 := abortTxn(t, l, 8, nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(txnIndexPath(dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	if want := e2.AppendTo(e1.AppendTo(nil)); !bytes.Equal(b, want) {
		t.Fatalf("file %x, want %x", b, want)
	}
	// Hand-computed: producer 7, data at 0, marker at 1, LSO 2.
	if want, _ := hex.DecodeString("0000" + "0000000000000007" + "0000000000000000" + "0000000000000001" + "0000000000000002"); !bytes.Equal(b[:34], want) {
		t.Fatalf("first entry %x, want %x", b[:34], want)
	}
}

// TestTxnIndexCollect: entries go to the segment of their marker and a
// collect over a range returns the aborts with data in it, continuing
// into later segments until an entry's last stable offset covers the
// range (Kafka's collectAbortedTransactions).
func TestTxnIndexCollect(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{SegmentBytes: 400})
	// Producer 1 opens a transaction at 0 that is aborted much later, in
	// another segment; producers 2.. abort short ones meanwhile.
	first1 := appendSpec(t, l, batchSpec{producerID: 1, transactional: true, recs: []kv{rec("a", "1")}})
	var short []AbortedTxn
	for pid := int64(2); pid < 8; pid++ {
		short = append(short, abortTxn(t, l, pid, func(int64) int64 { return first1 }))
	}
	m1 := marker(t, l, 1, false, 0)
	long := AbortedTxn{ProducerID: 1, FirstOffset: first1, LastOffset: m1, LastStableOffset: m1 + 1}
	if err := l.AppendAbortedTxn(long); err != nil {
		t.Fatal(err)
	}
	after := abortTxn(t, l, 9, nil)
	if l.SegmentCount() < 3 {
		t.Fatalf("%d segments, want the entries spread over several", l.SegmentCount())
	}
	// Every entry is in the file of the segment holding its marker.
	for _, a := range append(append(slices.Clone(short), long), after) {
		l.mu.RLock()
		s := l.segmentForLocked(a.LastOffset)
		l.mu.RUnlock()
		b, err := os.ReadFile(txnIndexPath(dir, s.base))
		if err != nil || !bytes.Contains(b, a.AppendTo(nil)) {
			t.Fatalf("entry %+v not in segment %d's index (%v)", a, s.base, err)
		}
	}
	// Fetching offset 0 to 1: producer 1's abort is in a later segment.
	if got := mustCollect(t, l, 0, 1); !slices.Equal(got, []AbortedTxn{long}) {
		t.Fatalf("collect [0, 1) = %+v", got)
	}
	// The range of one short transaction: it and producer 1's.
	s := short[2]
	if got := mustCollect(t, l, s.FirstOffset, s.LastOffset); !slices.Equal(got, []AbortedTxn{s, long}) {
		t.Fatalf("collect %+v = %+v", s, got)
	}
	// After producer 1's marker only the later abort.
	if got := mustCollect(t, l, m1+1, l.LogEndOffset()); !slices.Equal(got, []AbortedTxn{after}) {
		t.Fatalf("collect after = %+v", got)
	}
	// Out of order and out of the log are refused.
	for _, a := range []AbortedTxn{long, {ProducerID: 3, FirstOffset: 0, LastOffset: l.LogEndOffset()}} {
		if err := l.AppendAbortedTxn(a); !errors.Is(err, ErrTxnIndexOrder) {
			t.Fatalf("append %+v: %v", a, err)
		}
	}
	// ReadCommittedRegions lists the aborts of what it returns.
	regions, release, aborted, err := l.ReadCommittedRegions(s.FirstOffset, math.MaxInt64, 1, true)
	defer release()
	if err != nil || len(regions) != 1 || !slices.Equal(aborted, []AbortedTxn{s, long}) {
		t.Fatalf("read committed: %d regions, %+v, %v", len(regions), aborted, err)
	}
}

// TestTxnIndexRecovery: after a crash the entries below the recovery
// point are trusted; a torn tail, entries past the log end and entries
// after the point are cut and the index asks to be rebuilt from there;
// sealed segments trust their files unless damaged.
func TestTxnIndexRecovery(t *testing.T) {
	src := t.TempDir()
	l := openLog(t, src, Config{SegmentBytes: 600})
	var entries []AbortedTxn
	for pid := int64(1); pid <= 6; pid++ {
		entries = append(entries, abortTxn(t, l, pid, nil))
	}
	bases := segmentBases(l)
	if len(bases) < 2 {
		t.Fatalf("segments %v", bases)
	}
	active := bases[len(bases)-1]
	mustSync(t, l)
	mustCheckpoint(t, l)
	point := l.RecoveryPoint()
	late := abortTxn(t, l, 20, nil) // after the recovery point, in the page cache
	entries = append(entries, late)

	check := func(t *testing.T, l *Log) {
		t.Helper()
		if got := mustCollect(t, l, 0, l.LogEndOffset()); !slices.Equal(got, entries) {
			t.Fatalf("collect %+v, want %+v", got, entries)
		}
	}
	t.Run("clean", func(t *testing.T) {
		dir := copyDir(t, src)
		if err := writeMarker(OS, dir); err != nil {
			t.Fatal(err)
		}
		l2 := openLog(t, dir, Config{SegmentBytes: 600})
		if from := l2.TxnIndexRebuildFrom(); from != math.MaxInt64 {
			t.Fatalf("rebuild from %d after a clean shutdown", from)
		}
		check(t, l2)
	})
	t.Run("crash with torn tail", func(t *testing.T) {
		dir := copyDir(t, src)
		// A torn entry and one for a marker past the log end.
		appendToFile(t, txnIndexPath(dir, active), AbortedTxn{ProducerID: 1, FirstOffset: 0, LastOffset: 1 << 40}.AppendTo(nil))
		appendToFile(t, txnIndexPath(dir, active), []byte{0, 0, 1, 2, 3})
		l2 := openLog(t, dir, Config{SegmentBytes: 600})
		from := l2.TxnIndexRebuildFrom()
		if from > point {
			t.Fatalf("rebuild from %d, recovery point %d", from, point)
		}
		st, err := os.Stat(txnIndexPath(dir, active))
		if err != nil || st.Size()%abortedTxnSize != 0 {
			t.Fatalf("index after recovery: %v, %v", st, err)
		}
		// Without the rebuild the late abort is missing, nothing else.
		if got := mustCollect(t, l2, 0, l2.LogEndOffset()); !slices.Equal(got, entries[:len(entries)-1]) {
			t.Fatalf("before rebuild %+v", got)
		}
		var redo []AbortedTxn
		for _, a := range entries {
			if a.LastOffset >= from {
				redo = append(redo, a)
			}
		}
		if err := l2.RebuildTxnIndex(redo); err != nil {
			t.Fatal(err)
		}
		check(t, l2)
		if from := l2.TxnIndexRebuildFrom(); from != math.MaxInt64 {
			t.Fatalf("rebuild from %d after the rebuild", from)
		}
	})
	t.Run("damaged sealed segment", func(t *testing.T) {
		dir := copyDir(t, src)
		if err := writeMarker(OS, dir); err != nil {
			t.Fatal(err)
		}
		appendToFile(t, txnIndexPath(dir, bases[0]), []byte{0})
		l2 := openLog(t, dir, Config{SegmentBytes: 600})
		if from := l2.TxnIndexRebuildFrom(); from != bases[0] {
			t.Fatalf("rebuild from %d, want the damaged segment's base %d", from, bases[0])
		}
		if err := l2.RebuildTxnIndex(entries); err != nil {
			t.Fatal(err)
		}
		check(t, l2)
		b, err := os.ReadFile(txnIndexPath(dir, bases[0]))
		if err != nil || len(b)%abortedTxnSize != 0 {
			t.Fatalf("rebuilt index of %d bytes: %v", len(b), err)
		}
	})
	t.Run("foreign version", func(t *testing.T) {
		dir := copyDir(t, src)
		if err := writeMarker(OS, dir); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(txnIndexPath(dir, bases[0]))
		if err != nil || len(b) < abortedTxnSize {
			t.Fatal(err)
		}
		b[1] = 9
		if err := os.WriteFile(txnIndexPath(dir, bases[0]), b, 0o644); err != nil {
			t.Fatal(err)
		}
		l2 := openLog(t, dir, Config{SegmentBytes: 600})
		if from := l2.TxnIndexRebuildFrom(); from != bases[0] {
			t.Fatalf("rebuild from %d", from)
		}
		if err := l2.RebuildTxnIndex(entries); err != nil {
			t.Fatal(err)
		}
		check(t, l2)
	})
}

// TestTxnIndexTruncateAndRetention: TruncateTo drops the entries of the
// markers it removes and the files of later segments; DeleteRecords
// (IncrementLogStartOffset) leaves the index alone; retention deletes a
// segment's .txnindex with it.
func TestTxnIndexTruncateAndRetention(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	l := openLog(t, dir, Config{SegmentBytes: 400, Now: clock.Now, RetentionMs: -1})
	var entries []AbortedTxn
	for pid := int64(1); pid <= 8; pid++ {
		entries = append(entries, abortTxn(t, l, pid, nil))
	}
	bases := segmentBases(l)
	cut := entries[5].FirstOffset // keeps 5 entries
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	if got := mustCollect(t, l, 0, l.LogEndOffset()); !slices.Equal(got, entries[:5]) {
		t.Fatalf("after truncation %+v", got)
	}
	for _, b := range bases {
		if b <= cut {
			continue // kept, cut inside
		}
		if _, err := os.Stat(txnIndexPath(dir, b)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("index of removed segment %d: %v", b, err)
		}
	}
	// Appends after the truncation index in order again.
	again := abortTxn(t, l, 30, nil)
	if got := mustCollect(t, l, cut, l.LogEndOffset()); !slices.Equal(got, []AbortedTxn{again}) {
		t.Fatalf("after re-append %+v", got)
	}
	// DeleteRecords moves the start, not the index.
	bases = segmentBases(l)
	if _, err := l.IncrementLogStartOffset(bases[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(txnIndexPath(dir, bases[0])); err != nil {
		t.Fatalf("index of segment %d gone before retention: %v", bases[0], err)
	}
	if n, err := l.EnforceRetention(); err != nil || n != 1 {
		t.Fatalf("retention deleted %d: %v", n, err)
	}
	if _, err := os.Stat(txnIndexPath(dir, bases[0])); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("index of deleted segment %d: %v", bases[0], err)
	}
	if _, err := l.CollectAbortedTxns(0, 1); !errors.Is(err, ErrOffsetOutOfRange) && err != nil {
		t.Fatal(err)
	}
}

// TestTxnIndexHeldForReaders: a reader holding a segment that retention
// deletes still reads its transaction index.
func TestTxnIndexHeldForReaders(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{SegmentBytes: 300, RetentionMs: -1})
	a := abortTxn(t, l, 1, nil)
	for l.SegmentCount() < 3 {
		abortTxn(t, l, 2, nil)
	}
	sn, err := l.acquire(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.release()
	if _, err := l.IncrementLogStartOffset(segmentBases(l)[1]); err != nil {
		t.Fatal(err)
	}
	if n, err := l.EnforceRetention(); err != nil || n != 1 {
		t.Fatalf("retention deleted %d: %v", n, err)
	}
	got, err := sn.collectAbortedTxns(nil, 0, a.LastOffset)
	if err != nil || len(got) == 0 || got[0] != a {
		t.Fatalf("collect from a deleted segment: %+v, %v", got, err)
	}
}

// FuzzParseTxnIndex: any bytes give a valid prefix that re-encodes to the
// same bytes, and opening a log with them as a sealed segment's index
// neither panics nor trusts a bad entry.
func FuzzParseTxnIndex(f *testing.F) {
	valid := AbortedTxn{ProducerID: 3, FirstOffset: 1, LastOffset: 2, LastStableOffset: 3}.AppendTo(nil)
	f.Add(valid)
	f.Add(append(slices.Clone(valid), 0, 0, 1))
	f.Add(AbortedTxn{ProducerID: 1, FirstOffset: 5, LastOffset: 4}.AppendTo(valid))
	f.Add([]byte{0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParseTxnIndex(b, 0, 10)
		var enc []byte
		for _, a := range entries {
			enc = a.AppendTo(enc)
		}
		if !bytes.Equal(enc, b[:len(enc)]) {
			t.Fatalf("prefix re-encodes to %x, input %x", enc, b)
		}
		if err == nil && len(enc) != len(b) {
			t.Fatalf("no error, but %d of %d bytes parsed", len(enc), len(b))
		}
		for i, a := range entries {
			if a.LastOffset < 0 || a.LastOffset >= 10 || a.FirstOffset > a.LastOffset || i > 0 && a.LastOffset <= entries[i-1].LastOffset {
				t.Fatalf("entry %d accepted: %+v", i, a)
			}
		}
	})
}

// headersByOffset parses every batch header of the log by base offset.
func headersByOffset(t *testing.T, l *Log) map[int64]record.Header {
	t.Helper()
	data := mustRead(t, l, l.LogStartOffset(), math.MaxInt64, math.MaxInt32, true)
	out := map[int64]record.Header{}
	for p := 0; p < len(data); {
		h, err := record.ParseHeader(data[p:])
		if err != nil {
			t.Fatal(err)
		}
		out[h.BaseOffset] = h
		p += h.Size()
	}
	return out
}

// TestCompactTxnMarkers: as Kafka's cleaner, a COMMIT or ABORT marker
// stays while data of its transaction remains; the pass after the last
// of it went gives the marker a delete horizon (now +
// delete.retention.ms); the first pass after the horizon removes it, or
// keeps it without records when it is its producer's last batch. The
// transaction index keeps an abort only while its data remains.
func TestCompactTxnMarkers(t *testing.T) {
	clock := newFakeClock()
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 500, Now: clock.Now, RetentionMs: -1})
	m := model{}
	add := func(s batchSpec) int64 {
		base := appendSpec(t, l, s)
		m.add(base, s.recs)
		return base
	}
	// Producer 5 aborts a transaction and writes again later; producer 6
	// commits "y", superseded later; producer 7 aborts as its last batch.
	a5 := add(batchSpec{producerID: 5, transactional: true, recs: []kv{rec("x", "aborted")}})
	abort5 := marker(t, l, 5, false, 0)
	if err := l.AppendAbortedTxn(AbortedTxn{ProducerID: 5, FirstOffset: a5, LastOffset: abort5, LastStableOffset: abort5 + 1}); err != nil {
		t.Fatal(err)
	}
	add(batchSpec{producerID: 6, transactional: true, recs: []kv{rec("y", "committed")}})
	commit6 := marker(t, l, 6, true, 0)
	a7 := add(batchSpec{producerID: 7, transactional: true, recs: []kv{rec("z", "aborted")}})
	abort7 := marker(t, l, 7, false, 0)
	if err := l.AppendAbortedTxn(AbortedTxn{ProducerID: 7, FirstOffset: a7, LastOffset: abort7, LastStableOffset: abort7 + 1}); err != nil {
		t.Fatal(err)
	}
	add(batchSpec{producerID: 5, baseSequence: 1, recs: []kv{rec("p5", "later")}})
	add(batchSpec{producerID: 6, baseSequence: 1, recs: []kv{rec("p6", "later")}})
	add(batchSpec{recs: []kv{rec("y", "plain")}})
	fillKeys(t, l, m, 20, 2, 0)
	if activeBase(l) <= abort7 {
		t.Fatal("markers still in the active segment")
	}
	cc := noBound
	cc.DeleteRetentionMs = 1000
	markers := []int64{abort5, commit6, abort7}

	// Pass 1 removes the data; the markers stay as they are, and so do the
	// index entries of the aborts whose data this pass saw.
	compact(t, l, cc)
	hs := headersByOffset(t, l)
	if _, ok := hs[a5]; ok {
		t.Fatal("aborted data of producer 5 kept")
	}
	for _, off := range markers {
		if h, ok := hs[off]; !ok || h.RecordCount != 1 || h.Attributes&record.AttrDeleteHorizon != 0 {
			t.Fatalf("pass 1: marker %d: %+v (kept %v)", off, h, ok)
		}
	}
	if got := mustCollect(t, l, 0, l.LogEndOffset()); len(got) != 2 {
		t.Fatalf("pass 1: index %+v", got)
	}
	// Pass 2: no data left before the markers of 5 and 6: horizon set.
	// Producer 7's last data batch stays (empty): its marker stays too.
	compact(t, l, cc)
	hs = headersByOffset(t, l)
	horizon := clock.Ms() + 1000
	for _, off := range []int64{abort5, commit6} {
		if h := hs[off]; h.RecordCount != 1 || h.Attributes&record.AttrDeleteHorizon == 0 || h.BaseTimestamp != horizon {
			t.Fatalf("pass 2: marker %d: %+v, want horizon %d", off, h, horizon)
		}
	}
	if h := hs[abort7]; h.Attributes&record.AttrDeleteHorizon != 0 {
		t.Fatalf("pass 2: marker of producer 7 with data left got a horizon: %+v", h)
	}
	if got := mustCollect(t, l, 0, l.LogEndOffset()); len(got) != 1 || got[0].ProducerID != 7 {
		t.Fatalf("pass 2: index %+v, want producer 7's abort only", got)
	}
	readLog(t, l) // every batch still valid
	// Before the horizon nothing changes; after it the markers go.
	clock.Advance(999 * time.Millisecond)
	compact(t, l, cc)
	if hs = headersByOffset(t, l); hs[abort5].RecordCount != 1 || hs[commit6].RecordCount != 1 {
		t.Fatal("markers removed before their horizon")
	}
	clock.Advance(time.Millisecond)
	compact(t, l, cc)
	hs = headersByOffset(t, l)
	for _, off := range []int64{abort5, commit6} {
		if h, ok := hs[off]; ok {
			t.Fatalf("marker %d kept after its horizon: %+v", off, h)
		}
	}
	if _, ok := hs[abort7]; !ok {
		t.Fatal("marker of producer 7 removed while its data remains")
	}
	m.checkAgainst(t, readLog(t, l))
	checkDirFiles(t, l)
}

// TestCompactMarkerLastOfProducer: a marker without data (a coordinator
// aborting a transaction that wrote nothing here) goes after its horizon,
// except that its producer's last batch keeps its header (the epoch).
func TestCompactMarkerLastOfProducer(t *testing.T) {
	clock := newFakeClock()
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 400, Now: clock.Now, RetentionMs: -1})
	m := model{}
	last := marker(t, l, 4, false, 0)
	notLast := marker(t, l, 8, false, 0)
	r := []kv{rec("p8", "later")}
	m.add(appendSpec(t, l, batchSpec{producerID: 8, recs: r}), r)
	fillKeys(t, l, m, 30, 2, 0)
	cc := noBound
	cc.DeleteRetentionMs = 0
	compact(t, l, cc) // sets the horizon
	if h := headersByOffset(t, l)[last]; h.Attributes&record.AttrDeleteHorizon == 0 || h.RecordCount != 1 {
		t.Fatalf("marker after the first pass: %+v", h)
	}
	clock.Advance(time.Millisecond)
	compact(t, l, cc)
	hs := headersByOffset(t, l)
	if h, ok := hs[last]; !ok || !h.IsControl() || h.RecordCount != 0 || h.ProducerID != 4 {
		t.Fatalf("producer 4's marker: %+v (kept %v)", h, ok)
	}
	if h, ok := hs[notLast]; ok {
		t.Fatalf("producer 8's marker kept: %+v", h)
	}
	m.checkAgainst(t, readLog(t, l))
	// An emptied marker is never given a horizon again nor removed.
	clock.Advance(time.Hour)
	compact(t, l, cc)
	if h, ok := headersByOffset(t, l)[last]; !ok || h.RecordCount != 0 {
		t.Fatalf("producer 4's empty marker: %+v (kept %v)", h, ok)
	}
}

// FuzzTxnIndexOpen: any bytes as a sealed segment's .txnindex open
// without error; the index then trusts only valid entries of markers in
// that segment and asks for a rebuild when it cut anything.
func FuzzTxnIndexOpen(f *testing.F) {
	template := f.TempDir()
	l, err := Open(template, Config{SegmentBytes: 300}, nil)
	if err != nil {
		f.Fatal(err)
	}
	var first []byte
	for l.SegmentCount() < 2 {
		pid := l.LogEndOffset() + 1
		base, err := l.Append(buildSpecF(f, batchSpec{producerID: pid, transactional: true, recs: []kv{rec("k", "v")}}))
		if err != nil {
			f.Fatal(err)
		}
		m, err := l.Append(buildSpecF(f, batchSpec{producerID: pid, control: true, recs: []kv{{key: []byte{0, 0, 0, 0}, value: []byte{0, 0, 0, 0, 0, 0}}}}))
		if err != nil {
			f.Fatal(err)
		}
		a := AbortedTxn{ProducerID: pid, FirstOffset: base, LastOffset: m, LastStableOffset: m + 1}
		if err := l.AppendAbortedTxn(a); err != nil {
			f.Fatal(err)
		}
		if l.SegmentCount() == 1 {
			first = a.AppendTo(first)
		}
	}
	firstNext := segmentBases(l)[1]
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(first)
	f.Add(first[:len(first)-3])
	f.Add(append(slices.Clone(first), first[:34]...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := copyDir(t, template)
		if err := os.WriteFile(txnIndexPath(dir, 0), b, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, Config{SegmentBytes: 300}, nil)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer l.Close()
		valid, perr := ParseTxnIndex(b, 0, firstNext)
		from := l.TxnIndexRebuildFrom()
		if (perr != nil) != (from == 0) {
			t.Fatalf("parse error %v, rebuild from %d", perr, from)
		}
		got, err := l.CollectAbortedTxns(0, 1)
		if err != nil {
			t.Fatalf("collect: %v", err)
		}
		for _, a := range got {
			if !slices.Contains(valid, a) && !bytes.Contains(first, a.AppendTo(nil)) {
				t.Fatalf("collected %+v, not a valid entry of the file", a)
			}
		}
		st, err := os.Stat(txnIndexPath(dir, 0))
		if err != nil || st.Size() != int64(len(valid))*abortedTxnSize {
			t.Fatalf("index file after open: %v, %v; %d valid entries", st, err, len(valid))
		}
	})
}

func buildSpecF(f *testing.F, s batchSpec) ([]byte, *record.Header, int32) {
	batch, h, err := encodeSpec(s)
	if err != nil {
		f.Fatal(err)
	}
	return batch, &h, 0
}

// TestTxnIndexCollectMatchesFullScan: the binary search that skips the
// entries before the fetch offset changes nothing against Kafka's scan of
// the whole file.
func TestTxnIndexCollectMatchesFullScan(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	rng := rand.New(rand.NewPCG(7, 9))
	var all []AbortedTxn
	open := map[int64]int64{} // producer -> first offset of its open transaction
	for i := 0; i < 400; i++ {
		pid := int64(rng.IntN(6))
		if first, ok := open[pid]; ok && rng.IntN(3) == 0 {
			m := marker(t, l, pid, false, 0)
			delete(open, pid)
			lso := m + 1
			for _, o := range open {
				lso = min(lso, o)
			}
			a := AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: m, LastStableOffset: lso}
			if err := l.AppendAbortedTxn(a); err != nil {
				t.Fatal(err)
			}
			all = append(all, a)
			continue
		}
		off := appendSpec(t, l, batchSpec{producerID: pid, transactional: true, recs: []kv{rec("k", "v")}})
		if _, ok := open[pid]; !ok {
			open[pid] = off
		}
	}
	if len(all) < 20 {
		t.Fatalf("only %d aborts", len(all))
	}
	end := l.LogEndOffset()
	for i := 0; i < 300; i++ {
		from := rng.Int64N(end)
		upTo := from + 1 + rng.Int64N(end-from)
		var want []AbortedTxn
		for _, a := range all {
			if a.LastOffset >= from && a.FirstOffset < upTo {
				want = append(want, a)
			}
			if a.LastStableOffset >= upTo {
				break
			}
		}
		if got := mustCollect(t, l, from, upTo); !slices.Equal(got, want) {
			t.Fatalf("collect [%d, %d) = %+v, want %+v (seed 7, 9)", from, upTo, got, want)
		}
	}
}
