package controller

import (
	"errors"
	"fmt"
	"slices"

	"github.com/arus-io/arus/internal/metadata"
)

// ErrPolicyViolation: the request is well formed but the cluster refuses
// it (POLICY_VIOLATION), e.g. a topic whose partitions would not fit on
// the brokers chosen for them.
var ErrPolicyViolation = errors.New("policy violation")

// hostedCounts is how many partition replicas each broker hosts, plus
// what the request being planned has placed so far; nil when no broker
// reported a limit (nothing to check).
type hostedCounts map[int32]int

// hostedReplicas counts the partition replicas of every broker in im.
// Every broker listed in a partition's replicas (adding and removing ones
// too) holds a copy on disk.
func hostedReplicas(im *metadata.Image) hostedCounts {
	limited := false
	for _, b := range im.Brokers {
		limited = limited || b.MaxPartitions > 0
	}
	if !limited {
		return nil
	}
	h := hostedCounts{}
	for _, t := range im.Topics {
		for _, p := range t.Partitions {
			for _, r := range p.Replicas {
				h[r]++
			}
		}
	}
	return h
}

// place adds the replicas of assignment, or returns why a broker cannot
// host them (its arus.max.partitions.per.broker, which it derives from its
// file descriptor budget unless set). Kafka has no such limit (KIP-578
// proposed max.broker.partitions and was never adopted); arus refuses up
// front what would otherwise exhaust the broker's descriptors or memory.
// On error nothing is added.
func (h hostedCounts) place(im *metadata.Image, assignment [][]int32) error {
	if h == nil {
		return nil
	}
	add := map[int32]int{}
	for _, replicas := range assignment {
		for _, r := range replicas {
			add[r]++
		}
	}
	ids := make([]int32, 0, len(add))
	for id := range add {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		limit := int(im.Brokers[id].MaxPartitions)
		if limit > 0 && h[id]+add[id] > limit {
			return fmt.Errorf("broker %d would host %d partition replicas (%d now, %d more), over its limit of %d "+
				"(arus.max.partitions.per.broker, by default derived from its open file limit)",
				id, h[id]+add[id], h[id], add[id], limit)
		}
	}
	for _, id := range ids {
		h[id] += add[id]
	}
	return nil
}
