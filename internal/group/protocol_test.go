package group_test

// Request-level tests of the group APIs with raw kmsg requests: Kafka's
// error codes for bad input, and the old versions that kafka-python
// (v0-v2) and kafka-go (v0) send.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/arus-io/arus/internal/arustest"
)

// rawClient returns a client for raw requests; pins caps the versions of
// some keys (key -> max version), so a request is sent at that version.
// OffsetCommit and OffsetFetch are capped at v9 unless pinned otherwise:
// v10 names topics by id, which these tests do not fill in.
func rawClient(t *testing.T, addr string, pins map[int16]int16) *kgo.Client {
	t.Helper()
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(8, 9)
	versions.SetMaxKeyVersion(9, 9)
	for k, v := range pins {
		versions.SetMaxKeyVersion(k, v)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(versions))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func consumerProtocol(topics ...string) []kmsg.JoinGroupRequestProtocol {
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = topics
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", md.AppendTo(nil)
	return []kmsg.JoinGroupRequestProtocol{p}
}

// rawMember is a group member driven request by request.
type rawMember struct {
	cl         *kgo.Client
	group      string
	id         string
	generation int32
	session    time.Duration
	topics     []string
}

func (m *rawMember) join(ctx context.Context, t *testing.T) *kmsg.JoinGroupResponse {
	t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.MemberID, req.ProtocolType = m.group, m.id, "consumer"
	req.SessionTimeoutMillis = int32(m.session.Milliseconds())
	req.RebalanceTimeoutMillis = 10_000
	req.Protocols = consumerProtocol(m.topics...)
	resp, err := req.RequestWith(ctx, m.cl)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		m.id = resp.MemberID
		return m.join(ctx, t)
	}
	if resp.ErrorCode == 0 {
		m.id, m.generation = resp.MemberID, resp.Generation
	}
	return resp
}

func (m *rawMember) sync(ctx context.Context, t *testing.T, assignments map[string][]byte) *kmsg.SyncGroupResponse {
	t.Helper()
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group, req.MemberID, req.Generation = m.group, m.id, m.generation
	for id, a := range assignments {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, a
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	resp, err := req.RequestWith(ctx, m.cl)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return resp
}

func (m *rawMember) heartbeat(ctx context.Context, t *testing.T) int16 {
	t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation = m.group, m.id, m.generation
	resp, err := req.RequestWith(ctx, m.cl)
	if err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	return resp.ErrorCode
}

func codeName(code int16) string {
	if err := kerr.ErrorForCode(code); err != nil {
		return err.Error()
	}
	return "NONE"
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	wantCode := int16(0)
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Errorf("%s: got %s, want %s", what, codeName(got), codeName(wantCode))
	}
}

func TestCommitBadInput(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	adm := adminClient(t, b.Addr())
	topic := uniqueName(t, "topic")
	createTopic(t, ctx, adm, topic, 2)
	cl := rawClient(t, b.Addr(), nil)

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group = "simple"
	long, limit := strings.Repeat("x", 4097), strings.Repeat("m", 4096)
	var add func(topic string, partition int32, offset int64, metadata string)
	add = func(topic string, partition int32, offset int64, metadata string) {
		for i := range commit.Topics {
			if commit.Topics[i].Topic == topic {
				p := kmsg.NewOffsetCommitRequestTopicPartition()
				p.Partition, p.Offset, p.Metadata = partition, offset, &metadata
				commit.Topics[i].Partitions = append(commit.Topics[i].Partitions, p)
				return
			}
		}
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		commit.Topics = append(commit.Topics, rt)
		add(topic, partition, offset, metadata)
	}
	add(topic, 0, 7, limit)
	add(topic, 1, 8, long)
	add(topic, 99, 1, "")
	add("no-such-topic", 0, 1, "")
	resp, err := commit.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int16{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			codes[fmt.Sprintf("%s/%d", rt.Topic, p.Partition)] = p.ErrorCode
		}
	}
	wantCode(t, "commit with 4096 bytes of metadata", codes[topic+"/0"], nil)
	wantCode(t, "commit with 4097 bytes of metadata", codes[topic+"/1"], kerr.OffsetMetadataTooLarge)
	wantCode(t, "commit to an unknown partition", codes[topic+"/99"], kerr.UnknownTopicOrPartition)
	wantCode(t, "commit to an unknown topic", codes["no-such-topic/0"], kerr.UnknownTopicOrPartition)

	fetched, err := adm.FetchOffsets(ctx, "simple")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := fetched.Lookup(topic, 0); !ok || o.At != 7 || o.Metadata != limit {
		t.Errorf("the valid commit did not round-trip: %+v", o)
	}
	if _, ok := fetched.Lookup(topic, 1); ok {
		t.Errorf("the oversized commit was stored")
	}

	// v10 names topics by id.
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	byID := kmsg.NewPtrOffsetCommitRequest()
	byID.Group = "simple"
	for _, id := range [][16]byte{details[topic].ID, {1, 2, 3}} {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.TopicID = id
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Offset = 9
		rt.Partitions = append(rt.Partitions, p)
		byID.Topics = append(byID.Topics, rt)
	}
	v10 := rawClient(t, b.Addr(), map[int16]int16{8: 10, 9: 10})
	r10, err := byID.RequestWith(ctx, v10)
	if err != nil || r10.Version != 10 {
		t.Fatalf("commit v10: %v %+v", err, r10)
	}
	wantCode(t, "commit v10 by id", r10.Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "commit v10 to an unknown topic id", r10.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicID)
	if r10.Topics[0].TopicID != details[topic].ID {
		t.Errorf("commit v10 answered with topic id %v", r10.Topics[0].TopicID)
	}
	f10 := kmsg.NewPtrOffsetFetchRequest()
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = "simple"
	g.Topics = []kmsg.OffsetFetchRequestGroupTopic{{TopicID: details[topic].ID, Partitions: []int32{0}}, {TopicID: [16]byte{1, 2, 3}, Partitions: []int32{0}}}
	f10.Groups = append(f10.Groups, g)
	fr10, err := f10.RequestWith(ctx, v10)
	if err != nil || fr10.Version != 10 || len(fr10.Groups) != 1 || len(fr10.Groups[0].Topics) != 2 {
		t.Fatalf("fetch v10: %v %+v", err, fr10)
	}
	if got := fr10.Groups[0].Topics[0]; got.TopicID != details[topic].ID || got.Partitions[0].Offset != 9 {
		t.Errorf("fetch v10 by id: %+v", got)
	}
	wantCode(t, "fetch v10 of an unknown topic id", fr10.Groups[0].Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicID)

	// The empty group id is accepted for commits, as Kafka does.
	commit = kmsg.NewPtrOffsetCommitRequest()
	commit.Group = ""
	add(topic, 0, 1, "")
	if resp, err := commit.RequestWith(ctx, cl); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Errorf("commit with an empty group id: %v %+v", err, resp)
	}
}

func TestInvalidGroupID(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	cl := rawClient(t, b.Addr(), nil)
	m := &rawMember{cl: cl, group: "", session: 10 * time.Second, topics: []string{"t"}}
	wantCode(t, "join with an empty group id", m.join(ctx, t).ErrorCode, kerr.InvalidGroupID)
	m.id = "x"
	wantCode(t, "sync with an empty group id", m.sync(ctx, t, nil).ErrorCode, kerr.InvalidGroupID)
	wantCode(t, "heartbeat with an empty group id", m.heartbeat(ctx, t), kerr.InvalidGroupID)
	leave := kmsg.NewPtrLeaveGroupRequest()
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = "x"
	leave.Members = append(leave.Members, lm)
	resp, err := leave.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "leave with an empty group id", resp.ErrorCode, kerr.InvalidGroupID)
}

func TestSyncFromFollowerIsIgnoredAndEvictedHeartbeats(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	cl := rawClient(t, b.Addr(), nil)
	group := uniqueName(t, "group")
	leader := &rawMember{cl: cl, group: group, session: 10 * time.Second, topics: []string{"t"}}
	follower := &rawMember{cl: rawClient(t, b.Addr(), nil), group: group, session: time.Second, topics: []string{"t"}}

	if r := leader.join(ctx, t); r.ErrorCode != 0 || r.LeaderID != leader.id {
		t.Fatalf("first join: %+v", r)
	}
	joined := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { joined <- follower.join(ctx, t) }()
	// The follower's join starts a rebalance; the leader hears of it by
	// heartbeat and rejoins, which completes the round.
	arustest.Eventually(t, clientTestTimeout, "the leader sees the rebalance", func() bool {
		return leader.heartbeat(ctx, t) == kerr.RebalanceInProgress.Code
	})
	if r := leader.join(ctx, t); r.ErrorCode != 0 || len(r.Members) != 2 {
		t.Fatalf("leader rejoin: %+v", r)
	}
	if r := <-joined; r.ErrorCode != 0 || r.LeaderID != leader.id || len(r.Members) != 0 {
		t.Fatalf("follower join: %+v", r)
	}

	synced := make(chan *kmsg.SyncGroupResponse, 1)
	go func() {
		synced <- follower.sync(ctx, t, map[string][]byte{follower.id: []byte("mine"), leader.id: []byte("nothing")})
	}()
	lr := leader.sync(ctx, t, map[string][]byte{leader.id: []byte("L"), follower.id: []byte("F")})
	fr := <-synced
	if lr.ErrorCode != 0 || string(lr.MemberAssignment) != "L" || fr.ErrorCode != 0 || string(fr.MemberAssignment) != "F" {
		t.Fatalf("the follower's assignments were not ignored: leader %q %s, follower %q %s",
			lr.MemberAssignment, codeName(lr.ErrorCode), fr.MemberAssignment, codeName(fr.ErrorCode))
	}

	// The follower stops heartbeating; after its 1s session it is evicted.
	adm := adminClient(t, b.Addr())
	arustest.Eventually(t, clientTestTimeout, "the follower is evicted", func() bool {
		_ = leader.heartbeat(ctx, t)
		d, err := adm.DescribeGroups(ctx, group)
		return err == nil && len(d[group].Members) == 1
	})
	wantCode(t, "heartbeat of an evicted member", follower.heartbeat(ctx, t), kerr.UnknownMemberID)
	wantCode(t, "sync of an evicted member", follower.sync(ctx, t, nil).ErrorCode, kerr.UnknownMemberID)
	stale := *leader
	stale.generation = 1
	wantCode(t, "heartbeat with an old generation", stale.heartbeat(ctx, t), kerr.IllegalGeneration)
}

func TestMemberIDRequiredAndStaticFencing(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	cl := rawClient(t, b.Addr(), nil)
	group := uniqueName(t, "group")

	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = group, "consumer", 10_000, 10_000
	req.Protocols = consumerProtocol("t")
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != kerr.MemberIDRequired.Code || resp.MemberID == "" {
		t.Fatalf("first join v%d: %v %+v", resp.Version, err, resp)
	}

	// Static members skip the first step. (A separate group: the pending
	// id above would hold up this group's round until it expires.)
	instance := "pod-0"
	static := kmsg.NewPtrJoinGroupRequest()
	*static = *req
	static.Group = uniqueName(t, "static")
	group = static.Group
	static.InstanceID = &instance
	first, err := static.RequestWith(ctx, cl)
	if err != nil || first.ErrorCode != 0 {
		t.Fatalf("static join: %v %+v", err, first)
	}
	// A second process with the same instance id fences the first.
	second, err := static.RequestWith(ctx, cl)
	if err != nil || second.ErrorCode != 0 || second.MemberID == first.MemberID {
		t.Fatalf("static rejoin: %v %+v", err, second)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = group, first.MemberID, second.Generation, &instance
	hr, err := hb.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "heartbeat of the fenced instance", hr.ErrorCode, kerr.FencedInstanceID)
}

func TestFindCoordinatorKeyTypes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	cl := rawClient(t, b.Addr(), nil)
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKeys = []string{"g1", "g2"}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Coordinators) != 2 || resp.Coordinators[0].ErrorCode != 0 || resp.Coordinators[0].NodeID != 1 ||
		resp.Coordinators[0].Port <= 0 {
		t.Fatalf("batched group keys: %+v", resp)
	}
	req.CoordinatorType = 1
	resp, _ = req.RequestWith(ctx, cl)
	if c := resp.Coordinators[0]; c.ErrorCode != 0 || c.NodeID != 1 || c.Port <= 0 {
		t.Fatalf("transaction key: %+v", c)
	}
	req.CoordinatorType = 7
	resp, _ = req.RequestWith(ctx, cl)
	wantCode(t, "unknown key type", resp.Coordinators[0].ErrorCode, kerr.InvalidRequest)

	v0 := rawClient(t, b.Addr(), map[int16]int16{10: 0})
	old := kmsg.NewPtrFindCoordinatorRequest()
	old.CoordinatorKey = "g1"
	r0, err := old.RequestWith(ctx, v0)
	if err != nil || r0.Version != 0 || r0.ErrorCode != 0 || r0.NodeID != 1 || r0.Host == "" {
		t.Fatalf("v0: %v %+v", err, r0)
	}
}

func TestDescribeDeleteListAndOffsetDelete(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	adm := adminClient(t, b.Addr())
	topic, other := uniqueName(t, "topic"), uniqueName(t, "other")
	createTopic(t, ctx, adm, topic, 1)
	createTopic(t, ctx, adm, other, 1)
	cl := rawClient(t, b.Addr(), nil)
	group := uniqueName(t, "group")
	m := &rawMember{cl: cl, group: group, session: 10 * time.Second, topics: []string{topic}}
	m.join(ctx, t)
	m.sync(ctx, t, map[string][]byte{m.id: []byte{}})

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.MemberID, commit.Generation = group, m.id, m.generation
	for _, tp := range []string{topic, other} {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = tp
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Offset = 0
		rt.Partitions = append(rt.Partitions, p)
		commit.Topics = append(commit.Topics, rt)
	}
	if resp, err := commit.RequestWith(ctx, cl); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("member commit: %v %+v", err, resp)
	}

	del := kmsg.NewPtrOffsetDeleteRequest()
	del.Group = group
	for _, tp := range []string{topic, other, "no-such-topic"} {
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = tp
		rt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
		del.Topics = append(del.Topics, rt)
	}
	dr, err := del.RequestWith(ctx, cl)
	if err != nil || dr.ErrorCode != 0 {
		t.Fatalf("offset delete: %v %+v", err, dr)
	}
	wantCode(t, "offset delete of a subscribed topic", dr.Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)
	wantCode(t, "offset delete of another topic", dr.Topics[1].Partitions[0].ErrorCode, nil)
	wantCode(t, "offset delete of an unknown topic", dr.Topics[2].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
	del.Group = "no-such-group"
	if dr, _ := del.RequestWith(ctx, cl); dr == nil || dr.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("offset delete of an unknown group: %+v", dr)
	}

	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Groups = []string{group, "no-such-group"}
	dgr, err := dg.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete of a group with members", dgr.Groups[0].ErrorCode, kerr.NonEmptyGroup)
	wantCode(t, "delete of an unknown group", dgr.Groups[1].ErrorCode, kerr.GroupIDNotFound)

	lg := kmsg.NewPtrListGroupsRequest()
	lg.StatesFilter = []string{"stable"}
	lr, err := lg.RequestWith(ctx, cl)
	if err != nil || len(lr.Groups) != 1 || lr.Groups[0].Group != group || lr.Groups[0].GroupState != "Stable" || lr.Groups[0].GroupType != "classic" {
		t.Fatalf("list stable groups: %v %+v", err, lr)
	}
	lg.StatesFilter = []string{"Empty"}
	if lr, _ := lg.RequestWith(ctx, cl); lr == nil || len(lr.Groups) != 0 {
		t.Errorf("list empty groups: %+v", lr)
	}

	dsc := kmsg.NewPtrDescribeGroupsRequest()
	dsc.Groups = []string{"no-such-group"}
	dscr, err := dsc.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "describe v6 of an unknown group", dscr.Groups[0].ErrorCode, kerr.GroupIDNotFound)
	v5 := rawClient(t, b.Addr(), map[int16]int16{15: 5})
	if r, err := dsc.RequestWith(ctx, v5); err != nil || r.Groups[0].ErrorCode != 0 || r.Groups[0].State != "Dead" {
		t.Errorf("describe v5 of an unknown group: %v %+v", err, r)
	}

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = group
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: m.id}, {MemberID: "stranger"}}
	lv, err := leave.RequestWith(ctx, cl)
	if err != nil || lv.ErrorCode != 0 {
		t.Fatalf("leave: %v %+v", err, lv)
	}
	wantCode(t, "leave of the member", lv.Members[0].ErrorCode, nil)
	wantCode(t, "leave of a stranger", lv.Members[1].ErrorCode, kerr.UnknownMemberID)
	if dgr, _ := dg.RequestWith(ctx, cl); dgr == nil || dgr.Groups[0].ErrorCode != 0 {
		t.Errorf("delete of the empty group: %+v", dgr)
	}
	fetched, err := adm.FetchOffsets(ctx, group)
	if err != nil || len(fetched) != 0 {
		t.Errorf("offsets after delete: %v %v", fetched, err)
	}
}

// TestOldVersions runs a whole group life cycle with the versions
// kafka-python 2.0.2 and kafka-go send: FindCoordinator v0, JoinGroup v0,
// SyncGroup, Heartbeat and LeaveGroup v0, OffsetCommit v0-v2, OffsetFetch
// v0-v1.
func TestOldVersions(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	adm := adminClient(t, b.Addr())
	topic := uniqueName(t, "topic")
	createTopic(t, ctx, adm, topic, 1)
	pins := map[int16]int16{8: 2, 9: 1, 10: 0, 11: 0, 12: 0, 13: 0, 14: 0}
	cl := rawClient(t, b.Addr(), pins)
	group := uniqueName(t, "group")
	m := &rawMember{cl: cl, group: group, session: 10 * time.Second, topics: []string{topic}}
	jr := m.join(ctx, t)
	if jr.Version != 0 || jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != m.id || jr.Protocol == nil || *jr.Protocol != "range" {
		t.Fatalf("join v0: %+v", jr)
	}
	if sr := m.sync(ctx, t, map[string][]byte{m.id: []byte("a")}); sr.Version != 0 || sr.ErrorCode != 0 || string(sr.MemberAssignment) != "a" {
		t.Fatalf("sync v0: %+v", sr)
	}
	wantCode(t, "heartbeat v0", m.heartbeat(ctx, t), nil)

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.MemberID, commit.Generation, commit.RetentionTimeMillis = group, m.id, m.generation, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	md := "kafka-python"
	p.Offset, p.Metadata = 42, &md
	rt.Partitions = append(rt.Partitions, p)
	commit.Topics = append(commit.Topics, rt)
	cr, err := commit.RequestWith(ctx, cl)
	if err != nil || cr.Version != 2 || cr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("commit v2: %v %+v", err, cr)
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = group
	fetch.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: []int32{0, 5}}}
	fr, err := fetch.RequestWith(ctx, cl)
	if err != nil || fr.Version != 1 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 2 {
		t.Fatalf("fetch v1: %v %+v", err, fr)
	}
	got := fr.Topics[0].Partitions
	if got[0].Offset != 42 || got[0].Metadata == nil || *got[0].Metadata != md || got[1].Offset != -1 {
		t.Errorf("fetch v1 offsets: %+v", got)
	}

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group, leave.MemberID = group, m.id
	lr, err := leave.RequestWith(ctx, cl)
	if err != nil || lr.Version != 0 || lr.ErrorCode != 0 {
		t.Fatalf("leave v0: %v %+v", err, lr)
	}
	if lr, _ := leave.RequestWith(ctx, cl); lr == nil || lr.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("second leave v0 should fold the member error into the top level: %+v", lr)
	}

	// v0 commits carry no generation: accepted now that the group is empty.
	v0 := rawClient(t, b.Addr(), map[int16]int16{8: 0, 9: 0})
	commit.Topics[0].Partitions[0].Offset = 43
	if cr, err := commit.RequestWith(ctx, v0); err != nil || cr.Version != 0 || cr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("commit v0: %v %+v", err, cr)
	}
	fr, err = fetch.RequestWith(ctx, v0)
	if err != nil || fr.Version != 0 || fr.Topics[0].Partitions[0].Offset != 43 {
		t.Fatalf("fetch v0: %v %+v", err, fr)
	}
	// A group error in v0/v1 appears on every partition.
	fetch.Group = ""
	nc := rawClient(t, b.Addr(), map[int16]int16{9: 1})
	if fr, err := fetch.RequestWith(ctx, nc); err != nil || fr.Topics[0].Partitions[0].Offset != -1 {
		t.Errorf("fetch v1 for the empty group: %v %+v", err, fr)
	}
}
