package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Type is the data type of a config, as Kafka's DescribeConfigs v3+ reports it.
type Type int8

// Config types, numbered as kmsg.ConfigType.
const (
	TypeBoolean Type = 1
	TypeString  Type = 2
	TypeInt     Type = 3
	TypeShort   Type = 4
	TypeLong    Type = 5
	TypeDouble  Type = 6
	TypeList    Type = 7
	TypeClass   Type = 8
	TypePass    Type = 9
)

// TopicDef describes one topic-level config.
type TopicDef struct {
	Name string
	// BrokerName is the broker-level config that provides the default
	// (log.retention.ms for retention.ms), "" if none.
	BrokerName string
	Type       Type
	Default    string
	Doc        string
	validate   func(string) error
}

// ErrInvalidConfig is returned for unknown config names and bad values;
// the message says which and why.
var ErrInvalidConfig = errors.New("invalid config")

func intRange(min, max int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if n < min || n > max {
			return fmt.Errorf("must be between %d and %d", min, max)
		}
		return nil
	}
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		for _, ok := range values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(values, ", "))
	}
}

func boolean(v string) error {
	if v != "true" && v != "false" {
		return fmt.Errorf("must be true or false")
	}
	return nil
}

func cleanupPolicy(v string) error {
	parts := strings.Split(v, ",")
	seen := map[string]bool{}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p != "delete" && p != "compact" {
			return fmt.Errorf("must be a list of delete and compact")
		}
		seen[p] = true
	}
	return nil
}

const maxInt32 = int64(^uint32(0) >> 1)
const maxInt64 = int64(^uint64(0) >> 1)

// topicDefs lists the topic configs arus knows, with Kafka's defaults.
var topicDefs = []TopicDef{
	{Name: "cleanup.policy", BrokerName: "log.cleanup.policy", Type: TypeList, Default: "delete", Doc: "delete: remove old segments by retention; compact: keep the latest record per key.", validate: cleanupPolicy},
	{Name: "compression.type", BrokerName: "compression.type", Type: TypeString, Default: "producer", Doc: "Batches are stored as the producer compressed them (only producer is served).", validate: oneOf("producer")},
	{Name: "delete.retention.ms", BrokerName: "log.cleaner.delete.retention.ms", Type: TypeLong, Default: "86400000", Doc: "How long tombstones are kept on compacted topics.", validate: intRange(0, maxInt64)},
	{Name: "file.delete.delay.ms", BrokerName: "log.segment.delete.delay.ms", Type: TypeLong, Default: "60000", Doc: "Delay before a deleted segment's file is removed.", validate: intRange(0, maxInt64)},
	{Name: "flush.messages", BrokerName: "log.flush.interval.messages", Type: TypeLong, Default: "9223372036854775807", Doc: "arus fsyncs before acknowledging; kept for compatibility.", validate: intRange(1, maxInt64)},
	{Name: "flush.ms", BrokerName: "log.flush.interval.ms", Type: TypeLong, Default: "9223372036854775807", Doc: "arus fsyncs before acknowledging; kept for compatibility.", validate: intRange(0, maxInt64)},
	{Name: "index.interval.bytes", BrokerName: "log.index.interval.bytes", Type: TypeInt, Default: "4096", Doc: "Bytes of log between offset index entries.", validate: intRange(0, maxInt32)},
	{Name: "max.compaction.lag.ms", BrokerName: "log.cleaner.max.compaction.lag.ms", Type: TypeLong, Default: "9223372036854775807", Doc: "Longest time a record stays uncompacted.", validate: intRange(1, maxInt64)},
	{Name: "max.message.bytes", BrokerName: "message.max.bytes", Type: TypeInt, Default: "1048588", Doc: "Largest record batch the topic accepts.", validate: intRange(0, maxInt32)},
	{Name: "message.timestamp.after.max.ms", BrokerName: "log.message.timestamp.after.max.ms", Type: TypeLong, Default: "3600000", Doc: "How far a CreateTime record's timestamp may be ahead of the broker's clock (Kafka 4.0 default, KIP-1030); later records are rejected with INVALID_TIMESTAMP.", validate: intRange(0, maxInt64)},
	{Name: "message.timestamp.before.max.ms", BrokerName: "log.message.timestamp.before.max.ms", Type: TypeLong, Default: "9223372036854775807", Doc: "How far a CreateTime record's timestamp may be behind the broker's clock; older records are rejected with INVALID_TIMESTAMP.", validate: intRange(0, maxInt64)},
	{Name: "message.timestamp.type", BrokerName: "log.message.timestamp.type", Type: TypeString, Default: "CreateTime", Doc: "CreateTime keeps the producer's timestamp; LogAppendTime uses the broker's clock.", validate: oneOf("CreateTime", "LogAppendTime")},
	{Name: "min.cleanable.dirty.ratio", BrokerName: "log.cleaner.min.cleanable.ratio", Type: TypeDouble, Default: "0.5", Doc: "Dirty ratio that triggers compaction.", validate: func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return fmt.Errorf("must be a number between 0 and 1")
		}
		return nil
	}},
	{Name: "min.compaction.lag.ms", BrokerName: "log.cleaner.min.compaction.lag.ms", Type: TypeLong, Default: "0", Doc: "Shortest time a record stays uncompacted.", validate: intRange(0, maxInt64)},
	{Name: "min.insync.replicas", BrokerName: "min.insync.replicas", Type: TypeInt, Default: "1", Doc: "Replicas that must acknowledge an acks=all write.", validate: intRange(1, maxInt32)},
	{Name: "preallocate", BrokerName: "log.preallocate", Type: TypeBoolean, Default: "false", Doc: "Kept for compatibility; segments are not preallocated.", validate: boolean},
	{Name: "retention.bytes", BrokerName: "log.retention.bytes", Type: TypeLong, Default: "-1", Doc: "Largest size of a partition's log before old segments are deleted; -1 unlimited.", validate: intRange(-1, maxInt64)},
	{Name: "retention.ms", BrokerName: "log.retention.ms", Type: TypeLong, Default: "604800000", Doc: "Longest time a segment is kept; -1 forever.", validate: intRange(-1, maxInt64)},
	{Name: "segment.bytes", BrokerName: "log.segment.bytes", Type: TypeInt, Default: "1073741824", Doc: "Size at which a new segment is rolled.", validate: intRange(14, maxInt32)},
	{Name: "segment.index.bytes", BrokerName: "log.index.size.max.bytes", Type: TypeInt, Default: "10485760", Doc: "Largest offset index of a segment.", validate: intRange(4, maxInt32)},
	{Name: "segment.jitter.ms", BrokerName: "log.roll.jitter.ms", Type: TypeLong, Default: "0", Doc: "Kept for compatibility.", validate: intRange(0, maxInt64)},
	{Name: "segment.ms", BrokerName: "log.roll.ms", Type: TypeLong, Default: "604800000", Doc: "Age at which a new segment is rolled.", validate: intRange(1, maxInt64)},
	{Name: "unclean.leader.election.enable", BrokerName: "unclean.leader.election.enable", Type: TypeBoolean, Default: "false", Doc: "Allow out-of-sync replicas to become leader (data loss).", validate: boolean},
}

var topicDefByName = func() map[string]*TopicDef {
	m := make(map[string]*TopicDef, len(topicDefs))
	for i := range topicDefs {
		m[topicDefs[i].Name] = &topicDefs[i]
	}
	return m
}()

// TopicDefs returns every known topic config, sorted by name.
func TopicDefs() []TopicDef {
	out := append([]TopicDef(nil), topicDefs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupTopicDef returns the definition of a topic config.
func LookupTopicDef(name string) (TopicDef, bool) {
	d, ok := topicDefByName[name]
	if !ok {
		return TopicDef{}, false
	}
	return *d, true
}

// ValidateTopicConfig checks one topic config name and value.
func ValidateTopicConfig(name string, value *string) error {
	d, ok := topicDefByName[name]
	if !ok {
		return fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, name)
	}
	if value == nil {
		return nil // delete: back to the default
	}
	if err := d.validate(*value); err != nil {
		return fmt.Errorf("%w: %s=%q: %v", ErrInvalidConfig, name, *value, err)
	}
	return nil
}

// Topic is a resolved, typed view of a topic's configs: the topic's own
// overrides over the broker defaults.
type Topic struct {
	CleanupDelete      bool
	CleanupCompact     bool
	DeleteRetentionMs  int64
	IndexIntervalBytes int32
	MaxMessageBytes    int32
	LogAppendTime      bool
	// TimestampBeforeMaxMs and TimestampAfterMaxMs are
	// message.timestamp.before.max.ms and message.timestamp.after.max.ms.
	TimestampBeforeMaxMs  int64
	TimestampAfterMaxMs   int64
	MinInsyncReplicas     int32
	RetentionBytes        int64
	RetentionMs           int64
	SegmentBytes          int64
	SegmentMs             int64
	MinCompactionLagMs    int64
	UncleanLeaderElection bool
}

// ResolveTopic returns the effective configs of a topic given its overrides
// and the broker-level defaults (both keyed by topic config name).
func ResolveTopic(overrides, defaults map[string]string) Topic {
	get := func(name string) string {
		if v, ok := overrides[name]; ok {
			return v
		}
		if v, ok := defaults[name]; ok {
			return v
		}
		return topicDefByName[name].Default
	}
	i64 := func(name string) int64 {
		n, err := strconv.ParseInt(get(name), 10, 64)
		if err != nil {
			n, _ = strconv.ParseInt(topicDefByName[name].Default, 10, 64)
		}
		return n
	}
	policy := get("cleanup.policy")
	return Topic{
		CleanupDelete:         strings.Contains(policy, "delete"),
		CleanupCompact:        strings.Contains(policy, "compact"),
		DeleteRetentionMs:     i64("delete.retention.ms"),
		IndexIntervalBytes:    int32(i64("index.interval.bytes")),
		MaxMessageBytes:       int32(i64("max.message.bytes")),
		LogAppendTime:         get("message.timestamp.type") == "LogAppendTime",
		TimestampBeforeMaxMs:  i64("message.timestamp.before.max.ms"),
		TimestampAfterMaxMs:   i64("message.timestamp.after.max.ms"),
		MinInsyncReplicas:     int32(i64("min.insync.replicas")),
		RetentionBytes:        i64("retention.bytes"),
		RetentionMs:           i64("retention.ms"),
		SegmentBytes:          i64("segment.bytes"),
		SegmentMs:             i64("segment.ms"),
		MinCompactionLagMs:    i64("min.compaction.lag.ms"),
		UncleanLeaderElection: get("unclean.leader.election.enable") == "true",
	}
}

// ValidTopicName reports why name is not a legal Kafka topic name, or nil.
func ValidTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > 249:
		return fmt.Errorf("topic name is %d characters, the limit is 249", len(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q contains %q; only ASCII letters, digits, '.', '_' and '-' are allowed", name, c)
		}
	}
	return nil
}
