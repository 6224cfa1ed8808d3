package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/record"
)

// kv is one record to append: value nil is a tombstone, key nil no key.
type kv struct {
	key, value []byte
}

func rec(key, value string) kv { return kv{key: []byte(key), value: []byte(value)} }
func tombstone(key string) kv  { return kv{key: []byte(key)} }

// batchSpec describes a batch to append.
type batchSpec struct {
	codec int
	ts    int64 // timestamp of the first record; the others follow by 1 ms
	recs  []kv
	// producer fields; producerID 0 means none
	producerID    int64
	baseSequence  int32
	transactional bool
	control       bool
}

func buildSpec(t testing.TB, s batchSpec) ([]byte, record.Header) {
	t.Helper()
	batch, h, err := encodeSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return batch, h
}

func encodeSpec(s batchSpec) ([]byte, record.Header, error) {
	b := record.NewBuilder()
	if s.producerID != 0 {
		b.ProducerID, b.ProducerEpoch, b.BaseSequence = s.producerID, 0, s.baseSequence
	}
	if s.transactional {
		b.Attributes |= record.AttrTransactional
	}
	if s.control {
		b.Attributes |= record.AttrControl | record.AttrTransactional
	}
	for i, r := range s.recs {
		b.Add(s.ts+int64(i), r.key, r.value)
	}
	batch, err := b.Build(s.codec)
	if err != nil {
		return nil, record.Header{}, err
	}
	h, err := record.ParseHeader(batch)
	return batch, h, err
}

func appendSpec(t testing.TB, l *Log, s batchSpec) int64 {
	t.Helper()
	batch, h := buildSpec(t, s)
	base, err := l.Append(batch, &h, 3)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return base
}

// marker appends a transaction marker of producer pid: abort or commit.
func marker(t testing.TB, l *Log, pid int64, commit bool, ts int64) int64 {
	t.Helper()
	key := []byte{0, 0, 0, controlAbort}
	if commit {
		key[3] = controlCommit
	}
	return appendSpec(t, l, batchSpec{ts: ts, producerID: pid, control: true, recs: []kv{{key: key, value: []byte{0, 0, 0, 0, 0, 0}}}})
}

// stored is one record of the log as read back, with its batch header.
type stored struct {
	record.Record
	batch record.Header
}

// readLog reads the whole log, checks every batch (CRC, increasing
// offsets, records inside the batch's range) and returns the records.
func readLog(t testing.TB, l *Log) []stored {
	t.Helper()
	data := mustRead(t, l, l.LogStartOffset(), math.MaxInt64, math.MaxInt32, true)
	var out []stored
	next := int64(-1)
	for p := 0; p < len(data); {
		h, err := record.ParseHeader(data[p:])
		if err != nil {
			t.Fatalf("batch at byte %d: %v", p, err)
		}
		b := data[p : p+h.Size()]
		if err := record.CheckCRC(b); err != nil {
			t.Fatalf("batch %d: %v", h.BaseOffset, err)
		}
		if h.BaseOffset < next {
			t.Fatalf("batch %d starts before %d", h.BaseOffset, next)
		}
		recs, err := record.Records(b)
		if err != nil {
			t.Fatalf("batch %d: %v", h.BaseOffset, err)
		}
		if len(recs) != int(h.RecordCount) {
			t.Fatalf("batch %d: %d records, header says %d", h.BaseOffset, len(recs), h.RecordCount)
		}
		for _, r := range recs {
			if r.Offset < max(next, h.BaseOffset) || r.Offset > h.LastOffset() {
				t.Fatalf("record offset %d outside batch %d-%d or before %d", r.Offset, h.BaseOffset, h.LastOffset(), next)
			}
			next = r.Offset + 1
			out = append(out, stored{Record: r, batch: h})
		}
		next = h.NextOffset()
		p += h.Size()
	}
	return out
}

// model remembers what was appended: offset -> record.
type model map[int64]kv

// add records the offsets of a batch appended at base.
func (m model) add(base int64, recs []kv) {
	for i, r := range recs {
		m[base+int64(i)] = r
	}
}

// latest returns, per key, the offset of its last record below end.
func (m model) latest(end int64) map[string]int64 {
	out := map[string]int64{}
	for off, r := range m {
		if r.key == nil || off >= end {
			continue
		}
		if prev, ok := out[string(r.key)]; !ok || off > prev {
			out[string(r.key)] = off
		}
	}
	return out
}

// checkAgainst fails unless every record read is the one appended at its offset.
func (m model) checkAgainst(t testing.TB, got []stored) {
	t.Helper()
	for _, r := range got {
		if r.batch.IsControl() {
			continue
		}
		want, ok := m[r.Offset]
		if !ok {
			t.Fatalf("offset %d was never appended", r.Offset)
		}
		if !bytes.Equal(r.Key, want.key) || !bytes.Equal(r.Value, want.value) || (r.Value == nil) != (want.value == nil) {
			t.Fatalf("offset %d: %q=%q, appended %q=%q", r.Offset, r.Key, r.Value, want.key, want.value)
		}
	}
}

func activeBase(l *Log) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.activeLocked().base
}

func segmentBases(l *Log) []int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []int64
	for _, s := range l.mu.segments {
		out = append(out, s.base)
	}
	return out
}

// checkDirFiles fails when leftover cleaner files exist or the .log files
// do not add up to Size.
func checkDirFiles(t testing.TB, l *Log) {
	t.Helper()
	entries, err := os.ReadDir(l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), cleanedSuffix) || strings.HasSuffix(e.Name(), swapSuffix) {
			t.Errorf("leftover file %s", e.Name())
		}
		if _, ok := parseSegmentName(e.Name()); ok {
			st, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			total += st.Size()
		}
	}
	if total != l.Size() {
		t.Errorf(".log files hold %d bytes, Size says %d", total, l.Size())
	}
	if got, want := segmentFiles(t, l.Dir()), segmentBases(l); !slices.Equal(got, want) {
		t.Errorf("segment files %v, log has %v", got, want)
	}
}

// keysOnce fails when a key appears twice among the records below end, or
// its record there is not the latest below end.
func keysOnce(t testing.TB, got []stored, latest map[string]int64, end int64) {
	t.Helper()
	seen := map[string]int64{}
	for _, r := range got {
		if r.Offset >= end || r.Key == nil || r.batch.IsControl() {
			continue
		}
		if prev, ok := seen[string(r.Key)]; ok {
			t.Fatalf("key %q at offsets %d and %d below %d", r.Key, prev, r.Offset, end)
		}
		seen[string(r.Key)] = r.Offset
		if latest[string(r.Key)] != r.Offset {
			t.Fatalf("key %q survives at %d, its latest below %d is %d", r.Key, r.Offset, end, latest[string(r.Key)])
		}
	}
}

var noBound = CompactConfig{MaxOffset: math.MaxInt64, DeleteRetentionMs: DefaultDeleteRetentionMs}

func compact(t testing.TB, l *Log, cc CompactConfig) CompactStats {
	t.Helper()
	st, err := l.Compact(cc)
	if err != nil {
		t.Fatalf("compact: %v", err)
	}
	return st
}

// fillKeys appends n one-record batches cycling over keys k0..k{nkeys-1},
// with values v<offset>, at timestamp ts.
func fillKeys(t testing.TB, l *Log, m model, n, nkeys int, ts int64) {
	t.Helper()
	for i := 0; i < n; i++ {
		off := l.LogEndOffset()
		r := rec(fmt.Sprintf("k%d", int(off)%nkeys), fmt.Sprintf("v%d", off))
		m.add(appendSpec(t, l, batchSpec{ts: ts, recs: []kv{r}}), []kv{r})
	}
}

func TestCompactKeepsLatestPerKey(t *testing.T) {
	clock := newFakeClock()
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 1024, IndexIntervalBytes: 100, Now: clock.Now})
	m := model{}
	fillKeys(t, l, m, 200, 5, clock.Ms())
	// A batch of several records, some keys repeated inside it.
	multi := []kv{rec("k1", "multi-a"), rec("x", "only"), rec("k1", "multi-b"), {value: []byte("no key")}, {}}
	m.add(appendSpec(t, l, batchSpec{ts: clock.Ms(), recs: multi}), multi)
	fillKeys(t, l, m, 23, 5, clock.Ms())

	active := activeBase(l)
	activeFile := filepath.Join(l.Dir(), segmentName(active)+logSuffix)
	activeBytes, err := os.ReadFile(activeFile)
	if err != nil {
		t.Fatal(err)
	}
	segsBefore, sizeBefore, leo := len(segmentBases(l)), l.Size(), l.LogEndOffset()
	before := readLog(t, l)

	st := compact(t, l, noBound)

	if st.SegmentsCleaned == 0 || st.RecordsRemoved == 0 {
		t.Fatalf("stats %+v", st)
	}
	if l.Size() >= sizeBefore || sizeBefore-l.Size() != st.BytesBefore-st.BytesAfter {
		t.Fatalf("size %d -> %d, stats %+v", sizeBefore, l.Size(), st)
	}
	if l.LogStartOffset() != 0 || l.LogEndOffset() != leo || activeBase(l) != active {
		t.Fatalf("start %d, end %d, active %d", l.LogStartOffset(), l.LogEndOffset(), activeBase(l))
	}
	if after, err := os.ReadFile(activeFile); err != nil || !bytes.Equal(after, activeBytes) {
		t.Fatalf("active segment changed (%v)", err)
	}
	if n := len(segmentBases(l)); n >= segsBefore {
		t.Fatalf("%d segments after compaction, %d before: small ones should merge", n, segsBefore)
	}
	got := readLog(t, l)
	m.checkAgainst(t, got)
	keysOnce(t, got, m.latest(active), active)
	var removed int64
	for _, r := range before {
		if !slices.ContainsFunc(got, func(s stored) bool { return s.Offset == r.Offset }) {
			removed++
		}
	}
	if removed != st.RecordsRemoved {
		t.Fatalf("%d records gone, stats say %d", removed, st.RecordsRemoved)
	}
	// Records of the active segment are all there.
	if n := len(got) - slices.IndexFunc(got, func(s stored) bool { return s.Offset >= active }); int64(n) != leo-active {
		t.Fatalf("%d records in the active segment, want %d", n, leo-active)
	}
	// The record without key survives; the first k1 of the multi batch goes.
	for _, value := range [][]byte{[]byte("no key"), nil} {
		if !slices.ContainsFunc(got, func(s stored) bool {
			return s.Key == nil && bytes.Equal(s.Value, value) && (s.Value == nil) == (value == nil)
		}) {
			t.Fatalf("record without key and value %q removed", value)
		}
	}
	// A read at a removed offset returns the next surviving batch.
	first := got[0].Offset
	for off := int64(0); off < first; off++ {
		if b := mustRead(t, l, off, math.MaxInt64, 1, true); recordOffsets(t, b)[0] != first {
			t.Fatalf("read at removed offset %d starts at %d, want %d", off, recordOffsets(t, b)[0], first)
		}
	}
	checkDirFiles(t, l)

	// Nothing new: a second pass does nothing.
	if st := compact(t, l, noBound); st != (CompactStats{}) {
		t.Fatalf("second pass %+v", st)
	}
	// Reads by timestamp and max timestamp still work on rewritten segments.
	if _, _, found, err := l.OffsetForTimestamp(0, math.MaxInt64); err != nil || !found {
		t.Fatalf("offset for timestamp: %v %v", found, err)
	}
	if _, _, _, err := l.MaxTimestamp(math.MaxInt64); err != nil {
		t.Fatal(err)
	}
}

func TestCompactKeepsFirstSegmentAndDropsEmptyOnes(t *testing.T) {
	// Segments of three one-record batches that cannot merge: every
	// segment is its own group.
	one, _ := buildSpec(t, batchSpec{recs: []kv{rec("a", "00")}})
	l := openLog(t, t.TempDir(), Config{SegmentBytes: int64(3 * len(one))})
	m := model{}
	add := func(k, v string) {
		r := rec(k, v)
		m.add(appendSpec(t, l, batchSpec{recs: []kv{r}}), []kv{r})
	}
	for _, k := range strings.Split("abcabcdefabcg", "") {
		add(k, fmt.Sprintf("%02d", l.LogEndOffset()))
	}
	// Segments 0 [a b c], 3 [a b c], 6 [d e f], 9 [a b c], 12 [g] active.
	if got := segmentBases(l); !slices.Equal(got, []int64{0, 3, 6, 9, 12}) {
		t.Fatalf("segments %v", got)
	}
	st := compact(t, l, noBound)
	if st.SegmentsCleaned != 2 || st.RecordsRemoved != 6 || st.BytesAfter != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Segment 0 stays, empty, for the log start offset; segment 3 goes.
	if got := segmentBases(l); !slices.Equal(got, []int64{0, 6, 9, 12}) {
		t.Fatalf("segments %v", got)
	}
	if l.LogStartOffset() != 0 {
		t.Fatalf("log start offset %d", l.LogStartOffset())
	}
	if offs := recordOffsets(t, mustRead(t, l, 0, math.MaxInt64, 1<<20, true)); !slices.Equal(offs, seq(6, 13)) {
		t.Fatalf("offsets %v", offs)
	}
	checkDirFiles(t, l)
	// A later pass merges the empty first segment with its neighbour.
	add("h", "13")
	add("i", "14")
	add("j", "15")
	compact(t, l, noBound)
	if got := segmentBases(l); got[0] != 0 || got[1] != 9 {
		t.Fatalf("segments %v", got)
	}
	m.checkAgainst(t, readLog(t, l))
	checkDirFiles(t, l)
}

func TestCompactTombstoneHorizon(t *testing.T) {
	clock := newFakeClock()
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 512, Now: clock.Now})
	m := model{}
	add := func(r kv) int64 {
		base := appendSpec(t, l, batchSpec{ts: clock.Ms() - 5000, recs: []kv{r}})
		m.add(base, []kv{r})
		return base
	}
	add(rec("gone", "v1"))
	add(rec("kept", "v1"))
	tomb := add(tombstone("gone"))
	fillKeys(t, l, m, 20, 3, clock.Ms())
	activeTomb := add(tombstone("kept")) // in the active segment: untouched
	if tomb >= activeBase(l) || activeTomb < activeBase(l) {
		t.Fatalf("tombstone at %d, active segment from %d", tomb, activeBase(l))
	}
	cc := CompactConfig{MaxOffset: math.MaxInt64, DeleteRetentionMs: time.Hour.Milliseconds()}
	find := func(off int64) (stored, bool) {
		for _, r := range readLog(t, l) {
			if r.Offset == off {
				return r, true
			}
		}
		return stored{}, false
	}

	compact(t, l, cc)
	r, ok := find(tomb)
	if !ok {
		t.Fatal("tombstone removed by its first cleaning")
	}
	if r.Value != nil || r.batch.Attributes&record.AttrDeleteHorizon == 0 || r.batch.BaseTimestamp != clock.Ms()+time.Hour.Milliseconds() {
		t.Fatalf("tombstone batch %+v", r.batch)
	}
	if r.Timestamp != clock.Ms()-5000 {
		t.Fatalf("tombstone timestamp %d, appended with %d", r.Timestamp, clock.Ms()-5000)
	}
	if _, ok := find(0); ok {
		t.Fatal("value before the tombstone survived")
	}

	clock.Advance(59 * time.Minute)
	compact(t, l, cc)
	if _, ok := find(tomb); !ok {
		t.Fatal("tombstone removed before its horizon")
	}
	clock.Advance(2 * time.Minute)
	st := compact(t, l, cc)
	if _, ok := find(tomb); ok || st.RecordsRemoved != 1 {
		t.Fatalf("tombstone still there after its horizon (stats %+v)", st)
	}
	if _, ok := find(activeTomb); !ok {
		t.Fatal("tombstone in the active segment removed")
	}
	m.checkAgainst(t, readLog(t, l))
	checkDirFiles(t, l)
}

func TestCompactZeroDeleteRetention(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 256})
	m := model{}
	r := tombstone("k")
	tomb := appendSpec(t, l, batchSpec{recs: []kv{r}})
	m.add(tomb, []kv{r})
	fillKeys(t, l, m, 10, 2, 1)
	cc := CompactConfig{MaxOffset: math.MaxInt64}
	compact(t, l, cc)
	if readLog(t, l)[0].Offset != tomb {
		t.Fatal("tombstone removed in its first cleaning")
	}
	compact(t, l, cc)
	if readLog(t, l)[0].Offset == tomb {
		t.Fatal("tombstone kept after a zero delete retention")
	}
}

func TestCompactMinCompactionLag(t *testing.T) {
	clock := newFakeClock()
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 512, Now: clock.Now})
	m := model{}
	old := clock.Ms() - 2*time.Hour.Milliseconds()
	fillKeys(t, l, m, 20, 4, old)
	youngFrom := l.LogEndOffset()
	fillKeys(t, l, m, 20, 4, clock.Ms())
	cc := noBound
	cc.MinCompactionLagMs = time.Hour.Milliseconds()

	compact(t, l, cc)
	got := readLog(t, l)
	m.checkAgainst(t, got)
	// Everything from the first young segment on is intact, and old
	// records are only compacted against other old ones.
	var young int64
	for _, r := range got {
		if r.Offset >= youngFrom {
			young++
		}
	}
	if young != l.LogEndOffset()-youngFrom {
		t.Fatalf("%d records from offset %d survive, want all %d", young, youngFrom, l.LogEndOffset()-youngFrom)
	}
	var firstYoungSegment int64
	for _, b := range segmentBases(l) {
		if b <= youngFrom {
			firstYoungSegment = b
		}
	}
	keysOnce(t, got, m.latest(firstYoungSegment), firstYoungSegment)
	if len(got) == int(l.LogEndOffset()) {
		t.Fatal("nothing compacted")
	}

	clock.Advance(2 * time.Hour)
	compact(t, l, cc)
	got = readLog(t, l)
	m.checkAgainst(t, got)
	keysOnce(t, got, m.latest(activeBase(l)), activeBase(l))
}

func TestCompactCompressed(t *testing.T) {
	for _, codec := range []int{record.CodecGzip, record.CodecZstd, record.CodecSnappy} {
		t.Run(fmt.Sprint(codec), func(t *testing.T) {
			l := openLog(t, t.TempDir(), Config{SegmentBytes: 600, IndexIntervalBytes: 50})
			m := model{}
			originals := map[int64]record.Header{}
			for i := 0; i < 30; i++ {
				recs := make([]kv, 6)
				for j := range recs {
					recs[j] = rec(fmt.Sprintf("k%d", (i*6+j)%7), strings.Repeat(fmt.Sprint(i), 10+j))
				}
				if i%5 == 4 {
					recs[2] = tombstone("k3")
				}
				batch, h := buildSpec(t, batchSpec{codec: codec, ts: 1000 + int64(i), recs: recs})
				base, err := l.Append(batch, &h, 3)
				if err != nil {
					t.Fatal(err)
				}
				m.add(base, recs)
				originals[base] = h
			}
			compact(t, l, noBound)
			got := readLog(t, l)
			m.checkAgainst(t, got)
			keysOnce(t, got, m.latest(activeBase(l)), activeBase(l))
			rewritten := 0
			for _, r := range got {
				orig := originals[r.batch.BaseOffset]
				if r.batch.Codec() != codec || r.batch.LastOffsetDelta != orig.LastOffsetDelta {
					t.Fatalf("batch %d: codec %d, last offset delta %d; was %d, %d", r.batch.BaseOffset,
						r.batch.Codec(), r.batch.LastOffsetDelta, codec, orig.LastOffsetDelta)
				}
				if r.batch.RecordCount != orig.RecordCount {
					rewritten++
				}
				if r.Timestamp != orig.BaseTimestamp+r.Offset-r.batch.BaseOffset {
					t.Fatalf("record %d timestamp %d", r.Offset, r.Timestamp)
				}
			}
			if rewritten == 0 {
				t.Fatal("no batch was rewritten")
			}
			checkDirFiles(t, l)
		})
	}
}

func TestCompactProducerAndControlBatches(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 700})
	m := model{}
	add := func(s batchSpec) int64 {
		base := appendSpec(t, l, s)
		m.add(base, s.recs)
		return base
	}
	// Producer 1: one batch, later superseded: kept empty as its last.
	p1 := add(batchSpec{producerID: 1, baseSequence: 7, recs: []kv{rec("a", "p1"), rec("b", "p1")}})
	// Producer 2: two batches, both superseded: only the last stays.
	p2first := add(batchSpec{producerID: 2, recs: []kv{rec("a", "p2")}})
	p2last := add(batchSpec{producerID: 2, baseSequence: 1, recs: []kv{rec("b", "p2")}})
	// Producer 3: a committed value of c, then an aborted one.
	committed := add(batchSpec{producerID: 3, transactional: true, recs: []kv{rec("c", "committed")}})
	commitMarker := marker(t, l, 3, true, 0)
	aborted := add(batchSpec{producerID: 3, transactional: true, recs: []kv{rec("c", "aborted")}})
	abortMarker := marker(t, l, 3, false, 0)
	add(batchSpec{recs: []kv{rec("a", "last"), rec("b", "last")}})
	fillKeys(t, l, m, 12, 2, 0) // keys k0, k1: roll past everything above
	compact(t, l, noBound)

	batches := map[int64]stored{}
	for _, r := range readLog(t, l) {
		batches[r.Offset] = r
	}
	data := mustRead(t, l, 0, math.MaxInt64, 1<<20, true)
	headers := map[int64]record.Header{}
	for p := 0; p < len(data); {
		h, _ := record.ParseHeader(data[p:])
		headers[h.BaseOffset] = h
		p += h.Size()
	}
	if h, ok := headers[p1]; !ok || h.RecordCount != 0 || h.LastOffsetDelta != 1 || h.BaseSequence != 7 || h.ProducerID != 1 {
		t.Fatalf("producer 1's last batch: %+v (kept %v)", h, ok)
	}
	if _, ok := headers[p2first]; ok {
		t.Fatal("producer 2's superseded first batch kept")
	}
	if h, ok := headers[p2last]; !ok || h.RecordCount != 0 || h.BaseSequence != 1 {
		t.Fatalf("producer 2's last batch: %+v (kept %v)", h, ok)
	}
	if r, ok := batches[committed]; !ok || string(r.Value) != "committed" {
		t.Fatal("committed value lost to an aborted one")
	}
	if _, ok := batches[aborted]; ok {
		t.Fatal("aborted record kept")
	}
	if h, ok := headers[aborted]; !ok || h.RecordCount != 0 {
		t.Fatalf("producer 3's last data batch: %+v (kept %v)", h, ok)
	}
	for _, off := range []int64{commitMarker, abortMarker} {
		if h, ok := headers[off]; !ok || !h.IsControl() || h.RecordCount != 1 {
			t.Fatalf("marker at %d: %+v (kept %v)", off, h, ok)
		}
	}
	m.checkAgainst(t, readLog(t, l))
	// A batch without records is never the answer to a timestamp query.
	if _, _, _, err := l.MaxTimestamp(math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	checkDirFiles(t, l)
}

func TestCompactStopsAtOpenTransactionAndMaxOffset(t *testing.T) {
	newLog := func() (*Log, model) {
		l := openLog(t, t.TempDir(), Config{SegmentBytes: 300})
		m := model{}
		fillKeys(t, l, m, 30, 3, 0)
		return l, m
	}
	t.Run("open transaction", func(t *testing.T) {
		l, m := newLog()
		r := []kv{rec("k0", "in transaction")}
		open := appendSpec(t, l, batchSpec{producerID: 9, transactional: true, recs: r})
		m.add(open, r)
		fillKeys(t, l, m, 30, 3, 0)
		compact(t, l, noBound)
		got := readLog(t, l)
		m.checkAgainst(t, got)
		for off := open; off < l.LogEndOffset(); off++ {
			if !slices.ContainsFunc(got, func(s stored) bool { return s.Offset == off }) {
				t.Fatalf("offset %d after the open transaction at %d removed", off, open)
			}
		}
		if got[0].Offset == 0 {
			t.Fatal("nothing compacted before the open transaction")
		}
		// Committing it releases the rest.
		marker(t, l, 9, true, 0)
		fillKeys(t, l, m, 10, 3, 0)
		compact(t, l, noBound)
		got = readLog(t, l)
		keysOnce(t, got, m.latest(activeBase(l)), activeBase(l))
	})
	t.Run("max offset", func(t *testing.T) {
		l, m := newLog()
		bound := int64(15)
		cc := noBound
		cc.MaxOffset = bound
		compact(t, l, cc)
		got := readLog(t, l)
		m.checkAgainst(t, got)
		var segEnd int64 // end of the last segment wholly below the bound
		for _, b := range segmentBases(l) {
			if b <= bound {
				segEnd = b
			}
		}
		keysOnce(t, got, m.latest(segEnd), segEnd)
		for off := segEnd; off < l.LogEndOffset(); off++ {
			if !slices.ContainsFunc(got, func(s stored) bool { return s.Offset == off }) {
				t.Fatalf("offset %d at or after the bound removed", off)
			}
		}
		if st := compact(t, l, CompactConfig{}); st != (CompactStats{}) {
			t.Fatalf("zero config cleaned %+v", st)
		}
	})
}

func TestCompactSmallKeyMapMakesProgress(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 400})
	m := model{}
	fillKeys(t, l, m, 120, 12, 0)
	cc := noBound
	cc.MaxKeys = 4
	passes := 0
	for ; l.cleaner.mu.firstDirty < activeBase(l) && passes < 100; passes++ {
		compact(t, l, cc)
	}
	if passes < 3 {
		t.Fatalf("%d passes: the key map should have filled", passes)
	}
	got := readLog(t, l)
	m.checkAgainst(t, got)
	keysOnce(t, got, m.latest(activeBase(l)), activeBase(l))
}

func TestCompactReopen(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			cfg := Config{SegmentBytes: 512, IndexIntervalBytes: 64}
			dir := t.TempDir()
			l := openLog(t, dir, cfg)
			m := model{}
			fillKeys(t, l, m, 100, 7, 0)
			compact(t, l, noBound)
			want, wantSize, wantSegs := readLog(t, l), l.Size(), segmentBases(l)
			if crash {
				dir = copyDir(t, dir)
			} else if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2 := openLog(t, dir, cfg)
			if got := readLog(t, l2); !slices.EqualFunc(got, want, func(a, b stored) bool { return a.Offset == b.Offset }) {
				t.Fatal("records changed across reopen")
			}
			if l2.Size() != wantSize || !slices.Equal(segmentBases(l2), wantSegs) {
				t.Fatalf("size %d segments %v, want %d %v", l2.Size(), segmentBases(l2), wantSize, wantSegs)
			}
			// Indexes of cleaned segments were written: lookups by offset
			// and timestamp agree with a scan.
			for _, r := range want {
				if offs := recordOffsets(t, mustRead(t, l2, r.Offset, math.MaxInt64, 1, true)); !slices.Contains(offs, r.Offset) {
					t.Fatalf("read at %d returned %v", r.Offset, offs)
				}
			}
			m.checkAgainst(t, readLog(t, l2))
			fillKeys(t, l2, m, 20, 7, 0)
			compact(t, l2, noBound)
			got := readLog(t, l2)
			m.checkAgainst(t, got)
			keysOnce(t, got, m.latest(activeBase(l2)), activeBase(l2))
			checkDirFiles(t, l2)
		})
	}
}

// TestCompactInterruptedSwap rebuilds the states a crash can leave during
// a swap from copies of the directory taken before and after a pass that
// merges segments into segment 0.
func TestCompactInterruptedSwap(t *testing.T) {
	cfg := Config{SegmentBytes: 600, IndexIntervalBytes: 64}
	src := t.TempDir()
	l := openLog(t, src, cfg)
	m := model{}
	fillKeys(t, l, m, 120, 9, 0)
	compact(t, l, noBound) // shrinks the segments: the next pass merges them
	fillKeys(t, l, m, 60, 9, 0)
	beforeSegs := segmentBases(l)
	before := copyDir(t, src)
	wantBefore := readLog(t, l)
	compact(t, l, noBound)
	afterSegs := segmentBases(l)
	after := copyDir(t, src)
	if len(afterSegs) < 2 || afterSegs[0] != 0 || slices.Index(beforeSegs, afterSegs[1]) < 2 {
		t.Fatalf("segments %v -> %v: the test needs a merge into segment 0", beforeSegs, afterSegs)
	}
	// Segment 0's swap file ends at swapNext; recovery replaces the old
	// segments with a base below it.
	var wantSwapped []stored
	swapNext := int64(0)
	for _, r := range readLogDir(t, after, cfg) {
		if r.Offset < afterSegs[1] {
			wantSwapped = append(wantSwapped, r)
			swapNext = r.batch.NextOffset()
		}
	}
	segmentOf := func(off int64) int64 {
		i, found := slices.BinarySearch(beforeSegs, off)
		if !found {
			i--
		}
		return beforeSegs[i]
	}
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	name := func(dir string, base int64, suffix string) string {
		return filepath.Join(dir, segmentName(base)+suffix)
	}
	tests := []struct {
		name    string
		prepare func(dir string)
		swapped bool
		removed int64 // an old segment already removed by the install; 0 for none
	}{
		{name: "cleaned files only", prepare: func(dir string) {
			for _, s := range cleanerFileSuffixes {
				copyFile(name(after, 0, s), name(dir, 0, s+cleanedSuffix))
			}
		}},
		{name: "index swap files only", prepare: func(dir string) {
			copyFile(name(after, 0, indexSuffix), name(dir, 0, indexSuffix+swapSuffix))
			copyFile(name(after, 0, logSuffix), name(dir, 0, logSuffix+cleanedSuffix))
		}},
		{name: "log swapped", swapped: true, prepare: func(dir string) {
			for _, s := range cleanerFileSuffixes {
				copyFile(name(after, 0, s), name(dir, 0, s+swapSuffix))
			}
		}},
		{name: "log swapped, index renamed, old segment removed", swapped: true, removed: beforeSegs[1], prepare: func(dir string) {
			copyFile(name(after, 0, logSuffix), name(dir, 0, logSuffix+swapSuffix))
			copyFile(name(after, 0, indexSuffix), name(dir, 0, indexSuffix))
			for _, s := range cleanerFileSuffixes {
				os.Remove(name(dir, beforeSegs[1], s))
			}
		}},
		{name: "log swap with garbage index swap", swapped: true, prepare: func(dir string) {
			copyFile(name(after, 0, logSuffix), name(dir, 0, logSuffix+swapSuffix))
			if err := os.WriteFile(name(dir, 0, timeIndexSuffix+swapSuffix), []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, before)
			tt.prepare(dir)
			l2 := openLog(t, dir, cfg)
			// A swapped-in segment's transaction index is rebuilt by the
			// partition (RebuildTxnIndex), as after a crash.
			if from := l2.TxnIndexRebuildFrom(); tt.swapped && from != 0 {
				t.Fatalf("transaction index rebuild from %d, want 0", from)
			}
			got := readLog(t, l2)
			m.checkAgainst(t, got)
			want := wantBefore
			if tt.swapped {
				want = slices.Clone(wantSwapped)
				for _, r := range wantBefore {
					if seg := segmentOf(r.Offset); seg >= swapNext && seg != tt.removed {
						want = append(want, r)
					}
				}
			}
			if !slices.EqualFunc(got, want, func(a, b stored) bool { return a.Offset == b.Offset }) {
				t.Fatalf("recovered offsets %v\nwant %v", offsetsOf(got), offsetsOf(want))
			}
			checkDirFiles(t, l2)
			// Nothing latest was lost: another pass compacts fully.
			compact(t, l2, noBound)
			got = readLog(t, l2)
			m.checkAgainst(t, got)
			keysOnce(t, got, m.latest(activeBase(l2)), activeBase(l2))
			for key, off := range m.latest(l2.LogEndOffset()) {
				if !slices.ContainsFunc(got, func(s stored) bool { return s.Offset == off }) {
					t.Fatalf("latest record of %s at %d lost", key, off)
				}
			}
		})
	}
}

func readLogDir(t *testing.T, dir string, cfg Config) []stored {
	t.Helper()
	l := openLog(t, copyDir(t, dir), cfg)
	return readLog(t, l)
}

func offsetsOf(rs []stored) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.Offset)
	}
	return out
}

func TestCompactAbortAndConfig(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 300})
	m := model{}
	fillKeys(t, l, m, 40, 3, 0)
	l.cleaner.abort.Add(1)
	if _, err := l.Compact(noBound); !errors.Is(err, ErrCompactAborted) {
		t.Fatalf("compact with an abort pending: %v", err)
	}
	l.cleaner.abort.Add(-1)
	checkDirFiles(t, l)
	if got := readLog(t, l); len(got) != 40 {
		t.Fatalf("%d records after an aborted pass", len(got))
	}
	for _, cc := range []CompactConfig{{DeleteRetentionMs: -1}, {MinCompactionLagMs: -1}, {MaxOffset: -1}, {MaxKeys: -1}} {
		if _, err := l.Compact(cc); err == nil {
			t.Fatalf("config %+v accepted", cc)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Compact(noBound); !errors.Is(err, ErrClosed) {
		t.Fatalf("compact after close: %v", err)
	}
}

func TestCompactConcurrentWithAppendsAndReads(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 1024, IndexIntervalBytes: 128})
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 0))
	var (
		mu   sync.Mutex
		m    = model{}
		wg   sync.WaitGroup
		errs = make(chan error, 8)
		// The appender paces the others: each tick lets a reader read and
		// the cleaner run once, so that nobody spins.
		readTick  = make(chan struct{}, 2)
		cleanTick = make(chan struct{}, 1)
		cleaned   int // segments cleaned by the cleaner goroutine
	)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	wg.Add(1)
	go func() { // the appender
		defer wg.Done()
		defer close(readTick)
		defer close(cleanTick)
		for i := 0; i < 800; i++ {
			r := rec(fmt.Sprintf("k%d", rng.IntN(30)), fmt.Sprintf("v%d", i))
			if i%50 == 49 {
				r = kv{key: r.key}
			}
			codec := record.CodecNone
			if i%10 == 0 {
				codec = record.CodecZstd
			}
			batch, h, err := encodeSpec(batchSpec{codec: codec, recs: []kv{r}})
			if err != nil {
				report(err)
				return
			}
			base, err := l.Append(batch, &h, 0)
			if err != nil {
				report(err)
				return
			}
			mu.Lock()
			m.add(base, []kv{r})
			mu.Unlock()
			if i%100 == 0 {
				if _, err := l.Sync(); err != nil {
					report(err)
					return
				}
			}
			select {
			case readTick <- struct{}{}:
			default:
			}
			if i%10 == 0 {
				select {
				case cleanTick <- struct{}{}:
				default:
				}
			}
		}
	}()
	for range 2 { // readers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range readTick {
				leo := l.LogEndOffset()
				from := l.LogStartOffset() + rand.Int64N(leo-l.LogStartOffset()+1)
				b, err := l.Read(from, math.MaxInt64, 4096, true)
				if err != nil {
					report(fmt.Errorf("read %d: %w", from, err))
					return
				}
				next := int64(-1)
				for p := 0; p < len(b); {
					h, err := record.ParseHeader(b[p:])
					if err != nil || p+h.Size() > len(b) || record.CheckCRC(b[p:p+h.Size()]) != nil || h.BaseOffset < next {
						report(fmt.Errorf("read %d: bad batch at byte %d", from, p))
						return
					}
					next = h.NextOffset()
					p += h.Size()
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // the cleaner
		defer wg.Done()
		for range cleanTick {
			st, err := l.Compact(CompactConfig{MaxOffset: math.MaxInt64})
			if err != nil {
				report(err)
				return
			}
			cleaned += st.SegmentsCleaned
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if cleaned == 0 {
		t.Fatal("no segment cleaned while appending")
	}
	compact(t, l, CompactConfig{MaxOffset: math.MaxInt64})
	got := readLog(t, l)
	m.checkAgainst(t, got)
	// Every key's latest record is there (tombstones with zero retention may be gone).
	for key, off := range m.latest(math.MaxInt64) {
		if m[off].value != nil && !slices.ContainsFunc(got, func(s stored) bool { return s.Offset == off }) {
			t.Fatalf("seed %d: latest record of %s at %d lost", seed, key, off)
		}
	}
	keysOnce(t, got, m.latest(activeBase(l)), activeBase(l))
	checkDirFiles(t, l)
}

// TestRewriteBatchRoundTrip checks the batch rewriting directly: kept
// records, delete horizon, empty headers.
func TestRewriteBatchRoundTrip(t *testing.T) {
	recs := []kv{rec("a", "1"), tombstone("b"), {value: []byte("nokey")}, rec("c", "3")}
	batch, h := buildSpec(t, batchSpec{codec: record.CodecGzip, ts: 5000, producerID: 4, baseSequence: 9, recs: recs})
	record.SetBaseOffset(batch, 100)
	h.BaseOffset = 100
	section, err := record.Decompress(h.Codec(), batch[record.HeaderSize:])
	if err != nil {
		t.Fatal(err)
	}
	raw, err := parseRecords(&h, section, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 4 || !raw[1].tombstone || raw[2].hasKey || raw[3].offset != 103 || raw[3].timestamp != 5003 {
		t.Fatalf("parsed %+v", raw)
	}
	plan := batchPlan{kept: []rawRecord{raw[1], raw[3]}, horizon: 99999}
	out, err := appendRewritten(nil, batch, &h, &plan)
	if err != nil {
		t.Fatal(err)
	}
	nh, err := record.Validate(out, 0)
	if err == nil || !errors.Is(err, record.ErrInvalidRecord) { // record count 2 != last offset delta 3
		t.Fatalf("validate rewritten: %v", err)
	}
	if err := record.CheckCRC(out); err != nil {
		t.Fatal(err)
	}
	if nh.BaseOffset != 100 || nh.LastOffsetDelta != 3 || nh.RecordCount != 2 || nh.BaseTimestamp != 99999 ||
		nh.Attributes&record.AttrDeleteHorizon == 0 || nh.Codec() != record.CodecGzip || nh.MaxTimestamp != 5003 ||
		nh.ProducerID != 4 || nh.BaseSequence != 9 || nh.PartitionLeaderEpoch != h.PartitionLeaderEpoch {
		t.Fatalf("rewritten header %+v", nh)
	}
	got, err := record.Records(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Offset != 101 || got[0].Timestamp != 5001 || got[0].Value != nil ||
		got[1].Offset != 103 || got[1].Timestamp != 5003 || string(got[1].Value) != "3" {
		t.Fatalf("rewritten records %+v", got)
	}
	empty := appendEmptyHeader(nil, batch, &h)
	eh, err := record.ParseHeader(empty)
	if err != nil || record.CheckCRC(empty) != nil || len(empty) != record.HeaderSize {
		t.Fatalf("empty header: %v", err)
	}
	if eh.RecordCount != 0 || eh.LastOffsetDelta != 3 || eh.Codec() != record.CodecNone || eh.BaseTimestamp != h.MaxTimestamp || eh.BaseSequence != 9 {
		t.Fatalf("empty header %+v", eh)
	}
	if r, err := record.Records(empty); err != nil || len(r) != 0 {
		t.Fatalf("records of empty header: %v %v", r, err)
	}
	// Corrupt sections are errors, not panics.
	for cut := 0; cut < len(section); cut++ {
		if _, err := parseRecords(&h, section[:cut], nil); err == nil {
			t.Fatalf("section cut at %d parsed", cut)
		}
	}
	bad := slices.Clone(section)
	binary.PutVarint(bad, 100) // the first record claims 100 bytes
	if _, err := parseRecords(&h, bad, nil); !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("bad length: %v", err)
	}
}
