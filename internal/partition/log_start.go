package partition

import (
	"errors"
	"fmt"

	"github.com/arus-io/arus/internal/commitlog"
)

// ErrPolicyViolation is returned by DeleteRecords on a topic whose
// cleanup.policy does not include delete (Kafka's PolicyViolationException
// in Partition.deleteRecordsOnLeader).
var ErrPolicyViolation = errors.New("partition: records cannot be deleted due to the configured policy")

// HighWatermarkOffset is DeleteRecords' offset -1: "up to the high watermark".
const HighWatermarkOffset = -1

// DeleteRecords moves a leader's log start offset to offset (or to the high
// watermark for HighWatermarkOffset), as Kafka's
// Partition.deleteRecordsOnLeader: records below it are gone for consumers
// at once, followers take the new start from their next fetch, and
// retention deletes the segments below it. It returns the offset asked for
// after resolving -1. Errors: ErrNotLeader, ErrClosed, ErrPolicyViolation,
// commitlog.ErrOffsetOutOfRange for a negative offset or one above the high
// watermark, ErrStorage when the new start could not be made durable.
func (p *Partition) DeleteRecords(offset int64) (int64, error) {
	p.mu.Lock()
	switch {
	case p.mu.closed:
		p.mu.Unlock()
		return -1, ErrClosed
	case !p.mu.role.IsLeader():
		p.mu.Unlock()
		return -1, ErrNotLeader
	}
	p.mu.Unlock()
	if !p.conf.Load().CleanupDelete {
		return -1, fmt.Errorf("%w: %s-%d", ErrPolicyViolation, p.topic, p.index)
	}
	hw := p.hw.Load()
	if offset == HighWatermarkOffset {
		offset = hw
	}
	switch {
	case offset < 0:
		return -1, fmt.Errorf("%w: the offset %d for partition %s-%d is not valid", commitlog.ErrOffsetOutOfRange, offset, p.topic, p.index)
	case offset > hw:
		return -1, fmt.Errorf("%w: cannot increment the log start offset to %d of partition %s-%d since it is larger than the high watermark %d",
			commitlog.ErrOffsetOutOfRange, offset, p.topic, p.index, hw)
	}
	moved, err := p.log.IncrementLogStartOffset(offset)
	if err != nil {
		if errors.Is(err, commitlog.ErrClosed) {
			return -1, ErrClosed
		}
		return -1, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	if moved {
		// Followers long-polling on the leader answer now and learn the new
		// start; DeleteRecords waiters look at the low watermark again.
		p.notify.Lock()
		close(p.notify.leoChanged)
		p.notify.leoChanged = make(chan struct{})
		p.notify.Unlock()
		p.signalLowWatermark()
		p.snapshotProducers() // keep producer state past the new start (retention does the same)
	}
	return offset, nil
}

// LowWatermark is the smallest log start offset over this leader and the
// followers on alive brokers (Kafka's Partition.lowWatermarkIfLeader): a
// DeleteRecords request is complete once it reaches the offset asked for.
// A follower that has not fetched since this leadership began counts as -1.
func (p *Partition) LowWatermark(alive func(broker int32) bool) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return -1, ErrClosed
	}
	if !p.mu.role.IsLeader() {
		return -1, ErrNotLeader
	}
	low := p.log.LogStartOffset()
	if p.mu.tracker == nil {
		return low, nil
	}
	for id, f := range p.mu.tracker.followers {
		if alive(id) && f.logStart < low {
			low = f.logStart
		}
	}
	return low, nil
}

// LowWatermarkChanged returns a channel closed the next time the low
// watermark may have moved: this leader's start or a follower's reported one.
func (p *Partition) LowWatermarkChanged() <-chan struct{} {
	p.lowWM.Lock()
	defer p.lowWM.Unlock()
	if p.lowWM.changed == nil {
		p.lowWM.changed = make(chan struct{})
	}
	return p.lowWM.changed
}

func (p *Partition) signalLowWatermark() {
	p.lowWM.Lock()
	defer p.lowWM.Unlock()
	if p.lowWM.changed != nil {
		close(p.lowWM.changed)
		p.lowWM.changed = nil
	}
}

// ObserveFollowerLogStart records the log start offset a follower sent in
// its fetch (FetchRequest LogStartOffset, v5+), for LowWatermark.
func (p *Partition) ObserveFollowerLogStart(replicaID int32, logStart int64) {
	p.mu.Lock()
	var f *followerState
	if p.mu.tracker != nil {
		f = p.mu.tracker.followers[replicaID]
	}
	changed := f != nil && f.logStart != logStart
	if changed {
		f.logStart = logStart
	}
	p.mu.Unlock()
	if changed {
		p.signalLowWatermark()
	}
}

// FollowLeaderLogStart moves a follower's log start offset up to the
// leader's, bounded by its own high watermark, as Kafka's replica fetcher
// does with the fetch response's LogStartOffset. Records the leader deleted
// disappear here too, and retention deletes the segments below.
func (p *Partition) FollowLeaderLogStart(leaderLogStart int64) error {
	p.mu.Lock()
	closed, leader := p.mu.closed, p.mu.role.IsLeader()
	p.mu.Unlock()
	if closed || leader {
		return nil
	}
	target := min(leaderLogStart, p.hw.Load())
	if target <= p.log.LogStartOffset() {
		return nil
	}
	_, err := p.log.IncrementLogStartOffset(target)
	if errors.Is(err, commitlog.ErrClosed) {
		return nil
	}
	return err
}

// OffsetLag is DescribeLogDirs' OffsetLag: how far this replica's log end
// is behind the partition's high watermark (Kafka's
// ReplicaManager.getLogEndOffsetLag). A leader is never behind; a follower
// compares with the leader's high watermark from its last fetch.
func (p *Partition) OffsetLag() int64 {
	p.mu.Lock()
	hw := p.hw.Load()
	if !p.mu.role.IsLeader() {
		hw = max(hw, p.mu.leaderHW)
	}
	p.mu.Unlock()
	return max(hw-p.log.LogEndOffset(), 0)
}
