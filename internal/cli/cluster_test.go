package cli

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

// applyPlan returns current with plan applied.
func applyPlan(current map[string][][]int32, plan reassignPlan) map[string][][]int32 {
	out := map[string][][]int32{}
	for name, parts := range current {
		out[name] = slices.Clone(parts)
		for p, replicas := range plan[name] {
			out[name][p] = replicas
		}
	}
	return out
}

// loads counts replicas and preferred leaders per broker.
func loads(assignment map[string][][]int32) (replicas, leaders map[int32]int) {
	replicas, leaders = map[int32]int{}, map[int32]int{}
	for _, parts := range assignment {
		for _, rs := range parts {
			leaders[rs[0]]++
			for _, r := range rs {
				replicas[r]++
			}
		}
	}
	return replicas, leaders
}

func TestPlanRebalance(t *testing.T) {
	for _, tc := range []struct {
		name    string
		brokers []int32
		current map[string][][]int32
		// maxMoves bounds the replicas placed on a broker that did not
		// hold them (-1: no bound checked).
		maxMoves int
	}{
		{"new broker", []int32{1, 2, 3}, map[string][][]int32{
			"a": {{1, 2}, {2, 1}, {1, 2}, {2, 1}, {1, 2}, {2, 1}},
		}, 4},
		{"already balanced", []int32{1, 2, 3}, map[string][][]int32{
			"a": {{1, 2}, {2, 3}, {3, 1}},
		}, 0},
		{"broker gone", []int32{1, 2}, map[string][][]int32{
			"a": {{3}, {1}, {2}, {3}},
		}, 2},
		{"several topics", []int32{1, 2, 3, 4}, map[string][][]int32{
			"a": {{1, 2, 3}, {2, 3, 1}, {3, 1, 2}},
			"b": {{1}, {1}, {1}, {1}, {1}},
		}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := planRebalance(tc.brokers, tc.current)
			if err != nil {
				t.Fatal(err)
			}
			after := applyPlan(tc.current, plan)
			replicas, leaders := loads(after)
			total, parts := 0, 0
			moves := 0
			for name, ps := range after {
				for p, rs := range ps {
					parts++
					total += len(rs)
					if len(rs) != len(tc.current[name][p]) {
						t.Fatalf("%s-%d changed replication factor: %v -> %v", name, p, tc.current[name][p], rs)
					}
					for i, r := range rs {
						if slices.Contains(rs[:i], r) || !slices.Contains(tc.brokers, r) {
							t.Fatalf("%s-%d has bad replicas %v", name, p, rs)
						}
						if !slices.Contains(tc.current[name][p], r) {
							moves++
						}
					}
				}
			}
			n := len(tc.brokers)
			for _, b := range tc.brokers {
				if replicas[b] < total/n || replicas[b] > (total+n-1)/n {
					t.Fatalf("broker %d holds %d of %d replicas: %v", b, replicas[b], total, replicas)
				}
				if leaders[b] > (parts+n-1)/n+1 {
					t.Fatalf("broker %d leads %d of %d partitions: %v", b, leaders[b], parts, leaders)
				}
			}
			if tc.maxMoves >= 0 && moves > tc.maxMoves {
				t.Fatalf("%d replicas moved, want at most %d: %v", moves, tc.maxMoves, plan)
			}
			if tc.maxMoves == 0 && len(plan) != 0 {
				t.Fatalf("balanced cluster got a plan %v", plan)
			}
		})
	}
	if _, err := planRebalance([]int32{1}, map[string][][]int32{"a": {{1, 2}}}); err == nil {
		t.Fatal("replication factor above the broker count was planned")
	}
}

func TestParseBrokerList(t *testing.T) {
	if got, err := parseBrokerList(" 3, 1,2"); err != nil || !slices.Equal(got, []int32{3, 1, 2}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "1,,2", "a", "-1"} {
		if _, err := parseBrokerList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestIntegrationClusterCommands(t *testing.T) {
	c := arustest.StartCluster(t, 3)
	addr := c.Addrs()[0]
	cl, _ := testAdmin(t, addr)
	ctx := t.Context()

	// A topic crowded onto brokers 1 and 2, as before broker 3 was added.
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "spread", -1, -1
	for p := range 6 {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(p), []int32{int32(1 + p%2), int32(2 - p%2)}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	req.Topics = append(req.Topics, rt)
	if resp, err := req.RequestWith(ctx, cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create: %v %v", err, resp)
	}
	mustRun(t, newProduceCommand, "a\nb\nc\nd\ne\nf\ng\nh\n", "spread", "-b", addr)

	out, _ := mustRun(t, newClusterCommand, "", "rebalance", "-b", addr, "--dry-run")
	if !strings.Contains(out, "partitions to reassign") {
		t.Fatalf("dry run output:\n%s", out)
	}
	if im := c.Controller.Image(); im.Topics["spread"].Partitions[0].Reassigning() {
		t.Fatal("dry run started a reassignment")
	}
	out, stderr := mustRun(t, newClusterCommand, "", "rebalance", "-b", addr)
	if !strings.Contains(out, "reassignments finished") || !strings.Contains(stderr, "reassign [") {
		t.Fatalf("rebalance output:\n%s\nstderr:\n%s", out, stderr)
	}
	perBroker := map[int32]int{}
	for _, p := range c.Controller.Image().Topics["spread"].Partitions {
		if p.Reassigning() {
			t.Fatalf("partition %d still reassigning after rebalance returned", p.Index)
		}
		for _, r := range p.Replicas {
			perBroker[r]++
		}
	}
	if perBroker[1] != 4 || perBroker[2] != 4 || perBroker[3] != 4 {
		t.Fatalf("replicas per broker after rebalance: %v", perBroker)
	}
	if got := consumeJSON(t, addr, "spread"); len(got) != 8 {
		t.Fatalf("read %d of 8 records after the rebalance", len(got))
	}
	out, _ = mustRun(t, newClusterCommand, "", "rebalance", "-b", addr)
	if !strings.Contains(out, "already balanced") {
		t.Fatalf("second rebalance:\n%s", out)
	}

	// One partition by hand, and a cancel with nothing to cancel.
	mustRun(t, newTopicCommand, "", "reassign", "spread", "-b", addr, "--partition", "0", "--replicas", "3,1")
	if p := c.Controller.Image().Topics["spread"].Partitions[0]; !slices.Equal(p.Replicas, []int32{3, 1}) {
		t.Fatalf("spread-0 replicas %v after reassign", p.Replicas)
	}
	_, _, err := runCommand(t, newTopicCommand(), "", "reassign", "spread", "-b", addr, "--partition", "0", "--cancel")
	if err == nil || !strings.Contains(err.Error(), kerr.NoReassignmentInProgress.Message) && !strings.Contains(err.Error(), "NO_REASSIGNMENT_IN_PROGRESS") {
		t.Fatalf("cancel without a reassignment: %v", err)
	}

	mustRun(t, newTopicCommand, "", "add-partitions", "spread", "-b", addr, "--partitions", "8")
	if n := len(c.Controller.Image().Topics["spread"].Partitions); n != 8 {
		t.Fatalf("%d partitions after add-partitions", n)
	}
	_, _, err = runCommand(t, newTopicCommand(), "", "add-partitions", "spread", "-b", addr, "--partitions", "8")
	if err == nil || !strings.Contains(err.Error(), "INVALID_PARTITIONS") {
		t.Fatalf("add-partitions to the same count: %v", err)
	}

	mustRun(t, newTopicCommand, "", "alter-config", "spread", "-b", addr, "--set", "retention.ms=60000", "--append", "cleanup.policy=compact")
	if got := c.Controller.Image().TopicConfigs["spread"]; got["retention.ms"] != "60000" || got["cleanup.policy"] != "delete,compact" {
		t.Fatalf("configs after alter-config: %v", got)
	}
	mustRun(t, newTopicCommand, "", "alter-config", "spread", "-b", addr, "--delete", "cleanup.policy")
	if _, ok := c.Controller.Image().TopicConfigs["spread"]["cleanup.policy"]; ok {
		t.Fatal("cleanup.policy still set after --delete")
	}

	status := func() string {
		out, _ := mustRun(t, newClusterCommand, "", "status", "-b", c.Addrs()[0])
		return out
	}
	arustest.Eventually(t, 20*time.Second, "status shows a healthy cluster", func() bool {
		out := status()
		return strings.Contains(out, "Under-replicated partitions: none") && strings.Contains(out, "Offline partitions: none") &&
			strings.Count(out, "unfenced") == 3
	})
	c.Crash(3)
	arustest.Eventually(t, 20*time.Second, "status shows broker 3 fenced and its partitions under-replicated", func() bool {
		out := status()
		return strings.Contains(out, "fenced") && strings.Count(out, "unfenced") == 2 && strings.Contains(out, "Under-replicated partitions: ")
	})
	out = status()
	if strings.Contains(out, "Under-replicated partitions: none") {
		t.Fatalf("status after a crash:\n%s", out)
	}
	t.Log("\n" + out)
}

// TestPlanRebalanceRandom checks on seeded random clusters that a plan
// always evens out replicas within one per broker, keeps replication
// factors, and that planning again finds nothing to do.
func TestPlanRebalanceRandom(t *testing.T) {
	const seed = 20261122
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range 300 {
		n := 1 + rng.IntN(6)
		var brokers []int32
		for b := range n {
			brokers = append(brokers, int32(b+1))
		}
		current := map[string][][]int32{}
		for tp := range 1 + rng.IntN(3) {
			rf := 1 + rng.IntN(n)
			var parts [][]int32
			for range 1 + rng.IntN(12) {
				// Replicas anywhere, including brokers that are gone.
				perm := rng.Perm(n + 2)
				var rs []int32
				for _, b := range perm[:rf] {
					rs = append(rs, int32(b+1))
				}
				parts = append(parts, rs)
			}
			current[fmt.Sprintf("t%d", tp)] = parts
		}
		plan, err := planRebalance(brokers, current)
		if err != nil {
			t.Fatalf("seed %d case %d: %v", seed, i, err)
		}
		after := applyPlan(current, plan)
		replicas, _ := loads(after)
		total := 0
		for name, ps := range after {
			for p, rs := range ps {
				total += len(rs)
				if len(rs) != len(current[name][p]) {
					t.Fatalf("seed %d case %d: %s-%d RF changed", seed, i, name, p)
				}
				for j, r := range rs {
					if slices.Contains(rs[:j], r) || !slices.Contains(brokers, r) {
						t.Fatalf("seed %d case %d: %s-%d replicas %v", seed, i, name, p, rs)
					}
				}
			}
		}
		for _, b := range brokers {
			if replicas[b] < total/n || replicas[b] > (total+n-1)/n {
				t.Fatalf("seed %d case %d: replicas per broker %v (total %d)", seed, i, replicas, total)
			}
		}
		if again, _ := planRebalance(brokers, after); len(again) != 0 {
			t.Fatalf("seed %d case %d: second plan moves %v", seed, i, again)
		}
	}
}
