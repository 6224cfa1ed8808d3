package controller

import (
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/metadata"
)

// createAssigned creates topic with an explicit assignment and fails the
// test on error.
func createAssigned(t *testing.T, c *Controller, topic string, assignment ...[]int32) {
	t.Helper()
	res := c.CreateTopics([]TopicSpec{{Name: topic, NumPartitions: -1, ReplicationFactor: -1, Assignment: assignment}}, false)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
}

func part(c *Controller, topic string, index int32) metadata.Partition {
	return c.Image().Topics[topic].Partitions[index]
}

// wantPartition compares the assignment fields of p.
func wantPartition(t *testing.T, p metadata.Partition, replicas, isr, adding, removing []int32, leader int32) {
	t.Helper()
	if !slices.Equal(p.Replicas, replicas) || !slices.Equal(p.ISR, isr) || !slices.Equal(p.AddingReplicas, adding) ||
		!slices.Equal(p.RemovingReplicas, removing) || p.Leader != leader {
		t.Fatalf("partition is replicas %v isr %v adding %v removing %v leader %d\nwant replicas %v isr %v adding %v removing %v leader %d",
			p.Replicas, p.ISR, p.AddingReplicas, p.RemovingReplicas, p.Leader, replicas, isr, adding, removing, leader)
	}
}

// alterISR sends the leader's AlterPartition with the current epochs.
func alterISR(t *testing.T, c *Controller, topic string, index int32, isr ...int32) {
	t.Helper()
	p := part(c, topic, index)
	if _, err := c.AlterPartition(topic, index, p.Leader, p.LeaderEpoch, p.PartitionEpoch, isr); err != nil {
		t.Fatalf("AlterPartition %v: %v", isr, err)
	}
}

func TestReassignmentMovesReplicasAfterCatchUp(t *testing.T) {
	c, log := newTestController(t, 1, 2, 3, 4)
	createAssigned(t, c, "move", []int32{1, 2})
	before := part(c, "move", 0)

	if errs := c.AlterPartitionReassignments([]ReassignSpec{{Topic: "move", Partition: 0, Replicas: []int32{3, 4}}}, true); errs[0] != nil {
		t.Fatal(errs[0])
	}
	// Grow: union of old and new, target first; ISR and leader unchanged.
	p := part(c, "move", 0)
	wantPartition(t, p, []int32{3, 4, 1, 2}, []int32{1, 2}, []int32{3, 4}, []int32{1, 2}, 1)
	if p.LeaderEpoch != before.LeaderEpoch || p.PartitionEpoch != before.PartitionEpoch+1 {
		t.Fatalf("epochs %d/%d after grow, before %d/%d", p.LeaderEpoch, p.PartitionEpoch, before.LeaderEpoch, before.PartitionEpoch)
	}

	// One adding replica caught up: not complete yet.
	alterISR(t, c, "move", 0, 1, 2, 3)
	wantPartition(t, part(c, "move", 0), []int32{3, 4, 1, 2}, []int32{1, 2, 3}, []int32{3, 4}, []int32{1, 2}, 1)

	// The last one joins: replicas = target, ISR ∩ target, leader moved
	// off the removed broker 1 with a new leader epoch.
	alterISR(t, c, "move", 0, 1, 2, 3, 4)
	p = part(c, "move", 0)
	wantPartition(t, p, []int32{3, 4}, []int32{3, 4}, nil, nil, 3)
	if p.LeaderEpoch != before.LeaderEpoch+1 {
		t.Fatalf("leader epoch %d after the leader moved, want %d", p.LeaderEpoch, before.LeaderEpoch+1)
	}

	// The records replay to the same partition.
	replayed, err := New(nil, log.Records(), Defaults{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	r := replayed.Image().Topics["move"].Partitions[0]
	wantPartition(t, r, p.Replicas, p.ISR, nil, nil, p.Leader)
	if r.LeaderEpoch != p.LeaderEpoch || r.PartitionEpoch != p.PartitionEpoch {
		t.Fatalf("replayed epochs %d/%d, want %d/%d", r.LeaderEpoch, r.PartitionEpoch, p.LeaderEpoch, p.PartitionEpoch)
	}
}

func TestReassignmentKeepsLeaderThatStays(t *testing.T) {
	c, _ := newTestController(t, 1, 2, 3)
	createAssigned(t, c, "keep", []int32{1, 2})
	if errs := c.AlterPartitionReassignments([]ReassignSpec{{Topic: "keep", Partition: 0, Replicas: []int32{3, 1}}}, true); errs[0] != nil {
		t.Fatal(errs[0])
	}
	wantPartition(t, part(c, "keep", 0), []int32{3, 1, 2}, []int32{1, 2}, []int32{3}, []int32{2}, 1)
	epoch := part(c, "keep", 0).LeaderEpoch
	alterISR(t, c, "keep", 0, 1, 2, 3)
	p := part(c, "keep", 0)
	wantPartition(t, p, []int32{3, 1}, []int32{1, 3}, nil, nil, 1)
	if p.LeaderEpoch != epoch {
		t.Fatalf("leader epoch bumped to %d though the leader stayed", p.LeaderEpoch)
	}
	// Preferred election then moves leadership to the new first replica.
	res, err := c.ElectLeaders(ElectPreferred, map[string][]int32{"keep": {0}})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("elect: %v %+v", err, res)
	}
	if l := part(c, "keep", 0).Leader; l != 3 {
		t.Fatalf("leader %d after preferred election, want 3", l)
	}
}

func TestReassignmentRemovingOnlyCompletesAtOnce(t *testing.T) {
	c, _ := newTestController(t, 1, 2, 3)
	createAssigned(t, c, "shrink", []int32{1, 2, 3})
	if errs := c.AlterPartitionReassignments([]ReassignSpec{{Topic: "shrink", Partition: 0, Replicas: []int32{2, 3}}}, false); !errors.Is(errs[0], ErrInvalidReplicationFactor) {
		t.Fatalf("RF change with allowRFChange=false: %v", errs[0])
	}
	if errs := c.AlterPartitionReassignments([]ReassignSpec{{Topic: "shrink", Partition: 0, Replicas: []int32{2, 3}}}, true); errs[0] != nil {
		t.Fatal(errs[0])
	}
	wantPartition(t, part(c, "shrink", 0), []int32{2, 3}, []int32{2, 3}, nil, nil, 2)
	// Reordering only: applied at once, no reassignment left behind.
	if errs := c.AlterPartitionReassignments([]ReassignSpec{{Topic: "shrink", Partition: 0, Replicas: []int32{3, 2}}}, true); errs[0] != nil {
		t.Fatal(errs[0])
	}
	wantPartition(t, part(c, "shrink", 0), []int32{3, 2}, []int32{2, 3}, nil, nil, 2)
}

func TestReassignmentCancelReverts(t *testing.T) {
	c, _ := newTestController(t, 1, 2, 3, 4)
	createAssigned(t, c, "undo", []int32{1, 2})
	if errs := c.AlterPartitionReassignments([]ReassignSpec{{Topic: "undo", Partition: 0, Replicas: nil}}, true); !errors.Is(errs[0], ErrNoReassignmentInProgress) {
		t.Fatalf("cancel without a reassignment: %v", errs[0])
	}
	c.AlterPartitionReassignments([]ReassignSpec{{Topic: "undo", Partition: 0, Replicas: []int32{3, 4}}}, true)
	alterISR(t, c, "undo", 0, 1, 2, 3)
	if errs := c.AlterPartitionReassignments([]ReassignSpec{{Topic: "undo", Partition: 0, Replicas: nil}}, true); errs[0] != nil {
		t.Fatal(errs[0])
	}
	wantPartition(t, part(c, "undo", 0), []int32{1, 2}, []int32{1, 2}, nil, nil, 1)

	// A new target replaces an ongoing reassignment, measured from the
	// original replicas.
	c.AlterPartitionReassignments([]ReassignSpec{{Topic: "undo", Partition: 0, Replicas: []int32{3, 4}}}, true)
	alterISR(t, c, "undo", 0, 1, 2, 3)
	if errs := c.AlterPartitionReassignments([]ReassignSpec{{Topic: "undo", Partition: 0, Replicas: []int32{1, 4}}}, true); errs[0] != nil {
		t.Fatal(errs[0])
	}
	wantPartition(t, part(c, "undo", 0), []int32{1, 4, 2}, []int32{1, 2}, []int32{4}, []int32{2}, 1)
}

func TestReassignmentValidation(t *testing.T) {
	c, log := newTestController(t, 1, 2, 3)
	createAssigned(t, c, "v", []int32{1})
	before := len(log.Records())
	for _, tc := range []struct {
		name string
		spec ReassignSpec
		want error
	}{
		{"unknown topic", ReassignSpec{Topic: "nope", Partition: 0, Replicas: []int32{1}}, ErrUnknownTopic},
		{"unknown partition", ReassignSpec{Topic: "v", Partition: 5, Replicas: []int32{1}}, ErrUnknownTopic},
		{"unknown broker", ReassignSpec{Topic: "v", Partition: 0, Replicas: []int32{9}}, ErrInvalidReplicaAssignment},
		{"duplicate broker", ReassignSpec{Topic: "v", Partition: 0, Replicas: []int32{2, 2}}, ErrInvalidReplicaAssignment},
		{"empty", ReassignSpec{Topic: "v", Partition: 0, Replicas: []int32{}}, ErrInvalidReplicaAssignment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if errs := c.AlterPartitionReassignments([]ReassignSpec{tc.spec}, true); !errors.Is(errs[0], tc.want) {
				t.Fatalf("err = %v, want %v", errs[0], tc.want)
			}
		})
	}
	errs := c.AlterPartitionReassignments([]ReassignSpec{
		{Topic: "v", Partition: 0, Replicas: []int32{2}}, {Topic: "v", Partition: 0, Replicas: []int32{3}},
	}, true)
	if !errors.Is(errs[1], ErrInvalidRequest) {
		t.Fatalf("same partition twice: %v", errs)
	}
	if len(log.Records()) != before+1 {
		t.Fatalf("%d records committed, want only the valid spec's", len(log.Records())-before)
	}
}

func TestReassignmentCompletesOnTickWhenLeaderReturns(t *testing.T) {
	c, _ := newTestController(t, 1, 2, 3)
	now := time.Unix(1000, 0)
	if err := c.Tick(now); err != nil {
		t.Fatal(err)
	}
	createAssigned(t, c, "tick", []int32{1, 2})
	c.AlterPartitionReassignments([]ReassignSpec{{Topic: "tick", Partition: 0, Replicas: []int32{3}}}, true)
	alterISR(t, c, "tick", 0, 1, 2, 3)
	wantPartition(t, part(c, "tick", 0), []int32{3}, []int32{3}, nil, nil, 3)

	// Broker 3 is fenced while it is being added and 1 leads: the adding
	// replica leaves the ISR, and the move waits.
	createAssigned(t, c, "wait", []int32{1})
	c.AlterPartitionReassignments([]ReassignSpec{{Topic: "wait", Partition: 0, Replicas: []int32{2}}}, true)
	if err := c.FenceBroker(2); err != nil {
		t.Fatal(err)
	}
	if err := c.Tick(now.Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	wantPartition(t, part(c, "wait", 0), []int32{2, 1}, []int32{1}, []int32{2}, []int32{1}, 1)
	if err := c.Heartbeat(2, now.Add(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	alterISR(t, c, "wait", 0, 1, 2)
	wantPartition(t, part(c, "wait", 0), []int32{2}, []int32{2}, nil, nil, 2)
}

func TestCreatePartitions(t *testing.T) {
	c, log := newTestController(t, 1, 2, 3)
	res := c.CreateTopics([]TopicSpec{{Name: "grow", NumPartitions: 2, ReplicationFactor: 2}}, false)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	before := len(log.Records())
	for _, tc := range []struct {
		name string
		spec PartitionsSpec
		want error
	}{
		{"unknown", PartitionsSpec{Topic: "nope", Count: 3}, ErrUnknownTopic},
		{"same count", PartitionsSpec{Topic: "grow", Count: 2}, ErrInvalidPartitions},
		{"fewer", PartitionsSpec{Topic: "grow", Count: 1}, ErrInvalidPartitions},
		{"assignment count", PartitionsSpec{Topic: "grow", Count: 4, Assignment: [][]int32{{1, 2}}}, ErrInvalidReplicaAssignment},
		{"assignment rf", PartitionsSpec{Topic: "grow", Count: 3, Assignment: [][]int32{{1}}}, ErrInvalidReplicaAssignment},
		{"assignment broker", PartitionsSpec{Topic: "grow", Count: 3, Assignment: [][]int32{{1, 7}}}, ErrInvalidReplicaAssignment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if errs := c.CreatePartitions([]PartitionsSpec{tc.spec}, false); !errors.Is(errs[0], tc.want) {
				t.Fatalf("err = %v, want %v", errs[0], tc.want)
			}
		})
	}
	if errs := c.CreatePartitions([]PartitionsSpec{{Topic: "grow", Count: 5}}, true); errs[0] != nil || len(log.Records()) != before {
		t.Fatalf("validate only: %v, %d records", errs[0], len(log.Records())-before)
	}
	if errs := c.CreatePartitions([]PartitionsSpec{{Topic: "grow", Count: 5}}, false); errs[0] != nil {
		t.Fatal(errs[0])
	}
	leaders := map[int32]int{}
	for _, p := range c.Image().Topics["grow"].Partitions {
		if len(p.Replicas) != 2 || p.Replicas[0] == p.Replicas[1] || p.Leader != p.Replicas[0] || !slices.Equal(p.ISR, p.Replicas) {
			t.Fatalf("partition %d: %+v", p.Index, p)
		}
		leaders[p.Leader]++
	}
	if len(c.Image().Topics["grow"].Partitions) != 5 || len(leaders) != 3 {
		t.Fatalf("leaders per broker %v over 5 partitions", leaders)
	}
	if errs := c.CreatePartitions([]PartitionsSpec{{Topic: "grow", Count: 6, Assignment: [][]int32{{3, 1}}}}, false); errs[0] != nil {
		t.Fatal(errs[0])
	}
	wantPartition(t, part(c, "grow", 5), []int32{3, 1}, []int32{3, 1}, nil, nil, 3)
}

func TestElectLeaders(t *testing.T) {
	c, _ := newTestController(t, 1, 2, 3)
	createAssigned(t, c, "e", []int32{1, 2}, []int32{2, 3}, []int32{3, 1})
	// Fencing 1 moves partition 0 to 2 and takes 1 out of the ISRs.
	if err := c.FenceBroker(1); err != nil {
		t.Fatal(err)
	}
	res, err := c.ElectLeaders(ElectPreferred, map[string][]int32{"e": nil, "missing": {0}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]error{0: ErrPreferredLeaderNotAvailable, 1: ErrElectionNotNeeded, 2: ErrElectionNotNeeded}
	for _, r := range res {
		if r.Topic == "missing" {
			if !errors.Is(r.Err, ErrUnknownTopic) {
				t.Fatalf("missing topic: %v", r.Err)
			}
			continue
		}
		if !errors.Is(r.Err, want[r.Partition]) {
			t.Fatalf("partition %d: %v, want %v", r.Partition, r.Err, want[r.Partition])
		}
	}
	// All partitions: those needing no election are left out.
	res, _ = c.ElectLeaders(ElectPreferred, nil)
	if len(res) != 1 || res[0].Partition != 0 {
		t.Fatalf("elect all: %+v", res)
	}
	// 1 returns and catches up: the preferred election moves 0 back.
	if err := c.Heartbeat(1, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	alterISR(t, c, "e", 0, 2, 1)
	res, _ = c.ElectLeaders(ElectPreferred, map[string][]int32{"e": {0}})
	if res[0].Err != nil || part(c, "e", 0).Leader != 1 {
		t.Fatalf("preferred election: %+v, leader %d", res, part(c, "e", 0).Leader)
	}

	// Unclean: partition 1 (2,3) loses both; 3 comes back out of sync.
	if err := c.FenceBroker(3); err != nil {
		t.Fatal(err)
	}
	if err := c.FenceBroker(2); err != nil {
		t.Fatal(err)
	}
	wantPartition(t, part(c, "e", 1), []int32{2, 3}, []int32{2}, nil, nil, -1)
	if err := c.Heartbeat(3, time.Unix(2, 0)); err != nil {
		t.Fatal(err)
	}
	res, _ = c.ElectLeaders(ElectPreferred, map[string][]int32{"e": {1}})
	if !errors.Is(res[0].Err, ErrPreferredLeaderNotAvailable) {
		t.Fatalf("preferred on a dead preferred replica: %v", res[0].Err)
	}
	res, _ = c.ElectLeaders(ElectUnclean, map[string][]int32{"e": {1, 0}})
	if res[0].Err != nil || !errors.Is(res[1].Err, ErrElectionNotNeeded) {
		t.Fatalf("unclean: %+v", res)
	}
	wantPartition(t, part(c, "e", 1), []int32{2, 3}, []int32{3}, nil, nil, 3)
	if _, err := c.ElectLeaders(7, nil); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("unknown election type: %v", err)
	}
}

func TestIncrementalAlterTopicConfigs(t *testing.T) {
	c, _ := newTestController(t, 1)
	createAssigned(t, c, "cfg", []int32{1})
	s := func(v string) *string { return &v }
	if err := c.IncrementalAlterTopicConfigs("cfg", []ConfigChange{
		{Name: "retention.ms", Op: ConfigSet, Value: s("1000")},
		{Name: "cleanup.policy", Op: ConfigAppend, Value: s("compact")},
	}, false); err != nil {
		t.Fatal(err)
	}
	if got := c.Image().TopicConfigs["cfg"]; got["retention.ms"] != "1000" || got["cleanup.policy"] != "delete,compact" {
		t.Fatalf("configs %v", got)
	}
	if err := c.IncrementalAlterTopicConfigs("cfg", []ConfigChange{
		{Name: "cleanup.policy", Op: ConfigSubtract, Value: s("delete")},
		{Name: "retention.ms", Op: ConfigDelete},
	}, false); err != nil {
		t.Fatal(err)
	}
	if got := c.Image().TopicConfigs["cfg"]; len(got) != 1 || got["cleanup.policy"] != "compact" {
		t.Fatalf("configs %v", got)
	}
	for _, tc := range []struct {
		name string
		ch   []ConfigChange
		want error
	}{
		{"append to non-list", []ConfigChange{{Name: "retention.ms", Op: ConfigAppend, Value: s("1")}}, ErrInvalidConfig},
		{"set null", []ConfigChange{{Name: "retention.ms", Op: ConfigSet}}, ErrInvalidRequest},
		{"bad value", []ConfigChange{{Name: "retention.ms", Op: ConfigSet, Value: s("x")}}, ErrInvalidConfig},
		{"unknown", []ConfigChange{{Name: "no.such", Op: ConfigSet, Value: s("1")}}, ErrInvalidConfig},
		{"twice", []ConfigChange{{Name: "retention.ms", Op: ConfigSet, Value: s("1")}, {Name: "retention.ms", Op: ConfigDelete}}, ErrInvalidRequest},
		{"bad op", []ConfigChange{{Name: "retention.ms", Op: 9, Value: s("1")}}, ErrInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.IncrementalAlterTopicConfigs("cfg", tc.ch, false); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// AlterConfigs replaces the whole set.
	if err := c.ReplaceTopicConfigs("cfg", map[string]*string{"segment.ms": s("5000")}, false); err != nil {
		t.Fatal(err)
	}
	if got := c.Image().TopicConfigs["cfg"]; len(got) != 1 || got["segment.ms"] != "5000" {
		t.Fatalf("configs after replace %v", got)
	}
}

func TestReassignmentSurvivesSnapshot(t *testing.T) {
	c, _ := newTestController(t, 1, 2, 3)
	createAssigned(t, c, "snap", []int32{1, 2})
	c.AlterPartitionReassignments([]ReassignSpec{{Topic: "snap", Partition: 0, Replicas: []int32{3, 2}}}, true)
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := NewStateMachine(Defaults{}, slog.Default())
	if err := restored.Restore(snap, c.Image().Offset+1); err != nil {
		t.Fatal(err)
	}
	want := part(c, "snap", 0)
	got := restored.Image().Topics["snap"].Partitions[0]
	wantPartition(t, got, want.Replicas, want.ISR, want.AddingReplicas, want.RemovingReplicas, want.Leader)
	if !got.Reassigning() {
		t.Fatal("the snapshot lost the ongoing reassignment")
	}
}
