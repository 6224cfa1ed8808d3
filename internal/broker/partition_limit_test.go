package broker_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

func countFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// produceAndReadBack produces one record to each partition given and
// reads each back with a new client (a new connection).
func produceAndReadBack(t *testing.T, ctx context.Context, addr, topic string, partitions []int32) {
	t.Helper()
	cl := newFranz(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, p := range partitions {
		r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("value-%d", p))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s-%d: %v", topic, p, err)
		}
	}
	for _, p := range partitions {
		got := consumeFranz(t, ctx, addr, topic, p, 0, 1)
		if want := fmt.Sprintf("value-%d", p); got[0].Value != want {
			t.Fatalf("%s-%d holds %q, want %q", topic, p, got[0].Value, want)
		}
	}
}

// TestTenThousandPartitions: one broker hosts 10,000 partitions created by
// CreateTopics without running out of file descriptors (three per segment
// before the file cache: 30,000, over this machine's limit of 20,000),
// keeps accepting connections, and produce and consume work on them.
func TestTenThousandPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10,000 partitions")
	}
	if runtime.GOOS != "linux" {
		t.Skip("counts /proc/self/fd")
	}
	const topics, perTopic = 10, 1000
	b := arustest.StartBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	before := countFDs(t)
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("many-%d", i)
	}
	// One request per topic: the broker opens a created topic's partitions
	// on the metadata apply path, within the quorum's append timeout.
	start := time.Now()
	for _, name := range names {
		resp, err := adm.CreateTopics(ctx, perTopic, 1, nil, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := resp[name]; r.Err != nil {
			t.Fatalf("create %s: %v (%s)", name, r.Err, r.ErrMessage)
		}
	}
	arustest.Eventually(t, 60*time.Second, "every partition open on the broker", func() bool {
		for _, name := range names {
			for p := range int32(perTopic) {
				if b.Partition(name, p) == nil {
					return false
				}
			}
		}
		return true
	})
	// One descriptor per partition at most (its active segment's .log,
	// in the file cache); index files hold none.
	opened := countFDs(t) - before
	t.Logf("%d partitions created in %v; %d descriptors more", topics*perTopic, time.Since(start).Round(time.Millisecond), opened)
	if opened > topics*perTopic+200 {
		t.Fatalf("%d more descriptors for %d partitions", opened, topics*perTopic)
	}
	// New connections are accepted and served.
	for i := range 5 {
		cl := newFranz(t, b.Addr())
		if err := cl.Ping(ctx); err != nil {
			t.Fatalf("connection %d after creating the partitions: %v", i, err)
		}
	}
	produceAndReadBack(t, ctx, b.Addr(), names[0], []int32{0, 499, 999})
	produceAndReadBack(t, ctx, b.Addr(), names[topics-1], []int32{7})
	start = time.Now()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	t.Logf("shutdown with %d partitions took %v", topics*perTopic, time.Since(start).Round(time.Millisecond))
}

// TestCreateTopicsOverPartitionLimit: with arus.max.partitions.per.broker
// set, a CreateTopics that would pass it gets POLICY_VIOLATION with a
// message saying why and creates nothing, CreatePartitions gets
// INVALID_PARTITIONS, and topics that fit are still created and served.
func TestCreateTopicsOverPartitionLimit(t *testing.T) {
	b := arustest.StartBroker(t, func(c *config.Broker) { c.MaxPartitionsPerBroker = 100 })
	ctx := testContext(t)
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	createTopic(t, ctx, b.Addr(), "fits", 60, nil)

	resp, err := adm.CreateTopics(ctx, 30, 1, nil, "also-fits")
	if err != nil || resp["also-fits"].Err != nil {
		t.Fatalf("30 more partitions (90 of 100): %v %v", err, resp["also-fits"].Err)
	}
	resp, err = adm.CreateTopics(ctx, 20, 1, nil, "too-many")
	if err != nil {
		t.Fatal(err)
	}
	r := resp["too-many"]
	if r.Err != kerr.PolicyViolation {
		t.Fatalf("20 more partitions (110 of 100): %v, want POLICY_VIOLATION", r.Err)
	}
	if !strings.Contains(r.ErrMessage, "arus.max.partitions.per.broker") || !strings.Contains(r.ErrMessage, "limit of 100") {
		t.Fatalf("error message %q does not say why", r.ErrMessage)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("too-many") {
		t.Fatal("the refused topic exists")
	}
	if _, err := os.Stat(b.Config.DataDir + "/too-many-0"); !os.IsNotExist(err) {
		t.Fatalf("the refused topic has data on disk: %v", err)
	}

	cp, err := adm.CreatePartitions(ctx, 20, "fits")
	if err != nil {
		t.Fatal(err)
	}
	if got := cp["fits"]; got.Err != kerr.InvalidPartitions || !strings.Contains(got.ErrMessage, "limit of 100") {
		t.Fatalf("create partitions over the limit: %v %q, want INVALID_PARTITIONS", got.Err, got.ErrMessage)
	}
	td, err := adm.ListTopics(ctx, "fits")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["fits"].Partitions); n != 60 {
		t.Fatalf("fits has %d partitions after a refused CreatePartitions, want 60", n)
	}
	produceAndReadBack(t, ctx, b.Addr(), "fits", []int32{0, 59})
}
