package commitlog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/record"
)

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.UnixMilli(1_700_000_000_000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Ms() int64 { return c.Now().UnixMilli() }

// makeBatch builds an uncompressed batch with one record per timestamp.
func makeBatch(t testing.TB, timestamps ...int64) ([]byte, record.Header) {
	t.Helper()
	b := record.NewBuilder()
	for i, ts := range timestamps {
		b.Add(ts, []byte(fmt.Sprintf("k%03d", i)), []byte(fmt.Sprintf("value-%03d", i)))
	}
	batch, err := b.Build(record.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	h, err := record.ParseHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	return batch, h
}

// appendRecords appends one batch with the given record timestamps and
// returns its base offset and the stored bytes.
func appendRecords(t testing.TB, l *Log, timestamps ...int64) (int64, []byte) {
	t.Helper()
	batch, h := makeBatch(t, timestamps...)
	base, err := l.Append(batch, &h, 7)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if h.BaseOffset != base {
		t.Fatalf("header base offset %d, returned %d", h.BaseOffset, base)
	}
	return base, batch
}

// appendN appends n batches of perBatch records with timestamps from ts.
func appendN(t testing.TB, l *Log, n, perBatch int, ts int64) [][]byte {
	t.Helper()
	var out [][]byte
	for i := 0; i < n; i++ {
		tss := make([]int64, perBatch)
		for j := range tss {
			tss[j] = ts
		}
		_, b := appendRecords(t, l, tss...)
		out = append(out, b)
	}
	return out
}

func openLog(t testing.TB, dir string, cfg Config) *Log {
	t.Helper()
	l, err := Open(dir, cfg, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// batchBases splits data into batches and returns their base offsets,
// failing on anything but whole, CRC-valid batches.
func batchBases(t testing.TB, data []byte) []int64 {
	t.Helper()
	var bases []int64
	for p := 0; p < len(data); {
		h, err := record.ParseHeader(data[p:])
		if err != nil {
			t.Fatalf("batch at %d: %v", p, err)
		}
		if p+h.Size() > len(data) {
			t.Fatalf("partial batch at %d", p)
		}
		if err := record.CheckCRC(data[p : p+h.Size()]); err != nil {
			t.Fatalf("batch at %d: %v", p, err)
		}
		bases = append(bases, h.BaseOffset)
		p += h.Size()
	}
	return bases
}

// recordOffsets decodes every record of data and returns their offsets.
func recordOffsets(t testing.TB, data []byte) []int64 {
	t.Helper()
	var offs []int64
	for p := 0; p < len(data); {
		h, err := record.ParseHeader(data[p:])
		if err != nil {
			t.Fatal(err)
		}
		recs, err := record.Records(data[p : p+h.Size()])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			offs = append(offs, r.Offset)
		}
		p += h.Size()
	}
	return offs
}

// segmentFiles lists the base offsets of the .log files in dir.
func segmentFiles(t testing.TB, dir string) []int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var bases []int64
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name()); ok {
			bases = append(bases, base)
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases
}

// copyDir copies the regular files of src into a new temporary directory:
// a snapshot of the log as a crash would leave it (no marker, index
// buffers not flushed).
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

func lastSegmentPath(t testing.TB, dir string) string {
	t.Helper()
	bases := segmentFiles(t, dir)
	if len(bases) == 0 {
		t.Fatal("no segments")
	}
	return filepath.Join(dir, segmentName(bases[len(bases)-1])+logSuffix)
}

func appendToFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func removeMarker(t testing.TB, dir string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, cleanShutdownFile)); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t testing.TB, l *Log, offset, maxOffset int64, maxBytes int, minOne bool) []byte {
	t.Helper()
	b, err := l.Read(offset, maxOffset, maxBytes, minOne)
	if err != nil {
		t.Fatalf("read(%d, %d, %d, %v): %v", offset, maxOffset, maxBytes, minOne, err)
	}
	return b
}

func seq(from, to int64) []int64 {
	var s []int64
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func isCorrupt(err error) bool { return errors.Is(err, record.ErrCorrupt) }
