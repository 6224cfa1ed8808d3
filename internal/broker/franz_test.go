package broker_test

// franz-go (kgo, kadm, raw kmsg requests) against an in-process broker.

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/arus-io/arus/internal/arustest"
)

func TestFranzGoKeyedPartitioning(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const parts, perKey = 6, 60
	createTopic(t, ctx, b.Addr(), "keyed", parts, nil)

	// The default partitioner hashes keys with murmur2 like the Java client.
	cl := newFranz(t, b.Addr())
	keys := keyedTestKeys()
	var records []*kgo.Record
	for i := 0; i < perKey; i++ {
		for _, k := range keys {
			records = append(records, &kgo.Record{Topic: "keyed", Key: []byte(k), Value: []byte(fmt.Sprintf("%s#%d", k, i))})
		}
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	for _, r := range records {
		if want := kafkaPartition(r.Key, parts); r.Partition != want {
			t.Fatalf("key %q produced to partition %d, murmur2 says %d", r.Key, r.Partition, want)
		}
	}
	got := consumeAllFranz(t, ctx, b.Addr(), "keyed", len(records))
	checkKeyedPlacement(t, got, keys, perKey, parts, true)
}

func TestFranzGoUnkeyedSpread(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const parts, n = 6, 600
	createTopic(t, ctx, b.Addr(), "spread", parts, nil)
	cl := newFranz(t, b.Addr(), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var records []*kgo.Record
	for _, v := range numberedValues("v", n) {
		records = append(records, &kgo.Record{Topic: "spread", Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	got := consumeAllFranz(t, ctx, b.Addr(), "spread", n)
	checkSpread(t, got, n, parts)
	ends := endOffsets(t, ctx, b.Addr(), "spread")
	for p := int32(0); p < parts; p++ {
		if ends[p] != n/parts {
			t.Errorf("partition %d high watermark %d, round robin gives %d", p, ends[p], n/parts)
		}
	}
}

// TestFranzGoConsumePositions writes 100 records with explicit timestamps
// (base + i seconds) in batches of 10 and reads them from the start, from
// an offset inside a batch and from a timestamp inside a batch.
func TestFranzGoConsumePositions(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const n = 100
	createTopic(t, ctx, b.Addr(), "positions", 1, nil)
	cl := newFranz(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := time.UnixMilli(1_700_000_000_000)
	values := numberedValues("v", n)
	for start := 0; start < n; start += 10 {
		var batch []*kgo.Record
		for i := start; i < start+10; i++ {
			batch = append(batch, &kgo.Record{Topic: "positions", Value: []byte(values[i]), Timestamp: base.Add(time.Duration(i) * time.Second)})
		}
		if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	t.Run("from start", func(t *testing.T) {
		got := consumeFranz(t, ctx, b.Addr(), "positions", 0, 0, n)
		checkValues(t, got, 0, values)
		for i, r := range got {
			if want := base.Add(time.Duration(i) * time.Second); !r.Time.Equal(want) {
				t.Fatalf("record %d timestamp %v, want %v", i, r.Time, want)
			}
		}
	})
	t.Run("from offset", func(t *testing.T) {
		got := consumeFranz(t, ctx, b.Addr(), "positions", 0, 45, n-45)
		checkValues(t, got, 45, values[45:])
	})
	t.Run("from timestamp", func(t *testing.T) {
		adm := kadm.NewClient(cl)
		for _, tc := range []struct {
			ts   time.Time
			want int64
		}{
			{base.Add(73 * time.Second), 73},                      // exact, inside a batch
			{base.Add(73*time.Second + 500*time.Millisecond), 74}, // between records
			{base.Add(-time.Hour), 0},                             // before everything
			{base.Add(99 * time.Second), 99},                      // last record
			{base.Add(40 * time.Second), 40},                      // first of a batch
			{base.Add(39*time.Second + 999*time.Millisecond), 40}, // just before a batch
		} {
			listed, err := adm.ListOffsetsAfterMilli(ctx, tc.ts.UnixMilli(), "positions")
			if err != nil {
				t.Fatalf("list offsets after %v: %v", tc.ts, err)
			}
			o, ok := listed.Lookup("positions", 0)
			if !ok || o.Err != nil {
				t.Fatalf("list offsets after %v: %+v", tc.ts, o)
			}
			if o.Offset != tc.want {
				t.Fatalf("offset for timestamp %v is %d, want %d", tc.ts.Sub(base), o.Offset, tc.want)
			}
			if want := base.Add(time.Duration(tc.want) * time.Second).UnixMilli(); o.Timestamp != want {
				t.Errorf("timestamp for lookup %v is %d, want the record's %d", tc.ts.Sub(base), o.Timestamp, want)
			}
		}
		got := consumeFranz(t, ctx, b.Addr(), "positions", 0, 73, n-73)
		checkValues(t, got, 73, values[73:])
	})
	t.Run("timestamp after last record", func(t *testing.T) {
		// Kafka answers offset -1, timestamp -1 and no error when no
		// record has a timestamp at or after the one asked for.
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "positions"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = 0
		rp.Timestamp = base.Add(time.Hour).UnixMilli()
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.Offset != -1 || p.Timestamp != -1 {
			t.Fatalf("ListOffsets v%d after the last record: error %v offset %d timestamp %d, want no error, -1, -1",
				req.Version, errCode(p.ErrorCode), p.Offset, p.Timestamp)
		}
	})
}

func franzCodecs() []struct {
	name  string
	codec kgo.CompressionCodec
} {
	return []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	}
}

// TestFranzGoCompression produces compressed batches with franz-go and
// reads them back with all three clients.
func TestFranzGoCompression(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	for _, c := range franzCodecs() {
		t.Run(c.name, func(t *testing.T) {
			topic := "franz-" + c.name
			createTopic(t, ctx, b.Addr(), topic, 1, nil)
			cl := newFranz(t, b.Addr(), kgo.ProducerBatchCompression(c.codec), kgo.ProducerLinger(50*time.Millisecond))
			const n = 200
			values := make([]string, n)
			var records []*kgo.Record
			for i := range values {
				values[i] = fmt.Sprintf("%s-%d-%s", c.name, i, strings.Repeat("compressible ", 8))
				records = append(records, &kgo.Record{Topic: topic, Value: []byte(values[i])})
			}
			if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", c.name, err)
			}
			assertCompressed(t, ctx, cl, topic, c.name)
			for _, cons := range consumers {
				t.Run(cons.name, func(t *testing.T) {
					checkValues(t, cons.consume(t, ctx, b.Addr(), topic, 0, 0, n), 0, values)
				})
			}
		})
	}
}

// assertCompressed checks that the first stored batch of topic[0] carries
// the codec's attribute bits, i.e. the producer really compressed.
func assertCompressed(t testing.TB, ctx context.Context, cl *kgo.Client, topic, codec string) {
	t.Helper()
	want := map[string]int16{"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}[codec]
	p := rawFetch(t, ctx, cl, topic, 0, 0)
	if p.ErrorCode != 0 {
		t.Fatalf("fetch %s: %v", topic, errCode(p.ErrorCode))
	}
	var batch kmsg.RecordBatch
	if err := batch.ReadFrom(p.RecordBatches); err != nil {
		t.Fatalf("decode first batch of %s: %v", topic, err)
	}
	if got := batch.Attributes & 0x07; got != want {
		t.Fatalf("first batch of %s has codec %d, want %d (%s)", topic, got, want, codec)
	}
}

// TestFranzGoIdempotentProduce produces with franz-go's default idempotent
// producer and acks=all, concurrently over three partitions, and checks
// every partition holds each record once at contiguous offsets in order.
func TestFranzGoIdempotentProduce(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const parts, n = 3, 3000
	createTopic(t, ctx, b.Addr(), "idem", parts, nil)
	cl := newFranz(t, b.Addr(), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(4096))
	errc := make(chan error, n)
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: "idem", Partition: int32(i % parts), Value: []byte(fmt.Sprintf("p%d-%d", i%parts, i/parts))}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) { errc <- err })
	}
	for i := 0; i < n; i++ {
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("produce: %v", err)
			}
		case <-ctx.Done():
			t.Fatalf("only %d of %d produce callbacks before the deadline", i, n)
		}
	}
	ends := endOffsets(t, ctx, b.Addr(), "idem")
	for p := int32(0); p < parts; p++ {
		if ends[p] != n/parts {
			t.Errorf("partition %d high watermark %d, want %d (duplicates or loss)", p, ends[p], n/parts)
		}
	}
	cons := newFranz(t, b.Addr(), kgo.ConsumeTopics("idem"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []*kgo.Record
	for len(got) < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline", len(got), n)
		}
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got = append(got, fs.Records()...)
	}
	next := map[int32]int64{}
	for _, r := range got {
		want := fmt.Sprintf("p%d-%d", r.Partition, next[r.Partition])
		if r.Offset != next[r.Partition] || string(r.Value) != want {
			t.Fatalf("partition %d: got offset %d value %q, want offset %d value %q", r.Partition, r.Offset, r.Value, next[r.Partition], want)
		}
		if r.ProducerID < 0 || r.ProducerEpoch < 0 {
			t.Fatalf("record %d of partition %d has producer id %d epoch %d; an idempotent batch keeps them", r.Offset, r.Partition, r.ProducerID, r.ProducerEpoch)
		}
		next[r.Partition]++
	}
	if len(got) != n {
		t.Fatalf("consumed %d records, want %d", len(got), n)
	}
}

// TestFranzGoIdempotentSequences drives the idempotence checks with raw
// requests: a resent batch is answered with its original offset and not
// stored twice, and a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
func TestFranzGoIdempotentSequences(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "seq", 1, nil)
	cl := newFranz(t, b.Addr())

	initReq := kmsg.NewPtrInitProducerIDRequest()
	initReq.TransactionTimeoutMillis = 60000
	initResp, err := initReq.RequestWith(ctx, cl)
	if err != nil || initResp.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %v", err, errCode(initResp.ErrorCode))
	}
	pid, epoch := initResp.ProducerID, initResp.ProducerEpoch
	id := topicID(t, ctx, cl, "seq")

	produce := func(seq int32, epoch int16, values ...string) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks = -1
		req.TimeoutMillis = 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = "seq", id // by name up to v12, by id from v13
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = encodeBatch(pid, epoch, seq, time.UnixMilli(1_700_000_000_000), values...)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("produce seq %d: %v", seq, err)
		}
		return resp.Topics[0].Partitions[0]
	}

	first := produce(0, epoch, "a", "b", "c")
	if first.ErrorCode != 0 || first.BaseOffset != 0 {
		t.Fatalf("first batch: %v base offset %d, want no error and 0", errCode(first.ErrorCode), first.BaseOffset)
	}
	second := produce(3, epoch, "d", "e")
	if second.ErrorCode != 0 || second.BaseOffset != 3 {
		t.Fatalf("second batch: %v base offset %d, want no error and 3", errCode(second.ErrorCode), second.BaseOffset)
	}
	dup := produce(0, epoch, "a", "b", "c")
	if dup.ErrorCode != 0 || dup.BaseOffset != 0 {
		t.Errorf("resent first batch: %v base offset %d; Kafka answers no error and the original base offset 0", errCode(dup.ErrorCode), dup.BaseOffset)
	}
	gap := produce(10, epoch, "x")
	if gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Errorf("batch with sequence 10 after 4: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", errCode(gap.ErrorCode))
	}
	ends := endOffsets(t, ctx, b.Addr(), "seq")
	if ends[0] != 5 {
		t.Fatalf("high watermark %d after a duplicate and a rejected batch, want 5", ends[0])
	}
	got := consumeFranz(t, ctx, b.Addr(), "seq", 0, 0, 5)
	checkValues(t, got, 0, []string{"a", "b", "c", "d", "e"})
}

// encodeBatch builds an uncompressed v2 record batch of values.
func encodeBatch(pid int64, epoch int16, seq int32, ts time.Time, values ...string) []byte {
	var recs []byte
	for i, v := range values {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.Value = []byte(v)
		r.Length = int32(len(r.AppendTo(nil)) - 1) // length excludes itself; 0 encodes as one varint byte
		recs = r.AppendTo(recs)
	}
	batch := kmsg.NewRecordBatch()
	batch.Magic = 2
	batch.LastOffsetDelta = int32(len(values) - 1)
	batch.FirstTimestamp = ts.UnixMilli()
	batch.MaxTimestamp = ts.UnixMilli()
	batch.ProducerID = pid
	batch.ProducerEpoch = epoch
	batch.FirstSequence = seq
	batch.NumRecords = int32(len(values))
	batch.Records = recs
	raw := batch.AppendTo(nil)
	// Length counts from PartitionLeaderEpoch (offset 12) to the end, CRC
	// (at 17) covers Attributes (offset 21) to the end.
	batch.Length = int32(len(raw) - 12)
	raw = batch.AppendTo(nil)
	batch.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return batch.AppendTo(nil)
}

func TestFranzGoProduceUnknownTopic(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithAutoCreate(false))
	ctx := testContext(t)

	t.Run("client", func(t *testing.T) {
		cl := newFranz(t, b.Addr(), kgo.UnknownTopicRetries(1), kgo.RecordDeliveryTimeout(5*time.Second),
			kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: "missing", Value: []byte("x")}).FirstErr()
		if !errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("produce to a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
		}
	})
	for _, tc := range []struct {
		version int16
		want    *kerr.Error
	}{
		{12, kerr.UnknownTopicOrPartition}, // by name
		{13, kerr.UnknownTopicID},          // by id; the client knows no id
	} {
		t.Run(fmt.Sprintf("raw request v%d", tc.version), func(t *testing.T) {
			versions := kversion.Stable()
			versions.SetMaxKeyVersion(0, tc.version)
			cl := newFranz(t, b.Addr(), kgo.MaxVersions(versions))
			req := kmsg.NewPtrProduceRequest()
			req.Acks = -1
			req.TimeoutMillis = 5000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "missing"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = encodeBatch(-1, -1, -1, time.Now(), "x")
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if req.Version != tc.version {
				t.Fatalf("request went out as v%d, want v%d", req.Version, tc.version)
			}
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				t.Fatalf("produce response has %d topics, want 1 with 1 partition", len(resp.Topics))
			}
			if code := resp.Topics[0].Partitions[0].ErrorCode; code != tc.want.Code {
				t.Fatalf("Produce v%d to a missing topic: %v, want %v", req.Version, errCode(code), tc.want)
			}
		})
	}
	t.Run("not auto-created", func(t *testing.T) {
		cl := newFranz(t, b.Addr())
		topics, err := kadm.NewClient(cl).ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if topics.Has("missing") {
			t.Fatal("topic \"missing\" was created although auto.create.topics.enable=false")
		}
	})
}

func TestFranzGoFetchOffsetOutOfRange(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "oor", 1, nil)
	cl := newFranz(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var records []*kgo.Record
	for _, v := range numberedValues("v", 10) {
		records = append(records, &kgo.Record{Topic: "oor", Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		offset int64
		want   int16
	}{
		{1000, kerr.OffsetOutOfRange.Code},
		{11, kerr.OffsetOutOfRange.Code},
		{-1, kerr.OffsetOutOfRange.Code},
		{10, 0}, // at the high watermark: empty, no error
		{5, 0},
	} {
		p := rawFetch(t, ctx, cl, "oor", 0, tc.offset)
		if p.ErrorCode != tc.want {
			t.Errorf("fetch at offset %d: %v, want %v", tc.offset, errCode(p.ErrorCode), errCode(tc.want))
		}
		if p.HighWatermark != 10 {
			t.Errorf("fetch at offset %d: high watermark %d, want 10", tc.offset, p.HighWatermark)
		}
		if tc.want != 0 && len(p.RecordBatches) != 0 {
			t.Errorf("fetch at offset %d: %d bytes of records with an error", tc.offset, len(p.RecordBatches))
		}
	}
}

func TestFranzGoCreateTopicErrors(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	cl := newFranz(t, b.Addr())
	createTopic(t, ctx, b.Addr(), "exists", 1, nil)
	createTopic(t, ctx, b.Addr(), "collide.name", 1, nil)

	str := kmsg.StringPtr
	for _, tc := range []struct {
		name       string
		topic      string
		partitions int32
		rf         int16
		configs    map[string]*string
		want       *kerr.Error
	}{
		{"slash", "bad/name", 1, 1, nil, kerr.InvalidTopicException},
		{"empty", "", 1, 1, nil, kerr.InvalidTopicException},
		{"dot", ".", 1, 1, nil, kerr.InvalidTopicException},
		{"dotdot", "..", 1, 1, nil, kerr.InvalidTopicException},
		{"too long", strings.Repeat("a", 250), 1, 1, nil, kerr.InvalidTopicException},
		{"space", "has space", 1, 1, nil, kerr.InvalidTopicException},
		{"collides with . and _", "collide_name", 1, 1, nil, kerr.InvalidTopicException},
		{"bad config value", "badcfg", 1, 1, map[string]*string{"retention.ms": str("abc")}, kerr.InvalidConfig},
		{"unknown config", "unknowncfg", 1, 1, map[string]*string{"unknown.config": str("1")}, kerr.InvalidConfig},
		{"duplicate", "exists", 1, 1, nil, kerr.TopicAlreadyExists},
		{"zero partitions", "zeroparts", 0, 1, nil, kerr.InvalidPartitions},
		{"negative partitions", "negparts", -5, 1, nil, kerr.InvalidPartitions},
		{"replication factor 3", "rf3", 1, 3, nil, kerr.InvalidReplicationFactor},
		{"replication factor 0", "rf0", 1, 0, nil, kerr.InvalidReplicationFactor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrCreateTopicsRequest()
			req.TimeoutMillis = 5000
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic = tc.topic
			rt.NumPartitions = tc.partitions
			rt.ReplicationFactor = tc.rf
			for k, v := range tc.configs {
				c := kmsg.NewCreateTopicsRequestTopicConfig()
				c.Name, c.Value = k, v
				rt.Configs = append(rt.Configs, c)
			}
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Topics) != 1 {
				t.Fatalf("CreateTopics v%d: %d topics in the response, want 1", req.Version, len(resp.Topics))
			}
			got := resp.Topics[0]
			if got.ErrorCode != tc.want.Code {
				t.Fatalf("CreateTopics v%d %q: %v, want %v", req.Version, tc.topic, errCode(got.ErrorCode), tc.want)
			}
			if got.ErrorMessage == nil || *got.ErrorMessage == "" {
				t.Errorf("CreateTopics v%d %q: %v without an error message", req.Version, tc.topic, tc.want)
			}
		})
	}
	t.Run("249 characters is legal", func(t *testing.T) {
		createTopic(t, ctx, b.Addr(), strings.Repeat("b", 249), 1, nil)
	})
	t.Run("nothing created", func(t *testing.T) {
		topics, err := kadm.NewClient(cl).ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range topics.Names() {
			switch name {
			case "exists", "collide.name", strings.Repeat("b", 249):
			default:
				t.Errorf("topic %q exists after a failed create", name)
			}
		}
	})
	t.Run("validate only", func(t *testing.T) {
		adm := kadm.NewClient(cl)
		resp, err := adm.ValidateCreateTopics(ctx, 2, 1, nil, "validated")
		if err != nil {
			t.Fatal(err)
		}
		if r := resp["validated"]; r.Err != nil {
			t.Fatalf("validate-only create: %v", r.Err)
		}
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if topics.Has("validated") {
			t.Fatal("validate-only CreateTopics created the topic")
		}
	})
}

func TestFranzGoMessageTooLarge(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "small", 1, map[string]*string{"max.message.bytes": kmsg.StringPtr("1000")})
	cl := newFranz(t, b.Addr(), kgo.ProducerBatchCompression(kgo.NoCompression()))
	big := randomBytes(1, 5000)
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "small", Value: big}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("5000-byte record to a topic with max.message.bytes=1000: %v, want MESSAGE_TOO_LARGE", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "small", Value: []byte("fits")}).FirstErr(); err != nil {
		t.Fatalf("small record after the rejected one: %v", err)
	}
	got := consumeFranz(t, ctx, b.Addr(), "small", 0, 0, 1)
	checkValues(t, got, 0, []string{"fits"})
}

// randomBytes returns n bytes from a fixed seed (incompressible, so
// compression cannot shrink a batch under a size limit).
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(r.Uint32())
	}
	return out
}

func TestFranzGoDescribeConfigs(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTopicDefault("retention.bytes", "1000000"))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "described", 1, map[string]*string{"retention.ms": kmsg.StringPtr("3600000")})
	cl := newFranz(t, b.Addr())
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, "described")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("described", nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe configs: %v %v", err, rc.Err)
	}
	byName := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		byName[c.Key] = c
	}
	for _, tc := range []struct {
		name, value string
		source      kmsg.ConfigSource
	}{
		{"retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig},
		{"retention.bytes", "1000000", kmsg.ConfigSourceStaticBrokerConfig},
		{"segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig},
		{"max.message.bytes", "1048588", kmsg.ConfigSourceDefaultConfig},
		{"cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig},
	} {
		c, ok := byName[tc.name]
		if !ok {
			t.Errorf("%s missing from DescribeConfigs", tc.name)
			continue
		}
		if c.MaybeValue() != tc.value || c.Source != tc.source {
			t.Errorf("%s = %q (%v), want %q (%v)", tc.name, c.MaybeValue(), c.Source, tc.value, tc.source)
		}
	}
	for _, c := range rc.Configs {
		if c.Key != "retention.ms" && c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			t.Errorf("%s reported as a topic override, but only retention.ms was set", c.Key)
		}
	}

	missing, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, "nope")
	if err == nil {
		rc, _ := missing.On("nope", nil)
		err = rc.Err
	}
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("describe configs of a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

func TestFranzGoRestart(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	dir := b.Config.DataDir
	const parts = 3
	createTopic(t, ctx, b.Addr(), "durable", parts, nil)
	cl := newFranz(t, b.Addr(), kgo.RequiredAcks(kgo.AllISRAcks()))
	keys := keyedTestKeys()
	var records []*kgo.Record
	for i := 0; i < 20; i++ {
		for _, k := range keys {
			records = append(records, &kgo.Record{Topic: "durable", Key: []byte(k), Value: []byte(fmt.Sprintf("%s#%d", k, i))})
		}
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	before := endOffsets(t, ctx, b.Addr(), "durable")
	cl.Close()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	b2 := arustest.StartBroker(t, arustest.WithDataDir(dir))
	after := endOffsets(t, ctx, b2.Addr(), "durable")
	for p := int32(0); p < parts; p++ {
		if after[p] != before[p] {
			t.Errorf("partition %d high watermark %d after restart, %d before", p, after[p], before[p])
		}
	}
	got := consumeAllFranz(t, ctx, b2.Addr(), "durable", len(records))
	checkKeyedPlacement(t, got, keys, 20, parts, true)

	cl2 := newFranz(t, b2.Addr(), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < parts; p++ {
		r := &kgo.Record{Topic: "durable", Partition: p, Value: []byte("after-restart")}
		if err := cl2.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if r.Offset != before[p] {
			t.Errorf("partition %d: first record after restart at offset %d, want %d", p, r.Offset, before[p])
		}
	}
}
