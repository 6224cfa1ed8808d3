package group

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/partition"
	"github.com/arus-io/arus/internal/record"
)

// fakeLog is an in-memory partition: appends get offsets at once, the
// high watermark moves only when the test commits (as followers would
// confirm).
type fakeLog struct {
	mu      sync.Mutex
	batches [][]byte
	leo, hw int64
	changed chan struct{}
}

func newFakeLog() *fakeLog { return &fakeLog{changed: make(chan struct{})} }

func (l *fakeLog) Append(batch []byte, _ int16) (partition.AppendResult, error) {
	h, err := record.ParseHeader(batch)
	if err != nil {
		return partition.AppendResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := append([]byte(nil), batch...)
	record.SetBaseOffset(b, l.leo)
	base := l.leo
	l.leo += int64(h.LastOffsetDelta) + 1
	l.batches = append(l.batches, b)
	return partition.AppendResult{BaseOffset: base, End: l.leo}, nil
}

func (l *fakeLog) AppendFromCoordinator(batch []byte, acks int16) (partition.AppendResult, error) {
	return l.Append(batch, acks)
}

// commit moves the high watermark to the log end.
func (l *fakeLog) commit() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hw = l.leo
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *fakeLog) WaitReplicated(ctx context.Context, end int64) error {
	for {
		l.mu.Lock()
		hw, ch := l.hw, l.changed
		l.mu.Unlock()
		if hw >= end {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *fakeLog) Read(offset int64, maxBytes int, _ bool) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for _, b := range l.batches {
		h, _ := record.ParseHeader(b)
		if h.NextOffset() <= offset || h.BaseOffset >= l.hw {
			continue
		}
		if len(out) > 0 && len(out)+len(b) > maxBytes {
			break
		}
		out = append(out, b...)
	}
	return out, nil
}

func (l *fakeLog) LogStartOffset() int64 { return 0 }

func (l *fakeLog) LogEndOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leo
}

func (l *fakeLog) HighWatermark() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hw
}

func (l *fakeLog) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func startShard(t *testing.T, log Log) *shard {
	t.Helper()
	s := newShard(7, log, testSettings(), time.Now, time.Hour, time.Hour)
	go s.run()
	t.Cleanup(func() {
		s.requestStop()
		<-s.done
	})
	return s
}

func shardCommit(t *testing.T, s *shard, group string, offset int64) <-chan []error {
	t.Helper()
	ch, reply := replier[[]error]()
	req := &CommitRequest{Group: group, Generation: -1, Offsets: []CommitOffset{{TopicPartition: TopicPartition{"t", 0}, Offset: offset, Metadata: "m"}}}
	if err := s.do(context.Background(), func(now time.Time) { s.set.commit(now, req, reply) }); err != nil {
		t.Fatal(err)
	}
	return ch
}

func shardFetch(t *testing.T, s *shard, group string) []FetchedOffset {
	t.Helper()
	ch, reply := replier[[]FetchedOffset]()
	if err := s.do(context.Background(), func(time.Time) { reply(s.set.fetch(group, nil)) }); err != nil {
		t.Fatal(err)
	}
	return <-ch
}

// TestShardAnswersCommitsOnceReplicated: a commit is answered, and
// visible, only after the high watermark passes it.
func TestShardAnswersCommitsOnceReplicated(t *testing.T) {
	log := newFakeLog()
	s := startShard(t, log)
	waitFor(t, "an empty partition to load", s.loaded.Load)
	done := shardCommit(t, s, "g", 5)
	waitFor(t, "the commit to be appended", func() bool { return log.LogEndOffset() == 1 })
	select {
	case errs := <-done:
		t.Fatalf("answered before replication: %v", errs)
	default:
	}
	if got := shardFetch(t, s, "g"); len(got) != 0 {
		t.Fatalf("visible before replication: %+v", got)
	}
	log.commit()
	if errs := <-done; errs[0] != nil {
		t.Fatalf("commit: %v", errs)
	}
	if got := shardFetch(t, s, "g"); len(got) != 1 || got[0].Offset != 5 || got[0].Metadata != "m" {
		t.Fatalf("fetch: %+v", got)
	}
}

// TestShardReloadsFromItsLog: a shard rebuilds groups and offsets from
// its partition, tombstones included. Like a new Kafka leader it loads its
// whole log, waiting until the high watermark reaches the log end;
// meanwhile it is not loaded (requests get COORDINATOR_LOAD_IN_PROGRESS).
func TestShardReloadsFromItsLog(t *testing.T) {
	log := newFakeLog()
	first := startShard(t, log)
	waitFor(t, "load", first.loaded.Load)
	a := shardCommit(t, first, "g", 1)
	b := shardCommit(t, first, "g", 2)
	c := shardCommit(t, first, "other", 9)
	waitFor(t, "appends", func() bool { return log.LogEndOffset() == 3 })
	log.commit()
	for _, ch := range []<-chan []error{a, b, c} {
		if errs := <-ch; errs[0] != nil {
			t.Fatal(errs)
		}
	}
	deleted, reply := replier[[]error]()
	if err := first.do(context.Background(), func(time.Time) { first.set.deleteGroups([]string{"other"}, reply) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tombstones", func() bool { return log.LogEndOffset() > 3 })
	log.commit()
	if errs := <-deleted; errs[0] != nil {
		t.Fatal(errs)
	}
	// One more commit appended but not yet confirmed by followers: the new
	// leader still loads it (its log is what the partition will commit).
	shardCommit(t, first, "g", 3)
	waitFor(t, "the last append", func() bool { return log.LogEndOffset() == 6 })
	first.requestStop()
	<-first.done

	second := startShard(t, log)
	if second.loaded.Load() {
		t.Fatal("loaded before the high watermark reached the log end")
	}
	log.commit()
	waitFor(t, "reload", second.loaded.Load)
	if got := shardFetch(t, second, "g"); len(got) != 1 || got[0].Offset != 3 {
		t.Fatalf("g after reload: %+v", got)
	}
	if got := shardFetch(t, second, "other"); len(got) != 0 {
		t.Fatalf("the deleted group came back: %+v", got)
	}
}
