package quorum

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// memSM is a StateMachine that keeps every record, indexed by offset.
type memSM struct {
	mu       sync.Mutex
	records  []string
	restores int
	err      error // first contract violation seen
}

func (m *memSM) Apply(offset int64, record []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if offset != int64(len(m.records)) && m.err == nil {
		m.err = fmt.Errorf("apply at offset %d, want %d", offset, len(m.records))
	}
	m.records = append(m.records, string(record))
}

func (m *memSM) Snapshot() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return json.Marshal(m.records)
}

func (m *memSM) Restore(snapshot []byte, nextOffset int64) error {
	var recs []string
	if err := json.Unmarshal(snapshot, &recs); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if int64(len(recs)) != nextOffset && m.err == nil {
		m.err = fmt.Errorf("restore of %d records with next offset %d", len(recs), nextOffset)
	}
	m.records = recs
	m.restores++
	return nil
}

func (m *memSM) snapshot() (records []string, restores int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.records), m.restores, m.err
}

// eventually polls cond until it holds or timeout passes. (The quorum
// tests cannot use arustest.Eventually: arustest imports the broker, which
// imports this package.)
func eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", timeout, msg)
		}
		<-tick.C
	}
}

func testLogger() *slog.Logger {
	level := slog.LevelError + 4 // raft's expected warnings stay quiet
	if os.Getenv("ARUS_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

type testNode struct {
	id   uint64
	dir  string
	raft *Raft // nil while stopped
	sm   *memSM
}

type testCluster struct {
	t      *testing.T
	voters map[uint64]string
	nodes  map[uint64]*testNode
	tune   func(*Config)
}

// newCluster binds n listeners on 127.0.0.1:0 and starts the nodes in
// start (all when start is nil).
func newCluster(t *testing.T, n int, tune func(*Config), start ...uint64) *testCluster {
	t.Helper()
	c := &testCluster{t: t, voters: map[uint64]string{}, nodes: map[uint64]*testNode{}, tune: tune}
	listeners := map[uint64]net.Listener{}
	for id := uint64(1); id <= uint64(n); id++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners[id] = ln
		c.voters[id] = ln.Addr().String()
		c.nodes[id] = &testNode{id: id, dir: t.TempDir()}
	}
	if start == nil {
		for id := range c.nodes {
			start = append(start, id)
		}
	}
	for id, ln := range listeners {
		if slices.Contains(start, id) {
			c.startWith(id, ln)
		} else {
			ln.Close() // started later on the same address
		}
	}
	t.Cleanup(func() {
		for id := range c.nodes {
			c.stop(id)
		}
	})
	return c
}

func (c *testCluster) config(id uint64) Config {
	cfg := Config{
		NodeID:         id,
		Voters:         c.voters,
		Dir:            c.nodes[id].dir,
		TickInterval:   20 * time.Millisecond,
		ElectionTicks:  10,
		HeartbeatTicks: 1,
		Logger:         testLogger(),
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	return cfg
}

func (c *testCluster) startWith(id uint64, ln net.Listener) {
	c.t.Helper()
	n := c.nodes[id]
	cfg := c.config(id)
	cfg.Listener = ln
	n.sm = &memSM{}
	r, err := StartRaft(cfg, n.sm)
	if err != nil {
		c.t.Fatalf("start node %d: %v", id, err)
	}
	n.raft = r
}

// start (re)starts a node on its directory and address.
func (c *testCluster) start(id uint64) { c.startWith(id, nil) }

func (c *testCluster) stop(id uint64) {
	c.t.Helper()
	n := c.nodes[id]
	if n.raft == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.raft.Shutdown(ctx); err != nil {
		c.t.Errorf("shutdown node %d: %v", id, err)
	}
	n.raft = nil
}

func (c *testCluster) running() []*testNode {
	var out []*testNode
	for id := uint64(1); id <= uint64(len(c.nodes)); id++ {
		if n := c.nodes[id]; n.raft != nil {
			out = append(out, n)
		}
	}
	return out
}

// leader waits until exactly one running node leads and every running
// node knows it.
func (c *testCluster) leader(timeout time.Duration) *testNode {
	c.t.Helper()
	var lead *testNode
	eventually(c.t, timeout, "one leader known to every running node", func() bool {
		lead = nil
		for _, n := range c.running() {
			if n.raft.IsLeader() {
				if lead != nil {
					return false
				}
				lead = n
			}
		}
		if lead == nil {
			return false
		}
		for _, n := range c.running() {
			if n.raft.LeaderID() != lead.id {
				return false
			}
		}
		return true
	})
	return lead
}

// appendRetry appends through whichever node leads, retrying while the
// leadership moves, and returns the first offset.
func (c *testCluster) appendRetry(records ...string) int64 {
	c.t.Helper()
	raw := make([][]byte, len(records))
	for i, r := range records {
		raw[i] = []byte(r)
	}
	var off int64
	eventually(c.t, 10*time.Second, fmt.Sprintf("append %q", records), func() bool {
		for _, n := range c.running() {
			if !n.raft.IsLeader() {
				continue
			}
			var err error
			off, err = n.raft.Append(raw...)
			if err == nil {
				return true
			}
			if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrLeadershipLost) {
				c.t.Fatalf("append on node %d: %v", n.id, err)
			}
		}
		return false
	})
	return off
}

// converged waits until every running node has applied exactly want.
func (c *testCluster) converged(want []string) {
	c.t.Helper()
	eventually(c.t, 10*time.Second, fmt.Sprintf("every running node applies the %d records", len(want)), func() bool {
		for _, n := range c.running() {
			got, _, err := n.sm.snapshot()
			if err != nil {
				c.t.Fatalf("node %d: %v", n.id, err)
			}
			if len(got) > len(want) {
				c.t.Fatalf("node %d applied %d records, more than the %d committed: %q", n.id, len(got), len(want), got)
			}
			if !slices.Equal(got, want) {
				return false
			}
			if n.raft.Applied() != int64(len(want)) {
				return false
			}
		}
		return true
	})
}

func TestRaftThreeNodesReplicate(t *testing.T) {
	c := newCluster(t, 3, nil)
	lead := c.leader(10 * time.Second)

	var want []string
	for i := range 5 {
		recs := []string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)}
		off, err := lead.raft.Append([]byte(recs[0]), []byte(recs[1]))
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		if off != int64(len(want)) {
			t.Fatalf("append %d: offset %d, want %d", i, off, len(want))
		}
		// Append returns after the leader applied the records.
		if got := lead.raft.Applied(); got < off+2 {
			t.Fatalf("leader applied up to %d after append returned offset %d", got, off)
		}
		want = append(want, recs...)
	}

	// Concurrent appends get distinct, contiguous offsets; the order the
	// subscribers see is the offset order.
	var wg sync.WaitGroup
	offsets := make([]int64, 20)
	for i := range offsets {
		wg.Go(func() {
			off, err := lead.raft.Append([]byte(fmt.Sprintf("c%d", i)))
			if err != nil {
				t.Errorf("concurrent append %d: %v", i, err)
			}
			offsets[i] = off
		})
	}
	wg.Wait()
	got, _, _ := lead.sm.snapshot()
	for i, off := range offsets {
		if got[off] != fmt.Sprintf("c%d", i) {
			t.Fatalf("record at offset %d is %q, want c%d", off, got[off], i)
		}
	}
	want = got
	if len(want) != 30 {
		t.Fatalf("leader applied %d records, want 30", len(want))
	}
	c.converged(want)

	// A follower refuses and names the leader.
	for _, n := range c.running() {
		if n == lead {
			continue
		}
		_, err := n.raft.Append([]byte("nope"))
		var nl NotLeaderError
		if !errors.As(err, &nl) || !errors.Is(err, ErrNotLeader) {
			t.Fatalf("append on follower %d: %v, want NotLeaderError", n.id, err)
		}
		if nl.LeaderID != lead.id {
			t.Fatalf("follower %d names leader %d, want %d", n.id, nl.LeaderID, lead.id)
		}
	}
	c.converged(want)
}

func TestRaftFailoverAndRestart(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.leader(10 * time.Second)
	var want []string
	for i := range 10 {
		rec := fmt.Sprintf("before-%d", i)
		c.appendRetry(rec)
		want = append(want, rec)
	}
	c.converged(want)

	old := c.leader(time.Second)
	c.stop(old.id)
	start := time.Now()
	lead := c.leader(5 * time.Second)
	if lead.id == old.id {
		t.Fatal("stopped node still leads")
	}
	t.Logf("new leader %d after %s", lead.id, time.Since(start))
	for i := range 10 {
		rec := fmt.Sprintf("after-%d", i)
		if off := c.appendRetry(rec); off != int64(len(want)) {
			t.Fatalf("append after failover at offset %d, want %d", off, len(want))
		}
		want = append(want, rec)
	}
	c.converged(want)

	// The old leader returns on its directory and catches up.
	c.start(old.id)
	got, _, _ := c.nodes[old.id].sm.snapshot()
	if !slices.Equal(got, want[:len(got)]) || len(got) < 10 {
		t.Fatalf("restarted node recovered %q from disk, want a prefix of at least the first 10 of %q", got, want)
	}
	c.converged(want)
	rec := "after-restart"
	c.appendRetry(rec)
	want = append(want, rec)
	c.converged(want)
}

func TestRaftSnapshotCompactionAndCatchUp(t *testing.T) {
	tune := func(cfg *Config) {
		cfg.SnapshotEntries = 10
		cfg.CatchUpEntries = 3
	}
	// Node 3 is a voter from the start but joins only after the log was
	// compacted, so it can only catch up from a snapshot.
	c := newCluster(t, 3, tune, 1, 2)
	c.leader(10 * time.Second)
	var want []string
	for i := range 60 {
		rec := fmt.Sprintf("r%d", i)
		c.appendRetry(rec)
		want = append(want, rec)
	}
	c.converged(want)
	for _, n := range c.running() {
		first, _ := n.raft.storage.FirstIndex()
		if first < 40 {
			t.Errorf("node %d: raft log starts at %d after 60 entries; not compacted", n.id, first)
		}
		st, err := os.Stat(filepath.Join(n.dir, walName))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 4096 {
			t.Errorf("node %d: wal is %d bytes after compaction", n.id, st.Size())
		}
	}

	c.start(3)
	c.converged(want)
	if _, restores, _ := c.nodes[3].sm.snapshot(); restores == 0 {
		t.Fatal("late node caught up without a snapshot")
	}
	for i := range 15 {
		rec := fmt.Sprintf("s%d", i)
		c.appendRetry(rec)
		want = append(want, rec)
	}
	c.converged(want)

	// Every node restarts from its own snapshot and log.
	for id := uint64(1); id <= 3; id++ {
		c.stop(id)
		c.start(id)
		got, restores, _ := c.nodes[id].sm.snapshot()
		if restores != 1 {
			t.Errorf("node %d restored %d snapshots on restart, want 1", id, restores)
		}
		if !slices.Equal(got, want[:len(got)]) {
			t.Fatalf("node %d recovered %q, not a prefix of %q", id, got, want)
		}
		c.converged(want)
	}
	c.leader(10 * time.Second)
	c.appendRetry("last")
	want = append(want, "last")
	c.converged(want)
}

func TestRaftSingleVoter(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{
		NodeID:          1,
		Voters:          map[uint64]string{1: "127.0.0.1:0"},
		Dir:             dir,
		SnapshotEntries: 7,
		CatchUpEntries:  2,
		Logger:          testLogger(),
	}
	sm := &memSM{}
	r, err := StartRaft(cfg, sm)
	if err != nil {
		t.Fatal(err)
	}
	if !r.IsLeader() || r.LeaderID() != 1 {
		t.Fatalf("single voter: leader %v, id %d after start", r.IsLeader(), r.LeaderID())
	}
	var want []string
	for i := range 20 {
		a, b := fmt.Sprintf("x%d", i), fmt.Sprintf("y%d", i)
		off, err := r.Append([]byte(a), []byte(b))
		if err != nil {
			t.Fatal(err)
		}
		if off != int64(len(want)) {
			t.Fatalf("offset %d, want %d", off, len(want))
		}
		want = append(want, a, b)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if _, err := r.Append([]byte("late")); err == nil {
		t.Fatal("append after shutdown succeeded")
	}

	// Restart: the snapshot and the entries after it are applied before
	// StartRaft returns, and offsets continue.
	sm = &memSM{}
	r, err = StartRaft(cfg, sm)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(context.Background())
	got, restores, err := sm.snapshot()
	if err != nil || restores != 1 || !slices.Equal(got, want) {
		t.Fatalf("after restart: %d records (restores %d, err %v), want %d", len(got), restores, err, len(want))
	}
	off, err := r.Append([]byte("z"))
	if err != nil || off != int64(len(want)) {
		t.Fatalf("append after restart: offset %d, err %v; want %d", off, err, len(want))
	}
}

func TestRaftLeaderWithoutQuorumFailsAppends(t *testing.T) {
	c := newCluster(t, 3, nil)
	lead := c.leader(10 * time.Second)
	c.appendRetry("one")
	for _, n := range c.running() {
		if n != lead {
			c.stop(n.id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := lead.raft.AppendContext(ctx, []byte("two"))
	if !errors.Is(err, ErrLeadershipLost) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("append without a quorum: %v, want ErrLeadershipLost or ErrNotLeader", err)
	}
	eventually(t, 5*time.Second, "leader steps down without a quorum", func() bool { return !lead.raft.IsLeader() })
}

func TestRaftRefusesOtherVoters(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{NodeID: 1, Voters: map[uint64]string{1: "127.0.0.1:0"}, Dir: dir, Logger: testLogger()}
	r, err := StartRaft(cfg, &memSM{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Append([]byte("a")); err != nil {
		t.Fatal(err)
	}
	r.Shutdown(context.Background())
	cfg.SnapshotEntries = 1 // force a snapshot, which records the voters
	r, err = StartRaft(cfg, &memSM{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Append([]byte("b")); err != nil {
		t.Fatal(err)
	}
	r.Shutdown(context.Background())
	cfg.Voters = map[uint64]string{1: "127.0.0.1:0", 2: "127.0.0.1:1"}
	if _, err := StartRaft(cfg, &memSM{}); err == nil {
		t.Fatal("started with a different voter set")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no id", Config{Voters: map[uint64]string{1: "a:1"}, Dir: "d"}},
		{"not a voter", Config{NodeID: 2, Voters: map[uint64]string{1: "a:1"}, Dir: "d"}},
		{"no dir", Config{NodeID: 1, Voters: map[uint64]string{1: "a:1"}}},
		{"no address", Config{NodeID: 1, Voters: map[uint64]string{1: "a:1", 2: ""}, Dir: "d"}},
		{"election below heartbeat", Config{NodeID: 1, Voters: map[uint64]string{1: "a:1"}, Dir: "d", ElectionTicks: 2, HeartbeatTicks: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.validate(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	cfg := Config{NodeID: 1, Voters: map[uint64]string{1: "a:1"}, Dir: "d"}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.TickInterval != DefaultTickInterval || cfg.ElectionTicks != 10 || cfg.HeartbeatTicks != 1 || cfg.Clock == nil || cfg.Logger == nil {
		t.Fatalf("defaults not filled: %+v", cfg)
	}
}
