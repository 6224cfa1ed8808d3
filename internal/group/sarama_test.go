package group_test

// sarama consumer groups with the range assignor against an in-process
// broker.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/arus-io/arus/internal/arustest"
)

type saramaMember struct {
	name     string
	cg       sarama.ConsumerGroup
	assigned *assignedSet
	// generation is the session's generation id, set in Setup.
	mu         sync.Mutex
	generation int32
	memberID   string
	sessions   int
	cancel     context.CancelFunc
	done       chan struct{}
}

// saramaHandler adapts callbacks to sarama.ConsumerGroupHandler.
type saramaHandler struct {
	m       *saramaMember
	topic   string
	process func(sarama.ConsumerGroupSession, *sarama.ConsumerMessage)
}

func (h saramaHandler) Setup(s sarama.ConsumerGroupSession) error {
	// The session first, the partitions last: a test that sees the
	// partitions (disjointCover) then reads the session's generation.
	h.m.mu.Lock()
	h.m.generation, h.m.memberID = s.GenerationID(), s.MemberID()
	h.m.sessions++
	h.m.mu.Unlock()
	h.m.assigned.set(s.Claims()[h.topic])
	return nil
}

func (h saramaHandler) Cleanup(sarama.ConsumerGroupSession) error {
	h.m.assigned.set(nil)
	return nil
}

func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for msg := range c.Messages() {
		h.process(s, msg)
	}
	return nil
}

func saramaConfig(name, instance string) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = name
	cfg.Version = sarama.V3_2_0_0
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Session.Timeout = testSession
	cfg.Consumer.Group.Heartbeat.Interval = testHeartbeat
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	// sarama waits this long after a failed join or sync (2s by default,
	// as long as the short test sessions).
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Metadata.RefreshFrequency = time.Second
	if instance != "" {
		cfg.Consumer.Group.InstanceId = instance
	}
	return cfg
}

func startSaramaMember(t *testing.T, ctx context.Context, addr, group, topic, name string, cfg *sarama.Config,
	process func(sarama.ConsumerGroupSession, *sarama.ConsumerMessage)) *saramaMember {
	t.Helper()
	cg, err := sarama.NewConsumerGroup([]string{addr}, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &saramaMember{name: name, cg: cg, assigned: newAssignedSet(), done: make(chan struct{})}
	runCtx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	h := saramaHandler{m: m, topic: topic, process: process}
	go func() {
		defer close(m.done)
		for runCtx.Err() == nil {
			if err := cg.Consume(runCtx, []string{topic}, h); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					return
				}
				select {
				case <-runCtx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}()
	t.Cleanup(m.close)
	return m
}

func (m *saramaMember) close() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	<-m.done
	_ = m.cg.Close()
	m.cancel = nil
}

func (m *saramaMember) session() (string, int32, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.memberID, m.generation, m.sessions
}

func TestSaramaGroupSharesPartitions(t *testing.T) {
	t.Parallel()
	for _, members := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d members", members), func(t *testing.T) {
			ctx := testCtx(t)
			b := startBroker(t)
			adm := adminClient(t, b.Addr())
			topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
			createTopic(t, ctx, adm, topic, 6)
			l := newLedger()
			var ms []*saramaMember
			for i := 0; i < members; i++ {
				name := fmt.Sprintf("m%d", i)
				ms = append(ms, startSaramaMember(t, ctx, b.Addr(), group, topic, name, saramaConfig(name, ""),
					func(s sarama.ConsumerGroupSession, msg *sarama.ConsumerMessage) {
						l.add(name, msg.Partition, msg.Offset, string(msg.Value))
						s.MarkMessage(msg, "")
					}))
			}
			assignment := waitStable(t, ctx, adm, group, topic, members, 6)
			arustest.Eventually(t, clientTestTimeout, "every member's session holds its share", func() bool {
				var sets [][]int32
				for _, m := range ms {
					sets = append(sets, m.assigned.list())
				}
				return disjointCover(6, sets...)
			})
			// Range over 6 partitions: contiguous, even shares.
			for id, ps := range assignment {
				if len(ps) != 6/members || ps[len(ps)-1]-ps[0] != int32(len(ps)-1) {
					t.Errorf("member %s got %v, not a range share", id, ps)
				}
			}
			values := produce(t, ctx, b.Addr(), topic, 6, 50, "r")
			arustest.Eventually(t, clientTestTimeout, "all records consumed", func() bool { return l.has(values) })
			l.checkExactlyOnce(t, values)
			l.checkPartitionOwners(t)
		})
	}
}

func TestSaramaTwoGroupsEachGetEverything(t *testing.T) {
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
		name := fmt.Sprintf("g%d", i)
		startSaramaMember(t, ctx, b.Addr(), uniqueName(t, "group"), topic, name, saramaConfig(name, ""),
			func(s sarama.ConsumerGroupSession, msg *sarama.ConsumerMessage) {
				l.add(name, msg.Partition, msg.Offset, string(msg.Value))
				s.MarkMessage(msg, "")
			})
	}
	for i, l := range ledgers {
		arustest.Eventually(t, clientTestTimeout, fmt.Sprintf("group %d consumed everything", i), func() bool { return l.has(values) })
		l.checkExactlyOnce(t, values)
	}
}

func TestSaramaFailedMemberLosesPartitions(t *testing.T) {
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
	doomedCfg := saramaConfig("doomed", "doomed-1")
	doomedCfg.Consumer.Offsets.AutoCommit.Enable = false
	doomed := startSaramaMember(t, ctx, b.Addr(), group, topic, "doomed", doomedCfg,
		func(s sarama.ConsumerGroupSession, msg *sarama.ConsumerMessage) {
			if msg.Offset >= processedBeforeCrash {
				return
			}
			l.add("doomed", msg.Partition, msg.Offset, string(msg.Value))
			s.MarkMessage(msg, "")
			if msg.Offset == processedBeforeCrash-1 {
				s.Commit()
				mu.Lock()
				committed[msg.Partition] = true
				mu.Unlock()
			}
		})
	survivor := startSaramaMember(t, ctx, b.Addr(), group, topic, "survivor", saramaConfig("survivor", ""),
		func(s sarama.ConsumerGroupSession, msg *sarama.ConsumerMessage) {
			l.add("survivor", msg.Partition, msg.Offset, string(msg.Value))
			s.MarkMessage(msg, "")
		})
	waitStable(t, ctx, adm, group, topic, 2, 6)
	arustest.Eventually(t, clientTestTimeout, "both sessions hold their partitions", func() bool {
		return disjointCover(6, doomed.assigned.list(), survivor.assigned.list())
	})
	doomedParts := doomed.assigned.list()
	values := produce(t, ctx, b.Addr(), topic, 6, 40, "r")
	arustest.Eventually(t, clientTestTimeout, "the doomed member committed its first records", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(committed) == len(doomedParts)
	})
	committedOffsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range doomedParts {
		if o, ok := committedOffsets.Lookup(topic, p); !ok || o.At != processedBeforeCrash {
			t.Fatalf("partition %d committed %+v, want %d", p, o, processedBeforeCrash)
		}
	}

	stopped := time.Now()
	doomed.close()
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

func TestSaramaStaticMemberRestartNoRebalance(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startBroker(t)
	adm := adminClient(t, b.Addr())
	topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
	createTopic(t, ctx, adm, topic, 6)
	nop := func(s sarama.ConsumerGroupSession, msg *sarama.ConsumerMessage) { s.MarkMessage(msg, "") }
	cfg := func(name, instance string) *sarama.Config {
		c := saramaConfig(name, instance)
		c.Consumer.Group.Session.Timeout = 10 * time.Second
		return c
	}
	other := startSaramaMember(t, ctx, b.Addr(), group, topic, "other", cfg("other", ""), nop)
	waitStable(t, ctx, adm, group, topic, 1, 6)
	static := startSaramaMember(t, ctx, b.Addr(), group, topic, "static", cfg("static", "static-1"), nop)
	waitStable(t, ctx, adm, group, topic, 2, 6)
	arustest.Eventually(t, clientTestTimeout, "both sessions hold their partitions", func() bool {
		return disjointCover(6, other.assigned.list(), static.assigned.list())
	})
	staticParts := static.assigned.list()
	_, generation, sessions := other.session()

	static.close()
	restarted := startSaramaMember(t, ctx, b.Addr(), group, topic, "static", cfg("static", "static-1"), nop)
	arustest.Eventually(t, clientTestTimeout, "the restarted member gets its partitions back", func() bool {
		return slices.Equal(restarted.assigned.list(), staticParts)
	})
	waitStable(t, ctx, adm, group, topic, 2, 6)
	if _, gen, n := other.session(); gen != generation || n != sessions {
		t.Errorf("the other member moved from generation %d (session %d) to %d (session %d): the restart rebalanced",
			generation, sessions, gen, n)
	}
	if _, gen, _ := restarted.session(); gen != generation {
		t.Errorf("the restarted member is in generation %d, want %d", gen, generation)
	}
}
