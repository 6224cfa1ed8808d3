package api

import (
	"sync"
	"testing"
	"time"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestTelemetryPushAndSnapshot(t *testing.T) {
	clock := &testClock{now: time.UnixMilli(1_700_000_000_000)}
	tel := newTelemetry(clock.Now)
	tel.SetTelemetrySubscription([]string{"org.apache.kafka.producer."}, time.Minute)
	sub, refusal := tel.get([16]byte{})
	if refusal != telemetryOK || sub.instanceID == ([16]byte{}) || len(sub.metrics) != 1 || sub.interval != time.Minute {
		t.Fatalf("get: %+v %v", sub, refusal)
	}
	if r := tel.push(sub.instanceID, sub.subscriptionID, false, 4, []byte("m1"), "c1", "/127.0.0.1"); r != telemetryOK {
		t.Fatalf("first push: %v", r)
	}
	if r := tel.push(sub.instanceID, sub.subscriptionID, false, 4, []byte("m2"), "c1", "/127.0.0.1"); r != telemetryThrottled {
		t.Fatalf("push within the interval: %v", r)
	}
	clock.Advance(time.Minute)
	if r := tel.push(sub.instanceID, sub.subscriptionID, false, 9, []byte("m3"), "c1", "h"); r != telemetryUnsupportedCompression {
		t.Fatalf("unknown codec: %v", r)
	}
	clock.Advance(time.Minute)
	if r := tel.push(sub.instanceID, sub.subscriptionID, false, 0, make([]byte, telemetryMaxBytes+1), "c1", "h"); r != telemetryTooLarge {
		t.Fatalf("too large: %v", r)
	}
	clock.Advance(time.Minute)
	if r := tel.push(sub.instanceID, sub.subscriptionID, false, 0, []byte("m4"), "c1", "/127.0.0.1"); r != telemetryOK {
		t.Fatalf("push after the interval: %v", r)
	}
	snap := tel.Snapshot()
	if len(snap) != 1 || string(snap[0].Metrics) != "m4" || snap[0].ClientID != "c1" || snap[0].InstanceID != sub.instanceID {
		t.Fatalf("snapshot %+v", snap)
	}
	snap[0].Metrics[0] = 'X' // a copy
	if string(tel.Snapshot()[0].Metrics) != "m4" {
		t.Fatal("Snapshot shares its bytes")
	}
	// A new subscription invalidates the old id.
	tel.SetTelemetrySubscription(nil, 0)
	clock.Advance(time.Minute)
	if r := tel.push(sub.instanceID, sub.subscriptionID, false, 0, []byte("m5"), "c1", "h"); r != telemetryUnknownSubscription {
		t.Fatalf("stale subscription: %v", r)
	}
	if again, r := tel.get(sub.instanceID); r != telemetryOK || again.subscriptionID == sub.subscriptionID || len(again.metrics) != 0 ||
		again.interval != telemetryDefaultPushInterval {
		t.Fatalf("renewed subscription %+v %v", again, r)
	}
	if r := tel.push([16]byte{}, 0, false, 0, nil, "", ""); r != telemetryInvalid {
		t.Fatalf("zero instance id: %v", r)
	}
}

// The instance map stays bounded, and instances silent for three push
// intervals are dropped.
func TestTelemetryBounded(t *testing.T) {
	clock := &testClock{now: time.UnixMilli(1_700_000_000_000)}
	tel := newTelemetry(clock.Now)
	first, _ := tel.get([16]byte{})
	tel.push(first.instanceID, first.subscriptionID, false, 0, []byte("x"), "", "")
	for range telemetryMaxClients + 10 {
		clock.Advance(time.Microsecond)
		if _, r := tel.get([16]byte{}); r != telemetryOK {
			t.Fatal(r)
		}
	}
	tel.mu.Lock()
	n, stored := len(tel.mu.instances), tel.mu.stored
	_, kept := tel.mu.instances[first.instanceID]
	tel.mu.Unlock()
	if n != telemetryMaxClients || kept || stored != 0 {
		t.Fatalf("%d instances (max %d), oldest kept %v, stored bytes %d", n, telemetryMaxClients, kept, stored)
	}
	clock.Advance(3*telemetryDefaultPushInterval + time.Second)
	tel.get([16]byte{})
	tel.mu.Lock()
	tel.evictLocked(clock.Now())
	n = len(tel.mu.instances)
	tel.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d instances after expiry, want 1", n)
	}
}
