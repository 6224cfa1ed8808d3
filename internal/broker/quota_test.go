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
