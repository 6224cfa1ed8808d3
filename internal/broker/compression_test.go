package broker_test

// Broker-side compression (KIP-390): a topic's compression.type other than
// "producer" makes the broker store every produced batch with that codec,
// recompressing those that arrive with another one, as Kafka's
// LogValidator does (validateMessagesAndAssignOffsetsCompressed: no
// in-place assignment when the source codec differs from the target, then
// buildRecordsAndAssignOffsets keeps producer id, epoch, base sequence,
// transactional bit and the records' timestamps and rebuilds the batch).

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

// codecIDs are the attribute codec bits of each compression.type.
var codecIDs = map[string]int16{"uncompressed": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// storedCodecs reads partition 0 of topic from offset 0 to end with raw
// Fetch requests (what the zero-copy path sends) and returns the codec of
// every stored batch with its base offset, checking each batch's CRC.
func storedCodecs(t testing.TB, ctx context.Context, cl *kgo.Client, topic string, end int64) []storedBatch {
	t.Helper()
	var codecs []storedBatch
	for off := int64(0); off < end; {
		p := rawFetch(t, ctx, cl, topic, 0, off)
		if p.ErrorCode != 0 {
			t.Fatalf("fetch %s@%d: %v", topic, off, errCode(p.ErrorCode))
		}
		raw := p.RecordBatches
		if len(raw) == 0 {
			t.Fatalf("fetch %s@%d: no batches below the end %d", topic, off, end)
		}
		for len(raw) >= 12 {
			var b kmsg.RecordBatch
			if err := b.ReadFrom(raw); err != nil {
				break // a partial last batch
			}
			size := int(b.Length) + 12
			// Clients check the CRC-32C too; checking here points at the broker.
			if crc32.Checksum(raw[21:size], crc32.MakeTable(crc32.Castagnoli)) != uint32(b.CRC) {
				t.Fatalf("%s@%d: stored batch CRC does not match", topic, b.FirstOffset)
			}
			codecs = append(codecs, storedBatch{b.FirstOffset, b.Attributes & 0x07})
			off = b.FirstOffset + int64(b.LastOffsetDelta) + 1
			raw = raw[size:]
		}
	}
	return codecs
}

type storedBatch struct {
	offset int64
	codec  int16
}

func codecsOf(bs []storedBatch) []int16 {
	var out []int16
	for _, b := range bs {
		out = append(out, b.codec)
	}
	return out
}

// testRecord is what a test produced, to compare with what is consumed.
type testRecord struct {
	key, value string
	headers    []kgo.RecordHeader
	ts         time.Time
}

func makeTestRecords(prefix string, n int) []testRecord {
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	out := make([]testRecord, n)
	for i := range out {
		out[i] = testRecord{
			key:     fmt.Sprintf("%s-key-%d", prefix, i),
			value:   fmt.Sprintf("%s-%d-%s", prefix, i, strings.Repeat("compressible text ", 6)),
			headers: []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}, {Key: "src", Value: []byte(prefix)}},
			ts:      base.Add(time.Duration(i%17) * time.Millisecond), // not monotonic within a batch
		}
	}
	return out
}

// checkConsumed reads n records of partition 0 from offset with franz-go
// and sarama and checks keys, values, headers and timestamps against want.
func checkConsumed(t *testing.T, ctx context.Context, addr, topic string, offset int64, want []testRecord) {
	t.Helper()
	byValue := map[string]testRecord{}
	for _, r := range want {
		byValue[r.value] = r
	}
	cl := newFranz(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(offset)}}))
	seen := map[string]bool{}
	for len(seen) < len(want) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("franz-go: %d of %d records of %s before the deadline", len(seen), len(want), topic)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("franz-go fetch %s: %v", topic, err) })
		fs.EachRecord(func(r *kgo.Record) {
			w, ok := byValue[string(r.Value)]
			switch {
			case !ok:
				t.Fatalf("%s@%d: unexpected value %q", topic, r.Offset, r.Value)
			case seen[w.value]:
				t.Fatalf("%s@%d: duplicate of %q", topic, r.Offset, w.value)
			case string(r.Key) != w.key || !r.Timestamp.Equal(w.ts):
				t.Fatalf("%s@%d: key %q ts %v, want %q %v", topic, r.Offset, r.Key, r.Timestamp, w.key, w.ts)
			case fmt.Sprint(r.Headers) != fmt.Sprint(w.headers):
				t.Fatalf("%s@%d: headers %v, want %v", topic, r.Offset, r.Headers, w.headers)
			}
			seen[w.value] = true
		})
	}
	cl.Close()
	got := consumeSarama(t, ctx, addr, topic, 0, offset, len(want))
	for _, r := range got {
		w, ok := byValue[r.Value]
		if !ok || r.Key != w.key || !r.Time.Equal(w.ts) {
			t.Fatalf("sarama %s@%d: %q key %q ts %v; want %+v", topic, r.Offset, r.Value, r.Key, r.Time, w)
		}
	}
}

func produceFranz(t *testing.T, ctx context.Context, addr, topic string, codec kgo.CompressionCodec, recs []testRecord) {
	t.Helper()
	cl := newFranz(t, addr, kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(16<<10))
	var krs []*kgo.Record
	for _, r := range recs {
		krs = append(krs, &kgo.Record{Topic: topic, Partition: 0, Key: []byte(r.key), Value: []byte(r.value), Headers: r.headers, Timestamp: r.ts})
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatalf("franz-go produce to %s: %v", topic, err)
	}
	cl.Close()
}

func produceSaramaRecords(t *testing.T, addr, topic string, codec sarama.CompressionCodec, recs []testRecord) {
	t.Helper()
	cfg := saramaConfig()
	cfg.Producer.Compression = codec
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Flush.Messages = 40
	cfg.Producer.Flush.Frequency = 20 * time.Millisecond
	p := newSaramaProducer(t, addr, cfg)
	var msgs []*sarama.ProducerMessage
	for _, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Partition: 0, Key: sarama.StringEncoder(r.key), Value: sarama.StringEncoder(r.value), Timestamp: r.ts}
		for _, h := range r.headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		msgs = append(msgs, m)
	}
	sendSarama(t, p, msgs)
}

// TestTopicCompressionType: for each compression.type, franz-go and sarama
// produce uncompressed and lz4 (and franz-go zstd) batches; every stored
// batch has the topic's codec (the producer's for "producer"), and both
// clients read every record back with key, value, headers and timestamp.
func TestTopicCompressionType(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	for _, ct := range []string{"zstd", "uncompressed", "producer", "gzip", "snappy", "lz4"} {
		t.Run(ct, func(t *testing.T) {
			topic := "compress-" + ct
			createTopic(t, ctx, b.Addr(), topic, 1, map[string]*string{"compression.type": &ct})
			type source struct {
				name  string
				codec int16
				send  func([]testRecord)
			}
			sources := []source{
				{"franz-none", 0, func(r []testRecord) { produceFranz(t, ctx, b.Addr(), topic, kgo.NoCompression(), r) }},
				{"franz-lz4", 3, func(r []testRecord) { produceFranz(t, ctx, b.Addr(), topic, kgo.Lz4Compression(), r) }},
				{"sarama-none", 0, func(r []testRecord) { produceSaramaRecords(t, b.Addr(), topic, sarama.CompressionNone, r) }},
				{"sarama-lz4", 3, func(r []testRecord) { produceSaramaRecords(t, b.Addr(), topic, sarama.CompressionLZ4, r) }},
			}
			if ct != "zstd" {
				sources = append(sources, source{"franz-zstd", 4, func(r []testRecord) { produceFranz(t, ctx, b.Addr(), topic, kgo.ZstdCompression(), r) }})
			}
			var all []testRecord
			var wantCodecs []int16
			for _, s := range sources {
				recs := makeTestRecords(s.name, 120)
				start := int64(len(all))
				s.send(recs)
				all = append(all, recs...)
				end := int64(len(all))
				if got := endOffsets(t, ctx, b.Addr(), topic)[0]; got != end {
					t.Fatalf("%s: end offset %d, want %d", s.name, got, end)
				}
				codecs := codecsOf(storedCodecs(t, ctx, newFranz(t, b.Addr()), topic, end))
				want := s.codec
				if ct != "producer" {
					want = codecIDs[ct]
				}
				for i := len(wantCodecs); i < len(codecs); i++ {
					wantCodecs = append(wantCodecs, want)
				}
				if fmt.Sprint(codecs) != fmt.Sprint(wantCodecs) {
					t.Fatalf("after %s (offsets %d-%d): stored codecs %v, want %v", s.name, start, end-1, codecs, wantCodecs)
				}
			}
			checkConsumed(t, ctx, b.Addr(), topic, 0, all)
		})
	}
}

// TestBrokerCompressionTypeDefault: the broker's compression.type is the
// default of every topic without its own.
func TestBrokerCompressionTypeDefault(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTopicDefault("compression.type", "zstd"))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "broker-default", 1, nil)
	recs := makeTestRecords("bd", 50)
	produceFranz(t, ctx, b.Addr(), "broker-default", kgo.NoCompression(), recs)
	for _, c := range storedCodecs(t, ctx, newFranz(t, b.Addr()), "broker-default", 50) {
		if c.codec != 4 {
			t.Fatalf("stored codec %d, want zstd from the broker default", c)
		}
	}
	checkConsumed(t, ctx, b.Addr(), "broker-default", 0, recs)
}

// TestCompressionTypeAlteredApplies: IncrementalAlterConfigs changing
// compression.type applies to the batches produced after it; batches
// already stored keep their codec.
func TestCompressionTypeAlteredApplies(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const topic = "alter-compression"
	createTopic(t, ctx, b.Addr(), topic, 1, nil)
	before := makeTestRecords("before", 60)
	produceFranz(t, ctx, b.Addr(), topic, kgo.Lz4Compression(), before)
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	zstd := "zstd"
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "compression.type", Value: &zstd}}, topic)
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter compression.type: %v %v", err, rs)
	}
	bad := "brotli"
	rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "compression.type", Value: &bad}}, topic)
	if err != nil || !errors.Is(rs[0].Err, kerr.InvalidConfig) {
		t.Fatalf("compression.type=brotli: %v %v, want INVALID_CONFIG", err, rs)
	}
	// The change reaches the partition through the metadata log; produce
	// single records until one is stored as zstd.
	cl := newFranz(t, b.Addr(), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	probes := 0
	arustest.Eventually(t, 10*time.Second, "compression.type=zstd never applied to new batches", func() bool {
		r := &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("probe-%d-%s", probes, strings.Repeat("x", 100)))}
		probes++
		res, err := cl.ProduceSync(ctx, r).First()
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		codecs := storedCodecs(t, ctx, cl, topic, res.Offset+1)
		return codecs[len(codecs)-1].codec == 4
	})
	after := makeTestRecords("after", 60)
	afterStart := int64(len(before) + probes)
	produceFranz(t, ctx, b.Addr(), topic, kgo.Lz4Compression(), after)
	nAfter := 0
	for _, c := range storedCodecs(t, ctx, cl, topic, afterStart+int64(len(after))) {
		switch {
		case c.offset < int64(len(before)) && c.codec != 3:
			t.Fatalf("batch at %d stored before the change is codec %d, want lz4 as produced", c.offset, c.codec)
		case c.offset >= afterStart && c.codec != 4:
			t.Fatalf("batch at %d produced after the change is codec %d, want zstd", c.offset, c.codec)
		case c.offset >= afterStart:
			nAfter++
		}
	}
	if nAfter == 0 {
		t.Fatal("no batch found after the change")
	}
	checkConsumed(t, ctx, b.Addr(), topic, int64(len(before)+probes), after)
}

// dropConn is a client connection that loses the response to the first
// produce requests sent on it, as a network failure between the broker's
// append and the client's read would: the broker has appended the batch,
// the client retries it on a new connection with the same sequence.
type dropConn struct {
	net.Conn
	drops   *atomic.Int32
	produce atomic.Bool // a Produce request was written on this connection
}

func (c *dropConn) Write(p []byte) (int, error) {
	// A request starts with int32 size, int16 api key (0 is Produce).
	if len(p) >= 6 && p[4] == 0 && p[5] == 0 {
		c.produce.Store(true)
	}
	return c.Conn.Write(p)
}

func (c *dropConn) Read(p []byte) (int, error) {
	if c.produce.Load() && c.drops.Add(-1) >= 0 {
		c.Conn.Close()
		return 0, net.ErrClosed
	}
	return c.Conn.Read(p)
}

// TestIdempotentProduceRecompressedRetries: an idempotent franz-go
// producer writes lz4 batches to a zstd topic while the first responses
// to its produce requests are lost; its retries are recognised as
// duplicates of the recompressed batches (same producer id, epoch and
// sequences), so every record is stored exactly once, in order.
func TestIdempotentProduceRecompressedRetries(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	const topic, n, lost = "idem-zstd", 600, 3
	zstd := "zstd"
	createTopic(t, ctx, b.Addr(), topic, 1, map[string]*string{"compression.type": &zstd})
	var drops atomic.Int32
	drops.Store(lost)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	cl := newFranz(t, b.Addr(),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.ProducerBatchMaxBytes(4<<10), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }),
		kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, host)
			if err != nil {
				return nil, err
			}
			return &dropConn{Conn: c, drops: &drops}, nil
		}))
	recs := makeTestRecords("idem", n)
	errc := make(chan error, n)
	for _, r := range recs {
		kr := &kgo.Record{Topic: topic, Partition: 0, Key: []byte(r.key), Value: []byte(r.value), Headers: r.headers, Timestamp: r.ts}
		cl.Produce(ctx, kr, func(_ *kgo.Record, err error) { errc <- err })
	}
	for range n {
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("produce: %v", err)
			}
		case <-ctx.Done():
			t.Fatal("produce: not every record acknowledged before the deadline")
		}
	}
	if d := drops.Load(); d > 0 {
		t.Fatalf("only %d of %d responses were lost: the test did not force retries", lost-d, lost)
	}
	if end := endOffsets(t, ctx, b.Addr(), topic)[0]; end != n {
		t.Fatalf("end offset %d, want %d: duplicates were stored", end, n)
	}
	for _, c := range storedCodecs(t, ctx, newFranz(t, b.Addr()), topic, n) {
		if c.codec != 4 {
			t.Fatalf("stored codec %d at %d, want zstd", c.codec, c.offset)
		}
	}
	checkConsumed(t, ctx, b.Addr(), topic, 0, recs)
	// In order: franz-go produced one partition sequentially.
	got := consumeFranz(t, ctx, b.Addr(), topic, 0, 0, n)
	for i, r := range got {
		if r.Value != recs[i].value {
			t.Fatalf("offset %d: %q, want %q", i, r.Value, recs[i].value)
		}
	}
}

// TestRecompressedBatchTooLarge: a batch within max.message.bytes as the
// producer compressed it, but not once the topic's codec (here
// uncompressed) rebuilt it, is refused with MESSAGE_TOO_LARGE (Kafka's
// UnifiedLog re-checks sizes after LogValidator rebuilt a batch:
// RecordTooLargeException) and nothing is stored.
func TestRecompressedBatchTooLarge(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	none, maxBytes := "uncompressed", "20000"
	createTopic(t, ctx, b.Addr(), "too-large", 1, map[string]*string{"compression.type": &none, "max.message.bytes": &maxBytes})
	// Manual flushing puts all 50 records into one batch (with linger 0
	// the client may send the first records alone, in small batches that
	// are rightly stored).
	cl := newFranz(t, b.Addr(), kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ManualFlushing())
	var (
		errMu    sync.Mutex
		firstErr error
	)
	for i := range 50 {
		cl.Produce(ctx, &kgo.Record{Topic: "too-large", Partition: 0, Value: []byte(fmt.Sprintf("%d%s", i, strings.Repeat("z", 1000)))},
			func(_ *kgo.Record, err error) {
				errMu.Lock()
				defer errMu.Unlock()
				if firstErr == nil {
					firstErr = err
				}
			})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	errMu.Lock()
	err := firstErr
	errMu.Unlock()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("got %v, want MESSAGE_TOO_LARGE", err)
	}
	if end := endOffsets(t, ctx, b.Addr(), "too-large")[0]; end != 0 {
		t.Fatalf("end offset %d: a refused batch was stored", end)
	}
}

// TestOldFetchOfZstdTopic: a consumer older than Fetch v10 reading a
// topic with compression.type=zstd gets UNSUPPORTED_COMPRESSION_TYPE, as
// from Kafka (KafkaApis.maybeConvertFetchedData); newer fetches read it.
func TestOldFetchOfZstdTopic(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	zstd := "zstd"
	createTopic(t, ctx, b.Addr(), "zstd-old-fetch", 1, map[string]*string{"compression.type": &zstd})
	recs := makeTestRecords("old", 10)
	produceFranz(t, ctx, b.Addr(), "zstd-old-fetch", kgo.NoCompression(), recs)
	cl := newFranz(t, b.Addr())
	for _, v := range []int16{4, 9, 10, 12} {
		req := kmsg.NewPtrFetchRequest()
		req.Version = v
		req.ReplicaID, req.MaxBytes, req.MinBytes = -1, 1<<20, 1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "zstd-old-fetch"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := cl.Request(ctx, pinned{req, v})
		if err != nil {
			t.Fatalf("fetch v%d: %v", v, err)
		}
		got := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
		want := int16(0)
		if v < 10 {
			want = kerr.UnsupportedCompressionType.Code
		}
		if got.ErrorCode != want || (want == 0) != (len(got.RecordBatches) > 0) {
			t.Fatalf("fetch v%d: error %v with %d bytes, want %v", v, errCode(got.ErrorCode), len(got.RecordBatches), errCode(want))
		}
	}
}

// pinned sends a request at exactly one version (franz-go otherwise picks
// the newest both sides support).
type pinned struct {
	kmsg.Request
	v int16
}

func (p pinned) MaxVersion() int16 { return p.v }
