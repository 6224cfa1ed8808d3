package group_test

// Helpers for the real-client tests (franz-go, sarama, segmentio/kafka-go)
// against in-process brokers: topic setup, producing a known set of
// records to every partition, a ledger of what each member consumed, and
// waiting on the group's state through kadm.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
)

// clientTestTimeout bounds every real-client test.
const clientTestTimeout = 60 * time.Second

// Short session timeouts keep the failure tests fast; the broker allows
// them below Kafka's 6s minimum.
const (
	testSession   = 2 * time.Second
	testHeartbeat = 200 * time.Millisecond
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

func startBroker(t *testing.T, opts ...arustest.Option) *arustest.Broker {
	t.Helper()
	opts = append([]arustest.Option{arustest.WithGroupSessionTimeouts(500*time.Millisecond, time.Hour)}, opts...)
	return arustest.StartBroker(t, opts...)
}

var nameCounter atomic.Int64

// uniqueName returns a topic or group name unique to this test run.
func uniqueName(t *testing.T, kind string) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("%s-%s-%d", name, kind, nameCounter.Add(1))
}

func adminClient(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func createTopic(t *testing.T, ctx context.Context, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
	}
}

// produce writes perPartition records to each of partitions partitions,
// valued "<prefix>-<partition>-<i>", and returns the values.
func produce(t *testing.T, ctx context.Context, addr, topic string, partitions int32, perPartition int, prefix string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var values []string
	var records []*kgo.Record
	for p := int32(0); p < partitions; p++ {
		for i := 0; i < perPartition; i++ {
			v := fmt.Sprintf("%s-%d-%d", prefix, p, i)
			values = append(values, v)
			records = append(records, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)})
		}
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return values
}

// ledger records which member consumed which value from which partition.
type ledger struct {
	mu       sync.Mutex
	seen     map[string][]string        // value -> members that consumed it
	byMember map[string]map[int32]bool  // member -> partitions it consumed from
	first    map[string]map[int32]int64 // member -> partition -> first offset it consumed
	// forward, when set, sends every record to its current ledger instead.
	forward *atomicLedger
}

func newLedger() *ledger {
	return &ledger{seen: map[string][]string{}, byMember: map[string]map[int32]bool{}, first: map[string]map[int32]int64{}}
}

func (l *ledger) add(member string, partition int32, offset int64, value string) {
	if l.forward != nil {
		l.forward.mu.Lock()
		current := l.forward.l
		l.forward.mu.Unlock()
		current.add(member, partition, offset, value)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[value] = append(l.seen[value], member)
	if l.byMember[member] == nil {
		l.byMember[member] = map[int32]bool{}
		l.first[member] = map[int32]int64{}
	}
	if !l.byMember[member][partition] {
		l.first[member][partition] = offset
	}
	l.byMember[member][partition] = true
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

func (l *ledger) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ms := range l.seen {
		n += len(ms)
	}
	return n
}

func (l *ledger) has(values []string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range values {
		if len(l.seen[v]) == 0 {
			return false
		}
	}
	return true
}

// checkExactlyOnce fails unless every value was consumed exactly once and
// nothing else was consumed.
func (l *ledger) checkExactlyOnce(t *testing.T, want []string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range want {
		switch n := len(l.seen[v]); {
		case n == 0:
			t.Errorf("record %s never consumed", v)
		case n > 1:
			t.Errorf("record %s consumed %d times, by %v", v, n, l.seen[v])
		}
	}
	if len(l.seen) != len(want) {
		t.Errorf("consumed %d distinct records, want %d", len(l.seen), len(want))
	}
}

// checkPartitionOwners fails unless each partition was consumed by one
// member only.
func (l *ledger) checkPartitionOwners(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	owner := map[int32]string{}
	for m, parts := range l.byMember {
		for p := range parts {
			if o, ok := owner[p]; ok && o != m {
				t.Errorf("partition %d consumed by %s and %s", p, o, m)
			}
			owner[p] = m
		}
	}
}

// waitStable waits until the group is Stable with members members whose
// assignments cover partitions 0..n-1 of topic exactly once, and returns
// the assignment per member id.
func waitStable(t *testing.T, ctx context.Context, adm *kadm.Client, group, topic string, members int, partitions int32) map[string][]int32 {
	t.Helper()
	var last string
	var out map[string][]int32
	arustest.EventuallyExplained(t, clientTestTimeout, func() string { return "group " + group + " stable with every partition assigned once: " + last }, func() bool {
		described, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			last = err.Error()
			return false
		}
		d := described[group]
		if d.State != "Stable" || len(d.Members) != members {
			last = fmt.Sprintf("state %s with %d members", d.State, len(d.Members))
			return false
		}
		out = map[string][]int32{}
		count := map[int32]int{}
		for _, m := range d.Members {
			c, ok := m.Assigned.AsConsumer()
			if !ok {
				return false
			}
			for _, at := range c.Topics {
				if at.Topic != topic {
					continue
				}
				out[m.MemberID] = append(out[m.MemberID], at.Partitions...)
				for _, p := range at.Partitions {
					count[p]++
				}
			}
		}
		for p := int32(0); p < partitions; p++ {
			if count[p] != 1 {
				last = fmt.Sprintf("partition %d assigned %d times", p, count[p])
				return false
			}
		}
		return len(count) == int(partitions)
	})
	for _, ps := range out {
		slices.Sort(ps)
	}
	return out
}

// assignedSet tracks a member's current partitions from its client's
// callbacks.
type assignedSet struct {
	mu    sync.Mutex
	parts map[int32]bool
	// changes counts real changes of the set (partitions added, revoked
	// or lost). franz-go calls OnPartitionsAssigned after every rebalance
	// round, even with nothing new, so counting callbacks would count
	// rounds that changed nothing, and they land at a time of their own.
	changes int
	// generation is the member's generation when its last assignment
	// callback ran (-1 before the first).
	generation int32
}

func newAssignedSet() *assignedSet { return &assignedSet{parts: map[int32]bool{}, generation: -1} }

func (a *assignedSet) assign(ps []int32) { a.assignIn(ps, -1) }

// assignIn records partitions assigned in generation gen.
func (a *assignedSet) assignIn(ps []int32, gen int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ps {
		if !a.parts[p] {
			a.parts[p] = true
			a.changes++
		}
	}
	a.generation = gen
}

func (a *assignedSet) revoke(ps []int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ps {
		if a.parts[p] {
			delete(a.parts, p)
			a.changes++
		}
	}
}

// assignedGeneration returns the generation of the last assignment
// callback.
func (a *assignedSet) assignedGeneration() int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.generation
}

func (a *assignedSet) set(ps []int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.parts = map[int32]bool{}
	for _, p := range ps {
		a.parts[p] = true
	}
	a.changes++
}

func (a *assignedSet) list() []int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []int32
	for p := range a.parts {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (a *assignedSet) changeCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.changes
}

// disjointCover reports whether the sets cover 0..n-1 exactly once.
func disjointCover(n int32, sets ...[]int32) bool {
	count := map[int32]int{}
	for _, s := range sets {
		for _, p := range s {
			count[p]++
		}
	}
	for p := int32(0); p < n; p++ {
		if count[p] != 1 {
			return false
		}
	}
	return len(count) == int(n)
}
