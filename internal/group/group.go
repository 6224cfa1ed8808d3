package group

import (
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
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
}

// settings are what the pure core needs from the coordinator's config.
type settings struct {
	initialRebalanceDelay time.Duration
	newMemberJoinTimeout  time.Duration
	minSessionTimeout     time.Duration
	maxSessionTimeout     time.Duration
	offsetMetadataMax     int
	offsetsRetention      time.Duration
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

// join handles JoinGroup for this group. reply is called once, now or
// when the round completes.
func (g *group) join(now time.Time, req *JoinRequest, reply func(JoinResult)) {
	if req.MemberID == "" {
		g.joinNewMember(now, req, reply)
	} else {
		g.joinCurrentMember(now, req, reply)
	}
	g.maybeCompleteJoin(now)
}

func (g *group) joinNewMember(now time.Time, req *JoinRequest, reply func(JoinResult)) {
	switch {
	case g.state == StateDead:
		// Being deleted; the client finds the coordinator again.
		reply(joinError("", ErrCoordinatorNotAvailable))
		return
	case !g.supportsProtocols(req.ProtocolType, req.Protocols):
		reply(joinError("", ErrInconsistentProtocol))
		return
	}
	id := newMemberID(req.ClientID, req.InstanceID)
	if old, ok := g.staticMember(req.InstanceID); ok {
		g.replaceStaticMemberAndRebalance(now, old, id, req, reply)
		return
	}
	if req.InstanceID == nil && req.RequireKnownMemberID {
		// KIP-394: hand out the id and wait for the member to come back
		// with it, so a client that never does costs no rebalance.
		g.pending[id] = now.Add(req.SessionTimeout)
		reply(joinError(id, ErrMemberIDRequired))
		return
	}
	g.addMemberAndRebalance(now, id, req, reply)
}

func (g *group) joinCurrentMember(now time.Time, req *JoinRequest, reply func(JoinResult)) {
	switch {
	case g.state == StateDead:
		reply(joinError(req.MemberID, ErrCoordinatorNotAvailable))
		return
	case !g.supportsProtocols(req.ProtocolType, req.Protocols):
		reply(joinError(req.MemberID, ErrInconsistentProtocol))
		return
	}
	if _, ok := g.pending[req.MemberID]; ok {
		// The second step of KIP-394. Pending ids are only handed to
		// dynamic members.
		if req.InstanceID != nil {
			reply(joinError(req.MemberID, ErrUnknownMemberID))
			return
		}
		delete(g.pending, req.MemberID)
		g.addMemberAndRebalance(now, req.MemberID, req, reply)
		return
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		reply(joinError(req.MemberID, err))
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case StatePreparingRebalance:
		g.updateMember(m, req, reply)
	case StateCompletingRebalance:
		if m.matches(req.Protocols) {
			// The member probably lost the JoinGroup response: answer
			// with the current generation again.
			reply(g.currentJoinResult(m.id))
			return
		}
		g.updateMember(m, req, reply)
		g.maybePrepareRebalance(now, "member metadata changed during CompletingRebalance")
	case StateStable:
		if m.id == g.leader || !m.matches(req.Protocols) {
			// A leader's join is how clients ask for a new assignment
			// after topic metadata changed; changed metadata needs one.
			g.updateMember(m, req, reply)
			g.maybePrepareRebalance(now, "leader rejoined or member metadata changed")
			return
		}
		reply(g.currentJoinResult(m.id))
	default: // Empty: no members, so validateMember failed above.
		reply(joinError(req.MemberID, ErrUnknownMemberID))
	}
}

// updateMember takes the member's new protocols and timeouts and makes it
// wait for the round. An earlier JoinGroup still waiting for this member
// is answered so its handler does not hang; its client has given up on it.
func (g *group) updateMember(m *member, req *JoinRequest, reply func(JoinResult)) {
	m.protocols = req.Protocols
	m.protocolType = req.ProtocolType
	m.sessionTimeout = req.SessionTimeout
	m.rebalanceTimeout = req.RebalanceTimeout
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	m.replyJoin(joinError(m.id, ErrRebalanceInProgress))
	m.joinReply = reply
}

func (g *group) addMemberAndRebalance(now time.Time, id string, req *JoinRequest, reply func(JoinResult)) {
	m := &member{
		id: id, instanceID: req.InstanceID, clientID: req.ClientID, clientHost: req.ClientHost,
		rebalanceTimeout: req.RebalanceTimeout, sessionTimeout: req.SessionTimeout,
		protocolType: req.ProtocolType, protocols: req.Protocols, joinReply: reply, isNew: true,
		// A new member cannot heartbeat before its first round completes,
		// and a client that gave up may never come back: Kafka expires
		// it after a fixed 5 minutes.
		deadline: now.Add(g.set.newMemberJoinTimeout),
	}
	if g.state == StatePreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true
	}
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	g.members[id] = m
	if m.instanceID != nil {
		g.instances[*m.instanceID] = id
	}
	if g.leader == "" {
		g.leader = id
	}
	g.maybePrepareRebalance(now, "new member joined")
}

// replaceStaticMember gives a static member a new member id; whoever
// still waits under the old id is fenced.
func (g *group) replaceStaticMember(instanceID, oldID, newID string) *member {
	m := g.members[oldID]
	delete(g.members, oldID)
	m.replyJoin(joinError(oldID, ErrFencedInstanceID))
	m.replySync(SyncResult{Err: ErrFencedInstanceID})
	m.id = newID
	g.members[newID] = m
	if g.leader == oldID {
		g.leader = newID
	}
	g.instances[instanceID] = newID
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	return m
}

// replaceStaticMemberAndRebalance handles a known static member joining
// with an unknown member id, typically a restarted client (KIP-345). In a
// Stable group it takes the old member's place and assignment without a
// rebalance when the group's protocol would not change and (unlike Kafka,
// which checks only the protocol) its subscribed topics are the same;
// the new member id is made durable before the member is answered.
func (g *group) replaceStaticMemberAndRebalance(now time.Time, oldID, newID string, req *JoinRequest, reply func(JoinResult)) {
	instanceID := *req.InstanceID
	currentLeader := g.leader
	m := g.replaceStaticMember(instanceID, oldID, newID)
	m.deadline = now.Add(req.SessionTimeout)
	oldProtocols, oldProtocolType := m.protocols, m.protocolType
	oldSession, oldRebalance := m.sessionTimeout, m.rebalanceTimeout
	oldTopics := subscribedTopics(g.protocolType, m.metadataFor(g.protocol))
	g.updateMember(m, req, reply)

	switch g.state {
	case StateStable:
		sameTopics := sameTopicSet(oldTopics, subscribedTopics(g.protocolType, m.metadataFor(g.protocol)))
		if g.selectProtocol() != g.protocol || !sameTopics {
			g.maybePrepareRebalance(now, "static member rejoined with changed protocol or subscription")
			return
		}
		generation := g.generation
		assignment := map[string][]byte{}
		for id, mm := range g.members {
			assignment[id] = mm.assignment
		}
		records := []keyValue{{Key: groupKey(g.id), Value: groupValue(g, assignment)}}
		g.store.append(g, records, func(now time.Time, _ int64, err error) {
			if g.state != StateStable || g.generation != generation || g.members[newID] != m {
				return // a rebalance started meanwhile; the member waits in it
			}
			if err != nil {
				// Not durable: put the old member back and fail the join.
				m.protocols, m.protocolType = oldProtocols, oldProtocolType
				m.sessionTimeout, m.rebalanceTimeout = oldSession, oldRebalance
				reply := m.joinReply
				m.joinReply = nil
				g.replaceStaticMember(instanceID, newID, oldID)
				m.deadline = now.Add(m.sessionTimeout)
				if reply != nil {
					reply(JoinResult{
						Err: err, Generation: g.generation, ProtocolType: g.protocolType,
						Protocol: g.protocol, Leader: currentLeader,
					})
				}
				return
			}
			r := JoinResult{
				MemberID: newID, Generation: g.generation, ProtocolType: g.protocolType,
				Protocol: g.protocol, Leader: currentLeader,
			}
			if req.SupportSkipAssignment && g.leader == newID {
				// JoinGroup v9: the leader learns it leads but must not
				// run the assignor, which would be ignored while Stable.
				r.Leader, r.SkipAssignment, r.Members = newID, true, g.leaderMembers()
			}
			// Before v9 the old leader id is returned, so a restarted
			// leader does not run a pointless assignment.
			m.replyJoin(r)
		})
	case StateCompletingRebalance:
		// The leader may be assigning to the old member id: start over.
		g.prepareRebalance(now, "static member rejoined during CompletingRebalance")
	case StatePreparingRebalance:
		// It waits in the current round.
	default:
		m.replyJoin(joinError("", ErrCoordinatorNotAvailable))
	}
}

func (g *group) canRebalance() bool {
	return g.state == StateStable || g.state == StateCompletingRebalance || g.state == StateEmpty
}

func (g *group) maybePrepareRebalance(now time.Time, reason string) {
	if g.canRebalance() {
		g.prepareRebalance(now, reason)
	}
}

func (g *group) prepareRebalance(now time.Time, reason string) {
	if g.state == StateCompletingRebalance {
		g.resetAndPropagateAssignmentError(now, ErrRebalanceInProgress)
	}
	clear(g.pendingSync)
	g.syncDeadline = time.Time{}
	wasEmpty := g.state == StateEmpty
	g.transition(StatePreparingRebalance, now)
	timeout := g.rebalanceTimeout()
	if wasEmpty {
		delay := g.set.initialRebalanceDelay
		g.initialDelay.active = true
		g.initialDelay.delay = delay
		g.initialDelay.remaining = max(timeout-delay, 0)
		g.joinDeadline = now.Add(delay)
	} else {
		g.initialDelay.active = false
		g.joinDeadline = now.Add(timeout)
	}
	g.set.logger.Info("preparing to rebalance group", "group", g.id, "generation", g.generation,
		"members", len(g.members), "reason", reason)
	g.maybeCompleteJoin(now)
}

// maybeCompleteJoin completes the round early once every member has
// rejoined (never during the initial delay).
func (g *group) maybeCompleteJoin(now time.Time) {
	if g.state == StatePreparingRebalance && !g.initialDelay.active && g.allMembersJoined() {
		g.completeJoin(now)
	}
}

// completeJoin ends the PreparingRebalance phase: dynamic members that
// did not rejoin are removed (static ones keep their place until their
// session expires), the next generation starts, and every waiting member
// gets its JoinGroup result.
func (g *group) completeJoin(now time.Time) {
	for _, id := range g.memberIDs() {
		if m := g.members[id]; !m.awaitingJoin() && !m.isStatic() {
			g.removeMember(id)
		}
	}
	if g.state == StateDead {
		return
	}
	if !g.electJoinedLeader() && len(g.members) > 0 {
		// Only static members that have not rejoined are left: wait
		// another rebalance timeout for them (or for their sessions to
		// expire).
		g.initialDelay.active = false
		g.joinDeadline = now.Add(g.rebalanceTimeout())
		return
	}
	g.initNextGeneration(now)
	if g.state == StateEmpty {
		g.store.append(g, []keyValue{{Key: groupKey(g.id), Value: groupValue(g, nil)}}, func(_ time.Time, _ int64, err error) {
			if err != nil {
				g.set.logger.Warn("cannot write metadata of empty group", "group", g.id, "err", err)
			}
		})
		return
	}
	g.set.logger.Info("group stabilized a generation", "group", g.id, "generation", g.generation,
		"members", len(g.members), "protocol", g.protocol)
	for _, id := range g.memberIDs() {
		m := g.members[id]
		m.replyJoin(g.currentJoinResult(id))
		m.deadline = now.Add(m.sessionTimeout)
		m.isNew = false
		g.pendingSync[id] = true
	}
	g.syncDeadline = now.Add(g.rebalanceTimeout())
}

// electJoinedLeader keeps the leader if it rejoined, else picks a member
// that did; false when no member rejoined.
func (g *group) electJoinedLeader() bool {
	if g.leader == "" {
		return false
	}
	if l, ok := g.members[g.leader]; ok && l.awaitingJoin() {
		return true
	}
	for _, id := range g.memberIDs() {
		if g.members[id].awaitingJoin() {
			g.leader = id
			return true
		}
	}
	return false
}

func (g *group) initNextGeneration(now time.Time) {
	g.generation++
	if len(g.members) > 0 {
		g.protocol = g.selectProtocol()
		g.subscribed = g.computeSubscribed()
		g.transition(StateCompletingRebalance, now)
	} else {
		g.protocol = ""
		g.subscribed = nil
		g.transition(StateEmpty, now)
	}
}

// computeSubscribed collects the topics of every member's consumer
// protocol subscription; nil when the group is not a consumer group or a
// subscription does not parse.
func (g *group) computeSubscribed() map[string]bool {
	if g.protocolType != "consumer" || g.protocol == "" {
		return nil
	}
	out := map[string]bool{}
	for _, m := range g.members {
		topics := subscribedTopics(g.protocolType, m.metadataFor(g.protocol))
		if topics == nil {
			return nil
		}
		for _, t := range topics {
			out[t] = true
		}
	}
	return out
}

// subscribedTopics parses consumer-protocol metadata; nil when it is not
// the consumer protocol or does not parse.
func subscribedTopics(protocolType string, metadata []byte) []string {
	if protocolType != "consumer" || metadata == nil {
		return nil
	}
	var md kmsg.ConsumerMemberMetadata
	if err := md.ReadFrom(metadata); err != nil {
		return nil
	}
	if md.Topics == nil {
		return []string{}
	}
	return md.Topics
}

func sameTopicSet(a, b []string) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	sa, sb := slices.Clone(a), slices.Clone(b)
	slices.Sort(sa)
	slices.Sort(sb)
	return slices.Equal(slices.Compact(sa), slices.Compact(sb))
}

// sync handles SyncGroup for this group.
func (g *group) sync(now time.Time, req *SyncRequest, reply func(SyncResult)) {
	switch {
	case g.state == StateDead:
		reply(SyncResult{Err: ErrCoordinatorNotAvailable})
		return
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		reply(SyncResult{Err: err})
		return
	}
	switch {
	case req.Generation != g.generation:
		reply(SyncResult{Err: ErrIllegalGeneration})
		return
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		reply(SyncResult{Err: ErrInconsistentProtocol})
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case StateEmpty:
		reply(SyncResult{Err: ErrUnknownMemberID})
	case StatePreparingRebalance:
		reply(SyncResult{Err: ErrRebalanceInProgress})
	case StateCompletingRebalance:
		m.replySync(SyncResult{Err: ErrRebalanceInProgress})
		m.syncReply = reply
		g.removePendingSync(m.id)
		if m.id != g.leader {
			return // a follower's assignments, if any, are ignored
		}
		assignment := make(map[string][]byte, len(g.members))
		for id := range g.members {
			a := req.Assignments[id]
			if a == nil {
				a = []byte{}
			}
			assignment[id] = a
		}
		generation := g.generation
		records := []keyValue{{Key: groupKey(g.id), Value: groupValue(g, assignment)}}
		g.store.append(g, records, func(now time.Time, _ int64, err error) {
			if g.state != StateCompletingRebalance || g.generation != generation {
				return // another round started while the write was in flight
			}
			if err != nil {
				g.resetAndPropagateAssignmentError(now, err)
				g.maybePrepareRebalance(now, "cannot store the group assignment")
				return
			}
			for id, mm := range g.members {
				mm.assignment = assignment[id]
			}
			g.propagateAssignment(now, nil)
			g.transition(StateStable, now)
		})
	case StateStable:
		g.removePendingSync(m.id)
		m.replySync(SyncResult{Err: ErrRebalanceInProgress})
		reply(SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment})
		m.deadline = now.Add(m.sessionTimeout)
	}
}

func (g *group) removePendingSync(id string) {
	delete(g.pendingSync, id)
	if len(g.pendingSync) == 0 {
		g.syncDeadline = time.Time{}
	}
}

func (g *group) resetAndPropagateAssignmentError(now time.Time, err error) {
	for _, m := range g.members {
		m.assignment = nil
	}
	g.propagateAssignment(now, err)
}

// propagateAssignment answers every member waiting in SyncGroup and
// restarts its session.
func (g *group) propagateAssignment(now time.Time, err error) {
	for _, id := range g.memberIDs() {
		m := g.members[id]
		r := SyncResult{Err: err}
		if err == nil {
			r.ProtocolType, r.Protocol, r.Assignment = g.protocolType, g.protocol, m.assignment
			if r.Assignment == nil {
				r.Assignment = []byte{}
			}
		}
		if m.replySync(r) {
			m.deadline = now.Add(m.sessionTimeout)
		}
	}
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

func (g *group) onJoinDeadline(now time.Time) {
	if g.initialDelay.active && g.newMemberAdded && g.initialDelay.remaining > 0 {
		// Someone joined during this delay: wait once more.
		g.newMemberAdded = false
		delay := min(g.set.initialRebalanceDelay, g.initialDelay.remaining)
		g.initialDelay.remaining = max(g.initialDelay.remaining-g.initialDelay.delay, 0)
		g.initialDelay.delay = delay
		g.joinDeadline = now.Add(delay)
		return
	}
	g.initialDelay.active = false
	g.completeJoin(now)
}

// onSyncDeadline removes members that did not send SyncGroup within the
// rebalance timeout after the round completed, and rebalances.
func (g *group) onSyncDeadline(now time.Time) {
	g.syncDeadline = time.Time{}
	if (g.state != StateCompletingRebalance && g.state != StateStable) || len(g.pendingSync) == 0 {
		clear(g.pendingSync)
		return
	}
	for _, id := range slices.Sorted(maps.Keys(g.pendingSync)) {
		g.removeMember(id)
	}
	g.prepareRebalance(now, "members did not send SyncGroup in time")
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
