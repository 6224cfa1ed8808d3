package config

// The broker config catalog and DescribeConfigs' view of configs: which
// value a config has, where it comes from (its source) and its synonyms,
// computed the way Kafka's ConfigHelper does (kafka/server/ConfigHelper.scala,
// DynamicBrokerConfig.brokerConfigSynonyms, ServerTopicConfigSynonyms).

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Source is where a config's value comes from, numbered as Kafka's
// DescribeConfigsResponse.ConfigSource (and kmsg.ConfigSource).
type Source int8

// Config sources.
const (
	SourceTopic                Source = 1 // DYNAMIC_TOPIC_CONFIG: the topic's own override
	SourceDynamicBroker        Source = 2 // DYNAMIC_BROKER_CONFIG: set at runtime for this broker
	SourceDynamicDefaultBroker Source = 3 // DYNAMIC_DEFAULT_BROKER_CONFIG: set at runtime for every broker
	SourceStaticBroker         Source = 4 // STATIC_BROKER_CONFIG: the broker's flags, file or environment
	SourceDefault              Source = 5 // DEFAULT_CONFIG: Kafka's default
)

// BrokerDef describes one broker config.
type BrokerDef struct {
	Name string
	Type Type
	// Default is Kafka's default; HasDefault is false where Kafka's is
	// null (log.retention.ms, log.roll.ms, advertised.listeners, ...).
	Default    string
	HasDefault bool
	Doc        string
	// Dynamic configs can be changed at runtime with AlterConfigs or
	// IncrementalAlterConfigs on a broker resource; the others are read
	// only. These are the broker defaults of topic configs, which Kafka
	// also lets change at runtime (DynamicLogConfig.ReconfigurableConfigs).
	Dynamic bool
	// topic is the topic config whose default this is, "" if none.
	topic string
}

// brokerOwnDefs are the broker configs that are not topic defaults.
var brokerOwnDefs = []BrokerDef{
	{Name: "advertised.listeners", Type: TypeString, Doc: "Addresses given to clients in Metadata responses, when they differ from listeners."},
	{Name: "auto.create.topics.enable", Type: TypeBoolean, Default: "true", HasDefault: true, Doc: "Create a topic when a client asks for its metadata or produces to it."},
	{Name: "auto.leader.rebalance.enable", Type: TypeBoolean, Default: "true", HasDefault: true, Doc: "Move leadership back to preferred replicas periodically."},
	{Name: "broker.id", Type: TypeInt, Default: "-1", HasDefault: true, Doc: "This node's id (the same as node.id)."},
	{Name: "broker.rack", Type: TypeString, Doc: "Rack of this broker; replicas of a partition are spread over racks."},
	{Name: "controller.quorum.voters", Type: TypeList, Default: "", HasDefault: true, Doc: "The metadata quorum's voters as id@host:port."},
	{Name: "default.replication.factor", Type: TypeInt, Default: "1", HasDefault: true, Doc: "Replication factor of topics created without one (auto-created topics too)."},
	{Name: "delete.topic.enable", Type: TypeBoolean, Default: "true", HasDefault: true, Doc: "Topics can be deleted (always true in arus)."},
	{Name: "group.initial.rebalance.delay.ms", Type: TypeInt, Default: "3000", HasDefault: true, Doc: "How long the first rebalance of an empty group waits for more members."},
	{Name: "group.max.session.timeout.ms", Type: TypeInt, Default: "1800000", HasDefault: true, Doc: "Longest session timeout a group member may ask for."},
	{Name: "group.min.session.timeout.ms", Type: TypeInt, Default: "6000", HasDefault: true, Doc: "Shortest session timeout a group member may ask for."},
	{Name: "leader.imbalance.check.interval.seconds", Type: TypeLong, Default: "300", HasDefault: true, Doc: "How often the controller checks for partitions not led by their preferred replica."},
	{Name: "listeners", Type: TypeString, Default: "PLAINTEXT://:9092", HasDefault: true, Doc: "Address the broker listens on for clients."},
	{Name: "log.dir", Type: TypeString, Default: "/tmp/kafka-logs", HasDefault: true, Doc: "Data directory, used when log.dirs is not set."},
	{Name: "log.dirs", Type: TypeString, Doc: "Data directory of partitions and metadata."},
	{Name: "log.flush.offset.checkpoint.interval.ms", Type: TypeLong, Default: "60000", HasDefault: true, Doc: "How often each partition writes its recovery point; a restart after a crash rescans only what was written after it."},
	{Name: "log.retention.check.interval.ms", Type: TypeLong, Default: "300000", HasDefault: true, Doc: "How often segments are checked against retention."},
	{Name: "node.id", Type: TypeInt, Default: "-1", HasDefault: true, Doc: "This node's id in the cluster."},
	{Name: "num.partitions", Type: TypeInt, Default: "1", HasDefault: true, Doc: "Partitions of topics created without a count (auto-created topics too)."},
	{Name: "offset.metadata.max.bytes", Type: TypeInt, Default: "4096", HasDefault: true, Doc: "Largest metadata string of a committed offset."},
	{Name: "offsets.retention.check.interval.ms", Type: TypeLong, Default: "600000", HasDefault: true, Doc: "How often expired committed offsets are removed."},
	{Name: "offsets.retention.minutes", Type: TypeInt, Default: "10080", HasDefault: true, Doc: "How long the offsets of an empty group are kept."},
	{Name: "offsets.topic.num.partitions", Type: TypeInt, Default: "50", HasDefault: true, Doc: "Partitions of __consumer_offsets."},
	{Name: "offsets.topic.replication.factor", Type: TypeShort, Default: "3", HasDefault: true, Doc: "Replication factor of __consumer_offsets (at most the number of brokers)."},
	{Name: "offsets.topic.segment.bytes", Type: TypeInt, Default: "104857600", HasDefault: true, Doc: "Segment size of __consumer_offsets."},
	{Name: "process.roles", Type: TypeList, Default: "", HasDefault: true, Doc: "Roles of this node: broker, controller or both."},
	{Name: "socket.request.max.bytes", Type: TypeInt, Default: "104857600", HasDefault: true, Doc: "Largest request the broker reads; larger ones close the connection."},
	{Name: "queued.max.request.bytes", Type: TypeLong, Default: "-1", HasDefault: true, Doc: "Request bytes read but not yet handled, broker-wide; readers wait beyond it (-1: unbounded; arus defaults to 256 MiB)."},
	{Name: "connections.max.idle.ms", Type: TypeLong, Default: "600000", HasDefault: true, Doc: "Connections idle this long are closed."},
	{Name: "max.connections", Type: TypeInt, Default: "2147483647", HasDefault: true, Doc: "Connections the broker accepts at once; further ones wait (arus defaults to 4096)."},
	{Name: "max.connections.per.ip", Type: TypeInt, Default: "2147483647", HasDefault: true, Doc: "Connections from one address; further ones are closed (arus defaults to 1000)."},
	{Name: "max.connections.per.ip.overrides", Type: TypeString, Default: "", HasDefault: true, Doc: "Per-address limits, host:count,host:count."},
	{Name: "arus.max.partitions.per.broker", Type: TypeInt, Default: "0", HasDefault: true, Doc: "arus: partition replicas this broker hosts at most; 0 derives it from the file descriptor budget, -1 is no limit. Creates and reassignments beyond it are refused up front."},
	{Name: "arus.fd.reserve", Type: TypeInt, Default: "1024", HasDefault: true, Doc: "arus: file descriptors kept out of the segment file cache for connections, the metadata log and the rest."},
	{Name: "http.listener", Type: TypeString, Default: "", HasDefault: true, Doc: "arus: host:port of the web console and /metrics (the command line defaults it to localhost:8080; off disables)."},
	{Name: "arus.client.telemetry.metrics", Type: TypeList, Default: "org.apache.kafka.producer.,org.apache.kafka.consumer.", HasDefault: true, Doc: "arus: metric name prefixes clients are asked to push (KIP-714), exported on /metrics; * for all, empty for none."},
	{Name: "arus.client.telemetry.push.interval.ms", Type: TypeInt, Default: "300000", HasDefault: true, Doc: "arus: how often clients push their metrics (KIP-714)."},
	{Name: "arus.metrics.per.partition.enabled", Type: TypeBoolean, Default: "true", HasDefault: true, Doc: "arus: export metrics labelled by partition (log sizes and offsets, consumer lag per partition); off keeps only per-topic sums."},
	{Name: "decompression.buffer.max.bytes", Type: TypeLong, Default: "67108864", HasDefault: true, Doc: "arus: memory all decompression on the node (produce validation, compaction, readers) may hold at once; work beyond it waits."},
	{Name: "add.partitions.to.txn.retry.backoff.ms", Type: TypeInt, Default: "20", HasDefault: true, Doc: "How often the broker retries adding a partition to a transaction on a client's behalf while the coordinator completes the previous transaction (KIP-890)."},
	{Name: "add.partitions.to.txn.retry.backoff.max.ms", Type: TypeInt, Default: "100", HasDefault: true, Doc: "How long the broker retries adding a partition to a transaction on a client's behalf before answering CONCURRENT_TRANSACTIONS."},
	{Name: "transaction.max.timeout.ms", Type: TypeInt, Default: "900000", HasDefault: true, Doc: "Largest transaction.timeout.ms a transactional producer may ask for; larger ones get INVALID_TRANSACTION_TIMEOUT."},
	{Name: "transactional.id.expiration.ms", Type: TypeInt, Default: "604800000", HasDefault: true, Doc: "A transactional id with no transaction status update for this long is forgotten by its coordinator."},
	{Name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", Type: TypeInt, Default: "10000", HasDefault: true, Doc: "How often transactions past their timeout are looked for and aborted."},
	{Name: "transaction.remove.expired.transaction.cleanup.interval.ms", Type: TypeInt, Default: "3600000", HasDefault: true, Doc: "How often transactional ids past transactional.id.expiration.ms are removed."},
	{Name: "transaction.state.log.num.partitions", Type: TypeInt, Default: "50", HasDefault: true, Doc: "Partitions of __transaction_state (do not change after deployment)."},
	{Name: "transaction.state.log.replication.factor", Type: TypeShort, Default: "3", HasDefault: true, Doc: "Replication factor of __transaction_state (at most the number of brokers)."},
	{Name: "transaction.state.log.segment.bytes", Type: TypeInt, Default: "104857600", HasDefault: true, Doc: "Segment size of __transaction_state."},
	{Name: "transaction.state.log.min.isr", Type: TypeInt, Default: "2", HasDefault: true, Doc: "min.insync.replicas of __transaction_state (at most its replication factor)."},
	{Name: "transaction.state.log.load.buffer.size", Type: TypeInt, Default: "5242880", HasDefault: true, Doc: "Bytes read at a time when a coordinator loads a __transaction_state partition."},
	{Name: "transaction.partition.verification.enable", Type: TypeBoolean, Default: "true", HasDefault: true, Doc: "Verify with the transaction coordinator that a partition was added to the transaction before writing transactional records to it (KIP-890)."},
	{Name: "producer.id.expiration.ms", Type: TypeInt, Default: "86400000", HasDefault: true, Doc: "A partition leader forgets a producer id that wrote nothing to it for this long (never while its transaction is open)."},
	{Name: "producer.id.expiration.check.interval.ms", Type: TypeInt, Default: "600000", HasDefault: true, Doc: "How often producer ids past producer.id.expiration.ms are removed."},
	{Name: "max.connection.creation.rate", Type: TypeInt, Default: "2147483647", HasDefault: true, Doc: "New connections per second the broker accepts (arus defaults to 1000)."},
}

// brokerExtraSynonyms are the lower-priority broker synonyms of topic
// defaults (ServerTopicConfigSynonyms lists them after the first).
var brokerExtraSynonyms = []BrokerDef{
	{Name: "log.flush.scheduler.interval.ms", Type: TypeLong, Default: "9223372036854775807", HasDefault: true, Doc: "Fallback of log.flush.interval.ms. Accepted for compatibility."},
	{Name: "log.retention.hours", Type: TypeInt, Default: "168", HasDefault: true, Doc: "Retention in hours, used when log.retention.ms and log.retention.minutes are not set."},
	{Name: "log.retention.minutes", Type: TypeInt, Doc: "Retention in minutes, used when log.retention.ms is not set."},
	{Name: "log.roll.hours", Type: TypeInt, Default: "168", HasDefault: true, Doc: "Segment age in hours at which it rolls, used when log.roll.ms is not set."},
	{Name: "log.roll.jitter.hours", Type: TypeInt, Default: "0", HasDefault: true, Doc: "Segment roll jitter in hours, used when log.roll.jitter.ms is not set."},
}

// brokerSynonymGroups are the broker configs that set one value, highest
// priority first (DynamicBrokerConfig.brokerConfigSynonyms).
var brokerSynonymGroups = [][]string{
	{"log.roll.ms", "log.roll.hours"},
	{"log.roll.jitter.ms", "log.roll.jitter.hours"},
	{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"},
	{"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
}

// noBrokerDefault lists the first broker synonyms of topic configs whose
// Kafka default is null (the value comes from a lower synonym).
var noBrokerDefault = map[string]bool{
	"log.roll.ms": true, "log.roll.jitter.ms": true, "log.flush.interval.ms": true, "log.retention.ms": true,
}

var brokerDefs, brokerDefByName = func() ([]BrokerDef, map[string]*BrokerDef) {
	defs := append([]BrokerDef(nil), brokerOwnDefs...)
	defs = append(defs, brokerExtraSynonyms...)
	for _, d := range topicDefs {
		if d.BrokerName == "" {
			continue
		}
		bd := BrokerDef{Name: d.BrokerName, Type: d.Type, Default: d.Default, HasDefault: !noBrokerDefault[d.BrokerName],
			Doc: "Default of the topic config " + d.Name + ": " + d.Doc, topic: d.Name,
			// log.message.format.version is the one topic default Kafka does
			// not let change at runtime (DynamicLogConfig.NonReconfigrableLogConfigs).
			Dynamic: d.Name != "message.format.version"}
		if !bd.HasDefault {
			bd.Default = ""
		}
		defs = append(defs, bd)
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].Name < defs[j].Name })
	m := make(map[string]*BrokerDef, len(defs))
	for i := range defs {
		m[defs[i].Name] = &defs[i]
	}
	return defs, m
}()

// BrokerDefs returns every broker config arus describes, sorted by name.
func BrokerDefs() []BrokerDef { return append([]BrokerDef(nil), brokerDefs...) }

// LookupBrokerDef returns the definition of a broker config.
func LookupBrokerDef(name string) (BrokerDef, bool) {
	d, ok := brokerDefByName[name]
	if !ok {
		return BrokerDef{}, false
	}
	return *d, true
}

// BrokerSynonyms returns the broker configs that set the same value as
// name, highest priority first; name alone when it has none.
func BrokerSynonyms(name string) []string {
	for _, g := range brokerSynonymGroups {
		for _, n := range g {
			if n == name {
				return g
			}
		}
	}
	return []string{name}
}

// NotDynamicError is the answer to a runtime change of broker configs
// that cannot change at runtime (Kafka's DynamicBrokerConfig.validateConfigs;
// Kafka answers it with INVALID_REQUEST).
type NotDynamicError struct{ Names []string }

func (e *NotDynamicError) Error() string {
	return "Cannot update these configs dynamically: Set(" + strings.Join(e.Names, ", ") + ")"
}

// BrokerValueError is a bad value for a dynamic broker config (Kafka
// answers it with INVALID_REQUEST, see ConfigAdminManager.validateBrokerConfigChange).
type BrokerValueError struct {
	Name, Value string
	Err         error
}

func (e *BrokerValueError) Error() string {
	return fmt.Sprintf("Invalid value %s for configuration %s: %v", e.Value, e.Name, e.Err)
}

func (e *BrokerValueError) Unwrap() error { return e.Err }

// ValidateDynamicBrokerConfigs checks runtime changes of broker configs
// (nil values delete): every name must be a dynamic config and every
// value valid for it.
func ValidateDynamicBrokerConfigs(set map[string]*string) error {
	var bad []string
	for name, v := range set {
		d, ok := brokerDefByName[name]
		if !ok || !d.Dynamic {
			if v != nil { // deleting what is not set is harmless
				bad = append(bad, name)
			}
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return &NotDynamicError{Names: bad}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v := set[name]
		d := brokerDefByName[name]
		if v == nil || d == nil || !d.Dynamic {
			continue
		}
		if err := topicDefByName[d.topic].validate(*v); err != nil {
			return &BrokerValueError{Name: name, Value: *v, Err: err}
		}
	}
	return nil
}

// Layers are a broker's config values by where they come from, keyed by
// broker config name.
type Layers struct {
	// Broker holds the runtime changes for this broker (resource "<id>").
	Broker map[string]string
	// Cluster holds the runtime changes for every broker (resource "").
	Cluster map[string]string
	// Static holds the broker's own configuration (flags, file,
	// environment), without Kafka's defaults.
	Static map[string]string
}

// lookup returns the value of a broker config and its source, nil and
// SourceDefault when only Kafka's default (or no value) applies.
func (l Layers) lookup(name string) (*string, Source) {
	for _, layer := range []struct {
		m map[string]string
		s Source
	}{{l.Broker, SourceDynamicBroker}, {l.Cluster, SourceDynamicDefaultBroker}, {l.Static, SourceStaticBroker}} {
		if v, ok := layer.m[name]; ok {
			return &v, layer.s
		}
	}
	return nil, SourceDefault
}

// Synonym is one config that provides a value, as DescribeConfigs lists
// them (v1+, IncludeSynonyms).
type Synonym struct {
	Name   string
	Value  *string
	Source Source
}

// synonyms lists where the broker config name could take its value from,
// in Kafka's order: every synonym set for this broker, then every one set
// cluster-wide, then static ones, then those with a Kafka default; and
// like Kafka it drops the entries before the first that names name itself
// (ConfigHelper.configSynonyms). perBroker false keeps only cluster-wide
// ones.
func (l Layers) synonyms(name string, perBroker bool) []Synonym {
	names := BrokerSynonyms(name)
	var out []Synonym
	add := func(m map[string]string, s Source) {
		for _, n := range names {
			if v, ok := m[n]; ok {
				out = append(out, Synonym{Name: n, Value: &v, Source: s})
			}
		}
	}
	if perBroker {
		add(l.Broker, SourceDynamicBroker)
	}
	add(l.Cluster, SourceDynamicDefaultBroker)
	if perBroker {
		add(l.Static, SourceStaticBroker)
		for _, n := range names {
			if d, ok := brokerDefByName[n]; ok && d.HasDefault {
				v := d.Default
				out = append(out, Synonym{Name: n, Value: &v, Source: SourceDefault})
			}
		}
	}
	for len(out) > 0 && out[0].Name != name {
		out = out[1:]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Entry is one config as DescribeConfigs shows it.
type Entry struct {
	Name      string
	Value     *string
	Source    Source
	ReadOnly  bool
	Sensitive bool
	Type      Type
	Doc       string
	Synonyms  []Synonym
}

// TopicDefaults returns the topic config defaults these layers give,
// keyed by topic config name: for each topic config with a broker
// synonym, the value set for this broker, else cluster-wide, else in the
// static configuration. Configs left at Kafka's default are absent.
func (l Layers) TopicDefaults() map[string]string {
	out := map[string]string{}
	for _, d := range topicDefs {
		if d.BrokerName == "" {
			continue
		}
		if v, src := l.lookup(d.BrokerName); src != SourceDefault {
			out[d.Name] = *v
		}
	}
	return out
}

// DescribeTopic returns every topic config of a topic with the given
// overrides, sorted by name (ConfigHelper.createTopicConfigEntry).
func (l Layers) DescribeTopic(overrides map[string]string) []Entry {
	out := make([]Entry, 0, len(topicDefs))
	for _, d := range TopicDefs() {
		e := Entry{Name: d.Name, Type: d.Type, Doc: d.Doc}
		if d.BrokerName != "" {
			e.Synonyms = l.synonyms(d.BrokerName, true)
		}
		if v, ok := overrides[d.Name]; ok {
			e.Synonyms = append([]Synonym{{Name: d.Name, Value: &v, Source: SourceTopic}}, e.Synonyms...)
		}
		e.Source = SourceDefault
		v := d.Default
		if d.BrokerName != "" {
			if bv, src := l.lookup(d.BrokerName); src != SourceDefault {
				v = *bv
			}
		}
		if len(e.Synonyms) > 0 {
			e.Source = e.Synonyms[0].Source
			if e.Source == SourceTopic {
				v = *e.Synonyms[0].Value
			}
		}
		e.Value = &v
		out = append(out, e)
	}
	return out
}

// DescribeBroker returns every broker config of this broker (perBroker,
// resource "<id>") or the cluster-wide runtime changes (resource ""),
// sorted by name (ConfigHelper.createBrokerConfigEntry).
func (l Layers) DescribeBroker(perBroker bool) []Entry {
	var out []Entry
	for _, d := range brokerDefs {
		if !perBroker {
			if _, ok := l.Cluster[d.Name]; !ok {
				continue
			}
		}
		e := Entry{Name: d.Name, Type: d.Type, Doc: d.Doc, ReadOnly: !d.Dynamic}
		e.Synonyms = l.synonyms(d.Name, perBroker)
		e.Source = SourceDefault
		if len(e.Synonyms) > 0 {
			e.Source = e.Synonyms[0].Source
		}
		if perBroker {
			if v, src := l.lookup(d.Name); src != SourceDefault {
				e.Value = v
			} else if d.HasDefault {
				v := d.Default
				e.Value = &v
			}
		} else {
			v := l.Cluster[d.Name]
			e.Value = &v
		}
		out = append(out, e)
	}
	return out
}

// StaticConfigs returns the broker's own configuration keyed by Kafka's
// broker config names: the settings that differ from Kafka's defaults
// (arus fills its defaults in Validate, so equal values count as
// defaults) and every topic default it sets.
func (b *Broker) StaticConfigs() map[string]string {
	m := map[string]string{
		"node.id":                                 strconv.Itoa(int(b.NodeID)),
		"broker.id":                               strconv.Itoa(int(b.NodeID)),
		"listeners":                               "PLAINTEXT://" + b.Listener + ",BROKER://" + b.InterBrokerListener,
		"inter.broker.listener.name":              "BROKER",
		"controller.listener.names":               "BROKER",
		"log.dirs":                                b.DataDir,
		"num.partitions":                          strconv.Itoa(int(b.NumPartitions)),
		"default.replication.factor":              strconv.Itoa(int(b.DefaultReplicationFactor)),
		"socket.request.max.bytes":                strconv.Itoa(int(b.MaxRequestBytes)),
		"log.retention.check.interval.ms":         strconv.FormatInt(b.RetentionCheckInterval.Milliseconds(), 10),
		"log.flush.offset.checkpoint.interval.ms": strconv.FormatInt(b.RecoveryPointCheckpointInterval.Milliseconds(), 10),
		"leader.imbalance.check.interval.seconds": strconv.FormatInt(int64(b.LeaderImbalanceCheckInterval/time.Second), 10),
		"process.roles":                           "broker,controller",
		"queued.max.request.bytes":                strconv.FormatInt(b.QueuedMaxRequestBytes, 10),
		"connections.max.idle.ms":                 strconv.FormatInt(max(b.ConnectionsMaxIdle.Milliseconds(), -1), 10),
		"max.connections":                         strconv.Itoa(int(b.MaxConnections)),
		"max.connections.per.ip":                  strconv.Itoa(int(b.MaxConnectionsPerIP)),
		"max.connections.per.ip.overrides":        b.MaxConnectionsPerIPOverrides,
		"max.connection.creation.rate":            strconv.Itoa(int(b.MaxConnectionCreationRate)),
	}
	m["http.listener"] = b.HTTPListener
	if b.MetricsPerPartition != nil {
		m["arus.metrics.per.partition.enabled"] = strconv.FormatBool(*b.MetricsPerPartition)
	}
	if b.ClientTelemetryMetrics != nil {
		m["arus.client.telemetry.metrics"] = *b.ClientTelemetryMetrics
	}
	if b.ClientTelemetryPushInterval > 0 {
		m["arus.client.telemetry.push.interval.ms"] = strconv.FormatInt(b.ClientTelemetryPushInterval.Milliseconds(), 10)
	}
	if b.AutoCreateTopics != nil {
		m["auto.create.topics.enable"] = strconv.FormatBool(*b.AutoCreateTopics)
	}
	if b.AutoLeaderRebalance != nil {
		m["auto.leader.rebalance.enable"] = strconv.FormatBool(*b.AutoLeaderRebalance)
	}
	if b.ControllerQuorumVoters != "" {
		m["controller.quorum.voters"] = b.ControllerQuorumVoters
		if voters, err := ParseVoters(b.ControllerQuorumVoters); err == nil {
			if _, voter := voters[b.NodeID]; !voter {
				m["process.roles"] = "broker"
			}
		}
	}
	if b.AdvertisedListener != "" {
		m["advertised.listeners"] = "PLAINTEXT://" + b.AdvertisedListener
	}
	if b.Rack != "" {
		m["broker.rack"] = b.Rack
	}
	if g := b.Groups; g.InitialRebalanceDelay != nil {
		m["group.initial.rebalance.delay.ms"] = strconv.FormatInt(g.InitialRebalanceDelay.Milliseconds(), 10)
		m["group.min.session.timeout.ms"] = strconv.FormatInt(g.MinSessionTimeout.Milliseconds(), 10)
		m["group.max.session.timeout.ms"] = strconv.FormatInt(g.MaxSessionTimeout.Milliseconds(), 10)
		m["offsets.retention.minutes"] = strconv.FormatInt(int64(g.OffsetsRetention/time.Minute), 10)
		m["offsets.retention.check.interval.ms"] = strconv.FormatInt(g.OffsetsRetentionCheckInterval.Milliseconds(), 10)
		m["offset.metadata.max.bytes"] = strconv.Itoa(int(g.OffsetMetadataMaxBytes))
		m["offsets.topic.num.partitions"] = strconv.Itoa(int(g.OffsetsTopicPartitions))
		m["offsets.topic.replication.factor"] = strconv.Itoa(int(g.OffsetsTopicReplicationFactor))
		m["offsets.topic.segment.bytes"] = strconv.Itoa(int(g.OffsetsTopicSegmentBytes))
	}
	if t := b.Transactions; t.MaxTimeout > 0 {
		ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
		m["transaction.max.timeout.ms"] = ms(t.MaxTimeout)
		m["transactional.id.expiration.ms"] = ms(t.IDExpiration)
		m["transaction.abort.timed.out.transaction.cleanup.interval.ms"] = ms(t.AbortTimedOutInterval)
		m["transaction.remove.expired.transaction.cleanup.interval.ms"] = ms(t.RemoveExpiredInterval)
		m["transaction.state.log.num.partitions"] = strconv.Itoa(int(t.StateLogPartitions))
		m["transaction.state.log.replication.factor"] = strconv.Itoa(int(t.StateLogReplicationFactor))
		m["transaction.state.log.segment.bytes"] = strconv.Itoa(int(t.StateLogSegmentBytes))
		m["transaction.state.log.min.isr"] = strconv.Itoa(int(t.StateLogMinISR))
		m["transaction.state.log.load.buffer.size"] = strconv.Itoa(int(t.StateLogLoadBufferSize))
		m["transaction.partition.verification.enable"] = strconv.FormatBool(t.VerifyPartitions())
		m["producer.id.expiration.ms"] = ms(t.ProducerIDExpiration)
		m["producer.id.expiration.check.interval.ms"] = ms(t.ProducerIDExpirationCheckInterval)
		m["add.partitions.to.txn.retry.backoff.ms"] = ms(t.AddPartitionsRetryBackoff)
		m["add.partitions.to.txn.retry.backoff.max.ms"] = ms(t.AddPartitionsRetryBackoffMax)
	}
	for name, v := range m {
		if d, ok := brokerDefByName[name]; ok && d.HasDefault && d.Default == v {
			delete(m, name)
		}
	}
	for _, d := range topicDefs {
		if v, ok := b.TopicDefaults[d.Name]; ok && d.BrokerName != "" {
			m[d.BrokerName] = v
		}
	}
	return m
}

// Layers returns the broker's config layers given the runtime broker
// configs of the metadata image (keyed by resource: "" for every broker,
// else a broker id).
func (b *Broker) Layers(dynamic map[string]map[string]string) Layers {
	return Layers{
		Broker:  dynamic[strconv.Itoa(int(b.NodeID))],
		Cluster: dynamic[""],
		Static:  b.StaticConfigs(),
	}
}
