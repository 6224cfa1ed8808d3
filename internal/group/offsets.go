package group

import (
	"cmp"
	"errors"
	"slices"
	"time"
)

// validateCommit decides whether an OffsetCommit may write, as Kafka 4's
// ClassicGroup.validateOffsetCommit does: a commit without a generation
// is accepted only while the group is empty (admin tools, consumers
// without group management); otherwise the member and generation must be
// current, and not while the leader's assignment is pending.
func (g *group) validateCommit(now time.Time, req *CommitRequest) error {
	if g.state == StateDead {
		return ErrCoordinatorNotAvailable
	}
	if req.Generation < 0 && g.state == StateEmpty {
		return nil
	}
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
			return err
		}
		if req.Generation != g.generation {
			return ErrIllegalGeneration
		}
	} else if g.state != StateEmpty {
		return ErrUnknownMemberID
	}
	if g.state == StateCompletingRebalance {
		return ErrRebalanceInProgress
	}
	if m, ok := g.members[req.MemberID]; ok {
		// A commit is as good as a heartbeat (Kafka 3.x does the same).
		m.deadline = now.Add(m.sessionTimeout)
	}
	return nil
}

// commit validates and writes the commits of req; reply gets one error
// per req.Offsets entry once they are durable (or failed).
func (g *group) commit(now time.Time, req *CommitRequest, isCurrent func() bool, reply func([]error)) {
	errs := make([]error, len(req.Offsets))
	if err := g.validateCommit(now, req); err != nil {
		for i := range errs {
			errs[i] = err
		}
		reply(errs)
		return
	}
	var records []keyValue
	var written []int // index into req.Offsets of each record
	values := make([]Offset, 0, len(req.Offsets))
	for i, c := range req.Offsets {
		if len(c.Metadata) > g.set.offsetMetadataMax {
			errs[i] = ErrOffsetMetadataTooLarge
			continue
		}
		o := Offset{Offset: c.Offset, LeaderEpoch: c.LeaderEpoch, Metadata: c.Metadata, CommitTime: c.CommitTime}
		if o.CommitTime.IsZero() {
			o.CommitTime = now
		}
		if req.Retention > 0 {
			o.ExpireTime = now.Add(req.Retention)
		}
		records = append(records, keyValue{Key: offsetKey(g.id, c.TopicPartition), Value: offsetValue(o)})
		written = append(written, i)
		values = append(values, o)
	}
	if len(records) == 0 {
		reply(errs)
		return
	}
	for _, i := range written {
		g.pendingCommits[req.Offsets[i].TopicPartition]++
	}
	g.store.append(g, records, func(_ time.Time, base int64, err error) {
		for j, i := range written {
			tp := req.Offsets[i].TopicPartition
			if g.pendingCommits[tp]--; g.pendingCommits[tp] <= 0 {
				delete(g.pendingCommits, tp)
			}
			if err != nil {
				if errors.Is(err, errRecordTooLarge) {
					errs[i] = ErrInvalidCommitOffsetSize
				} else {
					errs[i] = err
				}
				continue
			}
			// A group deleted (or recreated) meanwhile keeps what its
			// tombstones said.
			if g.state != StateDead && isCurrent() {
				g.applyOffset(tp, offsetEntry{Offset: values[j], logOffset: base + int64(j)})
			}
		}
		reply(errs)
	})
}

// applyOffset caches a durable commit unless a later one is cached.
func (g *group) applyOffset(tp TopicPartition, e offsetEntry) {
	if old, ok := g.offsets[tp]; ok && old.logOffset > e.logOffset {
		return
	}
	g.offsets[tp] = e
}

// fetch returns the committed offsets of partitions, or of every
// committed partition when partitions is nil, sorted.
func (g *group) fetch(partitions []TopicPartition) []FetchedOffset {
	if partitions == nil {
		out := make([]FetchedOffset, 0, len(g.offsets))
		for tp, e := range g.offsets {
			out = append(out, fetched(tp, e))
		}
		sortFetched(out)
		return out
	}
	out := make([]FetchedOffset, len(partitions))
	for i, tp := range partitions {
		e, ok := g.offsets[tp]
		if !ok {
			out[i] = FetchedOffset{TopicPartition: tp, Offset: -1, LeaderEpoch: -1}
			continue
		}
		out[i] = fetched(tp, e)
	}
	return out
}

func fetched(tp TopicPartition, e offsetEntry) FetchedOffset {
	return FetchedOffset{TopicPartition: tp, Offset: e.Offset.Offset, LeaderEpoch: e.LeaderEpoch, Metadata: e.Metadata}
}

func sortFetched(out []FetchedOffset) {
	slices.SortFunc(out, func(a, b FetchedOffset) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
}

// expiredOffsets removes and returns the offsets past retention, by
// KIP-211's rules: in an empty group, every offset once the group has been
// empty for the retention (or, without a state timestamp, since the
// commit); in a stable consumer group, offsets of topics no member
// subscribes to, by commit time; in a group without a protocol (offsets
// only), by commit time. Offsets with an explicit expire time (old
// clients) expire then. Offsets with a commit in flight never expire.
func (g *group) expiredOffsets(now time.Time, retention time.Duration) []TopicPartition {
	var base func(e offsetEntry) time.Time
	var subscribed map[string]bool
	switch {
	case g.protocolType != "" && g.state == StateEmpty:
		base = func(offsetEntry) time.Time { return g.stateSince }
	case g.protocolType == "consumer" && g.subscribed != nil && g.state == StateStable:
		base = func(e offsetEntry) time.Time { return e.CommitTime }
		subscribed = g.subscribed
	case g.protocolType == "":
		base = func(e offsetEntry) time.Time { return e.CommitTime }
	default:
		return nil
	}
	var out []TopicPartition
	for tp, e := range g.offsets {
		if subscribed[tp.Topic] || g.pendingCommits[tp] > 0 {
			continue
		}
		expired := !now.Before(base(e).Add(retention))
		if !e.ExpireTime.IsZero() {
			expired = !now.Before(e.ExpireTime)
		}
		if expired {
			out = append(out, tp)
		}
	}
	slices.SortFunc(out, func(a, b TopicPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	for _, tp := range out {
		delete(g.offsets, tp)
	}
	return out
}

// deletableOffsets splits partitions for OffsetDelete: an empty group may
// delete any; a consumer group with members only those of topics no
// member subscribes to. Other groups with members fail with
// ErrNonEmptyGroup.
func (g *group) deletableOffsets(partitions []TopicPartition) (deletable []TopicPartition, errs []error, err error) {
	errs = make([]error, len(partitions))
	switch {
	case g.state == StateDead:
		return nil, nil, ErrGroupIDNotFound
	case g.state == StateEmpty:
		return partitions, errs, nil
	case g.protocolType == "consumer":
		for i, tp := range partitions {
			if g.subscribed[tp.Topic] {
				errs[i] = ErrGroupSubscribedToTopic
				continue
			}
			deletable = append(deletable, tp)
		}
		return deletable, errs, nil
	}
	return nil, nil, ErrNonEmptyGroup
}
