package partition

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/record"
)

// txnBatch is idBatch with the transactional bit.
func txnBatch(t *testing.T, pid int64, epoch int16, seq int32, n int) []byte {
	t.Helper()
	b := record.NewBuilder()
	b.ProducerID, b.ProducerEpoch, b.BaseSequence = pid, epoch, seq
	b.Attributes = record.AttrTransactional
	for i := 0; i < n; i++ {
		b.Add(int64(1000+i), []byte("k"), []byte("v"))
	}
	batch, err := b.Build(record.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return batch
}

func marker(t *testing.T, p *Partition, pid int64, epoch int16, commit bool) int64 {
	t.Helper()
	res, err := p.AppendMarker(Marker{ProducerID: pid, ProducerEpoch: epoch, CoordinatorEpoch: 1, Commit: commit})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitReplicated(ctx, res.End); err != nil {
		t.Fatal(err)
	}
	return res.BaseOffset
}

// TestTransactionsLSOAndAbortedIndex: the LSO stops at the first open
// transaction, markers complete them, aborted transactions are listed for
// the ranges that hold their data, and all of it is rebuilt after a clean
// restart and after a crash.
func TestTransactionsLSOAndAbortedIndex(t *testing.T) {
	for _, clean := range []bool{true, false} {
		name := map[bool]string{true: "clean", false: "crash"}[clean]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := openTest(t, dir, nil)
			// 0-1: producer 1's transaction (to be aborted)
			// 2-4: producer 2's transaction (to be committed)
			// 5: plain idempotent batch
			if _, err := appendDurable(t, p, txnBatch(t, 1, 0, 0, 2)); err != nil {
				t.Fatal(err)
			}
			if _, err := appendDurable(t, p, txnBatch(t, 2, 0, 0, 3)); err != nil {
				t.Fatal(err)
			}
			if _, err := appendDurable(t, p, idBatch(t, 3, 0, 0, 1)); err != nil {
				t.Fatal(err)
			}
			if hw, lso := p.HighWatermark(), p.LastStableOffset(); hw != 6 || lso != 0 {
				t.Fatalf("hw %d lso %d, want 6 and 0", hw, lso)
			}
			if m := marker(t, p, 1, 0, false); m != 6 {
				t.Fatalf("abort marker at %d", m)
			}
			if lso := p.LastStableOffset(); lso != 2 {
				t.Fatalf("lso after abort %d, want 2 (producer 2 still open)", lso)
			}
			regions, release, aborted, lso, err := p.ReadCommittedRegions(0, 1<<20, true)
			release()
			if err != nil || lso != 2 || len(regions) == 0 {
				t.Fatalf("read committed: %d regions, lso %d, %v", len(regions), lso, err)
			}
			if want := []AbortedTxn{{ProducerID: 1, FirstOffset: 0, LastOffset: 6, LastStableOffset: 2}}; !slices.Equal(aborted, want) {
				t.Fatalf("aborted %v, want %v", aborted, want)
			}
			marker(t, p, 2, 0, true)
			if lso := p.LastStableOffset(); lso != 8 {
				t.Fatalf("lso after commit %d, want 8", lso)
			}
			// An open transaction again, then restart.
			if _, err := appendDurable(t, p, txnBatch(t, 2, 0, 3, 1)); err != nil {
				t.Fatal(err)
			}
			check := func(p *Partition) {
				t.Helper()
				if lso := p.LastStableOffset(); lso != 8 {
					t.Fatalf("lso %d, want 8 (open transaction at 8)", lso)
				}
				if got, err := p.AbortedTransactions(0, 9); err != nil || !slices.Equal(got, []AbortedTxn{{ProducerID: 1, FirstOffset: 0, LastOffset: 6, LastStableOffset: 2}}) {
					t.Fatalf("aborted %v, %v", got, err)
				}
				if got, err := p.AbortedTransactions(7, 9); err != nil || len(got) != 0 {
					t.Fatalf("aborted after the marker %v, %v", got, err)
				}
			}
			check(p)
			if clean {
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				crashDir := t.TempDir()
				copyDir(t, dir, crashDir)
				p.Close()
				dir = crashDir
			}
			p = openTest(t, dir, nil)
			defer p.Close()
			check(p)
			// A marker of an old epoch is refused; one that fences with a
			// newer epoch aborts, and the old epoch's writes are refused.
			marker(t, p, 2, 1, false)
			if _, err := p.AppendMarker(Marker{ProducerID: 2, ProducerEpoch: 0, CoordinatorEpoch: 1}); !errors.Is(err, ErrInvalidProducerEpoch) {
				t.Fatalf("old epoch marker: %v", err)
			}
			if _, err := appendDurable(t, p, txnBatch(t, 2, 0, 4, 1)); !errors.Is(err, ErrInvalidProducerEpoch) {
				t.Fatalf("zombie write: %v", err)
			}
			if lso := p.LastStableOffset(); lso != p.HighWatermark() {
				t.Fatalf("lso %d, hw %d", lso, p.HighWatermark())
			}
			if got, err := p.AbortedTransactions(7, 100); err != nil || !slices.Equal(got, []AbortedTxn{{ProducerID: 2, FirstOffset: 8, LastOffset: 9, LastStableOffset: 10}}) {
				t.Fatalf("aborted %v, %v", got, err)
			}
			// The new epoch starts at sequence 0.
			if _, err := appendDurable(t, p, txnBatch(t, 2, 1, 0, 1)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCoordinatorAppendWithoutSequence: a coordinator's transactional
// batch carries no sequence; a client's may not.
func TestCoordinatorAppendWithoutSequence(t *testing.T) {
	p := openTest(t, t.TempDir(), map[string]string{"cleanup.policy": "compact"})
	defer p.Close()
	batch := txnBatch(t, 9, 0, record.NoSequence, 1)
	if _, err := p.Append(slices.Clone(batch), -1); !errors.Is(err, record.ErrInvalidRecord) {
		t.Fatalf("client batch without sequence: %v", err)
	}
	if _, err := p.AppendFromCoordinator(batch, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendFromCoordinator(txnBatch(t, 9, 0, record.NoSequence, 1), -1); err != nil {
		t.Fatal(err)
	}
	if lso := p.LastStableOffset(); lso != 0 {
		t.Fatalf("lso %d", lso)
	}
}

// TestTxnIndexWrittenAndRebuilt: an ABORT marker adds Kafka's AbortedTxn
// entry (with the last stable offset of its time) to the .txnindex of its
// segment, on the leader and on a follower; after kill -9 a torn tail of
// the index is cut and the missing entries are rebuilt from the log.
func TestTxnIndexWrittenAndRebuilt(t *testing.T) {
	dir := t.TempDir()
	p := openTest(t, dir, map[string]string{"segment.bytes": "600"})
	defer p.Close()
	var want []AbortedTxn
	for i := int64(0); i < 6; i++ {
		// Producer 100 keeps a transaction open over each abort of i.
		open, err := appendDurable(t, p, txnBatch(t, 100, 0, int32(i), 1))
		if err != nil {
			t.Fatal(err)
		}
		first, err := appendDurable(t, p, txnBatch(t, i, 0, 0, 2))
		if err != nil {
			t.Fatal(err)
		}
		m := marker(t, p, i, 0, false)
		want = append(want, AbortedTxn{ProducerID: i, FirstOffset: first.BaseOffset, LastOffset: m, LastStableOffset: open.BaseOffset})
		marker(t, p, 100, 0, true)
	}
	// An abort of a transaction that wrote nothing here is indexed from
	// its marker, as in Kafka.
	empty := marker(t, p, 500, 0, false)
	want = append(want, AbortedTxn{ProducerID: 500, FirstOffset: empty, LastOffset: empty, LastStableOffset: empty + 1})
	check := func(p *Partition) {
		t.Helper()
		got, err := p.AbortedTransactions(0, p.LogEndOffset())
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("aborted %+v, %v; want %+v", got, err, want)
		}
	}
	check(p)
	if p.SegmentCount() < 3 {
		t.Fatalf("%d segments", p.SegmentCount())
	}
	// The entry of the first abort, byte for byte, in the first segment.
	b, err := os.ReadFile(filepath.Join(dir, "00000000000000000000.txnindex"))
	if err != nil || len(b) < 34 || !bytes.Equal(b[:34], want[0].AppendTo(nil)) {
		t.Fatalf("first segment's index %x (%v), want %x first", b, err, want[0].AppendTo(nil))
	}

	// A follower fetching the same batches builds the same index.
	fdir := t.TempDir()
	f, err := Open(Config{Topic: "t", Dir: fdir, TopicConf: config.ResolveTopic(map[string]string{"segment.bytes": "600"}, nil),
		Role: Role{Self: 2, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { f.Close() }() // the last one opened
	data, err := p.log.Read(0, p.LogEndOffset(), 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.AppendFromLeader(0, data, p.HighWatermark()); err != nil {
		t.Fatal(err)
	}
	check(f)
	// Truncation to a diverging point drops the entries of the markers
	// it removes, here and in the files.
	if err := f.TruncateTo(want[3].FirstOffset); err != nil {
		t.Fatal(err)
	}
	if got, err := f.AbortedTransactions(0, f.LogEndOffset()); err != nil || !slices.Equal(got, want[:3]) {
		t.Fatalf("after truncation %+v, %v; want %+v", got, err, want[:3])
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if f, err = Open(Config{Topic: "t", Dir: fdir, TopicConf: config.ResolveTopic(map[string]string{"segment.bytes": "600"}, nil),
		Role: Role{Self: 2, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := f.AbortedTransactions(0, f.LogEndOffset()); err != nil || !slices.Equal(got, want[:3]) {
		t.Fatalf("after truncation and reopen %+v, %v", got, err)
	}

	// kill -9: a copy of the live files, with a torn entry at the end of
	// the last segment's index.
	crash := t.TempDir()
	copyDir(t, dir, crash)
	entries, err := os.ReadDir(crash)
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".txnindex") {
			last = e.Name()
		}
	}
	idx, err := os.OpenFile(filepath.Join(crash, last), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idx.Write([]byte{0, 0, 0, 0, 0, 0, 0, 9}); err != nil {
		t.Fatal(err)
	}
	idx.Close()
	p2 := openTest(t, crash, map[string]string{"segment.bytes": "600"})
	defer p2.Close()
	check(p2)
	st, err := os.Stat(filepath.Join(crash, last))
	if err != nil || st.Size()%34 != 0 {
		t.Fatalf("index after recovery: %v, %v", st, err)
	}
}

// TestLSONeverBelowLogStart: a transaction whose start DeleteRecords (or
// retention) removed holds the LSO at the log start offset, not below it:
// read_committed ListOffsets and fetches never answer an offset the log
// no longer has.
func TestLSONeverBelowLogStart(t *testing.T) {
	p := openTest(t, t.TempDir(), nil)
	defer p.Close()
	if _, err := appendDurable(t, p, txnBatch(t, 1, 0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, err := appendDurable(t, p, idBatch(t, -1, -1, -1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if lso := p.LastStableOffset(); lso != 0 {
		t.Fatalf("lso %d, want 0", lso)
	}
	if _, err := p.DeleteRecords(3); err != nil {
		t.Fatal(err)
	}
	if lso := p.LastStableOffset(); lso != 3 {
		t.Fatalf("lso %d after the log start moved to 3, want 3", lso)
	}
	regions, release, _, lso, err := p.ReadCommittedRegions(3, 1<<20, true)
	release()
	if err != nil || lso != 3 || len(regions) != 0 {
		t.Fatalf("read committed at the log start: %d regions, lso %d, %v", len(regions), lso, err)
	}
}
