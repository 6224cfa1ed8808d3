package commitlog

import (
	"errors"
	"slices"
	"testing"
)

// DeleteRecords moves the start inside a segment: reads below it fail,
// reads at it return the batch that holds it, timestamps below it are not
// found, retention deletes the segments that end before it (whatever the
// retention settings) and the start survives a clean and an unclean
// restart.
func TestIncrementLogStartOffset(t *testing.T) {
	batch, _ := makeBatch(t, 1, 2)
	size := int64(len(batch))
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 2 * size, RetentionMs: -1, RetentionBytes: -1}
	l := openLog(t, dir, cfg)
	for i := range 5 { // batches of 2 records: segments 0, 4, 8(active)
		appendRecords(t, l, int64(100+10*i), int64(105+10*i))
	}
	if got := segmentFiles(t, dir); !slices.Equal(got, []int64{0, 4, 8}) {
		t.Fatalf("segments %v", got)
	}
	if moved, err := l.IncrementLogStartOffset(11); !errors.Is(err, ErrOffsetOutOfRange) || moved {
		t.Fatalf("past the end: moved %v, %v", moved, err)
	}
	if moved, err := l.IncrementLogStartOffset(5); err != nil || !moved {
		t.Fatalf("increment to 5: moved %v, %v", moved, err)
	}
	if moved, err := l.IncrementLogStartOffset(3); err != nil || moved || l.LogStartOffset() != 5 {
		t.Fatalf("a smaller offset must not move the start back: moved %v start %d %v", moved, l.LogStartOffset(), err)
	}
	if _, err := l.Read(4, 10, 1<<20, false); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the start: %v", err)
	}
	if _, _, err := l.ReadRegions(0, 10, 1<<20, false); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("regions below the start: %v", err)
	}
	// The batch holding offset 5 starts at 4, as in Kafka.
	if bases := batchBases(t, mustRead(t, l, 5, 10, 1<<20, false)); !slices.Equal(bases, []int64{4, 6, 8}) {
		t.Fatalf("batches from 5: %v", bases)
	}
	// Offset 4 has timestamp 120, offset 5 125: a lookup for 120 skips 4.
	if off, ts, found, err := l.OffsetForTimestamp(120, 10); err != nil || !found || off != 5 || ts != 125 {
		t.Fatalf("timestamp lookup: %d %d %v %v", off, ts, found, err)
	}
	// Segment 0 ends at 4 <= 5: retention deletes it; segment 4 holds 5.
	if n, err := l.EnforceRetention(); err != nil || n != 1 {
		t.Fatalf("retention deleted %d: %v", n, err)
	}
	if got := segmentFiles(t, dir); !slices.Equal(got, []int64{4, 8}) {
		t.Fatalf("segments after retention %v", got)
	}
	if l.LogStartOffset() != 5 {
		t.Fatalf("retention moved the start to %d", l.LogStartOffset())
	}

	// Clean restart.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg)
	if l.LogStartOffset() != 5 || l.LogEndOffset() != 10 {
		t.Fatalf("after reopen: start %d end %d", l.LogStartOffset(), l.LogEndOffset())
	}
	// Up to the log end: the active segment stays, the others go.
	if _, err := l.IncrementLogStartOffset(10); err != nil {
		t.Fatal(err)
	}
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if got := segmentFiles(t, dir); !slices.Equal(got, []int64{8}) {
		t.Fatalf("segments %v", got)
	}
	if data, err := l.Read(10, 10, 1<<20, false); err != nil || data != nil {
		t.Fatalf("read at the end: %d bytes, %v", len(data), err)
	}
	// Unclean restart: no Close, the persisted start is still read.
	l2, err := Open(dir, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.LogStartOffset() != 10 {
		t.Fatalf("after an unclean reopen: start %d", l2.LogStartOffset())
	}
}
