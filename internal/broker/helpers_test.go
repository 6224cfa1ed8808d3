package broker_test

// Shared helpers for the real-client tests (franz_test.go, sarama_test.go,
// kafkago_test.go): Kafka's murmur2 partitioning, topic creation, and
// consumers for each client that read a partition from an offset into a
// slice, bounded by a context deadline.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testTimeout bounds every single test; the whole package must finish in
// about a minute on two cores under -race.
const testTimeout = 20 * time.Second

// testContext returns a context that ends after testTimeout or when the
// test ends.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// murmur2 is Kafka's Utils.murmur2 (the Java client's default partitioner
// hash), written out here so the tests do not trust any client's copy.
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	for i := 0; i+4 <= length; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[length&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// kafkaPartition is the partition Kafka's default partitioner picks for a
// non-nil key: toPositive(murmur2(key)) % numPartitions.
func kafkaPartition(key []byte, numPartitions int32) int32 {
	return (murmur2(key) & 0x7fffffff) % numPartitions
}

func TestMurmur2MatchesKafka(t *testing.T) {
	// Vectors from Kafka's UtilsTest.testMurmur2.
	for _, tc := range []struct {
		in   string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := murmur2([]byte(tc.in)); got != tc.want {
				t.Fatalf("murmur2(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

// rec is a consumed record, the same shape for every client.
type rec struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Time      time.Time
}

func (r rec) String() string {
	return fmt.Sprintf("p%d@%d %q=%q", r.Partition, r.Offset, r.Key, r.Value)
}

// newFranz returns a franz-go client for the broker, closed at test end.
func newFranz(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatalf("new franz-go client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic with franz-go's admin client and fails the
// test on any error.
func createTopic(t testing.TB, ctx context.Context, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, configs, topic)
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if resp.Err != nil {
		t.Fatalf("create topic %s: %v (%s)", topic, resp.Err, resp.ErrMessage)
	}
}

// endOffsets returns the high watermark of every partition of topic.
func endOffsets(t testing.TB, ctx context.Context, addr, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Errorf("end offset of %s[%d]: %v", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out
}

// consumeAllFranz reads every partition of topic from offset 0 until it
// has want records, with franz-go's direct (group-less) consumer.
func consumeAllFranz(t testing.TB, ctx context.Context, addr, topic string, want int) []rec {
	t.Helper()
	cl := newFranz(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	return pollFranz(t, ctx, cl, want)
}

// consumeFranz reads one partition from offset until it has n records.
func consumeFranz(t testing.TB, ctx context.Context, addr, topic string, partition int32, offset int64, n int) []rec {
	t.Helper()
	cl := newFranz(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {partition: kgo.NewOffset().At(offset)},
	}))
	return pollFranz(t, ctx, cl, n)
}

func pollFranz(t testing.TB, ctx context.Context, cl *kgo.Client, want int) []rec {
	t.Helper()
	var out []rec
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("franz-go: got %d of %d records before the deadline: %v", len(out), want, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("franz-go fetch %s[%d]: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, rec{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value), Time: r.Timestamp})
		})
	}
	cl.Close()
	return out
}

// saramaConfig is the base sarama config for these tests.
func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "arus-sarama-test"
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 50 * time.Millisecond // Close waits for the fetch in flight
	cfg.Metadata.Retry.Backoff = 10 * time.Millisecond
	cfg.Producer.Retry.Backoff = 10 * time.Millisecond
	return cfg
}

// consumeSarama reads one partition from offset until it has n records.
func consumeSarama(t testing.TB, ctx context.Context, addr, topic string, partition int32, offset int64, n int) []rec {
	t.Helper()
	return consumeSaramaWith(t, ctx, saramaConfig(), addr, topic, partition, offset, n)
}

// consumeSaramaWith is consumeSarama with a given config (protocol version).
func consumeSaramaWith(t testing.TB, ctx context.Context, cfg *sarama.Config, addr, topic string, partition int32, offset int64, n int) []rec {
	t.Helper()
	consumer, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, partition, offset)
	if err != nil {
		t.Fatalf("sarama consume %s[%d]@%d: %v", topic, partition, offset, err)
	}
	defer pc.Close()
	var out []rec
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, rec{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Time: m.Timestamp})
		case err := <-pc.Errors():
			t.Fatalf("sarama consume %s[%d]: %v", topic, partition, err)
		case <-ctx.Done():
			t.Fatalf("sarama: got %d of %d records before the deadline", len(out), n)
		}
	}
	return out
}

// consumeKafkaGo reads one partition from offset until it has n records.
func consumeKafkaGo(t testing.TB, ctx context.Context, addr, topic string, partition int32, offset int64, n int) []rec {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   []string{addr},
		Topic:     topic,
		Partition: int(partition),
		MinBytes:  1,
		MaxBytes:  10 << 20,
		MaxWait:   50 * time.Millisecond, // Close waits for the fetch in flight
	})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		t.Fatalf("kafka-go set offset: %v", err)
	}
	var out []rec
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go: got %d of %d records from %s[%d]: %v", len(out), n, topic, partition, err)
		}
		out = append(out, rec{Partition: int32(m.Partition), Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Time: m.Time})
	}
	return out
}

// consumers lists a partition reader per client, so data written by one
// client is checked with all three.
var consumers = []struct {
	name    string
	consume func(t testing.TB, ctx context.Context, addr, topic string, partition int32, offset int64, n int) []rec
}{
	{"franz-go", consumeFranz},
	{"sarama", consumeSarama},
	{"kafka-go", consumeKafkaGo},
}

// checkValues fails unless got has exactly the values want, in order, at
// offsets first, first+1, ...
func checkValues(t testing.TB, got []rec, first int64, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.Offset != first+int64(i) || r.Value != want[i] {
			t.Fatalf("record %d: got offset %d value %q, want offset %d value %q", i, r.Offset, r.Value, first+int64(i), want[i])
		}
	}
}

// checkKeyedPlacement checks the outcome of producing perKey records for
// each of keys (values "<key>#<seq>") to a topic of n partitions: every
// record is there once, each key sits in one partition (the murmur2 one
// when checkMurmur), and each key's records are in produce order.
func checkKeyedPlacement(t testing.TB, got []rec, keys []string, perKey int, n int32, checkMurmur bool) {
	t.Helper()
	if len(got) != len(keys)*perKey {
		t.Fatalf("consumed %d records, want %d", len(got), len(keys)*perKey)
	}
	byPartition := map[int32][]rec{}
	for _, r := range got {
		byPartition[r.Partition] = append(byPartition[r.Partition], r)
	}
	keyPartition := map[string]int32{}
	next := map[string]int{}
	for p, rs := range byPartition {
		for i, r := range rs {
			if i > 0 && r.Offset <= rs[i-1].Offset {
				t.Fatalf("partition %d: offsets not increasing: %v then %v", p, rs[i-1], r)
			}
			if kp, ok := keyPartition[r.Key]; ok && kp != p {
				t.Fatalf("key %q is in partitions %d and %d", r.Key, kp, p)
			}
			keyPartition[r.Key] = p
			if want := fmt.Sprintf("%s#%d", r.Key, next[r.Key]); r.Value != want {
				t.Fatalf("partition %d offset %d: value %q, want %q (per-key order broken)", p, r.Offset, r.Value, want)
			}
			next[r.Key]++
		}
	}
	for _, k := range keys {
		if next[k] != perKey {
			t.Fatalf("key %q: %d records, want %d", k, next[k], perKey)
		}
		if want := kafkaPartition([]byte(k), n); checkMurmur && keyPartition[k] != want {
			t.Errorf("key %q in partition %d, Kafka's murmur2 partitioner picks %d", k, keyPartition[k], want)
		}
	}
}

// checkSpread fails unless every one of n partitions got records.
func checkSpread(t testing.TB, got []rec, total int, n int32) {
	t.Helper()
	if len(got) != total {
		t.Fatalf("consumed %d records, want %d", len(got), total)
	}
	count := map[int32]int{}
	seen := map[string]bool{}
	for _, r := range got {
		count[r.Partition]++
		if seen[r.Value] {
			t.Fatalf("value %q consumed twice", r.Value)
		}
		seen[r.Value] = true
	}
	for p := int32(0); p < n; p++ {
		if count[p] == 0 {
			t.Errorf("partition %d got no records (counts %v)", p, count)
		}
	}
}

// keyedTestKeys are the 10 keys of the keyed-placement tests.
func keyedTestKeys() []string {
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	return keys
}

// numberedValues returns prefix0 ... prefix<n-1>.
func numberedValues(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// errCode returns the Kafka error of a code, for messages.
func errCode(code int16) error {
	if code == 0 {
		return nil
	}
	return kerr.ErrorForCode(code)
}

// rawFetch issues one Fetch for a single partition through cl.
func rawFetch(t testing.TB, ctx context.Context, cl *kgo.Client, topic string, partition int32, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = partition
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if v := topicID(t, ctx, cl, topic); v != [16]byte{} {
		req.Topics[0].TopicID = v
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("fetch %s[%d]@%d: %v", topic, partition, offset, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch %s[%d]@%d: response has %d topics, want 1 with 1 partition", topic, partition, offset, len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0]
}

// topicID returns the topic's id from Metadata (needed for Fetch v13+).
func topicID(t testing.TB, ctx context.Context, cl *kgo.Client, topic string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("metadata %s: %v", topic, err)
	}
	for _, mt := range resp.Topics {
		if mt.Topic != nil && *mt.Topic == topic {
			return mt.TopicID
		}
	}
	return [16]byte{}
}

// asKafkaGoError finds a kafka-go protocol error in err, looking inside
// kafka.WriteErrors.
func asKafkaGoError(err error) (kafka.Error, bool) {
	var ke kafka.Error
	if errors.As(err, &ke) {
		return ke, true
	}
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil && errors.As(e, &ke) {
				return ke, true
			}
		}
	}
	return 0, false
}
