package partition

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/arustest/errorfs"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/record"
)

// within fails the test unless fn returns before the deadline: the
// operations it runs must not wait for a disk write the test holds.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked behind a held disk operation", what)
	}
}

// waitReached waits until the held operation is reached.
func waitReached(t *testing.T, h *errorfs.Hold) {
	t.Helper()
	select {
	case <-h.Reached():
	case <-time.After(10 * time.Second):
		t.Fatal("the held disk operation was never reached")
	}
}

// TestFetchNotBlockedByStuckAppend: while a leader's append hangs in its
// write to the segment, consumer and follower fetches, ListOffsets-style
// lookups, HW and LSO reads, ISR changes and ISR proposals all answer;
// a second append waits for the first (appends stay serialised and
// ordered), and both complete in order once the disk moves again.
func TestFetchNotBlockedByStuckAppend(t *testing.T) {
	fs := errorfs.New()
	role := Role{Self: 1, Leader: 1, LeaderEpoch: 3, PartitionEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}
	p, err := Open(Config{Topic: "t", Dir: t.TempDir(), TopicConf: config.ResolveTopic(nil, nil), Role: role, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	first, err := p.Append(idBatch(t, 7, 0, 0, 3), -1)
	if err != nil {
		t.Fatal(err)
	}
	// The follower catches up; the HW moves once our copy is durable.
	if _, err := p.FollowerFetch(2, first.End, 3, 1<<20); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitReplicated(ctx, first.End); err != nil {
		t.Fatal(err)
	}

	hold := fs.Hold(errorfs.OpWrite, errorfs.HasSuffix(".log"))
	defer hold.Release()
	type result struct {
		res AppendResult
		err error
	}
	stuck := make(chan result, 1)
	go func() {
		res, err := p.Append(idBatch(t, 7, 0, 3, 2), -1)
		stuck <- result{res, err}
	}()
	waitReached(t, hold)

	within(t, "consumer fetch", func() {
		b, err := p.Read(0, 1<<20, true)
		if err != nil || len(b) == 0 {
			t.Errorf("read: %d bytes, %v", len(b), err)
		}
		regions, release, err := p.ReadRegions(0, 1<<20, true)
		if err != nil || len(regions) == 0 {
			t.Errorf("read regions: %d, %v", len(regions), err)
		}
		release()
		if _, _, _, lso, err := p.ReadCommittedRegions(0, 1<<20, true); err != nil || lso != first.End {
			t.Errorf("read committed: LSO %d, %v", lso, err)
		}
	})
	within(t, "offset lookups", func() {
		if hw := p.HighWatermark(); hw != first.End {
			t.Errorf("HW %d, want %d", hw, first.End)
		}
		if lso := p.LastStableOffset(); lso != first.End {
			t.Errorf("LSO %d, want %d", lso, first.End)
		}
		if _, _, found, err := p.OffsetForTimestamp(0); !found || err != nil {
			t.Errorf("offset for timestamp: %v, %v", found, err)
		}
		if epoch, end := p.EndOffsetForEpoch(3); epoch != 3 || end != first.End {
			t.Errorf("end offset for epoch 3: %d %d", epoch, end)
		}
		if err := p.CheckLeaderEpoch(3); err != nil {
			t.Errorf("check leader epoch: %v", err)
		}
		_ = p.Producers()
		_ = p.OffsetLag()
	})
	within(t, "follower fetch", func() {
		r, err := p.FollowerFetch(2, first.End, 3, 1<<20)
		if err != nil || r.HighWatermark != first.End {
			t.Errorf("follower fetch: HW %d, %v", r.HighWatermark, err)
		}
	})
	within(t, "ISR change", func() {
		_, _ = p.ProposeISR()
		shrunk := role
		shrunk.PartitionEpoch, shrunk.ISR = 2, []int32{1}
		p.SetRole(shrunk) // a committed ISR change also drops the proposal
		if got := p.Role().ISR; len(got) != 1 {
			t.Errorf("ISR %v after the change", got)
		}
	})
	second := make(chan result, 1)
	go func() {
		res, err := p.Append(idBatch(t, 7, 0, 5, 1), -1)
		second <- result{res, err}
	}()
	select {
	case r := <-stuck:
		t.Fatalf("the held append returned: %+v", r)
	default:
	}

	hold.Release()
	var r1, r2 result
	for _, c := range []struct {
		ch  chan result
		out *result
	}{{stuck, &r1}, {second, &r2}} {
		select {
		case *c.out = <-c.ch:
		case <-time.After(10 * time.Second):
			t.Fatal("append did not complete after the release")
		}
	}
	if r1.err != nil || r1.res.BaseOffset != first.End {
		t.Fatalf("held append: %+v %v, want base %d", r1.res, r1.err, first.End)
	}
	if r2.err != nil || r2.res.BaseOffset != r1.res.End {
		t.Fatalf("second append: %+v %v, want base %d", r2.res, r2.err, r1.res.End)
	}
	// The ISR is now {1}: the HW follows our durable end alone.
	if err := p.WaitReplicated(ctx, r2.res.End); err != nil {
		t.Fatal(err)
	}
}

// TestAppendNotBlockedByStuckFsync: while the group-commit fsync hangs,
// appends go on, including one that rolls a segment (a roll no longer
// fsyncs under the append lock), and fetches read what is durable; the
// high watermark stays at the durable end until the fsync completes, then
// covers every append.
func TestAppendNotBlockedByStuckFsync(t *testing.T) {
	fs := errorfs.New()
	tc := config.ResolveTopic(nil, map[string]string{"segment.bytes": "1024"})
	p, err := Open(Config{Topic: "t", Dir: t.TempDir(), TopicConf: tc, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	first, err := appendDurable(t, p, idBatch(t, -1, -1, -1, 3))
	if err != nil {
		t.Fatal(err)
	}
	hold := fs.Hold(errorfs.OpSync|errorfs.OpSyncDir, nil)
	defer hold.Release()
	res, err := p.Append(idBatch(t, -1, -1, -1, 2), 1)
	if err != nil {
		t.Fatal(err)
	}
	waitReached(t, hold) // the flusher is stuck in its fsync
	segments := p.SegmentCount()
	var last AppendResult
	within(t, "appends that roll a segment", func() {
		for i := 0; p.SegmentCount() < segments+2 && i < 200; i++ {
			if last, err = p.Append(idBatch(t, -1, -1, -1, 4), 1); err != nil {
				t.Errorf("append: %v", err)
				return
			}
		}
	})
	if got := p.SegmentCount(); got < segments+2 {
		t.Fatalf("%d segments, want at least %d", got, segments+2)
	}
	within(t, "fetch", func() {
		b, err := p.Read(0, 1<<20, true)
		if err != nil || len(b) == 0 {
			t.Errorf("read: %d bytes, %v", len(b), err)
		}
		if hw := p.HighWatermark(); hw != first.End {
			t.Errorf("HW %d while the fsync hangs, durable end %d", hw, first.End)
		}
	})
	if p.HighWatermark() != first.End || res.End <= first.End {
		t.Fatalf("HW %d passed the durable end %d", p.HighWatermark(), first.End)
	}
	hold.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitDurable(ctx, last.End); err != nil {
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != last.End {
		t.Fatalf("HW %d after the fsync, want %d", hw, last.End)
	}
	if rp := p.RecoveryPoint(); rp != last.End {
		t.Fatalf("recovery point %d, want %d", rp, last.End)
	}
}

// TestCheckpointHWOnlyWhenMoved: the high-watermark checkpoint touches no
// file while the HW did not move (a new partition's HW 0 equals no
// file), so rounds over thousands of idle partitions cost no I/O.
func TestCheckpointHWOnlyWhenMoved(t *testing.T) {
	dir := t.TempDir()
	p := openTest(t, dir, nil)
	defer p.Close()
	path := filepath.Join(dir, hwCheckpointFile)
	if err := p.CheckpointHW(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("checkpoint of HW 0 wrote a file: %v", err)
	}
	res, err := appendDurable(t, p, idBatch(t, -1, -1, -1, 3))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckpointHW(); err != nil {
		t.Fatal(err)
	}
	if got := readHWCheckpoint(dir); got != res.End {
		t.Fatalf("checkpoint %d, want %d", got, res.End)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckpointHW(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("checkpoint of an unchanged HW wrote the file again: %v", err)
	}
}

// TestConcurrentAppendsStayOrdered: idempotent producers appending from
// several goroutines while readers fetch and a small segment size makes
// the log roll: offsets are contiguous, each producer's batches are in
// sequence order, none is duplicated, and readers only ever see whole,
// durable batches below the high watermark.
func TestConcurrentAppendsStayOrdered(t *testing.T) {
	p := openTest(t, t.TempDir(), map[string]string{"segment.bytes": "2048"})
	defer p.Close()
	const producers, batches = 4, 40
	done := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		defer close(readErr)
		for {
			select {
			case <-done:
				return
			default:
			}
			b, err := p.Read(0, 1<<20, true)
			if err != nil {
				readErr <- err
				return
			}
			for pos := 0; pos < len(b); {
				h, err := record.ParseHeader(b[pos:])
				if err != nil || h.NextOffset() > p.HighWatermark() {
					readErr <- fmt.Errorf("batch at byte %d: %v (next %d, HW %d)", pos, err, h.NextOffset(), p.HighWatermark())
					return
				}
				pos += h.Size()
			}
		}
	}()
	errs := make(chan error, producers)
	for pid := range int64(producers) {
		go func() {
			for i := range int32(batches) {
				if _, err := p.Append(idBatch(t, pid, 0, i*2, 2), 1); err != nil {
					errs <- fmt.Errorf("producer %d batch %d: %w", pid, i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range producers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	end := int64(producers * batches * 2)
	if err := p.WaitDurable(ctx, end); err != nil {
		t.Fatal(err)
	}
	if p.LogEndOffset() != end || p.HighWatermark() != end {
		t.Fatalf("LEO %d, HW %d, want %d", p.LogEndOffset(), p.HighWatermark(), end)
	}
	if p.SegmentCount() < 2 {
		t.Fatalf("%d segments: the test should roll", p.SegmentCount())
	}
	next := map[int64]int32{}
	var offset int64
	err := p.log.ScanBatches(0, func(h record.Header) error {
		if h.BaseOffset != offset {
			return fmt.Errorf("batch at %d, want %d", h.BaseOffset, offset)
		}
		if h.BaseSequence != next[h.ProducerID] {
			return fmt.Errorf("producer %d: sequence %d, want %d", h.ProducerID, h.BaseSequence, next[h.ProducerID])
		}
		next[h.ProducerID] += 2
		offset = h.NextOffset()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLeaderEpochChangeWaitsForAppend: a new leader epoch arriving while
// an append hangs in its write waits for it, so the batch carries the
// old epoch and the new epoch starts after it.
func TestLeaderEpochChangeWaitsForAppend(t *testing.T) {
	fs := errorfs.New()
	role := Role{Self: 1, Leader: 1, LeaderEpoch: 3, Replicas: []int32{1}, ISR: []int32{1}}
	p, err := Open(Config{Topic: "t", Dir: t.TempDir(), TopicConf: config.ResolveTopic(nil, nil), Role: role, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	hold := fs.Hold(errorfs.OpWrite, errorfs.HasSuffix(".log"))
	defer hold.Release()
	appended := make(chan error, 1)
	go func() {
		_, err := p.Append(idBatch(t, -1, -1, -1, 3), 1)
		appended <- err
	}()
	waitReached(t, hold)
	changed := make(chan struct{})
	go func() {
		next := role
		next.LeaderEpoch = 4
		p.SetRole(next)
		close(changed)
	}()
	// The role change cannot finish before the append: it waits on appendMu.
	select {
	case <-changed:
		t.Fatal("leader epoch changed while an append of the old epoch was in flight")
	case err := <-appended:
		t.Fatalf("held append returned: %v", err)
	default:
	}
	hold.Release()
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("role change did not finish after the append")
	}
	// Had the epoch changed first, epoch 4 would start at offset 0 and
	// the batch of epoch 3 would sit inside it.
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	if epoch, end := p.EndOffsetForEpoch(3); epoch != 3 || end != 3 {
		t.Fatalf("epoch 3 ends at %d (epoch %d), want 3", end, epoch)
	}
	var epochs []int32
	if err := p.log.ScanBatches(0, func(h record.Header) error {
		epochs = append(epochs, h.PartitionLeaderEpoch)
		return nil
	}); err != nil || len(epochs) != 1 || epochs[0] != 3 {
		t.Fatalf("batch epochs %v (%v), want [3]", epochs, err)
	}
}
