package commitlog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/record"
)

func TestAppendReadRoundTrip(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{IndexIntervalBytes: 100})
	var want []byte
	var next int64
	for n := 1; n <= 20; n++ {
		tss := make([]int64, n%5+1)
		for i := range tss {
			tss[i] = int64(1000 + n)
		}
		base, b := appendRecords(t, l, tss...)
		if base != next {
			t.Fatalf("batch %d: base %d, want %d", n, base, next)
		}
		h, err := record.ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if h.BaseOffset != base || h.PartitionLeaderEpoch != 7 {
			t.Fatalf("batch not patched: base %d epoch %d", h.BaseOffset, h.PartitionLeaderEpoch)
		}
		next += int64(len(tss))
		want = append(want, b...)
	}
	if got := l.LogEndOffset(); got != next {
		t.Fatalf("LEO %d, want %d", got, next)
	}
	if got := l.Size(); got != int64(len(want)) {
		t.Fatalf("size %d, want %d", got, len(want))
	}
	got := mustRead(t, l, 0, next, 1<<20, false)
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want %d identical bytes", len(got), len(want))
	}
	if offs := recordOffsets(t, got); !slices.Equal(offs, seq(0, next)) {
		t.Fatalf("record offsets %v", offs)
	}
}

// readFixture is 10 batches of 3 records (offsets 0-29) over several
// segments, with an index entry for nearly every batch.
func readFixture(t *testing.T) (*Log, int) {
	t.Helper()
	batch, _ := makeBatch(t, 1, 2, 3)
	size := len(batch)
	l := openLog(t, t.TempDir(), Config{SegmentBytes: int64(4 * size), IndexIntervalBytes: 1})
	appendN(t, l, 10, 3, 100)
	if got := segmentFiles(t, l.Dir()); !slices.Equal(got, []int64{0, 12, 24}) {
		t.Fatalf("segments %v", got)
	}
	return l, size
}

func TestReadSemantics(t *testing.T) {
	l, size := readFixture(t)
	tests := []struct {
		name      string
		offset    int64
		maxOffset int64
		maxBytes  int
		minOne    bool
		want      []int64 // batch bases; nil for an empty result
		wantErr   error
	}{
		{name: "all", offset: 0, maxOffset: 30, maxBytes: 1 << 20, want: []int64{0, 3, 6, 9, 12, 15, 18, 21, 24, 27}},
		{name: "mid batch starts at its base", offset: 4, maxOffset: 30, maxBytes: 2 * size, want: []int64{3, 6}},
		{name: "last offset of batch", offset: 5, maxOffset: 30, maxBytes: size, want: []int64{3}},
		{name: "max offset exclusive at boundary", offset: 0, maxOffset: 9, maxBytes: 1 << 20, want: []int64{0, 3, 6}},
		{name: "max offset inside batch excludes it", offset: 0, maxOffset: 8, maxBytes: 1 << 20, want: []int64{0, 3}},
		{name: "max bytes whole batches only", offset: 0, maxOffset: 30, maxBytes: 2*size + size/2, want: []int64{0, 3}},
		{name: "max bytes below one batch", offset: 0, maxOffset: 30, maxBytes: size - 1, want: nil},
		{name: "min one batch", offset: 0, maxOffset: 30, maxBytes: size - 1, minOne: true, want: []int64{0}},
		{name: "min one batch zero bytes", offset: 13, maxOffset: 30, maxBytes: 0, minOne: true, want: []int64{12}},
		{name: "min one batch respects max offset", offset: 0, maxOffset: 2, maxBytes: 10, minOne: true, want: nil},
		{name: "cross segment", offset: 9, maxOffset: 30, maxBytes: 3 * size, want: []int64{9, 12, 15}},
		{name: "cross two segments", offset: 10, maxOffset: 27, maxBytes: 1 << 20, want: []int64{9, 12, 15, 18, 21, 24}},
		{name: "segment start", offset: 24, maxOffset: 30, maxBytes: 1 << 20, want: []int64{24, 27}},
		{name: "last batch", offset: 29, maxOffset: 30, maxBytes: 1 << 20, want: []int64{27}},
		{name: "at LEO", offset: 30, maxOffset: 30, maxBytes: 1 << 20, want: nil},
		{name: "at max offset", offset: 12, maxOffset: 12, maxBytes: 1 << 20, want: nil},
		{name: "beyond LEO", offset: 31, maxOffset: 40, maxBytes: 1 << 20, wantErr: ErrOffsetOutOfRange},
		{name: "negative", offset: -1, maxOffset: 30, maxBytes: 1 << 20, wantErr: ErrOffsetOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Read(tt.offset, tt.maxOffset, tt.maxBytes, tt.minOne)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if tt.want == nil {
				if got != nil {
					t.Fatalf("got %d bytes %v, want nil", len(got), batchBases(t, got))
				}
				return
			}
			if bases := batchBases(t, got); !slices.Equal(bases, tt.want) {
				t.Fatalf("batches %v, want %v", bases, tt.want)
			}
			if len(got) > tt.maxBytes && !(tt.minOne && len(got) == size) {
				t.Fatalf("%d bytes over max %d", len(got), tt.maxBytes)
			}
		})
	}
}

func TestReadLargeFirstBatch(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	tss := make([]int64, 500)
	_, big := appendRecords(t, l, tss...)
	appendRecords(t, l, 1)
	got := mustRead(t, l, 0, l.LogEndOffset(), 100, true)
	if !bytes.Equal(got, big) {
		t.Fatalf("got %d bytes, want the whole first batch of %d", len(got), len(big))
	}
	got = mustRead(t, l, 0, l.LogEndOffset(), len(big)+10, true)
	if !bytes.Equal(got, big) {
		t.Fatalf("got %d bytes, want the first batch only", len(got))
	}
}

func TestRollBySegmentBytes(t *testing.T) {
	batch, _ := makeBatch(t, 1, 2)
	size := int64(len(batch))
	dir := t.TempDir()
	l := openLog(t, dir, Config{SegmentBytes: 3*size + 1})
	appendN(t, l, 7, 2, 100) // 3 + 3 + 1 batches
	if got, want := segmentFiles(t, dir), []int64{0, 6, 12}; !slices.Equal(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	for _, base := range []int64{0, 6} {
		st, err := os.Stat(filepath.Join(dir, segmentName(base)+logSuffix))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != 3*size {
			t.Fatalf("segment %d has %d bytes, want %d", base, st.Size(), 3*size)
		}
	}
	// A batch larger than segment.bytes still goes in, alone.
	l.SetConfig(Config{SegmentBytes: 10})
	appendN(t, l, 2, 2, 100)
	if got, want := segmentFiles(t, dir), []int64{0, 6, 12, 14, 16}; !slices.Equal(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	if offs := recordOffsets(t, mustRead(t, l, 0, 18, 1<<20, false)); !slices.Equal(offs, seq(0, 18)) {
		t.Fatalf("offsets %v", offs)
	}
}

func TestRollBySegmentMs(t *testing.T) {
	clock := newFakeClock()
	dir := t.TempDir()
	l := openLog(t, dir, Config{SegmentMs: 1000, Now: clock.Now})
	appendRecords(t, l, clock.Ms())
	clock.Advance(999 * time.Millisecond)
	appendRecords(t, l, clock.Ms())
	if got := segmentFiles(t, dir); !slices.Equal(got, []int64{0}) {
		t.Fatalf("rolled too early: %v", got)
	}
	clock.Advance(2 * time.Millisecond)
	appendRecords(t, l, clock.Ms())
	if got := segmentFiles(t, dir); !slices.Equal(got, []int64{0, 2}) {
		t.Fatalf("segments %v, want [0 2]", got)
	}
	// Old record timestamps do not roll on every append: age counts from
	// the segment's creation at the latest.
	appendRecords(t, l, clock.Ms()-1_000_000)
	appendRecords(t, l, clock.Ms()-1_000_000)
	if got := segmentFiles(t, dir); !slices.Equal(got, []int64{0, 2}) {
		t.Fatalf("segments %v, want [0 2]", got)
	}
	clock.Advance(1001 * time.Millisecond)
	appendRecords(t, l, clock.Ms())
	if got := segmentFiles(t, dir); !slices.Equal(got, []int64{0, 2, 5}) {
		t.Fatalf("segments %v, want [0 2 5]", got)
	}
}

func TestRetentionBytes(t *testing.T) {
	batch, _ := makeBatch(t, 1)
	size := int64(len(batch))
	dir := t.TempDir()
	l := openLog(t, dir, Config{SegmentBytes: 2 * size, RetentionMs: -1})
	appendN(t, l, 9, 1, 100) // segments 0,2,4,6 full, 8 active
	if n, err := l.EnforceRetention(); err != nil || n != 0 {
		t.Fatalf("unlimited retention deleted %d: %v", n, err)
	}
	l.SetConfig(Config{SegmentBytes: 2 * size, RetentionMs: -1, RetentionBytes: 4 * size})
	n, err := l.EnforceRetention()
	if err != nil {
		t.Fatal(err)
	}
	// 9 batches: without segment 0 the log keeps 7 >= 4, without 2 then 5
	// >= 4, without 4 it would keep 3 < 4.
	if n != 2 {
		t.Fatalf("deleted %d segments, want 2", n)
	}
	if got := segmentFiles(t, dir); !slices.Equal(got, []int64{4, 6, 8}) {
		t.Fatalf("segments %v", got)
	}
	if l.LogStartOffset() != 4 || l.Size() != 5*size {
		t.Fatalf("start %d size %d", l.LogStartOffset(), l.Size())
	}
	if _, err := l.Read(3, 9, 1<<20, false); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	if bases := batchBases(t, mustRead(t, l, 4, 9, 1<<20, false)); !slices.Equal(bases, seq(4, 9)) {
		t.Fatalf("batches %v", bases)
	}
	// The active segment is never deleted.
	l.SetConfig(Config{SegmentBytes: 2 * size, RetentionMs: -1, RetentionBytes: -1})
	l.SetConfig(Config{SegmentBytes: 2 * size, RetentionMs: 1, RetentionBytes: 1})
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if got := segmentFiles(t, dir); !slices.Equal(got, []int64{8}) {
		t.Fatalf("segments %v", got)
	}
	// The log start offset survives a restart.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, dir, Config{})
	if l2.LogStartOffset() != 8 || l2.LogEndOffset() != 9 {
		t.Fatalf("after reopen: start %d end %d", l2.LogStartOffset(), l2.LogEndOffset())
	}
}

func TestRetentionMs(t *testing.T) {
	clock := newFakeClock()
	batch, _ := makeBatch(t, 1)
	size := int64(len(batch))
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 2 * size, RetentionMs: 10_000, Now: clock.Now}
	l := openLog(t, dir, cfg)
	start := clock.Ms()
	for i := 0; i < 8; i++ { // segments 0,2,4 full; 6 active
		appendRecords(t, l, start+int64(i)*1000)
	}
	clock.Advance(12 * time.Second) // segment 0 (max start+1000) is 11s old, segment 2 9s
	n, err := l.EnforceRetention()
	if err != nil || n != 1 {
		t.Fatalf("deleted %d: %v", n, err)
	}
	if l.LogStartOffset() != 2 {
		t.Fatalf("start %d", l.LogStartOffset())
	}
	clock.Advance(time.Hour)
	if n, err := l.EnforceRetention(); err != nil || n != 2 {
		t.Fatalf("deleted %d: %v", n, err)
	}
	if got := segmentFiles(t, dir); !slices.Equal(got, []int64{6}) {
		t.Fatalf("segments %v", got)
	}
	if _, err := l.Read(5, 8, 1<<20, false); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	for _, name := range []string{"00000000000000000000.index", "00000000000000000000.timeindex"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s still there: %v", name, err)
		}
	}
	appendRecords(t, l, clock.Ms())
	if l.LogEndOffset() != 9 {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
}

func TestReopenAfterClose(t *testing.T) {
	batch, _ := makeBatch(t, 1, 2, 3)
	dir := t.TempDir()
	cfg := Config{SegmentBytes: int64(5 * len(batch)), IndexIntervalBytes: 200}
	l := openLog(t, dir, cfg)
	appendN(t, l, 12, 3, 500)
	appendRecords(t, l, 900, 800, 950)
	want := mustRead(t, l, 0, l.LogEndOffset(), 1<<20, false)
	leo, size := l.LogEndOffset(), l.Size()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := l.Read(0, 1, 100, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); err != nil {
		t.Fatalf("marker: %v", err)
	}
	l2 := openLog(t, dir, cfg)
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("marker not removed at open: %v", err)
	}
	if l2.LogEndOffset() != leo || l2.Size() != size || l2.LogStartOffset() != 0 {
		t.Fatalf("reopened: LEO %d size %d start %d", l2.LogEndOffset(), l2.Size(), l2.LogStartOffset())
	}
	if got := mustRead(t, l2, 0, leo, 1<<20, false); !bytes.Equal(got, want) {
		t.Fatal("data differs after reopen")
	}
	if off, ts, ok, err := l2.MaxTimestamp(leo); err != nil || !ok || off != 38 || ts != 950 {
		t.Fatalf("max timestamp after reopen: %d %d %v %v", off, ts, ok, err)
	}
	base, _ := appendRecords(t, l2, 1)
	if base != leo {
		t.Fatalf("append after reopen at %d, want %d", base, leo)
	}
}

func TestReopenKeepsIndexesIdentical(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{IndexIntervalBytes: 150}
	l := openLog(t, dir, cfg)
	for i := 0; i < 50; i++ {
		appendRecords(t, l, int64(i*10), int64(i*10+5))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	readFile := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	idx, tidx := readFile("00000000000000000000.index"), readFile("00000000000000000000.timeindex")
	if len(idx) == 0 || len(idx)%8 != 0 || len(tidx) == 0 || len(tidx)%12 != 0 {
		t.Fatalf("index %d bytes, time index %d bytes", len(idx), len(tidx))
	}
	// Recovery from scratch rebuilds the same entries.
	removeMarker(t, dir)
	l2 := openLog(t, dir, cfg)
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(idx, readFile("00000000000000000000.index")) || !bytes.Equal(tidx, readFile("00000000000000000000.timeindex")) {
		t.Fatal("rebuilt indexes differ")
	}
}

func TestOpenEmptyAndErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topic-0")
	l := openLog(t, dir, Config{})
	if l.LogStartOffset() != 0 || l.LogEndOffset() != 0 || l.Size() != 0 || l.Dir() != dir {
		t.Fatalf("empty log: start %d end %d size %d", l.LogStartOffset(), l.LogEndOffset(), l.Size())
	}
	if got, err := l.Read(0, 0, 100, true); got != nil || err != nil {
		t.Fatalf("read empty: %v %v", got, err)
	}
	if _, _, ok, err := l.MaxTimestamp(10); ok || err != nil {
		t.Fatalf("max timestamp of empty log: %v %v", ok, err)
	}
	if _, _, ok, err := l.OffsetForTimestamp(0, 10); ok || err != nil {
		t.Fatalf("offset for timestamp of empty log: %v %v", ok, err)
	}
	if _, err := Open(t.TempDir(), Config{SegmentBytes: -5}, nil); err == nil {
		t.Fatal("negative segment bytes accepted")
	}
	batch, h := makeBatch(t, 1)
	if _, err := l.Append(batch[:len(batch)-1], &h, 0); !isCorrupt(err) {
		t.Fatalf("short batch: %v", err)
	}
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dir after delete: %v", err)
	}
	if _, err := l.Append(batch, &h, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after delete: %v", err)
	}
	if _, err := l.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("sync after delete: %v", err)
	}
}

func TestSync(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	appendN(t, l, 3, 2, 1)
	synced, err := l.Sync()
	if err != nil || synced != 6 {
		t.Fatalf("sync: %d %v", synced, err)
	}
}

func TestAppendAsFollower(t *testing.T) {
	leader := openLog(t, t.TempDir(), Config{})
	appendN(t, leader, 6, 2, 10)
	data := mustRead(t, leader, 0, 12, 1<<20, false)

	batch, _ := makeBatch(t, 1, 2)
	size := int64(len(batch))
	dir := t.TempDir()
	f := openLog(t, dir, Config{SegmentBytes: 4 * size, IndexIntervalBytes: 1})
	// Errors append nothing.
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 0xff
	if _, err := f.AppendAsFollower(bad); !isCorrupt(err) {
		t.Fatalf("bad crc: %v", err)
	}
	if _, err := f.AppendAsFollower(data[:len(data)-3]); !isCorrupt(err) {
		t.Fatalf("partial batch: %v", err)
	}
	if f.LogEndOffset() != 0 || f.Size() != 0 {
		t.Fatalf("failed appends left LEO %d size %d", f.LogEndOffset(), f.Size())
	}
	last, err := f.AppendAsFollower(data)
	if err != nil || last != 11 {
		t.Fatalf("append: %d %v", last, err)
	}
	if _, err := f.AppendAsFollower(data); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("batches below the log end: %v", err)
	}
	// A compacted leader's log has gaps: a follower accepts a first batch
	// past its log end and continues from there.
	g := openLog(t, t.TempDir(), Config{})
	if last, err := g.AppendAsFollower(data[len(batch):]); err != nil || last != 11 || g.LogEndOffset() != 12 {
		t.Fatalf("append across a gap: last %d, LEO %d, %v", last, g.LogEndOffset(), err)
	}
	if got := segmentFiles(t, dir); !slices.Equal(got, []int64{0, 8}) {
		t.Fatalf("segments %v", got)
	}
	if got := mustRead(t, f, 0, 12, 1<<20, false); !bytes.Equal(got, data) {
		t.Fatal("follower data differs")
	}
	// Leader epochs are kept as sent.
	h, _ := record.ParseHeader(data)
	if h.PartitionLeaderEpoch != 7 {
		t.Fatalf("epoch %d", h.PartitionLeaderEpoch)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	removeMarker(t, dir)
	f2 := openLog(t, dir, Config{})
	if f2.LogEndOffset() != 12 {
		t.Fatalf("LEO after recovery %d", f2.LogEndOffset())
	}
}

func TestScanBatches(t *testing.T) {
	l, _ := readFixture(t)
	var bases []int64
	err := l.ScanBatches(14, func(h record.Header) error {
		bases = append(bases, h.BaseOffset)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bases, []int64{12, 15, 18, 21, 24, 27}) {
		t.Fatalf("bases %v", bases)
	}
	stop := errors.New("stop")
	n := 0
	if err := l.ScanBatches(0, func(record.Header) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("stop: %v after %d", err, n)
	}
}
