package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

// TestQuorumClusterFailover runs three nodes, each with its own controller
// in one Raft quorum: metadata agrees everywhere, admin requests work from
// any node, and both a partition leader and the active controller can die
// without losing acknowledged records or committed metadata.
func TestQuorumClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node failover test")
	}
	c := arustest.StartQuorumCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	agree := func(msg string, brokers int) {
		arustest.Eventually(t, 20*time.Second, msg, func() bool {
			var offset int64 = -2
			for id := int32(1); id <= 3; id++ {
				b := c.Broker(id)
				if b == nil {
					continue
				}
				im := b.Controller().Image()
				if len(im.Brokers) != brokers || (offset != -2 && im.Offset != offset) {
					return false
				}
				offset = im.Offset
			}
			return true
		})
	}
	agree("all nodes see the same metadata with 3 brokers", 3)
	active := c.ActiveController()
	if active < 0 {
		t.Fatal("no active controller")
	}
	// Ask a node that is not the active controller: it forwards.
	other := active%3 + 1
	adminCl, err := kgo.NewClient(kgo.SeedBrokers(c.Broker(other).Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer adminCl.Close()
	if _, err := kadm.NewClient(adminCl).CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": ptr("2")}, "quorum"); err != nil {
		t.Fatalf("create topic through node %d (controller is %d): %v", other, active, err)
	}
	agree("topic visible on every node", 3)
	arustest.Eventually(t, 20*time.Second, "full ISRs", func() bool {
		im := c.Broker(other).Controller().Image()
		t, ok := im.Topics["quorum"]
		if !ok {
			return false
		}
		for _, p := range t.Partitions {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.RecordDeliveryTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	acks := produceAcked(t, ctx, cl, "quorum", "a", 300)
	if len(acks) != 300 {
		t.Fatalf("%d of 300 acknowledged", len(acks))
	}

	// Kill the active controller (it also leads some partitions).
	start := time.Now()
	c.Crash(active)
	arustest.Eventually(t, 20*time.Second, "a new active controller", func() bool {
		id := c.ActiveController()
		return id > 0 && id != active
	})
	t.Logf("new active controller %d after %v", c.ActiveController(), time.Since(start).Round(time.Millisecond))
	arustest.Eventually(t, 20*time.Second, "partitions of the dead node moved", func() bool {
		b := c.Broker(c.ActiveController())
		if b == nil {
			return false
		}
		for _, p := range b.Controller().Image().Topics["quorum"].Partitions {
			if p.Leader == active || p.Leader < 0 {
				return false
			}
		}
		return true
	})
	t.Logf("leaders moved after %v", time.Since(start).Round(time.Millisecond))
	more := produceAcked(t, ctx, cl, "quorum", "b", 300)
	if len(more) == 0 {
		t.Fatal("nothing acknowledged after the controller failover")
	}
	acks = append(acks, more...)
	checkAllPresent(t, ctx, c.Addrs(), "quorum", acks)

	// Committed metadata survived and changes still commit.
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 2, nil, "after-failover"); err != nil {
		t.Fatalf("create topic after controller failover: %v", err)
	}

	// The dead node returns, catches up on metadata and data.
	c.Start(active)
	agree("the returning node catches up on metadata", 3)
	arustest.Eventually(t, 30*time.Second, fmt.Sprintf("node %d back in every ISR", active), func() bool {
		for _, p := range c.Broker(active).Controller().Image().Topics["quorum"].Partitions {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})
}

// TestBrokerOnlyNodes adds brokers that are not voters: they copy the
// metadata from the voters, host replicas, lead partitions and forward
// admin requests like any node.
func TestBrokerOnlyNodes(t *testing.T) {
	c := arustest.StartQuorumClusterWithBrokers(t, 1, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	arustest.Eventually(t, 20*time.Second, "the voter sees 3 brokers", func() bool {
		return len(c.Broker(1).Controller().Image().Brokers) == 3
	})
	// Created through a broker-only node, placed on the broker-only nodes.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Broker(3).Addr()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopics(ctx, -1, -1, nil, "observed")
	if err != nil || resp["observed"].Err != nil {
		t.Fatalf("create through a broker-only node: %v %v", err, resp["observed"].Err)
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "placed", -1, -1
	rt.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{2, 3}}}
	req.Topics = append(req.Topics, rt)
	cr, err := req.RequestWith(ctx, cl)
	if err != nil || cr.Topics[0].ErrorCode != 0 {
		t.Fatalf("create with assignment: %v %+v", err, cr)
	}
	arustest.Eventually(t, 20*time.Second, "both broker-only nodes see the topic and its ISR", func() bool {
		for _, id := range []int32{2, 3} {
			tp, ok := c.Broker(id).Controller().Image().Topics["placed"]
			if !ok || len(tp.Partitions[0].ISR) != 2 {
				return false
			}
		}
		return true
	})
	// DescribeQuorum from a broker-only node: one voter leads, two observe.
	dq := kmsg.NewPtrDescribeQuorumRequest()
	dqt := kmsg.NewDescribeQuorumRequestTopic()
	dqt.Topic = "__cluster_metadata"
	dqt.Partitions = append(dqt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	dq.Topics = append(dq.Topics, dqt)
	qr, err := dq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	qp := qr.Topics[0].Partitions[0]
	if qp.LeaderID != 1 || len(qp.CurrentVoters) != 1 || qp.CurrentVoters[0].ReplicaID != 1 || len(qp.Observers) != 2 {
		t.Fatalf("describe quorum: leader %d voters %+v observers %+v", qp.LeaderID, qp.CurrentVoters, qp.Observers)
	}
	acks := produceAcked(t, ctx, cl, "placed", "x", 200)
	if len(acks) != 200 {
		t.Fatalf("%d of 200 acknowledged on a partition led by a broker-only node", len(acks))
	}
	checkAllPresent(t, ctx, c.Addrs(), "placed", acks)
}
