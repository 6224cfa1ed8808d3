package broker

import (
	"fmt"
	"path/filepath"

	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/partition"
	"github.com/arus-io/arus/internal/replica"
)

// replicaState is the replica manager's own state, owned by the publisher
// goroutine (applyPartitions): which partitions this node follows, and
// whether stray directories were removed after start.
type replicaState struct {
	followed     map[topicPartition]replica.Followed
	strayChecked bool
}

// applyPartitions is the publisher's first step: it makes the open
// partitions match im for what delta changed (every partition on a full
// delta). Removed topics' partitions are closed and their data removed
// first, then new partitions open (in parallel, without the broker's
// lock), then roles, configs and the followed set change. The broker's
// lock is held only to add and remove map entries.
func (b *Broker) applyPartitions(im *metadata.Image, delta *metadata.Delta) {
	if b.isClosed() {
		return
	}
	st := &b.replicaState
	if st.followed == nil {
		st.followed = map[topicPartition]replica.Followed{}
	}
	open := b.openSnapshot()
	followedChanged := delta.Full || len(delta.Brokers) > 0

	// 1. Deleted topics: close every open partition of the names.
	if len(delta.DeletedTopics) > 0 {
		deleted := map[string]bool{}
		for _, name := range delta.DeletedTopics {
			deleted[name] = true
			if _, recreated := im.Topics[name]; !recreated {
				b.metrics.ForgetTopic(name)
			}
		}
		var gone []topicPartition
		for tp := range open {
			if deleted[tp.topic] {
				gone = append(gone, tp)
			}
		}
		b.closeHosted(gone, open)
		followedChanged = b.unfollow(gone) || followedChanged
	}

	// 2. The partitions to look at: the changed ones, or all on a full delta.
	var check []topicPartition
	if delta.Full {
		seen := map[topicPartition]bool{}
		for name, t := range im.Topics {
			for _, p := range t.Partitions {
				if containsID(p.Replicas, b.cfg.NodeID) {
					tp := topicPartition{name, p.Index}
					seen[tp] = true
					check = append(check, tp)
				}
			}
		}
		for tp := range open {
			if !seen[tp] {
				check = append(check, tp)
			}
		}
	} else {
		for name, ps := range delta.Partitions {
			for index := range ps {
				check = append(check, topicPartition{name, index})
			}
		}
	}
	var toOpen []partition.Config
	var toClose []topicPartition
	for _, tp := range check {
		p, hosted := hostedPartition(im, tp, b.cfg.NodeID)
		part := open[tp]
		switch {
		case !hosted && part != nil:
			toClose = append(toClose, tp)
		case !hosted:
		case part == nil:
			toOpen = append(toOpen, b.partitionConfig(im, tp, p))
		default:
			if delta.Full {
				part.SetTopicConfig(b.topicConfig(im, tp.topic))
			}
			part.SetRole(roleOf(b.cfg.NodeID, p))
		}
	}
	b.closeHosted(toClose, open)
	followedChanged = b.unfollow(toClose) || followedChanged
	if len(toOpen) > 0 {
		opened := b.openPartitions(toOpen)
		b.mu.Lock()
		if b.mu.closed {
			b.mu.Unlock()
			closePartitions(opened)
			return
		}
		for tp, part := range opened {
			b.mu.partitions[tp] = part
			open[tp] = part
		}
		b.mu.Unlock()
	}

	// 3. Configs of topics whose configs (or the broker defaults) changed.
	if !delta.Full {
		b.applyConfigs(im, delta, open)
	}

	// 4. The followed set, for the partitions looked at.
	for _, tp := range check {
		p, hosted := hostedPartition(im, tp, b.cfg.NodeID)
		part := open[tp]
		_, was := st.followed[tp]
		if hosted && part != nil && p.Leader != b.cfg.NodeID && p.Leader >= 0 {
			// Replicas fetch on the leader's inter-broker listener.
			st.followed[tp] = replica.Followed{Topic: tp.topic, TopicID: im.Topics[tp.topic].ID, Partition: part, Leader: p.Leader,
				LeaderAddr: im.Brokers[p.Leader].InterBrokerAddr()}
			followedChanged = true
		} else if was {
			delete(st.followed, tp)
			followedChanged = true
		}
	}
	if followedChanged {
		all := make([]replica.Followed, 0, len(st.followed))
		for tp, f := range st.followed {
			f.LeaderAddr = im.Brokers[f.Leader].InterBrokerAddr() // a leader may have moved
			st.followed[tp] = f
			all = append(all, f)
		}
		b.replicas.SetFollowed(all)
	}
	if !st.strayChecked {
		st.strayChecked = true
		b.removeStrayDirs(im)
	}
}

// applyConfigs gives the open partitions of topics whose configs changed
// (all of them when a broker config changed) their resolved config.
func (b *Broker) applyConfigs(im *metadata.Image, delta *metadata.Delta, open map[topicPartition]*partition.Partition) {
	if delta.BrokerConfigs {
		for tp, part := range open {
			part.SetTopicConfig(b.topicConfig(im, tp.topic))
		}
		return
	}
	for name := range delta.TopicConfigs {
		t, ok := im.Topics[name]
		if !ok {
			continue
		}
		tc := b.topicConfig(im, name)
		for _, p := range t.Partitions {
			if part := open[topicPartition{name, p.Index}]; part != nil {
				part.SetTopicConfig(tc)
			}
		}
	}
}

// hostedPartition returns the image's partition tp and whether this node
// hosts a replica of it.
func hostedPartition(im *metadata.Image, tp topicPartition, self int32) (metadata.Partition, bool) {
	t, ok := im.Topics[tp.topic]
	if !ok || tp.index < 0 || int(tp.index) >= len(t.Partitions) {
		return metadata.Partition{}, false
	}
	p := t.Partitions[tp.index]
	return p, containsID(p.Replicas, self)
}

func roleOf(self int32, p metadata.Partition) partition.Role {
	return partition.Role{
		Self: self, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
		Replicas: p.Replicas, ISR: p.ISR,
	}
}

func (b *Broker) partitionConfig(im *metadata.Image, tp topicPartition, p metadata.Partition) partition.Config {
	return partition.Config{
		Topic: tp.topic, Index: tp.index,
		Dir:       filepath.Join(b.cfg.DataDir, fmt.Sprintf("%s-%d", tp.topic, tp.index)),
		TopicConf: b.topicConfig(im, tp.topic), Logger: b.logger, ReplicaLagMax: b.opts.timing.ReplicaLagMax,
		Files: b.files, Flushes: b.flushObserver(), RecoveryPointInterval: b.cfg.RecoveryPointCheckpointInterval,
		Role: roleOf(b.cfg.NodeID, p),
	}
}

// openSnapshot copies the map of open partitions (the publisher's working
// view; only the publisher adds or removes entries while it runs).
func (b *Broker) openSnapshot() map[topicPartition]*partition.Partition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make(map[topicPartition]*partition.Partition, len(b.mu.partitions))
	for tp, p := range b.mu.partitions {
		out[tp] = p
	}
	return out
}

func (b *Broker) isClosed() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.mu.closed
}

// closeHosted takes tps out of the open map, closes them and removes
// their data (the topic was deleted or the replica moved away).
func (b *Broker) closeHosted(tps []topicPartition, open map[topicPartition]*partition.Partition) {
	if len(tps) == 0 {
		return
	}
	b.mu.Lock()
	if b.mu.closed {
		b.mu.Unlock()
		return
	}
	for _, tp := range tps {
		delete(b.mu.partitions, tp)
	}
	b.mu.Unlock()
	for _, tp := range tps {
		part := open[tp]
		delete(open, tp)
		if part == nil {
			continue
		}
		if err := part.Close(); err != nil {
			b.logger.Warn("close removed partition", "topic", tp.topic, "partition", tp.index, "err", err)
		}
		b.removeDir(fmt.Sprintf("%s-%d", tp.topic, tp.index))
	}
}

// unfollow drops tps from the followed set and reports whether any was in it.
func (b *Broker) unfollow(tps []topicPartition) bool {
	changed := false
	for _, tp := range tps {
		if _, ok := b.replicaState.followed[tp]; ok {
			delete(b.replicaState.followed, tp)
			changed = true
		}
	}
	return changed
}
