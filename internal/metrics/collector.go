package metrics

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Source gives the collector the broker's state at scrape time. Snapshot
// is called once per scrape, from the scraping goroutine; it must return
// within ctx (the collector gives it a few seconds).
type Source interface {
	Snapshot(ctx context.Context) Snapshot
}

// Snapshot is the broker state the gauges report.
type Snapshot struct {
	// Partitions are the replicas hosted on this broker.
	Partitions []Partition
	// ActiveController: this node's controller leads the metadata quorum.
	ActiveController bool
	// OfflinePartitions counts partitions without a leader; reported by the
	// active controller only (as Kafka's OfflinePartitionsCount), -1 elsewhere.
	OfflinePartitions int
	// LeaderElections and UncleanLeaderElections count leader changes this
	// node's controller committed while active.
	LeaderElections, UncleanLeaderElections uint64
	// MetadataOffset is the offset of the last metadata record applied here.
	MetadataOffset int64
	// BrokerMetadataOffsets is, on the active controller, the metadata
	// offset each broker last reported in its heartbeat.
	BrokerMetadataOffsets map[int32]int64
	// Raft is the metadata quorum's state on a voter; nil elsewhere.
	Raft *Raft
	// Listeners are the open and accepted connections per listener.
	Listeners []Listener
	// Groups are the consumer groups this broker coordinates; Lags their
	// committed offsets with the partitions' end offsets.
	Groups []Group
	Lags   []Lag
	// DecompressionInUse and DecompressionSize are the decompression
	// budget's bytes held now and its size.
	DecompressionInUse, DecompressionSize int64
	// FileCache is the segment file cache's counters.
	FileCache FileCache
	// ClientTelemetry is what clients pushed with KIP-714 PushTelemetry.
	ClientTelemetry ClientTelemetry
}

// ClientTelemetry is the client metrics (KIP-714) this broker received.
type ClientTelemetry struct {
	Instances     int    // client instances subscribed
	Pushes        uint64 // pushes accepted
	SeriesDropped uint64 // series not kept for the series cap
	// Series are the latest value of each client metric; the broker
	// bounds their number.
	Series []ClientSeries
}

// ClientSeries is one client metric: an OTLP gauge or sum data point.
type ClientSeries struct {
	InstanceID, ClientID, Name, Attributes string
	Value                                  float64
}

// Partition is one hosted replica.
type Partition struct {
	Topic     string
	Partition int32
	Leader    bool // this replica leads
	Replicas  int
	ISR       int
	MinISR    int // min.insync.replicas
	SizeBytes int64
	Segments  int
	LogStart  int64
	LogEnd    int64
	HighWater int64
}

// Raft is a voter's view of the metadata quorum.
type Raft struct {
	Term, CommitIndex, AppliedIndex uint64
	Leader                          bool
}

// Listener is one listener's connections.
type Listener struct {
	Name     string
	Open     int
	Accepted uint64
}

// Group is one consumer group.
type Group struct {
	Group   string
	State   string // Kafka's name: Empty, Stable, PreparingRebalance, ...
	Members int
}

// Lag is one committed offset of a group with the partition's end.
type Lag struct {
	Group     string
	Topic     string
	Partition int32
	Committed int64
	// End is the partition's high watermark (what a consumer can read up
	// to); -1 when unknown, and then no lag is reported.
	End int64
}

// groupStates are the classic group states, each always reported (0 when
// no group is in it) so dashboards see every line.
var groupStates = []string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

// collector turns a Snapshot into metrics at scrape time.
type collector struct {
	opts Options
	mu   sync.Mutex
	src  Source

	partitionsLed, partitionsHosted, underReplicated, underMinISR, offline *prometheus.Desc
	leaderElections, uncleanElections, activeController                    *prometheus.Desc
	metadataOffset, brokerMetadataOffset, brokerMetadataLag                *prometheus.Desc
	raftTerm, raftCommit, raftApplied, raftLeader                          *prometheus.Desc
	connections, connectionsAccepted                                       *prometheus.Desc
	groups, groupMembers                                                   *prometheus.Desc
	lag, lagSum, committed                                                 *prometheus.Desc
	logSize, logSegments, logStart, logEnd, highWater, topicLogSize        *prometheus.Desc
	partitionUnderReplicated                                               *prometheus.Desc
	decompressionInUse, decompressionSize                                  *prometheus.Desc
	cacheCapacity, cacheOpen, cacheOpens, cacheEvictions, cacheOvercommits *prometheus.Desc
	clientValue, clientPushes, clientInstances, clientDropped              *prometheus.Desc
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

func newCollector(opts Options) *collector {
	return &collector{
		opts:             opts,
		partitionsLed:    desc("partitions_led", "Partitions this broker leads."),
		partitionsHosted: desc("partitions_hosted", "Partition replicas hosted on this broker (leaders and followers)."),
		underReplicated:  desc("partitions_under_replicated", "Partitions this broker leads whose ISR is smaller than their replica set."),
		underMinISR:      desc("partitions_under_min_isr", "Partitions this broker leads whose ISR is below min.insync.replicas (acks=all produce fails)."),
		offline:          desc("partitions_offline", "Partitions without a leader; reported by the active controller, 0 on other nodes."),
		leaderElections:  desc("leader_elections_total", "Partition leader changes committed by this node while it was the active controller."),
		uncleanElections: desc("unclean_leader_elections_total", "Leader changes to a replica outside the ISR committed by this node while it was the active controller."),
		activeController: desc("controller_active", "1 when this node is the active controller (leads the metadata quorum), else 0."),
		metadataOffset:   desc("metadata_applied_offset", "Offset of the last metadata record this node applied."),
		brokerMetadataOffset: desc("metadata_broker_offset",
			"On the active controller: the metadata offset each broker reported in its last heartbeat.", "broker"),
		brokerMetadataLag: desc("metadata_broker_lag",
			"On the active controller: metadata records each broker is behind the controller's applied offset, as of its last heartbeat.", "broker"),
		raftTerm:            desc("raft_term", "Current Raft term of the metadata quorum (voters only)."),
		raftCommit:          desc("raft_commit_index", "Raft commit index of the metadata quorum (voters only)."),
		raftApplied:         desc("raft_applied_index", "Raft index of the last entry applied to the controller (voters only)."),
		raftLeader:          desc("raft_leader", "1 when this voter leads the metadata quorum (voters only)."),
		connections:         desc("connections", "Open connections, by listener.", "listener"),
		connectionsAccepted: desc("connections_accepted_total", "Connections accepted, by listener.", "listener"),
		groups:              desc("consumer_groups", "Consumer groups this broker coordinates, by state.", "state"),
		groupMembers:        desc("consumer_group_members", "Members of each consumer group this broker coordinates.", "group"),
		lag: desc("consumer_group_lag",
			"Records a group has not consumed: partition high watermark minus committed offset (per partition; arus.metrics.per.partition.enabled).",
			"group", "topic", "partition"),
		lagSum: desc("consumer_group_lag_sum", "consumer_group_lag summed over a topic's partitions.", "group", "topic"),
		committed: desc("consumer_group_committed_offset",
			"Committed offset of a group (per partition; arus.metrics.per.partition.enabled).", "group", "topic", "partition"),
		logSize:      desc("log_size_bytes", "Bytes of a hosted partition's log on disk (per partition).", "topic", "partition"),
		logSegments:  desc("log_segments", "Segments of a hosted partition's log (per partition).", "topic", "partition"),
		logStart:     desc("log_start_offset", "Log start offset of a hosted partition (per partition).", "topic", "partition"),
		logEnd:       desc("log_end_offset", "Log end offset of a hosted partition (per partition).", "topic", "partition"),
		highWater:    desc("high_watermark", "High watermark of a hosted partition (per partition).", "topic", "partition"),
		topicLogSize: desc("topic_log_size_bytes", "Bytes of the hosted partitions' logs of a topic on this broker.", "topic"),
		partitionUnderReplicated: desc("partition_under_replicated",
			"1 for a partition this broker leads whose ISR is smaller than its replica set (per partition).", "topic", "partition"),
		decompressionInUse: desc("decompression_budget_in_use_bytes", "Bytes of the decompression budget (decompression.buffer.max.bytes) held now."),
		decompressionSize:  desc("decompression_budget_bytes", "Size of the decompression budget (decompression.buffer.max.bytes)."),
		cacheCapacity:      desc("segment_file_cache_capacity", "File descriptors the segment file cache may keep open."),
		cacheOpen:          desc("segment_file_cache_open", "Segment file descriptors open now."),
		cacheOpens:         desc("segment_file_cache_opens_total", "Segment files opened (cache misses and transient opens)."),
		cacheEvictions:     desc("segment_file_cache_evictions_total", "Idle segment files closed to make room in the cache."),
		cacheOvercommits:   desc("segment_file_cache_overcommits_total", "Opens beyond the cache's capacity because every open file was in use."),
		clientValue: desc("client_telemetry_value",
			"Latest value of a metric a client pushed (KIP-714): an OTLP gauge, or a sum's running total; attributes are the data point's, key=value comma-joined.",
			"client_instance_id", "client_id", "name", "attributes"),
		clientPushes:    desc("client_telemetry_pushes_total", "PushTelemetry requests accepted (KIP-714)."),
		clientInstances: desc("client_telemetry_instances", "Client instances subscribed to telemetry (KIP-714) and heard from within three push intervals."),
		clientDropped: desc("client_telemetry_series_dropped_total",
			"Client metric series not kept because the broker already keeps the most it exports (10,000)."),
	}
}

func (c *collector) setSource(s Source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.src = s
}

// Describe sends every descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.partitionsLed, c.partitionsHosted, c.underReplicated, c.underMinISR, c.offline,
		c.leaderElections, c.uncleanElections, c.activeController,
		c.metadataOffset, c.brokerMetadataOffset, c.brokerMetadataLag,
		c.raftTerm, c.raftCommit, c.raftApplied, c.raftLeader,
		c.connections, c.connectionsAccepted, c.groups, c.groupMembers,
		c.lag, c.lagSum, c.committed,
		c.logSize, c.logSegments, c.logStart, c.logEnd, c.highWater, c.topicLogSize, c.partitionUnderReplicated,
		c.decompressionInUse, c.decompressionSize,
		c.cacheCapacity, c.cacheOpen, c.cacheOpens, c.cacheEvictions, c.cacheOvercommits,
		c.clientValue, c.clientPushes, c.clientInstances, c.clientDropped,
	} {
		ch <- d
	}
}

// scrapeTimeout bounds Source.Snapshot (consumer lag may ask other
// brokers for end offsets).
const scrapeTimeout = 5 * time.Second

// Collect reads one snapshot and emits the gauges.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	if src == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s := src.Snapshot(ctx)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}

	var led, underRep, underMin int
	topicSize := map[string]int64{}
	for _, p := range s.Partitions {
		topicSize[p.Topic] += p.SizeBytes
		ur := p.Leader && p.ISR < p.Replicas
		if p.Leader {
			led++
			if ur {
				underRep++
			}
			if p.ISR < p.MinISR {
				underMin++
			}
		}
		if !c.opts.PerPartition {
			continue
		}
		part := strconv.Itoa(int(p.Partition))
		gauge(c.logSize, float64(p.SizeBytes), p.Topic, part)
		gauge(c.logSegments, float64(p.Segments), p.Topic, part)
		gauge(c.logStart, float64(p.LogStart), p.Topic, part)
		gauge(c.logEnd, float64(p.LogEnd), p.Topic, part)
		gauge(c.highWater, float64(p.HighWater), p.Topic, part)
		if p.Leader {
			gauge(c.partitionUnderReplicated, b2f(ur), p.Topic, part)
		}
	}
	for topic, size := range topicSize {
		gauge(c.topicLogSize, float64(size), topic)
	}
	gauge(c.partitionsLed, float64(led))
	gauge(c.partitionsHosted, float64(len(s.Partitions)))
	gauge(c.underReplicated, float64(underRep))
	gauge(c.underMinISR, float64(underMin))
	gauge(c.offline, float64(max(s.OfflinePartitions, 0)))

	gauge(c.activeController, b2f(s.ActiveController))
	counter(c.leaderElections, float64(s.LeaderElections))
	counter(c.uncleanElections, float64(s.UncleanLeaderElections))
	gauge(c.metadataOffset, float64(s.MetadataOffset))
	for id, off := range s.BrokerMetadataOffsets {
		b := strconv.Itoa(int(id))
		gauge(c.brokerMetadataOffset, float64(off), b)
		gauge(c.brokerMetadataLag, float64(max(s.MetadataOffset-off, 0)), b)
	}
	if r := s.Raft; r != nil {
		gauge(c.raftTerm, float64(r.Term))
		gauge(c.raftCommit, float64(r.CommitIndex))
		gauge(c.raftApplied, float64(r.AppliedIndex))
		gauge(c.raftLeader, b2f(r.Leader))
	}
	for _, l := range s.Listeners {
		gauge(c.connections, float64(l.Open), l.Name)
		counter(c.connectionsAccepted, float64(l.Accepted), l.Name)
	}

	byState := map[string]int{}
	for _, g := range s.Groups {
		byState[g.State]++
		gauge(c.groupMembers, float64(g.Members), g.Group)
	}
	for _, st := range groupStates {
		gauge(c.groups, float64(byState[st]), st)
	}
	type groupTopic struct{ group, topic string }
	sums := map[groupTopic]int64{}
	for _, l := range s.Lags {
		lag := int64(-1)
		if l.End >= 0 && l.Committed >= 0 {
			lag = max(l.End-l.Committed, 0)
			sums[groupTopic{l.Group, l.Topic}] += lag
		}
		if !c.opts.PerPartition {
			continue
		}
		part := strconv.Itoa(int(l.Partition))
		gauge(c.committed, float64(l.Committed), l.Group, l.Topic, part)
		if lag >= 0 {
			gauge(c.lag, float64(lag), l.Group, l.Topic, part)
		}
	}
	for k, v := range sums {
		gauge(c.lagSum, float64(v), k.group, k.topic)
	}

	gauge(c.decompressionInUse, float64(s.DecompressionInUse))
	gauge(c.decompressionSize, float64(s.DecompressionSize))
	fc := s.FileCache
	gauge(c.cacheCapacity, float64(fc.Capacity))
	gauge(c.cacheOpen, float64(fc.Open))
	counter(c.cacheOpens, float64(fc.Opens))
	counter(c.cacheEvictions, float64(fc.Evictions))
	counter(c.cacheOvercommits, float64(fc.Overcommits))

	ct := s.ClientTelemetry
	gauge(c.clientInstances, float64(ct.Instances))
	counter(c.clientPushes, float64(ct.Pushes))
	counter(c.clientDropped, float64(ct.SeriesDropped))
	for _, x := range ct.Series {
		// Label values come from clients: a value that is not valid UTF-8
		// fails NewConstMetric, and is skipped rather than panicking.
		if m, err := prometheus.NewConstMetric(c.clientValue, prometheus.GaugeValue, x.Value,
			x.InstanceID, x.ClientID, x.Name, x.Attributes); err == nil {
			ch <- m
		}
	}
}

// FileCache is the segment file cache's counters (commitlog.FileCacheStats).
type FileCache struct {
	Capacity, Open                int
	Opens, Evictions, Overcommits uint64
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
