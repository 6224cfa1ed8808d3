package config

import (
	"errors"
	"reflect"
	"testing"
)

// kafkaTopicConfigs are the topic configs Kafka 3.9 describes
// (storage/.../LogConfig.java, its ConfigDef).
var kafkaTopicConfigs = []string{
	"cleanup.policy", "compression.gzip.level", "compression.lz4.level", "compression.type", "compression.zstd.level",
	"delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms", "follower.replication.throttled.replicas",
	"index.interval.bytes", "leader.replication.throttled.replicas", "local.retention.bytes", "local.retention.ms",
	"max.compaction.lag.ms", "max.message.bytes", "message.downconversion.enable", "message.format.version",
	"message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.difference.max.ms",
	"message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
	"remote.log.copy.disable", "remote.log.delete.on.disable", "remote.storage.enable", "retention.bytes", "retention.ms",
	"segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms", "unclean.leader.election.enable",
}

func TestTopicDefsAreKafkas(t *testing.T) {
	var names []string
	for _, d := range TopicDefs() {
		names = append(names, d.Name)
		if err := d.validate(d.Default); err != nil && d.Name != "follower.replication.throttled.replicas" {
			t.Errorf("%s: Kafka's default %q is refused: %v", d.Name, d.Default, err)
		}
	}
	if !reflect.DeepEqual(names, kafkaTopicConfigs) {
		t.Fatalf("topic configs\n got %v\nwant %v", names, kafkaTopicConfigs)
	}
}

func s(v string) *string { return &v }

// TestSynonymsLikeKafka checks DescribeConfigs' sources and synonyms
// against what Kafka's ConfigHelper.createTopicConfigEntry and
// configSynonyms give: dynamic per-broker, dynamic cluster-wide, static,
// then defaults, each in brokerConfigSynonyms order, with the entries
// before the first synonym dropped (so retention.ms at its defaults has
// no synonyms: log.retention.ms has no default and log.retention.hours
// comes after it).
func TestSynonymsLikeKafka(t *testing.T) {
	byName := func(es []Entry) map[string]Entry {
		m := map[string]Entry{}
		for _, e := range es {
			m[e.Name] = e
		}
		return m
	}
	l := Layers{
		Broker:  map[string]string{"log.segment.bytes": "5000"},
		Cluster: map[string]string{"log.segment.bytes": "6000", "log.retention.ms": "1000"},
		Static:  map[string]string{"log.retention.bytes": "99"},
	}
	got := byName(l.DescribeTopic(map[string]string{"retention.ms": "7"}))
	for _, tc := range []struct {
		name   string
		value  string
		source Source
		syn    []Synonym
	}{
		{"retention.ms", "7", SourceTopic, []Synonym{{"retention.ms", s("7"), SourceTopic}, {"log.retention.ms", s("1000"), SourceDynamicDefaultBroker}, {"log.retention.hours", s("168"), SourceDefault}}},
		{"segment.bytes", "5000", SourceDynamicBroker, []Synonym{{"log.segment.bytes", s("5000"), SourceDynamicBroker}, {"log.segment.bytes", s("6000"), SourceDynamicDefaultBroker}, {"log.segment.bytes", s("1073741824"), SourceDefault}}},
		{"retention.bytes", "99", SourceStaticBroker, []Synonym{{"log.retention.bytes", s("99"), SourceStaticBroker}, {"log.retention.bytes", s("-1"), SourceDefault}}},
		{"segment.ms", "604800000", SourceDefault, nil},
		{"remote.storage.enable", "false", SourceDefault, nil},
	} {
		e := got[tc.name]
		if e.Value == nil || *e.Value != tc.value || e.Source != tc.source || !reflect.DeepEqual(e.Synonyms, tc.syn) {
			t.Errorf("%s: %v %v %+v, want %s %v %+v", tc.name, deref(e.Value), e.Source, e.Synonyms, tc.value, tc.source, tc.syn)
		}
	}
	if d := l.TopicDefaults(); d["segment.bytes"] != "5000" || d["retention.ms"] != "1000" || d["retention.bytes"] != "99" || len(d) != 3 {
		t.Errorf("topic defaults %v", d)
	}

	broker := byName(l.DescribeBroker(true))
	if e := broker["log.retention.hours"]; *e.Value != "168" || e.Source != SourceDefault || e.ReadOnly != true {
		t.Errorf("log.retention.hours %+v", e)
	}
	if e := broker["log.retention.ms"]; *e.Value != "1000" || e.Source != SourceDynamicDefaultBroker || e.ReadOnly {
		t.Errorf("log.retention.ms %+v", e)
	}
	if e := broker["log.roll.ms"]; e.Value != nil || e.Source != SourceDefault || len(e.Synonyms) != 0 {
		t.Errorf("log.roll.ms (null in Kafka) %+v", e)
	}
	if e := broker["num.partitions"]; !e.ReadOnly || e.Type != TypeInt {
		t.Errorf("num.partitions %+v", e)
	}
	cluster := l.DescribeBroker(false)
	if len(cluster) != 2 || cluster[0].Name != "log.retention.ms" || cluster[0].Source != SourceDynamicDefaultBroker ||
		!reflect.DeepEqual(cluster[1].Synonyms, []Synonym{{"log.segment.bytes", s("6000"), SourceDynamicDefaultBroker}}) {
		t.Errorf("cluster-wide configs %+v", cluster)
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestValidateDynamicBrokerConfigs(t *testing.T) {
	if err := ValidateDynamicBrokerConfigs(map[string]*string{"log.retention.ms": s("1"), "message.max.bytes": s("2000000"), "num.partitions": nil}); err != nil {
		t.Fatal(err)
	}
	var nd *NotDynamicError
	err := ValidateDynamicBrokerConfigs(map[string]*string{"num.partitions": s("3"), "log.retention.hours": s("1"), "no.such": s("x"), "log.message.format.version": s("2.8")})
	if !errors.As(err, &nd) || err.Error() != "Cannot update these configs dynamically: Set(log.message.format.version, log.retention.hours, no.such, num.partitions)" {
		t.Fatalf("not dynamic: %v", err)
	}
	var bv *BrokerValueError
	if err := ValidateDynamicBrokerConfigs(map[string]*string{"log.retention.ms": s("soon")}); !errors.As(err, &bv) {
		t.Fatalf("bad value: %v", err)
	}
}

func TestDeprecatedAndUnservedTopicConfigs(t *testing.T) {
	for name, value := range map[string]string{
		"message.format.version": "2.8", "message.downconversion.enable": "false", "message.timestamp.difference.max.ms": "1000",
		"leader.replication.throttled.replicas": "0:1,1:2", "follower.replication.throttled.replicas": "*", "local.retention.ms": "-2",
	} {
		if err := ValidateTopicConfig(name, s(value)); err != nil {
			t.Errorf("%s=%s refused: %v", name, value, err)
		}
	}
	for name, value := range map[string]string{
		"message.format.version": "latest", "remote.storage.enable": "true", "leader.replication.throttled.replicas": "0-1", "compression.gzip.level": "10",
	} {
		if err := ValidateTopicConfig(name, s(value)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s=%s accepted (%v)", name, value, err)
		}
	}
}
