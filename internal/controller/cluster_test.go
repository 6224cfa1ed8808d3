package controller

import (
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/metadata"
)

// clusterController returns a controller with brokers 1..n registered and
// a topic "t" of partitions x RF n, driven by an explicit clock.
func clusterController(t *testing.T, n int, partitions int32, configs map[string]*string) (*Controller, time.Time) {
	t.Helper()
	c, _ := NewMemLog(Defaults{NumPartitions: 1, DefaultReplicationFactor: 1}, slog.Default())
	c.SetClusterConfig(ClusterConfig{SessionTimeout: 9 * time.Second, LeaderRebalanceInterval: time.Minute})
	for id := int32(1); id <= int32(n); id++ {
		if err := c.Bootstrap(metadata.RegisterBrokerRecord{BrokerID: id, Host: "h", Port: 9000 + id}); err != nil {
			t.Fatal(err)
		}
	}
	if res := c.CreateTopics([]TopicSpec{{Name: "t", NumPartitions: partitions, ReplicationFactor: int16(n), Configs: configs}}, false); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	now := time.Unix(1_800_000_000, 0)
	if err := c.Tick(now); err != nil { // first sight: grace for everyone
		t.Fatal(err)
	}
	return c, now
}

func partitionsOf(c *Controller) []metadata.Partition {
	return c.Image().Topics["t"].Partitions
}

func TestFencingMovesLeadership(t *testing.T) {
	c, now := clusterController(t, 3, 3, nil)
	heartbeat := func(at time.Time, ids ...int32) {
		for _, id := range ids {
			if err := c.Heartbeat(id, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Brokers 1 and 2 keep heartbeating, 3 goes silent.
	for s := 1; s <= 8; s++ {
		heartbeat(now.Add(time.Duration(s)*time.Second), 1, 2)
		if err := c.Tick(now.Add(time.Duration(s) * time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Image().Brokers[3].Fenced {
		t.Fatal("broker 3 fenced before its session timeout")
	}
	before := partitionsOf(c)
	heartbeat(now.Add(10*time.Second), 1, 2)
	if err := c.Tick(now.Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if !c.Image().Brokers[3].Fenced {
		t.Fatal("broker 3 not fenced after 10 s of silence")
	}
	for i, p := range partitionsOf(c) {
		if slices.Contains(p.ISR, 3) {
			t.Fatalf("partition %d keeps fenced broker 3 in its ISR %v", i, p.ISR)
		}
		if p.Leader == 3 || p.Leader < 0 {
			t.Fatalf("partition %d led by %d after fencing", i, p.Leader)
		}
		if before[i].Leader == 3 && p.LeaderEpoch != before[i].LeaderEpoch+1 {
			t.Fatalf("partition %d: leader epoch %d -> %d, want a bump", i, before[i].LeaderEpoch, p.LeaderEpoch)
		}
		if p.PartitionEpoch <= before[i].PartitionEpoch {
			t.Fatalf("partition %d: partition epoch did not grow", i)
		}
	}

	// Broker 3 comes back: unfenced; it rejoins ISRs through its leaders
	// (AlterPartition), and then preferred leaders are restored.
	heartbeat(now.Add(11*time.Second), 3)
	if c.Image().Brokers[3].Fenced {
		t.Fatal("broker 3 still fenced after a heartbeat")
	}
	for _, p := range partitionsOf(c) {
		if _, err := c.AlterPartition("t", p.Index, p.Leader, p.LeaderEpoch, p.PartitionEpoch, append(slices.Clone(p.ISR), 3)); err != nil {
			t.Fatal(err)
		}
	}
	heartbeat(now.Add(70*time.Second), 1, 2, 3)
	if err := c.Tick(now.Add(70 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for i, p := range partitionsOf(c) {
		if p.Leader != p.Replicas[0] {
			t.Fatalf("partition %d led by %d, preferred %d", i, p.Leader, p.Replicas[0])
		}
	}
}

func TestAlterPartitionChecks(t *testing.T) {
	c, _ := clusterController(t, 3, 1, nil)
	p := partitionsOf(c)[0]
	for _, tc := range []struct {
		name                        string
		leader, leaderEpoch, pEpoch int32
		isr                         []int32
		want                        error
	}{
		{"not the leader", p.Replicas[1], p.LeaderEpoch, p.PartitionEpoch, []int32{p.Replicas[1]}, ErrNotLeaderOfPartition},
		{"stale partition epoch", p.Leader, p.LeaderEpoch, p.PartitionEpoch - 1, []int32{p.Leader}, ErrStaleEpoch},
		{"ISR without leader", p.Leader, p.LeaderEpoch, p.PartitionEpoch, []int32{p.Replicas[1]}, ErrInvalidISR},
		{"non-replica in ISR", p.Leader, p.LeaderEpoch, p.PartitionEpoch, []int32{p.Leader, 9}, ErrInvalidISR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.AlterPartition("t", 0, tc.leader, tc.leaderEpoch, tc.pEpoch, tc.isr); err == nil || !errorsIs(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	got, err := c.AlterPartition("t", 0, p.Leader, p.LeaderEpoch, p.PartitionEpoch, []int32{p.Leader})
	if err != nil || !slices.Equal(got.ISR, []int32{p.Leader}) || got.PartitionEpoch != p.PartitionEpoch+1 || got.LeaderEpoch != p.LeaderEpoch {
		t.Fatalf("shrink: %+v %v", got, err)
	}
}

func TestOfflinePartitionWaitsForLastInSyncReplica(t *testing.T) {
	c, now := clusterController(t, 2, 1, nil)
	p := partitionsOf(c)[0]
	// The follower falls out of the ISR, then the leader dies: no clean
	// candidate is left, so the partition goes offline (leader -1) and
	// keeps the old leader as its last in-sync replica.
	if _, err := c.AlterPartition("t", 0, p.Leader, p.LeaderEpoch, p.PartitionEpoch, []int32{p.Leader}); err != nil {
		t.Fatal(err)
	}
	if err := c.FenceBroker(p.Leader); err != nil {
		t.Fatal(err)
	}
	off := partitionsOf(c)[0]
	if off.Leader != -1 || !slices.Equal(off.ISR, []int32{p.Leader}) {
		t.Fatalf("after losing the only ISR member: leader %d ISR %v", off.Leader, off.ISR)
	}
	// When it returns it leads again.
	if err := c.Heartbeat(p.Leader, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if back := partitionsOf(c)[0]; back.Leader != p.Leader || back.LeaderEpoch <= off.LeaderEpoch {
		t.Fatalf("after return: leader %d epoch %d", back.Leader, back.LeaderEpoch)
	}
}

func TestUncleanElectionWhenEnabled(t *testing.T) {
	on := "true"
	c, _ := clusterController(t, 2, 1, map[string]*string{"unclean.leader.election.enable": &on})
	p := partitionsOf(c)[0]
	if _, err := c.AlterPartition("t", 0, p.Leader, p.LeaderEpoch, p.PartitionEpoch, []int32{p.Leader}); err != nil {
		t.Fatal(err)
	}
	if err := c.FenceBroker(p.Leader); err != nil {
		t.Fatal(err)
	}
	if got := partitionsOf(c)[0]; got.Leader != p.Replicas[1] {
		t.Fatalf("unclean election picked %d, want the live out-of-sync replica %d", got.Leader, p.Replicas[1])
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func TestUnfenceWaitsForCaughtUpMetadata(t *testing.T) {
	c, now := clusterController(t, 2, 1, nil)
	if err := c.FenceBroker(2); err != nil {
		t.Fatal(err)
	}
	// Broker 2 restarts and registers again, then heartbeats from an old image.
	if err := c.Bootstrap(metadata.RegisterBrokerRecord{BrokerID: 2, Host: "h2", Port: 9102}); err != nil {
		t.Fatal(err)
	}
	registered := c.Image().Offset
	if err := c.HeartbeatAt(2, now.Add(time.Second), registered-1); err != nil {
		t.Fatal(err)
	}
	if !c.Image().Brokers[2].Fenced {
		t.Fatal("unfenced before catching up with its own registration")
	}
	if err := c.HeartbeatAt(2, now.Add(2*time.Second), registered); err != nil {
		t.Fatal(err)
	}
	if c.Image().Brokers[2].Fenced {
		t.Fatal("still fenced after catching up")
	}
}
