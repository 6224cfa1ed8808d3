package broker_test

import (
	"context"
	"errors"
	"math/rand"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

// throttleHook counts the throttles a client was told about.
type throttleHook struct {
	count atomic.Int64
	max   atomic.Int64 // milliseconds
}

func (h *throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d <= 0 {
		return
	}
	h.count.Add(1)
	for {
		cur := h.max.Load()
		if d.Milliseconds() <= cur || h.max.CompareAndSwap(cur, d.Milliseconds()) {
			return
		}
	}
}

func strp(s string) *string { return &s }

func quotaBroker(t *testing.T) *arustest.Broker {
	t.Helper()
	// Two 1 s windows: the rate is measured over 1-2 s, so a test sees
	// throttling within its first seconds.
	return arustest.StartBroker(t, func(c *config.Broker) {
		if err := config.ApplyProperties(c, map[string]string{"quota.window.num": "2", "quota.window.size.seconds": "1"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestClientQuotasAlterDescribe(t *testing.T) {
	ctx := testContext(t)
	b := quotaBroker(t)
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	entries := []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: strp("alice")}, {Type: "client-id", Name: strp("app")}},
			Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1024}, {Key: "consumer_byte_rate", Value: 2048}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "user"}}, Ops: []kadm.AlterClientQuotaOp{{Key: "request_percentage", Value: 12.5}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: strp("app")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 4096}}},
		// Rejected as Kafka rejects them: an unknown key, a fractional
		// byte rate, ip combined with user, an empty entity.
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: strp("bob")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "no_such_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: strp("bob")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1.5}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: strp("127.0.0.1")}, {Type: "user", Name: strp("bob")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 1}}},
		{Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1}}},
	}
	altered, err := adm.AlterClientQuotas(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range altered {
		wantErr := i >= 3
		if (a.Err != nil) != wantErr || (wantErr && !errors.Is(a.Err, kerr.InvalidRequest)) {
			t.Errorf("entry %d %v: err %v (%s), want error %v", i, a.Entity, a.Err, a.ErrMessage, wantErr)
		}
	}

	all, err := adm.DescribeClientQuotas(ctx, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("describe all: %v", all)
	}
	// Exact user and client id, strict: only that entity.
	got, err := adm.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{
		{Type: "user", MatchName: strp("alice"), MatchType: 0}, {Type: "client-id", MatchName: strp("app"), MatchType: 0}})
	if err != nil || len(got) != 1 || len(got[0].Values) != 2 || got[0].Values[0].Key != "consumer_byte_rate" || got[0].Values[0].Value != 2048 {
		t.Fatalf("describe alice/app: %v %v", got, err)
	}
	// The default user.
	got, err = adm.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: 1}})
	if err != nil || len(got) != 1 || got[0].Entity[0].Name != nil || got[0].Values[0].Value != 12.5 {
		t.Fatalf("describe default user: %v %v", got, err)
	}
	// Any client id, not strict: alice/app and app.
	got, err = adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: 2}})
	if err != nil || len(got) != 2 {
		t.Fatalf("describe any client id: %v %v", got, err)
	}
	// Removing the last key removes the entity.
	if _, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: kadm.ClientQuotaEntity{{Type: "user"}},
		Ops: []kadm.AlterClientQuotaOp{{Key: "request_percentage", Remove: true}}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := adm.DescribeClientQuotas(ctx, false, nil); err != nil || len(got) != 2 {
		t.Fatalf("after remove: %v %v", got, err)
	}
	// A bad filter is INVALID_REQUEST.
	if _, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: 0}}); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("exact match without a name: %v", err)
	}
}

func TestClientQuotaThrottlesProducerAndConsumer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for several seconds")
	}
	ctx := testContext(t)
	b := quotaBroker(t)
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	createTopic(t, ctx, b.Addr(), "limited", 1, nil)
	const rate = 64 << 10
	if res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: strp("slow")}},
			Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: rate}, {Key: "consumer_byte_rate", Value: rate}}},
	}); err != nil || res[0].Err != nil {
		t.Fatalf("alter quotas: %v %v", err, res)
	}

	slowHook, fastHook := &throttleHook{}, &throttleHook{}
	slow := newFranz(t, b.Addr(), kgo.ClientID("slow"), kgo.WithHooks(slowHook), kgo.ProducerLinger(0))
	fast := newFranz(t, b.Addr(), kgo.ClientID("fast"), kgo.WithHooks(fastHook), kgo.ProducerLinger(0))
	// Random bytes: the quota counts bytes on the wire, and the client
	// compresses.
	value := make([]byte, 8<<10)
	rand.New(rand.NewSource(1)).Read(value)
	produceFor := func(cl *kgo.Client, topic string, d time.Duration) (sent int, took time.Duration) {
		start := time.Now()
		for i := 0; i < 1000 && time.Since(start) < d; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: value}).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			sent += len(value)
		}
		return sent, time.Since(start)
	}
	sent, took := produceFor(slow, "limited", 3*time.Second)
	// At most the rate over the time taken plus the one window of credit
	// the measurement starts with, plus the record that went over; with
	// 50 % slack for timer granularity.
	limit := int(1.5*rate*(took.Seconds()+1)) + len(value)
	if sent > limit {
		t.Errorf("limited producer sent %d bytes in %v, more than %d", sent, took, limit)
	}
	if slowHook.count.Load() == 0 {
		t.Errorf("limited producer saw no throttle (sent %d bytes in %v)", sent, took)
	}
	t.Logf("limited producer: %d bytes in %v (%.0f B/s), %d throttles, max %d ms", sent, took, float64(sent)/took.Seconds(), slowHook.count.Load(), slowHook.max.Load())

	// Another client id has no quota: never throttled.
	createTopic(t, ctx, b.Addr(), "unlimited", 1, nil)
	produceFor(fast, "unlimited", 500*time.Millisecond)
	if fastHook.count.Load() != 0 {
		t.Errorf("unlimited producer throttled %d times", fastHook.count.Load())
	}

	// The limited consumer reads everything, throttled on the way.
	want := sent / len(value)
	consumer := newFranz(t, b.Addr(), kgo.ClientID("slow"), kgo.WithHooks(slowHook), kgo.ConsumeTopics("limited"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	before := slowHook.count.Load()
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	got := 0
	for got < want {
		fs := consumer.PollFetches(cctx)
		if cctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", got, want)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		got += fs.NumRecords()
	}
	if slowHook.count.Load() == before {
		t.Errorf("limited consumer of %d bytes saw no throttle", want*len(value))
	}
}

// TestClientQuotaProducerOneMBps is the quota proof: a producer
// limited to 1 MiB/s for 10 s lands within ±20 % of it and is told to
// back off, while an unlimited client on the same broker is never
// throttled. The broker measures over two 1 s windows (quotaBroker), so
// the burst it lets through before the first throttle is about one
// second's worth.
func TestClientQuotaProducerOneMBps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 10 s")
	}
	ctx := testContext(t)
	b := quotaBroker(t)
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	createTopic(t, ctx, b.Addr(), "one-mb", 1, nil)
	createTopic(t, ctx, b.Addr(), "free", 1, nil)
	const rate = 1 << 20
	if res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: strp("one-mb")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: rate}}},
	}); err != nil || res[0].Err != nil {
		t.Fatalf("alter quotas: %v %v", err, res)
	}

	// Uncompressed: the quota counts bytes on the wire, and a batch of
	// one repeated value would compress to almost nothing.
	value := make([]byte, 16<<10)
	rand.New(rand.NewSource(2)).Read(value)
	limitedHook, freeHook := &throttleHook{}, &throttleHook{}
	limited := newFranz(t, b.Addr(), kgo.ClientID("one-mb"), kgo.WithHooks(limitedHook), kgo.MaxBufferedBytes(2<<20),
		kgo.ProducerBatchMaxBytes(256<<10), kgo.RecordDeliveryTimeout(time.Minute), kgo.ProducerBatchCompression(kgo.NoCompression()))
	free := newFranz(t, b.Addr(), kgo.ClientID("free"), kgo.WithHooks(freeHook), kgo.ProducerBatchMaxBytes(256<<10),
		kgo.ProducerBatchCompression(kgo.NoCompression()))

	const period = 10 * time.Second
	start := time.Now()
	deadline := start.Add(period)
	var acked atomic.Int64
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	limitedDone := make(chan struct{})
	go func() {
		defer close(limitedDone)
		for i := 0; i < 100_000 && pctx.Err() == nil; i++ {
			limited.Produce(pctx, &kgo.Record{Topic: "one-mb", Value: value}, func(_ *kgo.Record, err error) {
				if err == nil && time.Now().Before(deadline) {
					acked.Add(int64(len(value)))
				}
			})
		}
	}()

	// Meanwhile the unlimited client writes 32 MiB: 32 s at the limited
	// client's rate.
	const freeBytes = 32 << 20
	freeStart := time.Now()
	var freeErr atomic.Value
	for i := 0; i < freeBytes/len(value); i++ {
		free.Produce(ctx, &kgo.Record{Topic: "free", Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				freeErr.Store(err)
			}
		})
	}
	if err := free.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	freeTook := time.Since(freeStart)
	if err, _ := freeErr.Load().(error); err != nil {
		t.Fatalf("unlimited producer: %v", err)
	}

	select {
	case <-limitedDone:
	case <-ctx.Done():
		t.Fatal("the limited producer did not stop")
	}
	<-pctx.Done()
	got := float64(acked.Load()) / period.Seconds()
	t.Logf("limited producer: %.0f B/s (quota %d B/s), %d throttles, max %d ms; unlimited: %d bytes in %v",
		got, rate, limitedHook.count.Load(), limitedHook.max.Load(), freeBytes, freeTook)
	if got < 0.8*rate || got > 1.2*rate {
		t.Errorf("limited producer wrote %.0f B/s over %v, want %d ±20%%", got, period, rate)
	}
	if limitedHook.count.Load() == 0 {
		t.Error("the limited producer saw no throttle time")
	}
	if freeHook.count.Load() != 0 {
		t.Errorf("the unlimited producer was throttled %d times", freeHook.count.Load())
	}
	if freeTook >= period {
		t.Errorf("the unlimited producer took %v for %d bytes: slowed to the limited client's pace", freeTook, freeBytes)
	}
}

// TestClientQuotaRequestPercentage: request_percentage limits the share
// of request handling time a client id may use; over it, answers carry a
// throttle time of at most one quota window, and other clients are not
// affected.
func TestClientQuotaRequestPercentage(t *testing.T) {
	ctx := testContext(t)
	b := quotaBroker(t)
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	createTopic(t, ctx, b.Addr(), "busy", 1, nil)
	// 0.001 % of one thread: 10 µs of handling per second.
	if res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: strp("busy")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "request_percentage", Value: 0.001}}},
	}); err != nil || res[0].Err != nil {
		t.Fatalf("alter quotas: %v %v", err, res)
	}
	metadataThrottle := func(cl *kgo.Client) int32 {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{{Topic: strp("busy")}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ThrottleMillis
	}
	// The busy client's handling time crosses 10 µs per second within a
	// few requests (every one costs more than a microsecond).
	busy := newFranz(t, b.Addr(), kgo.ClientID("busy"))
	throttled := int32(0)
	for i := 0; i < 1000 && throttled == 0; i++ {
		throttled = metadataThrottle(busy)
	}
	if throttled <= 0 || throttled > 1000 {
		t.Fatalf("busy client throttle %d ms, want (0, 1000] (one window)", throttled)
	}
	// A fetch over the quota is answered empty with the throttle time.
	fetchClient := newFranz(t, b.Addr(), kgo.ClientID("busy"))
	id := topicID(t, ctx, fetchClient, "busy")
	freq := kmsg.NewPtrFetchRequest()
	freq.ReplicaID, freq.MaxBytes = -1, 1<<20
	freq.Topics = []kmsg.FetchRequestTopic{{Topic: "busy", TopicID: id, Partitions: []kmsg.FetchRequestTopicPartition{{PartitionMaxBytes: 1 << 20}}}}
	fresp, err := freq.RequestWith(ctx, fetchClient)
	if err != nil {
		t.Fatal(err)
	}
	if fresp.ThrottleMillis <= 0 || len(fresp.Topics) != 0 {
		t.Fatalf("fetch over the request quota: throttle %d ms, %d topics; want a throttled empty answer", fresp.ThrottleMillis, len(fresp.Topics))
	}
	// Another client id has no quota.
	idle := newFranz(t, b.Addr(), kgo.ClientID("idle"))
	for i := 0; i < 100; i++ {
		if d := metadataThrottle(idle); d != 0 {
			t.Fatalf("unlimited client throttled %d ms", d)
		}
	}
}

// TestClientQuotaControllerMutationRate: controller_mutation_rate (KIP-599)
// counts the partitions CreateTopics, CreatePartitions and DeleteTopics
// create, add or delete. A request may take the quota below zero; while
// it is below, strict versions answer THROTTLING_QUOTA_EXCEEDED per topic
// and older versions go through, both with a throttle time.
func TestClientQuotaControllerMutationRate(t *testing.T) {
	ctx := testContext(t)
	b := quotaBroker(t)
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	// 1 partition per second, a bucket of 2 (two 1 s windows).
	if res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: strp("mut")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "controller_mutation_rate", Value: 1}}},
	}); err != nil || res[0].Err != nil {
		t.Fatalf("alter quotas: %v %v", err, res)
	}
	// Each step on a new connection: the server mutes a throttled one,
	// and franz-go waits out a throttle before its next request.
	client := func(id string, maxVersions ...[2]int16) *kgo.Client {
		v := kversion.Stable()
		for _, kv := range maxVersions {
			v.SetMaxKeyVersion(kv[0], kv[1])
		}
		return newFranz(t, b.Addr(), kgo.ClientID(id), kgo.MaxVersions(v))
	}
	create := func(cl *kgo.Client, name string, partitions int32) (int16, int32) {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 10_000
		req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: name, NumPartitions: partitions, ReplicationFactor: 1}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Topics) != 1 {
			t.Fatalf("create %s: %v %+v", name, err, resp)
		}
		return resp.Topics[0].ErrorCode, resp.ThrottleMillis
	}
	// 30 partitions from a bucket of 2: accepted, 28 s in the red.
	if code, throttle := create(client("mut"), "m1", 30); code != 0 || throttle < 20_000 {
		t.Fatalf("first create: code %d, throttle %d ms; want accepted, throttled ~28 s", code, throttle)
	}
	// Strict (v6+): the next topic is refused.
	if code, throttle := create(client("mut"), "m2", 1); code != kerr.ThrottlingQuotaExceeded.Code || throttle <= 0 {
		t.Fatalf("strict create over the quota: code %d, throttle %d ms", code, throttle)
	}
	// CreatePartitions v3+ and DeleteTopics v5+ are strict too.
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.TimeoutMillis = 10_000
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "m1", Count: 31}}
	if resp, err := cp.RequestWith(ctx, client("mut")); err != nil || resp.Topics[0].ErrorCode != kerr.ThrottlingQuotaExceeded.Code || resp.ThrottleMillis <= 0 {
		t.Fatalf("strict create partitions: %v %+v", err, resp)
	}
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TimeoutMillis = 10_000
	dt.TopicNames = []string{"m1"}
	dt.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: strp("m1")}}
	if resp, err := dt.RequestWith(ctx, client("mut")); err != nil || resp.Topics[0].ErrorCode != kerr.ThrottlingQuotaExceeded.Code || resp.ThrottleMillis <= 0 {
		t.Fatalf("strict delete topics: %v %+v", err, resp)
	}
	// Permissive (CreateTopics v5): created, and told to wait.
	if code, throttle := create(client("mut", [2]int16{19, 5}), "m3", 1); code != 0 || throttle <= 0 {
		t.Fatalf("permissive create over the quota: code %d, throttle %d ms", code, throttle)
	}
	// Other client ids are not limited.
	if code, throttle := create(client("other"), "m4", 10); code != 0 || throttle != 0 {
		t.Fatalf("unlimited client: code %d, throttle %d ms", code, throttle)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil || !topics.Has("m1") || topics.Has("m2") || !topics.Has("m3") || len(topics["m1"].Partitions) != 30 {
		t.Fatalf("topics after the quota: %v %v", topics.Names(), err)
	}
}
