package quota

import (
	"testing"
	"time"

	"github.com/arus-io/arus/internal/metadata"
)

func TestResolvePrecedence(t *testing.T) {
	u, c, d, none := metadata.Named("alice"), metadata.Named("app"), metadata.DefaultEntity, metadata.QuotaEntityName{}
	levels := []metadata.QuotaEntity{
		{User: u, ClientID: c}, {User: u, ClientID: d}, {User: u, ClientID: none},
		{User: d, ClientID: c}, {User: d, ClientID: d}, {User: d, ClientID: none},
		{User: none, ClientID: c}, {User: none, ClientID: d},
	}
	wantTags := [][2]string{{"alice", "app"}, {"alice", "app"}, {"alice", ""}, {"alice", "app"}, {"alice", "app"}, {"alice", ""}, {"", "app"}, {"", "app"}}
	// With levels i.. set, level i wins.
	for i := range levels {
		quotas := map[metadata.QuotaEntity]map[string]float64{}
		for j := i; j < len(levels); j++ {
			quotas[levels[j]] = map[string]float64{ProducerByteRate: float64(j + 1)}
		}
		// An unrelated user's quota never applies.
		quotas[metadata.QuotaEntity{User: metadata.Named("bob")}] = map[string]float64{ProducerByteRate: 99}
		bound, tu, tc, ok := Resolve(quotas, ProducerByteRate, "alice", "app")
		if !ok || bound != float64(i+1) || tu != wantTags[i][0] || tc != wantTags[i][1] {
			t.Errorf("level %d: got %v %q %q %v", i, bound, tu, tc, ok)
		}
		if _, _, _, ok := Resolve(quotas, ConsumerByteRate, "alice", "app"); ok {
			t.Errorf("level %d: consumer quota found where only producer quotas are set", i)
		}
	}
}

func TestRecordThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	m := New(Config{Samples: 11, Window: time.Second, Now: func() time.Time { return now }})
	quotas := map[metadata.QuotaEntity]map[string]float64{{User: metadata.DefaultEntity}: {ProducerByteRate: 1000}}
	// The first 10 s worth of bytes pass: the window counts as 10 s.
	if d := m.Record(quotas, Produce, "alice", "a", 10_000); d != 0 {
		t.Fatalf("first 10000 bytes throttled %v", d)
	}
	// One more second's worth: throttled for about one second.
	d := m.Record(quotas, Produce, "alice", "a", 1000)
	if d < 900*time.Millisecond || d > 1100*time.Millisecond {
		t.Fatalf("throttle %v, want ~1s", d)
	}
	// Another user has its own sensor under the default quota.
	if d := m.Record(quotas, Produce, "bob", "a", 5000); d != 0 {
		t.Fatalf("bob throttled %v", d)
	}
	// Fetch is measured separately, and without a quota never throttled.
	if d := m.Record(quotas, Fetch, "alice", "a", 1<<30); d != 0 {
		t.Fatalf("fetch without consumer quota throttled %v", d)
	}
	// After the whole span the samples have expired.
	now = now.Add(12 * time.Second)
	if d := m.Record(quotas, Produce, "alice", "a", 1000); d != 0 {
		t.Fatalf("after the span: throttled %v", d)
	}
	if n, ok := m.MaxValueInWindow(quotas, Produce, "x", ""); !ok || n != 10_000 {
		t.Fatalf("max value in window %d %v", n, ok)
	}
}

func TestRecordTimeThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	m := New(Config{Samples: 11, Window: time.Second, Now: func() time.Time { return now }})
	quotas := map[metadata.QuotaEntity]map[string]float64{{ClientID: metadata.Named("busy")}: {RequestPercentage: 10}}
	// 10 % of one thread over the 10 s the window counts: 1 s of handling.
	if d := m.RecordTime(quotas, "", "busy", time.Second); d != 0 {
		t.Fatalf("1 s of handling throttled %v", d)
	}
	// Another 0.5 s: 15 % against 10 %, throttled half the window span
	// (5 s), bounded by one window (Kafka's ClientRequestQuotaManager).
	if d := m.RecordTime(quotas, "", "busy", 500*time.Millisecond); d != time.Second {
		t.Fatalf("throttle %v, want the one-window bound", d)
	}
	// A little over: (10.1-10)/10 of 10 s = 100 ms.
	m2 := New(Config{Samples: 11, Window: time.Second, Now: func() time.Time { return now }})
	m2.RecordTime(quotas, "", "busy", time.Second)
	if d := m2.RecordTime(quotas, "", "busy", 10*time.Millisecond); d < 90*time.Millisecond || d > 110*time.Millisecond {
		t.Fatalf("throttle %v, want ~100ms", d)
	}
	// Other client ids have no quota; byte rates are separate sensors.
	if d := m.RecordTime(quotas, "", "idle", time.Hour); d != 0 {
		t.Fatalf("unquoted client throttled %v", d)
	}
	if d := m.Record(quotas, Produce, "", "busy", 1<<30); d != 0 {
		t.Fatalf("produce without a byte quota throttled %v", d)
	}
}

func TestMutationsTokenBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	m := New(Config{Samples: 11, Window: time.Second, Now: func() time.Time { return now }})
	quotas := map[metadata.QuotaEntity]map[string]float64{{User: metadata.Named("alice")}: {ControllerMutationRate: 2}}
	if q := m.Mutations(quotas, "bob", "x"); q != nil || q.Exceeded() || q.Throttle() != 0 {
		t.Fatal("bob has no mutation quota")
	}
	q := m.Mutations(quotas, "alice", "x")
	// The bucket starts full: 2/s x 11 x 1 s = 22 tokens.
	q.Record(22)
	if q.Exceeded() || q.Throttle() != 0 {
		t.Fatal("a burst of 22 mutations exceeds a bucket of 22")
	}
	// A mutation may take it below zero: 10 more leaves -10, 5 s to refill.
	q.Record(10)
	if !q.Exceeded() || q.Throttle() != 5*time.Second {
		t.Fatalf("exceeded %v, throttle %v; want 5s", q.Exceeded(), q.Throttle())
	}
	// Shared by alice's other clients (the entity names no client id).
	if !m.Mutations(quotas, "alice", "y").Exceeded() {
		t.Fatal("alice's other client does not share the bucket")
	}
	now = now.Add(4 * time.Second)
	if q.Throttle() != time.Second {
		t.Fatalf("after 4 s: throttle %v, want 1s", q.Throttle())
	}
	now = now.Add(time.Second)
	if q.Exceeded() {
		t.Fatal("still exceeded after refilling to zero")
	}
	// Giving back never fills beyond the burst.
	q.Record(-1000)
	q.Record(23)
	if !q.Exceeded() {
		t.Fatal("the bucket held more than its burst")
	}
}
