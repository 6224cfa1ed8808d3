package broker_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/record"
)

// acked is one acknowledged record.
type acked struct {
	partition int32
	offset    int64
	value     string
}

// produceAcked produces n records (values prefix-i) with acks=all and
// returns those acknowledged, failing on none.
func produceAcked(t *testing.T, ctx context.Context, cl *kgo.Client, topic, prefix string, n int) []acked {
	t.Helper()
	var mu sync.Mutex
	var out []acked
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		r := &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("%s-%05d", prefix, i))}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				return
			}
			mu.Lock()
			out = append(out, acked{r.Partition, r.Offset, string(r.Value)})
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func TestReplicatedFailoverKeepsAcknowledgedWrites(t *testing.T) {
	c := arustest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.RecordDeliveryTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": ptr("2")}, "repl"); err != nil {
		t.Fatal(err)
	}
	// All replicas in sync before we start.
	arustest.Eventually(t, 20*time.Second, "ISR of every partition has 3 replicas", func() bool {
		for _, p := range c.Controller.Image().Topics["repl"].Partitions {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})

	first := produceAcked(t, ctx, cl, "repl", "a", 300)
	if len(first) != 300 {
		t.Fatalf("%d of 300 acknowledged with all brokers up", len(first))
	}
	leader, _ := c.Leader("repl", 0)
	c.Crash(leader)
	start := time.Now()
	arustest.Eventually(t, 15*time.Second, "partition 0 gets a new leader", func() bool {
		l, _ := c.Leader("repl", 0)
		return l != leader && l >= 0
	})
	t.Logf("new leader of repl-0 after %v", time.Since(start).Round(time.Millisecond))

	second := produceAcked(t, ctx, cl, "repl", "b", 300)
	t.Logf("produced after failover at %v", time.Since(start).Round(time.Millisecond))
	if len(second) == 0 {
		t.Fatal("nothing acknowledged after failover")
	}
	all := append(first, second...)
	checkAllPresent(t, ctx, c.Addrs(), "repl", all)

	t.Logf("checked at %v", time.Since(start).Round(time.Millisecond))
	// The crashed broker returns, catches up and rejoins every ISR.
	c.Start(leader)
	arustest.Eventually(t, 30*time.Second, fmt.Sprintf("broker %d back in every ISR", leader), func() bool {
		for _, p := range c.Controller.Image().Topics["repl"].Partitions {
			if !slices.Contains(p.ISR, leader) {
				return false
			}
		}
		return true
	})
	// And, with preferred leader election, leads again what it led.
	arustest.Eventually(t, 30*time.Second, "preferred leader restored", func() bool {
		l, _ := c.Leader("repl", 0)
		return l == leader
	})
	t.Logf("rejoined and preferred at %v", time.Since(start).Round(time.Millisecond))
	third := produceAcked(t, ctx, cl, "repl", "c", 100)
	t.Logf("third produce at %v", time.Since(start).Round(time.Millisecond))
	checkAllPresent(t, ctx, c.Addrs(), "repl", append(all, third...))
	t.Logf("done at %v", time.Since(start).Round(time.Millisecond))
}

// checkAllPresent consumes the topic and checks every acknowledged record
// is at its offset, exactly once, and offsets are contiguous.
func checkAllPresent(t *testing.T, ctx context.Context, addrs []string, topic string, want []acked) {
	t.Helper()
	ends := map[int32]int64{}
	for _, a := range want {
		ends[a.partition] = max(ends[a.partition], a.offset+1)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[int32]map[int64]string{}
	done := func() bool {
		for p, end := range ends {
			if int64(len(got[p])) < end {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out consuming: have %v records per partition, want ends %v", lens(got), ends)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if got[r.Partition] == nil {
				got[r.Partition] = map[int64]string{}
			}
			if old, dup := got[r.Partition][r.Offset]; dup && old != string(r.Value) {
				t.Fatalf("offset %d of partition %d read twice with different values", r.Offset, r.Partition)
			}
			got[r.Partition][r.Offset] = string(r.Value)
		})
	}
	seen := map[string]bool{}
	for p, m := range got {
		for off, v := range m {
			if seen[v] {
				t.Fatalf("value %s appears twice (partition %d offset %d)", v, p, off)
			}
			seen[v] = true
		}
	}
	for _, a := range want {
		if got[a.partition][a.offset] != a.value {
			t.Fatalf("acknowledged %s at %d/%d, found %q", a.value, a.partition, a.offset, got[a.partition][a.offset])
		}
	}
}

func lens(m map[int32]map[int64]string) map[int32]int {
	out := map[int32]int{}
	for p, v := range m {
		out[p] = len(v)
	}
	return out
}

// TestNonLeaderAnswersNotLeader sends Produce and Fetch for a partition to
// a broker that only follows it: both get NOT_LEADER_OR_FOLLOWER, which
// makes clients refresh their metadata; a client seeded with only that
// broker still gets its records to the leader.
func TestNonLeaderAnswersNotLeader(t *testing.T) {
	c := arustest.StartCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	created, err := kadm.NewClient(admin).CreateTopic(ctx, 1, 2, nil, "nl")
	if err != nil {
		t.Fatal(err)
	}
	leader, _ := c.Leader("nl", 0)
	follower := 3 - leader
	raw, err := kgo.NewClient(kgo.SeedBrokers(c.Broker(follower).Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	node := raw.SeedBrokers()[0]

	b := record.NewBuilder()
	b.Add(time.Now().UnixMilli(), []byte("k"), []byte("v"))
	batch, err := b.Build(record.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	preq := kmsg.NewPtrProduceRequest()
	preq.Acks, preq.TimeoutMillis = -1, 5000
	preq.Topics = []kmsg.ProduceRequestTopic{{Topic: "nl", TopicID: created.ID, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}}}
	presp, err := node.Request(ctx, preq)
	if err != nil {
		t.Fatal(err)
	}
	if code := presp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("produce to follower %d: error %d, want NOT_LEADER_OR_FOLLOWER", follower, code)
	}
	freq := kmsg.NewPtrFetchRequest()
	freq.MaxBytes, freq.MaxWaitMillis = 1<<20, 10
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = "nl", created.ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	fresp, err := node.Request(ctx, freq)
	if err != nil {
		t.Fatal(err)
	}
	if code := fresp.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("fetch from follower %d: error %d, want NOT_LEADER_OR_FOLLOWER", follower, code)
	}
	// A client that only knows the follower finds the leader through metadata.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Broker(follower).Addr()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := produceAcked(t, ctx, cl, "nl", "r", 20); len(got) != 20 {
		t.Fatalf("%d of 20 acknowledged through a follower's metadata", len(got))
	}
}

// TestMinInsyncReplicas: with min.insync.replicas=2 and one of two
// replicas gone, acks=all writes are refused with NOT_ENOUGH_REPLICAS and
// nothing is appended, while acks=1 writes still go through.
func TestMinInsyncReplicas(t *testing.T) {
	c := arustest.StartCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	created, err := kadm.NewClient(admin).CreateTopic(ctx, 1, 2, map[string]*string{"min.insync.replicas": ptr("2")}, "minisr")
	if err != nil {
		t.Fatal(err)
	}
	leader, _ := c.Leader("minisr", 0)
	c.Crash(3 - leader)
	arustest.Eventually(t, 10*time.Second, "ISR shrinks to the leader", func() bool {
		return len(c.Controller.Image().Topics["minisr"].Partitions[0].ISR) == 1
	})
	// kgo sets a raw Produce's acks from the client's config: one client each.
	allAcks, err := kgo.NewClient(kgo.SeedBrokers(c.Broker(leader).Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer allAcks.Close()
	leaderAck, err := kgo.NewClient(kgo.SeedBrokers(c.Broker(leader).Addr()), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer leaderAck.Close()
	produce := func(acks int16) int16 {
		node := allAcks
		if acks == 1 {
			node = leaderAck
		}
		b := record.NewBuilder()
		b.Add(time.Now().UnixMilli(), []byte("k"), []byte("v"))
		batch, err := b.Build(record.CodecNone)
		if err != nil {
			t.Fatal(err)
		}
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = acks, 5000
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: "minisr", TopicID: created.ID, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}}}
		resp, err := node.SeedBrokers()[0].Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	}
	if code := produce(-1); code != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all with ISR below min: error %d, want NOT_ENOUGH_REPLICAS", code)
	}
	if code := produce(1); code != 0 {
		t.Fatalf("acks=1 with ISR below min: error %d", code)
	}
	if leo := c.Broker(leader).Partition("minisr", 0).LogEndOffset(); leo != 1 {
		t.Fatalf("log end %d: the refused acks=all batch must not be appended", leo)
	}
}
