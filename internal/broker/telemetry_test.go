package broker_test

import (
	"context"
	"iter"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

// A franz-go client subscribed by the broker's client telemetry config
// (KIP-714) pushes its metrics every push interval; the broker decodes
// them and exports them on /metrics: the client's own user metrics with
// their values, and its standard producer metrics.
func TestClientTelemetryExported(t *testing.T) {
	metricsCfg := "org.apache.kafka.producer.,arus.test."
	b := arustest.StartBroker(t, arustest.WithHTTP(), func(c *config.Broker) {
		c.ClientTelemetryMetrics = &metricsCfg
		c.ClientTelemetryPushInterval = time.Second // franz-go pushes at most once a second
	})
	addr := b.HTTPAddr().String()

	var total atomic.Int64
	userMetrics := func() iter.Seq[kgo.Metric] {
		return func(yield func(kgo.Metric) bool) {
			_ = yield(kgo.Metric{Name: "arus.test.gauge", Type: kgo.MetricTypeGauge, ValueFloat: 42.5, Attrs: map[string]any{"zone": "a"}}) &&
				yield(kgo.Metric{Name: "arus.test.count", Type: kgo.MetricTypeSum, ValueInt: total.Add(10)}) &&
				yield(kgo.Metric{Name: "other.not.subscribed", Type: kgo.MetricTypeGauge, ValueInt: 1})
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ClientID("telemetry-test"),
		kgo.DefaultProduceTopic("telemetry"), kgo.AllowAutoTopicCreation(), kgo.UserMetricsFn(userMetrics))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var s scraped
	arustest.Eventually(t, 20*time.Second, "the client's pushed metrics on /metrics", func() bool {
		s = scrape(t, addr)
		return s.sum("arus_client_telemetry_value", "client_id", "telemetry-test", "name", "arus.test.gauge") == 42.5
	})
	f := s["arus_client_telemetry_value"]
	var instance string
	var producerSeries int
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		switch name := labels["name"]; {
		case name == "arus.test.gauge":
			instance = labels["client_instance_id"]
			if labels["attributes"] != "zone=a" {
				t.Errorf("gauge attributes %q, want zone=a", labels["attributes"])
			}
		case strings.HasPrefix(name, "org.apache.kafka.producer."):
			producerSeries++
		case strings.HasPrefix(name, "arus.test."):
		default:
			t.Errorf("metric %q exported, which the subscription does not ask for", name)
		}
	}
	if len(instance) != 22 { // Kafka's text form of a UUID: 16 bytes, base64url unpadded
		t.Errorf("client_instance_id %q", instance)
	}
	if producerSeries == 0 {
		t.Error("no org.apache.kafka.producer. series although the client produced")
	}
	if v := s.sum("arus_client_telemetry_value", "name", "arus.test.count"); v < 10 {
		t.Errorf("arus.test.count = %v, want the client's running total (>= 10)", v)
	}
	if s.sum("arus_client_telemetry_pushes_total") < 1 || s.sum("arus_client_telemetry_instances") < 1 ||
		s.sum("arus_client_telemetry_series_dropped_total") != 0 {
		t.Errorf("pushes %v, instances %v, dropped %v", s.sum("arus_client_telemetry_pushes_total"),
			s.sum("arus_client_telemetry_instances"), s.sum("arus_client_telemetry_series_dropped_total"))
	}

	// The sum is cumulative (the broker asks for cumulative temporality):
	// a later push carries the client's running total, not an increment.
	pushes := s.sum("arus_client_telemetry_pushes_total")
	arustest.Eventually(t, 20*time.Second, "a later push with a larger running total", func() bool {
		s = scrape(t, addr)
		return s.sum("arus_client_telemetry_pushes_total") > pushes && s.sum("arus_client_telemetry_value", "name", "arus.test.count") >= 20
	})
	if got, sent := s.sum("arus_client_telemetry_value", "name", "arus.test.count"), float64(total.Load()); got > sent {
		t.Errorf("arus.test.count = %v, more than the client's total %v", got, sent)
	}
}
