package group

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The pure-core tests drive a groupSet with a fake clock (h.now, moved by
// advance) and a fake store whose writes become durable only when the
// test calls flush, as the shard's would when its waiter reports back.

// fakeStore records every write; completions run at flush.
type fakeStore struct {
	set     *groupSet
	next    int64
	records []keyValue
	waiting []fakeWrite
	// fail, when set, is the error the next flushes report.
	fail error
}

type fakeWrite struct {
	g    *group
	base int64
	done func(time.Time, int64, error)
}

func (f *fakeStore) append(g *group, records []keyValue, done func(time.Time, int64, error)) {
	base := f.next
	f.next += int64(len(records))
	f.records = append(f.records, records...)
	if done != nil {
		f.waiting = append(f.waiting, fakeWrite{g: g, base: base, done: done})
	}
}

func (f *fakeStore) appendTxn(g *group, _ int64, _ int16, records []keyValue, done func(time.Time, int64, error)) {
	f.append(g, records, done)
}

type harness struct {
	t     *testing.T
	now   time.Time
	set   *groupSet
	store *fakeStore
}

func testSettings() *settings {
	level := slog.LevelError
	if os.Getenv("ARUS_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return &settings{
		initialRebalanceDelay: 0, newMemberJoinTimeout: 5 * time.Minute,
		minSessionTimeout: time.Second, maxSessionTimeout: time.Hour,
		offsetMetadataMax: 4096,
		logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
}

func newHarness(t *testing.T, change ...func(*settings)) *harness {
	s := testSettings()
	for _, c := range change {
		c(s)
	}
	st := &fakeStore{}
	h := &harness{t: t, now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), store: st}
	h.set = newGroupSet(s, st)
	st.set = h.set
	return h
}

// flush makes every write so far durable (or failed with store.fail).
func (h *harness) flush() {
	for len(h.store.waiting) > 0 {
		w := h.store.waiting[0]
		h.store.waiting = h.store.waiting[1:]
		w.done(h.now, w.base, h.store.fail)
		if w.g != nil {
			h.set.schedule(w.g)
		}
	}
}

// advance moves the clock and fires due timers.
func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.set.tick(h.now)
}

// tick fires timers due now (zero delays).
func (h *harness) tick() { h.set.tick(h.now) }

type joinCall struct {
	t    *testing.T
	done bool
	res  JoinResult
}

func (c *joinCall) result() JoinResult {
	c.t.Helper()
	if !c.done {
		c.t.Fatalf("JoinGroup not answered yet")
	}
	return c.res
}

type syncCall struct {
	t    *testing.T
	done bool
	res  SyncResult
}

func (c *syncCall) result() SyncResult {
	c.t.Helper()
	if !c.done {
		c.t.Fatalf("SyncGroup not answered yet")
	}
	return c.res
}

// member describes a client for the helpers below.
type client struct {
	group      string
	id         string
	instance   *string
	session    time.Duration
	rebalance  time.Duration
	topics     []string
	generation int32
}

func newClient(group string, topics ...string) *client {
	return &client{group: group, session: 10 * time.Second, rebalance: 30 * time.Second, topics: topics}
}

func consumerMetadata(topics ...string) []byte {
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = topics
	return md.AppendTo(nil)
}

func (c *client) joinRequest(requireKnown bool) JoinRequest {
	return JoinRequest{
		Group: c.group, MemberID: c.id, InstanceID: c.instance, ClientID: "test", ClientHost: "/127.0.0.1",
		SessionTimeout: c.session, RebalanceTimeout: c.rebalance, ProtocolType: "consumer",
		Protocols:            []Protocol{{Name: "range", Metadata: consumerMetadata(c.topics...)}},
		RequireKnownMemberID: requireKnown,
	}
}

func (h *harness) join(c *client) *joinCall {
	return h.joinReq(c, c.joinRequest(false))
}

func (h *harness) joinReq(c *client, req JoinRequest) *joinCall {
	call := &joinCall{t: h.t}
	h.set.join(h.now, &req, func(r JoinResult) {
		if call.done {
			h.t.Fatalf("JoinGroup of %q answered twice", c.id)
		}
		call.done, call.res = true, r
		if r.Err == nil {
			c.id, c.generation = r.MemberID, r.Generation
		}
	})
	return call
}

func (h *harness) sync(c *client, assignments map[string][]byte) *syncCall {
	call := &syncCall{t: h.t}
	req := SyncRequest{Group: c.group, Generation: c.generation, MemberID: c.id, InstanceID: c.instance, Assignments: assignments}
	h.set.sync(h.now, &req, func(r SyncResult) {
		if call.done {
			h.t.Fatalf("SyncGroup of %q answered twice", c.id)
		}
		call.done, call.res = true, r
	})
	return call
}

func (h *harness) heartbeat(c *client) error {
	return h.set.heartbeat(h.now, &HeartbeatRequest{Group: c.group, Generation: c.generation, MemberID: c.id, InstanceID: c.instance})
}

func (h *harness) state(group string) State {
	g := h.set.group(group)
	if g == nil {
		return StateDead
	}
	return g.state
}

// stable brings clients into a Stable generation: they join (the first
// with the others following its round), the leader assigns each member
// its id as the assignment, and all sync.
func (h *harness) stable(clients ...*client) {
	h.t.Helper()
	calls := make([]*joinCall, len(clients))
	for i, c := range clients {
		calls[i] = h.join(c)
	}
	h.tick()
	var leader *client
	for i, c := range clients {
		r := calls[i].result()
		if r.Err != nil {
			h.t.Fatalf("join of client %d: %v", i, r.Err)
		}
		if r.Leader == c.id {
			leader = c
		}
	}
	for _, c := range clients {
		c.generation = calls[0].res.Generation
	}
	assignments := map[string][]byte{}
	for _, c := range clients {
		assignments[c.id] = []byte(c.id)
	}
	syncs := make([]*syncCall, len(clients))
	for i, c := range clients {
		if c != leader {
			syncs[i] = h.sync(c, nil)
		}
	}
	for i, c := range clients {
		if c == leader {
			syncs[i] = h.sync(c, assignments)
		}
	}
	h.flush()
	for i, c := range clients {
		r := syncs[i].result()
		if r.Err != nil || string(r.Assignment) != c.id {
			h.t.Fatalf("sync of client %d: %+v", i, r)
		}
	}
	if s := h.state(clients[0].group); s != StateStable {
		h.t.Fatalf("group is %v, want Stable", s)
	}
}
