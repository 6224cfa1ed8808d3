package group

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestMemberIDRequiredTwoStepJoin(t *testing.T) {
	h := newHarness(t)
	c := newClient("g", "t")
	first := h.joinReq(c, c.joinRequest(true))
	r := first.result()
	if !errors.Is(r.Err, ErrMemberIDRequired) || r.MemberID == "" || r.Generation != -1 {
		t.Fatalf("first join: %+v", r)
	}
	if h.state("g") != StateEmpty {
		t.Fatalf("a pending member must not start a rebalance, state %v", h.state("g"))
	}
	c.id = r.MemberID
	second := h.joinReq(c, c.joinRequest(true))
	h.tick()
	r = second.result()
	if r.Err != nil || r.MemberID != c.id || r.Generation != 1 || r.Leader != c.id || len(r.Members) != 1 || r.Protocol != "range" {
		t.Fatalf("second join: %+v", r)
	}
	if h.state("g") != StateCompletingRebalance {
		t.Fatalf("state %v", h.state("g"))
	}
	s := h.sync(c, map[string][]byte{c.id: []byte("a")})
	if s.done {
		t.Fatal("sync answered before the assignment was durable")
	}
	h.flush()
	if got := s.result(); got.Err != nil || string(got.Assignment) != "a" || got.Protocol != "range" {
		t.Fatalf("sync: %+v", got)
	}
	if h.state("g") != StateStable {
		t.Fatalf("state %v", h.state("g"))
	}
}

func TestPendingMemberExpires(t *testing.T) {
	h := newHarness(t)
	c := newClient("g", "t")
	c.id = h.joinReq(c, c.joinRequest(true)).result().MemberID
	h.advance(c.session)
	r := h.joinReq(c, c.joinRequest(true)).result()
	if !errors.Is(r.Err, ErrUnknownMemberID) {
		t.Fatalf("join with an expired pending id: %+v", r)
	}
}

func TestInitialRebalanceDelayWaitsForMoreMembers(t *testing.T) {
	h := newHarness(t, func(s *settings) { s.initialRebalanceDelay = 3 * time.Second })
	a, b := newClient("g", "t"), newClient("g", "t")
	ja := h.join(a)
	h.advance(time.Second)
	jb := h.join(b)
	h.advance(2 * time.Second) // first delay over, but b arrived: wait another
	if ja.done || jb.done {
		t.Fatal("round completed although a member joined during the delay")
	}
	h.advance(3 * time.Second)
	ra, rb := ja.result(), jb.result()
	if ra.Err != nil || rb.Err != nil || ra.Generation != 1 || rb.Generation != 1 {
		t.Fatalf("joins: %+v %+v", ra, rb)
	}
	if len(ra.Members)+len(rb.Members) != 2 {
		t.Fatalf("the leader must see both members: %+v %+v", ra, rb)
	}
}

func TestInitialRebalanceDelayIsBoundedByRebalanceTimeout(t *testing.T) {
	h := newHarness(t, func(s *settings) { s.initialRebalanceDelay = 3 * time.Second })
	first := newClient("g", "t")
	first.rebalance = 5 * time.Second
	call := h.join(first)
	// A new member every second keeps extending the delay, but not past
	// the rebalance timeout.
	for i := 0; i < 10 && !call.done; i++ {
		h.advance(time.Second)
		c := newClient("g", "t")
		c.rebalance = 5 * time.Second
		h.join(c)
	}
	if !call.done || h.now.Sub(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)) > 6*time.Second {
		t.Fatalf("join answered %v after %v", call.done, h.now)
	}
}

func TestRebalanceWhenMemberJoinsStableGroup(t *testing.T) {
	h := newHarness(t)
	a, b := newClient("g", "t"), newClient("g", "t")
	h.stable(a)
	jb := h.join(b)
	if h.state("g") != StatePreparingRebalance || jb.done {
		t.Fatalf("state %v, join answered %v", h.state("g"), jb.done)
	}
	if err := h.heartbeat(a); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat during rebalance: %v", err)
	}
	if r := h.sync(a, nil).result(); !errors.Is(r.Err, ErrRebalanceInProgress) {
		t.Fatalf("sync during rebalance: %+v", r)
	}
	ja := h.join(a) // every member rejoined: the round completes at once
	ra, rb := ja.result(), jb.result()
	if ra.Generation != 2 || rb.Generation != 2 || ra.Leader != a.id || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("joins: %+v / %+v", ra, rb)
	}
	a.generation, b.generation = 2, 2
	sb := h.sync(b, nil)
	sa := h.sync(a, map[string][]byte{a.id: []byte("A"), b.id: []byte("B")})
	h.flush()
	if string(sa.result().Assignment) != "A" || string(sb.result().Assignment) != "B" {
		t.Fatalf("assignments: %+v %+v", sa.res, sb.res)
	}
}

func TestSyncFromFollowerWithAssignmentsIsIgnored(t *testing.T) {
	h := newHarness(t)
	a, b := newClient("g", "t"), newClient("g", "t")
	h.stable(a)
	jb := h.join(b)
	h.join(a)
	a.generation, b.generation = 2, 2
	follower, leader := b, a
	if jb.result().Leader == b.id {
		follower, leader = a, b
	}
	sf := h.sync(follower, map[string][]byte{follower.id: []byte("mine"), leader.id: []byte("yours")})
	sl := h.sync(leader, map[string][]byte{follower.id: []byte("F"), leader.id: []byte("L")})
	h.flush()
	if string(sf.result().Assignment) != "F" || string(sl.result().Assignment) != "L" {
		t.Fatalf("follower got %q, leader %q", sf.res.Assignment, sl.res.Assignment)
	}
}

func TestRebalanceTimeoutDropsMembersThatDoNotRejoin(t *testing.T) {
	h := newHarness(t)
	a, b, c := newClient("g", "t"), newClient("g", "t"), newClient("g", "t")
	h.stable(a, b)
	jc := h.join(c)
	ja := h.join(a)
	// b keeps heartbeating (so its session lives) but never rejoins.
	for elapsed := time.Duration(0); elapsed < a.rebalance-3*time.Second; elapsed += 3 * time.Second {
		h.advance(3 * time.Second)
		if err := h.heartbeat(b); !errors.Is(err, ErrRebalanceInProgress) {
			t.Fatalf("heartbeat of b during the rebalance: %v", err)
		}
	}
	h.advance(3*time.Second - time.Millisecond)
	if jc.done || ja.done {
		t.Fatal("round completed before the rebalance timeout")
	}
	h.advance(time.Millisecond)
	if ra, rc := ja.result(), jc.result(); ra.Err != nil || rc.Err != nil || ra.Generation != 2 {
		t.Fatalf("joins: %+v %+v", ra, rc)
	}
	if g := h.set.group("g"); len(g.members) != 2 || g.members[b.id] != nil {
		t.Fatalf("b should be gone: %v", g.memberIDs())
	}
	if err := h.heartbeat(b); !errors.Is(err, ErrUnknownMemberID) {
		t.Fatalf("heartbeat of the dropped member: %v", err)
	}
}

func TestSessionTimeoutEvictsMember(t *testing.T) {
	h := newHarness(t)
	a, b := newClient("g", "t"), newClient("g", "t")
	h.stable(a, b)
	for i := 0; i < 4; i++ {
		h.advance(3 * time.Second)
		if err := h.heartbeat(a); err != nil {
			if !errors.Is(err, ErrRebalanceInProgress) {
				t.Fatalf("heartbeat of a: %v", err)
			}
			break
		}
	}
	if h.state("g") != StatePreparingRebalance {
		t.Fatalf("b's session should have expired: state %v", h.state("g"))
	}
	if err := h.heartbeat(b); !errors.Is(err, ErrUnknownMemberID) {
		t.Fatalf("heartbeat of the evicted member: %v", err)
	}
	// a rejoins alone and gets a generation without b.
	r := h.join(a).result()
	if r.Err != nil || r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("rejoin: %+v", r)
	}
}

func TestGenerationAndMemberErrors(t *testing.T) {
	h := newHarness(t)
	a, b := newClient("g", "t"), newClient("g", "t")
	h.stable(a)
	stale := *a
	stale.generation = 0
	if err := h.heartbeat(&stale); !errors.Is(err, ErrIllegalGeneration) {
		t.Errorf("heartbeat with an old generation: %v", err)
	}
	if r := h.sync(&stale, nil).result(); !errors.Is(r.Err, ErrIllegalGeneration) {
		t.Errorf("sync with an old generation: %+v", r)
	}
	unknown := *a
	unknown.id = "nobody"
	if err := h.heartbeat(&unknown); !errors.Is(err, ErrUnknownMemberID) {
		t.Errorf("heartbeat of an unknown member: %v", err)
	}
	if r := h.join(&unknown).result(); !errors.Is(r.Err, ErrUnknownMemberID) {
		t.Errorf("join with an unknown member id: %+v", r)
	}
	noGroup := newClient("nope", "t")
	noGroup.id = "x"
	if err := h.heartbeat(noGroup); !errors.Is(err, ErrUnknownMemberID) {
		t.Errorf("heartbeat to a missing group: %v", err)
	}
	if r := h.join(noGroup).result(); !errors.Is(r.Err, ErrUnknownMemberID) {
		t.Errorf("join of a missing group with a member id: %+v", r)
	}

	commit := func(gen int32, member string) error {
		var got []error
		h.set.commit(h.now, &CommitRequest{Group: "g", Generation: gen, MemberID: member,
			Offsets: []CommitOffset{{TopicPartition: TopicPartition{"t", 0}, Offset: 1}}}, func(errs []error) { got = errs })
		h.flush()
		return got[0]
	}
	if err := commit(a.generation, a.id); err != nil {
		t.Errorf("commit of the current generation: %v", err)
	}
	if err := commit(a.generation+1, a.id); !errors.Is(err, ErrIllegalGeneration) {
		t.Errorf("commit with a wrong generation: %v", err)
	}
	if err := commit(-1, ""); !errors.Is(err, ErrUnknownMemberID) {
		t.Errorf("commit without generation to a non-empty group: %v", err)
	}
	if err := commit(a.generation, "nobody"); !errors.Is(err, ErrUnknownMemberID) {
		t.Errorf("commit of an unknown member: %v", err)
	}
	h.join(b)
	h.join(a) // round completes: CompletingRebalance
	a.generation = 2
	if err := commit(a.generation, a.id); !errors.Is(err, ErrRebalanceInProgress) {
		t.Errorf("commit while awaiting the assignment: %v", err)
	}
	if err := h.heartbeat(a); err != nil {
		t.Errorf("heartbeat in CompletingRebalance: %v", err)
	}
}

func TestJoinValidation(t *testing.T) {
	h := newHarness(t)
	a := newClient("g", "t")
	a.session = 100 * time.Millisecond
	if r := h.join(a).result(); !errors.Is(r.Err, ErrInvalidSessionTimeout) {
		t.Errorf("too short a session: %+v", r)
	}
	a.session = 10 * time.Second
	h.stable(a)
	b := newClient("g", "t")
	req := b.joinRequest(false)
	req.ProtocolType = "connect"
	if r := h.joinReq(b, req).result(); !errors.Is(r.Err, ErrInconsistentProtocol) {
		t.Errorf("other protocol type: %+v", r)
	}
	req = b.joinRequest(false)
	req.Protocols = []Protocol{{Name: "roundrobin"}}
	if r := h.joinReq(b, req).result(); !errors.Is(r.Err, ErrInconsistentProtocol) {
		t.Errorf("no common protocol: %+v", r)
	}
	req = b.joinRequest(false)
	req.Protocols = nil
	empty := newClient("other")
	if r := h.joinReq(empty, req).result(); !errors.Is(r.Err, ErrInconsistentProtocol) {
		t.Errorf("new group without protocols: %+v", r)
	}
}

func TestProtocolSelectionByVotes(t *testing.T) {
	h := newHarness(t)
	clients := []*client{newClient("g"), newClient("g"), newClient("g")}
	prefs := [][]string{{"sticky", "range"}, {"range", "sticky"}, {"range", "sticky", "roundrobin"}}
	var calls []*joinCall
	for i, c := range clients {
		req := c.joinRequest(false)
		req.Protocols = nil
		for _, p := range prefs[i] {
			req.Protocols = append(req.Protocols, Protocol{Name: p})
		}
		calls = append(calls, h.joinReq(c, req))
	}
	h.tick()
	if p := calls[0].result().Protocol; p != "range" {
		t.Fatalf("selected %q, want range (two first votes)", p)
	}
}

func TestLeaveGroup(t *testing.T) {
	h := newHarness(t)
	a, b := newClient("g", "t"), newClient("g", "t")
	inst := "instance-b"
	b.instance = &inst
	h.stable(a, b)
	errs, err := h.set.leave(h.now, "g", []LeaveMember{{MemberID: "nobody"}, {InstanceID: &inst}})
	if err != nil || !errors.Is(errs[0], ErrUnknownMemberID) || errs[1] != nil {
		t.Fatalf("leave: %v %v", errs, err)
	}
	if g := h.set.group("g"); g.members[b.id] != nil || len(g.instances) != 0 || g.state != StatePreparingRebalance {
		t.Fatalf("b should have left and a rebalance started: %v %v", g.memberIDs(), g.state)
	}
	r := h.join(a).result()
	if r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("rejoin after leave: %+v", r)
	}
	errs, err = h.set.leave(h.now, "g", []LeaveMember{{MemberID: a.id}})
	if err != nil || errs[0] != nil {
		t.Fatalf("leave of the last member: %v %v", errs, err)
	}
	if g := h.set.group("g"); g.state != StateEmpty || g.generation != 3 {
		t.Fatalf("group should be Empty in generation 3: %v %d", g.state, g.generation)
	}
	if errs, _ := h.set.leave(h.now, "missing", []LeaveMember{{MemberID: "x"}}); !errors.Is(errs[0], ErrUnknownMemberID) {
		t.Fatalf("leave of a missing group: %v", errs)
	}
}

func TestLeaveFencedStaticMember(t *testing.T) {
	h := newHarness(t)
	a := newClient("g", "t")
	inst := "i"
	a.instance = &inst
	h.stable(a)
	errs, _ := h.set.leave(h.now, "g", []LeaveMember{{MemberID: "other", InstanceID: &inst}})
	if !errors.Is(errs[0], ErrFencedInstanceID) {
		t.Fatalf("leave with a stale member id for the instance: %v", errs)
	}
}

func TestStaticMemberRestartWithinSessionTimeoutKeepsGeneration(t *testing.T) {
	h := newHarness(t)
	inst := "pod-1"
	s, d := newClient("g", "t"), newClient("g", "t")
	s.instance = &inst
	h.stable(s, d)
	g := h.set.group("g")
	gen, leader := g.generation, g.leader
	oldID := s.id

	restarted := newClient("g", "t")
	restarted.instance = &inst
	call := h.join(restarted)
	if call.done {
		t.Fatal("answered before the new member id was durable")
	}
	h.flush()
	r := call.result()
	if r.Err != nil || r.MemberID == oldID || r.Generation != gen || r.Leader != leader {
		t.Fatalf("rejoin: %+v (old id %s, leader %s)", r, oldID, leader)
	}
	if g.state != StateStable || g.generation != gen {
		t.Fatalf("the static rejoin rebalanced: %v gen %d", g.state, g.generation)
	}
	restarted.generation = gen
	sr := h.sync(restarted, nil).result()
	if sr.Err != nil || string(sr.Assignment) != oldID {
		t.Fatalf("the restarted member should keep its assignment: %+v", sr)
	}
	if err := h.heartbeat(s); !errors.Is(err, ErrFencedInstanceID) {
		t.Fatalf("heartbeat of the replaced instance: %v", err)
	}
	if err := h.heartbeat(restarted); err != nil {
		t.Fatalf("heartbeat of the restarted member: %v", err)
	}
	if err := h.heartbeat(d); err != nil {
		t.Fatalf("the other member saw a rebalance: %v", err)
	}
}

func TestStaticMemberRestartWithOtherTopicsRebalances(t *testing.T) {
	h := newHarness(t)
	inst := "pod-1"
	s := newClient("g", "t")
	s.instance = &inst
	h.stable(s)
	restarted := newClient("g", "t", "u")
	restarted.instance = &inst
	r := h.join(restarted).result() // alone in the group: the round completes at once
	if r.Err != nil || r.Generation != 2 {
		t.Fatalf("rejoin with another subscription: %+v", r)
	}
}

func TestStaticMemberKeptUntilSessionExpires(t *testing.T) {
	h := newHarness(t)
	inst := "pod-1"
	s, d, e := newClient("g", "t"), newClient("g", "t"), newClient("g", "t")
	s.instance = &inst
	s.session = 20 * time.Second
	h.stable(s, d)
	je := h.join(e)
	jd := h.join(d)
	h.advance(d.rebalance) // s never rejoins
	if je.result().Err != nil || jd.result().Err != nil {
		t.Fatalf("joins: %+v %+v", je.res, jd.res)
	}
	g := h.set.group("g")
	if g.members[s.id] == nil || len(g.members) != 3 {
		t.Fatalf("the static member must keep its place: %v", g.memberIDs())
	}
	h.advance(s.session)
	if g.members[s.id] != nil {
		t.Fatalf("the static member should expire after its session: %v", g.memberIDs())
	}
}

func TestMemberThatNeverSyncsIsRemoved(t *testing.T) {
	h := newHarness(t)
	a, b := newClient("g", "t"), newClient("g", "t")
	h.stable(a, b)
	leader, follower := a, b
	if h.set.group("g").leader != a.id {
		leader, follower = b, a
	}
	jl := h.join(leader) // a leader's join starts a rebalance
	jf := h.join(follower)
	_, _ = jl.result(), jf.result()
	a.generation, b.generation = 2, 2
	sl := h.sync(leader, map[string][]byte{leader.id: []byte("x"), follower.id: []byte("y")})
	h.flush()
	if sl.result().Err != nil {
		t.Fatalf("leader sync: %+v", sl.res)
	}
	for elapsed := time.Duration(0); elapsed < leader.rebalance; elapsed += 3 * time.Second {
		h.advance(3 * time.Second)
		_ = h.heartbeat(leader)
	}
	if g := h.set.group("g"); g.members[follower.id] != nil || g.state != StatePreparingRebalance {
		t.Fatalf("the member that never synced should be gone: %v %v", g.memberIDs(), g.state)
	}
}

func TestFailedAssignmentWriteRebalances(t *testing.T) {
	h := newHarness(t)
	a := newClient("g", "t")
	ja := h.join(a)
	h.tick()
	_ = ja.result()
	s := h.sync(a, map[string][]byte{a.id: []byte("x")})
	h.store.fail = ErrCoordinatorNotAvailable
	h.flush()
	if !errors.Is(s.result().Err, ErrCoordinatorNotAvailable) {
		t.Fatalf("sync: %+v", s.res)
	}
	if h.state("g") != StatePreparingRebalance {
		t.Fatalf("state %v", h.state("g"))
	}
}

func TestNewMemberThatGaveUpExpires(t *testing.T) {
	h := newHarness(t)
	a, b := newClient("g", "t"), newClient("g", "t")
	a.rebalance = 10 * time.Minute
	b.rebalance = 10 * time.Minute
	h.stable(a)
	jb := h.join(b) // a heartbeats but never rejoins; b waits, then its client gives up
	for elapsed := time.Duration(0); elapsed < 5*time.Minute; elapsed += 3 * time.Second {
		h.advance(3 * time.Second)
		_ = h.heartbeat(a)
	}
	if r := jb.result(); !errors.Is(r.Err, ErrUnknownMemberID) {
		t.Fatalf("the waiting new member should be dropped after 5 minutes: %+v", r)
	}
}

func TestCommitFetchAndMetadata(t *testing.T) {
	h := newHarness(t)
	var errs []error
	long := string(make([]byte, 4097))
	h.set.commit(h.now, &CommitRequest{Group: "simple", Generation: -1, Offsets: []CommitOffset{
		{TopicPartition: TopicPartition{"t", 0}, Offset: 5, LeaderEpoch: 3, Metadata: "hello"},
		{TopicPartition: TopicPartition{"t", 1}, Offset: 7, Metadata: long},
	}}, func(e []error) { errs = e })
	if errs != nil {
		t.Fatal("answered before durable")
	}
	if got := h.set.fetch("simple", nil); len(got) != 0 {
		t.Fatalf("offsets visible before durable: %+v", got)
	}
	h.flush()
	if errs[0] != nil || !errors.Is(errs[1], ErrOffsetMetadataTooLarge) {
		t.Fatalf("commit errors: %v", errs)
	}
	got := h.set.fetch("simple", []TopicPartition{{"t", 0}, {"t", 1}})
	want := []FetchedOffset{
		{TopicPartition: TopicPartition{"t", 0}, Offset: 5, LeaderEpoch: 3, Metadata: "hello"},
		{TopicPartition: TopicPartition{"t", 1}, Offset: -1, LeaderEpoch: -1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("fetch: %+v", got)
	}
	if got := h.set.fetch("nothing", []TopicPartition{{"t", 0}}); got[0].Offset != -1 {
		t.Fatalf("fetch of an unknown group: %+v", got)
	}
	// A commit with a generation to a group that does not exist.
	h.set.commit(h.now, &CommitRequest{Group: "nope", Generation: 3, MemberID: "m",
		Offsets: []CommitOffset{{TopicPartition: TopicPartition{"t", 0}}}}, func(e []error) { errs = e })
	if !errors.Is(errs[0], ErrIllegalGeneration) {
		t.Fatalf("commit to a missing group: %v", errs)
	}
	h.set.commit(h.now, &CommitRequest{Group: "nope", Generation: 3, MemberID: "m", MissingGroupNotFound: true,
		Offsets: []CommitOffset{{TopicPartition: TopicPartition{"t", 0}}}}, func(e []error) { errs = e })
	if !errors.Is(errs[0], ErrGroupIDNotFound) {
		t.Fatalf("commit v9+ to a missing group: %v", errs)
	}
}

func TestCommitsApplyInLogOrder(t *testing.T) {
	h := newHarness(t)
	commit := func(offset int64) {
		h.set.commit(h.now, &CommitRequest{Group: "g", Generation: -1,
			Offsets: []CommitOffset{{TopicPartition: TopicPartition{"t", 0}, Offset: offset}}}, func([]error) {})
	}
	commit(1)
	commit(2)
	// Completions may arrive out of order; the later append wins.
	h.store.waiting[0], h.store.waiting[1] = h.store.waiting[1], h.store.waiting[0]
	h.flush()
	if got := h.set.fetch("g", nil); got[0].Offset != 2 {
		t.Fatalf("offset %d, want 2", got[0].Offset)
	}
}

func TestOffsetRetention(t *testing.T) {
	h := newHarness(t)
	a := newClient("g", "t", "u")
	h.stable(a)
	for _, tp := range []TopicPartition{{"t", 0}, {"gone", 0}} {
		h.set.commit(h.now, &CommitRequest{Group: "g", Generation: a.generation, MemberID: a.id,
			Offsets: []CommitOffset{{TopicPartition: tp, Offset: 9}}}, func([]error) {})
	}
	h.flush()
	retention := 24 * time.Hour
	h.now = h.now.Add(retention) // no timers: a stays a member
	// Stable consumer group: only offsets of topics nobody subscribes to.
	if n, _ := h.set.expireOffsets(h.now, retention); n != 1 {
		t.Fatalf("expired %d offsets, want only the unsubscribed one", n)
	}
	h.set.leave(h.now, "g", []LeaveMember{{MemberID: a.id}})
	if h.state("g") != StateEmpty {
		t.Fatalf("state %v", h.state("g"))
	}
	h.advance(retention - time.Second)
	if n, g := h.set.expireOffsets(h.now, retention); n != 0 || g != 0 {
		t.Fatalf("expired %d offsets and %d groups before the retention passed", n, g)
	}
	h.advance(time.Second)
	if n, g := h.set.expireOffsets(h.now, retention); n != 1 || g != 1 {
		t.Fatalf("expired %d offsets and %d groups, want 1 and 1", n, g)
	}
	if h.set.group("g") != nil {
		t.Fatal("the group should be gone")
	}
	// The tombstones are the last records.
	recs := h.store.records[len(h.store.records)-2:]
	for _, r := range recs {
		if r.Value != nil {
			t.Fatalf("expected tombstones, got %+v", recs)
		}
	}
}

func TestExplicitExpireTime(t *testing.T) {
	h := newHarness(t)
	h.set.commit(h.now, &CommitRequest{Group: "g", Generation: -1, Retention: time.Hour,
		Offsets: []CommitOffset{{TopicPartition: TopicPartition{"t", 0}, Offset: 1}}}, func([]error) {})
	h.flush()
	h.advance(time.Hour)
	if n, _ := h.set.expireOffsets(h.now, 7*24*time.Hour); n != 1 {
		t.Fatalf("an offset committed with a retention should expire then, expired %d", n)
	}
}

func TestDeleteGroupsAndOffsets(t *testing.T) {
	h := newHarness(t)
	a := newClient("g", "t")
	h.stable(a)
	h.set.commit(h.now, &CommitRequest{Group: "g", Generation: a.generation, MemberID: a.id, Offsets: []CommitOffset{
		{TopicPartition: TopicPartition{"t", 0}, Offset: 1}, {TopicPartition: TopicPartition{"old", 0}, Offset: 2},
	}}, func([]error) {})
	h.flush()
	var errs []error
	h.set.deleteGroups([]string{"g", "missing"}, func(e []error) { errs = e })
	if !errors.Is(errs[0], ErrNonEmptyGroup) || !errors.Is(errs[1], ErrGroupIDNotFound) {
		t.Fatalf("delete: %v", errs)
	}
	var groupErr error
	h.set.deleteOffsets("g", []TopicPartition{{"t", 0}, {"old", 0}}, func(e []error, err error) { errs, groupErr = e, err })
	h.flush()
	if groupErr != nil || !errors.Is(errs[0], ErrGroupSubscribedToTopic) || errs[1] != nil {
		t.Fatalf("offset delete: %v %v", errs, groupErr)
	}
	if got := h.set.fetch("g", nil); len(got) != 1 || got[0].Topic != "t" {
		t.Fatalf("offsets after delete: %+v", got)
	}
	h.set.leave(h.now, "g", []LeaveMember{{MemberID: a.id}})
	errs = nil
	h.set.deleteGroups([]string{"g"}, func(e []error) { errs = e })
	if errs != nil {
		t.Fatal("answered before the tombstones were durable")
	}
	h.flush()
	if errs[0] != nil || h.set.group("g") != nil {
		t.Fatalf("delete of an empty group: %v", errs)
	}
	if got := h.set.fetch("g", nil); len(got) != 0 {
		t.Fatalf("offsets survived the delete: %+v", got)
	}
}

func TestLoadRebuildsGroupsAndOffsets(t *testing.T) {
	h := newHarness(t)
	inst := "pod"
	a, b := newClient("g", "t"), newClient("g", "t")
	b.instance = &inst
	h.stable(a, b)
	h.set.commit(h.now, &CommitRequest{Group: "g", Generation: a.generation, MemberID: a.id, Offsets: []CommitOffset{
		{TopicPartition: TopicPartition{"t", 0}, Offset: 10, LeaderEpoch: 2, Metadata: "m"},
	}}, func([]error) {})
	h.set.commit(h.now, &CommitRequest{Group: "simple", Generation: -1, Offsets: []CommitOffset{
		{TopicPartition: TopicPartition{"t", 1}, Offset: 3},
	}}, func([]error) {})
	h.set.commit(h.now, &CommitRequest{Group: "deleted", Generation: -1, Offsets: []CommitOffset{
		{TopicPartition: TopicPartition{"t", 1}, Offset: 3},
	}}, func([]error) {})
	h.flush()
	h.set.deleteGroups([]string{"deleted"}, func([]error) {})
	h.flush()

	loaded := newHarness(t)
	l := newLoader()
	for i, r := range h.store.records {
		if err := l.add(r.Key, r.Value, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.finish(loaded.set, loaded.now)
	if ids := len(loaded.set.groups); ids != 2 {
		t.Fatalf("loaded %d groups, want g and simple", ids)
	}
	g := loaded.set.group("g")
	if g.state != StateStable || g.generation != 1 || len(g.members) != 2 || g.instances[inst] != b.id || g.protocol != "range" {
		t.Fatalf("loaded group: %v gen %d members %v", g.state, g.generation, g.memberIDs())
	}
	if string(g.members[a.id].assignment) != a.id {
		t.Fatalf("assignment lost: %q", g.members[a.id].assignment)
	}
	if got := loaded.set.fetch("g", nil); len(got) != 1 || got[0].Offset != 10 || got[0].Metadata != "m" || got[0].LeaderEpoch != 2 {
		t.Fatalf("loaded offsets: %+v", got)
	}
	// The loaded members keep heartbeating with their ids and generation.
	if err := loaded.heartbeat(a); err != nil {
		t.Fatalf("heartbeat after load: %v", err)
	}
	if s := loaded.set.group("simple"); s.state != StateEmpty || s.protocolType != "" {
		t.Fatalf("offsets-only group: %v %q", s.state, s.protocolType)
	}
	// Without heartbeats the loaded members expire.
	loaded.advance(a.session)
	if g.state != StatePreparingRebalance && g.state != StateEmpty {
		t.Fatalf("members did not expire after load: %v", g.state)
	}
}

func TestPartitionFor(t *testing.T) {
	cases := []struct {
		group string
		hash  int32
		want  int32
	}{
		{"", 0, 0},
		{"hello", 99162322, 99162322 % 50},
		{"polygenelubricants", -1 << 31, 0}, // Java's hashCode is MinInt32; Kafka's abs maps it to 0
		{"test-group", 0, 0},
	}
	for _, c := range cases {
		if c.group == "test-group" {
			// Negative hashes use the absolute value.
			h := javaStringHashCode(c.group)
			want := h
			if want < 0 {
				want = -want
			}
			if got := PartitionFor(c.group, 50); got != want%50 {
				t.Errorf("PartitionFor(%q) = %d, want %d", c.group, got, want%50)
			}
			continue
		}
		if h := javaStringHashCode(c.group); h != c.hash {
			t.Errorf("javaStringHashCode(%q) = %d, want %d", c.group, h, c.hash)
		}
		if got := PartitionFor(c.group, 50); got != c.want {
			t.Errorf("PartitionFor(%q) = %d, want %d", c.group, got, c.want)
		}
	}
	// Characters outside the BMP count as two UTF-16 units, as in Java.
	if javaStringHashCode("😀") != 31*0xD83D+0xDE00 {
		t.Errorf("surrogate pairs are not hashed as UTF-16")
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	o := Offset{Offset: 42, LeaderEpoch: 7, Metadata: "meta", CommitTime: time.UnixMilli(1000)}
	r, err := decodeRecord(offsetKey("g", TopicPartition{"t", 3}), offsetValue(o))
	if err != nil || !r.isOffset || r.group != "g" || r.partition != (TopicPartition{"t", 3}) ||
		r.offset.Offset != 42 || r.offset.LeaderEpoch != 7 || r.offset.Metadata != "meta" || r.offset.Version != 3 {
		t.Fatalf("offset record: %+v %v", r, err)
	}
	o.ExpireTime = time.UnixMilli(5000)
	r, _ = decodeRecord(offsetKey("g", TopicPartition{"t", 3}), offsetValue(o))
	if r.offset.Version != 1 || r.offset.ExpireTimestamp != 5000 || r.offset.LeaderEpoch != -1 {
		t.Fatalf("v1 offset record: %+v", r.offset)
	}
	r, err = decodeRecord(groupKey("g"), nil)
	if err != nil || r.isOffset || r.metadata != nil || r.group != "g" {
		t.Fatalf("group tombstone: %+v %v", r, err)
	}
	if _, err := decodeRecord([]byte{0, 3, 1}, nil); err != errSkipRecord {
		t.Fatalf("unknown key version: %v", err)
	}
	if _, err := decodeRecord([]byte{0}, nil); err == nil {
		t.Fatal("short key accepted")
	}
}
