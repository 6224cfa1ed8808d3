package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClientTelemetryConfig(t *testing.T) {
	b := Broker{}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := b.ClientTelemetryPrefixes(); !slices.Equal(got, []string{"org.apache.kafka.producer.", "org.apache.kafka.consumer."}) ||
		b.ClientTelemetryPushInterval != 5*time.Minute {
		t.Fatalf("defaults: %q every %v", got, b.ClientTelemetryPushInterval)
	}
	for _, tc := range []struct {
		metrics string
		want    []string
	}{
		{"", nil},
		{"*", []string{""}},
		{" a. , ,b ", []string{"a.", "b"}},
	} {
		b := Broker{}
		if err := ApplyProperties(&b, map[string]string{"arus.client.telemetry.metrics": tc.metrics, "arus.client.telemetry.push.interval.ms": "250"}); err != nil {
			t.Fatal(err)
		}
		if err := b.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := b.ClientTelemetryPrefixes(); !slices.Equal(got, tc.want) || b.ClientTelemetryPushInterval != 250*time.Millisecond {
			t.Errorf("%q: %q every %v, want %q every 250ms", tc.metrics, got, b.ClientTelemetryPushInterval, tc.want)
		}
		if got := b.StaticConfigs()["arus.client.telemetry.metrics"]; got != tc.metrics {
			t.Errorf("StaticConfigs shows %q, want %q", got, tc.metrics)
		}
	}
	if err := ApplyProperties(&Broker{}, map[string]string{"arus.client.telemetry.push.interval.ms": "-1"}); err == nil {
		t.Error("a negative push interval was accepted")
	}
	b = Broker{ClientTelemetryPushInterval: 2 * time.Hour}
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "arus.client.telemetry.push.interval.ms") {
		t.Errorf("a 2h push interval: %v", err)
	}
}
