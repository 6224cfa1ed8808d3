package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApplyProperties(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.properties")
	content := `# a Kafka-style file
node.id=3
listeners=PLAINTEXT://0.0.0.0:9092
advertised.listeners=PLAINTEXT://broker3.example:9092
log.dirs=/var/lib/arus
controller.quorum.voters=1@b1:9092,2@b2:9092,3@b3:9092
broker.rack=eu-1a
num.partitions=6
log.retention.hours=24
log.segment.bytes=536870912
`
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	props, err := LoadProperties(path)
	if err != nil {
		t.Fatal(err)
	}
	var b Broker
	if err := ApplyProperties(&b, props); err != nil {
		t.Fatal(err)
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	if b.NodeID != 3 || b.Listener != "0.0.0.0:9092" || b.AdvertisedListener != "broker3.example:9092" ||
		b.DataDir != "/var/lib/arus" || b.Rack != "eu-1a" || b.NumPartitions != 6 ||
		b.TopicDefaults["retention.ms"] != "86400000" || b.TopicDefaults["segment.bytes"] != "536870912" {
		t.Fatalf("applied %+v", b)
	}
	if err := ApplyProperties(&b, map[string]string{"log.retention.mz": "1"}); err == nil || !strings.Contains(err.Error(), "log.retention.mz") {
		t.Fatalf("typo accepted: %v", err)
	}
	voters, err := ParseVoters(b.ControllerQuorumVoters)
	if err != nil || len(voters) != 3 || voters[2] != "b2:9092" {
		t.Fatalf("voters %v %v", voters, err)
	}
	for _, bad := range []string{"x@h:1", "1@nohostport", "1@h:1,1@h:2", "0@h:1"} {
		if _, err := ParseVoters(bad); err == nil {
			t.Errorf("ParseVoters(%q) accepted", bad)
		}
	}
}
