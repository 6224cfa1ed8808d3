package partition

import (
	"errors"
	"fmt"
	"slices"

	"github.com/arus-io/arus/internal/commitlog"
	"github.com/arus-io/arus/internal/record"
)

// FollowerRead is what a leader answers a follower's fetch with.
type FollowerRead struct {
	Records        []byte
	HighWatermark  int64
	LogStartOffset int64
	LogEndOffset   int64
	// Diverging is set when the follower's log diverged from ours: it must
	// truncate to DivergingEndOffset (of epoch DivergingEpoch) first.
	Diverging          bool
	DivergingEpoch     int32
	DivergingEndOffset int64
}

// FollowerFetch serves a follower's fetch on the leader (KIP-101/279/320
// replica fetch): it checks the follower's last fetched epoch against the
// leader-epoch cache, records the follower's log end offset (its fetch
// offset), advances the high watermark and reads up to the log end.
func (p *Partition) FollowerFetch(replicaID int32, fetchOffset int64, lastFetchedEpoch int32, maxBytes int) (FollowerRead, error) {
	var out FollowerRead
	p.mu.Lock()
	r := p.mu.role
	switch {
	case p.mu.closed:
		p.mu.Unlock()
		return out, ErrClosed
	case !r.IsLeader():
		p.mu.Unlock()
		return out, ErrNotLeader
	case !slices.Contains(r.Replicas, replicaID) || replicaID == r.Self:
		p.mu.Unlock()
		return out, fmt.Errorf("%w: broker %d, replicas %v", ErrUnknownReplica, replicaID, r.Replicas)
	}
	leo := p.log.LogEndOffset()
	if lastFetchedEpoch >= 0 {
		epoch, end := p.mu.epochs.endOffsetFor(lastFetchedEpoch, leo)
		if epoch != lastFetchedEpoch || end < fetchOffset {
			p.mu.Unlock()
			out.Diverging, out.DivergingEpoch, out.DivergingEndOffset = true, epoch, end
			out.HighWatermark, out.LogStartOffset, out.LogEndOffset = p.hw.Load(), p.log.LogStartOffset(), leo
			return out, nil
		}
	}
	if fetchOffset > leo {
		p.mu.Unlock()
		return out, fmt.Errorf("follower %d fetch at %d past the log end %d: %w", replicaID, fetchOffset, leo, commitlog.ErrOffsetOutOfRange)
	}
	p.mu.tracker.fetched(replicaID, fetchOffset, leo, p.now())
	p.maybeAdvanceHWLocked()
	p.mu.Unlock()

	// A follower behind our log start (retention) continues from it: its
	// log accepts a gap, as it does for a compacted log.
	data, err := p.log.Read(max(fetchOffset, p.log.LogStartOffset()), leo, maxBytes, true)
	if err != nil {
		return out, err
	}
	out.Records = data
	out.HighWatermark, out.LogStartOffset, out.LogEndOffset = p.hw.Load(), p.log.LogStartOffset(), leo
	return out, nil
}

// ISRChange is a proposed new ISR for the controller (AlterPartition).
type ISRChange struct {
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []int32
}

// ProposeISR returns the ISR the leader wants now: followers that have not
// caught up within replica.lag.time.max.ms leave, followers that reached
// the high watermark (and this leader epoch's start) join. ok is false when
// nothing should change.
func (p *Partition) ProposeISR() (ISRChange, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.mu.role
	if !r.IsLeader() || p.mu.closed || p.mu.tracker == nil {
		return ISRChange{}, false
	}
	isr, changed := p.mu.tracker.proposeISR(p.now(), p.hw.Load(), p.replicaLagMax)
	if !changed {
		return ISRChange{}, false
	}
	return ISRChange{LeaderEpoch: r.LeaderEpoch, PartitionEpoch: r.PartitionEpoch, ISR: isr}, true
}

// ISRChangeFailed tells the leader its last proposal was not committed
// (AlterPartition failed): followers it proposed to add stop counting for
// the high watermark, which follows the committed ISR again.
func (p *Partition) ISRChangeFailed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.tracker == nil {
		return
	}
	p.mu.tracker.pending = nil
	p.maybeAdvanceHWLocked()
}

// FetchPosition is where a follower fetches next.
type FetchPosition struct {
	Offset           int64
	LastFetchedEpoch int32
	LeaderEpoch      int32
	Leader           int32
}

// FollowerPosition returns the follower's next fetch position; ok is false
// when this replica leads or is closed.
func (p *Partition) FollowerPosition() (FetchPosition, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.mu.role
	if r.IsLeader() || p.mu.closed || r.Leader < 0 {
		return FetchPosition{}, false
	}
	return FetchPosition{
		Offset: p.log.LogEndOffset(), LastFetchedEpoch: p.mu.epochs.latest(),
		LeaderEpoch: r.LeaderEpoch, Leader: r.Leader,
	}, true
}

// ErrRoleChanged: the follower's role changed while a fetch was in flight;
// its response is dropped.
var ErrRoleChanged = errors.New("partition: role changed during fetch")

// AppendFromLeader appends what a follower fetched, keeping the leader's
// offsets and epochs, then takes the leader's high watermark (bounded by
// its own log end).
func (p *Partition) AppendFromLeader(leaderEpoch int32, batches []byte, leaderHW int64) error {
	// appendMu: the role checked here holds until the state update (a
	// leadership change waits for it), and the disk write runs without mu.
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.mu.Lock()
	closed, changed := p.mu.closed, p.mu.role.IsLeader() || p.mu.role.LeaderEpoch != leaderEpoch
	p.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case changed:
		return ErrRoleChanged
	}
	var err error
	if len(batches) > 0 {
		if _, err = p.log.AppendAsFollower(batches); err != nil {
			return err
		}
	}
	p.mu.Lock()
	var epochs epochCache
	writeEpochs := false
	if len(batches) > 0 {
		// Producer state and epochs follow the leader's batches.
		writeEpochs, err = p.observeBatchesLocked(batches)
		epochs = p.mu.epochs
		p.appendedLocked(p.log.LogEndOffset())
	}
	p.mu.leaderHW = leaderHW
	p.setHW(min(leaderHW, p.mu.stateEnd))
	p.mu.Unlock()
	if writeEpochs {
		if werr := writeEpochCheckpoint(p.dir, epochs); werr != nil {
			p.logger.Warn("write leader epoch checkpoint", "err", werr)
		}
	}
	if len(batches) > 0 {
		p.signalAppended()
	}
	return err
}

// TruncateTo drops the log at and after offset (a diverged tail) and
// rebuilds the producer state and epoch cache.
func (p *Partition) TruncateTo(offset int64) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.mu.Lock()
	closed := p.mu.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if offset >= p.log.LogEndOffset() {
		return nil
	}
	p.logger.Info("truncating diverged log", "from", p.log.LogEndOffset(), "to", offset)
	// The cut and its fsyncs run without mu; appendMu keeps appends out.
	if err := p.log.TruncateTo(offset); err != nil {
		return err
	}
	p.mu.Lock()
	p.mu.truncations++
	p.mu.synced = min(p.mu.synced, offset)
	p.mu.stateEnd = offset
	if p.flushed.Load() > offset {
		p.flushed.Store(offset)
	}
	p.mu.epochs = p.mu.epochs.truncateFrom(offset)
	epochs := p.mu.epochs
	p.mu.Unlock()
	_ = writeEpochCheckpoint(p.dir, epochs)
	// Producer state is rebuilt from the log (truncation is rare).
	producers := map[int64]*producerEntry{}
	err := p.log.ScanBatches(p.log.LogStartOffset(), func(h record.Header) error {
		if h.ProducerID >= 0 {
			e := producers[h.ProducerID]
			if e == nil {
				e = &producerEntry{Epoch: h.ProducerEpoch}
				producers[h.ProducerID] = e
			}
			e.observe(&h, h.MaxTimestamp)
		}
		return nil
	})
	if err != nil {
		p.mu.Lock()
		p.mu.producers = producers
		p.mu.Unlock()
		return err
	}
	txns, err := p.scanTxns()
	p.mu.Lock()
	p.mu.producers = producers
	if err == nil {
		p.mu.txns = txns
	}
	p.mu.Unlock()
	return err
}
