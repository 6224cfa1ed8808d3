package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/record"
)

// produceBatch sends one raw batch to partition 0 of topic with the
// newest Produce version the client and broker share, and returns the
// partition's answer.
func produceBatch(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, TopicID: topicID(t, ctx, cl, topic),
		Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}}}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return resp.Topics[0].Partitions[0]
}

// setBatchCRC recomputes the CRC of a batch whose bytes a test changed, so
// only record-level validation can find the damage.
func setBatchCRC(batch []byte) {
	binary.BigEndian.PutUint32(batch[17:], record.ComputeCRC(batch))
}

// TestGarbageInsideBatchIsRefused: a batch with a correct CRC whose
// records are garbage gets CORRUPT_MESSAGE and appends nothing, and a
// franz-go consumer still reads every record acknowledged before. Before
// record-level validation the broker stored it and every consumer of the
// partition failed on it.
func TestGarbageInsideBatchIsRefused(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "garbage", 1, nil)
	cl := newFranz(t, b.Addr(), kgo.DefaultProduceTopic("garbage"))
	want := numberedValues("before", 10)
	for _, v := range want {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	bb := record.NewBuilder()
	for i := 0; i < 3; i++ {
		bb.Add(time.Now().UnixMilli(), []byte("key"), []byte(fmt.Sprintf("value-%d", i)))
	}
	for _, tc := range []struct {
		name   string
		damage func(batch []byte) []byte
		code   int16
	}{
		{"garbage in the last record", func(b []byte) []byte {
			copy(b[len(b)-12:], bytes.Repeat([]byte{0xff}, 12))
			return b
		}, kerr.CorruptMessage.Code},
		{"record count larger than the records", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[23:], 3) // lastOffsetDelta
			binary.BigEndian.PutUint32(b[57:], 4) // recordCount
			return b
		}, kerr.CorruptMessage.Code},
		{"trailing bytes after the records", func(b []byte) []byte {
			b = append(b, 0, 0, 0)
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-record.LogOverhead))
			return b
		}, kerr.CorruptMessage.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batch, err := bb.Build(record.CodecNone)
			if err != nil {
				t.Fatal(err)
			}
			batch = tc.damage(batch)
			setBatchCRC(batch)
			rp := produceBatch(t, ctx, cl, "garbage", batch)
			if rp.ErrorCode != tc.code {
				t.Fatalf("error %v (%v), want %v", kerr.ErrorForCode(rp.ErrorCode), rp.ErrorMessage, kerr.ErrorForCode(tc.code))
			}
			if rp.ErrorMessage == nil || !strings.Contains(*rp.ErrorMessage, "record") {
				t.Fatalf("error message %v does not name the record", rp.ErrorMessage)
			}
		})
	}
	if end := endOffsets(t, ctx, b.Addr(), "garbage")[0]; end != 10 {
		t.Fatalf("end offset %d after rejected batches, want 10", end)
	}
	// The partition still serves: a new record, then every record in order.
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	checkValues(t, consumeAllFranz(t, ctx, b.Addr(), "garbage", 11), 0, append(want, "after"))
}

// TestKeylessRecordOnCompactedTopic: Kafka's LogValidator rejects records
// without key on a compacted topic with INVALID_RECORD, and since KIP-467
// (Produce v8) lists each such record's index and message in the
// partition response (ProduceResponse.RecordErrors, here kmsg's
// ErrorRecords) with a summary in ErrorMessage.
func TestKeylessRecordOnCompactedTopic(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "compacted", 1, map[string]*string{"cleanup.policy": ptr("compact")})
	cl := newFranz(t, b.Addr(), kgo.DefaultProduceTopic("compacted"), kgo.ProducerLinger(0))

	err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("no key")}).FirstErr()
	if !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record: %v, want INVALID_RECORD", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("keyed")}).FirstErr(); err != nil {
		t.Fatalf("keyed record: %v", err)
	}

	bb := record.NewBuilder()
	now := time.Now().UnixMilli()
	bb.Add(now, []byte("a"), []byte("1"))
	bb.Add(now, nil, []byte("2"))
	bb.Add(now, []byte("c"), []byte("3"))
	bb.Add(now, nil, []byte("4"))
	batch, err := bb.Build(record.CodecLZ4)
	if err != nil {
		t.Fatal(err)
	}
	rp := produceBatch(t, ctx, cl, "compacted", batch)
	if rp.ErrorCode != kerr.InvalidRecord.Code {
		t.Fatalf("error %v, want INVALID_RECORD", kerr.ErrorForCode(rp.ErrorCode))
	}
	if len(rp.ErrorRecords) != 2 || rp.ErrorRecords[0].RelativeOffset != 1 || rp.ErrorRecords[1].RelativeOffset != 3 {
		t.Fatalf("record errors %+v, want batch indexes 1 and 3", rp.ErrorRecords)
	}
	for _, re := range rp.ErrorRecords {
		if re.ErrorMessage == nil || !strings.Contains(*re.ErrorMessage, "Compacted topic cannot accept message without key in topic partition compacted-0") {
			t.Fatalf("record error message %v", re.ErrorMessage)
		}
	}
	if rp.ErrorMessage == nil || !strings.Contains(*rp.ErrorMessage, "2 record errors") {
		t.Fatalf("error message %v", rp.ErrorMessage)
	}
	if end := endOffsets(t, ctx, b.Addr(), "compacted")[0]; end != 1 {
		t.Fatalf("end offset %d, want 1 (only the keyed record)", end)
	}
}

// TestInvalidTimestampRecordErrors: a record more than
// message.timestamp.after.max.ms ahead of the broker's clock fails with
// INVALID_TIMESTAMP and its index (Kafka's validateTimestamp).
func TestInvalidTimestampRecordErrors(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "clock", 1, map[string]*string{"message.timestamp.after.max.ms": ptr("60000")})
	cl := newFranz(t, b.Addr())
	bb := record.NewBuilder()
	now := time.Now().UnixMilli()
	bb.Add(now, []byte("a"), []byte("now"))
	bb.Add(now+time.Hour.Milliseconds(), []byte("b"), []byte("in an hour"))
	batch, err := bb.Build(record.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	rp := produceBatch(t, ctx, cl, "clock", batch)
	if rp.ErrorCode != kerr.InvalidTimestamp.Code || len(rp.ErrorRecords) != 1 || rp.ErrorRecords[0].RelativeOffset != 1 {
		t.Fatalf("error %v, record errors %+v; want INVALID_TIMESTAMP for index 1", kerr.ErrorForCode(rp.ErrorCode), rp.ErrorRecords)
	}
	if end := endOffsets(t, ctx, b.Addr(), "clock")[0]; end != 0 {
		t.Fatalf("end offset %d, want 0", end)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// zstdBomb is a batch of one record whose value is 1 GiB of zeros, about
// 200 KiB compressed with zstd.
func zstdBomb(t *testing.T) []byte {
	t.Helper()
	const size = 1 << 30
	var body []byte
	body = append(body, 0)
	body = binary.AppendVarint(body, 0) // timestamp delta
	body = binary.AppendVarint(body, 0) // offset delta
	body = binary.AppendVarint(body, 3) // key length
	body = append(body, "key"...)       //
	body = binary.AppendVarint(body, size)
	prefix := binary.AppendVarint(nil, int64(len(body))+size+1)
	prefix = append(prefix, body...)
	var zb bytes.Buffer
	zw, err := zstd.NewWriter(&zb, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = zw.Write(prefix)
	_, _ = io.CopyN(zw, zeroReader{}, size)
	_, _ = zw.Write([]byte{0}) // no headers
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	// A valid header around the compressed section: count 1, CRC right.
	bb := record.NewBuilder()
	bb.Add(time.Now().UnixMilli(), []byte("key"), []byte("v"))
	batch, err := bb.Build(record.CodecZstd)
	if err != nil {
		t.Fatal(err)
	}
	batch = append(batch[:record.HeaderSize], zb.Bytes()...)
	binary.BigEndian.PutUint32(batch[8:], uint32(len(batch)-record.LogOverhead))
	setBatchCRC(batch)
	return batch
}

// TestDecompressionBombs: zstd batches that decompress to 1 GiB, sent at
// once from several connections, each fail with CORRUPT_MESSAGE after the
// per-batch limit; the broker never holds more than its decompression
// budget for them, its heap grows far less than one bomb, and a
// well-behaved client produces and consumes correctly afterwards.
func TestDecompressionBombs(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	budget := record.NewBudget(8 << 20)
	old := record.DecompressionBudget()
	record.SetDecompressionBudget(budget)
	t.Cleanup(func() { record.SetDecompressionBudget(old) })
	createTopic(t, ctx, b.Addr(), "bombs", 1, nil)
	bomb := zstdBomb(t)
	t.Logf("bomb: %d bytes decompressing to 1 GiB", len(bomb))

	const conns, each = 4, 3
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var (
		wg       sync.WaitGroup
		peakHeap uint64
		peakUse  int64
		mu       sync.Mutex
		stop     = make(chan struct{})
		sampled  = make(chan struct{})
	)
	go func() { // sample heap and budget while the bombs are validated
		defer close(sampled)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				mu.Lock()
				peakHeap = max(peakHeap, ms.HeapAlloc)
				peakUse = max(peakUse, budget.InUse())
				mu.Unlock()
			}
		}
	}()
	tid := topicID(t, ctx, newFranz(t, b.Addr()), "bombs")
	codes := make(chan int16, conns*each)
	for i := 0; i < conns; i++ {
		cl := newFranz(t, b.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				req := kmsg.NewPtrProduceRequest()
				req.Acks, req.TimeoutMillis = 1, 5000
				req.Topics = []kmsg.ProduceRequestTopic{{Topic: "bombs", TopicID: tid, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: bomb}}}}
				resp, err := req.RequestWith(ctx, cl)
				if err != nil {
					codes <- -100
					continue
				}
				codes <- resp.Topics[0].Partitions[0].ErrorCode
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(codes)
	for code := range codes {
		if code != kerr.CorruptMessage.Code {
			t.Fatalf("bomb answered %v, want CORRUPT_MESSAGE", kerr.ErrorForCode(code))
		}
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bombs: allocated %d MiB in total, peak heap %d MiB (from %d MiB), peak budget use %d KiB of %d KiB",
		conns*each, allocated>>20, peakHeap>>20, before.HeapAlloc>>20, peakUse>>10, budget.Size()>>10)
	if peakUse > budget.Size() {
		t.Fatalf("budget use peaked at %d bytes, over its %d", peakUse, budget.Size())
	}
	// Each bomb is 1 GiB; before streaming validation the broker stored
	// them, and readers decompressed up to 256 MiB each.
	if allocated > 256<<20 {
		t.Fatalf("validating %d bombs allocated %d MiB", conns*each, allocated>>20)
	}
	if budget.InUse() != 0 {
		t.Fatalf("budget still holds %d bytes", budget.InUse())
	}
	if end := endOffsets(t, ctx, b.Addr(), "bombs")[0]; end != 0 {
		t.Fatalf("end offset %d, want 0", end)
	}

	// A well-behaved compressing client is unaffected.
	cl := newFranz(t, b.Addr(), kgo.DefaultProduceTopic("bombs"), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	want := numberedValues("fine", 50)
	for _, v := range want {
		cl.Produce(ctx, &kgo.Record{Key: []byte("k"), Value: []byte(v)}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkValues(t, consumeAllFranz(t, ctx, b.Addr(), "bombs", 50), 0, want)
}
