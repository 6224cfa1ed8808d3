package broker_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

// TestQuorumAdminAPIs runs the cluster admin APIs on a Raft quorum of
// three nodes, sending the requests to a node that is not the active
// controller (it forwards them): a partition moves to another node, the
// topic grows, configs change, and every node's metadata agrees.
func TestQuorumAdminAPIs(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node quorum test")
	}
	c := arustest.StartQuorumCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var active int32
	arustest.Eventually(t, 20*time.Second, "an active controller", func() bool {
		active = c.ActiveController()
		return active > 0
	})
	other := active%3 + 1
	third := other%3 + 1
	// Every request goes to the node that is not the controller.
	cl := newFranz(t, c.Broker(other).Addr(), kgo.RequiredAcks(kgo.AllISRAcks()))
	node := cl.Broker(int(other))
	waitAll := func(msg string, cond func(b *arustest.Broker) bool) {
		t.Helper()
		arustest.Eventually(t, 20*time.Second, msg+" on every node", func() bool {
			for id := int32(1); id <= 3; id++ {
				if !cond(c.Broker(id)) {
					return false
				}
			}
			return true
		})
	}

	waitAll("all brokers registered", func(b *arustest.Broker) bool { return len(b.Controller().Image().Brokers) == 3 })
	// DescribeCluster names the active controller.
	dresp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, node)
	if err != nil || len(dresp.Brokers) != 3 || dresp.ControllerID != active {
		t.Fatalf("describe cluster: %v %+v (active controller %d)", err, dresp, active)
	}

	createAssigned(t, ctx, cl, "qmove", nil, []int32{third})
	waitAll("qmove created", func(b *arustest.Broker) bool { return b.Controller().Image().Topics["qmove"] != nil })
	acks := produceAcked(t, ctx, cl, "qmove", "q", 50)
	if len(acks) != 50 {
		t.Fatalf("%d of 50 acknowledged", len(acks))
	}

	areq := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	at := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	at.Topic = "qmove"
	ap := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	ap.Partition, ap.Replicas = 0, []int32{other}
	at.Partitions = append(at.Partitions, ap)
	areq.Topics = append(areq.Topics, at)
	aresp, err := areq.RequestWith(ctx, node)
	if err != nil || aresp.ErrorCode != 0 || aresp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("alter partition assignments via node %d: %v %+v", other, err, aresp)
	}
	waitAll("qmove-0 moved", func(b *arustest.Broker) bool {
		p := b.Controller().Image().Topics["qmove"].Partitions[0]
		return slices.Equal(p.Replicas, []int32{other}) && p.Leader == other && !p.Reassigning()
	})
	lresp, err := kmsg.NewPtrListPartitionReassignmentsRequest().RequestWith(ctx, node)
	if err != nil || len(lresp.Topics) != 0 {
		t.Fatalf("list reassignments: %v %+v", err, lresp)
	}
	checkAllPresent(t, ctx, c.Addrs(), "qmove", acks)

	adm := kadm.NewClient(cl)
	if rs, err := adm.CreatePartitions(ctx, 1, "qmove"); err != nil || rs["qmove"].Err != nil {
		t.Fatalf("create partitions: %v %+v", err, rs)
	}
	waitAll("qmove has 2 partitions", func(b *arustest.Broker) bool {
		return len(b.Controller().Image().Topics["qmove"].Partitions) == 2
	})
	if rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("7200000")}}, "qmove"); err != nil || rs[0].Err != nil {
		t.Fatalf("alter configs: %v %+v", err, rs)
	}
	waitAll("retention.ms set", func(b *arustest.Broker) bool {
		return b.Controller().Image().TopicConfigs["qmove"]["retention.ms"] == "7200000"
	})
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"qmove": {0: {}}})
	if err != nil || !errors.Is(res["qmove"][0].Err, kerr.ElectionNotNeeded) {
		t.Fatalf("elect leaders: %v %+v", err, res)
	}
}
