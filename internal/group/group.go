package group

import (
	"log/slog"
	"maps"
	"slices"
	"time"
)

// store persists records of one __consumer_offsets partition. append
// never calls done before it returns: done runs later, on the goroutine
// that owns the groups, with the time, the offset of the first record
// once all are durable, or an error (ErrNotCoordinator,
// ErrCoordinatorNotAvailable, errRecordTooLarge); afterwards the store
// reschedules g's timers (g may be nil for writes of no single group).
// done may be nil for writes nobody waits for.
type store interface {
	append(g *group, records []keyValue, done func(now time.Time, base int64, err error))
	// appendTxn is append as a transactional batch of producer pid at
	// epoch (TxnOffsetCommit).
	appendTxn(g *group, pid int64, epoch int16, records []keyValue, done func(now time.Time, base int64, err error))
}

// settings are what the pure core needs from the coordinator's config.
type settings struct {
	initialRebalanceDelay time.Duration
	newMemberJoinTimeout  time.Duration
	minSessionTimeout     time.Duration
	maxSessionTimeout     time.Duration
	offsetMetadataMax     int
	logger                *slog.Logger
}

// group is one classic consumer group: membership, the rebalance state
// machine, and its committed offsets. It is a pure core: no goroutines,
// no clock (every method takes now), no I/O except through store. Kafka's
// GroupCoordinator and GroupMetadata are the reference for every branch;
// comments name the Kafka behaviour where it is not obvious.
type group struct {
	id    string
	set   *settings
	store store

	state      State
	stateSince time.Time
	// protocolType is set by the first member of an empty group ("" for
	// groups that only store offsets). protocol is the protocol selected
	// for the current generation, "" when none.
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	instances    map[string]string    // group.instance.id -> member id
	pending      map[string]time.Time // KIP-394 member ids handed out, not yet joined -> expiry
	pendingSync  map[string]bool      // members of this generation yet to send SyncGroup

	// joinDeadline ends the PreparingRebalance phase. During the initial
	// delay of a group that was empty (group.initial.rebalance.delay.ms)
	// the round never completes early; each delay that saw a new member
	// is followed by another, up to the rebalance timeout.
	joinDeadline time.Time
	initialDelay struct {
		active    bool
		delay     time.Duration
		remaining time.Duration
	}
	newMemberAdded bool
	// syncDeadline ends the wait for SyncGroup from every member after a
	// round completes; zero when nobody is pending.
	syncDeadline time.Time
	// subscribed are the topics the members subscribe to, parsed from
	// their consumer-protocol metadata; nil when unknown.
	subscribed map[string]bool

	offsets map[TopicPartition]offsetEntry
	// pendingCommits counts commits of a partition appended but not yet
	// durable; their offsets do not expire.
	pendingCommits map[TopicPartition]int

	// scheduled is the deadline this group is queued under in its
	// groupSet's timer heap; zero when not queued.
	scheduled time.Time
}

type offsetEntry struct {
	Offset
	// logOffset is where the commit is in __consumer_offsets; a durable
	// commit replaces the cached one only if it was appended later.
	logOffset int64
}

func newGroup(id string, set *settings, st store, now time.Time) *group {
	return &group{
		id: id, set: set, store: st, state: StateEmpty, stateSince: now,
		members: map[string]*member{}, instances: map[string]string{}, pending: map[string]time.Time{},
		pendingSync: map[string]bool{}, offsets: map[TopicPartition]offsetEntry{},
		pendingCommits: map[TopicPartition]int{},
	}
}

func (g *group) transition(to State, now time.Time) {
	g.state = to
	g.stateSince = now
}

func (g *group) memberIDs() []string {
	return slices.Sorted(maps.Keys(g.members))
}

func (g *group) staticMember(instanceID *string) (string, bool) {
	if instanceID == nil {
		return "", false
	}
	id, ok := g.instances[*instanceID]
	return id, ok
}

// validateMember checks that memberID is in the group and, for a static
// member, that its instance id still maps to it.
func (g *group) validateMember(memberID string, instanceID *string) error {
	if instanceID != nil {
		current, ok := g.instances[*instanceID]
		if !ok {
			return ErrUnknownMemberID
		}
		if current != memberID {
			return ErrFencedInstanceID
		}
	}
	if _, ok := g.members[memberID]; !ok {
		return ErrUnknownMemberID
	}
	return nil
}

// candidateProtocols are the protocols every member supports.
func (g *group) candidateProtocols() map[string]bool {
	var out map[string]bool
	for _, m := range g.members {
		if out == nil {
			out = map[string]bool{}
			for _, p := range m.protocols {
				out[p.Name] = true
			}
			continue
		}
		for name := range out {
			if !m.supports(name) {
				delete(out, name)
			}
		}
	}
	return out
}

// supportsProtocols reports whether a member with these protocols may
// join: any non-empty set for an empty group, else the group's protocol
// type and at least one protocol every member supports.
func (g *group) supportsProtocols(protocolType string, protocols []Protocol) bool {
	if g.state == StateEmpty {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	candidates := g.candidateProtocols()
	for _, p := range protocols {
		if candidates[p.Name] {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol with the most first-preference votes
// among those all members support; ties go to the smallest name.
func (g *group) selectProtocol() string {
	candidates := g.candidateProtocols()
	votes := map[string]int{}
	for _, m := range g.members {
		votes[m.vote(candidates)]++
	}
	best, most := "", -1
	for _, name := range slices.Sorted(maps.Keys(votes)) {
		if name != "" && votes[name] > most {
			best, most = name, votes[name]
		}
	}
	return best
}

// rebalanceTimeout is the longest rebalance timeout of any member.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) allMembersJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if !m.awaitingJoin() {
			return false
		}
	}
	return true
}

// leaderMembers lists every member with its metadata for the selected
// protocol, for the leader's JoinGroup result.
func (g *group) leaderMembers() []JoinMember {
	out := make([]JoinMember, 0, len(g.members))
	for _, id := range g.memberIDs() {
		m := g.members[id]
		out = append(out, JoinMember{MemberID: m.id, InstanceID: m.instanceID, Metadata: m.metadataFor(g.protocol)})
	}
	return out
}

// currentJoinResult is the result for a member of the current generation.
func (g *group) currentJoinResult(memberID string) JoinResult {
	r := JoinResult{
		MemberID: memberID, Generation: g.generation, ProtocolType: g.protocolType,
		Protocol: g.protocol, Leader: g.leader,
	}
	if memberID == g.leader {
		r.Members = g.leaderMembers()
	}
	return r
}

// heartbeat handles Heartbeat for this group.
func (g *group) heartbeat(now time.Time, req *HeartbeatRequest) error {
	if g.state == StateDead {
		return ErrCoordinatorNotAvailable
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	if req.Generation != g.generation {
		return ErrIllegalGeneration
	}
	m := g.members[req.MemberID]
	switch g.state {
	case StateEmpty:
		return ErrUnknownMemberID
	case StatePreparingRebalance:
		m.deadline = now.Add(m.sessionTimeout)
		return ErrRebalanceInProgress
	default: // CompletingRebalance (clients may heartbeat before SyncGroup) and Stable
		m.deadline = now.Add(m.sessionTimeout)
		return nil
	}
}

// leave handles LeaveGroup: one error per member, and a group-wide error.
func (g *group) leave(now time.Time, leaving []LeaveMember) ([]error, error) {
	if g.state == StateDead {
		return nil, ErrCoordinatorNotAvailable
	}
	errs := make([]error, len(leaving))
	for i, lm := range leaving {
		switch {
		case lm.MemberID == "":
			// Administrative removal of a static member by instance id.
			id, ok := g.staticMember(lm.InstanceID)
			if !ok {
				errs[i] = ErrUnknownMemberID
				continue
			}
			g.removeMemberAndUpdateGroup(now, g.members[id], "static member removed by LeaveGroup")
		case g.isPending(lm.MemberID):
			delete(g.pending, lm.MemberID)
			g.maybeCompleteJoin(now)
		default:
			if err := g.validateMember(lm.MemberID, lm.InstanceID); err != nil {
				errs[i] = err
				continue
			}
			g.removeMemberAndUpdateGroup(now, g.members[lm.MemberID], "member left")
		}
	}
	return errs, nil
}

func (g *group) isPending(memberID string) bool {
	_, ok := g.pending[memberID]
	return ok
}

// removeMember drops a member from every structure; no callbacks, no
// state change.
func (g *group) removeMember(id string) {
	m, ok := g.members[id]
	if !ok {
		return
	}
	delete(g.members, id)
	if m.instanceID != nil && g.instances[*m.instanceID] == id {
		delete(g.instances, *m.instanceID)
	}
	if g.leader == id {
		g.leader = ""
		if ids := g.memberIDs(); len(ids) > 0 {
			g.leader = ids[0]
		}
	}
	delete(g.pending, id)
	g.removePendingSync(id)
}

// removeMemberAndUpdateGroup removes a member that left or expired and
// starts (or tries to complete) a rebalance.
func (g *group) removeMemberAndUpdateGroup(now time.Time, m *member, reason string) {
	m.replyJoin(joinError("", ErrUnknownMemberID))
	m.replySync(SyncResult{Err: ErrUnknownMemberID})
	g.removeMember(m.id)
	g.set.logger.Info("member removed from group", "group", g.id, "member", m.id, "reason", reason)
	switch g.state {
	case StateStable, StateCompletingRebalance:
		g.maybePrepareRebalance(now, reason)
	case StatePreparingRebalance:
		g.maybeCompleteJoin(now)
	}
}

// nextDeadline is the earliest time tick has something to do; zero when
// nothing is scheduled.
func (g *group) nextDeadline() time.Time {
	var next time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if g.state == StatePreparingRebalance {
		earlier(g.joinDeadline)
	}
	earlier(g.syncDeadline)
	for _, t := range g.pending {
		earlier(t)
	}
	for _, m := range g.members {
		earlier(m.deadline)
	}
	return next
}

// tick fires every timer that is due at now: the end of the join phase
// (or of one initial delay), the SyncGroup deadline, expired pending
// member ids, and expired sessions.
func (g *group) tick(now time.Time) {
	if g.state == StatePreparingRebalance && !g.joinDeadline.After(now) {
		g.onJoinDeadline(now)
	}
	if !g.syncDeadline.IsZero() && !g.syncDeadline.After(now) {
		g.onSyncDeadline(now)
	}
	for _, id := range slices.Sorted(maps.Keys(g.pending)) {
		if !g.pending[id].After(now) {
			delete(g.pending, id)
			g.maybeCompleteJoin(now)
		}
	}
	for _, id := range g.memberIDs() {
		m, ok := g.members[id]
		if !ok || m.deadline.IsZero() || m.deadline.After(now) {
			continue
		}
		if !m.isNew && (m.awaitingJoin() || m.awaitingSync()) {
			// Waiting in a rebalance counts as alive; the session is
			// restarted when the round or the sync completes.
			m.deadline = time.Time{}
			continue
		}
		g.removeMemberAndUpdateGroup(now, m, "session timed out")
	}
}

// unload answers every waiting member with err: the shard is stopping.
func (g *group) unload(err error) {
	for _, m := range g.members {
		m.replyJoin(joinError(m.id, err))
		m.replySync(SyncResult{Err: err})
	}
	g.transition(StateDead, g.stateSince)
}

// describe summarizes the group; metadata and assignments only while
// Stable, as Kafka does.
func (g *group) describe() Description {
	d := Description{Group: g.id, State: g.state, ProtocolType: g.protocolType}
	if g.state == StateStable {
		d.Protocol = g.protocol
	}
	for _, id := range g.memberIDs() {
		m := g.members[id]
		md := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if g.state == StateStable {
			md.Metadata = m.metadataFor(g.protocol)
			md.Assignment = m.assignment
		}
		d.Members = append(d.Members, md)
	}
	return d
}
