package group_test

// Consumer groups in a 3-node cluster: the offsets topic is created
// through the active controller wherever it runs, and when the
// coordinator's node dies, the new leader of the group's offsets
// partition loads it and the group carries on from its commits.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

func TestGroupSurvivesCoordinatorFailover(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	ctx := testCtx(t)
	c := arustest.StartQuorumCluster(t, 3, arustest.WithGroupInitialRebalanceDelay(0),
		arustest.WithGroupSessionTimeouts(500*time.Millisecond, time.Hour))
	seeds := c.Addrs()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
	arustest.Eventually(t, clientTestTimeout, "topic created", func() bool {
		resp, err := adm.CreateTopic(ctx, 3, 3, nil, topic)
		return (err == nil && resp.Err == nil) || errors.Is(err, kerr.TopicAlreadyExists) || errors.Is(resp.Err, kerr.TopicAlreadyExists)
	})
	arustest.Eventually(t, clientTestTimeout, "every node knows the topic", func() bool {
		for id := int32(1); id <= 3; id++ {
			if tp := c.Broker(id).Controller().Image().Topics[topic]; tp == nil || len(tp.Partitions) != 3 {
				return false
			}
		}
		return true
	})
	produceTo := func(prefix string) []string {
		// Not idempotent: InitProducerID goes to the active controller,
		// which may be the node this test crashes.
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.AllISRAcks()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var values []string
		var records []*kgo.Record
		for p := int32(0); p < 3; p++ {
			for i := 0; i < 10; i++ {
				v := prefix + "-" + string(rune('0'+p)) + "-" + string(rune('a'+i))
				values = append(values, v)
				records = append(records, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)})
			}
		}
		if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		return values
	}
	first := produceTo("first")

	l := newLedger()
	m := startFranzMember(t, ctx, seeds[0], group, topic, "m", func(cl *kgo.Client, r *kgo.Record) {
		l.add("m", r.Partition, r.Offset, string(r.Value))
		if err := cl.CommitRecords(context.Background(), r); err != nil {
			t.Logf("commit: %v", err)
		}
	}, kgo.SeedBrokers(seeds...), kgo.DisableAutoCommit(), kgo.SessionTimeout(5*time.Second))
	arustest.Eventually(t, clientTestTimeout, "first half consumed", func() bool { return l.has(first) })
	memberID, generation := m.cl.GroupMetadata()

	find := kmsg.NewPtrFindCoordinatorRequest()
	find.CoordinatorKey = group
	resp, err := find.RequestWith(ctx, admCl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("find coordinator: %v %+v", err, resp)
	}
	coordinator := resp.NodeID
	arustest.Eventually(t, clientTestTimeout, "the first half is committed", func() bool {
		o, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		for p := int32(0); p < 3; p++ {
			if c, ok := o.Lookup(topic, p); !ok || c.At != 10 {
				return false
			}
		}
		return true
	})

	c.Crash(coordinator)
	second := produceTo("second")
	arustest.Eventually(t, clientTestTimeout, "second half consumed after the failover", func() bool { return l.has(second) })
	l.mu.Lock()
	for _, v := range first {
		if n := len(l.seen[v]); n != 1 {
			t.Errorf("record %s of the first half consumed %d times: the group lost its commits", v, n)
		}
	}
	l.mu.Unlock()
	arustest.Eventually(t, clientTestTimeout, "a new coordinator answers", func() bool {
		resp, err := find.RequestWith(ctx, admCl)
		return err == nil && resp.ErrorCode == 0 && resp.NodeID != coordinator
	})
	if id, gen := m.cl.GroupMetadata(); id != memberID || gen != generation {
		t.Logf("member %s gen %d became %s gen %d (a rebalance after the failover is allowed)", memberID, generation, id, gen)
	}
}
