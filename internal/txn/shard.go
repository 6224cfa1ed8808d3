package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arus-io/arus/internal/commitlog"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/partition"
	"github.com/arus-io/arus/internal/record"
)

// Log is what a shard needs of its __transaction_state partition replica;
// *partition.Partition implements it. Append and Read are called from the
// shard goroutine, WaitReplicated from its waiter goroutines. Writes use
// acks=all: a state change is acted on once every in-sync replica has it.
type Log interface {
	Append(batch []byte, acks int16) (partition.AppendResult, error)
	WaitReplicated(ctx context.Context, end int64) error
	Read(offset int64, maxBytes int, minOneBatch bool) ([]byte, error)
	LogStartOffset() int64
	LogEndOffset() int64
	HighWatermark() int64
	Changed() <-chan struct{}
}

// MarkerOutcome is what became of the marker of one partition.
type MarkerOutcome int8

const (
	// MarkerWritten: the marker is durable on the partition.
	MarkerWritten MarkerOutcome = iota
	// MarkerRetry: not written (leader moved, not enough replicas, ...);
	// send it again.
	MarkerRetry
	// MarkerDropped: it will never be written and need not be (the
	// partition was deleted, or a newer producer epoch or coordinator
	// already wrote there).
	MarkerDropped
)

// Markers is one WriteTxnMarkers request for one broker.
type Markers struct {
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32
	Commit           bool
	// TransactionVersion is 2 when the markers end a transaction with an
	// epoch bump for a client of transaction version 2 (WriteTxnMarkers
	// v2, KIP-1228), else 0.
	TransactionVersion int8
	Partitions         []TopicPartition
}

// SendMarkers delivers markers to the leader node of their partitions and
// returns the outcome of each; an error means none is known written.
type SendMarkers func(ctx context.Context, node int32, m Markers) (map[TopicPartition]MarkerOutcome, error)

// loadReadBytes is transaction.state.log.load.buffer.size's default.
const loadReadBytes = 5 << 20

// markerBackoff bounds the wait between rounds of markers that must be
// sent again.
const (
	markerBackoffMin = 20 * time.Millisecond
	markerBackoffMax = time.Second
)

// shard owns the transactions of one __transaction_state partition: one
// goroutine (run) loads the partition, then serves requests sent as
// closures on inbox and fires timeouts. Writes are appended from that
// goroutine; a waiter goroutine per write waits for replication, and a
// goroutine per completing transaction delivers its markers; both report
// back through inbox.
type shard struct {
	index            int32
	coordinatorEpoch int32
	log              Log
	set              *txnSet
	logger           *slog.Logger
	now              func() time.Time
	image            func() *metadata.Image
	send             SendMarkers
	checkEach        time.Duration // transaction.abort.timed.out.transaction.cleanup.interval.ms
	expireEach       time.Duration // transaction.remove.expired.transaction.cleanup.interval.ms
	loadBytes        int           // transaction.state.log.load.buffer.size

	inbox    chan func()
	stop     chan struct{}
	done     chan struct{}
	loaded   atomic.Bool
	failed   atomic.Bool
	loadDone chan struct{}
	stopOnce sync.Once

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Owned by the run goroutine:
	deferred []func()
}

// do runs fn on the shard goroutine with the current time.
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

func (s *shard) requestStop() { s.stopOnce.Do(func() { close(s.stop) }) }

func (s *shard) run() {
	defer close(s.done)
	start := s.now()
	if err := s.load(); err != nil {
		s.failed.Store(true)
		close(s.loadDone)
		s.logger.Error("cannot load transactions; the partition's transactional ids are unavailable", "err", err)
		<-s.stop
		s.shutdown()
		return
	}
	s.loaded.Store(true)
	close(s.loadDone)
	s.logger.Info("loaded transactions", "transactional_ids", len(s.set.txns), "took", s.now().Sub(start))
	if ids := s.set.resume(); len(ids) > 0 {
		s.logger.Info("completing transactions a previous coordinator prepared", "transactional_ids", ids)
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	checkAt := s.now().Add(s.checkEach)
	expireAt := s.now().Add(s.expireEach)
	for {
		now := s.now()
		wake := min(checkAt.Sub(now), expireAt.Sub(now))
		timer.Reset(max(wake, 0))
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
		if !now.Before(checkAt) || !now.Before(expireAt) {
			// One pass does both; expiry is cheap and rare.
			if aborted, expired := s.set.tick(now); aborted+expired > 0 {
				s.logger.Info("transaction timeouts", "aborted", aborted, "expired_ids", expired)
			}
			checkAt = now.Add(s.checkEach)
			if !now.Before(expireAt) {
				expireAt = now.Add(s.expireEach)
			}
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

// shutdown stops the waiters and marker rounds; requests waiting for them
// get NOT_COORDINATOR when their channel is abandoned (see wait).
func (s *shard) shutdown() {
	s.cancel()
	s.wg.Wait()
}

// load reads the partition from its start to its log end (after the high
// watermark reached it) and rebuilds the transactions.
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
	pos := s.log.LogStartOffset()
	for pos < end {
		select {
		case <-s.stop:
			return errors.New("stopped while loading")
		default:
		}
		readBytes := s.loadBytes
		if readBytes <= 0 {
			readBytes = loadReadBytes
		}
		data, err := s.log.Read(pos, readBytes, true)
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
				break
			}
			batch := data[:h.Size()]
			data = data[h.Size():]
			if h.NextOffset() <= pos {
				continue
			}
			if !h.IsControl() {
				recs, err := record.Records(batch)
				if err != nil {
					return fmt.Errorf("records at offset %d: %w", h.BaseOffset, err)
				}
				for _, r := range recs {
					if r.Offset < pos || r.Key == nil {
						continue
					}
					id, m, err := decodeRecord(r.Key, r.Value)
					if err != nil {
						s.logger.Warn("skipping undecodable record", "offset", r.Offset, "err", err)
						continue
					}
					if m == nil {
						delete(s.set.txns, id)
						continue
					}
					s.set.txns[id] = &entry{meta: *m}
				}
			}
			pos = h.NextOffset()
		}
		if pos == before {
			return fmt.Errorf("no complete batch at offset %d", pos)
		}
	}
	return nil
}

// write implements store.
func (s *shard) write(id string, m *Metadata, done func(now time.Time, err error)) {
	b := record.NewBuilder()
	var value []byte
	if m != nil {
		value = stateValue(m)
	}
	b.Add(s.now().UnixMilli(), stateKey(id), value)
	batch, err := b.Build(record.CodecNone)
	var res partition.AppendResult
	if err == nil {
		res, err = s.log.Append(batch, -1)
	}
	if err != nil {
		err = storeError(err)
		s.logger.Warn("cannot write to the transaction state partition", "err", err)
		s.deferred = append(s.deferred, func() { done(s.now(), err) })
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.log.WaitReplicated(s.ctx, res.End)
		if err != nil {
			err = storeError(err)
		}
		select {
		case s.inbox <- func() { done(s.now(), err) }:
		case <-s.stop:
		}
	}()
}

// sendMarkers implements store: one goroutine delivers the markers,
// retrying partitions whose leaders are moving, until all are written or
// the shard stops (the next coordinator resumes from the prepared state).
func (s *shard) sendMarkers(m Metadata, commit bool, done func(now time.Time)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if !s.deliver(m, commit) {
			return
		}
		select {
		case s.inbox <- func() { done(s.now()) }:
		case <-s.stop:
		}
	}()
}

func (s *shard) deliver(m Metadata, commit bool) bool {
	remaining := slices.Clone(m.Partitions)
	backoff := markerBackoffMin
	for len(remaining) > 0 {
		im := s.image()
		byNode := map[int32][]TopicPartition{}
		var again []TopicPartition
		for _, tp := range remaining {
			t := im.Topics[tp.Topic]
			if t == nil || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
				continue // deleted: nothing to mark
			}
			if leader := t.Partitions[tp.Partition].Leader; leader >= 0 {
				byNode[leader] = append(byNode[leader], tp)
			} else {
				again = append(again, tp)
			}
		}
		tv := m.markerVersion()
		for node, tps := range byNode {
			ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
			out, err := s.send(ctx, node, Markers{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch,
				CoordinatorEpoch: s.coordinatorEpoch, Commit: commit, TransactionVersion: tv, Partitions: tps})
			cancel()
			if err != nil {
				s.logger.Debug("sending transaction markers", "node", node, "transactional_id", m.ID, "err", err)
				again = append(again, tps...)
				continue
			}
			for _, tp := range tps {
				switch o, ok := out[tp]; {
				case !ok || o == MarkerRetry:
					again = append(again, tp)
				case o == MarkerDropped:
					s.logger.Info("transaction marker not needed", "transactional_id", m.ID, "topic", tp.Topic, "partition", tp.Partition)
				}
			}
		}
		remaining = again
		if len(remaining) == 0 {
			break
		}
		select {
		case <-time.After(backoff):
		case <-s.ctx.Done():
			return false
		}
		backoff = min(2*backoff, markerBackoffMax)
	}
	return s.ctx.Err() == nil
}

// storeError turns a partition error into the coordinator's.
func storeError(err error) error {
	switch {
	case errors.Is(err, partition.ErrClosed), errors.Is(err, commitlog.ErrClosed), errors.Is(err, context.Canceled),
		errors.Is(err, partition.ErrNotLeader):
		return ErrNotCoordinator
	default:
		return fmt.Errorf("%w: %v", ErrCoordinatorNotAvailable, err)
	}
}
