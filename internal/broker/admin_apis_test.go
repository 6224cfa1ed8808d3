package broker_test

// Admin APIs operators' tools call (issue 10): DeleteRecords,
// DescribeLogDirs, DescribeTopicPartitions, UpdateFeatures and finalized
// features in ApiVersions, ListConfigResources and the KIP-714 telemetry
// keys, with franz-go's kadm, sarama's ClusterAdmin and raw requests.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

// produceN writes n records to partition 0 of topic, one batch each.
func produceN(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, n int) {
	t.Helper()
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: 0, Value: fmt.Appendf(nil, "v%02d", i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// A consumer cannot read below the new log start offset, ListOffsets
// earliest returns it, the errors are Kafka's, and it survives a restart.
func TestDeleteRecordsFranz(t *testing.T) {
	dir := t.TempDir()
	b := arustest.StartBroker(t, arustest.WithDataDir(dir))
	ctx := testContext(t)
	cl := newFranz(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	createTopic(t, ctx, b.Addr(), "dr", 1, nil)
	createTopic(t, ctx, b.Addr(), "dr-compact", 1, map[string]*string{"cleanup.policy": ptr("compact")})
	produceN(t, ctx, cl, "dr", 10)

	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: "dr", Partition: 0, At: 4})
	resps, err := adm.DeleteRecords(ctx, offsets)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := resps.Lookup("dr", 0)
	if r.Err != nil || r.LowWatermark != 4 {
		t.Fatalf("delete records: low watermark %d, %v", r.LowWatermark, r.Err)
	}
	if got := startOffset(t, ctx, adm, "dr"); got != 4 {
		t.Fatalf("earliest offset %d, want 4", got)
	}
	if code := fetchErrorAt(t, ctx, cl, "dr", 2); code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch below the start: code %d, want OFFSET_OUT_OF_RANGE", code)
	}
	// A consumer without a reset policy sees the error; one resetting to
	// the start reads from 4.
	noReset := newFranz(t, b.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"dr": {0: kgo.NewOffset().At(1)}}),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()))
	fs := noReset.PollFetches(ctx)
	var fetchErr error
	fs.EachError(func(_ string, _ int32, err error) { fetchErr = err })
	if !errors.Is(fetchErr, kerr.OffsetOutOfRange) {
		t.Fatalf("consumer at offset 1: %v, want OFFSET_OUT_OF_RANGE", fetchErr)
	}
	got := consumeFranz(t, ctx, b.Addr(), "dr", 0, 1, 6) // out of range: resets to the start
	if got[0].Offset != 4 || got[0].Value != "v04" {
		t.Fatalf("consumer reset to %d %q, want 4 v04", got[0].Offset, got[0].Value)
	}

	// Kafka's errors (Partition.deleteRecordsOnLeader, ReplicaManager).
	check := func(topic string, partition int32, at int64, want error) {
		t.Helper()
		var o kadm.Offsets
		o.Add(kadm.Offset{Topic: topic, Partition: partition, At: at})
		resps, err := adm.DeleteRecords(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := resps.Lookup(topic, partition)
		if !errors.Is(r.Err, want) {
			t.Errorf("%s[%d] at %d: %v, want %v", topic, partition, at, r.Err, want)
		}
	}
	check("dr", 0, 11, kerr.OffsetOutOfRange)       // above the high watermark
	check("dr", 0, -5, kerr.OffsetOutOfRange)       // negative, not -1
	check("dr-compact", 0, 0, kerr.PolicyViolation) // cleanup.policy=compact

	// Unknown partitions, by a raw request (kadm cannot route them).
	raw := kmsg.NewPtrDeleteRecordsRequest()
	raw.TimeoutMillis = 1000
	for _, tp := range []struct {
		topic     string
		partition int32
	}{{"dr", 3}, {"dr-none", 0}, {"__consumer_offsets", 0}} {
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = tp.topic
		rt.Partitions = []kmsg.DeleteRecordsRequestTopicPartition{{Partition: tp.partition, Offset: 1}}
		raw.Topics = append(raw.Topics, rt)
	}
	// The group coordinator creates __consumer_offsets on first use.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "dr-group"
	if _, err := fc.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	arustest.Eventually(t, 10*time.Second, "__consumer_offsets created", func() bool {
		return b.Controller().Image().Topics["__consumer_offsets"] != nil
	})
	// Straight to the broker: franz-go would route by partition leader.
	out, err := cl.SeedBrokers()[0].Request(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	rawResp := out.(*kmsg.DeleteRecordsResponse)
	for _, rt := range rawResp.Topics {
		want := kerr.UnknownTopicOrPartition.Code
		if rt.Topic == "__consumer_offsets" {
			want = kerr.InvalidTopicException.Code // internal topics are refused
		}
		if p := rt.Partitions[0]; p.ErrorCode != want || p.LowWatermark != -1 {
			t.Errorf("%s[%d]: code %d low watermark %d", rt.Topic, p.Partition, p.ErrorCode, p.LowWatermark)
		}
	}

	// The start survives a restart.
	cl.Close()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	b2 := arustest.StartBroker(t, arustest.WithDataDir(dir))
	cl2 := newFranz(t, b2.Addr())
	adm2 := kadm.NewClient(cl2)
	if got := startOffset(t, ctx, adm2, "dr"); got != 4 {
		t.Fatalf("earliest offset %d after a restart, want 4", got)
	}
	if code := fetchErrorAt(t, ctx, cl2, "dr", 3); code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch below the start after a restart: code %d", code)
	}
	// -1 deletes up to the high watermark.
	var all kadm.Offsets
	all.Add(kadm.Offset{Topic: "dr", Partition: 0, At: -1})
	resps, err = adm2.DeleteRecords(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resps.Lookup("dr", 0); r.Err != nil || r.LowWatermark != 10 {
		t.Fatalf("delete to the high watermark: %d, %v", r.LowWatermark, r.Err)
	}
}

// sarama's ClusterAdmin: DeleteRecords and DescribeLogDirs.
func TestDeleteRecordsAndLogDirsSarama(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	cl := newFranz(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, ctx, b.Addr(), "sr", 2, nil)
	produceN(t, ctx, cl, "sr", 6)

	cfg := saramaConfig()
	adm, err := sarama.NewClusterAdmin([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := adm.DeleteRecords("sr", map[int32]int64{0: 3}); err != nil {
		t.Fatalf("sarama delete records: %v", err)
	}
	if got := startOffset(t, ctx, kadm.NewClient(cl), "sr"); got != 3 {
		t.Fatalf("earliest offset %d after sarama's DeleteRecords, want 3", got)
	}
	if err := adm.DeleteRecords("sr", map[int32]int64{0: 100}); err == nil || !strings.Contains(err.Error(), "outside the range of offsets") {
		t.Fatalf("delete above the high watermark: %v", err)
	}

	nodeID := b.Controller().Image().BrokerIDs()[0]
	dirs, err := adm.DescribeLogDirs([]int32{nodeID})
	if err != nil {
		t.Fatalf("sarama describe log dirs: %v", err)
	}
	found := map[int32]int64{}
	for _, d := range dirs[nodeID] {
		if d.ErrorCode != sarama.ErrNoError || d.Path == "" {
			t.Fatalf("log dir %q: %v", d.Path, d.ErrorCode)
		}
		for _, tp := range d.Topics {
			if tp.Topic != "sr" {
				continue
			}
			for _, p := range tp.Partitions {
				found[p.PartitionID] = p.Size
				if p.OffsetLag != 0 || p.IsTemporary {
					t.Errorf("partition %d: lag %d future %v", p.PartitionID, p.OffsetLag, p.IsTemporary)
				}
			}
		}
	}
	if len(found) != 2 || found[0] <= 0 || found[1] != 0 {
		t.Fatalf("sizes of sr's partitions: %v (want partition 0 > 0, partition 1 empty)", found)
	}
}

// kadm's DescribeLogDirs (v4: the volume's total and usable bytes) on a
// 3-node cluster, and DeleteRecords answered once the followers' log start
// offsets followed the leader's.
func TestDeleteRecordsReplicated(t *testing.T) {
	c := arustest.StartCluster(t, 3)
	ctx := testContext(t)
	addrs := c.Addrs()
	cl := newFranz(t, addrs[0], kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	adm := kadm.NewClient(cl)
	if resp, err := adm.CreateTopic(ctx, 1, 3, nil, "rep"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	produceN(t, ctx, cl, "rep", 8)

	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: "rep", Partition: 0, At: 5})
	resps, err := adm.DeleteRecords(ctx, offsets)
	if err != nil {
		t.Fatal(err)
	}
	// The low watermark is the smallest start over the replicas: 5 means
	// every follower already applied it.
	if r, _ := resps.Lookup("rep", 0); r.Err != nil || r.LowWatermark != 5 {
		t.Fatalf("delete records: low watermark %d, %v", r.LowWatermark, r.Err)
	}
	for id := int32(1); id <= 3; id++ {
		p := c.Broker(id).Partition("rep", 0)
		if p == nil || p.LogStartOffset() != 5 {
			t.Fatalf("broker %d: log start offset not 5 (%v)", id, p)
		}
	}

	// A follower keeps the start across a crash: it is on its disk, not
	// only learnt again from the leader.
	leader, err := c.Leader("rep", 0)
	if err != nil {
		t.Fatal(err)
	}
	follower := leader%3 + 1
	c.Crash(follower)
	restarted := c.Start(follower)
	arustest.Eventually(t, 10*time.Second, "the restarted follower opens rep-0", func() bool {
		return restarted.Partition("rep", 0) != nil
	})
	if got := restarted.Partition("rep", 0).LogStartOffset(); got != 5 {
		t.Fatalf("restarted follower %d: log start offset %d, want 5", follower, got)
	}

	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	replicas := 0
	dirs.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil || d.Dir == "" {
			t.Errorf("broker %d dir %q: %v", d.Broker, d.Dir, d.Err)
		}
		if d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
			t.Errorf("broker %d: total %d usable %d", d.Broker, d.TotalBytes, d.UsableBytes)
		}
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if p.Topic == "rep" {
				replicas++
				if p.Size <= 0 || p.OffsetLag < 0 || p.IsFuture {
					t.Errorf("broker %d rep-%d: size %d lag %d future %v", p.Broker, p.Partition, p.Size, p.OffsetLag, p.IsFuture)
				}
			}
		})
	})
	if replicas != 3 {
		t.Fatalf("rep-0 described on %d brokers, want 3", replicas)
	}
}

// DescribeTopicPartitions pages through partitions with a cursor.
func TestDescribeTopicPartitionsPaging(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	cl := newFranz(t, b.Addr())
	nodeID := b.Controller().Image().BrokerIDs()[0]
	createTopic(t, ctx, b.Addr(), "dtp-a", 3, nil)
	createTopic(t, ctx, b.Addr(), "dtp-b", 2, nil)

	describe := func(topics []string, limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor) *kmsg.DescribeTopicPartitionsResponse {
		t.Helper()
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		for _, name := range topics {
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = name
			req.Topics = append(req.Topics, rt)
		}
		req.ResponsePartitionLimit, req.Cursor = limit, cursor
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	type seen struct {
		topic     string
		partition int32
	}
	var got []seen
	var cursor *kmsg.DescribeTopicPartitionsRequestCursor
	names := []string{"dtp-b", "dtp-a", "dtp-missing"}
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("too many pages")
		}
		resp := describe(names, 2, cursor)
		for _, rt := range resp.Topics {
			if *rt.Topic == "dtp-missing" {
				if rt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
					t.Errorf("missing topic: code %d", rt.ErrorCode)
				}
				continue
			}
			if rt.ErrorCode != 0 || rt.TopicID == ([16]byte{}) {
				t.Fatalf("%s: code %d id %x", *rt.Topic, rt.ErrorCode, rt.TopicID)
			}
			for _, p := range rt.Partitions {
				if p.LeaderID != nodeID || len(p.Replicas) != 1 || p.EligibleLeaderReplicas == nil || p.LastKnownELR == nil {
					t.Errorf("%s-%d: %+v", *rt.Topic, p.Partition, p)
				}
				got = append(got, seen{*rt.Topic, p.Partition})
			}
		}
		if resp.NextCursor == nil {
			break
		}
		cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
	}
	want := []seen{{"dtp-a", 0}, {"dtp-a", 1}, {"dtp-a", 2}, {"dtp-b", 0}, {"dtp-b", 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages gave %v, want %v", got, want)
	}
	// A cursor naming a topic not asked for is INVALID_REQUEST.
	resp := describe([]string{"dtp-a"}, 10, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "dtp-b"})
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("bad cursor: %+v", resp.Topics)
	}
}

// ApiVersions v3+ carries metadata.version as supported and finalized;
// UpdateFeatures accepts the level arus has and refuses anything else with
// Kafka's INVALID_UPDATE_VERSION, for the whole request.
func TestFeatures(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	cl := newFranz(t, b.Addr())
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "arus-test", "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	// metadata.version first; transaction.version 2 (KIP-890) follows.
	if len(resp.SupportedFeatures) != 2 || resp.SupportedFeatures[0].Name != "metadata.version" ||
		resp.SupportedFeatures[0].MinVersion != 21 || resp.SupportedFeatures[0].MaxVersion != 21 ||
		resp.SupportedFeatures[1].Name != "transaction.version" || resp.SupportedFeatures[1].MaxVersion != 2 {
		t.Fatalf("supported features %+v", resp.SupportedFeatures)
	}
	if len(resp.FinalizedFeatures) != 2 || resp.FinalizedFeatures[0].MaxVersionLevel != 21 || resp.FinalizedFeaturesEpoch < 0 {
		t.Fatalf("finalized features %+v epoch %d", resp.FinalizedFeatures, resp.FinalizedFeaturesEpoch)
	}

	adm := kadm.NewClient(cl)
	res, err := adm.UpdateFeatures(ctx, false, kadm.FeatureUpdate{Feature: "metadata.version", MaxVersionLevel: 21, UpgradeType: 1})
	if err != nil || res.Error() != nil {
		t.Fatalf("same level: %v %v", err, res.Error())
	}
	for _, u := range []kadm.FeatureUpdate{
		{Feature: "metadata.version", MaxVersionLevel: 25, UpgradeType: 1}, // newer than supported
		{Feature: "metadata.version", MaxVersionLevel: 20, UpgradeType: 2}, // downgrade
		{Feature: "group.version", MaxVersionLevel: 1, UpgradeType: 1},     // not implemented
		{Feature: "metadata.version", MaxVersionLevel: 21, UpgradeType: 9}, // unknown upgrade type
	} {
		res, err := adm.UpdateFeatures(ctx, false, u)
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(res.Error(), kerr.InvalidUpdateVersion) {
			t.Errorf("%+v: %v, want INVALID_UPDATE_VERSION", u, res.Error())
		}
	}
	raw := kmsg.NewPtrUpdateFeaturesRequest()
	raw.FeatureUpdates = []kmsg.UpdateFeaturesRequestFeatureUpdate{{Feature: "metadata.version", MaxVersionLevel: 25, UpgradeType: 1}}
	rresp, err := raw.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if rresp.ErrorMessage == nil || *rresp.ErrorMessage != "The update failed for all features since the following feature had an error: "+
		"Invalid update version 25 for feature metadata.version. Local controller "+fmt.Sprint(b.Controller().Image().BrokerIDs()[0])+" only supports versions 21" {
		t.Errorf("message %q", *rresp.ErrorMessage)
	}
}

// ListConfigResources (v1) lists brokers, broker loggers and topics.
func TestListConfigResources(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	cl := newFranz(t, b.Addr())
	createTopic(t, ctx, b.Addr(), "lcr", 1, nil)
	listed, err := kadm.NewClient(cl).ListConfigResources(ctx)
	if err != nil || listed.Err != nil {
		t.Fatal(err, listed.Err)
	}
	has := func(name string, typ kadm.ConfigResourceType) bool {
		for _, r := range listed.Resources {
			if r.Name == name && r.Type == typ {
				return true
			}
		}
		return false
	}
	id := fmt.Sprint(b.Controller().Image().BrokerIDs()[0])
	if !has("lcr", kadm.ConfigResourceType(2)) || !has(id, kadm.ConfigResourceType(4)) || !has(id, kadm.ConfigResourceType(8)) {
		t.Fatalf("resources %+v", listed.Resources)
	}
	topicsOnly, err := kadm.NewClient(cl).ListConfigResources(ctx, kadm.ConfigResourceType(2))
	if err != nil || topicsOnly.Err != nil {
		t.Fatal(err, topicsOnly.Err)
	}
	for _, r := range topicsOnly.Resources {
		if r.Type != 2 {
			t.Fatalf("asked for topics, got %+v", r)
		}
	}
	bad, err := kadm.NewClient(cl).ListConfigResources(ctx, kadm.ConfigResourceType(64))
	if err != nil || !errors.Is(bad.Err, kerr.UnsupportedVersion) {
		t.Fatalf("unknown type: %v %v", err, bad.Err)
	}
}

// KIP-714: a client gets an instance id and the default subscription
// (arus.client.telemetry.metrics, cumulative sums), may push for it once
// per interval, a stale subscription is refused, metrics that are not
// OTLP are INVALID_RECORD;
// franz-go clients (which ask for subscriptions when a broker advertises
// the keys) keep working.
func TestClientTelemetry(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	cl := newFranz(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, ctx, b.Addr(), "tel", 1, nil)
	produceN(t, ctx, cl, "tel", 2)

	get := kmsg.NewPtrGetTelemetrySubscriptionsRequest()
	sub, err := get.RequestWith(ctx, cl)
	if err != nil || sub.ErrorCode != 0 {
		t.Fatal(err, sub.ErrorCode)
	}
	if sub.ClientInstanceID == ([16]byte{}) || strings.Join(sub.RequestedMetrics, ",") != config.DefaultClientTelemetryMetrics ||
		sub.PushIntervalMillis != 300000 || sub.DeltaTemporality ||
		sub.TelemetryMaxBytes != 1<<20 || len(sub.AcceptedCompressionTypes) != 4 {
		t.Fatalf("subscription %+v", sub)
	}
	push := func(subID int32, terminating bool) int16 {
		req := kmsg.NewPtrPushTelemetryRequest()
		req.ClientInstanceID, req.SubscriptionID, req.Terminating = sub.ClientInstanceID, subID, terminating
		req.Metrics = []byte{0x0a, 0x00} // OTLP MetricsData with one empty ResourceMetrics
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode
	}
	if code := push(sub.SubscriptionID, false); code != 0 {
		t.Fatalf("first push: %d", code)
	}
	if code := push(sub.SubscriptionID, false); code != kerr.ThrottlingQuotaExceeded.Code {
		t.Fatalf("second push within the interval: %d", code)
	}
	if code := push(sub.SubscriptionID+1, true); code != kerr.UnknownSubscriptionID.Code {
		t.Fatalf("stale subscription: %d", code)
	}
	if code := push(sub.SubscriptionID, false); code != kerr.InvalidRequest.Code {
		t.Fatalf("push after terminating: %d", code)
	}
	again, err := get.RequestWith(ctx, cl)
	if err != nil || again.ErrorCode != 0 || again.ClientInstanceID == sub.ClientInstanceID {
		t.Fatalf("a second zero-id request gets a new instance: %v %+v", err, again)
	}
	garbage := kmsg.NewPtrPushTelemetryRequest()
	garbage.ClientInstanceID, garbage.SubscriptionID, garbage.Metrics = again.ClientInstanceID, again.SubscriptionID, []byte("otlp")
	if resp, err := garbage.RequestWith(ctx, cl); err != nil || resp.ErrorCode != kerr.InvalidRecord.Code {
		t.Fatalf("metrics that are not OTLP: %v %+v", err, resp)
	}
	got := consumeFranz(t, ctx, b.Addr(), "tel", 0, 0, 2)
	if len(got) != 2 {
		t.Fatalf("consumed %d", len(got))
	}
}
