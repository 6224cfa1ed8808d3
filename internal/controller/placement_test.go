package controller

import (
	"errors"
	"strings"
	"testing"

	"github.com/arus-io/arus/internal/metadata"
)

// limitedController has brokers 1 and 2 with a limit of 10 partition
// replicas each, and broker 3 with none.
func limitedController(t *testing.T) *Controller {
	t.Helper()
	c, _ := newTestController(t)
	for _, b := range []metadata.RegisterBrokerRecord{
		{BrokerID: 1, Host: "localhost", Port: 9093, MaxPartitions: 10},
		{BrokerID: 2, Host: "localhost", Port: 9094, MaxPartitions: 10},
	} {
		if err := c.Bootstrap(b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func partitionCount(c *Controller) int {
	n := 0
	for _, t := range c.Image().Topics {
		n += len(t.Partitions)
	}
	return n
}

// TestPartitionLimitRefusesCreateTopics: a topic that would put more
// replicas on a broker than it reported it can host is refused with a
// policy violation naming the broker and the limit; nothing is created,
// and a topic that fits still is.
func TestPartitionLimitRefusesCreateTopics(t *testing.T) {
	c := limitedController(t)
	if im := c.Image(); im.Brokers[1].MaxPartitions != 10 {
		t.Fatalf("registered limit %d, want 10", im.Brokers[1].MaxPartitions)
	}
	res := c.CreateTopics([]TopicSpec{{Name: "fits", NumPartitions: 16, ReplicationFactor: 1}}, false)
	if res[0].Err != nil {
		t.Fatalf("16 partitions over two brokers of 10: %v", res[0].Err)
	}
	// Each broker holds 8 now; 6 more put 3 on each: 11 > 10.
	res = c.CreateTopics([]TopicSpec{
		{Name: "small", NumPartitions: 2, ReplicationFactor: 1},
		{Name: "big", NumPartitions: 6, ReplicationFactor: 1},
	}, false)
	if res[0].Err != nil {
		t.Fatalf("small: %v", res[0].Err)
	}
	err := res[1].Err
	if !errors.Is(err, ErrPolicyViolation) || !strings.Contains(err.Error(), "arus.max.partitions.per.broker") {
		t.Fatalf("big: %v, want a policy violation naming the limit", err)
	}
	if _, ok := c.Image().Topics["big"]; ok {
		t.Fatal("refused topic was created")
	}
	if got := partitionCount(c); got != 18 {
		t.Fatalf("%d partitions, want 18", got)
	}
	// An explicit assignment onto a broker without limit is fine.
	var assignment [][]int32
	for range 50 {
		assignment = append(assignment, []int32{3})
	}
	c2, _ := newTestController(t, 3)
	if res := c2.CreateTopics([]TopicSpec{{Name: "free", NumPartitions: -1, ReplicationFactor: -1, Assignment: assignment}}, false); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
}

// TestPartitionLimitRefusesCreatePartitionsAndReassignment: growing a
// topic past a broker's limit is INVALID_PARTITIONS, moving replicas onto
// a full broker INVALID_REPLICA_ASSIGNMENT; neither changes anything.
func TestPartitionLimitRefusesCreatePartitionsAndReassignment(t *testing.T) {
	c := limitedController(t)
	if res := c.CreateTopics([]TopicSpec{{Name: "t", NumPartitions: 20, ReplicationFactor: 1}}, false); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	errs := c.CreatePartitions([]PartitionsSpec{{Topic: "t", Count: 21}}, false)
	if !errors.Is(errs[0], ErrInvalidPartitions) || !strings.Contains(errs[0].Error(), "over its limit of 10") {
		t.Fatalf("create partitions: %v", errs[0])
	}
	if n := len(c.Image().Topics["t"].Partitions); n != 20 {
		t.Fatalf("%d partitions after a refused CreatePartitions", n)
	}
	// Broker 3 without limit joins: the topic may grow there.
	if err := c.Bootstrap(metadata.RegisterBrokerRecord{BrokerID: 3, Host: "localhost", Port: 9095}); err != nil {
		t.Fatal(err)
	}
	if res := c.CreateTopics([]TopicSpec{{Name: "u", Assignment: [][]int32{{3}}, NumPartitions: -1, ReplicationFactor: -1}}, false); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	p := c.Image().Topics["u"].Partitions[0]
	errs = c.AlterPartitionReassignments([]ReassignSpec{{Topic: "u", Partition: 0, Replicas: []int32{1}}}, false)
	if !errors.Is(errs[0], ErrInvalidReplicaAssignment) || !strings.Contains(errs[0].Error(), "broker 1") {
		t.Fatalf("reassignment onto a full broker: %v", errs[0])
	}
	if got := c.Image().Topics["u"].Partitions[0]; len(got.Replicas) != 1 || got.Replicas[0] != p.Replicas[0] || got.Reassigning() {
		t.Fatalf("refused reassignment changed the partition: %+v", got)
	}
}
