package controller

// Partition reassignment (Kafka's AlterPartitionReassignments, KIP-455, as
// KRaft runs it). Moving a partition from replicas O to a target T goes
// through three metadata states:
//
//  1. Grow: Replicas = T followed by O−T, AddingReplicas = T−O,
//     RemovingReplicas = O−T; the ISR and leader are unchanged. Every broker
//     whose id is in Replicas hosts the partition, so the adding brokers
//     open a replica and start fetching from the leader as followers.
//  2. Catch up: the leader adds each adding replica to the ISR once it has
//     caught up (AlterPartition), as for any follower.
//  3. Complete: once every adding replica is in the ISR, Replicas = T,
//     ISR = ISR ∩ T, the adding/removing sets are cleared and, when the
//     leader was being removed, a replica of T in the ISR takes over (the
//     leader epoch is bumped). Removed brokers see they no longer host the
//     partition and delete their copy.
//
// The completion check runs when an ISR change commits (AlterPartition)
// and on every Tick, so a move that could not complete (no eligible
// leader) completes once it can. Cancelling (null target replicas)
// reverts to O: the adding replicas leave Replicas and the ISR.

import (
	"errors"
	"fmt"
	"slices"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/metadata"
)

// ErrNoReassignmentInProgress is returned when cancelling the reassignment
// of a partition that is not being reassigned.
var ErrNoReassignmentInProgress = errors.New("no reassignment in progress")

// ReassignSpec is one partition of an AlterPartitionReassignments request.
type ReassignSpec struct {
	Topic     string
	Partition int32
	// Replicas is the target replica list, preferred leader first; nil
	// cancels the partition's ongoing reassignment.
	Replicas []int32
}

// AlterPartitionReassignments starts (or replaces, or with nil replicas
// cancels) the reassignment of each partition; one error per spec, nil on
// success. With allowRFChange false a target whose size differs from the
// current replication factor is refused.
func (c *Controller) AlterPartitionReassignments(specs []ReassignSpec, allowRFChange bool) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	errs := make([]error, len(specs))
	var recs []metadata.Record
	type tp struct {
		topic string
		index int32
	}
	seen := map[tp]bool{}
	hosted := hostedReplicas(im)
	for i, s := range specs {
		if seen[tp{s.Topic, s.Partition}] {
			errs[i] = fmt.Errorf("%w: partition %s-%d appears twice in the request", ErrInvalidRequest, s.Topic, s.Partition)
			continue
		}
		seen[tp{s.Topic, s.Partition}] = true
		rec, err := planReassignment(im, s, allowRFChange, hosted)
		if err != nil {
			errs[i] = err
			continue
		}
		if rec != nil {
			recs = append(recs, *rec)
		}
	}
	if len(recs) > 0 {
		c.logger.Info("partition reassignment", "changes", len(recs))
	}
	if err := c.commitLocked(recs); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// planReassignment returns the record that starts, replaces or cancels a
// reassignment (completing it at once when nothing needs to catch up), or
// nil when the partition already has the requested replicas.
func planReassignment(im *metadata.Image, s ReassignSpec, allowRFChange bool, hosted hostedCounts) (*metadata.Record, error) {
	t, ok := im.Topics[s.Topic]
	if !ok || s.Partition < 0 || int(s.Partition) >= len(t.Partitions) {
		return nil, fmt.Errorf("%w: %s-%d", ErrUnknownTopic, s.Topic, s.Partition)
	}
	p := t.Partitions[s.Partition]
	if s.Replicas == nil && !p.Reassigning() {
		return nil, fmt.Errorf("%w: partition %s-%d is not being reassigned", ErrNoReassignmentInProgress, s.Topic, s.Partition)
	}
	// Any ongoing reassignment is reverted first: a new target replaces it
	// and is measured against the original replicas.
	orig := without(p.Replicas, p.AddingReplicas)
	isr := without(p.ISR, p.AddingReplicas)
	if len(isr) == 0 {
		// Every in-sync replica was one being added: reverting means
		// electing an out-of-sync original replica.
		if !config.ResolveTopic(im.TopicConfigs[s.Topic], clusterTopicDefaults(im)).UncleanLeaderElection {
			return nil, fmt.Errorf("%w: reverting the reassignment of %s-%d would need an unclean leader election: only adding replicas %v are in sync",
				ErrInvalidReplicaAssignment, s.Topic, s.Partition, p.ISR)
		}
		isr = []int32{orig[0]}
	}
	next := p
	next.ISR = isr
	if s.Replicas == nil {
		next.Replicas, next.AddingReplicas, next.RemovingReplicas = orig, nil, nil
	} else {
		target := s.Replicas
		if err := validateReplicas(im, target); err != nil {
			return nil, fmt.Errorf("partition %s-%d: %w", s.Topic, s.Partition, err)
		}
		if !allowRFChange && len(target) != len(orig) {
			return nil, fmt.Errorf("%w: partition %s-%d has %d replicas, the target %v has %d and replication factor changes are not allowed",
				ErrInvalidReplicationFactor, s.Topic, s.Partition, len(orig), target, len(target))
		}
		// Brokers that do not host the partition yet must have room for it.
		if err := hosted.place(im, [][]int32{without(target, p.Replicas)}); err != nil {
			return nil, fmt.Errorf("%w: partition %s-%d: %w", ErrInvalidReplicaAssignment, s.Topic, s.Partition, err)
		}
		removing := without(orig, target)
		next.Replicas = append(slices.Clone(target), removing...)
		next.AddingReplicas = without(target, orig)
		next.RemovingReplicas = removing
	}
	next.AddingReplicas, next.RemovingReplicas = nilIfEmpty(next.AddingReplicas), nilIfEmpty(next.RemovingReplicas)
	if done, ok := completeReassignment(next); ok {
		next = done
	}
	leader, ok := electAfterChange(im, next)
	if !ok {
		return nil, fmt.Errorf("%w: no replica of %s-%d in %v is alive and in sync to lead",
			ErrInvalidReplicaAssignment, s.Topic, s.Partition, next.Replicas)
	}
	if sameAssignment(p, next) && leader == p.Leader {
		return nil, nil
	}
	return partitionRecord(t.ID, p, next, leader), nil
}

// completeReassignment returns p with its reassignment completed when
// every adding replica is in the ISR and an in-sync replica remains once
// the removing ones leave; ok is false otherwise. The leader is left to
// the caller (electAfterChange).
func completeReassignment(p metadata.Partition) (metadata.Partition, bool) {
	if !p.Reassigning() {
		return p, false
	}
	isr := without(p.ISR, p.RemovingReplicas)
	if len(isr) == 0 {
		return p, false
	}
	for _, r := range p.AddingReplicas {
		if !slices.Contains(isr, r) {
			return p, false
		}
	}
	p.Replicas = without(p.Replicas, p.RemovingReplicas)
	p.ISR = isr
	p.AddingReplicas, p.RemovingReplicas = nil, nil
	return p, true
}

// electAfterChange returns the leader p should have after an assignment
// change: its current leader while that is still a live, in-sync replica,
// else the first replica (in replica order) that is. ok is false when no
// replica qualifies.
func electAfterChange(im *metadata.Image, p metadata.Partition) (int32, bool) {
	eligible := func(r int32) bool {
		b, ok := im.Brokers[r]
		return ok && !b.Fenced && slices.Contains(p.ISR, r) && slices.Contains(p.Replicas, r)
	}
	if p.Leader >= 0 && eligible(p.Leader) {
		return p.Leader, true
	}
	for _, r := range p.Replicas {
		if eligible(r) {
			return r, true
		}
	}
	if p.Leader == -1 {
		// Offline before the change and still offline: not made worse.
		return -1, true
	}
	return -1, false
}

// completeReassignmentsLocked commits the completion of every reassignment
// that can complete now; a nil filter checks every partition.
func (c *Controller) completeReassignmentsLocked(filter func(topic string, index int32) bool) error {
	im := c.image.Load()
	var recs []metadata.Record
	for _, name := range im.TopicNames() {
		t := im.Topics[name]
		for _, p := range t.Partitions {
			if !p.Reassigning() || filter != nil && !filter(name, p.Index) {
				continue
			}
			next, ok := completeReassignment(p)
			if !ok {
				continue
			}
			leader, ok := electAfterChange(im, next)
			if !ok || leader == -1 {
				continue // wait for an eligible leader
			}
			c.logger.Info("partition reassignment complete", "topic", name, "partition", p.Index,
				"replicas", next.Replicas, "isr", next.ISR, "leader", leader)
			recs = append(recs, *partitionRecord(t.ID, p, next, leader))
		}
	}
	return c.commitLocked(recs)
}

// partitionRecord builds the record that turns old into next with the
// given leader, bumping the leader epoch when the leader changes and the
// partition epoch always.
func partitionRecord(topicID [16]byte, old, next metadata.Partition, leader int32) *metadata.Record {
	epoch := old.LeaderEpoch
	if leader != old.Leader {
		epoch++
	}
	return &metadata.Record{Partition: &metadata.PartitionRecord{
		TopicID: topicID, Partition: old.Index, Replicas: next.Replicas, ISR: next.ISR,
		Leader: leader, LeaderEpoch: epoch, PartitionEpoch: old.PartitionEpoch + 1,
		AddingReplicas: next.AddingReplicas, RemovingReplicas: next.RemovingReplicas,
	}}
}

// validateReplicas checks a replica list: not empty, registered brokers,
// no broker twice.
func validateReplicas(im *metadata.Image, replicas []int32) error {
	if len(replicas) == 0 {
		return fmt.Errorf("%w: empty replica list", ErrInvalidReplicaAssignment)
	}
	for i, r := range replicas {
		if _, ok := im.Brokers[r]; !ok {
			return fmt.Errorf("%w: broker %d does not exist", ErrInvalidReplicaAssignment, r)
		}
		if slices.Contains(replicas[:i], r) {
			return fmt.Errorf("%w: broker %d listed twice", ErrInvalidReplicaAssignment, r)
		}
	}
	return nil
}

func sameAssignment(a, b metadata.Partition) bool {
	return slices.Equal(a.Replicas, b.Replicas) && slices.Equal(a.ISR, b.ISR) &&
		slices.Equal(a.AddingReplicas, b.AddingReplicas) && slices.Equal(a.RemovingReplicas, b.RemovingReplicas)
}

// without returns the ids of a that are not in b, in a's order.
func without(a, b []int32) []int32 {
	out := make([]int32, 0, len(a))
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func nilIfEmpty(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return s
}
