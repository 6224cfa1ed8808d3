package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arus-io/arus/internal/commitlog"
	"github.com/arus-io/arus/internal/partition"
	"github.com/arus-io/arus/internal/record"
)

// Log is what a shard needs of its __consumer_offsets partition replica;
// *partition.Partition implements it. Append and Read are called from
// the shard goroutine, WaitReplicated from the shard's waiter goroutines.
// Writes use acks=all (offsets.commit.required.acks=-1): a commit is
// answered once it is durable on every in-sync replica.
type Log interface {
	Append(batch []byte, acks int16) (partition.AppendResult, error)
	// AppendFromCoordinator appends a transactional batch without sequence
	// (TxnOffsetCommit); a stale producer epoch fails it.
	AppendFromCoordinator(batch []byte, acks int16) (partition.AppendResult, error)
	WaitReplicated(ctx context.Context, end int64) error
	Read(offset int64, maxBytes int, minOneBatch bool) ([]byte, error)
	LogStartOffset() int64
	LogEndOffset() int64
	HighWatermark() int64
	// Changed is closed the next time the high watermark moves.
	Changed() <-chan struct{}
}

// loadReadBytes is how much of the log one read during loading returns
// (offsets.load.buffer.size).
const loadReadBytes = 5 << 20

// shard owns the groups of one __consumer_offsets partition: one
// goroutine (run) loads the partition, then serves requests sent as
// closures on inbox, fires timers and expires offsets. Writes are
// appended from that goroutine, so the log holds them in the order the
// groups changed; a waiter goroutine per write waits for durability and
// sends the completion back through inbox.
type shard struct {
	index     int32
	log       Log
	set       *groupSet
	logger    *slog.Logger
	now       func() time.Time
	retention time.Duration
	checkEach time.Duration

	inbox chan func()
	stop  chan struct{} // closed to stop run
	done  chan struct{} // closed when run has returned
	// loaded is set once the partition has been read; failed when that
	// read failed (the shard then answers COORDINATOR_NOT_AVAILABLE).
	loaded   atomic.Bool
	failed   atomic.Bool
	loadDone chan struct{} // closed when loading ended, loaded or failed
	stopOnce sync.Once

	ctx    context.Context // ends waiters at stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // waiter goroutines

	// Owned by the run goroutine:
	pending  map[uint64]pendingWrite
	nextID   uint64
	deferred []func()
}

type pendingWrite struct {
	group *group
	base  int64
	done  func(now time.Time, base int64, err error)
}

func newShard(index int32, log Log, set *settings, now func() time.Time, retention, checkEach time.Duration) *shard {
	ctx, cancel := context.WithCancel(context.Background())
	s := &shard{
		index: index, log: log, logger: set.logger.With("offsets_partition", index), now: now,
		retention: retention, checkEach: checkEach,
		inbox: make(chan func(), 256), stop: make(chan struct{}), done: make(chan struct{}), loadDone: make(chan struct{}),
		ctx: ctx, cancel: cancel, pending: map[uint64]pendingWrite{},
	}
	s.set = newGroupSet(set, s)
	return s
}

// requestStop asks run to stop; it does not wait.
func (s *shard) requestStop() {
	s.stopOnce.Do(func() { close(s.stop) })
}

// do runs fn on the shard goroutine with the current time. It fails when
// ctx ends or the shard stops before fn is queued.
func (s *shard) do(ctx context.Context, fn func(now time.Time)) error {
	select {
	case s.inbox <- func() { fn(s.now()) }:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrCoordinatorNotAvailable, ctx.Err())
	case <-s.stop:
		return ErrNotCoordinator
	}
}

func (s *shard) run() {
	defer close(s.done)
	start := s.now()
	if err := s.load(); err != nil {
		s.failed.Store(true)
		close(s.loadDone)
		s.logger.Error("cannot load consumer groups; the partition's groups are unavailable", "err", err)
		<-s.stop
		s.shutdown()
		return
	}
	s.loaded.Store(true)
	close(s.loadDone)
	s.logger.Info("loaded consumer groups", "groups", len(s.set.groups), "took", s.now().Sub(start))

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	expireAt := s.now().Add(s.checkEach)
	for {
		now := s.now()
		wake := expireAt
		if next := s.set.nextWake(); !next.IsZero() && next.Before(wake) {
			wake = next
		}
		timer.Reset(max(wake.Sub(now), 0))
		select {
		case fn := <-s.inbox:
			fn()
		case <-timer.C:
		case <-s.stop:
			s.shutdown()
			return
		}
		timer.Stop()
		s.runDeferred()
		now = s.now()
		s.set.tick(now)
		if !now.Before(expireAt) {
			if offsets, groups := s.set.expireOffsets(now, s.retention); offsets+groups > 0 {
				s.logger.Info("expired offsets", "offsets", offsets, "groups", groups)
			}
			expireAt = now.Add(s.checkEach)
		}
		s.runDeferred()
	}
}

func (s *shard) runDeferred() {
	for len(s.deferred) > 0 {
		fns := s.deferred
		s.deferred = nil
		for _, fn := range fns {
			fn()
		}
	}
}

// shutdown answers every waiting request with NOT_COORDINATOR: the
// groups move to whichever broker loads the partition next.
func (s *shard) shutdown() {
	s.cancel()
	now := s.now()
	for id, pw := range s.pending {
		delete(s.pending, id)
		pw.done(now, pw.base, ErrNotCoordinator)
	}
	s.runDeferred()
	s.set.unload(ErrNotCoordinator)
	s.wg.Wait()
}

// load reads the partition from its start to its log end offset and
// rebuilds the groups and offsets. Like Kafka, a new leader loads its whole
// log, not just what it knew to be committed as a follower: as leader, its
// log is what the partition commits. Reads stop at the high watermark, so
// load first waits for the followers to confirm the log end (moments,
// unless an in-sync follower is dead and has to be dropped from the ISR).
func (s *shard) load() error {
	end := s.log.LogEndOffset()
	for {
		changed := s.log.Changed()
		if s.log.HighWatermark() >= end {
			break
		}
		select {
		case <-changed:
		case <-s.stop:
			return errors.New("stopped while loading")
		}
	}
	l := newLoader()
	pos := s.log.LogStartOffset()
	for pos < end {
		select {
		case <-s.stop:
			return errors.New("stopped while loading")
		default:
		}
		data, err := s.log.Read(pos, loadReadBytes, true)
		if err != nil {
			if errors.Is(err, commitlog.ErrOffsetOutOfRange) && s.log.LogStartOffset() > pos {
				pos = s.log.LogStartOffset()
				continue
			}
			return fmt.Errorf("read at offset %d: %w", pos, err)
		}
		before := pos
		for len(data) >= record.HeaderSize {
			h, err := record.ParseHeader(data)
			if err != nil {
				return fmt.Errorf("batch at offset %d: %w", pos, err)
			}
			if h.Size() > len(data) {
				break // a partial batch ends the read; read it again whole
			}
			batch := data[:h.Size()]
			data = data[h.Size():]
			if h.NextOffset() <= pos {
				continue
			}
			switch {
			case h.IsControl() && h.IsTransactional() && h.ProducerID >= 0:
				typ, ok, err := record.ControlType(batch)
				if err != nil {
					return fmt.Errorf("control batch at offset %d: %w", h.BaseOffset, err)
				}
				if ok && (typ == record.ControlCommit || typ == record.ControlAbort) {
					l.completeTxn(h.ProducerID, typ == record.ControlCommit, s.logger)
				}
			case !h.IsControl():
				recs, err := record.Records(batch)
				if err != nil {
					return fmt.Errorf("records at offset %d: %w", h.BaseOffset, err)
				}
				for _, r := range recs {
					if r.Offset < pos || r.Key == nil {
						continue
					}
					if h.IsTransactional() && h.ProducerID >= 0 {
						l.addTxn(h.ProducerID, r.Key, r.Value, r.Offset)
						continue
					}
					if err := l.add(r.Key, r.Value, r.Offset); err != nil {
						s.logger.Warn("skipping undecodable record", "offset", r.Offset, "err", err)
					}
				}
			}
			pos = h.NextOffset()
		}
		if pos == before {
			return fmt.Errorf("no complete batch at offset %d", pos)
		}
	}
	l.finish(s.set, s.now())
	return nil
}

// append implements store. It runs on the shard goroutine.
func (s *shard) append(g *group, records []keyValue, done func(now time.Time, base int64, err error)) {
	b := record.NewBuilder()
	ts := s.now().UnixMilli()
	for _, r := range records {
		b.Add(ts, r.Key, r.Value)
	}
	s.write(g, b, false, done)
}

// write appends the batch of b (a producer's transactional batch when txn)
// and calls done once it is replicated.
func (s *shard) write(g *group, b *record.Builder, txn bool, done func(now time.Time, base int64, err error)) {
	batch, err := b.Build(0)
	var res partition.AppendResult
	if err == nil {
		if txn {
			res, err = s.log.AppendFromCoordinator(batch, -1)
		} else {
			res, err = s.log.Append(batch, -1)
		}
	}
	if err != nil {
		err = storeError(err)
		s.logger.Warn("cannot write to the offsets partition", "err", err)
		if done != nil {
			s.deferred = append(s.deferred, func() {
				done(s.now(), 0, err)
				if g != nil {
					s.set.schedule(g)
				}
			})
		}
		return
	}
	if done == nil {
		return
	}
	id := s.nextID
	s.nextID++
	s.pending[id] = pendingWrite{group: g, base: res.BaseOffset, done: done}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.log.WaitReplicated(s.ctx, res.End)
		select {
		case s.inbox <- func() { s.complete(id, err) }:
		case <-s.stop:
		}
	}()
}

func (s *shard) complete(id uint64, err error) {
	pw, ok := s.pending[id]
	if !ok {
		return
	}
	delete(s.pending, id)
	if err != nil {
		err = storeError(err)
	}
	pw.done(s.now(), pw.base, err)
	if pw.group != nil {
		s.set.schedule(pw.group)
	}
}

// storeError turns a partition error into the coordinator's.
func storeError(err error) error {
	switch {
	case errors.Is(err, partition.ErrClosed), errors.Is(err, commitlog.ErrClosed), errors.Is(err, context.Canceled),
		errors.Is(err, partition.ErrNotLeader):
		return ErrNotCoordinator
	case errors.Is(err, record.ErrTooLarge):
		return errRecordTooLarge
	case errors.Is(err, partition.ErrInvalidProducerEpoch):
		return ErrProducerFenced
	default:
		return fmt.Errorf("%w: %v", ErrCoordinatorNotAvailable, err)
	}
}
