package group

// Transactional offset commits (TxnOffsetCommit, KIP-98/447): a
// producer's commits are written to the group's offsets partition in a
// transactional batch (its producer id and epoch, no sequence) and stay
// pending until the transaction coordinator's marker reaches that
// partition (CompleteTxn): COMMIT makes them the group's offsets, ABORT
// drops them. Loading replays the same rule from the log: transactional
// records are held per producer until their marker.

import (
	"context"
	"errors"
	"time"

	"github.com/arus-io/arus/internal/record"
)

// TxnCommitRequest is a TxnOffsetCommit.
type TxnCommitRequest struct {
	Group         string
	ProducerID    int64
	ProducerEpoch int16
	// Generation, MemberID and InstanceID (v3+, KIP-447) are checked like
	// an OffsetCommit's when given; -1 and "" skip the check.
	Generation int32
	MemberID   string
	InstanceID *string
	Offsets    []CommitOffset
}

// txnOffsets are the pending transactional commits of one partition:
// producer id -> group -> partition -> commit.
type txnOffsets map[int64]map[string]map[TopicPartition]offsetEntry

func (t txnOffsets) put(pid int64, group string, tp TopicPartition, e offsetEntry) {
	byGroup := t[pid]
	if byGroup == nil {
		byGroup = map[string]map[TopicPartition]offsetEntry{}
		t[pid] = byGroup
	}
	offs := byGroup[group]
	if offs == nil {
		offs = map[TopicPartition]offsetEntry{}
		byGroup[group] = offs
	}
	offs[tp] = e
}

// pending reports whether a transaction has an uncommitted commit of
// group's partition tp (OffsetFetch with RequireStable).
func (t txnOffsets) pending(group string, tp TopicPartition) bool {
	for _, byGroup := range t {
		if _, ok := byGroup[group][tp]; ok {
			return true
		}
	}
	return false
}

// txnCommit handles TxnOffsetCommit: reply gets one error per offset once
// the records are durable.
func (s *groupSet) txnCommit(now time.Time, req *TxnCommitRequest, reply func([]error)) {
	errs := make([]error, len(req.Offsets))
	fail := func(err error) {
		for i := range errs {
			errs[i] = err
		}
		reply(errs)
	}
	g := s.groups[req.Group]
	if g == nil {
		if req.Generation >= 0 || req.MemberID != "" {
			fail(ErrIllegalGeneration)
			return
		}
		g = s.getOrCreate(req.Group, now)
	}
	if req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil {
		if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
			fail(err)
			return
		}
		if req.Generation != g.generation {
			fail(ErrIllegalGeneration)
			return
		}
	}
	var records []keyValue
	var written []int
	for i, c := range req.Offsets {
		if len(c.Metadata) > s.set.offsetMetadataMax {
			errs[i] = ErrOffsetMetadataTooLarge
			continue
		}
		o := Offset{Offset: c.Offset, LeaderEpoch: c.LeaderEpoch, Metadata: c.Metadata, CommitTime: now}
		records = append(records, keyValue{Key: offsetKey(g.id, c.TopicPartition), Value: offsetValue(o)})
		written = append(written, i)
	}
	if len(records) == 0 {
		reply(errs)
		return
	}
	s.store.appendTxn(g, req.ProducerID, req.ProducerEpoch, records, func(_ time.Time, base int64, err error) {
		for j, i := range written {
			if err != nil {
				errs[i] = err
				if errors.Is(err, errRecordTooLarge) {
					errs[i] = ErrInvalidCommitOffsetSize
				}
				continue
			}
			c := req.Offsets[i]
			s.txns.put(req.ProducerID, g.id, c.TopicPartition, offsetEntry{
				Offset:    Offset{Offset: c.Offset, LeaderEpoch: c.LeaderEpoch, Metadata: c.Metadata, CommitTime: now},
				logOffset: base + int64(j),
			})
		}
		reply(errs)
	})
}

// completeTxn applies (commit) or drops (abort) the producer's pending
// commits once its marker is in the partition.
func (s *groupSet) completeTxn(now time.Time, pid int64, commit bool) {
	byGroup := s.txns[pid]
	delete(s.txns, pid)
	if !commit {
		return
	}
	for id, offs := range byGroup {
		g := s.groups[id]
		if g == nil || g.state == StateDead {
			g = s.getOrCreate(id, now) // its only commits were these
		}
		for tp, e := range offs {
			g.applyOffset(tp, e)
		}
	}
}

// TxnCommitOffsets serves TxnOffsetCommit; one error per req.Offsets entry.
func (c *Coordinator) TxnCommitOffsets(ctx context.Context, req TxnCommitRequest) []error {
	fail := func(err error) []error {
		errs := make([]error, len(req.Offsets))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	if req.Group == "" {
		return fail(ErrInvalidGroupID)
	}
	s, err := c.shardFor(req.Group)
	if err != nil {
		return fail(err)
	}
	ch, reply := replier[[]error]()
	if err := s.do(ctx, func(now time.Time) { s.set.txnCommit(now, &req, reply) }); err != nil {
		return fail(err)
	}
	errs, err := wait(ctx, s, ch)
	if err != nil {
		return fail(err)
	}
	return errs
}

// CompleteTxn tells the coordinator of offsets partition index that the
// producer's transaction marker is durable there. It returns once the
// commits are applied (or the shard is gone: a new one loads them from
// the log).
func (c *Coordinator) CompleteTxn(ctx context.Context, index int32, pid int64, commit bool) {
	c.mu.Lock()
	s := c.mu.shards[index]
	c.mu.Unlock()
	if s == nil {
		return
	}
	ch, reply := replier[struct{}]()
	if err := s.do(ctx, func(now time.Time) {
		s.set.completeTxn(now, pid, commit)
		reply(struct{}{})
	}); err != nil {
		return
	}
	_, _ = wait(ctx, s, ch)
}

// appendTxn implements store: like append, as a transactional batch of
// the producer, through the partition's coordinator path.
func (s *shard) appendTxn(g *group, pid int64, epoch int16, records []keyValue, done func(now time.Time, base int64, err error)) {
	b := record.NewBuilder()
	b.ProducerID, b.ProducerEpoch, b.Attributes = pid, epoch, record.AttrTransactional
	ts := s.now().UnixMilli()
	for _, r := range records {
		b.Add(ts, r.Key, r.Value)
	}
	s.write(g, b, true, done)
}
