package group_test

// Durability of group state in __consumer_offsets: committed offsets and
// group metadata survive a broker restart, and expired offsets stay gone.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

func stopBroker(t *testing.T, b *arustest.Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestCommittedOffsetsSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()
	b := startBroker(t, arustest.WithDataDir(dir))
	adm := adminClient(t, b.Addr())
	topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
	createTopic(t, ctx, adm, topic, 6)
	values := produce(t, ctx, b.Addr(), topic, 6, 10, "r")

	// Consume half of each partition and commit exactly that.
	l := newLedger()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(testSession), kgo.HeartbeatInterval(testHeartbeat))
	if err != nil {
		t.Fatal(err)
	}
	var toCommit []*kgo.Record
	seen := map[string]bool{}
	for len(toCommit) < 30 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatal(err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if v := string(r.Value); r.Offset < 5 && !seen[v] {
				seen[v] = true
				toCommit = append(toCommit, r)
				l.add("before", r.Partition, r.Offset, v)
			}
		})
	}
	if err := cl.CommitRecords(ctx, toCommit...); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	// A second, offsets-only group with metadata.
	simple := uniqueName(t, "simple")
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 2, At: 7, LeaderEpoch: -1, Metadata: "checkpoint 7"})
	if err := adm.CommitAllOffsets(ctx, simple, offsets); err != nil {
		t.Fatal(err)
	}
	before, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}

	stopBroker(t, b)
	b = startBroker(t, arustest.WithDataDir(dir))
	adm = adminClient(t, b.Addr())
	after, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 6; p++ {
		o1, _ := before.Lookup(topic, p)
		o2, ok := after.Lookup(topic, p)
		if !ok || o2.At != 5 || o2.At != o1.At {
			t.Errorf("partition %d: committed %d before the restart, %+v after", p, o1.At, o2)
		}
	}
	so, err := adm.FetchOffsets(ctx, simple)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := so.Lookup(topic, 2); !ok || o.At != 7 || o.Metadata != "checkpoint 7" {
		t.Errorf("offsets-only group after restart: %+v", o)
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := listed[group]; !ok || g.State != "Empty" || g.ProtocolType != "consumer" {
		t.Errorf("group after restart: %+v (all: %v)", g, listed.Groups())
	}

	// A new member resumes after the committed offsets: exactly the rest.
	startFranzMember(t, ctx, b.Addr(), group, topic, "after", func(_ *kgo.Client, r *kgo.Record) {
		l.add("after", r.Partition, r.Offset, string(r.Value))
	})
	arustest.Eventually(t, clientTestTimeout, "the rest consumed after the restart", func() bool { return l.has(values) })
	l.checkExactlyOnce(t, values)
}

func TestOffsetsExpireAfterRetention(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()
	b := startBroker(t, arustest.WithDataDir(dir), arustest.WithOffsetsRetention(500*time.Millisecond, 50*time.Millisecond))
	adm := adminClient(t, b.Addr())
	topic := uniqueName(t, "topic")
	createTopic(t, ctx, adm, topic, 1)
	group := uniqueName(t, "group")
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 3, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}
	arustest.Eventually(t, clientTestTimeout, "the offsets and the group expire", func() bool {
		fetched, err := adm.FetchOffsets(ctx, group)
		listed, lerr := adm.ListGroups(ctx)
		_, listedGroup := listed[group]
		return err == nil && lerr == nil && len(fetched) == 0 && !listedGroup
	})
	// The tombstones are durable: the group stays gone after a restart.
	stopBroker(t, b)
	b = startBroker(t, arustest.WithDataDir(dir))
	adm = adminClient(t, b.Addr())
	fetched, err := adm.FetchOffsets(ctx, group)
	if err != nil || len(fetched) != 0 {
		t.Errorf("offsets after restart: %v %v", fetched, err)
	}
}

// TestCompactedOffsetsReload: __consumer_offsets is compacted like any
// compacted topic; after the cleaner dropped the superseded commits, a
// restart still loads the latest offset of every partition and keeps
// deleted groups deleted.
func TestCompactedOffsetsReload(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()
	smallSegments := func(c *config.Broker) { c.Groups.OffsetsTopicSegmentBytes = 1024 }
	b := startBroker(t, arustest.WithDataDir(dir), smallSegments)
	adm := adminClient(t, b.Addr())
	topic := uniqueName(t, "topic")
	createTopic(t, ctx, adm, topic, 2)
	keep, drop := uniqueName(t, "keep"), uniqueName(t, "drop")
	for i := int64(1); i <= 100; i++ {
		for _, g := range []string{keep, drop} {
			o := kadm.Offsets{}
			o.Add(kadm.Offset{Topic: topic, Partition: int32(i % 2), At: i, LeaderEpoch: -1, Metadata: fmt.Sprint("commit ", i)})
			if err := adm.CommitAllOffsets(ctx, g, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := adm.DeleteGroups(ctx, drop); err != nil {
		t.Fatal(err)
	}
	sizeOf := func() int64 {
		var n int64
		for p := int32(0); p < 50; p++ {
			if part := b.Partition("__consumer_offsets", p); part != nil {
				n += part.Size()
			}
		}
		return n
	}
	before := sizeOf()
	b.Compact()
	if after := sizeOf(); after >= before {
		t.Errorf("compaction reclaimed nothing: %d bytes before, %d after", before, after)
	}

	stopBroker(t, b)
	b = startBroker(t, arustest.WithDataDir(dir), smallSegments)
	adm = adminClient(t, b.Addr())
	got, err := adm.FetchOffsets(ctx, keep)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: 100, 1: 99} {
		if o, ok := got.Lookup(topic, p); !ok || o.At != want || o.Metadata != fmt.Sprint("commit ", want) {
			t.Errorf("partition %d after compaction and restart: %+v, want %d", p, o, want)
		}
	}
	if got, err := adm.FetchOffsets(ctx, drop); err != nil || len(got) != 0 {
		t.Errorf("the deleted group came back: %v %v", got, err)
	}
}
