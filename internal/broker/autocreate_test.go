package broker_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

// autoCreateTopics is how many not-yet-existing topics each client writes
// to through each broker.
const autoCreateTopics = 20

// TestAutoCreateThroughEveryBroker: with auto.create.topics.enable, franz-go
// and sarama producers, each knowing only one broker, write to 20 topics
// that do not exist yet, through each broker of a three-node quorum in
// turn (two of which are not the active controller and forward the create,
// as Kafka's AutoTopicCreationManager does). default.replication.factor is
// 3, so every create needs the whole cluster. Every record is acknowledged
// (acks=all) and read back.
func TestAutoCreateThroughEveryBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node quorum test")
	}
	c := arustest.StartQuorumCluster(t, 3, arustest.WithDefaultReplicationFactor(3))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	produceToNewTopicsEverywhere(t, ctx, c.ListenerAddrs(), "every")
}

// TestAutoCreateRightAfterStart is the same while the cluster is still
// starting: clients begin before the quorum has a leader and before every
// broker has registered. Until three brokers are live a topic cannot be
// placed with three replicas; that must be a retriable answer
// (LEADER_NOT_AVAILABLE), never a failed create, so every record still
// arrives.
func TestAutoCreateRightAfterStart(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node quorum test")
	}
	c := arustest.StartQuorumClusterNoWait(t, 3, arustest.WithDefaultReplicationFactor(3))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	produceToNewTopicsEverywhere(t, ctx, c.ListenerAddrs(), "early")
}

// produceToNewTopicsEverywhere runs, for each broker in turn, a franz-go
// and a sarama producer seeded with that broker only, each writing 3
// records to each of 20 new topics, then reads every topic back.
func produceToNewTopicsEverywhere(t *testing.T, ctx context.Context, addrs []string, prefix string) {
	t.Helper()
	want := map[string][]string{} // topic -> values in order
	for i, addr := range addrs {
		var franzTopics, saramaTopics []string
		for k := 0; k < autoCreateTopics; k++ {
			franzTopics = append(franzTopics, fmt.Sprintf("%s-franz-b%d-%d", prefix, i+1, k))
			saramaTopics = append(saramaTopics, fmt.Sprintf("%s-sarama-b%d-%d", prefix, i+1, k))
		}
		start := time.Now()
		for topic, values := range produceFranzNewTopics(t, ctx, addr, franzTopics) {
			want[topic] = values
		}
		franzTook := time.Since(start)
		start = time.Now()
		for topic, values := range produceSaramaNewTopics(t, addr, saramaTopics) {
			want[topic] = values
		}
		t.Logf("through broker %d: franz-go %v, sarama %v for %d new topics each", i+1, franzTook, time.Since(start), autoCreateTopics)
	}
	got := consumeTopicsFranz(t, ctx, addrs, want)
	for topic, values := range want {
		if fmt.Sprint(got[topic]) != fmt.Sprint(values) {
			t.Errorf("%s: read back %q, want %q", topic, got[topic], values)
		}
	}
}

func produceFranzNewTopics(t *testing.T, ctx context.Context, addr string, topics []string) map[string][]string {
	t.Helper()
	cl := newFranz(t, addr, kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(2*time.Minute))
	want := map[string][]string{}
	var recs []*kgo.Record
	for _, topic := range topics {
		for j := 0; j < 3; j++ {
			v := fmt.Sprintf("%s-%d", topic, j)
			want[topic] = append(want[topic], v)
			recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(v)})
		}
	}
	// One record per topic at a time keeps each topic's order.
	for j := 0; j < 3; j++ {
		var round []*kgo.Record
		for k := j; k < len(recs); k += 3 {
			round = append(round, recs[k])
		}
		if err := cl.ProduceSync(ctx, round...).FirstErr(); err != nil {
			t.Fatalf("franz-go through %s: %v", addr, err)
		}
	}
	cl.Close()
	return want
}

func produceSaramaNewTopics(t *testing.T, addr string, topics []string) map[string][]string {
	t.Helper()
	cfg := saramaConfig()
	cfg.Metadata.AllowAutoTopicCreation = true
	cfg.Metadata.Retry.Max = 1000
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	cfg.Producer.Retry.Max = 1000
	cfg.Producer.Retry.Backoff = 50 * time.Millisecond
	cfg.Producer.Idempotent = false
	var (
		p   sarama.SyncProducer
		err error
	)
	// While the cluster starts, the seed may not listen yet (sarama gives
	// up at once when no seed answers).
	arustest.Eventually(t, time.Minute, "sarama connects to "+addr, func() bool {
		p, err = sarama.NewSyncProducer([]string{addr}, cfg)
		return err == nil
	})
	defer p.Close()
	want := map[string][]string{}
	var msgs []*sarama.ProducerMessage
	for _, topic := range topics {
		for j := 0; j < 3; j++ {
			v := fmt.Sprintf("%s-%d", topic, j)
			want[topic] = append(want[topic], v)
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(v)})
		}
	}
	if err := p.SendMessages(msgs); err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			t.Fatalf("sarama through %s: %d errors, first: %v", addr, len(perrs), perrs[0].Err)
		}
		t.Fatalf("sarama through %s: %v", addr, err)
	}
	return want
}

// consumeTopicsFranz reads every topic of want from the start until it has
// as many records as want lists, and returns the values per topic.
func consumeTopicsFranz(t *testing.T, ctx context.Context, addrs []string, want map[string][]string) map[string][]string {
	t.Helper()
	var topics []string
	total := 0
	for topic, values := range want {
		topics = append(topics, topic)
		total += len(values)
	}
	sort.Strings(topics)
	cl := newFranz(t, addrs[0], kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string][]string{}
	n := 0
	for n < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read back %d of %d records: %v", n, total, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s[%d]: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Topic] = append(got[r.Topic], string(r.Value))
			n++
		})
	}
	cl.Close()
	return got
}

// TestCreateTopicsVisibleEverywhere: once CreateTopics returns through any
// node (the active controller or one that forwards), that node's own
// Metadata shows every partition with its leader at once, and every other
// node within a short bound; the test logs how long that took (voters
// learn commits with the next Raft message, broker-only nodes poll every
// 200 ms and fetch at once when they forwarded the create themselves).
func TestCreateTopicsVisibleEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node quorum test")
	}
	c := arustest.StartQuorumClusterWithBrokers(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	arustest.Eventually(t, 30*time.Second, "every node sees 4 brokers", func() bool {
		for id := int32(1); id <= 4; id++ {
			if len(c.Broker(id).Controller().Image().Brokers) != 4 {
				return false
			}
		}
		return true
	})
	var nodes []*kgo.Broker
	for id := int32(1); id <= 4; id++ {
		nodes = append(nodes, newFranz(t, c.Broker(id).Addr()).Broker(int(id)))
	}
	shows := func(node *kgo.Broker, topic string) bool {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = &topic
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, node)
		if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 3 {
			return false
		}
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != 0 || p.Leader < 1 {
				return false
			}
		}
		return true
	}
	var worst time.Duration
	for i := 0; i < 8; i++ {
		via := i % 4
		topic := fmt.Sprintf("visible-%d", i)
		// Sent to that node itself (kadm would send it to the controller).
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 30_000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 3, 3
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, nodes[via])
		if err == nil {
			err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
		}
		if err != nil {
			t.Fatalf("create %s through node %d: %v", topic, via+1, err)
		}
		created := time.Now()
		if !shows(nodes[via], topic) {
			t.Fatalf("%s: node %d answered CreateTopics but its Metadata does not show the partitions with leaders", topic, via+1)
		}
		for j, node := range nodes {
			arustest.Eventually(t, 10*time.Second, fmt.Sprintf("%s on node %d", topic, j+1), func() bool { return shows(node, topic) })
		}
		worst = max(worst, time.Since(created))
	}
	t.Logf("slowest node showed a created topic %v after CreateTopics returned", worst)
}

// TestAutoCreateMetadataThroughAnyNode asks only nodes that are not the
// active controller (two voters and a broker-only node) for topics that do
// not exist, with Metadata v1 (always auto-creates) and v12 with
// AllowAutoTopicCreation. Kafka's answer while the create runs is
// LEADER_NOT_AVAILABLE with no partitions (KafkaApis.handleTopicMetadataRequest
// via AutoTopicCreationManager, which forwards the CreateTopics to the
// active controller); it is never UNKNOWN_TOPIC_OR_PARTITION, and the same
// node soon answers with the partitions and their leaders.
func TestAutoCreateMetadataThroughAnyNode(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node quorum test")
	}
	c := arustest.StartQuorumClusterWithBrokers(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	arustest.Eventually(t, 30*time.Second, "every node sees 4 brokers", func() bool {
		for id := int32(1); id <= 4; id++ {
			if len(c.Broker(id).Controller().Image().Brokers) != 4 {
				return false
			}
		}
		return true
	})
	active := c.ActiveController()
	for id := int32(1); id <= 4; id++ {
		if id == active {
			continue
		}
		node := newFranz(t, c.Broker(id).Addr()).Broker(int(id))
		for _, version := range []int16{1, 12} {
			topic := fmt.Sprintf("via-%d-v%d", id, version)
			var answers []string
			arustest.Eventually(t, 30*time.Second, topic+" created through node "+fmt.Sprint(id), func() bool {
				req := kmsg.NewPtrMetadataRequest()
				req.SetVersion(version)
				req.AllowAutoTopicCreation = true
				rt := kmsg.NewMetadataRequestTopic()
				rt.Topic = &topic
				req.Topics = append(req.Topics, rt)
				resp, err := req.RequestWith(ctx, node)
				if err != nil {
					t.Fatalf("metadata from node %d: %v", id, err)
				}
				mt := resp.Topics[0]
				switch {
				case mt.ErrorCode == kerr.LeaderNotAvailable.Code && len(mt.Partitions) == 0:
					answers = append(answers, "LEADER_NOT_AVAILABLE")
					return false
				case mt.ErrorCode == 0 && len(mt.Partitions) == 1 && mt.Partitions[0].Leader > 0:
					return true
				}
				t.Fatalf("node %d, Metadata v%d for %s being created: %v with %d partitions (after %v)",
					id, version, topic, kerr.ErrorForCode(mt.ErrorCode), len(mt.Partitions), answers)
				return false
			})
			if len(answers) == 0 {
				t.Errorf("node %d, v%d: the first answer already had partitions; Kafka answers LEADER_NOT_AVAILABLE first", id, version)
			}
		}
	}
}
