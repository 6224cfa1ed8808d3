package group

import (
	"container/heap"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupSet holds the groups of one __consumer_offsets partition and
// routes requests to them. Like group it is a pure core: the shard owns
// it from one goroutine, passes the time in, and calls tick when
// nextWake is reached.
type groupSet struct {
	set    *settings
	store  store
	groups map[string]*group
	timers deadlineHeap
	// txns are the transactional commits waiting for their markers.
	txns txnOffsets
}

func newGroupSet(set *settings, st store) *groupSet {
	return &groupSet{set: set, store: st, groups: map[string]*group{}, txns: txnOffsets{}}
}

// schedule queues g's next deadline unless an earlier one is queued. A
// queued deadline that turns out early is harmless: tick finds nothing
// due and queues the real one.
func (s *groupSet) schedule(g *group) {
	next := g.nextDeadline()
	if next.IsZero() || (!g.scheduled.IsZero() && !next.Before(g.scheduled)) {
		return
	}
	g.scheduled = next
	heap.Push(&s.timers, deadlineEntry{at: next, group: g})
}

// nextWake is when tick should run next; zero when nothing is scheduled.
func (s *groupSet) nextWake() time.Time {
	if len(s.timers) == 0 {
		return time.Time{}
	}
	return s.timers[0].at
}

// tick fires the due timers of every group.
func (s *groupSet) tick(now time.Time) {
	for len(s.timers) > 0 && !s.timers[0].at.After(now) {
		e := heap.Pop(&s.timers).(deadlineEntry)
		g := e.group
		if !g.scheduled.Equal(e.at) || s.groups[g.id] != g {
			continue // superseded by an earlier deadline, or the group is gone
		}
		g.scheduled = time.Time{}
		g.tick(now)
		s.schedule(g)
	}
}

func (s *groupSet) group(id string) *group { return s.groups[id] }

func (s *groupSet) getOrCreate(id string, now time.Time) *group {
	g := s.groups[id]
	if g == nil {
		g = newGroup(id, s.set, s.store, now)
		s.groups[id] = g
	}
	return g
}

// join handles JoinGroup (the group id is already validated).
func (s *groupSet) join(now time.Time, req *JoinRequest, reply func(JoinResult)) {
	if req.SessionTimeout < s.set.minSessionTimeout || req.SessionTimeout > s.set.maxSessionTimeout {
		reply(joinError(req.MemberID, ErrInvalidSessionTimeout))
		return
	}
	g := s.groups[req.Group]
	if g == nil {
		// Only a member without an id may create a group.
		if req.MemberID != "" {
			reply(joinError(req.MemberID, ErrUnknownMemberID))
			return
		}
		g = s.getOrCreate(req.Group, now)
	}
	g.join(now, req, reply)
	s.schedule(g)
}

func (s *groupSet) sync(now time.Time, req *SyncRequest, reply func(SyncResult)) {
	g := s.groups[req.Group]
	if g == nil {
		reply(SyncResult{Err: ErrUnknownMemberID})
		return
	}
	g.sync(now, req, reply)
	s.schedule(g)
}

func (s *groupSet) heartbeat(now time.Time, req *HeartbeatRequest) error {
	g := s.groups[req.Group]
	if g == nil {
		return ErrUnknownMemberID
	}
	err := g.heartbeat(now, req)
	s.schedule(g)
	return err
}

func (s *groupSet) leave(now time.Time, id string, members []LeaveMember) ([]error, error) {
	g := s.groups[id]
	if g == nil {
		errs := make([]error, len(members))
		for i := range errs {
			errs[i] = ErrUnknownMemberID
		}
		return errs, nil
	}
	errs, err := g.leave(now, members)
	s.schedule(g)
	return errs, err
}

// commit handles OffsetCommit.
func (s *groupSet) commit(now time.Time, req *CommitRequest, reply func([]error)) {
	g := s.groups[req.Group]
	if g == nil {
		if req.Generation >= 0 {
			err := ErrIllegalGeneration
			if req.MissingGroupNotFound {
				err = ErrGroupIDNotFound
			}
			errs := make([]error, len(req.Offsets))
			for i := range errs {
				errs[i] = err
			}
			reply(errs)
			return
		}
		// A commit outside group management creates a "simple" group.
		g = s.getOrCreate(req.Group, now)
	}
	g.commit(now, req, func() bool { return s.groups[g.id] == g }, reply)
	s.schedule(g)
}

// fetch handles OffsetFetch: offsets are returned whatever the group's
// state, and for unknown groups as "none committed".
func (s *groupSet) fetch(id string, partitions []TopicPartition) []FetchedOffset {
	g := s.groups[id]
	if g == nil {
		g = newGroup(id, s.set, s.store, time.Time{})
	}
	out := g.fetch(partitions)
	if len(s.txns) > 0 {
		for i := range out {
			out[i].Unstable = s.txns.pending(id, out[i].TopicPartition)
		}
	}
	return out
}

func (s *groupSet) describe(id string) (Description, error) {
	g := s.groups[id]
	if g == nil {
		return Description{Group: id, State: StateDead}, ErrGroupIDNotFound
	}
	return g.describe(), nil
}

func (s *groupSet) list() []Overview {
	out := make([]Overview, 0, len(s.groups))
	for _, id := range slices.Sorted(maps.Keys(s.groups)) {
		g := s.groups[id]
		out = append(out, Overview{Group: id, ProtocolType: g.protocolType, State: g.state})
	}
	return out
}

// deleteGroups deletes empty groups with their offsets; done gets one
// error per id once the tombstones are durable.
func (s *groupSet) deleteGroups(ids []string, done func([]error)) {
	errs := make([]error, len(ids))
	var records []keyValue
	for i, id := range ids {
		g := s.groups[id]
		switch {
		case g == nil || g.state == StateDead:
			errs[i] = ErrGroupIDNotFound
			continue
		case g.state != StateEmpty:
			errs[i] = ErrNonEmptyGroup
			continue
		}
		g.transition(StateDead, g.stateSince)
		records = append(records, s.removeGroupRecords(g)...)
	}
	if len(records) == 0 {
		done(errs)
		return
	}
	s.store.append(nil, records, func(_ time.Time, _ int64, err error) {
		for i := range errs {
			if errs[i] == nil && err != nil {
				errs[i] = err
			}
		}
		done(errs)
	})
}

// removeGroupRecords drops a dead group and returns the tombstones of its
// offsets and metadata.
func (s *groupSet) removeGroupRecords(g *group) []keyValue {
	var records []keyValue
	for _, tp := range slices.SortedFunc(maps.Keys(g.offsets), compareTP) {
		records = append(records, keyValue{Key: offsetKey(g.id, tp)})
	}
	clear(g.offsets)
	records = append(records, keyValue{Key: groupKey(g.id)})
	delete(s.groups, g.id)
	return records
}

func compareTP(a, b TopicPartition) int {
	if a.Topic != b.Topic {
		if a.Topic < b.Topic {
			return -1
		}
		return 1
	}
	return int(a.Partition) - int(b.Partition)
}

// deleteOffsets handles OffsetDelete; done gets the group error or one
// error per partition once the tombstones are durable.
func (s *groupSet) deleteOffsets(id string, partitions []TopicPartition, done func([]error, error)) {
	g := s.groups[id]
	if g == nil {
		done(nil, ErrGroupIDNotFound)
		return
	}
	deletable, errs, err := g.deletableOffsets(partitions)
	if err != nil {
		done(nil, err)
		return
	}
	var records []keyValue
	for _, tp := range deletable {
		if _, ok := g.offsets[tp]; ok {
			delete(g.offsets, tp)
			records = append(records, keyValue{Key: offsetKey(g.id, tp)})
		}
	}
	if g.state == StateEmpty && len(g.offsets) == 0 && len(records) > 0 {
		g.transition(StateDead, g.stateSince)
		records = append(records, s.removeGroupRecords(g)...)
	}
	if len(records) == 0 {
		done(errs, nil)
		return
	}
	s.store.append(nil, records, func(_ time.Time, _ int64, err error) {
		if err != nil {
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		}
		done(errs, nil)
	})
}

// expireOffsets deletes offsets past retention and then groups left
// empty without offsets, as Kafka's periodic cleanup does; it writes
// their tombstones without waiting for them. It returns how many offsets
// and groups it removed.
func (s *groupSet) expireOffsets(now time.Time, retention time.Duration) (offsets, groups int) {
	var records []keyValue
	for _, id := range slices.Sorted(maps.Keys(s.groups)) {
		g := s.groups[id]
		for _, tp := range g.expiredOffsets(now, retention) {
			records = append(records, keyValue{Key: offsetKey(id, tp)})
			offsets++
		}
		if g.state == StateEmpty && len(g.offsets) == 0 && len(g.pendingCommits) == 0 {
			g.transition(StateDead, now)
			records = append(records, s.removeGroupRecords(g)...)
			groups++
		}
	}
	if len(records) > 0 {
		s.store.append(nil, records, func(_ time.Time, _ int64, err error) {
			if err != nil {
				s.set.logger.Warn("cannot write tombstones of expired offsets", "err", err)
			}
		})
	}
	return offsets, groups
}

// unload answers everyone waiting with err and forgets every group.
func (s *groupSet) unload(err error) {
	for _, g := range s.groups {
		g.unload(err)
	}
	clear(s.groups)
	s.timers = nil
}

// loader rebuilds a groupSet from the records of its partition, read
// from the start: the last record per key wins, and tombstones delete.
type loader struct {
	offsets  map[string]map[TopicPartition]offsetEntry
	metadata map[string]*kmsg.GroupMetadataValue
	// txn holds transactional records per producer until their marker.
	txn map[int64][]txnRecord
}

type txnRecord struct {
	key, value []byte
	offset     int64
}

func newLoader() *loader {
	return &loader{offsets: map[string]map[TopicPartition]offsetEntry{}, metadata: map[string]*kmsg.GroupMetadataValue{},
		txn: map[int64][]txnRecord{}}
}

// addTxn holds a transactional record of producer pid.
func (l *loader) addTxn(pid int64, key, value []byte, offset int64) {
	l.txn[pid] = append(l.txn[pid], txnRecord{key: key, value: value, offset: offset})
}

// completeTxn applies (commit) or drops the producer's held records; a
// commit does not replace an offset committed later in the log.
func (l *loader) completeTxn(pid int64, commit bool, logger interface{ Warn(string, ...any) }) {
	recs := l.txn[pid]
	delete(l.txn, pid)
	if !commit {
		return
	}
	for _, r := range recs {
		d, err := decodeRecord(r.key, r.value)
		if err != nil || !d.isOffset {
			continue
		}
		if e, ok := l.offsets[d.group][d.partition]; ok && e.logOffset > r.offset {
			continue
		}
		if err := l.add(r.key, r.value, r.offset); err != nil {
			logger.Warn("skipping undecodable record", "offset", r.offset, "err", err)
		}
	}
}

// add applies one record at logOffset; records that do not decode are
// returned as errors for the caller to log and skip.
func (l *loader) add(key, value []byte, logOffset int64) error {
	r, err := decodeRecord(key, value)
	if err != nil {
		if err == errSkipRecord {
			return nil
		}
		return err
	}
	if r.isOffset {
		if r.offset == nil {
			delete(l.offsets[r.group], r.partition)
			return nil
		}
		m := l.offsets[r.group]
		if m == nil {
			m = map[TopicPartition]offsetEntry{}
			l.offsets[r.group] = m
		}
		o := Offset{
			Offset: r.offset.Offset, LeaderEpoch: r.offset.LeaderEpoch, Metadata: r.offset.Metadata,
			CommitTime: time.UnixMilli(r.offset.CommitTimestamp),
		}
		if r.offset.Version == 1 && r.offset.ExpireTimestamp > 0 {
			o.ExpireTime = time.UnixMilli(r.offset.ExpireTimestamp)
		}
		m[r.partition] = offsetEntry{Offset: o, logOffset: logOffset}
		return nil
	}
	if r.metadata == nil {
		delete(l.metadata, r.group)
		return nil
	}
	l.metadata[r.group] = r.metadata
	return nil
}

// finish installs the loaded groups into s. Groups with members are
// Stable (their members must heartbeat within a session timeout, as after
// a coordinator failover in Kafka); groups without are Empty.
func (l *loader) finish(s *groupSet, now time.Time) {
	// Transactions still open keep their commits pending.
	for pid, recs := range l.txn {
		for _, r := range recs {
			d, err := decodeRecord(r.key, r.value)
			if err != nil || !d.isOffset || d.offset == nil {
				continue
			}
			s.txns.put(pid, d.group, d.partition, offsetEntry{Offset: Offset{
				Offset: d.offset.Offset, LeaderEpoch: d.offset.LeaderEpoch, Metadata: d.offset.Metadata,
				CommitTime: time.UnixMilli(d.offset.CommitTimestamp),
			}, logOffset: r.offset})
		}
	}
	ids := map[string]bool{}
	for id := range l.metadata {
		ids[id] = true
	}
	for id, offs := range l.offsets {
		if len(offs) > 0 {
			ids[id] = true
		}
	}
	for id := range ids {
		g := newGroup(id, s.set, s.store, now)
		if md := l.metadata[id]; md != nil {
			g.protocolType = md.ProtocolType
			g.generation = md.Generation
			if md.Protocol != nil {
				g.protocol = *md.Protocol
			}
			if md.Leader != nil {
				g.leader = *md.Leader
			}
			if md.CurrentStateTimestamp > 0 {
				g.stateSince = time.UnixMilli(md.CurrentStateTimestamp)
			}
			for _, vm := range md.Members {
				m := &member{
					id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, clientHost: vm.ClientHost,
					rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
					sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
					protocolType:     md.ProtocolType,
					protocols:        []Protocol{{Name: g.protocol, Metadata: vm.Subscription}},
					assignment:       vm.Assignment,
				}
				if md.Version < 1 {
					m.rebalanceTimeout = m.sessionTimeout
				}
				m.deadline = now.Add(m.sessionTimeout)
				g.members[m.id] = m
				if m.instanceID != nil {
					g.instances[*m.instanceID] = m.id
				}
			}
			if len(g.members) > 0 {
				g.state = StateStable
				if _, ok := g.members[g.leader]; !ok {
					g.leader = g.memberIDs()[0]
				}
				g.subscribed = g.computeSubscribed()
			} else {
				g.leader = ""
			}
		}
		if offs := l.offsets[id]; offs != nil {
			g.offsets = offs
		}
		s.groups[id] = g
		s.schedule(g)
	}
}

// deadlineEntry is one queued group deadline.
type deadlineEntry struct {
	at    time.Time
	group *group
}

// deadlineHeap is a min-heap of deadlines (container/heap).
type deadlineHeap []deadlineEntry

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(deadlineEntry)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
