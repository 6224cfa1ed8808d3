package broker_test

// Cluster admin APIs against an in-process 3-broker cluster with real
// clients: CreatePartitions, ElectLeaders, partition reassignment,
// DescribeCluster, OffsetForLeaderEpoch, AlterConfigs and
// IncrementalAlterConfigs.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/controller"
)

// createAssigned creates a topic whose partitions have the given replicas.
func createAssigned(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, configs map[string]string, assignment ...[]int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for p, replicas := range assignment {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(p), replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, ptr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// waitFullISR waits until every partition of topic has all replicas in sync.
func waitFullISR(t *testing.T, c *arustest.Cluster, topic string) {
	t.Helper()
	arustest.Eventually(t, 20*time.Second, topic+": every replica in sync", func() bool {
		tp := c.Controller.Image().Topics[topic]
		if tp == nil {
			return false
		}
		for _, p := range tp.Partitions {
			if len(p.ISR) != len(p.Replicas) {
				return false
			}
		}
		return true
	})
}

func TestClusterAdminAPIs(t *testing.T) {
	c := arustest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := newFranz(t, c.Addrs()[0])
	adm := kadm.NewClient(cl)
	sadm := newSaramaAdmin(t, c.Addrs()[1])

	t.Run("DescribeCluster", func(t *testing.T) {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeClusterAuthorizedOperations = true
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ErrorCode != 0 || resp.ClusterID != c.Controller.Image().ClusterID || resp.ClusterAuthorizedOperations != clusterOperationsAll {
			t.Fatalf("response %+v", resp)
		}
		var ids []int32
		for _, b := range resp.Brokers {
			ids = append(ids, b.NodeID)
			if b.Host == "" || b.Port == 0 || b.IsFenced {
				t.Fatalf("broker %+v", b)
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []int32{1, 2, 3}) || !slices.Contains(ids, resp.ControllerID) {
			t.Fatalf("brokers %v, controller %d", ids, resp.ControllerID)
		}
		req.EndpointType = 2
		if resp, err = req.RequestWith(ctx, cl); err != nil || resp.ErrorCode != kerr.UnsupportedEndpointType.Code {
			t.Fatalf("controllers endpoint: %v %v", err, resp)
		}
		brokers, _, err := sadm.DescribeCluster()
		if err != nil || len(brokers) != 3 {
			t.Fatalf("sarama DescribeCluster: %d brokers, %v", len(brokers), err)
		}
	})

	t.Run("CreatePartitions", func(t *testing.T) {
		if _, err := adm.CreateTopic(ctx, 1, 2, nil, "grow"); err != nil {
			t.Fatal(err)
		}
		if rs, err := adm.ValidateCreatePartitions(ctx, 2, "grow"); err != nil || rs["grow"].Err != nil {
			t.Fatalf("validate: %v %+v", err, rs)
		}
		if n := len(c.Controller.Image().Topics["grow"].Partitions); n != 1 {
			t.Fatalf("validate only created partitions: %d", n)
		}
		if rs, _ := adm.UpdatePartitions(ctx, 1, "grow"); !errors.Is(rs["grow"].Err, kerr.InvalidPartitions) {
			t.Fatalf("same count: %+v", rs["grow"])
		}
		if rs, err := adm.CreatePartitions(ctx, 2, "grow"); err != nil || rs["grow"].Err != nil {
			t.Fatalf("create partitions: %v %+v", err, rs)
		}
		waitFullISR(t, c, "grow")
		for _, p := range c.Controller.Image().Topics["grow"].Partitions {
			if len(p.Replicas) != 2 {
				t.Fatalf("partition %d has replicas %v, want 2 like the topic", p.Index, p.Replicas)
			}
		}
		// sarama: explicit assignment, which must match the replication factor.
		if err := sadm.CreatePartitions("grow", 4, [][]int32{{3}}, false); !errors.Is(err, sarama.ErrInvalidReplicaAssignment) {
			t.Fatalf("sarama wrong replica count: %v", err)
		}
		if err := sadm.CreatePartitions("grow", 4, [][]int32{{3, 1}}, false); err != nil {
			t.Fatalf("sarama create partitions: %v", err)
		}
		waitFullISR(t, c, "grow")
		if p := c.Controller.Image().Topics["grow"].Partitions[3]; !slices.Equal(p.Replicas, []int32{3, 1}) || p.Leader != 3 {
			t.Fatalf("assigned partition %+v", p)
		}

		// Produce to and consume from a new partition.
		pcl := newFranz(t, c.Addrs()[0], kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
		for i := 0; i < 10; i++ {
			r := &kgo.Record{Topic: "grow", Partition: 2, Value: []byte(fmt.Sprintf("v%d", i))}
			if err := pcl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce to new partition: %v", err)
			}
		}
		got := consumeFranz(t, ctx, c.Addrs()[2], "grow", 2, 0, 10)
		checkValues(t, got, 0, numberedValues("v", 10))
	})

	t.Run("OffsetForLeaderEpoch", func(t *testing.T) {
		var req kadm.OffsetForLeaderEpochRequest
		req.Add("grow", 2, 0)
		res, err := adm.OffsetForLeaderEpoch(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		r := res["grow"][2]
		if r.Err != nil || r.LeaderEpoch != 0 || r.EndOffset != 10 {
			t.Fatalf("epoch 0 of grow-2: %+v, want epoch 0 ending at 10", r)
		}
		p := c.Controller.Image().Topics["grow"].Partitions[2]
		raw := func(broker int32, current int32) int16 {
			req := kmsg.NewPtrOffsetForLeaderEpochRequest()
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = "grow"
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition, rp.LeaderEpoch, rp.CurrentLeaderEpoch = 2, 0, current
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl.Broker(int(broker)))
			if err != nil {
				t.Fatal(err)
			}
			return resp.Topics[0].Partitions[0].ErrorCode
		}
		if code := raw(p.Leader, p.LeaderEpoch+1); code != kerr.UnknownLeaderEpoch.Code {
			t.Fatalf("newer current epoch: %v", kerr.ErrorForCode(code))
		}
		follower := p.Replicas[0]
		if follower == p.Leader {
			follower = p.Replicas[1]
		}
		if code := raw(follower, p.LeaderEpoch); code != kerr.NotLeaderForPartition.Code {
			t.Fatalf("asking follower %d: %v", follower, kerr.ErrorForCode(code))
		}
	})

	t.Run("AlterConfigs", func(t *testing.T) {
		rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
			{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("12345")},
			{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("compact")},
		}, "grow")
		if err != nil || rs[0].Err != nil {
			t.Fatalf("incremental alter: %v %+v", err, rs)
		}
		described := func() map[string]kadm.Config {
			t.Helper()
			rcs, err := adm.DescribeTopicConfigs(ctx, "grow")
			if err != nil || rcs[0].Err != nil {
				t.Fatalf("describe configs: %v %+v", err, rcs)
			}
			out := map[string]kadm.Config{}
			for _, c := range rcs[0].Configs {
				out[c.Key] = c
			}
			return out
		}
		got := described()
		if v := got["retention.ms"]; v.MaybeValue() != "12345" || v.Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Fatalf("retention.ms %+v", v)
		}
		if v := got["cleanup.policy"]; v.MaybeValue() != "delete,compact" {
			t.Fatalf("cleanup.policy %q", v.MaybeValue())
		}
		// Invalid values are refused and change nothing.
		rs, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("soon")}}, "grow")
		if !errors.Is(rs[0].Err, kerr.InvalidConfig) {
			t.Fatalf("bad value: %+v", rs[0])
		}
		// Broker configs that cannot change at runtime get Kafka's answer
		// (DynamicBrokerConfig.validateConfigs via ConfigAdminManager:
		// INVALID_REQUEST); see config_test.go for the dynamic ones.
		rs, _ = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "num.partitions", Value: ptr("3")}}, 1)
		if !errors.Is(rs[0].Err, kerr.InvalidRequest) || rs[0].ErrMessage != "Cannot update these configs dynamically: Set(num.partitions)" {
			t.Fatalf("broker config: %+v", rs[0])
		}
		// sarama's IncrementalAlterConfig deletes.
		if err := sadm.IncrementalAlterConfig(sarama.TopicResource, "grow", map[string]sarama.IncrementalAlterConfigsEntry{
			"cleanup.policy": {Operation: sarama.IncrementalAlterConfigsOperationDelete},
		}, false); err != nil {
			t.Fatalf("sarama incremental alter: %v", err)
		}
		if v := described()["cleanup.policy"]; v.MaybeValue() != "delete" || v.Source == kmsg.ConfigSourceDynamicTopicConfig {
			t.Fatalf("cleanup.policy after delete %+v", v)
		}
		// AlterConfigs replaces every override.
		rs, err = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "segment.ms", Value: ptr("600000")}}, "grow")
		if err != nil || rs[0].Err != nil {
			t.Fatalf("alter configs: %v %+v", err, rs)
		}
		if got := c.Controller.Image().TopicConfigs["grow"]; len(got) != 1 || got["segment.ms"] != "600000" {
			t.Fatalf("overrides after AlterConfigs: %v", got)
		}
	})

	t.Run("ListPartitionReassignmentsEmpty", func(t *testing.T) {
		ls, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"grow": {0: {}, 1: {}}})
		if err != nil || len(ls) != 0 {
			t.Fatalf("list: %v %+v", err, ls)
		}
		if _, err := sadm.ListPartitionReassignments("grow", []int32{0}); err != nil {
			t.Fatalf("sarama list: %v", err)
		}
	})
}

func TestElectLeadersRestoresPreferredLeader(t *testing.T) {
	c := arustest.StartCluster(t, 3)
	// No automatic rebalancing: leadership comes back only on request.
	c.Controller.SetClusterConfig(controller.ClusterConfig{SessionTimeout: c.Timing.SessionTimeout})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := newFranz(t, c.Addrs()[0])
	adm := kadm.NewClient(cl)
	createAssigned(t, ctx, cl, "elect", nil, []int32{1, 2, 3}, []int32{2, 3, 1})
	waitFullISR(t, c, "elect")

	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"elect": {0: {}, 1: {}}})
	if err != nil || !errors.Is(res["elect"][0].Err, kerr.ElectionNotNeeded) || !errors.Is(res["elect"][1].Err, kerr.ElectionNotNeeded) {
		t.Fatalf("healthy cluster: %v %+v", err, res)
	}

	c.Crash(1)
	arustest.Eventually(t, 15*time.Second, "elect-0 gets a new leader", func() bool {
		l, _ := c.Leader("elect", 0)
		return l != 1 && l >= 0
	})
	// The preferred replica is down: not available.
	res, err = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"elect": {0: {}}})
	if err != nil || !errors.Is(res["elect"][0].Err, kerr.PreferredLeaderNotAvailable) {
		t.Fatalf("preferred replica down: %v %+v", err, res)
	}
	// DescribeCluster v2 reports it fenced when asked to include fenced brokers.
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeFencedBrokers = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	fenced := map[int32]bool{}
	for _, b := range resp.Brokers {
		fenced[b.NodeID] = b.IsFenced
	}
	if len(fenced) != 3 || !fenced[1] || fenced[2] || fenced[3] {
		t.Fatalf("fenced brokers %v", fenced)
	}

	c.Start(1)
	arustest.Eventually(t, 30*time.Second, "broker 1 back in the ISR of elect-0", func() bool {
		return slices.Contains(c.Controller.Image().Topics["elect"].Partitions[0].ISR, 1)
	})
	if l, _ := c.Leader("elect", 0); l == 1 {
		t.Fatal("leadership moved back without a request")
	}
	res, err = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"elect": {0: {}}})
	if err != nil || res["elect"][0].Err != nil {
		t.Fatalf("preferred election: %v %+v", err, res)
	}
	if l, _ := c.Leader("elect", 0); l != 1 {
		t.Fatalf("leader %d after preferred election, want 1", l)
	}

	// sarama: nothing left to do, and unclean elections are not needed on
	// partitions that have a live leader.
	sadm := newSaramaAdmin(t, c.Addrs()[1])
	sres, err := sadm.ElectLeaders(sarama.PreferredElection, map[string][]int32{"elect": {0, 1}})
	if err != nil || sres["elect"][0].ErrorCode != sarama.ErrElectionNotNeeded || sres["elect"][1].ErrorCode != sarama.ErrElectionNotNeeded {
		t.Fatalf("sarama preferred: %v %+v", err, sres)
	}
	res, err = adm.ElectLeaders(ctx, kadm.ElectLiveReplica, kadm.TopicsSet{"elect": {1: {}}})
	if err != nil || !errors.Is(res["elect"][1].Err, kerr.ElectionNotNeeded) {
		t.Fatalf("unclean on a led partition: %v %+v", err, res)
	}
}

// TestReassignPartitionUnderLoad moves a partition off its leader to a
// broker that did not have it while a producer (acks=all) and a consumer
// keep running: every acknowledged record stays readable and the removed
// replica's data is deleted.
func TestReassignPartitionUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to []int32
		minISR   string
	}{
		{"rf1", []int32{1}, []int32{3}, "1"},
		{"rf2", []int32{1, 2}, []int32{3, 2}, "2"},
	} {
		t.Run(tc.name, func(t *testing.T) { reassignUnderLoad(t, tc.from, tc.to, tc.minISR) })
	}
}

func reassignUnderLoad(t *testing.T, from, to []int32, minISR string) {
	c := arustest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A short metadata age lets the clients follow the leader move at once
	// (franz-go refreshes at most every 5 s by default).
	cl := newFranz(t, c.Addrs()[0], kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(30*time.Second),
		kgo.MetadataMinAge(50*time.Millisecond))
	adm := kadm.NewClient(cl)
	createAssigned(t, ctx, cl, "move", map[string]string{"min.insync.replicas": minISR}, from)
	waitFullISR(t, c, "move")

	// Producer: values in order, at most 32 in flight.
	var (
		mu      sync.Mutex
		acks    []acked
		prodErr error
	)
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acks)
	}
	stopProducing := make(chan struct{})
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		var wg sync.WaitGroup
		defer wg.Wait()
		sem := make(chan struct{}, 32)
		for i := 0; ; i++ {
			select {
			case <-stopProducing:
				return
			case <-ctx.Done():
				return
			case sem <- struct{}{}:
			}
			wg.Add(1)
			cl.Produce(ctx, &kgo.Record{Topic: "move", Value: []byte(fmt.Sprintf("m-%06d", i))}, func(r *kgo.Record, err error) {
				defer wg.Done()
				defer func() { <-sem }()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if prodErr == nil {
						prodErr = err
					}
					return
				}
				acks = append(acks, acked{r.Partition, r.Offset, string(r.Value)})
			})
		}
	}()
	// Consumer: reads along from the start.
	consumed := map[int64]string{}
	var consumedMu sync.Mutex
	ccl := newFranz(t, c.Addrs()[1], kgo.ConsumeTopics("move"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(50*time.Millisecond))
	consumerCtx, stopConsumer := context.WithCancel(ctx)
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		for consumerCtx.Err() == nil {
			fs := ccl.PollFetches(consumerCtx)
			consumedMu.Lock()
			fs.EachRecord(func(r *kgo.Record) { consumed[r.Offset] = string(r.Value) })
			consumedMu.Unlock()
		}
	}()
	defer func() {
		stopConsumer()
		<-consumerDone
	}()

	arustest.Eventually(t, 20*time.Second, "200 records acknowledged before the move", func() bool { return ackedCount() >= 200 })

	// Move the partition off broker 1, its leader.
	rs, err := adm.AlterPartitionAssignments(ctx, kadm.AlterPartitionAssignmentsReq{"move": {0: to}})
	if err != nil || rs.Error() != nil {
		t.Fatalf("alter partition assignments: %v %v", err, rs.Error())
	}
	start := time.Now()
	arustest.Eventually(t, 30*time.Second, "reassignment completes", func() bool {
		ls, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"move": {0: {}}})
		p := c.Controller.Image().Topics["move"].Partitions[0]
		return err == nil && len(ls) == 0 && slices.Equal(p.Replicas, to) && !p.Reassigning()
	})
	p := c.Controller.Image().Topics["move"].Partitions[0]
	t.Logf("reassignment done after %v with %d records acknowledged: leader %d, ISR %v",
		time.Since(start).Round(time.Millisecond), ackedCount(), p.Leader, p.ISR)
	if p.Leader == 1 || !slices.Contains(p.ISR, 3) {
		t.Fatalf("after the move: %+v", p)
	}
	// Clients keep going on the new replicas.
	target := ackedCount() + 200
	arustest.Eventually(t, 30*time.Second, "200 more records acknowledged after the move", func() bool { return ackedCount() >= target })
	close(stopProducing)
	<-producerDone
	mu.Lock()
	all := slices.Clone(acks)
	if prodErr != nil {
		t.Logf("some records were not acknowledged: %v", prodErr)
	}
	mu.Unlock()

	var missing string
	arustest.EventuallyExplained(t, 30*time.Second, func() string { return "the running consumer read every acknowledged record: " + missing }, func() bool {
		consumedMu.Lock()
		defer consumedMu.Unlock()
		for _, a := range all {
			if consumed[a.offset] != a.value {
				missing = fmt.Sprintf("offset %d: acknowledged %q, read %q (%d of %d acknowledged records read)", a.offset, a.value, consumed[a.offset], len(consumed), len(all))
				return false
			}
		}
		return true
	})
	checkAllPresent(t, ctx, c.Addrs(), "move", all)

	// The removed replica's data is gone; the new one holds the log.
	dir := filepath.Join(c.Broker(1).Config.DataDir, "move-0")
	arustest.Eventually(t, 10*time.Second, "broker 1 deleted "+dir, func() bool {
		_, err := os.Stat(dir)
		return errors.Is(err, os.ErrNotExist)
	})
	maxOffset := int64(-1)
	for _, a := range all {
		maxOffset = max(maxOffset, a.offset)
	}
	if part := c.Broker(3).Partition("move", 0); part == nil || part.LogEndOffset() <= maxOffset {
		t.Fatalf("broker 3 does not hold the log up to offset %d", maxOffset)
	}
}

// clusterOperationsAll is what DescribeCluster reports as the cluster's
// authorized operations without an authorizer: every operation ACLs may
// name on the cluster (Kafka's AuthHelper.authorizedOperations), as bits
// 1<<code: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
// ALTER_CONFIGS, IDEMPOTENT_WRITE.
const clusterOperationsAll = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12
