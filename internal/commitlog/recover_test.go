package commitlog

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/arus-io/arus/internal/record"
)

func TestCrashRecovery(t *testing.T) {
	extra, _ := makeBatch(t, 1, 2, 3)
	tests := []struct {
		name    string
		corrupt func(t *testing.T, path string) // damages the tail of the last .log
		dropped int                             // batches of 3 records lost at the tail
	}{
		{name: "no damage", corrupt: func(*testing.T, string) {}},
		{name: "garbage", corrupt: func(t *testing.T, p string) {
			appendToFile(t, p, []byte("garbage that is no batch at all, really not"))
		}},
		{name: "few bytes", corrupt: func(t *testing.T, p string) { appendToFile(t, p, []byte{0, 0, 0}) }},
		{name: "zeros", corrupt: func(t *testing.T, p string) { appendToFile(t, p, make([]byte, 4096)) }},
		{name: "half batch", corrupt: func(t *testing.T, p string) {
			b := bytes.Clone(extra)
			record.SetBaseOffset(b, 24)
			appendToFile(t, p, b[:len(b)/2])
		}},
		{name: "half header", corrupt: func(t *testing.T, p string) {
			b := bytes.Clone(extra)
			record.SetBaseOffset(b, 24)
			appendToFile(t, p, b[:30])
		}},
		{name: "flipped byte in last batch", dropped: 1, corrupt: func(t *testing.T, p string) { flipByte(t, p, -5) }},
		{name: "flipped length in last batch", dropped: 1, corrupt: func(t *testing.T, p string) { flipByte(t, p, -len(extra)+10) }},
		{name: "bad magic in last batch", dropped: 1, corrupt: func(t *testing.T, p string) { flipByte(t, p, -len(extra)+16) }},
		{name: "offset going back", corrupt: func(t *testing.T, p string) {
			b := bytes.Clone(extra)
			record.SetBaseOffset(b, 3) // valid CRC: base offset lies outside it
			appendToFile(t, p, b)
		}},
		{name: "whole batch after crash is kept", dropped: -1, corrupt: func(t *testing.T, p string) {
			b := bytes.Clone(extra)
			record.SetBaseOffset(b, 24)
			appendToFile(t, p, b)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := len(extra)
			src := t.TempDir()
			cfg := Config{SegmentBytes: int64(5 * size), IndexIntervalBytes: 1}
			l := openLog(t, src, cfg)
			appendN(t, l, 8, 3, 100) // segments 0 (5 batches) and 15 (3 batches)
			want := mustRead(t, l, 0, 24, 1<<20, false)
			// A crash: copy the files while the log is open (no marker,
			// index buffers possibly unwritten).
			dir := copyDir(t, src)
			tt.corrupt(t, lastSegmentPath(t, dir))

			l2 := openLog(t, dir, cfg)
			wantLEO := int64(24 - 3*tt.dropped)
			if l2.LogEndOffset() != wantLEO {
				t.Fatalf("LEO %d, want %d", l2.LogEndOffset(), wantLEO)
			}
			want = want[:len(want)-size*max(tt.dropped, 0)]
			got := mustRead(t, l2, 0, wantLEO, 1<<20, false)
			if tt.dropped >= 0 && !bytes.Equal(got, want) {
				t.Fatalf("recovered %v, want the batches before the damage", batchBases(t, got))
			}
			st, err := os.Stat(lastSegmentPath(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() != l2.Size()-int64(5*size) {
				t.Fatalf("last segment file has %d bytes, log size %d", st.Size(), l2.Size())
			}
			base, _ := appendRecords(t, l2, 1)
			if base != wantLEO {
				t.Fatalf("append after recovery at %d, want %d", base, wantLEO)
			}
			if offs := recordOffsets(t, mustRead(t, l2, 0, wantLEO+1, 1<<20, false)); !slices.Equal(offs, seq(0, wantLEO+1)) {
				t.Fatalf("offsets %v", offs)
			}
			// Recovery rewrote the indexes; a second crash recovers the same.
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}
			l3 := openLog(t, dir, cfg)
			if l3.LogEndOffset() != wantLEO+1 {
				t.Fatalf("LEO after clean reopen %d", l3.LogEndOffset())
			}
		})
	}
}

func flipByte(t *testing.T, path string, fromEnd int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)+fromEnd] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCleanOpenFallsBackToRecovery(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{IndexIntervalBytes: 1}
	l := openLog(t, dir, cfg)
	appendN(t, l, 6, 2, 100)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The .log lost its tail but the marker says clean and the index
	// points beyond the file.
	path := filepath.Join(dir, segmentName(0)+logSuffix)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()-20); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, dir, cfg)
	if l2.LogEndOffset() != 10 {
		t.Fatalf("LEO %d, want 10", l2.LogEndOffset())
	}
	// Index files removed by hand are rebuilt.
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
		if err := os.Remove(filepath.Join(dir, segmentName(0)+suffix)); err != nil {
			t.Fatal(err)
		}
	}
	l3 := openLog(t, dir, cfg)
	if l3.LogEndOffset() != 10 {
		t.Fatalf("LEO %d, want 10", l3.LogEndOffset())
	}
	if off, _, ok, err := l3.OffsetForTimestamp(100, 10); err != nil || !ok || off != 0 {
		t.Fatalf("offset for timestamp: %d %v %v", off, ok, err)
	}
}

func TestOrphanIndexFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	appendN(t, l, 2, 1, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(dir, segmentName(99)+indexSuffix)
	if err := os.WriteFile(orphan, []byte{1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	openLog(t, dir, Config{})
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan index: %v", err)
	}
}

// FuzzRecover writes arbitrary bytes after valid batches in a segment and
// checks that Open never fails or panics on them, keeps every valid batch
// before them, and leaves a log that takes appends.
func FuzzRecover(f *testing.F) {
	valid, _ := makeBatch(f, 1, 2, 3)
	f.Add([]byte{})
	f.Add([]byte("garbage"))
	f.Add(make([]byte, 100))
	f.Add(valid)
	f.Add(valid[:40])
	f.Add(append(bytes.Clone(valid), valid[:70]...))
	next := bytes.Clone(valid)
	record.SetBaseOffset(next, 6)
	f.Add(next)
	f.Add(append(bytes.Clone(next), 0xff, 0xff))
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		cfg := Config{IndexIntervalBytes: 64}
		l, err := Open(dir, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 2, 3, 100)
		want := mustRead(t, l, 0, 6, 1<<20, false)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		removeMarker(t, dir)
		appendToFile(t, lastSegmentPath(t, dir), tail)

		l2, err := Open(dir, cfg, nil)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer l2.Close()
		leo := l2.LogEndOffset()
		if leo < 6 {
			t.Fatalf("LEO %d lost valid batches", leo)
		}
		got := mustRead(t, l2, 0, leo, 1<<30, false)
		if !bytes.HasPrefix(got, want) {
			t.Fatal("valid prefix changed")
		}
		batchBases(t, got) // everything kept is whole and CRC-valid
		if base, _ := appendRecords(t, l2, 5); base != leo {
			t.Fatalf("append at %d, want %d", base, leo)
		}
	})
}
