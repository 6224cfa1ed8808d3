package broker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
)

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	for _, f := range segmentFiles(t, dir) {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		total += st.Size()
	}
	return total
}

func TestCompactedTopicKeepsLatestPerKey(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, err = kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{
		"cleanup.policy": ptr("compact"), "segment.bytes": ptr("4096"), "min.cleanable.dirty.ratio": ptr("0.01"),
	}, "compacted")
	if err != nil {
		t.Fatal(err)
	}
	// A keyless record is refused on a compacted topic.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "compacted", Value: []byte("no key")}).FirstErr(); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("keyless record on compacted topic: %v, want INVALID_RECORD", err)
	}
	// 400 versions of 5 keys, one record per batch so segments roll.
	const versions, keys = 80, 5
	latest := map[string]int64{}
	for v := 0; v < versions; v++ {
		for k := 0; k < keys; k++ {
			key := fmt.Sprintf("key-%d", k)
			res := cl.ProduceSync(ctx, &kgo.Record{Topic: "compacted", Key: []byte(key), Value: []byte(fmt.Sprintf("%s-v%03d-%040d", key, v, 0))})
			if err := res.FirstErr(); err != nil {
				t.Fatal(err)
			}
			r, _ := res.First()
			latest[key] = r.Offset
		}
	}
	dir := filepath.Join(b.Config.DataDir, "compacted-0")
	before := dirSize(t, dir)
	b.Compact()
	after := dirSize(t, dir)
	if after >= before/2 {
		t.Fatalf("compaction kept %d of %d bytes", after, before)
	}
	// Everything left is readable at its original offset: every key's
	// latest value survives, older versions survive only in the active segment.
	recs := consumePartitionUntil(t, ctx, b.Addr(), "compacted", 0, latest)
	for key, off := range latest {
		found := false
		for _, r := range recs {
			if string(r.Key) == key && r.Offset == off {
				found = true
			}
		}
		if !found {
			t.Fatalf("latest record of %s (offset %d) is gone", key, off)
		}
	}
	if len(recs) >= versions*keys/2 {
		t.Fatalf("%d records left of %d", len(recs), versions*keys)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Offset <= recs[i-1].Offset {
			t.Fatalf("offsets not increasing: %d then %d", recs[i-1].Offset, recs[i].Offset)
		}
	}
}

// consumePartitionUntil reads a partition from the start until every
// offset in want has been passed.
func consumePartitionUntil(t *testing.T, ctx context.Context, addr, topic string, partition int32, want map[string]int64) []*kgo.Record {
	t.Helper()
	var last int64
	for _, o := range want {
		last = max(last, o)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < last {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out reading %s", topic)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}
