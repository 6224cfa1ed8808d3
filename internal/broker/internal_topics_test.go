package broker_test

// Internal topics (__consumer_offsets, later __transaction_state) cannot be
// deleted, repartitioned, switched away from compaction or produced to by
// clients; the group coordinator keeps working after every refusal.

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

func TestInternalTopicsProtected(t *testing.T) {
	const offsetsPartitions = 5
	b := arustest.StartBroker(t, func(c *config.Broker) { c.Groups.OffsetsTopicPartitions = offsetsPartitions })
	ctx := testContext(t)
	cl := newFranz(t, b.Addr())
	adm := kadm.NewClient(cl)
	createTopic(t, ctx, b.Addr(), "data", 1, nil)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "data", Value: []byte("v0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A commit creates __consumer_offsets.
	commit := func(group string, offset int64) {
		t.Helper()
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: "data", Partition: 0, At: offset, LeaderEpoch: -1})
		resp, err := adm.CommitOffsets(ctx, group, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit %s: %v", group, err)
		}
	}
	committed := func(group string) int64 {
		t.Helper()
		resp, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatalf("fetch offsets of %s: %v", group, err)
		}
		o, ok := resp.Lookup("data", 0)
		if !ok || o.Err != nil {
			t.Fatalf("fetch offsets of %s: %+v", group, o)
		}
		return o.At
	}
	commit("g1", 1)

	// Metadata: IsInternal, as Kafka's KRaftMetadataCache sets it from Topic.isInternal.
	topics, err := adm.ListTopicsWithInternal(ctx, config.OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	td := topics[config.OffsetsTopic]
	if td.Err != nil || !td.IsInternal || len(td.Partitions) != offsetsPartitions {
		t.Fatalf("metadata of %s: err %v internal %v partitions %d", config.OffsetsTopic, td.Err, td.IsInternal, len(td.Partitions))
	}

	// DeleteTopics: Kafka's ControllerApis refuses the one prohibited
	// internal topic it knows (__cluster_metadata, in createTopics) with
	// INVALID_REQUEST; arus does the same for deleting internal topics.
	dr, err := adm.DeleteTopics(ctx, config.OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	if got := dr[config.OffsetsTopic].Err; !errors.Is(got, kerr.InvalidRequest) {
		t.Fatalf("delete %s: got %v, want INVALID_REQUEST", config.OffsetsTopic, got)
	}

	// CreatePartitions: INVALID_PARTITIONS (the code Kafka's
	// ReplicationControlManager.createPartitions uses for counts it refuses).
	cr, err := adm.UpdatePartitions(ctx, offsetsPartitions+1, config.OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	if got := cr[config.OffsetsTopic].Err; !errors.Is(got, kerr.InvalidPartitions) {
		t.Fatalf("add partitions to %s: got %v, want INVALID_PARTITIONS", config.OffsetsTopic, got)
	}

	// Configs: Kafka accepts any; arus refuses what would make retention
	// delete live groups' offsets (INVALID_CONFIG), and allows the rest.
	for _, policy := range []string{"delete", "compact,delete"} {
		ar, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: kadm.StringPtr(policy)}}, config.OffsetsTopic)
		if err != nil {
			t.Fatal(err)
		}
		if got := ar[0].Err; !errors.Is(got, kerr.InvalidConfig) {
			t.Fatalf("cleanup.policy=%s on %s: got %v, want INVALID_CONFIG", policy, config.OffsetsTopic, got)
		}
	}
	ar, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "cleanup.policy"}}, config.OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	if got := ar[0].Err; !errors.Is(got, kerr.InvalidConfig) {
		t.Fatalf("removing cleanup.policy of %s: got %v, want INVALID_CONFIG", config.OffsetsTopic, got)
	}
	// AlterConfigs replaces the whole set: without cleanup.policy=compact it is refused.
	sr, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("3600000")}}, config.OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	if got := sr[0].Err; !errors.Is(got, kerr.InvalidConfig) {
		t.Fatalf("AlterConfigs without cleanup.policy on %s: got %v, want INVALID_CONFIG", config.OffsetsTopic, got)
	}
	ar, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.ms", Value: kadm.StringPtr("3600000")}}, config.OffsetsTopic)
	if err != nil || ar[0].Err != nil {
		t.Fatalf("segment.ms on %s should be allowed: %v %v", config.OffsetsTopic, err, ar)
	}
	rc, err := adm.DescribeTopicConfigs(ctx, config.OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := rc.On(config.OffsetsTopic, nil); err != nil {
		t.Fatal(err)
	} else {
		for _, kv := range c.Configs {
			if kv.Key == "cleanup.policy" && kv.MaybeValue() != "compact" {
				t.Fatalf("cleanup.policy of %s is now %q", config.OffsetsTopic, kv.MaybeValue())
			}
		}
	}

	// Produce: Kafka's ReplicaManager.appendToLocalLog answers
	// INVALID_TOPIC_EXCEPTION, "Cannot append to internal topic".
	prod := newFranz(t, b.Addr(), kgo.RecordRetries(1))
	err = prod.ProduceSync(ctx, &kgo.Record{Topic: config.OffsetsTopic, Partition: 0, Value: []byte("garbage")}).FirstErr()
	if !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("produce to %s: got %v, want INVALID_TOPIC_EXCEPTION", config.OffsetsTopic, err)
	}

	// Groups keep working: the old commit is there, new ones land, and a
	// group consumer resumes from them.
	if got := committed("g1"); got != 1 {
		t.Fatalf("g1 committed offset %d after the refusals, want 1", got)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "data", Value: []byte("v1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	commit("g2", 0)
	cons := newFranz(t, b.Addr(), kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("data"))
	got := pollFranz(t, ctx, cons, 1)
	if len(got) != 1 || got[0].Value != "v1" {
		t.Fatalf("group g1 resumed with %v, want [v1] at offset 1", got)
	}
	if got := committed("g2"); got != 0 {
		t.Fatalf("g2 committed offset %d, want 0", got)
	}
}
