package broker_test

// segmentio/kafka-go against an in-process broker. kafka-go has no
// idempotent producer, so there is no idempotence test here.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

// newKafkaGoTransport returns a transport owned by the test, so pooled
// connections do not outlive it.
func newKafkaGoTransport(t testing.TB) *kafka.Transport {
	tr := &kafka.Transport{DialTimeout: 5 * time.Second, MetadataTTL: time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// newKafkaGoWriter returns a synchronous writer with a short batch timeout
// and acks=all, closed at test end.
func newKafkaGoWriter(t testing.TB, addr, topic string, balancer kafka.Balancer) *kafka.Writer {
	t.Helper()
	w := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		Balancer:     balancer,
		BatchTimeout: 5 * time.Millisecond,
		BatchSize:    100,
		RequiredAcks: kafka.RequireAll,
		MaxAttempts:  3,
		Transport:    newKafkaGoTransport(t),
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// consumeAllKafkaGo reads every partition of topic from 0 to its end.
func consumeAllKafkaGo(t testing.TB, ctx context.Context, addr, topic string) []rec {
	t.Helper()
	var out []rec
	for p, end := range endOffsets(t, ctx, addr, topic) {
		if end > 0 {
			out = append(out, consumeKafkaGo(t, ctx, addr, topic, p, 0, int(end))...)
		}
	}
	return out
}

func TestKafkaGoKeyedPartitioning(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const parts, perKey = 6, 60
	createTopic(t, ctx, b.Addr(), "keyed", parts, nil)
	w := newKafkaGoWriter(t, b.Addr(), "keyed", kafka.Murmur2Balancer{})
	keys := keyedTestKeys()
	var msgs []kafka.Message
	for i := 0; i < perKey; i++ {
		for _, k := range keys {
			msgs = append(msgs, kafka.Message{Key: []byte(k), Value: []byte(fmt.Sprintf("%s#%d", k, i))})
		}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := consumeAllKafkaGo(t, ctx, b.Addr(), "keyed")
	checkKeyedPlacement(t, got, keys, perKey, parts, true)
}

func TestKafkaGoUnkeyedSpread(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const parts, n = 6, 600
	createTopic(t, ctx, b.Addr(), "spread", parts, nil)
	w := newKafkaGoWriter(t, b.Addr(), "spread", &kafka.RoundRobin{})
	var msgs []kafka.Message
	for _, v := range numberedValues("v", n) {
		msgs = append(msgs, kafka.Message{Value: []byte(v)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := consumeAllKafkaGo(t, ctx, b.Addr(), "spread")
	checkSpread(t, got, n, parts)
}

func TestKafkaGoConsumePositions(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const n = 100
	createTopic(t, ctx, b.Addr(), "positions", 1, nil)
	w := newKafkaGoWriter(t, b.Addr(), "positions", &kafka.LeastBytes{})
	base := time.UnixMilli(1_700_000_000_000)
	values := numberedValues("v", n)
	for start := 0; start < n; start += 10 {
		var msgs []kafka.Message
		for i := start; i < start+10; i++ {
			msgs = append(msgs, kafka.Message{Value: []byte(values[i]), Time: base.Add(time.Duration(i) * time.Second)})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("write: %v", err)
		}
	}

	t.Run("from start", func(t *testing.T) {
		got := consumeKafkaGo(t, ctx, b.Addr(), "positions", 0, kafka.FirstOffset, n)
		checkValues(t, got, 0, values)
		for i, r := range got {
			if want := base.Add(time.Duration(i) * time.Second); !r.Time.Equal(want) {
				t.Fatalf("record %d timestamp %v, want %v", i, r.Time, want)
			}
		}
	})
	t.Run("from offset", func(t *testing.T) {
		got := consumeKafkaGo(t, ctx, b.Addr(), "positions", 0, 45, n-45)
		checkValues(t, got, 45, values[45:])
	})
	t.Run("from timestamp", func(t *testing.T) {
		conn, err := kafka.DialLeader(ctx, "tcp", b.Addr(), "positions", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			ts   time.Time
			want int64
		}{
			{base.Add(73 * time.Second), 73},
			{base.Add(73*time.Second + 500*time.Millisecond), 74},
			{base.Add(-time.Hour), 0},
			{base.Add(40 * time.Second), 40},
		} {
			off, err := conn.ReadOffset(tc.ts)
			if err != nil {
				t.Fatalf("ReadOffset(%v): %v", tc.ts.Sub(base), err)
			}
			if off != tc.want {
				t.Fatalf("ReadOffset(%v) = %d, want %d", tc.ts.Sub(base), off, tc.want)
			}
		}
		first, last, err := conn.ReadOffsets()
		if err != nil || first != 0 || last != n {
			t.Fatalf("ReadOffsets = %d, %d, %v; want 0, %d", first, last, err, n)
		}
		got := consumeKafkaGo(t, ctx, b.Addr(), "positions", 0, 73, n-73)
		checkValues(t, got, 73, values[73:])
	})
}

func TestKafkaGoCompression(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	for _, c := range []struct {
		name  string
		codec kafka.Compression
	}{
		{"gzip", kafka.Gzip},
		{"snappy", kafka.Snappy},
		{"lz4", kafka.Lz4},
		{"zstd", kafka.Zstd},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic := "kafkago-" + c.name
			createTopic(t, ctx, b.Addr(), topic, 1, nil)
			w := newKafkaGoWriter(t, b.Addr(), topic, &kafka.LeastBytes{})
			w.Compression = c.codec
			const n = 200
			values := make([]string, n)
			var msgs []kafka.Message
			for i := range values {
				values[i] = fmt.Sprintf("%s-%d-%s", c.name, i, strings.Repeat("compressible ", 8))
				msgs = append(msgs, kafka.Message{Value: []byte(values[i])})
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatalf("write %s: %v", c.name, err)
			}
			assertCompressed(t, ctx, newFranz(t, b.Addr()), topic, c.name)
			for _, cons := range consumers {
				t.Run(cons.name, func(t *testing.T) {
					checkValues(t, cons.consume(t, ctx, b.Addr(), topic, 0, 0, n), 0, values)
				})
			}
		})
	}
}

func TestKafkaGoProduceUnknownTopic(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithAutoCreate(false))
	ctx := testContext(t)
	w := newKafkaGoWriter(t, b.Addr(), "missing", &kafka.LeastBytes{})
	w.MaxAttempts = 1
	w.AllowAutoTopicCreation = false
	err := w.WriteMessages(ctx, kafka.Message{Value: []byte("x")})
	if ke, ok := asKafkaGoError(err); !ok || ke != kafka.UnknownTopicOrPartition {
		t.Fatalf("write to a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

func TestKafkaGoFetchOffsetOutOfRange(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "oor", 1, nil)
	w := newKafkaGoWriter(t, b.Addr(), "oor", &kafka.LeastBytes{})
	var msgs []kafka.Message
	for _, v := range numberedValues("v", 10) {
		msgs = append(msgs, kafka.Message{Value: []byte(v)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	conn, err := kafka.DialLeader(ctx, "tcp", b.Addr(), "oor", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// SeekDontCheck skips kafka-go's own ListOffsets check, so the Fetch
	// reaches the broker and its error comes back.
	if _, err := conn.Seek(1000, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
		t.Fatal(err)
	}
	batch := conn.ReadBatch(1, 1<<20)
	_, err = batch.ReadMessage()
	_ = batch.Close()
	if !errors.Is(err, kafka.OffsetOutOfRange) {
		t.Fatalf("fetch at offset 1000 of 10: %v, want OFFSET_OUT_OF_RANGE", err)
	}
	// kafka-go's own check (ListOffsets earliest and latest) agrees. A new
	// connection: kafka-go leaves the rest of a failed Fetch response
	// unread on the old one (read.go readFetchResponseHeaderV10).
	conn2, err := kafka.DialLeader(ctx, "tcp", b.Addr(), "oor", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if err := conn2.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn2.Seek(1000, kafka.SeekAbsolute); !errors.Is(err, kafka.OffsetOutOfRange) {
		t.Fatalf("seek to offset 1000 of 10: %v, want OFFSET_OUT_OF_RANGE", err)
	}
}

func TestKafkaGoCreateTopicErrors(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "exists", 1, nil)
	client := &kafka.Client{Addr: kafka.TCP(b.Addr()), Timeout: 10 * time.Second, Transport: newKafkaGoTransport(t)}
	for _, tc := range []struct {
		name string
		cfg  kafka.TopicConfig
		want kafka.Error
	}{
		{"slash", kafka.TopicConfig{Topic: "bad/name", NumPartitions: 1, ReplicationFactor: 1}, kafka.InvalidTopic},
		{"empty", kafka.TopicConfig{Topic: "", NumPartitions: 1, ReplicationFactor: 1}, kafka.InvalidTopic},
		{"dot", kafka.TopicConfig{Topic: ".", NumPartitions: 1, ReplicationFactor: 1}, kafka.InvalidTopic},
		{"too long", kafka.TopicConfig{Topic: strings.Repeat("a", 250), NumPartitions: 1, ReplicationFactor: 1}, kafka.InvalidTopic},
		{"bad config value", kafka.TopicConfig{Topic: "badcfg", NumPartitions: 1, ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "abc"}}}, kafka.InvalidConfiguration},
		{"unknown config", kafka.TopicConfig{Topic: "unknowncfg", NumPartitions: 1, ReplicationFactor: 1,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "unknown.config", ConfigValue: "1"}}}, kafka.InvalidConfiguration},
		{"duplicate", kafka.TopicConfig{Topic: "exists", NumPartitions: 1, ReplicationFactor: 1}, kafka.TopicAlreadyExists},
		{"zero partitions", kafka.TopicConfig{Topic: "zeroparts", NumPartitions: 0, ReplicationFactor: 1}, kafka.InvalidPartitionNumber},
		{"replication factor 3", kafka.TopicConfig{Topic: "rf3", NumPartitions: 1, ReplicationFactor: 3}, kafka.InvalidReplicationFactor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{tc.cfg}})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Errors[tc.cfg.Topic]; !errors.Is(got, tc.want) {
				t.Fatalf("create %q: %v, want %v", tc.cfg.Topic, got, tc.want)
			}
		})
	}
	t.Run("created", func(t *testing.T) {
		resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "good", NumPartitions: 4, ReplicationFactor: 1}}})
		if err != nil || resp.Errors["good"] != nil {
			t.Fatalf("create good: %v %v", err, resp.Errors["good"])
		}
		if got := len(endOffsets(t, ctx, b.Addr(), "good")); got != 4 {
			t.Fatalf("good has %d partitions, want 4", got)
		}
	})
}

func TestKafkaGoMessageTooLarge(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "small", 1, map[string]*string{"max.message.bytes": kmsg.StringPtr("1000")})
	w := newKafkaGoWriter(t, b.Addr(), "small", &kafka.LeastBytes{})
	w.MaxAttempts = 1
	err := w.WriteMessages(ctx, kafka.Message{Value: randomBytes(3, 5000)})
	if ke, ok := asKafkaGoError(err); !ok || ke != kafka.MessageSizeTooLarge {
		t.Fatalf("5000-byte record to a topic with max.message.bytes=1000: %v, want MESSAGE_TOO_LARGE", err)
	}
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("fits")}); err != nil {
		t.Fatalf("small record after the rejected one: %v", err)
	}
	checkValues(t, consumeKafkaGo(t, ctx, b.Addr(), "small", 0, 0, 1), 0, []string{"fits"})
}

func TestKafkaGoDescribeConfigs(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTopicDefault("retention.bytes", "1000000"))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "described", 1, map[string]*string{"retention.ms": kmsg.StringPtr("3600000")})
	client := &kafka.Client{Addr: kafka.TCP(b.Addr()), Timeout: 10 * time.Second, Transport: newKafkaGoTransport(t)}
	resp, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: "described"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Resources) != 1 || resp.Resources[0].Error != nil {
		t.Fatalf("describe configs: %+v", resp.Resources)
	}
	byName := map[string]kafka.DescribeConfigResponseConfigEntry{}
	for _, e := range resp.Resources[0].ConfigEntries {
		byName[e.ConfigName] = e
	}
	for _, tc := range []struct {
		name, value string
		source      kmsg.ConfigSource
	}{
		{"retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig},
		{"retention.bytes", "1000000", kmsg.ConfigSourceStaticBrokerConfig},
		{"segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig},
	} {
		e, ok := byName[tc.name]
		if !ok {
			t.Errorf("%s missing from DescribeConfigs", tc.name)
			continue
		}
		if e.ConfigValue != tc.value || e.ConfigSource != int8(tc.source) {
			t.Errorf("%s = %q (source %d), want %q (%v)", tc.name, e.ConfigValue, e.ConfigSource, tc.value, tc.source)
		}
	}
}

func TestKafkaGoRestart(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	dir := b.Config.DataDir
	const parts, perPart = 3, 50
	createTopic(t, ctx, b.Addr(), "durable", parts, nil)
	tr := newKafkaGoTransport(t)
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: "durable", Balancer: &kafka.RoundRobin{},
		BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll, Transport: tr}
	var msgs []kafka.Message
	for i := 0; i < parts*perPart; i++ {
		msgs = append(msgs, kafka.Message{Value: []byte(fmt.Sprintf("v%d", i))})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	before := endOffsets(t, ctx, b.Addr(), "durable")
	var want []rec
	for p := int32(0); p < parts; p++ {
		want = append(want, consumeKafkaGo(t, ctx, b.Addr(), "durable", p, 0, int(before[p]))...)
	}
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	b2 := arustest.StartBroker(t, arustest.WithDataDir(dir))
	var got []rec
	for p := int32(0); p < parts; p++ {
		got = append(got, consumeKafkaGo(t, ctx, b2.Addr(), "durable", p, 0, int(before[p]))...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records after restart, %d before", len(got), len(want))
	}
	for i := range got {
		if got[i].Partition != want[i].Partition || got[i].Offset != want[i].Offset || got[i].Value != want[i].Value {
			t.Fatalf("after restart %v, before %v", got[i], want[i])
		}
	}
	checkSpread(t, got, parts*perPart, parts)

	w2 := newKafkaGoWriter(t, b2.Addr(), "durable", &kafka.RoundRobin{})
	if err := w2.WriteMessages(ctx, kafka.Message{Value: []byte("a")}, kafka.Message{Value: []byte("b")}, kafka.Message{Value: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	after := endOffsets(t, ctx, b2.Addr(), "durable")
	for p := int32(0); p < parts; p++ {
		if after[p] != before[p]+1 {
			t.Errorf("partition %d: high watermark %d after one more record, want %d", p, after[p], before[p]+1)
		}
	}
}
