package group

// The rebalance protocol of a classic group: JoinGroup rounds
// (PreparingRebalance, with the initial delay of a new group), the
// generation change, and SyncGroup (CompletingRebalance to Stable), as
// Kafka's GroupCoordinator runs them.

import (
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

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
	if g.state == StateDead {
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
