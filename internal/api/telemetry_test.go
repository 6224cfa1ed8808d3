package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"
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

// otlpMetric builds an OTLP Metric, a gauge (kind 5) or a sum (kind 7)
// with one double point: field numbers of opentelemetry-proto
// metrics/v1, written by hand.
func otlpMetric(name string, kind protowire.Number, delta bool, value float64, attrs map[string]string) []byte {
	var point []byte
	point = protowire.AppendTag(point, 3, protowire.Fixed64Type) // time_unix_nano
	point = protowire.AppendFixed64(point, 1)
	point = protowire.AppendTag(point, 4, protowire.Fixed64Type) // as_double
	point = protowire.AppendFixed64(point, math.Float64bits(value))
	for k, v := range attrs {
		var anyValue, kv []byte
		anyValue = protowire.AppendTag(anyValue, 1, protowire.BytesType)
		anyValue = protowire.AppendString(anyValue, v)
		kv = protowire.AppendTag(kv, 1, protowire.BytesType)
		kv = protowire.AppendString(kv, k)
		kv = protowire.AppendTag(kv, 2, protowire.BytesType)
		kv = protowire.AppendBytes(kv, anyValue)
		point = protowire.AppendTag(point, 7, protowire.BytesType)
		point = protowire.AppendBytes(point, kv)
	}
	var data []byte
	data = protowire.AppendTag(data, 1, protowire.BytesType) // data_points
	data = protowire.AppendBytes(data, point)
	if kind == 7 {
		temporality := uint64(2)
		if delta {
			temporality = 1
		}
		data = protowire.AppendTag(data, 2, protowire.VarintType)
		data = protowire.AppendVarint(data, temporality)
		data = protowire.AppendTag(data, 3, protowire.VarintType)
		data = protowire.AppendVarint(data, 1)
	}
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.BytesType)
	m = protowire.AppendString(m, name)
	m = protowire.AppendTag(m, kind, protowire.BytesType)
	m = protowire.AppendBytes(m, data)
	return m
}

// otlpMetricsData wraps metrics into MetricsData{ResourceMetrics{ScopeMetrics}}.
func otlpMetricsData(metrics ...[]byte) []byte {
	var scope []byte
	for _, m := range metrics {
		scope = protowire.AppendTag(scope, 2, protowire.BytesType)
		scope = protowire.AppendBytes(scope, m)
	}
	var rm []byte
	rm = protowire.AppendTag(rm, 2, protowire.BytesType)
	rm = protowire.AppendBytes(rm, scope)
	var md []byte
	md = protowire.AppendTag(md, 1, protowire.BytesType)
	return protowire.AppendBytes(md, rm)
}

func seriesValues(s TelemetryStats) map[string]float64 {
	out := map[string]float64{}
	for _, x := range s.Series {
		out[x.ClientID+"|"+x.Name+"|"+x.Attributes] = x.Value
	}
	return out
}

// Pushes compressed with every codec a client may use (franz-go's
// compressors) are decoded into series: gauges replaced by each push,
// cumulative sums by their latest value, delta sums added up.
func TestTelemetryDecodesPushes(t *testing.T) {
	codecs := map[int8]kgo.CompressionCodec{
		1: kgo.GzipCompression(), 2: kgo.SnappyCompression(), 3: kgo.Lz4Compression(), 4: kgo.ZstdCompression(),
	}
	for codec := int8(0); codec <= 4; codec++ {
		clock := &testClock{now: time.UnixMilli(1_700_000_000_000)}
		tel := newTelemetry(clock.Now)
		tel.SetTelemetrySubscription([]string{"*"}, time.Minute)
		sub, _ := tel.get([16]byte{})
		if len(sub.metrics) != 1 || sub.metrics[0] != "" {
			t.Fatalf("\"*\" subscribes as %q, want KIP-714's [\"\"]", sub.metrics)
		}
		compress := func(b []byte) []byte {
			if codec == 0 {
				return b
			}
			c, err := kgo.DefaultCompressor(codecs[codec])
			if err != nil {
				t.Fatal(err)
			}
			out, used := c.Compress(new(bytes.Buffer), b)
			if int8(used) != codec {
				t.Fatalf("compressed with %d, want %d", used, codec)
			}
			return bytes.Clone(out)
		}
		push := func(payload []byte) {
			t.Helper()
			payload = compress(payload)
			if r := tel.push(sub.instanceID, sub.subscriptionID, false, codec, payload, "c1", "h"); r != telemetryOK {
				t.Fatalf("codec %d: push refused: %v", codec, r)
			}
			if err := tel.ingest(context.Background(), sub.instanceID, codec, payload, "c1"); err != nil {
				t.Fatalf("codec %d: %v", codec, err)
			}
			tel.pushed() // as pushTelemetry does
		}
		push(otlpMetricsData(
			otlpMetric("p.latency.avg", 5, false, 12.5, map[string]string{"node_id": "1", "a": "x"}),
			otlpMetric("p.rate", 5, false, 0.25, nil),
			otlpMetric("p.total", 7, false, 3, nil),
			otlpMetric("p.delta", 7, true, 2, nil),
		))
		want := map[string]float64{
			"c1|p.latency.avg|a=x,node_id=1": 12.5, "c1|p.rate|": 0.25, "c1|p.total|": 3, "c1|p.delta|": 2,
		}
		st := tel.Stats()
		if got := seriesValues(st); !maps.Equal(got, want) || st.Instances != 1 || st.Pushes != 1 {
			t.Fatalf("codec %d: stats %+v, series %v, want %v", codec, st, got, want)
		}
		if id := st.Series[0].InstanceID; id != base64.RawURLEncoding.EncodeToString(sub.instanceID[:]) {
			t.Fatalf("instance id label %q", id)
		}
		clock.Advance(time.Minute)
		push(otlpMetricsData(otlpMetric("p.rate", 5, false, 0.5, nil), otlpMetric("p.delta", 7, true, 5, nil)))
		want = map[string]float64{"c1|p.rate|": 0.5, "c1|p.total|": 3, "c1|p.delta|": 7}
		if got := seriesValues(tel.Stats()); !maps.Equal(got, want) {
			t.Fatalf("codec %d: after the second push %v, want %v", codec, got, want)
		}
		// Silent for three intervals: the instance and its series go.
		clock.Advance(3*time.Minute + time.Second)
		if st := tel.Stats(); st.Instances != 0 || len(st.Series) != 0 {
			t.Fatalf("codec %d: expired instance still exported: %+v", codec, st)
		}
	}
}

// Bad payloads are refused with INVALID_RECORD by the handler; the series
// kept across instances are capped, new ones dropped and counted.
func TestTelemetryBadPayloadAndSeriesCap(t *testing.T) {
	clock := &testClock{now: time.UnixMilli(1_700_000_000_000)}
	tel := newTelemetry(clock.Now)
	tel.SetTelemetrySubscription([]string{"p."}, time.Minute)
	sub, _ := tel.get([16]byte{})
	for _, c := range []struct {
		codec   int8
		payload []byte
	}{
		{0, []byte{0x0a, 0xff, 0x01}}, // length past the end
		{4, []byte("not zstd")},
		{1, []byte("not gzip")},
	} {
		if err := tel.ingest(context.Background(), sub.instanceID, c.codec, c.payload, "c1"); !errors.Is(err, errTelemetryDecode) {
			t.Errorf("ingest(%d, %q) = %v, want errTelemetryDecode", c.codec, c.payload, err)
		}
	}
	if telemetryCode(telemetryInvalidRecord) != kerr.InvalidRecord.Code {
		t.Fatal("a payload that does not decode must be INVALID_RECORD")
	}

	var metrics [][]byte
	for i := range telemetryLimits.Points {
		metrics = append(metrics, otlpMetric(fmt.Sprintf("p.m%d", i), 5, false, 1, nil))
	}
	payload := otlpMetricsData(metrics...)
	instances := telemetryMaxSeries/telemetryLimits.Points + 2
	for range instances {
		s, _ := tel.get([16]byte{})
		if err := tel.ingest(context.Background(), s.instanceID, 0, payload, "c"); err != nil {
			t.Fatal(err)
		}
	}
	st := tel.Stats()
	if len(st.Series) != telemetryMaxSeries || st.SeriesDropped != uint64(instances*telemetryLimits.Points-telemetryMaxSeries) {
		t.Fatalf("%d series (max %d), %d dropped", len(st.Series), telemetryMaxSeries, st.SeriesDropped)
	}
}
