package group_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
)

// BenchmarkRebalance measures how long a group of 10 franz-go members
// over a 60-partition topic takes to rebalance when an 11th member joins:
// from its start until every member's client holds its new share and the
// shares cover the topic exactly once. Members heartbeat every 100ms, so
// the time is the coordinator's and the clients' work, not waiting for a
// heartbeat (with Kafka's default 3s heartbeat, add up to 3s per round).
//
//	go test ./internal/group -run '^$' -bench Rebalance -benchtime 10x
func BenchmarkRebalance(b *testing.B) {
	for _, tc := range []struct {
		name     string
		balancer kgo.GroupBalancer
	}{
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
		{"range", kgo.RangeBalancer()},
	} {
		b.Run(tc.name, func(b *testing.B) { benchmarkRebalance(b, tc.balancer) })
	}
}

func benchmarkRebalance(b *testing.B, balancer kgo.GroupBalancer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	br := arustest.StartBroker(b).Addr()
	topic, group := fmt.Sprintf("bench-%d", nameCounter.Add(1)), fmt.Sprintf("bench-group-%d", nameCounter.Add(1))
	cl, err := kgo.NewClient(kgo.SeedBrokers(br))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 60, 1, nil, topic); err != nil || resp.Err != nil {
		b.Fatalf("create topic: %v %v", err, resp.Err)
	}
	const members = 10
	start := func(name string) *benchMember {
		m := &benchMember{assigned: newAssignedSet()}
		opts := []kgo.Opt{
			kgo.SeedBrokers(br), kgo.ClientID(name), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.Balancers(balancer), kgo.HeartbeatInterval(100 * time.Millisecond), kgo.SessionTimeout(10 * time.Second),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { m.assigned.assign(a[topic]) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.assigned.revoke(r[topic]) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.assigned.revoke(r[topic]) }),
		}
		c, err := kgo.NewClient(opts...)
		if err != nil {
			b.Fatal(err)
		}
		m.cl = c
		pollCtx, stop := context.WithCancel(ctx)
		m.stop = stop
		m.done = make(chan struct{})
		go func() {
			defer close(m.done)
			for pollCtx.Err() == nil {
				c.PollFetches(pollCtx)
			}
		}()
		return m
	}
	var group10 []*benchMember
	for i := 0; i < members; i++ {
		group10 = append(group10, start(fmt.Sprintf("m%d", i)))
	}
	defer func() {
		for _, m := range group10 {
			m.close()
		}
	}()
	balanced := func(ms []*benchMember) bool {
		var sets [][]int32
		for _, m := range ms {
			s := m.assigned.list()
			if len(s) == 0 {
				return false
			}
			sets = append(sets, s)
		}
		return disjointCover(60, sets...)
	}
	waitBalanced(b, ctx, func() bool { return balanced(group10) })

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		joiner := start(fmt.Sprintf("joiner-%d", i))
		all := append(append([]*benchMember(nil), group10...), joiner)
		waitBalanced(b, ctx, func() bool { return balanced(all) })
		b.StopTimer()
		joiner.close()
		waitBalanced(b, ctx, func() bool { return balanced(group10) })
		b.StartTimer()
	}
}

type benchMember struct {
	cl       *kgo.Client
	assigned *assignedSet
	stop     context.CancelFunc
	done     chan struct{}
}

func (m *benchMember) close() {
	m.stop()
	<-m.done
	m.cl.Close()
}

// waitBalanced polls cond every millisecond (arustest.Eventually polls
// every 5ms, too coarse to time a rebalance).
func waitBalanced(b *testing.B, ctx context.Context, cond func() bool) {
	b.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			b.Fatal("group did not balance in time")
		}
	}
}
