package broker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/group"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/metrics"
	"github.com/arus-io/arus/internal/partition"
	"github.com/arus-io/arus/internal/record"
)

// Reasons /readyz gives for answering 503.
var (
	errStarting     = errors.New("starting: not yet registered and caught up with the metadata")
	errShuttingDown = errors.New("shutting down")
	errNotInImage   = errors.New("not registered in the cluster metadata")
	errFenced       = errors.New("fenced: metadata not caught up or heartbeats not acknowledged")
	errNoHeartbeat  = errors.New("no heartbeat acknowledged by the active controller within the session timeout")
)

// Ready reports whether the node serves: started (registered with the
// quorum, partitions open, listeners up), not shutting down, in contact
// with the active controller (a heartbeat acknowledged within the session
// timeout) and unfenced in its own metadata image, which the controller
// allows only once the node has applied the metadata committed before its
// registration (caught up). The error says why not.
func (b *Broker) Ready() error {
	switch {
	case b.stopping.Load():
		return errShuttingDown
	case !b.ready.Load():
		return errStarting
	case time.Since(time.Unix(0, b.heartbeatAcked.Load())) > b.opts.timing.SessionTimeout:
		return errNoHeartbeat
	}
	br, ok := b.controller.Image().Brokers[b.cfg.NodeID]
	switch {
	case !ok:
		return errNotInImage
	case br.Fenced:
		return errFenced
	}
	return nil
}

// Metrics returns the node's metrics (tests and benchmarks).
func (b *Broker) Metrics() *metrics.Metrics { return b.metrics }

// flushObserver is what partitions report their fsyncs to (nil
// interface when there are no metrics).
func (b *Broker) flushObserver() partition.FlushObserver {
	if b.metrics == nil {
		return nil
	}
	return b.metrics
}

// Snapshot implements metrics.Source: the state gauges read at scrape time.
func (b *Broker) Snapshot(ctx context.Context) metrics.Snapshot {
	im := b.controller.Image()
	cs := b.controller.Stats()
	s := metrics.Snapshot{
		MetadataOffset:  im.Offset,
		LeaderElections: cs.LeaderElections, UncleanLeaderElections: cs.UncleanLeaderElections,
		BrokerMetadataOffsets: cs.BrokerMetadataOffsets,
		ActiveController:      b.controller.IsVoter() && b.controller.IsActive(),
		OfflinePartitions:     -1,
	}
	if s.ActiveController {
		s.OfflinePartitions = offlinePartitions(im)
		if s.BrokerMetadataOffsets != nil {
			// This node's own position is known exactly, not as of its last heartbeat.
			s.BrokerMetadataOffsets[b.cfg.NodeID] = im.Offset
		}
	}
	if b.raft != nil {
		st := b.raft.Status()
		s.Raft = &metrics.Raft{Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex, Leader: st.Leader}
	}
	if b.server != nil {
		open, accepted := b.server.Connections()
		s.Listeners = append(s.Listeners, metrics.Listener{Name: "client", Open: open, Accepted: accepted})
	}
	if b.interServer != nil {
		open, accepted := b.interServer.Connections()
		s.Listeners = append(s.Listeners, metrics.Listener{Name: "inter-broker", Open: open, Accepted: accepted})
	}
	budget := record.DecompressionBudget()
	s.DecompressionInUse, s.DecompressionSize = budget.InUse(), budget.Size()
	if b.files != nil {
		fc := b.files.Stats()
		s.FileCache = metrics.FileCache{Capacity: fc.Capacity, Open: fc.Open, Opens: fc.Opens, Evictions: fc.Evictions, Overcommits: fc.Overcommits}
	}

	if b.handlers != nil {
		ts := b.handlers.Telemetry().Stats()
		s.ClientTelemetry = metrics.ClientTelemetry{Instances: ts.Instances, Pushes: ts.Pushes, SeriesDropped: ts.SeriesDropped,
			Series: make([]metrics.ClientSeries, len(ts.Series))}
		for i, x := range ts.Series {
			s.ClientTelemetry.Series[i] = metrics.ClientSeries{InstanceID: x.InstanceID, ClientID: x.ClientID, Name: x.Name, Attributes: x.Attributes, Value: x.Value}
		}
	}

	hosted := map[topicPartition]*partition.Partition{}
	minISR := map[string]int{}
	for _, p := range b.partitionList() {
		role := p.Role()
		topic := p.Topic()
		hosted[topicPartition{topic, p.Index()}] = p
		if _, ok := minISR[topic]; !ok {
			minISR[topic] = int(p.TopicConfig().MinInsyncReplicas)
		}
		s.Partitions = append(s.Partitions, metrics.Partition{
			Topic: topic, Partition: p.Index(), Leader: role.IsLeader(),
			Replicas: len(role.Replicas), ISR: len(role.ISR), MinISR: minISR[topic],
			SizeBytes: p.Size(), Segments: p.SegmentCount(),
			LogStart: p.LogStartOffset(), LogEnd: p.LogEndOffset(), HighWater: p.HighWatermark(),
		})
	}

	if b.groups != nil {
		stats := b.groups.Stats(ctx)
		s.Groups = make([]metrics.Group, 0, len(stats))
		for _, g := range stats {
			s.Groups = append(s.Groups, metrics.Group{Group: g.Group, State: g.State.String(), Members: g.Members})
		}
		s.Lags = b.lags(ctx, im, stats, hosted)
	}
	return s
}

func offlinePartitions(im *metadata.Image) int {
	n := 0
	for _, t := range im.Topics {
		for _, p := range t.Partitions {
			if p.Leader < 0 {
				n++
			}
		}
	}
	return n
}

// lags pairs each committed offset with its partition's high watermark:
// the local replica's when this broker leads it, else the leader's,
// asked with one ListOffsets per leader (in parallel, bounded by ctx).
// A partition whose end is unknown gets End -1 (no lag reported).
func (b *Broker) lags(ctx context.Context, im *metadata.Image, groups []group.GroupStats, hosted map[topicPartition]*partition.Partition) []metrics.Lag {
	var out []metrics.Lag
	remote := map[int32]map[topicPartition][]int{} // leader -> partition -> indexes in out
	for _, g := range groups {
		for _, o := range g.Offsets {
			tp := topicPartition{o.Topic, o.Partition}
			out = append(out, metrics.Lag{Group: g.Group, Topic: o.Topic, Partition: o.Partition, Committed: o.Offset, End: -1})
			if p := hosted[tp]; p != nil && p.Role().IsLeader() {
				out[len(out)-1].End = p.HighWatermark()
				continue
			}
			t, ok := im.Topics[o.Topic]
			if !ok || o.Partition < 0 || int(o.Partition) >= len(t.Partitions) || t.Partitions[o.Partition].Leader < 0 {
				continue
			}
			leader := t.Partitions[o.Partition].Leader
			if remote[leader] == nil {
				remote[leader] = map[topicPartition][]int{}
			}
			remote[leader][tp] = append(remote[leader][tp], len(out)-1)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for leader, parts := range remote {
		addr := im.Brokers[leader].InterBrokerAddr()
		if addr == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ends := b.listEnds(ctx, addr, parts)
			mu.Lock()
			defer mu.Unlock()
			for tp, end := range ends {
				for _, i := range parts[tp] {
					out[i].End = end
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// listEnds asks the broker at addr (its inter-broker listener) for the
// high watermarks of parts, which it leads.
func (b *Broker) listEnds(ctx context.Context, addr string, parts map[topicPartition][]int) map[topicPartition]int64 {
	cl, err := b.remote.clientFor(addr)
	if err != nil {
		return nil
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	byTopic := map[string]int{}
	for tp := range parts {
		i, ok := byTopic[tp.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[tp.topic] = i
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = tp.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = tp.index
		rp.Timestamp = -1 // latest: the high watermark
		rp.CurrentLeaderEpoch = -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		b.logger.Debug("metrics: end offsets for consumer lag", "broker", addr, "err", err)
		return nil
	}
	ends := map[topicPartition]int64{}
	for _, t := range resp.(*kmsg.ListOffsetsResponse).Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				ends[topicPartition{t.Topic, p.Partition}] = p.Offset
			}
		}
	}
	return ends
}
