package broker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

// produceOneByOne writes n records each in its own batch, timestamped ts(i).
func produceOneByOne(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, n int, ts func(int) time.Time) {
	t.Helper()
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: topic, Partition: 0, Value: []byte(fmt.Sprintf("%04d-%s", i, strings.Repeat("x", 150))), Timestamp: ts(i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return matches
}

func TestSegmentRollAndRetention(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	t.Run("roll by segment.bytes, read across segments", func(t *testing.T) {
		_, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": ptr("2000")}, "roll")
		if err != nil {
			t.Fatal(err)
		}
		produceOneByOne(t, ctx, cl, "roll", 60, func(int) time.Time { return time.Now() })
		segs := segmentFiles(t, filepath.Join(b.Config.DataDir, "roll-0"))
		if len(segs) < 5 {
			t.Fatalf("%d segments for 60 x ~220-byte batches with segment.bytes=2000", len(segs))
		}
		for _, s := range segs {
			if st, _ := os.Stat(s); st.Size() > 2000 {
				t.Fatalf("segment %s is %d bytes, over segment.bytes", s, st.Size())
			}
		}
		got := consumePartition(t, ctx, b.Addr(), "roll", 0, 0, 60)
		for i, r := range got {
			if r.Offset != int64(i) || !strings.HasPrefix(string(r.Value), fmt.Sprintf("%04d-", i)) {
				t.Fatalf("record %d: offset %d value %.10q", i, r.Offset, r.Value)
			}
		}
	})

	t.Run("retention.bytes moves the log start", func(t *testing.T) {
		_, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": ptr("2000"), "retention.bytes": ptr("4000")}, "bysize")
		if err != nil {
			t.Fatal(err)
		}
		produceOneByOne(t, ctx, cl, "bysize", 60, func(int) time.Time { return time.Now() })
		b.EnforceRetention()
		start := startOffset(t, ctx, adm, "bysize")
		if start == 0 {
			t.Fatal("log start offset still 0 after retention.bytes")
		}
		var total int64
		for _, s := range segmentFiles(t, filepath.Join(b.Config.DataDir, "bysize-0")) {
			st, _ := os.Stat(s)
			total += st.Size()
		}
		if total > 4000+2000 {
			t.Fatalf("%d bytes kept, retention.bytes=4000 plus one segment allows at most 6000", total)
		}
		if code := fetchErrorAt(t, ctx, cl, "bysize", 0); code != kerr.OffsetOutOfRange.Code {
			t.Fatalf("fetch at 0 after retention: error %d, want OFFSET_OUT_OF_RANGE", code)
		}
		got := consumePartition(t, ctx, b.Addr(), "bysize", 0, start, int(60-start))
		if got[0].Offset != start || got[len(got)-1].Offset != 59 {
			t.Fatalf("kept records %d..%d, want %d..59", got[0].Offset, got[len(got)-1].Offset, start)
		}
	})

	t.Run("retention.ms deletes old segments", func(t *testing.T) {
		_, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": ptr("2000"), "retention.ms": ptr("3600000")}, "bytime")
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-2 * time.Hour)
		produceOneByOne(t, ctx, cl, "bytime", 40, func(i int) time.Time {
			if i < 30 {
				return old
			}
			return time.Now()
		})
		b.EnforceRetention()
		start := startOffset(t, ctx, adm, "bytime")
		if start == 0 || start > 30 {
			t.Fatalf("log start %d, want past the old segments but not past offset 30", start)
		}
	})
}

func startOffset(t *testing.T, ctx context.Context, adm *kadm.Client, topic string) int64 {
	t.Helper()
	offs, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok || o.Err != nil {
		t.Fatalf("start offset of %s: %v", topic, o.Err)
	}
	return o.Offset
}

// fetchErrorAt sends one Fetch for partition 0 at offset and returns its error code.
func fetchErrorAt(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, offset int64) int16 {
	t.Helper()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxBytes, req.MaxWaitMillis = 1<<20, 10
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, topics[topic].ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = 0, offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// consumePartition reads n records of one partition from offset.
func consumePartition(t *testing.T, ctx context.Context, addr, topic string, partition int32, from int64, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {partition: kgo.NewOffset().At(from)},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records of %s before the deadline", len(out), n, topic)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}
