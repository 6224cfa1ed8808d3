package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Broker holds the settings of one arus node. Zero values are replaced by
// defaults in Validate, so an empty Broker is the documented one-node
// default cluster.
type Broker struct {
	// NodeID is node.id; 1 by default.
	NodeID int32
	// Listener is the host:port clients connect to (listeners). Default
	// localhost:9092; port 0 picks a free port (tests).
	Listener string
	// AdvertisedListener is the host:port put into Metadata responses
	// (advertised.listeners); defaults to the bound listener address.
	AdvertisedListener string
	// InterBrokerListener is the host:port of the inter-broker listener
	// (Kafka's listener named by inter.broker.listener.name and
	// controller.listener.names; arus serves both on one listener): replica
	// fetches, requests to the controller, metadata for broker-only nodes
	// and the metadata quorum's Raft traffic. It serves only peers that
	// open their connections with the inter-broker handshake; the client
	// listener never serves inter-broker requests. Default: on a voter, its
	// own address in controller.quorum.voters; on any other node the
	// client listener's host with port 0 (a free port, which the node
	// registers with the controller, so peers find it without
	// configuration). Bind it to an interface clients cannot reach.
	InterBrokerListener string
	// AdvertisedInterBrokerListener is the host:port peers use to reach
	// the inter-broker listener (advertised.listeners for BROKER); default
	// the advertised host of the client listener with the bound port.
	AdvertisedInterBrokerListener string
	// DataDir is log.dirs; default ./arus-data.
	DataDir string
	// ControllerQuorumVoters is controller.quorum.voters: "id@host:port"
	// for every node of the metadata quorum, comma separated. The address
	// is the node's inter-broker listener (Raft shares it), never its
	// client listener. Empty: this node alone.
	ControllerQuorumVoters string
	// Rack is broker.rack, used to spread replicas over racks.
	Rack string
	// ClusterID is generated at first start and kept in meta.properties.
	ClusterID string

	// AutoCreateTopics is auto.create.topics.enable (default true).
	AutoCreateTopics *bool
	// NumPartitions is num.partitions, for auto-created topics (default 1).
	NumPartitions int32
	// DefaultReplicationFactor is default.replication.factor (default 1).
	DefaultReplicationFactor int16
	// MaxRequestBytes is socket.request.max.bytes (default 100 MiB).
	MaxRequestBytes int32
	// DecompressionMaxBytes is decompression.buffer.max.bytes (no Kafka
	// equivalent; default 64 MiB): the memory all decompression on this
	// node (produce validation, compaction, readers) may hold at once.
	// Work beyond it waits; one decompression needing more than all of it
	// runs alone.
	DecompressionMaxBytes int64
	// RetentionCheckInterval is log.retention.check.interval.ms (default 5 min).
	RetentionCheckInterval time.Duration
	// RecoveryPointCheckpointInterval is
	// log.flush.offset.checkpoint.interval.ms (default 60 s): how often
	// each partition writes its recovery point, which bounds what a
	// restart after a crash rescans.
	RecoveryPointCheckpointInterval time.Duration
	// AutoLeaderRebalance is auto.leader.rebalance.enable (default true):
	// the active controller moves leadership back to preferred replicas
	// every LeaderImbalanceCheckInterval.
	AutoLeaderRebalance *bool
	// LeaderImbalanceCheckInterval is leader.imbalance.check.interval.seconds (300 s).
	LeaderImbalanceCheckInterval time.Duration
	// Connections and request memory (Kafka's names; see
	// internal/server). Zero values take the defaults below.
	//
	// QueuedMaxRequestBytes is queued.max.request.bytes: bytes of requests
	// read but not yet handled, over all connections; readers wait when it
	// is spent. Default 256 MiB (at least socket.request.max.bytes);
	// negative: unbounded (Kafka's default, -1).
	QueuedMaxRequestBytes int64
	// ConnectionsMaxIdle is connections.max.idle.ms (default 10 min): idle
	// connections are closed after it; negative: never.
	ConnectionsMaxIdle time.Duration
	// MaxConnections is max.connections (default 4096; Kafka: unlimited):
	// at the limit the listener stops accepting until one closes.
	MaxConnections int32
	// MaxConnectionsPerIP is max.connections.per.ip (default 1000; Kafka:
	// unlimited); MaxConnectionsPerIPOverrides is
	// max.connections.per.ip.overrides, "host:count,host:count".
	MaxConnectionsPerIP          int32
	MaxConnectionsPerIPOverrides string
	// MaxConnectionCreationRate is max.connection.creation.rate, new
	// connections per second (default 1000; Kafka: unlimited).
	MaxConnectionCreationRate int32
	// ShutdownTimeout is arus's shutdown.timeout.ms (default 30 s): how
	// long a SIGTERM may take before the process exits regardless.
	ShutdownTimeout time.Duration

	// MaxPartitionsPerBroker is arus.max.partitions.per.broker: how many
	// partition replicas this broker hosts at most. The controller refuses
	// a CreateTopics (POLICY_VIOLATION), CreatePartitions
	// (INVALID_PARTITIONS) or reassignment (INVALID_REPLICA_ASSIGNMENT)
	// that would place more here. 0 (the default) derives it from the file
	// descriptor budget: the capacity of the segment file cache, so that
	// every partition's active segment can stay open; -1 means no limit.
	// Kafka has no such config (KIP-578 proposed max.broker.partitions).
	MaxPartitionsPerBroker int32
	// FDReserve is arus.fd.reserve: file descriptors of RLIMIT_NOFILE kept
	// out of the segment file cache for client connections, the metadata
	// log, index files being written and everything else (default 1024;
	// below a limit of 2048 the cache gets half of the limit).
	FDReserve int32
	// HTTPListener is arus's http.listener (flag --http-listener):
	// host:port of the HTTP listener serving the web console, /metrics,
	// /healthz and /readyz. Empty or "off" disables it; Validate turns
	// "off" into "". The command line defaults it to DefaultHTTPListener;
	// an empty Broker (tests) has none.
	HTTPListener string
	// MetricsPerPartition is arus.metrics.per.partition.enabled (default
	// true): export the series labelled by partition (log size, segments
	// and offsets per partition, consumer lag and committed offset per
	// group and partition). Off, only per-topic sums remain, which bounds
	// the series count on brokers with many partitions.
	MetricsPerPartition *bool
	// ClientTelemetryMetrics is arus.client.telemetry.metrics: the
	// comma-separated metric name prefixes clients are asked to push with
	// KIP-714 (Kafka's client-metrics "metrics"; "*" for all, "" for
	// none). Validate defaults nil to DefaultClientTelemetryMetrics.
	ClientTelemetryMetrics *string
	// ClientTelemetryPushInterval is arus.client.telemetry.push.interval.ms
	// (default 5 minutes, Kafka's client-metrics interval.ms default).
	ClientTelemetryPushInterval time.Duration

	// TopicDefaults overrides topic config defaults broker-wide, keyed by
	// the topic config name (retention.ms, segment.bytes, ...).
	TopicDefaults map[string]string

	// Groups are the consumer group coordinator's settings.
	Groups Groups

	// ListenerName names Listener (default PLAINTEXT); ExtraListeners are
	// further named client listeners. Each listener's protocol comes from
	// Security.ProtocolMap.
	ListenerName   string
	ExtraListeners []NamedListener
	// Security: TLS, SASL and ACL settings.
	Security Security
	// Transactions are the transaction coordinator's settings.
	Transactions Transactions
}

// Groups holds the group coordinator's settings, with Kafka's names.
type Groups struct {
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long
	// the first rebalance of an empty group waits for more members (3s).
	// A pointer because 0 is a useful value (tests); nil means the default.
	InitialRebalanceDelay *time.Duration
	// MinSessionTimeout and MaxSessionTimeout are
	// group.min.session.timeout.ms (6s) and group.max.session.timeout.ms
	// (30 min): the session timeouts members may ask for.
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// OffsetsRetention is offsets.retention.minutes (7 days): committed
	// offsets of a group that has been empty this long are deleted.
	OffsetsRetention time.Duration
	// OffsetsRetentionCheckInterval is offsets.retention.check.interval.ms
	// (10 min).
	OffsetsRetentionCheckInterval time.Duration
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes (4096).
	OffsetMetadataMaxBytes int32
	// OffsetsTopicPartitions is offsets.topic.num.partitions (50), used when
	// __consumer_offsets is created.
	OffsetsTopicPartitions int32
	// OffsetsTopicReplicationFactor is offsets.topic.replication.factor
	// (3, capped at the number of registered brokers).
	OffsetsTopicReplicationFactor int16
	// OffsetsTopicSegmentBytes is offsets.topic.segment.bytes (100 MiB).
	OffsetsTopicSegmentBytes int32
}

// validate fills the group defaults.
func (g *Groups) validate() error {
	if g.InitialRebalanceDelay == nil {
		d := 3 * time.Second
		g.InitialRebalanceDelay = &d
	}
	if *g.InitialRebalanceDelay < 0 {
		return fmt.Errorf("group.initial.rebalance.delay.ms must not be negative")
	}
	if g.MinSessionTimeout == 0 {
		g.MinSessionTimeout = 6 * time.Second
	}
	if g.MaxSessionTimeout == 0 {
		g.MaxSessionTimeout = 30 * time.Minute
	}
	if g.MinSessionTimeout < 0 || g.MaxSessionTimeout < g.MinSessionTimeout {
		return fmt.Errorf("group.min.session.timeout.ms (%s) must be positive and at most group.max.session.timeout.ms (%s)",
			g.MinSessionTimeout, g.MaxSessionTimeout)
	}
	if g.OffsetsRetention == 0 {
		g.OffsetsRetention = 7 * 24 * time.Hour
	}
	if g.OffsetsRetentionCheckInterval == 0 {
		g.OffsetsRetentionCheckInterval = 10 * time.Minute
	}
	if g.OffsetMetadataMaxBytes == 0 {
		g.OffsetMetadataMaxBytes = 4096
	}
	if g.OffsetsTopicPartitions == 0 {
		g.OffsetsTopicPartitions = 50
	}
	if g.OffsetsTopicReplicationFactor == 0 {
		g.OffsetsTopicReplicationFactor = 3
	}
	if g.OffsetsTopicSegmentBytes == 0 {
		g.OffsetsTopicSegmentBytes = 100 << 20
	}
	if g.OffsetsRetention < 0 || g.OffsetsRetentionCheckInterval < 0 || g.OffsetMetadataMaxBytes < 0 ||
		g.OffsetsTopicPartitions < 0 || g.OffsetsTopicReplicationFactor < 0 || g.OffsetsTopicSegmentBytes < 0 {
		return fmt.Errorf("group and offsets settings must be positive")
	}
	return nil
}

// ClientTelemetryPrefixes splits arus.client.telemetry.metrics into the
// prefixes to subscribe clients to: none for "", [""] (all, as KIP-714
// encodes it) for "*".
func (b *Broker) ClientTelemetryPrefixes() []string {
	if b.ClientTelemetryMetrics == nil {
		return nil
	}
	var out []string
	for _, p := range strings.Split(*b.ClientTelemetryMetrics, ",") {
		switch p = strings.TrimSpace(p); p {
		case "":
		case "*":
			return []string{""}
		default:
			out = append(out, p)
		}
	}
	return out
}

// Validate fills defaults and rejects nonsense.
func (b *Broker) Validate() error {
	if b.NodeID == 0 {
		b.NodeID = 1
	}
	if b.NodeID < 0 {
		return fmt.Errorf("node.id must be positive, got %d", b.NodeID)
	}
	if b.Listener == "" {
		b.Listener = "localhost:9092"
	}
	if _, _, err := net.SplitHostPort(b.Listener); err != nil {
		return fmt.Errorf("listener %q: %w", b.Listener, err)
	}
	if b.AdvertisedListener != "" {
		if _, port, err := net.SplitHostPort(b.AdvertisedListener); err != nil {
			return fmt.Errorf("advertised listener %q: %w", b.AdvertisedListener, err)
		} else if _, err := strconv.Atoi(port); err != nil {
			return fmt.Errorf("advertised listener %q: bad port", b.AdvertisedListener)
		}
	}
	if b.DataDir == "" {
		b.DataDir = "arus-data"
	}
	if strings.EqualFold(b.HTTPListener, "off") {
		b.HTTPListener = ""
	}
	if b.HTTPListener != "" {
		if _, _, err := net.SplitHostPort(b.HTTPListener); err != nil {
			return fmt.Errorf("http.listener %q (want host:port, or off): %w", b.HTTPListener, err)
		}
	}
	var voters map[int32]string
	if b.ControllerQuorumVoters != "" {
		// A node not among the voters is a broker-only node (an observer
		// of the metadata quorum).
		var err error
		if voters, err = ParseVoters(b.ControllerQuorumVoters); err != nil {
			return err
		}
	}
	if err := b.validateInterBroker(voters); err != nil {
		return err
	}
	if err := b.validateListeners(); err != nil {
		return err
	}
	if b.AutoCreateTopics == nil {
		t := true
		b.AutoCreateTopics = &t
	}
	if b.NumPartitions == 0 {
		b.NumPartitions = 1
	}
	if b.NumPartitions < 0 {
		return fmt.Errorf("num.partitions must be positive, got %d", b.NumPartitions)
	}
	if b.DefaultReplicationFactor == 0 {
		b.DefaultReplicationFactor = 1
	}
	if b.MaxRequestBytes == 0 {
		b.MaxRequestBytes = 100 << 20
	}
	if b.MaxRequestBytes < 1024 {
		return fmt.Errorf("socket.request.max.bytes must be at least 1024, got %d", b.MaxRequestBytes)
	}
	if b.DecompressionMaxBytes == 0 {
		b.DecompressionMaxBytes = 64 << 20
	}
	if b.DecompressionMaxBytes < 1<<20 {
		return fmt.Errorf("decompression.buffer.max.bytes must be at least 1048576, got %d", b.DecompressionMaxBytes)
	}
	if b.MaxPartitionsPerBroker < -1 {
		return fmt.Errorf("arus.max.partitions.per.broker must be -1 (no limit), 0 (derived) or positive, got %d", b.MaxPartitionsPerBroker)
	}
	if b.FDReserve == 0 {
		b.FDReserve = 1024
	}
	if b.FDReserve < 0 {
		return fmt.Errorf("arus.fd.reserve must be positive, got %d", b.FDReserve)
	}
	if b.RetentionCheckInterval == 0 {
		b.RetentionCheckInterval = 5 * time.Minute
	}
	if b.HTTPListener == "off" {
		b.HTTPListener = ""
	}
	if b.HTTPListener != "" {
		if _, _, err := net.SplitHostPort(b.HTTPListener); err != nil {
			return fmt.Errorf("arus.http.listener %q: %w", b.HTTPListener, err)
		}
	}
	if b.MetricsPerPartition == nil {
		on := true
		b.MetricsPerPartition = &on
	}
	if b.ClientTelemetryMetrics == nil {
		m := DefaultClientTelemetryMetrics
		b.ClientTelemetryMetrics = &m
	}
	switch {
	case b.ClientTelemetryPushInterval == 0:
		b.ClientTelemetryPushInterval = 5 * time.Minute
	case b.ClientTelemetryPushInterval < 100*time.Millisecond || b.ClientTelemetryPushInterval > time.Hour:
		// Kafka's client-metrics interval.ms range.
		return fmt.Errorf("arus.client.telemetry.push.interval.ms must be between 100 and 3600000, got %d", b.ClientTelemetryPushInterval.Milliseconds())
	}
	switch {
	case b.RecoveryPointCheckpointInterval == 0:
		b.RecoveryPointCheckpointInterval = time.Minute
	case b.RecoveryPointCheckpointInterval < 0:
		return fmt.Errorf("log.flush.offset.checkpoint.interval.ms must be positive, got %v", b.RecoveryPointCheckpointInterval)
	}
	if err := b.validateConnections(); err != nil {
		return err
	}
	if b.AutoLeaderRebalance == nil {
		on := true
		b.AutoLeaderRebalance = &on
	}
	if b.LeaderImbalanceCheckInterval == 0 {
		b.LeaderImbalanceCheckInterval = 300 * time.Second
	}
	if err := b.Groups.validate(); err != nil {
		return err
	}
	if err := b.Transactions.validate(); err != nil {
		return err
	}
	for k, v := range b.TopicDefaults {
		v := v
		if err := ValidateTopicConfig(k, &v); err != nil {
			return fmt.Errorf("broker default: %w", err)
		}
	}
	return nil
}

// Defaults of the connection limits (see Broker).
const (
	DefaultQueuedMaxRequestBytes     = 256 << 20
	DefaultConnectionsMaxIdle        = 10 * time.Minute
	DefaultMaxConnections            = 4096
	DefaultMaxConnectionsPerIP       = 1000
	DefaultMaxConnectionCreationRate = 1000
	DefaultShutdownTimeout           = 30 * time.Second
	// DefaultClientTelemetryMetrics is arus.client.telemetry.metrics'
	// default: the standard producer and consumer metrics of KIP-714.
	DefaultClientTelemetryMetrics = "org.apache.kafka.producer.,org.apache.kafka.consumer."
	// DefaultHTTPListener is the command line's http.listener: the web
	// console on the local machine only.
	DefaultHTTPListener = "localhost:8080"
)

// validateConnections fills the defaults of the connection limits.
func (b *Broker) validateConnections() error {
	switch {
	case b.QueuedMaxRequestBytes == 0:
		b.QueuedMaxRequestBytes = max(DefaultQueuedMaxRequestBytes, int64(b.MaxRequestBytes))
	case b.QueuedMaxRequestBytes < 0:
		b.QueuedMaxRequestBytes = -1
	case b.QueuedMaxRequestBytes < int64(b.MaxRequestBytes):
		return fmt.Errorf("queued.max.request.bytes (%d) must be at least socket.request.max.bytes (%d), or -1 for unbounded",
			b.QueuedMaxRequestBytes, b.MaxRequestBytes)
	}
	if b.ConnectionsMaxIdle == 0 {
		b.ConnectionsMaxIdle = DefaultConnectionsMaxIdle
	}
	if b.ConnectionsMaxIdle < 0 {
		b.ConnectionsMaxIdle = -1
	}
	if b.MaxConnections == 0 {
		b.MaxConnections = DefaultMaxConnections
	}
	if b.MaxConnectionsPerIP == 0 {
		b.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	}
	if b.MaxConnectionCreationRate == 0 {
		b.MaxConnectionCreationRate = DefaultMaxConnectionCreationRate
	}
	if b.MaxConnections < 0 || b.MaxConnectionsPerIP < 0 || b.MaxConnectionCreationRate < 0 {
		return fmt.Errorf("max.connections, max.connections.per.ip and max.connection.creation.rate must be positive")
	}
	if _, err := ParseConnectionOverrides(b.MaxConnectionsPerIPOverrides); err != nil {
		return err
	}
	if b.ShutdownTimeout == 0 {
		b.ShutdownTimeout = DefaultShutdownTimeout
	}
	if b.ShutdownTimeout < 0 {
		return fmt.Errorf("shutdown.timeout.ms must be positive")
	}
	return nil
}

// ParseConnectionOverrides parses max.connections.per.ip.overrides:
// "host:count,host:count" (a host is a name or an IP; IPv6 in brackets).
func ParseConnectionOverrides(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		i := strings.LastIndex(part, ":")
		if i <= 0 {
			return nil, fmt.Errorf("max.connections.per.ip.overrides: %q is not host:count", part)
		}
		host := strings.TrimSuffix(strings.TrimPrefix(part[:i], "["), "]")
		n, err := strconv.Atoi(part[i+1:])
		if err != nil || n < 0 || host == "" {
			return nil, fmt.Errorf("max.connections.per.ip.overrides: %q is not host:count with a count >= 0", part)
		}
		out[host] = n
	}
	return out, nil
}

// validateInterBroker fills and checks the inter-broker listener.
func (b *Broker) validateInterBroker(voters map[int32]string) error {
	own, voter := voters[b.NodeID]
	if voter && sameAddr(own, b.Listener) {
		return fmt.Errorf("controller.quorum.voters gives node %d the address %s, its client listener: voters name each "+
			"controller's inter-broker listener (--inter-broker-listener, or listeners=PLAINTEXT://...,BROKER://host:port "+
			"with inter.broker.listener.name=BROKER), which must be another port", b.NodeID, own)
	}
	if b.InterBrokerListener == "" {
		if voter {
			b.InterBrokerListener = own
		} else {
			host, _, _ := net.SplitHostPort(b.Listener)
			b.InterBrokerListener = net.JoinHostPort(host, "0")
		}
	}
	_, port, err := net.SplitHostPort(b.InterBrokerListener)
	if err != nil {
		return fmt.Errorf("inter-broker listener %q: %w", b.InterBrokerListener, err)
	}
	if port != "0" && sameAddr(b.InterBrokerListener, b.Listener) {
		return fmt.Errorf("the inter-broker listener %s must not be the client listener", b.InterBrokerListener)
	}
	if b.AdvertisedInterBrokerListener != "" {
		if _, port, err := net.SplitHostPort(b.AdvertisedInterBrokerListener); err != nil {
			return fmt.Errorf("advertised inter-broker listener %q: %w", b.AdvertisedInterBrokerListener, err)
		} else if _, err := strconv.Atoi(port); err != nil {
			return fmt.Errorf("advertised inter-broker listener %q: bad port", b.AdvertisedInterBrokerListener)
		}
	}
	return nil
}

// sameAddr reports whether two host:port listener addresses are the same
// port on an overlapping host (an empty or wildcard host overlaps any).
func sameAddr(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

// ParseVoters parses controller.quorum.voters: "1@host1:9092,2@host2:9092".
func ParseVoters(s string) (map[int32]string, error) {
	out := map[int32]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		idStr, addr, ok := strings.Cut(part, "@")
		id, err := strconv.ParseInt(idStr, 10, 32)
		if !ok || err != nil || id <= 0 {
			return nil, fmt.Errorf("controller.quorum.voters: %q is not id@host:port with a positive id", part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("controller.quorum.voters: %q: %w", part, err)
		}
		if _, dup := out[int32(id)]; dup {
			return nil, fmt.Errorf("controller.quorum.voters: node %d listed twice", id)
		}
		out[int32(id)] = addr
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("controller.quorum.voters is empty")
	}
	return out, nil
}
