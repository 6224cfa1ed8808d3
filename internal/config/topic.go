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
	// Deprecated configs are accepted (Kafka 3.x still takes them) and
	// ignored; whoever stores one logs that it has no effect.
	Deprecated bool
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

// levelRange accepts min..max and the codec's default marker.
func levelRange(min, max, also int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if n != also && (n < min || n > max) {
			return fmt.Errorf("must be between %d and %d", min, max)
		}
		return nil
	}
}

// throttledReplicas accepts Kafka's throttled replica lists: empty, "*",
// or partition:broker pairs separated by commas.
func throttledReplicas(v string) error {
	v = strings.TrimSpace(v)
	if v == "" || v == "*" {
		return nil
	}
	for _, item := range strings.Split(v, ",") {
		p, b, ok := strings.Cut(strings.TrimSpace(item), ":")
		if _, err := strconv.ParseUint(p, 10, 31); !ok || err != nil {
			return fmt.Errorf("must be *, or partition:broker pairs separated by commas")
		}
		if _, err := strconv.ParseUint(b, 10, 31); err != nil {
			return fmt.Errorf("must be *, or partition:broker pairs separated by commas")
		}
	}
	return nil
}

// metadataVersion accepts what Kafka's MetadataVersionValidator accepts
// for message.format.version: a release such as 2.8, 0.10.2 or 3.0-IV1.
func metadataVersion(v string) error {
	rel, iv, hasIV := strings.Cut(v, "-IV")
	parts := strings.Split(rel, ".")
	ok := len(parts) >= 2 && len(parts) <= 3
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			ok = false
		}
	}
	if hasIV {
		if _, err := strconv.ParseUint(iv, 10, 16); err != nil {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("not a Kafka release version such as 3.0-IV1")
	}
	return nil
}

func remoteStorage(v string) error {
	if err := boolean(v); err != nil {
		return err
	}
	if v == "true" {
		return fmt.Errorf("tiered storage functionality is disabled in the broker; topics cannot use remote log storage")
	}
	return nil
}

const maxInt32 = int64(^uint32(0) >> 1)
const maxInt64 = int64(^uint64(0) >> 1)

// topicDefs lists every topic config Kafka 3.9 describes (LogConfig's
// ConfigDef), with Kafka's types and defaults, the broker config that
// provides the default (ServerTopicConfigSynonyms, first synonym), and a
// short doc in our words. Configs arus accepts but does not act on say so
// in their doc; Deprecated ones are accepted and ignored with a log line.
var topicDefs = []TopicDef{
	{Name: "cleanup.policy", BrokerName: "log.cleanup.policy", Type: TypeList, Default: "delete", Doc: "delete: remove old segments by retention; compact: keep the latest record per key; both: compact, then delete by retention.", validate: cleanupPolicy},
	{Name: "compression.gzip.level", BrokerName: "compression.gzip.level", Type: TypeInt, Default: "-1", Doc: "Level used when the broker compresses batches with gzip (1-9, or -1 for the codec's default).", validate: levelRange(1, 9, -1)},
	{Name: "compression.lz4.level", BrokerName: "compression.lz4.level", Type: TypeInt, Default: "9", Doc: "Level used when the broker compresses batches with lz4 (1-17).", validate: levelRange(1, 17, 9)},
	{Name: "compression.type", BrokerName: "compression.type", Type: TypeString, Default: "producer", Doc: "Codec the broker stores batches with: producer keeps each batch as the producer compressed it; uncompressed, gzip, snappy, lz4 or zstd recompresses batches with another codec on append (KIP-390 levels apply).", validate: oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")},
	{Name: "compression.zstd.level", BrokerName: "compression.zstd.level", Type: TypeInt, Default: "3", Doc: "Level used when the broker compresses batches with zstd (-131072 to 22).", validate: levelRange(-131072, 22, 3)},
	{Name: "delete.retention.ms", BrokerName: "log.cleaner.delete.retention.ms", Type: TypeLong, Default: "86400000", Doc: "How long tombstones stay readable on compacted topics after compaction reaches them.", validate: intRange(0, maxInt64)},
	{Name: "file.delete.delay.ms", BrokerName: "log.segment.delete.delay.ms", Type: TypeLong, Default: "60000", Doc: "Delay before the files of a deleted segment are removed from disk.", validate: intRange(0, maxInt64)},
	{Name: "flush.messages", BrokerName: "log.flush.interval.messages", Type: TypeLong, Default: "9223372036854775807", Doc: "Records between forced fsyncs. Accepted for compatibility: arus fsyncs before it acknowledges.", validate: intRange(1, maxInt64)},
	{Name: "flush.ms", BrokerName: "log.flush.interval.ms", Type: TypeLong, Default: "9223372036854775807", Doc: "Time between forced fsyncs. Accepted for compatibility: arus fsyncs before it acknowledges.", validate: intRange(0, maxInt64)},
	{Name: "follower.replication.throttled.replicas", Type: TypeList, Default: "", Doc: "Replicas (partition:broker, or *) whose follower fetches are throttled. Accepted for compatibility; arus does not throttle replication.", validate: throttledReplicas},
	{Name: "index.interval.bytes", BrokerName: "log.index.interval.bytes", Type: TypeInt, Default: "4096", Doc: "Bytes of log between two offset index entries.", validate: intRange(0, maxInt32)},
	{Name: "leader.replication.throttled.replicas", Type: TypeList, Default: "", Doc: "Replicas (partition:broker, or *) whose leader side is throttled. Accepted for compatibility; arus does not throttle replication.", validate: throttledReplicas},
	{Name: "local.retention.bytes", BrokerName: "log.local.retention.bytes", Type: TypeLong, Default: "-2", Doc: "Tiered storage: local bytes kept per partition (-2: retention.bytes). Accepted; arus has no tiered storage.", validate: intRange(-2, maxInt64)},
	{Name: "local.retention.ms", BrokerName: "log.local.retention.ms", Type: TypeLong, Default: "-2", Doc: "Tiered storage: how long segments stay local (-2: retention.ms). Accepted; arus has no tiered storage.", validate: intRange(-2, maxInt64)},
	{Name: "max.compaction.lag.ms", BrokerName: "log.cleaner.max.compaction.lag.ms", Type: TypeLong, Default: "9223372036854775807", Doc: "Longest time a record may stay uncompacted.", validate: intRange(1, maxInt64)},
	{Name: "max.message.bytes", BrokerName: "message.max.bytes", Type: TypeInt, Default: "1048588", Doc: "Largest record batch (after compression) the topic accepts.", validate: intRange(0, maxInt32)},
	{Name: "message.downconversion.enable", BrokerName: "log.message.downconversion.enable", Type: TypeBoolean, Default: "true", Deprecated: true, Doc: "Deprecated: down-conversion for old fetch versions. Accepted and ignored: arus stores and serves record format v2 only.", validate: boolean},
	{Name: "message.format.version", BrokerName: "log.message.format.version", Type: TypeString, Default: "3.0-IV1", Deprecated: true, Doc: "Deprecated: on-disk message format. Accepted and ignored: arus always writes record format v2.", validate: metadataVersion},
	{Name: "message.timestamp.after.max.ms", BrokerName: "log.message.timestamp.after.max.ms", Type: TypeLong, Default: "3600000", Doc: "How far ahead of the broker's clock a CreateTime timestamp may be (Kafka 4.0's default, KIP-1030); later records are rejected with INVALID_TIMESTAMP.", validate: intRange(0, maxInt64)},
	{Name: "message.timestamp.before.max.ms", BrokerName: "log.message.timestamp.before.max.ms", Type: TypeLong, Default: "9223372036854775807", Doc: "How far behind the broker's clock a CreateTime timestamp may be.", validate: intRange(0, maxInt64)},
	{Name: "message.timestamp.difference.max.ms", BrokerName: "log.message.timestamp.difference.max.ms", Type: TypeLong, Default: "9223372036854775807", Deprecated: true, Doc: "Deprecated in favour of message.timestamp.before.max.ms and message.timestamp.after.max.ms. Accepted and ignored.", validate: intRange(0, maxInt64)},
	{Name: "message.timestamp.type", BrokerName: "log.message.timestamp.type", Type: TypeString, Default: "CreateTime", Doc: "CreateTime keeps the producer's timestamp; LogAppendTime stamps records with the broker's clock.", validate: oneOf("CreateTime", "LogAppendTime")},
	{Name: "min.cleanable.dirty.ratio", BrokerName: "log.cleaner.min.cleanable.ratio", Type: TypeDouble, Default: "0.5", Doc: "Share of uncompacted log that makes a partition eligible for compaction.", validate: func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return fmt.Errorf("must be a number between 0 and 1")
		}
		return nil
	}},
	{Name: "min.compaction.lag.ms", BrokerName: "log.cleaner.min.compaction.lag.ms", Type: TypeLong, Default: "0", Doc: "Shortest time a record stays uncompacted.", validate: intRange(0, maxInt64)},
	{Name: "min.insync.replicas", BrokerName: "min.insync.replicas", Type: TypeInt, Default: "1", Doc: "In-sync replicas needed before an acks=all write is acknowledged.", validate: intRange(1, maxInt32)},
	{Name: "preallocate", BrokerName: "log.preallocate", Type: TypeBoolean, Default: "false", Doc: "Preallocate segment files. Accepted for compatibility; arus does not preallocate.", validate: boolean},
	{Name: "remote.log.copy.disable", Type: TypeBoolean, Default: "false", Doc: "Tiered storage: stop copying segments to remote storage. Accepted; arus has no tiered storage.", validate: boolean},
	{Name: "remote.log.delete.on.disable", Type: TypeBoolean, Default: "false", Doc: "Tiered storage: delete remote data when tiering is turned off. Accepted; arus has no tiered storage.", validate: boolean},
	{Name: "remote.storage.enable", Type: TypeBoolean, Default: "false", Doc: "Tiered storage for the topic. Only false: arus has no tiered storage.", validate: remoteStorage},
	{Name: "retention.bytes", BrokerName: "log.retention.bytes", Type: TypeLong, Default: "-1", Doc: "Largest size of a partition's log before its oldest segments are deleted; -1 for no limit.", validate: intRange(-9223372036854775808, maxInt64)},
	{Name: "retention.ms", BrokerName: "log.retention.ms", Type: TypeLong, Default: "604800000", Doc: "How long a segment is kept after its newest record; -1 keeps segments forever.", validate: intRange(-1, maxInt64)},
	{Name: "segment.bytes", BrokerName: "log.segment.bytes", Type: TypeInt, Default: "1073741824", Doc: "Size at which the active segment is rolled.", validate: intRange(14, maxInt32)},
	{Name: "segment.index.bytes", BrokerName: "log.index.size.max.bytes", Type: TypeInt, Default: "10485760", Doc: "Largest offset index of a segment; a full index rolls the segment.", validate: intRange(4, maxInt32)},
	{Name: "segment.jitter.ms", BrokerName: "log.roll.jitter.ms", Type: TypeLong, Default: "0", Doc: "Random time subtracted from segment.ms so segments do not all roll at once. Accepted for compatibility.", validate: intRange(0, maxInt64)},
	{Name: "segment.ms", BrokerName: "log.roll.ms", Type: TypeLong, Default: "604800000", Doc: "Age at which the active segment is rolled even if not full.", validate: intRange(1, maxInt64)},
	{Name: "unclean.leader.election.enable", BrokerName: "unclean.leader.election.enable", Type: TypeBoolean, Default: "false", Doc: "Let an out-of-sync replica become leader when no in-sync one is alive, losing acknowledged records.", validate: boolean},
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
	// CompressionType is compression.type: producer, uncompressed, gzip,
	// snappy, lz4 or zstd; the levels are compression.gzip.level,
	// compression.lz4.level and compression.zstd.level.
	CompressionType string
	GzipLevel       int
	LZ4Level        int
	ZstdLevel       int
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
		CompressionType:       get("compression.type"),
		GzipLevel:             int(i64("compression.gzip.level")),
		LZ4Level:              int(i64("compression.lz4.level")),
		ZstdLevel:             int(i64("compression.zstd.level")),
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

// Internal topics, as Kafka's Topic.isInternal names them: they hold the
// cluster's own state (committed offsets and group metadata, transaction
// state, share-group state). Clients may read them but not produce to,
// delete, repartition or reconfigure them in ways that break that state.
const (
	OffsetsTopic          = "__consumer_offsets"
	TransactionStateTopic = "__transaction_state"
	ShareGroupStateTopic  = "__share_group_state"
)

// IsInternalTopic reports whether name is an internal topic.
func IsInternalTopic(name string) bool {
	return name == OffsetsTopic || name == TransactionStateTopic || name == ShareGroupStateTopic
}

// ValidateInternalTopicConfig checks one config change (value nil:
// remove the override) of topic; nil for every non-internal topic. Kafka
// itself accepts any config on internal topics; arus refuses those that
// break its coordinators: without compaction (cleanup.policy "delete" or
// "compact,delete", or the override removed so the broker default applies)
// retention would delete committed offsets and group metadata of live
// groups after retention.ms.
func ValidateInternalTopicConfig(topic, name string, value *string) error {
	if !IsInternalTopic(topic) || name != "cleanup.policy" {
		return nil
	}
	if value == nil || strings.TrimSpace(*value) != "compact" {
		v := "<default>"
		if value != nil {
			v = *value
		}
		return fmt.Errorf("%w: %s must keep cleanup.policy=compact (its offsets and group or transaction state are kept by compaction), got %q",
			ErrInvalidConfig, topic, v)
	}
	return nil
}
