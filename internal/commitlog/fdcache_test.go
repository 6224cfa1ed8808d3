package commitlog

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// openFDs counts the process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("counts /proc/self/fd")
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// openCached opens a log sharing files, closed at cleanup.
func openCached(t testing.TB, dir string, files *FileCache, cfg Config) *Log {
	t.Helper()
	cfg.Files = files
	return openLog(t, dir, cfg)
}

// TestFileCacheBoundsDescriptors: 120 logs with several segments each
// keep at most the cache's capacity of descriptors open (the old layout
// held three per segment: over 1400), and every byte stays readable after
// its file was evicted.
func TestFileCacheBoundsDescriptors(t *testing.T) {
	const logs, capacity = 120, 32
	files := NewFileCache(capacity)
	root := t.TempDir()
	before := openFDs(t)
	ls := make([]*Log, logs)
	want := make([][][]byte, logs)
	for i := range ls {
		ls[i] = openCached(t, filepath.Join(root, fmt.Sprintf("t-%d", i)), files, Config{SegmentBytes: 400, IndexIntervalBytes: 100})
		want[i] = appendN(t, ls[i], 12, 3, 1000) // 4 segments
	}
	if n := len(segmentFiles(t, ls[0].Dir())); n < 4 {
		t.Fatalf("%d segments per log, want several", n)
	}
	check := func(when string) {
		t.Helper()
		st := files.Stats()
		if st.Open > capacity {
			t.Fatalf("%s: cache counts %d open files, capacity %d", when, st.Open, capacity)
		}
		// A few descriptors of the runtime and the test binary may come
		// and go; without the cache there would be over 4000 more.
		if got := openFDs(t) - before; got > capacity+8 {
			t.Fatalf("%s: %d more descriptors open than before, capacity %d", when, got, capacity)
		}
	}
	check("after appends")
	for i, l := range ls {
		got := mustRead(t, l, 0, math.MaxInt64, 1<<20, true)
		if !bytes.Equal(got, bytes.Join(want[i], nil)) {
			t.Fatalf("log %d: read %d bytes after eviction, want %d", i, len(got), len(bytes.Join(want[i], nil)))
		}
		if _, _, found, err := l.OffsetForTimestamp(1000, math.MaxInt64); err != nil || !found {
			t.Fatalf("log %d: offset for timestamp: %v %v", i, found, err)
		}
	}
	check("after reads")
	if st := files.Stats(); st.Evictions == 0 || st.Overcommits != 0 {
		t.Fatalf("stats %+v: want evictions and no overcommit", st)
	}
	// Appends to an evicted active segment reopen it.
	for i, l := range ls[:20] {
		want[i] = append(want[i], appendN(t, l, 2, 3, 2000)...)
		if _, err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	check("after more appends")
	// Reopen: recovery reads every segment through the cache too.
	for _, l := range ls {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := files.Stats().Open; got != 0 {
		t.Fatalf("%d files counted open after every log closed", got)
	}
	for i := range ls[:20] {
		l := openCached(t, filepath.Join(root, fmt.Sprintf("t-%d", i)), files, Config{SegmentBytes: 400, IndexIntervalBytes: 100})
		if got := mustRead(t, l, 0, math.MaxInt64, 1<<20, true); !bytes.Equal(got, bytes.Join(want[i], nil)) {
			t.Fatalf("log %d after reopen: %d bytes, want %d", i, len(got), len(bytes.Join(want[i], nil)))
		}
	}
	check("after reopen")
}

// churn reads every log so that the cache evicts whatever is idle.
func churn(t testing.TB, ls []*Log) {
	t.Helper()
	for _, l := range ls {
		mustRead(t, l, 0, math.MaxInt64, 1<<20, true)
	}
}

// TestRegionsStayValidUnderEviction: file regions held for sendfile keep
// their descriptors open while the cache evicts everything else, read the
// right bytes, and the files become evictable once released.
func TestRegionsStayValidUnderEviction(t *testing.T) {
	files := NewFileCache(MinFileCacheCapacity)
	root := t.TempDir()
	l := openCached(t, filepath.Join(root, "held"), files, Config{SegmentBytes: 600, IndexIntervalBytes: 100})
	appendN(t, l, 12, 3, 1000)
	mustSync(t, l) // rolled segments are held open until a Sync made them durable
	want := mustRead(t, l, 0, math.MaxInt64, 1<<20, true)
	var others []*Log
	for i := range 3 * MinFileCacheCapacity {
		o := openCached(t, filepath.Join(root, fmt.Sprintf("o-%d", i)), files, Config{SegmentBytes: 600})
		appendN(t, o, 3, 3, 1000)
		others = append(others, o)
	}
	regions, release, err := l.ReadRegions(0, math.MaxInt64, 1<<20, true)
	if err != nil || len(regions) < 2 {
		t.Fatalf("%d regions, %v", len(regions), err)
	}
	evictionsBefore := files.Stats().Evictions
	churn(t, others)
	churn(t, others)
	if files.Stats().Evictions-evictionsBefore < uint64(len(others)) {
		t.Fatalf("stats %+v: the churn should evict", files.Stats())
	}
	var got []byte
	for _, r := range regions {
		b := make([]byte, r.Length)
		if _, err := r.File.ReadAt(b, r.Offset); err != nil {
			t.Fatalf("region of a pinned file unreadable: %v", err)
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("regions hold %d bytes, want %d", len(got), len(want))
	}
	release()
	churn(t, others)
	churn(t, others)
	if _, err := regions[0].File.Stat(); err == nil {
		t.Fatal("a released region's file is still open after the cache evicted everything")
	}
	if st := files.Stats(); st.Open > st.Capacity {
		t.Fatalf("stats %+v", st)
	}
}

// TestDeletedSegmentReadableAfterEviction: a reader that took its
// snapshot before retention deleted a segment whose file the cache had
// closed still reads it (the file is held open when deleted), and the
// descriptor goes with the reader.
func TestDeletedSegmentReadableAfterEviction(t *testing.T) {
	files := NewFileCache(MinFileCacheCapacity)
	root := t.TempDir()
	l := openCached(t, filepath.Join(root, "l"), files, Config{SegmentBytes: 600, IndexIntervalBytes: 100, RetentionBytes: 1})
	appendN(t, l, 12, 3, 1000)
	mustSync(t, l) // rolled segments are held open until a Sync made them durable
	want := mustRead(t, l, 0, math.MaxInt64, 1<<20, true)
	var others []*Log
	for i := range 2 * MinFileCacheCapacity {
		o := openCached(t, filepath.Join(root, fmt.Sprintf("o-%d", i)), files, Config{SegmentBytes: 600})
		appendN(t, o, 2, 3, 1000)
		others = append(others, o)
	}
	sn, err := l.acquire(0)
	if err != nil {
		t.Fatal(err)
	}
	churn(t, others)
	first := sn.views[0].seg
	first.log.mu.Lock()
	open := first.log.f != nil
	first.log.mu.Unlock()
	if open {
		t.Fatal("the first segment's file should have been evicted by the churn")
	}
	if n, err := l.EnforceRetention(); err != nil || n == 0 {
		t.Fatalf("retention deleted %d segments: %v", n, err)
	}
	if _, err := os.Stat(first.path + logSuffix); !os.IsNotExist(err) {
		t.Fatalf("deleted segment file still there: %v", err)
	}
	got, err := sn.read(0, math.MaxInt64, 1<<20, true)
	if err != nil {
		t.Fatalf("read of a deleted segment through an old snapshot: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("old snapshot read %d bytes, want %d", len(got), len(want))
	}
	openBefore := files.Stats().Open
	sn.release()
	if got := files.Stats().Open; got >= openBefore {
		t.Fatalf("releasing the last reader of deleted segments closed nothing: %d -> %d open", openBefore, got)
	}
}

// TestCompactedSegmentOldReaderAfterEviction: a reader whose snapshot
// predates a compaction reads the old bytes of the replaced segments even
// when their files were evicted before the swap (a reopen by name would
// find the new segment).
func TestCompactedSegmentOldReaderAfterEviction(t *testing.T) {
	files := NewFileCache(MinFileCacheCapacity)
	root := t.TempDir()
	clock := newFakeClock()
	l := openCached(t, filepath.Join(root, "l"), files, Config{SegmentBytes: 1024, IndexIntervalBytes: 100, Now: clock.Now})
	fillKeys(t, l, model{}, 200, 5, clock.Ms())
	want := mustRead(t, l, 0, math.MaxInt64, 1<<20, true)
	var others []*Log
	for i := range 2 * MinFileCacheCapacity {
		o := openCached(t, filepath.Join(root, fmt.Sprintf("o-%d", i)), files, Config{SegmentBytes: 600})
		appendN(t, o, 2, 3, 1000)
		others = append(others, o)
	}
	sn, err := l.acquire(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.release()
	churn(t, others)
	if st := compact(t, l, noBound); st.SegmentsCleaned == 0 {
		t.Fatalf("stats %+v", st)
	}
	if now := mustRead(t, l, 0, math.MaxInt64, 1<<20, true); bytes.Equal(now, want) {
		t.Fatal("compaction changed nothing")
	}
	got, err := sn.read(0, math.MaxInt64, 1<<20, true)
	if err != nil {
		t.Fatalf("read through a snapshot taken before compaction: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("old snapshot read %d bytes, want the %d bytes from before compaction", len(got), len(want))
	}
}

func TestDefaultCacheCapacity(t *testing.T) {
	for _, c := range []struct{ limit, reserve, want int }{
		{20000, 1024, 18976},
		{1024, 1024, 512},
		{4096, 1024, 3072},
		{0, 1024, MinFileCacheCapacity},
		{20, 1024, MinFileCacheCapacity},
	} {
		if got := DefaultCacheCapacity(c.limit, c.reserve); got != c.want {
			t.Errorf("DefaultCacheCapacity(%d, %d) = %d, want %d", c.limit, c.reserve, got, c.want)
		}
	}
}
