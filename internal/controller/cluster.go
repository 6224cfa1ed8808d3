package controller

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/metadata"
)

// Errors of AlterPartition, mapped to Kafka codes by internal/api.
var (
	ErrStaleEpoch           = errors.New("stale leader or partition epoch")
	ErrNotLeaderOfPartition = errors.New("request from a broker that does not lead the partition")
	ErrInvalidISR           = errors.New("invalid ISR")
	ErrUnknownBroker        = errors.New("unknown broker")
)

// ClusterConfig sets the liveness rules of brokers.
type ClusterConfig struct {
	// SessionTimeout fences a broker whose last heartbeat is older
	// (broker.session.timeout.ms, 9 s).
	SessionTimeout time.Duration
	// LeaderRebalanceInterval is how often preferred leaders are restored
	// (leader.imbalance.check.interval.seconds); 0 disables
	// (auto.leader.rebalance.enable=false).
	LeaderRebalanceInterval time.Duration
}

// SetClusterConfig sets the liveness rules; call before Tick.
func (c *Controller) SetClusterConfig(cfg ClusterConfig) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 9 * time.Second
	}
	c.mu.cluster = cfg
}

// Heartbeat records that broker id is alive at now; a fenced broker is
// unfenced and may lead again once it has caught up with the metadata up
// to its registration (HeartbeatAt with its metadata offset).
func (c *Controller) Heartbeat(id int32, now time.Time) error {
	return c.HeartbeatAt(id, now, c.image.Load().Offset)
}

// HeartbeatAt is Heartbeat from a broker whose metadata image is at
// metadataOffset: a fenced broker that has not yet applied the metadata
// committed before its registration stays fenced, as in KRaft, so it
// never leads with a stale view of the cluster.
func (c *Controller) HeartbeatAt(id int32, now time.Time, metadataOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.IsActive() {
		return ErrNotController
	}
	im := c.image.Load()
	b, ok := im.Brokers[id]
	if !ok {
		return fmt.Errorf("%w: broker %d is not registered", ErrUnknownBroker, id)
	}
	c.heartbeatsLocked()[id] = now
	if c.mu.reported == nil {
		c.mu.reported = map[int32]int64{}
	}
	c.mu.reported[id] = metadataOffset
	if !b.Fenced || metadataOffset < c.mu.registeredAt[id] {
		return nil
	}
	recs := []metadata.Record{{UnfenceBroker: &metadata.UnfenceBrokerRecord{BrokerID: id}}}
	// Offline partitions whose last in-sync replica is back get it as leader.
	for _, name := range im.TopicNames() {
		t := im.Topics[name]
		for _, p := range t.Partitions {
			if p.Leader == -1 && slices.Contains(p.ISR, id) {
				recs = append(recs, partitionChange(t.ID, p, id, p.ISR))
			}
		}
	}
	c.logger.Info("broker unfenced", "broker", id)
	return c.commitLocked(recs)
}

func (c *Controller) heartbeatsLocked() map[int32]time.Time {
	if c.mu.heartbeats == nil {
		c.mu.heartbeats = map[int32]time.Time{}
	}
	return c.mu.heartbeats
}

// Tick fences brokers that missed their session timeout (moving the
// leadership of their partitions) and, on its interval, restores
// preferred leaders. The caller drives it with its clock.
func (c *Controller) Tick(now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.IsActive() {
		// Liveness is the active controller's soft state; a controller
		// that takes over starts with a full session of grace for all.
		c.mu.heartbeats = nil
		return nil
	}
	if c.mu.cluster.SessionTimeout <= 0 {
		c.mu.cluster.SessionTimeout = 9 * time.Second
	}
	hb := c.heartbeatsLocked()
	im := c.image.Load()
	for _, id := range im.BrokerIDs() {
		last, ok := hb[id]
		if !ok {
			// First sight (controller start or failover): a full session of grace.
			hb[id] = now
			continue
		}
		if !im.Brokers[id].Fenced && now.Sub(last) > c.mu.cluster.SessionTimeout {
			c.logger.Warn("fencing broker: no heartbeat", "broker", id, "silent_for", now.Sub(last).Round(time.Millisecond))
			if err := c.fenceLocked(id); err != nil {
				return err
			}
			im = c.image.Load()
		}
	}
	if err := c.completeReassignmentsLocked(nil); err != nil {
		return err
	}
	if iv := c.mu.cluster.LeaderRebalanceInterval; iv > 0 && now.Sub(c.mu.lastRebalance) >= iv {
		c.mu.lastRebalance = now
		return c.electPreferredLocked(nil)
	}
	return nil
}

// FenceBroker fences a broker now (controlled shutdown, or a test).
func (c *Controller) FenceBroker(id int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.image.Load().Brokers[id]; !ok || b.Fenced {
		return nil
	}
	return c.fenceLocked(id)
}

// fenceLocked commits the fence and moves every partition off the broker:
// it leaves all ISRs and partitions it led get a new leader from the rest
// of the ISR, or go offline (leader -1) when none is left. Unclean
// election (unclean.leader.election.enable) may pick an out-of-sync replica.
func (c *Controller) fenceLocked(id int32) error {
	im := c.image.Load()
	recs := []metadata.Record{{FenceBroker: &metadata.FenceBrokerRecord{BrokerID: id}}}
	for _, name := range im.TopicNames() {
		t := im.Topics[name]
		unclean := config.ResolveTopic(im.TopicConfigs[name], clusterTopicDefaults(im)).UncleanLeaderElection
		for _, p := range t.Partitions {
			if !slices.Contains(p.ISR, id) && p.Leader != id {
				continue
			}
			isr := slices.DeleteFunc(slices.Clone(p.ISR), func(r int32) bool { return r == id })
			leader := p.Leader
			if leader == id {
				leader = -1
				for _, r := range p.Replicas {
					if slices.Contains(isr, r) && !im.Brokers[r].Fenced {
						leader = r
						break
					}
				}
				if leader == -1 && unclean {
					for _, r := range p.Replicas {
						if r != id && !im.Brokers[r].Fenced {
							leader, isr = r, []int32{r}
							c.logger.Warn("unclean leader election", "topic", name, "partition", p.Index, "leader", r)
							break
						}
					}
				}
			}
			if len(isr) == 0 {
				// Keep the last in-sync replica so it can lead again when
				// it returns (no unclean election by default).
				isr = []int32{id}
			}
			recs = append(recs, partitionChange(t.ID, p, leader, isr))
		}
	}
	return c.commitLocked(recs)
}

// partitionChange builds the record that gives p a new leader and ISR,
// bumping the leader epoch when the leader changes and the partition epoch always.
func partitionChange(topicID [16]byte, p metadata.Partition, leader int32, isr []int32) metadata.Record {
	epoch := p.LeaderEpoch
	if leader != p.Leader {
		epoch++
	}
	return metadata.Record{Partition: &metadata.PartitionRecord{
		TopicID: topicID, Partition: p.Index, Replicas: p.Replicas, ISR: isr,
		Leader: leader, LeaderEpoch: epoch, PartitionEpoch: p.PartitionEpoch + 1,
		AddingReplicas: p.AddingReplicas, RemovingReplicas: p.RemovingReplicas,
	}}
}

// AlterPartition applies a leader's ISR change (Kafka's AlterPartition):
// the request must come from the current leader with the current epochs,
// and the new ISR must hold the leader and only live replicas.
func (c *Controller) AlterPartition(topic string, index, leader, leaderEpoch, partitionEpoch int32, isr []int32) (metadata.Partition, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	t, ok := im.Topics[topic]
	if !ok || index < 0 || int(index) >= len(t.Partitions) {
		return metadata.Partition{}, fmt.Errorf("%w: %s-%d", ErrUnknownTopic, topic, index)
	}
	p := t.Partitions[index]
	switch {
	case p.Leader != leader:
		return p, fmt.Errorf("%w: %s-%d is led by %d, not %d", ErrNotLeaderOfPartition, topic, index, p.Leader, leader)
	case p.LeaderEpoch != leaderEpoch || p.PartitionEpoch != partitionEpoch:
		return p, fmt.Errorf("%w: %s-%d is at leader epoch %d / partition epoch %d, request has %d / %d",
			ErrStaleEpoch, topic, index, p.LeaderEpoch, p.PartitionEpoch, leaderEpoch, partitionEpoch)
	case !slices.Contains(isr, leader):
		return p, fmt.Errorf("%w: ISR %v lacks the leader %d", ErrInvalidISR, isr, leader)
	}
	for _, r := range isr {
		b, ok := im.Brokers[r]
		if !slices.Contains(p.Replicas, r) || !ok || b.Fenced {
			return p, fmt.Errorf("%w: %d is not a live replica of %s-%d", ErrInvalidISR, r, topic, index)
		}
	}
	if slices.Equal(isr, p.ISR) {
		return p, nil
	}
	if err := c.commitLocked([]metadata.Record{partitionChange(t.ID, p, leader, isr)}); err != nil {
		return p, err
	}
	// An adding replica may just have joined the ISR (reassign.go).
	if err := c.completeReassignmentsLocked(func(name string, i int32) bool { return name == topic && i == index }); err != nil {
		return p, err
	}
	return c.image.Load().Topics[topic].Partitions[index], nil
}

// ElectPreferredLeaders moves leadership back to each partition's first
// replica where it is alive and in sync (ElectLeaders, preferred). A nil
// filter means every partition.
func (c *Controller) ElectPreferredLeaders(filter map[string][]int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.electPreferredLocked(filter)
}

func (c *Controller) electPreferredLocked(filter map[string][]int32) error {
	im := c.image.Load()
	var recs []metadata.Record
	for _, name := range im.TopicNames() {
		want, listed := filter[name]
		if filter != nil && !listed {
			continue
		}
		t := im.Topics[name]
		for _, p := range t.Partitions {
			if filter != nil && len(want) > 0 && !slices.Contains(want, p.Index) {
				continue
			}
			preferred := p.Replicas[0]
			b := im.Brokers[preferred]
			if p.Leader == preferred || b.Fenced || !slices.Contains(p.ISR, preferred) {
				continue
			}
			recs = append(recs, partitionChange(t.ID, p, preferred, p.ISR))
		}
	}
	if len(recs) > 0 {
		c.logger.Info("restoring preferred leaders", "partitions", len(recs))
	}
	return c.commitLocked(recs)
}
