package api

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/partition"
)

// leaderFor returns the local replica of topic/index when this broker
// leads it, or the Kafka error a client should get: UNKNOWN_TOPIC_OR_PARTITION
// when the partition does not exist, NOT_LEADER_OR_FOLLOWER when another
// broker leads it (the client refreshes its metadata).
func (h *Handlers) leaderFor(im *metadata.Image, topic string, index int32) (*partition.Partition, int16) {
	p, code := h.replicaFor(im, topic, index)
	if code == 0 && !p.Role().IsLeader() {
		return nil, kerr.NotLeaderForPartition.Code
	}
	return p, code
}

// replicaFor returns the local replica of topic/index, leader or follower.
func (h *Handlers) replicaFor(im *metadata.Image, topic string, index int32) (*partition.Partition, int16) {
	t, ok := im.Topics[topic]
	if !ok || index < 0 || int(index) >= len(t.Partitions) {
		return nil, kerr.UnknownTopicOrPartition.Code
	}
	p := h.deps.Partitions.Partition(topic, index)
	if p == nil {
		return nil, kerr.NotLeaderForPartition.Code
	}
	return p, 0
}
