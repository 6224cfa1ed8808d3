package config

import (
	"testing"
	"time"
)

func TestConnectionLimitDefaults(t *testing.T) {
	var b Broker
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	if b.QueuedMaxRequestBytes != 256<<20 || b.ConnectionsMaxIdle != 10*time.Minute || b.MaxConnections != 4096 ||
		b.MaxConnectionsPerIP != 1000 || b.MaxConnectionCreationRate != 1000 || b.ShutdownTimeout != 30*time.Second {
		t.Fatalf("defaults %+v", b)
	}
	if b.QueuedMaxRequestBytes < int64(b.MaxRequestBytes) {
		t.Fatalf("queued.max.request.bytes %d below socket.request.max.bytes %d", b.QueuedMaxRequestBytes, b.MaxRequestBytes)
	}
	c := b.StaticConfigs()
	// connections.max.idle.ms equals Kafka's default, so it is described
	// as DEFAULT_CONFIG (not a static setting); the others differ.
	if v, ok := c["connections.max.idle.ms"]; ok {
		t.Errorf("connections.max.idle.ms listed as a static setting (%q) though it is Kafka's default", v)
	}
	for k, want := range map[string]string{"queued.max.request.bytes": "268435456",
		"max.connections": "4096", "max.connections.per.ip": "1000", "max.connection.creation.rate": "1000"} {
		if c[k] != want {
			t.Errorf("%s = %q, want %q", k, c[k], want)
		}
	}
}

func TestConnectionLimitProperties(t *testing.T) {
	var b Broker
	err := ApplyProperties(&b, map[string]string{
		"queued.max.request.bytes": "-1", "connections.max.idle.ms": "-1", "max.connections": "10",
		"max.connections.per.ip": "2", "max.connections.per.ip.overrides": "127.0.0.1:5, broker1.example:0,[::1]:7",
		"max.connection.creation.rate": "3", "shutdown.timeout.ms": "1500",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	if b.QueuedMaxRequestBytes != -1 || b.ConnectionsMaxIdle >= 0 || b.MaxConnections != 10 || b.MaxConnectionsPerIP != 2 ||
		b.MaxConnectionCreationRate != 3 || b.ShutdownTimeout != 1500*time.Millisecond {
		t.Fatalf("applied %+v", b)
	}
	o, err := ParseConnectionOverrides(b.MaxConnectionsPerIPOverrides)
	if err != nil || len(o) != 3 || o["127.0.0.1"] != 5 || o["broker1.example"] != 0 || o["::1"] != 7 {
		t.Fatalf("overrides %v %v", o, err)
	}
	for _, bad := range []map[string]string{
		{"max.connections": "0"}, {"max.connections.per.ip": "x"}, {"max.connections.per.ip.overrides": "host"},
		{"max.connections.per.ip.overrides": "host:-1"}, {"connections.max.idle.ms": "soon"},
	} {
		var b Broker
		if err := ApplyProperties(&b, bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	small := Broker{QueuedMaxRequestBytes: 1 << 20}
	if err := small.Validate(); err == nil {
		t.Error("queued.max.request.bytes below socket.request.max.bytes accepted")
	}
}
