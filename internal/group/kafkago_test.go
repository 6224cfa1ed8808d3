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
