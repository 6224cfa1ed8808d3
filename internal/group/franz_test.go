package group_test

// franz-go consumer groups (cooperative-sticky, franz-go's default
// balancer) against an in-process broker.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
)

// franzMember is one franz-go group member consuming in the background.
type franzMember struct {
	name     string
	cl       *kgo.Client
	assigned *assignedSet
	cancel   context.CancelFunc
	done     chan struct{}
}

// startFranzMember starts a member that records every record it polls in
// l (through process, which may decide to skip and commit itself).
func startFranzMember(t *testing.T, ctx context.Context, addr, group, topic, name string, process func(*kgo.Client, *kgo.Record), opts ...kgo.Opt) *franzMember {
	t.Helper()
	m := &franzMember{name: name, assigned: newAssignedSet(), done: make(chan struct{})}
	all := append([]kgo.Opt{
		kgo.SeedBrokers(addr), kgo.ClientID(name),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(testSession), kgo.HeartbeatInterval(testHeartbeat),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, a map[string][]int32) {
			_, gen := cl.GroupMetadata()
			m.assigned.assignIn(a[topic], gen)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.assigned.revoke(r[topic]) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.assigned.revoke(r[topic]) }),
	}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	pollCtx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for pollCtx.Err() == nil {
			fetches := cl.PollFetches(pollCtx)
			fetches.EachRecord(func(r *kgo.Record) { process(cl, r) })
		}
	}()
	t.Cleanup(m.close)
	return m
}

// close stops polling and closes the client (leaving the group unless it
// is a static member).
func (m *franzMember) close() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	<-m.done
	m.cl.Close()
	m.cancel = nil
}

// waitSettled waits until every member is in the same generation, has run
// its assignment callback for that generation, and their partitions cover
// 0..n-1 exactly once; it returns the generation.
func waitSettled(t *testing.T, n int32, members ...*franzMember) int32 {
	t.Helper()
	var gen int32
	arustest.Eventually(t, clientTestTimeout, "members settled in one generation with their partitions", func() bool {
		var sets [][]int32
		for i, m := range members {
			_, g := m.cl.GroupMetadata()
			if g <= 0 || (i > 0 && g != gen) || m.assigned.assignedGeneration() != g {
				return false
			}
			gen = g
			sets = append(sets, m.assigned.list())
		}
		return disjointCover(n, sets...)
	})
	return gen
}

func TestFranzGroupSharesPartitions(t *testing.T) {
	t.Parallel()
	for _, members := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d members", members), func(t *testing.T) {
			ctx := testCtx(t)
			b := startBroker(t)
			adm := adminClient(t, b.Addr())
			topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
			createTopic(t, ctx, adm, topic, 6)
			l := newLedger()
			var ms []*franzMember
			for i := 0; i < members; i++ {
				name := fmt.Sprintf("m%d", i)
				ms = append(ms, startFranzMember(t, ctx, b.Addr(), group, topic, name, func(_ *kgo.Client, r *kgo.Record) {
					l.add(name, r.Partition, r.Offset, string(r.Value))
				}))
			}
			waitStable(t, ctx, adm, group, topic, members, 6)
			waitSettled(t, 6, ms...) // every client finished the last round, with a share each
			values := produce(t, ctx, b.Addr(), topic, 6, 50, "r")
			arustest.Eventually(t, clientTestTimeout, "all records consumed", func() bool { return l.has(values) })
			l.checkExactlyOnce(t, values)
			l.checkPartitionOwners(t)
			for _, m := range ms {
				if len(m.assigned.list()) == 0 {
					t.Errorf("member %s got no partitions", m.name)
				}
			}
		})
	}
}

func TestFranzTwoGroupsEachGetEverything(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	adm := adminClient(t, b.Addr())
	topic := uniqueName(t, "topic")
	createTopic(t, ctx, adm, topic, 6)
	values := produce(t, ctx, b.Addr(), topic, 6, 20, "r")
	var ledgers []*ledger
	for i := 0; i < 2; i++ {
		l := newLedger()
		ledgers = append(ledgers, l)
		group := uniqueName(t, "group")
		for j := 0; j < 2; j++ {
			name := fmt.Sprintf("g%d-m%d", i, j)
			startFranzMember(t, ctx, b.Addr(), group, topic, name, func(_ *kgo.Client, r *kgo.Record) {
				l.add(name, r.Partition, r.Offset, string(r.Value))
			})
		}
	}
	for i, l := range ledgers {
		arustest.Eventually(t, clientTestTimeout, fmt.Sprintf("group %d consumed everything", i), func() bool { return l.has(values) })
	}
	// Each group reads every record; within a group a record may be read
	// twice only across a rebalance, so count distinct records.
	for i, l := range ledgers {
		if l.count() != len(values) {
			t.Errorf("group %d consumed %d distinct records, want %d", i, l.count(), len(values))
		}
	}
}

// TestFranzFailedMemberLosesPartitions: a static member stops (no
// LeaveGroup, no heartbeats); after the session timeout the other member
// takes its partitions and resumes from its last committed offsets.
func TestFranzFailedMemberLosesPartitions(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	adm := adminClient(t, b.Addr())
	topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
	createTopic(t, ctx, adm, topic, 6)
	l := newLedger()
	const processedBeforeCrash = 10

	var mu sync.Mutex
	committed := map[int32]bool{} // partitions the doomed member committed 10 records of
	doomed := startFranzMember(t, ctx, b.Addr(), group, topic, "doomed", func(cl *kgo.Client, r *kgo.Record) {
		if r.Offset >= processedBeforeCrash {
			return // fetched, never processed: the member "crashes" first
		}
		l.add("doomed", r.Partition, r.Offset, string(r.Value))
		if r.Offset == processedBeforeCrash-1 {
			if err := cl.CommitRecords(context.Background(), r); err != nil {
				t.Errorf("commit: %v", err)
				return
			}
			mu.Lock()
			committed[r.Partition] = true
			mu.Unlock()
		}
	}, kgo.InstanceID("doomed"), kgo.DisableAutoCommit())
	survivor := startFranzMember(t, ctx, b.Addr(), group, topic, "survivor", func(_ *kgo.Client, r *kgo.Record) {
		l.add("survivor", r.Partition, r.Offset, string(r.Value))
	})
	waitStable(t, ctx, adm, group, topic, 2, 6)
	waitSettled(t, 6, doomed, survivor)
	doomedParts := doomed.assigned.list()
	values := produce(t, ctx, b.Addr(), topic, 6, 40, "r")
	arustest.Eventually(t, clientTestTimeout, "the doomed member committed its first records", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(committed) == len(doomedParts)
	})

	stopped := time.Now()
	doomed.close() // a static member does not leave: the coordinator must notice by itself
	arustest.Eventually(t, clientTestTimeout, "the survivor takes every partition", func() bool {
		return len(survivor.assigned.list()) == 6
	})
	if took := time.Since(stopped); took < testSession-500*time.Millisecond {
		t.Errorf("partitions moved after %v, before the %v session timeout", took, testSession)
	}
	arustest.Eventually(t, clientTestTimeout, "all records consumed", func() bool { return l.has(values) })
	l.checkExactlyOnce(t, values)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range doomedParts {
		if first := l.first["survivor"][p]; first != processedBeforeCrash {
			t.Errorf("partition %d: the survivor started at offset %d, want the committed %d", p, first, processedBeforeCrash)
		}
	}
}

// TestFranzStaticMemberRestartNoRebalance: a static member that restarts
// within its session timeout gets its partitions back without a
// rebalance: the other member's generation and assignment do not change.
func TestFranzStaticMemberRestartNoRebalance(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	adm := adminClient(t, b.Addr())
	topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
	createTopic(t, ctx, adm, topic, 6)
	nop := func(*kgo.Client, *kgo.Record) {}
	// The dynamic member joins first and leads; the static one follows.
	other := startFranzMember(t, ctx, b.Addr(), group, topic, "other", nop, kgo.SessionTimeout(10*time.Second))
	waitStable(t, ctx, adm, group, topic, 1, 6)
	static := startFranzMember(t, ctx, b.Addr(), group, topic, "static", nop,
		kgo.InstanceID("static-1"), kgo.SessionTimeout(10*time.Second))
	before := waitStable(t, ctx, adm, group, topic, 2, 6)
	// The baseline is taken once the rebalance has settled on both
	// clients, not just on the coordinator: franz-go's cooperative-sticky
	// balancer rebalances in two rounds, and each client finishes a round
	// (new generation, then the OnPartitionsAssigned callback) on its own
	// schedule, which under load lags the group's Stable state.
	generation := waitSettled(t, 6, other, static)
	staticParts := static.assigned.list()
	changes := other.assigned.changeCount()

	static.close()
	restarted := startFranzMember(t, ctx, b.Addr(), group, topic, "static", nop,
		kgo.InstanceID("static-1"), kgo.SessionTimeout(10*time.Second))
	arustest.Eventually(t, clientTestTimeout, "the restarted member gets its partitions back", func() bool {
		return slices.Equal(restarted.assigned.list(), staticParts)
	})
	after := waitStable(t, ctx, adm, group, topic, 2, 6)
	if gen := waitSettled(t, 6, other, restarted); gen != generation {
		t.Errorf("generation moved from %d to %d after the static member's restart", generation, gen)
	}
	if _, gen := other.cl.GroupMetadata(); gen != generation {
		t.Errorf("generation moved from %d to %d: the restart rebalanced", generation, gen)
	}
	if other.assigned.changeCount() != changes {
		t.Errorf("the other member's assignment changed during the restart")
	}
	if len(before) != 2 || len(after) != 2 {
		t.Fatalf("members before %v after %v", before, after)
	}
	restartedID, _ := restarted.cl.GroupMetadata()
	if _, ok := after[restartedID]; !ok {
		t.Errorf("the restarted member %s is not in the group: %v", restartedID, after)
	}
}
