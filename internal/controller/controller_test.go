package controller

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/metadata"
)

func newTestController(t *testing.T, brokers ...int32) (*Controller, *MemLog) {
	t.Helper()
	c, log := NewMemLog(Defaults{NumPartitions: 3, DefaultReplicationFactor: 1}, slog.Default())
	for _, id := range brokers {
		if err := c.Bootstrap(metadata.RegisterBrokerRecord{BrokerID: id, Host: "localhost", Port: 9092 + id}); err != nil {
			t.Fatal(err)
		}
	}
	return c, log
}

func TestCreateTopicsAndReplay(t *testing.T) {
	c, log := newTestController(t, 1)
	v := "1000"
	res := c.CreateTopics([]TopicSpec{
		{Name: "a", NumPartitions: -1, ReplicationFactor: -1, Configs: map[string]*string{"retention.ms": &v}},
		{Name: "b", NumPartitions: 6, ReplicationFactor: 1},
	}, false)
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Name, r.Err)
		}
	}
	im := c.Image()
	if got := len(im.Topics["a"].Partitions); got != 3 {
		t.Fatalf("a has %d partitions, want num.partitions=3", got)
	}
	if got := len(im.Topics["b"].Partitions); got != 6 {
		t.Fatalf("b has %d partitions", got)
	}
	if im.TopicConfigs["a"]["retention.ms"] != "1000" {
		t.Fatalf("configs %v", im.TopicConfigs)
	}
	if errs := c.DeleteTopics([]string{"b", "missing"}); errs[0] != nil || !errors.Is(errs[1], ErrUnknownTopic) {
		t.Fatalf("delete errors %v", errs)
	}
	start, err := c.AllocateProducerIDs(1, 1000)
	if err != nil || start != 0 {
		t.Fatalf("first block at %d (%v)", start, err)
	}
	if next, _ := c.AllocateProducerIDs(1, 1000); next != 1000 {
		t.Fatalf("second block at %d", next)
	}

	// Replaying the same records reaches the same image.
	replayed, err := New(nil, log.Records(), Defaults{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Image(), replayed.Image()
	if a.ClusterID != b.ClusterID || a.Offset != b.Offset || a.NextProducerID != b.NextProducerID ||
		len(a.Topics) != len(b.Topics) || a.Topics["a"].ID != b.Topics["a"].ID || b.Topics["b"] != nil ||
		b.TopicConfigs["a"]["retention.ms"] != "1000" {
		t.Fatalf("replayed image differs:\n%+v\n%+v", a, b)
	}
}

func TestCreateTopicsValidation(t *testing.T) {
	c, log := newTestController(t, 1)
	c.CreateTopics([]TopicSpec{{Name: "exists.here", NumPartitions: 1, ReplicationFactor: 1}}, false)
	bad := "abc"
	before := len(log.Records())
	for _, tc := range []struct {
		spec TopicSpec
		want error
	}{
		{TopicSpec{Name: "", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic},
		{TopicSpec{Name: "a/b", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic},
		{TopicSpec{Name: "..", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic},
		{TopicSpec{Name: "exists.here", NumPartitions: 1, ReplicationFactor: 1}, ErrTopicExists},
		{TopicSpec{Name: "exists_here", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic},
		{TopicSpec{Name: "p0", NumPartitions: 0, ReplicationFactor: 1}, ErrInvalidPartitions},
		{TopicSpec{Name: "rf3", NumPartitions: 1, ReplicationFactor: 3}, ErrInvalidReplicationFactor},
		{TopicSpec{Name: "cfg", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]*string{"retention.ms": &bad}}, config.ErrInvalidConfig},
		{TopicSpec{Name: "cfg2", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]*string{"no.such.config": &bad}}, config.ErrInvalidConfig},
		{TopicSpec{Name: "assign", NumPartitions: -1, ReplicationFactor: -1, Assignment: [][]int32{{7}}}, ErrInvalidReplicaAssignment},
	} {
		t.Run(tc.spec.Name, func(t *testing.T) {
			res := c.CreateTopics([]TopicSpec{tc.spec}, false)
			if !errors.Is(res[0].Err, tc.want) {
				t.Fatalf("err = %v, want %v", res[0].Err, tc.want)
			}
		})
	}
	if len(log.Records()) != before {
		t.Fatalf("rejected topics committed %d records", len(log.Records())-before)
	}
	// validateOnly commits nothing.
	if res := c.CreateTopics([]TopicSpec{{Name: "dry", NumPartitions: 1, ReplicationFactor: 1}}, true); res[0].Err != nil || len(log.Records()) != before {
		t.Fatalf("validate only: %v, %d new records", res[0].Err, len(log.Records())-before)
	}
}

func TestAssignmentSpreadsLeaders(t *testing.T) {
	c, _ := newTestController(t, 1, 2, 3)
	res := c.CreateTopics([]TopicSpec{{Name: "spread", NumPartitions: 6, ReplicationFactor: 3}}, false)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	leaders := map[int32]int{}
	for _, p := range c.Image().Topics["spread"].Partitions {
		leaders[p.Leader]++
		seen := map[int32]bool{}
		for _, r := range p.Replicas {
			if seen[r] {
				t.Fatalf("partition %d has broker %d twice: %v", p.Index, r, p.Replicas)
			}
			seen[r] = true
		}
	}
	for _, id := range []int32{1, 2, 3} {
		if leaders[id] != 2 {
			t.Fatalf("leaders per broker %v, want 2 each", leaders)
		}
	}
}

func TestRackAwareAssignment(t *testing.T) {
	c, _ := NewMemLog(Defaults{NumPartitions: 1, DefaultReplicationFactor: 1}, slog.Default())
	racks := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}
	for id := int32(1); id <= 6; id++ {
		if err := c.Bootstrap(metadata.RegisterBrokerRecord{BrokerID: id, Host: "h", Port: 9000 + id, Rack: racks[id]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.FenceBroker(6); err != nil {
		t.Fatal(err)
	}
	res := c.CreateTopics([]TopicSpec{{Name: "racked", NumPartitions: 12, ReplicationFactor: 3}}, false)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	for _, p := range c.Image().Topics["racked"].Partitions {
		seen := map[string]bool{}
		for _, r := range p.Replicas {
			if r == 6 {
				t.Fatalf("partition %d assigned to fenced broker 6: %v", p.Index, p.Replicas)
			}
			if seen[racks[r]] {
				t.Fatalf("partition %d has two replicas in rack %s: %v", p.Index, racks[r], p.Replicas)
			}
			seen[racks[r]] = true
		}
	}
}

// TestListenersSeeWholeProposals: every image a listener is handed has
// each topic with all of its partitions, and its delta names exactly the
// partitions of that proposal.
func TestListenersSeeWholeProposals(t *testing.T) {
	c, _ := newTestController(t, 1)
	var seen []int
	c.SubscribeDelta(func(im *metadata.Image, d *metadata.Delta) {
		for name, tp := range im.Topics {
			if len(tp.Partitions) != 50 {
				t.Errorf("topic %s published with %d of 50 partitions", name, len(tp.Partitions))
			}
		}
		seen = append(seen, d.PartitionCount())
	})
	for _, name := range []string{"a", "b"} {
		if res := c.CreateTopics([]TopicSpec{{Name: name, NumPartitions: 50, ReplicationFactor: 1}}, false); res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
	}
	if len(seen) != 2 || seen[0] != 50 || seen[1] != 50 {
		t.Fatalf("deltas named %v partitions, want one of 50 per proposal", seen)
	}
}

// TestMetadataBatches: observers get whole proposals from their offset;
// an offset before the retained tail (after a snapshot restore) needs a
// snapshot.
func TestMetadataBatches(t *testing.T) {
	c, _ := newTestController(t, 1)
	if res := c.CreateTopics([]TopicSpec{{Name: "a", NumPartitions: 4, ReplicationFactor: 1}}, false); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	im := c.Image()
	first := im.Offset - 4 // the topic record, then four partitions
	batches, err := c.MetadataBatches(first, 1)
	if err != nil || len(batches) != 1 || batches[0].First != first || len(batches[0].Records) != 5 {
		t.Fatalf("batches from %d: %+v, %v", first, batches, err)
	}
	if batches, err := c.MetadataBatches(im.Offset+1, 1<<20); err != nil || len(batches) != 0 {
		t.Fatalf("batches past the end: %+v, %v", batches, err)
	}
	if _, err := c.MetadataBatches(first+1, 1<<20); !errors.Is(err, ErrOffsetTooOld) {
		t.Fatalf("offset inside a proposal: %v, want ErrOffsetTooOld", err)
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	observer := NewStateMachine(Defaults{}, slog.Default())
	if err := observer.Restore(snap, im.Offset+1); err != nil {
		t.Fatal(err)
	}
	if _, err := observer.MetadataBatches(0, 1<<20); !errors.Is(err, ErrOffsetTooOld) {
		t.Fatalf("offset before a restored snapshot: %v, want ErrOffsetTooOld", err)
	}
	if observer.Image().Topics["a"] == nil || observer.Image().Offset != im.Offset {
		t.Fatal("restored image differs")
	}
}
