package group_test

// segmentio/kafka-go consumer groups (JoinGroup v1/v2, SyncGroup,
// Heartbeat and LeaveGroup v0, OffsetCommit v2, OffsetFetch v1,
// FindCoordinator v0) against an in-process broker.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
)

type kafkagoMember struct {
	name   string
	r      *kafka.Reader
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func kafkagoReaderConfig(addr, group, topic string) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers: []string{addr}, GroupID: group, Topic: topic,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond,
		GroupBalancers:    []kafka.GroupBalancer{kafka.RangeGroupBalancer{}},
		HeartbeatInterval: testHeartbeat, SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second,
		JoinGroupBackoff: 100 * time.Millisecond, ReadBackoffMin: 10 * time.Millisecond, ReadBackoffMax: 100 * time.Millisecond,
		StartOffset: kafka.FirstOffset, ReadLagInterval: -1,
		CommitInterval: 0, // CommitMessages commits synchronously
	}
}

// startKafkagoMember reads and commits every message in the background.
func startKafkagoMember(t *testing.T, ctx context.Context, cfg kafka.ReaderConfig, name string, l *ledger) *kafkagoMember {
	t.Helper()
	m := &kafkagoMember{name: name, r: kafka.NewReader(cfg), done: make(chan struct{})}
	runCtx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for {
			msg, err := m.r.FetchMessage(runCtx)
			if err != nil {
				if runCtx.Err() != nil || errors.Is(err, context.Canceled) {
					return
				}
				continue
			}
			l.add(name, int32(msg.Partition), msg.Offset, string(msg.Value))
			if err := m.r.CommitMessages(runCtx, msg); err != nil && runCtx.Err() == nil {
				t.Errorf("%s: commit: %v", name, err)
			}
		}
	}()
	t.Cleanup(m.close)
	return m
}

func (m *kafkagoMember) close() {
	m.once.Do(func() {
		m.cancel()
		<-m.done
		_ = m.r.Close()
	})
}

func TestKafkagoGroupSharesPartitions(t *testing.T) {
	t.Parallel()
	for _, members := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d members", members), func(t *testing.T) {
			ctx := testCtx(t)
			b := startBroker(t)
			adm := adminClient(t, b.Addr())
			topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
			createTopic(t, ctx, adm, topic, 6)
			l := newLedger()
			for i := 0; i < members; i++ {
				startKafkagoMember(t, ctx, kafkagoReaderConfig(b.Addr(), group, topic), fmt.Sprintf("m%d", i), l)
			}
			assignment := waitStable(t, ctx, adm, group, topic, members, 6)
			for id, ps := range assignment {
				if len(ps) != 6/members {
					t.Errorf("member %s got %v, not an even range share", id, ps)
				}
			}
			values := produce(t, ctx, b.Addr(), topic, 6, 50, "r")
			arustest.Eventually(t, clientTestTimeout, "all records consumed", func() bool { return l.has(values) })
			l.checkExactlyOnce(t, values)
			l.checkPartitionOwners(t)
		})
	}
}

func TestKafkagoTwoGroupsEachGetEverything(t *testing.T) {
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
		startKafkagoMember(t, ctx, kafkagoReaderConfig(b.Addr(), uniqueName(t, "group"), topic), fmt.Sprintf("g%d", i), l)
	}
	for i, l := range ledgers {
		arustest.Eventually(t, clientTestTimeout, fmt.Sprintf("group %d consumed everything", i), func() bool { return l.has(values) })
		l.checkExactlyOnce(t, values)
	}
}

// TestKafkagoTakesOverFailedMember: kafka-go has no static membership and
// always leaves on Close, so the member that fails is a franz-go static
// member speaking the same range protocol; kafka-go takes its partitions
// after the session timeout, from its committed offsets.
func TestKafkagoTakesOverFailedMember(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	adm := adminClient(t, b.Addr())
	topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
	createTopic(t, ctx, adm, topic, 6)
	l := newLedger()
	const processedBeforeCrash = 10

	var mu sync.Mutex
	committed := map[int32]bool{}
	doomed := startFranzMember(t, ctx, b.Addr(), group, topic, "doomed", func(cl *kgo.Client, r *kgo.Record) {
		if r.Offset >= processedBeforeCrash {
			return
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
	}, kgo.InstanceID("doomed"), kgo.DisableAutoCommit(), kgo.Balancers(kgo.RangeBalancer()))
	startKafkagoMember(t, ctx, kafkagoReaderConfig(b.Addr(), group, topic), "survivor", l)
	assignment := waitStable(t, ctx, adm, group, topic, 2, 6)
	doomedID, _ := doomed.cl.GroupMetadata()
	arustest.Eventually(t, clientTestTimeout, "the doomed member sees its partitions", func() bool {
		return len(doomed.assigned.list()) == len(assignment[doomedID])
	})
	doomedParts := doomed.assigned.list()
	values := produce(t, ctx, b.Addr(), topic, 6, 40, "r")
	arustest.Eventually(t, clientTestTimeout, "the doomed member committed its first records", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(committed) == len(doomedParts)
	})

	stopped := time.Now()
	doomed.close()
	waitStable(t, ctx, adm, group, topic, 1, 6)
	if took := time.Since(stopped); took < testSession-500*time.Millisecond {
		t.Errorf("partitions moved after %v, before the %v session timeout", took, testSession)
	}
	arustest.Eventually(t, clientTestTimeout, "all records consumed", func() bool { return l.has(values) })
	l.checkExactlyOnce(t, values)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range doomedParts {
		if first := l.first["survivor"][p]; first != processedBeforeCrash {
			t.Errorf("partition %d: kafka-go started at offset %d, want the committed %d", p, first, processedBeforeCrash)
		}
	}
}

// TestKafkagoSecondReaderJoinsWhileFirstReads (issue 12): two kafka-go
// Readers in one group over a 2-partition topic, the second joining while
// the first reads: after the rebalance each reads its own partition. The
// first reader learns of the rebalance from REBALANCE_IN_PROGRESS on its
// Heartbeat (Kafka's GroupCoordinator answers heartbeats that way while
// the group is PreparingRebalance) and rejoins within the rebalance timeout.
func TestKafkagoSecondReaderJoinsWhileFirstReads(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := arustest.StartBroker(t, arustest.WithGroupInitialRebalanceDelay(3*time.Second)) // broker defaults
	adm := adminClient(t, b.Addr())
	topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
	createTopic(t, ctx, adm, topic, 2)
	// kafka-go's defaults, as a user has them: range and round-robin
	// balancers, 3 s heartbeats, 30 s session and rebalance timeouts; only
	// the fetch wait is shorter than its 10 s so that Close is quick.
	cfg := kafka.ReaderConfig{Brokers: []string{b.Addr()}, GroupID: group, Topic: topic, StartOffset: kafka.FirstOffset,
		MaxWait: 500 * time.Millisecond}
	before, after := newLedger(), newLedger()
	var ledger atomicLedger
	ledger.set(before)
	startKafkagoMember(t, ctx, cfg, "first", ledger.forward())
	values := produce(t, ctx, b.Addr(), topic, 2, 20, "a")
	arustest.Eventually(t, clientTestTimeout, "the first reader reads both partitions", func() bool { return before.has(values) })

	// The second joins while the first keeps reading: records keep
	// arriving on both partitions until the group has settled.
	stop := make(chan struct{})
	producing := make(chan struct{})
	writer, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	go func() {
		defer close(producing)
		for i := 0; i < 1000; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			v := fmt.Sprintf("during-%d", i)
			if err := writer.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte(v)}).FirstErr(); err != nil {
				t.Errorf("produce while rebalancing: %v", err)
				return
			}
		}
	}()
	joined := time.Now()
	startKafkagoMember(t, ctx, cfg, "second", ledger.forward())
	waitStable(t, ctx, adm, group, topic, 2, 2)
	t.Logf("stable %v after the second reader started", time.Since(joined))
	close(stop)
	<-producing
	// Records written from now on are each read by their partition's
	// owner only, and the two readers own one partition each.
	ledger.set(after)
	values = produce(t, ctx, b.Addr(), topic, 2, 20, "b")
	arustest.Eventually(t, 30*time.Second+clientTestTimeout, "both readers read their own partition", func() bool {
		return after.has(values)
	})
	t.Logf("records read %v after the second reader started", time.Since(joined))
	after.checkPartitionOwners(t)
	after.mu.Lock()
	defer after.mu.Unlock()
	for _, v := range values {
		if n := len(after.seen[v]); n != 1 {
			t.Errorf("record %s consumed %d times", v, n)
		}
	}
	if len(after.byMember["first"]) != 1 || len(after.byMember["second"]) != 1 {
		t.Fatalf("partitions read after the rebalance: %v, want one each", after.byMember)
	}
}

// atomicLedger lets a member's records go to whichever ledger is current.
type atomicLedger struct {
	mu sync.Mutex
	l  *ledger
}

func (a *atomicLedger) set(l *ledger) {
	a.mu.Lock()
	a.l = l
	a.mu.Unlock()
}

func (a *atomicLedger) forward() *ledger {
	return &ledger{seen: map[string][]string{}, byMember: map[string]map[int32]bool{}, first: map[string]map[int32]int64{}, forward: a}
}
