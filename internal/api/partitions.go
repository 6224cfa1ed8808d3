package api

import (
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/partition"
)

// partitionFor returns the local replica of topic/index if the topic
// exists in im and this broker has the partition open.
func (h *Handlers) partitionFor(im *metadata.Image, topic string, index int32) *partition.Partition {
	t, ok := im.Topics[topic]
	if !ok || index < 0 || int(index) >= len(t.Partitions) {
		return nil
	}
	return h.deps.Partitions.Partition(topic, index)
}
