package broker_test

// IBM/sarama against an in-process broker.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

func newSaramaProducer(t testing.TB, addr string, cfg *sarama.Config) sarama.SyncProducer {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newSaramaAdmin(t testing.TB, addr string) sarama.ClusterAdmin {
	t.Helper()
	adm, err := sarama.NewClusterAdmin([]string{addr}, saramaConfig())
	if err != nil {
		t.Fatalf("sarama admin: %v", err)
	}
	t.Cleanup(func() { _ = adm.Close() })
	return adm
}

// sendSarama sends msgs in one SendMessages call and fails on any error.
func sendSarama(t testing.TB, p sarama.SyncProducer, msgs []*sarama.ProducerMessage) {
	t.Helper()
	if err := p.SendMessages(msgs); err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			t.Fatalf("sarama produce: %d errors, first: %v", len(perrs), perrs[0].Err)
		}
		t.Fatalf("sarama produce: %v", err)
	}
}

// consumeAllSarama reads every partition of topic from 0 to its end.
func consumeAllSarama(t testing.TB, ctx context.Context, addr, topic string) []rec {
	t.Helper()
	var out []rec
	for p, end := range endOffsets(t, ctx, addr, topic) {
		if end > 0 {
			out = append(out, consumeSarama(t, ctx, addr, topic, p, 0, int(end))...)
		}
	}
	return out
}

func TestSaramaKeyedPartitioning(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const parts, perKey = 6, 60
	createTopic(t, ctx, b.Addr(), "keyed", parts, nil)
	cfg := saramaConfig()
	cfg.Producer.Partitioner = sarama.NewMurmur2Partitioner
	p := newSaramaProducer(t, b.Addr(), cfg)
	keys := keyedTestKeys()
	var msgs []*sarama.ProducerMessage
	for i := 0; i < perKey; i++ {
		for _, k := range keys {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: "keyed", Key: sarama.StringEncoder(k), Value: sarama.StringEncoder(fmt.Sprintf("%s#%d", k, i))})
		}
	}
	sendSarama(t, p, msgs)
	for _, m := range msgs {
		k, _ := m.Key.Encode()
		if want := kafkaPartition(k, parts); m.Partition != want {
			t.Fatalf("key %q produced to partition %d, murmur2 says %d", k, m.Partition, want)
		}
	}
	got := consumeAllSarama(t, ctx, b.Addr(), "keyed")
	checkKeyedPlacement(t, got, keys, perKey, parts, true)
}

// TestSaramaDefaultHashPartitioning uses sarama's default (FNV-1a) hash
// partitioner: not Kafka's choice, but each key must still stay in one
// partition in order.
func TestSaramaDefaultHashPartitioning(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const parts, perKey = 6, 30
	createTopic(t, ctx, b.Addr(), "fnv", parts, nil)
	p := newSaramaProducer(t, b.Addr(), saramaConfig())
	keys := keyedTestKeys()
	var msgs []*sarama.ProducerMessage
	for i := 0; i < perKey; i++ {
		for _, k := range keys {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: "fnv", Key: sarama.StringEncoder(k), Value: sarama.StringEncoder(fmt.Sprintf("%s#%d", k, i))})
		}
	}
	sendSarama(t, p, msgs)
	got := consumeAllSarama(t, ctx, b.Addr(), "fnv")
	checkKeyedPlacement(t, got, keys, perKey, parts, false)
}

func TestSaramaUnkeyedSpread(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const parts, n = 6, 600
	createTopic(t, ctx, b.Addr(), "spread", parts, nil)
	cfg := saramaConfig()
	cfg.Producer.Partitioner = sarama.NewRoundRobinPartitioner
	p := newSaramaProducer(t, b.Addr(), cfg)
	var msgs []*sarama.ProducerMessage
	for _, v := range numberedValues("v", n) {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: "spread", Value: sarama.StringEncoder(v)})
	}
	sendSarama(t, p, msgs)
	got := consumeAllSarama(t, ctx, b.Addr(), "spread")
	checkSpread(t, got, n, parts)
	ends := endOffsets(t, ctx, b.Addr(), "spread")
	for p := int32(0); p < parts; p++ {
		if ends[p] != n/parts {
			t.Errorf("partition %d high watermark %d, round robin gives %d", p, ends[p], n/parts)
		}
	}
}

// TestSaramaConsumePositions runs at three protocol versions: 0.11 (Produce
// v3, Fetch v5, ListOffsets v1), sarama's default 2.8 and its newest.
func TestSaramaConsumePositions(t *testing.T) {
	for _, v := range []sarama.KafkaVersion{sarama.V0_11_0_0, sarama.V2_8_0_0, sarama.MaxVersion} {
		t.Run(v.String(), func(t *testing.T) {
			cfg := saramaConfig()
			cfg.Version = v
			testSaramaConsumePositions(t, cfg)
		})
	}
}

func testSaramaConsumePositions(t *testing.T, cfg *sarama.Config) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const n = 100
	createTopic(t, ctx, b.Addr(), "positions", 1, nil)
	p := newSaramaProducer(t, b.Addr(), cfg)
	base := time.UnixMilli(1_700_000_000_000)
	values := numberedValues("v", n)
	for start := 0; start < n; start += 10 {
		var msgs []*sarama.ProducerMessage
		for i := start; i < start+10; i++ {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: "positions", Value: sarama.StringEncoder(values[i]), Timestamp: base.Add(time.Duration(i) * time.Second)})
		}
		sendSarama(t, p, msgs)
	}

	t.Run("from start", func(t *testing.T) {
		got := consumeSaramaWith(t, ctx, cfg, b.Addr(), "positions", 0, sarama.OffsetOldest, n)
		checkValues(t, got, 0, values)
		for i, r := range got {
			if want := base.Add(time.Duration(i) * time.Second); !r.Time.Equal(want) {
				t.Fatalf("record %d timestamp %v, want %v", i, r.Time, want)
			}
		}
	})
	t.Run("from offset", func(t *testing.T) {
		got := consumeSaramaWith(t, ctx, cfg, b.Addr(), "positions", 0, 45, n-45)
		checkValues(t, got, 45, values[45:])
	})
	t.Run("from timestamp", func(t *testing.T) {
		client, err := sarama.NewClient([]string{b.Addr()}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		for _, tc := range []struct {
			ts   time.Time
			want int64
		}{
			{base.Add(73 * time.Second), 73},
			{base.Add(73*time.Second + 500*time.Millisecond), 74},
			{base.Add(-time.Hour), 0},
			{base.Add(40 * time.Second), 40},
			{base.Add(time.Hour), -1}, // after the last record: Kafka answers -1
		} {
			off, err := client.GetOffset("positions", 0, tc.ts.UnixMilli())
			if err != nil {
				t.Fatalf("GetOffset(%v): %v", tc.ts.Sub(base), err)
			}
			if off != tc.want {
				t.Fatalf("GetOffset(%v) = %d, want %d", tc.ts.Sub(base), off, tc.want)
			}
		}
		if off, err := client.GetOffset("positions", 0, sarama.OffsetNewest); err != nil || off != n {
			t.Fatalf("GetOffset(newest) = %d, %v; want %d", off, err, n)
		}
		got := consumeSaramaWith(t, ctx, cfg, b.Addr(), "positions", 0, 73, n-73)
		checkValues(t, got, 73, values[73:])
	})
}

func TestSaramaCompression(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	for _, c := range []struct {
		name  string
		codec sarama.CompressionCodec
	}{
		{"gzip", sarama.CompressionGZIP},
		{"snappy", sarama.CompressionSnappy},
		{"lz4", sarama.CompressionLZ4},
		{"zstd", sarama.CompressionZSTD},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic := "sarama-" + c.name
			createTopic(t, ctx, b.Addr(), topic, 1, nil)
			cfg := saramaConfig()
			cfg.Version = sarama.V2_8_0_0 // zstd needs >= 2.1
			cfg.Producer.Compression = c.codec
			cfg.Producer.Flush.Messages = 50
			cfg.Producer.Flush.Frequency = 50 * time.Millisecond
			p := newSaramaProducer(t, b.Addr(), cfg)
			const n = 200
			values := make([]string, n)
			var msgs []*sarama.ProducerMessage
			for i := range values {
				values[i] = fmt.Sprintf("%s-%d-%s", c.name, i, strings.Repeat("compressible ", 8))
				msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(values[i])})
			}
			sendSarama(t, p, msgs)
			assertCompressed(t, ctx, newFranz(t, b.Addr()), topic, c.name)
			for _, cons := range consumers {
				t.Run(cons.name, func(t *testing.T) {
					checkValues(t, cons.consume(t, ctx, b.Addr(), topic, 0, 0, n), 0, values)
				})
			}
		})
	}
}

func TestSaramaIdempotentProduce(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const parts, n = 3, 1500
	createTopic(t, ctx, b.Addr(), "idem", parts, nil)
	cfg := saramaConfig()
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Flush.Messages = 100
	cfg.Producer.Flush.Frequency = 5 * time.Millisecond
	p := newSaramaProducer(t, b.Addr(), cfg)
	var msgs []*sarama.ProducerMessage
	for i := 0; i < n; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: "idem", Partition: int32(i % parts), Value: sarama.StringEncoder(fmt.Sprintf("p%d-%d", i%parts, i/parts))})
	}
	sendSarama(t, p, msgs)
	ends := endOffsets(t, ctx, b.Addr(), "idem")
	for part := int32(0); part < parts; part++ {
		if ends[part] != n/parts {
			t.Errorf("partition %d high watermark %d, want %d (duplicates or loss)", part, ends[part], n/parts)
		}
		got := consumeSarama(t, ctx, b.Addr(), "idem", part, 0, n/parts)
		var want []string
		for i := 0; i < n/parts; i++ {
			want = append(want, fmt.Sprintf("p%d-%d", part, i))
		}
		checkValues(t, got, 0, want)
	}
	// The stored batches carry the producer id from InitProducerId.
	pf := rawFetch(t, ctx, newFranz(t, b.Addr()), "idem", 0, 0)
	var batch kmsg.RecordBatch
	if err := batch.ReadFrom(pf.RecordBatches); err != nil {
		t.Fatal(err)
	}
	if batch.ProducerID < 0 || batch.FirstSequence != 0 {
		t.Fatalf("first batch: producer id %d first sequence %d, want an id >= 0 and sequence 0", batch.ProducerID, batch.FirstSequence)
	}
}

func TestSaramaProduceUnknownTopic(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithAutoCreate(false))
	cfg := saramaConfig()
	cfg.Metadata.Retry.Max = 1
	cfg.Producer.Retry.Max = 1
	p := newSaramaProducer(t, b.Addr(), cfg)
	_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "missing", Value: sarama.StringEncoder("x")})
	if !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		t.Fatalf("produce to a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

func TestSaramaConsumeOffsetOutOfRange(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "oor", 1, nil)
	p := newSaramaProducer(t, b.Addr(), saramaConfig())
	var msgs []*sarama.ProducerMessage
	for _, v := range numberedValues("v", 10) {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: "oor", Value: sarama.StringEncoder(v)})
	}
	sendSarama(t, p, msgs)
	consumer, err := sarama.NewConsumer([]string{b.Addr()}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	// sarama checks the offset against ListOffsets earliest/latest.
	if _, err := consumer.ConsumePartition("oor", 0, 1000); !errors.Is(err, sarama.ErrOffsetOutOfRange) {
		t.Fatalf("consume at offset 1000 of 10: %v, want OFFSET_OUT_OF_RANGE", err)
	}
	// At the high watermark is in range: the consumer waits for the next
	// record.
	pc, err := consumer.ConsumePartition("oor", 0, 10)
	if err != nil {
		t.Fatalf("consume at the high watermark: %v", err)
	}
	defer pc.Close()
	if _, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: "oor", Value: sarama.StringEncoder("v10")}); err != nil || off != 10 {
		t.Fatalf("produce v10: offset %d, %v; want 10", off, err)
	}
	select {
	case m := <-pc.Messages():
		if m.Offset != 10 || string(m.Value) != "v10" {
			t.Fatalf("consumer at the high watermark got offset %d value %q, want 10 \"v10\"", m.Offset, m.Value)
		}
	case err := <-pc.Errors():
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("no record at offset 10 before the deadline")
	}
}

func TestSaramaCreateTopicErrors(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "exists", 1, nil)
	adm := newSaramaAdmin(t, b.Addr())
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name   string
		topic  string
		detail sarama.TopicDetail
		want   sarama.KError
	}{
		{"slash", "bad/name", sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, sarama.ErrInvalidTopic},
		{"dot", ".", sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, sarama.ErrInvalidTopic},
		{"too long", strings.Repeat("a", 250), sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, sarama.ErrInvalidTopic},
		{"bad config value", "badcfg", sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: map[string]*string{"retention.ms": str("abc")}}, sarama.ErrInvalidConfig},
		{"unknown config", "unknowncfg", sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: map[string]*string{"unknown.config": str("1")}}, sarama.ErrInvalidConfig},
		{"duplicate", "exists", sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, sarama.ErrTopicAlreadyExists},
		{"zero partitions", "zeroparts", sarama.TopicDetail{NumPartitions: 0, ReplicationFactor: 1}, sarama.ErrInvalidPartitions},
		{"replication factor 3", "rf3", sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 3}, sarama.ErrInvalidReplicationFactor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := adm.CreateTopic(tc.topic, &tc.detail, false)
			if !errors.Is(err, tc.want) {
				t.Fatalf("create %q: %v, want %v", tc.topic, err, tc.want)
			}
			var te *sarama.TopicError
			if errors.As(err, &te) && (te.ErrMsg == nil || *te.ErrMsg == "") {
				t.Errorf("create %q: %v without an error message", tc.topic, tc.want)
			}
		})
	}
	t.Run("created", func(t *testing.T) {
		if err := adm.CreateTopic("good", &sarama.TopicDetail{NumPartitions: 4, ReplicationFactor: 1}, false); err != nil {
			t.Fatal(err)
		}
		topics, err := adm.ListTopics()
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := topics["good"]; !ok || d.NumPartitions != 4 {
			t.Fatalf("ListTopics: good = %+v, %v; want 4 partitions", d, ok)
		}
		for name := range topics {
			if name != "good" && name != "exists" {
				t.Errorf("topic %q exists after a failed create", name)
			}
		}
	})
}

func TestSaramaMessageTooLarge(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "small", 1, map[string]*string{"max.message.bytes": kmsg.StringPtr("1000")})
	p := newSaramaProducer(t, b.Addr(), saramaConfig())
	_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "small", Value: sarama.ByteEncoder(randomBytes(2, 5000))})
	if !errors.Is(err, sarama.ErrMessageSizeTooLarge) {
		t.Fatalf("5000-byte record to a topic with max.message.bytes=1000: %v, want MESSAGE_TOO_LARGE", err)
	}
	if _, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: "small", Value: sarama.StringEncoder("fits")}); err != nil || off != 0 {
		t.Fatalf("small record after the rejected one: offset %d, %v; want offset 0", off, err)
	}
}

func TestSaramaDescribeConfigs(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTopicDefault("retention.bytes", "1000000"))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "described", 1, map[string]*string{"retention.ms": kmsg.StringPtr("3600000")})
	adm := newSaramaAdmin(t, b.Addr())
	entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: "described"})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]sarama.ConfigEntry{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	for _, tc := range []struct {
		name, value string
		source      sarama.ConfigSource
	}{
		{"retention.ms", "3600000", sarama.SourceTopic},
		{"retention.bytes", "1000000", sarama.SourceStaticBroker},
		{"segment.bytes", "1073741824", sarama.SourceDefault},
		{"max.message.bytes", "1048588", sarama.SourceDefault},
	} {
		e, ok := byName[tc.name]
		if !ok {
			t.Errorf("%s missing from DescribeConfigs", tc.name)
			continue
		}
		if e.Value != tc.value || e.Source != tc.source {
			t.Errorf("%s = %q (%v), want %q (%v)", tc.name, e.Value, e.Source, tc.value, tc.source)
		}
	}
	if _, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: "nope"}); err == nil {
		t.Error("describe configs of a missing topic: no error")
	}
}

func TestSaramaRestart(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	dir := b.Config.DataDir
	const parts = 3
	createTopic(t, ctx, b.Addr(), "durable", parts, nil)
	cfg := saramaConfig()
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*sarama.ProducerMessage
	for i := 0; i < 150; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: "durable", Partition: int32(i % parts), Value: sarama.StringEncoder(fmt.Sprintf("p%d-%d", i%parts, i/parts))})
	}
	sendSarama(t, p, msgs)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	b2 := arustest.StartBroker(t, arustest.WithDataDir(dir))
	p2 := newSaramaProducer(t, b2.Addr(), cfg)
	for part := int32(0); part < parts; part++ {
		got := consumeSarama(t, ctx, b2.Addr(), "durable", part, 0, 50)
		var want []string
		for i := 0; i < 50; i++ {
			want = append(want, fmt.Sprintf("p%d-%d", part, i))
		}
		checkValues(t, got, 0, want)
		_, off, err := p2.SendMessage(&sarama.ProducerMessage{Topic: "durable", Partition: part, Value: sarama.StringEncoder("after-restart")})
		if err != nil {
			t.Fatal(err)
		}
		if off != 50 {
			t.Errorf("partition %d: first record after restart at offset %d, want 50", part, off)
		}
	}
}

// Produce v0-v2 carry message format v0/v1. arus converts them to v2
// batches (as Kafka 3.x's LogValidator does), so that ApiVersions can
// advertise Produce from v0 honestly: librdkafka enables gzip/snappy/lz4
// only when it is advertised (librdkafka#4956, KAFKA-18659). sarama at
// 0.8.2 sends Produce v0 with magic 0 messages, at 0.10.2 Produce v2 with
// magic 1 and timestamps; compressed sets arrive as one wrapper message.
func TestSaramaLegacyProduceVersions(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	start := time.Now().Truncate(time.Millisecond)
	for _, c := range []struct {
		name    string
		version sarama.KafkaVersion
		codec   sarama.CompressionCodec
		stamped bool
	}{
		{"v0-none", sarama.V0_8_2_0, sarama.CompressionNone, false},
		{"v0-gzip", sarama.V0_8_2_0, sarama.CompressionGZIP, false},
		{"v0-snappy", sarama.V0_8_2_0, sarama.CompressionSnappy, false},
		{"v2-none", sarama.V0_10_2_0, sarama.CompressionNone, true},
		{"v2-gzip", sarama.V0_10_2_0, sarama.CompressionGZIP, true},
		{"v2-snappy", sarama.V0_10_2_0, sarama.CompressionSnappy, true},
		{"v2-lz4", sarama.V0_10_2_0, sarama.CompressionLZ4, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic := "legacy-" + c.name
			createTopic(t, ctx, b.Addr(), topic, 1, nil)
			cfg := saramaConfig()
			cfg.Version = c.version
			cfg.Producer.Compression = c.codec
			cfg.Producer.Flush.Messages = 20
			cfg.Producer.Flush.Frequency = 50 * time.Millisecond
			p := newSaramaProducer(t, b.Addr(), cfg)
			const n = 60
			values := make([]string, n)
			var msgs []*sarama.ProducerMessage
			for i := range values {
				values[i] = fmt.Sprintf("%s-%d-%s", c.name, i, strings.Repeat("compressible ", 4))
				msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprint("k", i)), Value: sarama.StringEncoder(values[i])})
			}
			sendSarama(t, p, msgs)
			if c.codec != sarama.CompressionNone {
				assertCompressed(t, ctx, newFranz(t, b.Addr()), topic, c.codec.String())
			}
			got := consumeFranz(t, ctx, b.Addr(), topic, 0, 0, n)
			checkValues(t, got, 0, values)
			for i, r := range got {
				if r.Key != fmt.Sprint("k", i) {
					t.Fatalf("record %d key %q, want k%d", i, r.Key, i)
				}
				if c.stamped && r.Time.Before(start) {
					t.Fatalf("record %d timestamp %v, before the test started (%v)", i, r.Time, start)
				}
			}
		})
	}
}
