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
listeners=PLAINTEXT://0.0.0.0:9092,BROKER://10.0.0.3:9093
advertised.listeners=PLAINTEXT://broker3.example:9092,BROKER://10.0.0.3:9093
inter.broker.listener.name=BROKER
log.dirs=/var/lib/arus
controller.quorum.voters=1@10.0.0.1:9093,2@10.0.0.2:9093,3@10.0.0.3:9093
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
		b.InterBrokerListener != "10.0.0.3:9093" || b.AdvertisedInterBrokerListener != "10.0.0.3:9093" ||
		b.DataDir != "/var/lib/arus" || b.Rack != "eu-1a" || b.NumPartitions != 6 ||
		b.TopicDefaults["retention.ms"] != "86400000" || b.TopicDefaults["segment.bytes"] != "536870912" {
		t.Fatalf("applied %+v", b)
	}
	if err := ApplyProperties(&b, map[string]string{"log.retention.mz": "1"}); err == nil || !strings.Contains(err.Error(), "log.retention.mz") {
		t.Fatalf("typo accepted: %v", err)
	}
	voters, err := ParseVoters(b.ControllerQuorumVoters)
	if err != nil || len(voters) != 3 || voters[2] != "10.0.0.2:9093" {
		t.Fatalf("voters %v %v", voters, err)
	}
	for _, bad := range []string{"x@h:1", "1@nohostport", "1@h:1,1@h:2", "0@h:1"} {
		if _, err := ParseVoters(bad); err == nil {
			t.Errorf("ParseVoters(%q) accepted", bad)
		}
	}
}

// TestListenerProperties: Kafka's listener names select the client and the
// inter-broker listener; arus serves inter-broker and controller traffic
// on one listener.
func TestListenerProperties(t *testing.T) {
	for _, tc := range []struct {
		name          string
		props         map[string]string
		client, inter string
		wantErr       string
	}{
		{"one listener: inter-broker by default", map[string]string{"listeners": "PLAINTEXT://localhost:9092"}, "localhost:9092", "localhost:0", ""},
		{"inter.broker.listener.name", map[string]string{"listeners": "PLAINTEXT://:9092,BROKER://:9093", "inter.broker.listener.name": "BROKER"}, ":9092", ":9093", ""},
		{"Kafka quickstart: controller listener carries inter-broker traffic",
			map[string]string{"listeners": "PLAINTEXT://:9092,CONTROLLER://:9093", "inter.broker.listener.name": "PLAINTEXT", "controller.listener.names": "CONTROLLER"}, ":9092", ":9093", ""},
		{"voter address is the inter-broker listener",
			map[string]string{"node.id": "2", "listeners": "PLAINTEXT://127.0.0.1:9092", "controller.quorum.voters": "1@127.0.0.1:19093,2@127.0.0.1:19094"}, "127.0.0.1:9092", "127.0.0.1:19094", ""},
		{"voters at the client port are refused",
			map[string]string{"listeners": "PLAINTEXT://127.0.0.1:9092", "controller.quorum.voters": "1@127.0.0.1:9092"}, "", "", "inter-broker listener"},
		{"two internal listeners are refused",
			map[string]string{"listeners": "PLAINTEXT://:9092,BROKER://:9093,CONTROLLER://:9094", "inter.broker.listener.name": "BROKER", "controller.listener.names": "CONTROLLER"}, "", "", "one listener"},
		{"a second client listener needs a protocol", map[string]string{"listeners": "PLAINTEXT://:9092,BROKER://:9093"}, "", "", "listener.security.protocol.map has no entry for listener BROKER"},
		{"several client listeners", map[string]string{"listeners": "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9093,BROKER://127.0.0.1:9094",
			"inter.broker.listener.name": "BROKER", "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,BROKER:PLAINTEXT",
			"ssl.keystore.type": "PEM", "ssl.keystore.location": "/etc/arus/broker.pem"}, "127.0.0.1:9092", "127.0.0.1:9094", ""},
		{"missing named listener", map[string]string{"listeners": "PLAINTEXT://:9092", "inter.broker.listener.name": "BROKER"}, "", "", "no listener named BROKER"},
		{"same port twice", map[string]string{"listeners": "PLAINTEXT://:9092,BROKER://:9092", "inter.broker.listener.name": "BROKER"}, "", "", "must not be the client listener"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Broker
			err := ApplyProperties(&b, tc.props)
			if err == nil {
				err = b.Validate()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Listener != tc.client || b.InterBrokerListener != tc.inter {
				t.Fatalf("client %q inter-broker %q, want %q %q", b.Listener, b.InterBrokerListener, tc.client, tc.inter)
			}
		})
	}
}
