package config

import (
	"testing"
	"time"
)

func TestGroupDefaultsAndProperties(t *testing.T) {
	var b Broker
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	g := b.Groups
	if *g.InitialRebalanceDelay != 3*time.Second || g.MinSessionTimeout != 6*time.Second || g.MaxSessionTimeout != 30*time.Minute ||
		g.OffsetsRetention != 7*24*time.Hour || g.OffsetMetadataMaxBytes != 4096 || g.OffsetsTopicPartitions != 50 ||
		g.OffsetsTopicReplicationFactor != 3 || g.OffsetsTopicSegmentBytes != 100<<20 {
		t.Fatalf("defaults %+v", g)
	}
	described := map[string]string{}
	for _, e := range b.Layers(nil).DescribeBroker(true) {
		if e.Value != nil {
			described[e.Name] = *e.Value
		}
	}
	if described["group.initial.rebalance.delay.ms"] != "3000" || described["offsets.retention.minutes"] != "10080" {
		t.Fatalf("broker configs %v", described)
	}

	b = Broker{}
	err := ApplyProperties(&b, map[string]string{
		"group.initial.rebalance.delay.ms": "0", "group.min.session.timeout.ms": "1000",
		"offsets.retention.minutes": "60", "offsets.topic.num.partitions": "10", "offset.metadata.max.bytes": "100",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	g = b.Groups
	if *g.InitialRebalanceDelay != 0 || g.MinSessionTimeout != time.Second || g.OffsetsRetention != time.Hour ||
		g.OffsetsTopicPartitions != 10 || g.OffsetMetadataMaxBytes != 100 {
		t.Fatalf("applied %+v", g)
	}
	if err := ApplyProperties(&Broker{}, map[string]string{"group.min.session.timeout.ms": "soon"}); err == nil {
		t.Fatal("a bad value was accepted")
	}
	bad := Broker{Groups: Groups{MinSessionTimeout: time.Minute, MaxSessionTimeout: time.Second}}
	if err := bad.Validate(); err == nil {
		t.Fatal("min session timeout above the max was accepted")
	}
}
