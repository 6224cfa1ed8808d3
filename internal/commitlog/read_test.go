package commitlog

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/arus-io/arus/internal/record"
)

// timestampFixture appends batches whose records have out-of-order
// timestamps, over several segments, and returns the log with the
// timestamp of every offset.
func timestampFixture(t *testing.T, cfg Config) (*Log, []int64) {
	t.Helper()
	batches := [][]int64{
		{100, 90, 110},      // 0-2
		{105, 130, 120},     // 3-5
		{-1, -1},            // 6-7: no timestamps
		{125, 130, 140, 90}, // 8-11
		{200},               // 12
		{150, 200, 199},     // 13-15
		{50, 60},            // 16-17
	}
	l := openLog(t, t.TempDir(), cfg)
	var all []int64
	for _, tss := range batches {
		appendRecords(t, l, tss...)
		all = append(all, tss...)
	}
	return l, all
}

// naive answers both lookups by brute force over the record list.
func naiveOffsetForTimestamp(all []int64, bounds []int64, ts, maxOffset int64) (int64, int64, bool) {
	limit := lastBatchEnd(bounds, maxOffset)
	for off := int64(0); off < limit; off++ {
		if all[off] >= ts {
			return off, all[off], true
		}
	}
	return 0, 0, false
}

func naiveMaxTimestamp(all []int64, bounds []int64, maxOffset int64) (int64, int64, bool) {
	limit := lastBatchEnd(bounds, maxOffset)
	best := int64(-1)
	for off := int64(0); off < limit; off++ {
		if all[off] > record.NoTimestamp && (best < 0 || all[off] > all[best]) {
			best = off
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	return best, all[best], true
}

// lastBatchEnd is the end of the last whole batch below maxOffset.
func lastBatchEnd(bounds []int64, maxOffset int64) int64 {
	end := int64(0)
	for _, b := range bounds {
		if b <= maxOffset {
			end = b
		}
	}
	return end
}

func TestTimestampLookups(t *testing.T) {
	bounds := []int64{3, 6, 8, 12, 13, 16, 18} // batch ends
	batch, _ := makeBatch(t, 1, 2, 3)
	configs := map[string]Config{
		"one segment, sparse index": {IndexIntervalBytes: 4096},
		"dense index":               {IndexIntervalBytes: 1},
		"many segments":             {IndexIntervalBytes: 1, SegmentBytes: int64(2 * len(batch))},
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			l, all := timestampFixture(t, cfg)
			check := func(t *testing.T, l *Log) {
				for _, maxOffset := range []int64{0, 3, 5, 8, 12, 13, 16, 18, 100} {
					for _, ts := range []int64{-1, 0, 90, 95, 100, 106, 120, 125, 130, 131, 140, 141, 150, 199, 200, 201} {
						off, got, ok, err := l.OffsetForTimestamp(ts, maxOffset)
						if err != nil {
							t.Fatal(err)
						}
						wOff, wTS, wOK := naiveOffsetForTimestamp(all, bounds, ts, maxOffset)
						if ok != wOK || (ok && (off != wOff || got != wTS)) {
							t.Errorf("OffsetForTimestamp(%d, %d) = %d %d %v, want %d %d %v", ts, maxOffset, off, got, ok, wOff, wTS, wOK)
						}
					}
					off, ts, ok, err := l.MaxTimestamp(maxOffset)
					if err != nil {
						t.Fatal(err)
					}
					wOff, wTS, wOK := naiveMaxTimestamp(all, bounds, maxOffset)
					if ok != wOK || (ok && (off != wOff || ts != wTS)) {
						t.Errorf("MaxTimestamp(%d) = %d %d %v, want %d %d %v", maxOffset, off, ts, ok, wOff, wTS, wOK)
					}
				}
			}
			check(t, l)
			// The same after a clean reopen (indexes from files) and
			// after recovery (indexes rebuilt).
			dir := l.Dir()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2 := openLog(t, dir, cfg)
			check(t, l2)
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}
			removeMarker(t, dir)
			check(t, openLog(t, dir, cfg))
		})
	}
}

func TestTruncateTo(t *testing.T) {
	tests := []struct {
		offset   int64
		wantErr  error
		segments []int64
	}{
		{offset: 30, segments: []int64{0, 12, 24}},
		{offset: 27, segments: []int64{0, 12, 24}},
		{offset: 24, segments: []int64{0, 12, 24}},
		{offset: 21, segments: []int64{0, 12}},
		{offset: 12, segments: []int64{0, 12}},
		{offset: 3, segments: []int64{0}},
		{offset: 0, segments: []int64{0}},
		{offset: 13, wantErr: ErrNotBatchBoundary},
		{offset: 31, wantErr: ErrOffsetOutOfRange},
		{offset: -1, wantErr: ErrOffsetOutOfRange},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.offset), func(t *testing.T) {
			l, _ := readFixture(t)
			err := l.TruncateTo(tt.offset)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if l.LogEndOffset() != 30 {
					t.Fatalf("failed truncation changed LEO to %d", l.LogEndOffset())
				}
				return
			}
			check := func(l *Log, leo int64) {
				t.Helper()
				if l.LogEndOffset() != leo {
					t.Fatalf("LEO %d, want %d", l.LogEndOffset(), leo)
				}
				if got := segmentFiles(t, l.Dir()); leo == tt.offset && !slices.Equal(got, tt.segments) {
					t.Fatalf("segments %v, want %v", got, tt.segments)
				}
				if offs := recordOffsets(t, mustRead(t, l, 0, leo, 1<<20, false)); !slices.Equal(offs, seq(0, leo)) {
					t.Fatalf("offsets %v", offs)
				}
				if _, err := l.Read(leo+1, 100, 100, true); !errors.Is(err, ErrOffsetOutOfRange) {
					t.Fatalf("read beyond LEO: %v", err)
				}
			}
			check(l, tt.offset)
			// Appends continue at the truncation point and index lookups
			// still work.
			appendN(t, l, 2, 3, 500)
			check(l, tt.offset+6)
			if off, _, ok, err := l.OffsetForTimestamp(500, 1000); err != nil || !ok || off != tt.offset {
				t.Fatalf("offset for timestamp: %d %v %v", off, ok, err)
			}
			if off, ts, ok, err := l.MaxTimestamp(1000); err != nil || !ok || off != tt.offset || ts != 500 {
				t.Fatalf("max timestamp: %d %d %v %v", off, ts, ok, err)
			}
			dir := l.Dir()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			check(openLog(t, dir, Config{}), tt.offset+6)
		})
	}
}

// TestConcurrentUse runs appends against readers, syncs and retention; the
// race detector checks the locking, and every read must return whole valid
// batches with consecutive offsets.
func TestConcurrentUse(t *testing.T) {
	batch, _ := makeBatch(t, 1, 2)
	cfg := Config{SegmentBytes: int64(8 * len(batch)), RetentionMs: -1, RetentionBytes: int64(40 * len(batch)), IndexIntervalBytes: 200}
	l := openLog(t, t.TempDir(), cfg)
	const batches = 400
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	run := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := fn(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for r := 0; r < 2; r++ {
		run(func() error {
			start, end := l.LogStartOffset(), l.LogEndOffset()
			from := start + (end-start)/2
			data, err := l.Read(from, end, 4*len(batch), true)
			if errors.Is(err, ErrOffsetOutOfRange) {
				return nil // retention moved the start meanwhile
			}
			if err != nil {
				return err
			}
			var prev int64 = -1
			for p := 0; p < len(data); {
				h, err := record.ParseHeader(data[p:])
				if err != nil {
					return err
				}
				if err := record.CheckCRC(data[p : p+h.Size()]); err != nil {
					return err
				}
				if prev >= 0 && h.BaseOffset != prev {
					return fmt.Errorf("batch at %d after %d", h.BaseOffset, prev)
				}
				prev = h.NextOffset()
				p += h.Size()
			}
			return nil
		})
	}
	run(func() error { _, err := l.Sync(); return err })
	run(func() error { _, err := l.EnforceRetention(); return err })
	run(func() error { _, _, _, err := l.MaxTimestamp(l.LogEndOffset()); return err })
	run(func() error { _, _, _, err := l.OffsetForTimestamp(50, l.LogEndOffset()); return err })
	for i := 0; i < batches; i++ {
		appendRecords(t, l, int64(i), int64(i)+1)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if l.LogEndOffset() != 2*batches {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
	if _, err := l.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	if l.Size() > int64(48*len(batch)) {
		t.Fatalf("size %d after retention", l.Size())
	}
}

// TestConcurrentTruncate checks that readers racing with TruncateTo and
// later appends never see mixed bytes.
func TestConcurrentTruncate(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{IndexIntervalBytes: 100})
	appendN(t, l, 50, 2, 1)
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for {
			select {
			case <-done:
				return
			default:
			}
			data, err := l.Read(0, l.LogEndOffset(), 1<<20, false)
			if err != nil {
				errc <- err
				return
			}
			for p := 0; p < len(data); {
				h, err := record.ParseHeader(data[p:])
				if err == nil {
					err = record.CheckCRC(data[p : p+h.Size()])
				}
				if err != nil {
					errc <- err
					return
				}
				p += h.Size()
			}
		}
	}()
	for i := 0; i < 30; i++ {
		if err := l.TruncateTo(20); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 20; j++ {
			appendRecords(t, l, int64(j), int64(j), int64(j)) // different sizes than before
		}
		if err := l.TruncateTo(20); err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 40, 2, 1)
	}
	close(done)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
