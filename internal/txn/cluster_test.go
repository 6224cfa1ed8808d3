package txn_test

// Transactions in a 3-node cluster: the coordinator's node dies right
// after a commit was accepted (PrepareCommit durable, markers possibly not
// yet written); the new leader of the transactional id's state partition
// loads it, writes the markers, and the producer carries on with it.

import (
	"context"
	"errors"
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
)

// clusterTimeout bounds the whole test: a failover under -race on a loaded
// 2-core machine (fencing, election, state load, markers) has taken over a
// minute.
const clusterTimeout = 3 * time.Minute

func TestCommitCompletesAfterCoordinatorFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	c := arustest.StartQuorumCluster(t, 3, arustest.WithTransactionStatePartitions(3))
	seeds := c.Addrs()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	const topic = "failover-out"
	arustest.Eventually(t, clusterTimeout, "topic created", func() bool {
		resp, err := adm.CreateTopic(ctx, 1, 3, nil, topic)
		return (err == nil && resp.Err == nil) || errors.Is(err, kerr.TopicAlreadyExists) || errors.Is(resp.Err, kerr.TopicAlreadyExists)
	})
	arustest.Eventually(t, clusterTimeout, "every node knows the topic", func() bool {
		for id := int32(1); id <= 3; id++ {
			if tp := c.Broker(id).Controller().Image().Topics[topic]; tp == nil || tp.Partitions[0].Leader < 0 {
				return false
			}
		}
		return true
	})
	const id = "failover-txn"
	newProducer := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
			kgo.RequestTimeoutOverhead(2*time.Second), kgo.RetryTimeout(clusterTimeout))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	producer := newProducer()
	defer func() { producer.Close() }()
	// run produces n records in one transaction and commits it. When
	// records fail it starts a new producer with the same transactional id
	// (InitProducerId fences the old one and aborts what it left open) and
	// tries again, at most three times, as an application would: franz-go
	// (v1.22) keeps the cached coordinator of the dead node for its sharded
	// AddPartitionsToTxn and, once Metadata no longer lists that node,
	// fails the transaction's records with "unknown broker" (and the
	// producer id with them) instead of looking the coordinator up again.
	run := func(prefix string, n int) []string {
		t.Helper()
		for attempt := 1; ; attempt++ {
			if err := producer.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			var values []string
			var mu sync.Mutex
			var failed []error
			for i := 0; i < n; i++ {
				v := fmt.Sprintf("%s-%d", prefix, i)
				values = append(values, v)
				producer.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(_ *kgo.Record, err error) {
					if err != nil {
						mu.Lock()
						failed = append(failed, err)
						mu.Unlock()
					}
				})
			}
			if err := producer.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if len(failed) == 0 {
				if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
					t.Fatalf("commit %s: %v", prefix, err)
				}
				return values
			}
			if attempt == 3 {
				t.Fatalf("%s: %d records failed in attempt %d: %v", prefix, len(failed), attempt, failed[0])
			}
			t.Logf("%s: %d records failed (%v); a new producer fences this one and tries again", prefix, len(failed), failed[0])
			producer.Close()
			producer = newProducer()
		}
	}
	find := kmsg.NewPtrFindCoordinatorRequest()
	find.CoordinatorKey, find.CoordinatorType = id, 1
	first := run("first", 20)
	resp, err := find.RequestWith(ctx, admCl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("find coordinator: %v %+v", err, resp)
	}
	coordinator := resp.NodeID
	// Crash the coordinator right after the commit was accepted: its
	// markers may not be written yet; the next coordinator writes them.
	c.Crash(coordinator)
	second := run("second", 20)

	consumer, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	want := append(slices.Clone(first), second...)
	var got []string
	readCtx, cancelRead := context.WithTimeout(ctx, time.Minute)
	defer cancelRead()
	for len(got) < len(want) && readCtx.Err() == nil {
		consumer.PollFetches(readCtx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if !slices.Equal(got, want) {
		for id := int32(1); id <= 3; id++ {
			b := c.Broker(id)
			if b == nil {
				t.Logf("node %d: down", id)
				continue
			}
			p := b.Partition(topic, 0)
			if p == nil {
				t.Logf("node %d: no replica", id)
				continue
			}
			t.Logf("node %d: role %+v, log end %d, high watermark %d, last stable %d, producers %+v",
				id, p.Role(), p.LogEndOffset(), p.HighWatermark(), p.LastStableOffset(), p.Producers())
		}
		if d, err := adm.DescribeTransactions(ctx, id); err == nil {
			t.Logf("transaction: %+v", d)
		}
		t.Fatalf("read_committed after the failover (coordinator %d crashed): %v, want %v", coordinator, got, want)
	}
	arustest.Eventually(t, clusterTimeout, "a new coordinator answers", func() bool {
		resp, err := find.RequestWith(ctx, admCl)
		return err == nil && resp.ErrorCode == 0 && resp.NodeID != coordinator
	})
}
