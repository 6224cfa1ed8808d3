package api

// ListPartitionReassignments (key 46), version 0 (flexible).
// Lists the partitions being reassigned with their replicas and the
// adding/removing sets, read from this node's metadata image. Null topics
// lists every ongoing reassignment; partitions asked for that are not being
// reassigned (or do not exist) are left out, as Kafka does.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/metadata"
)

func (h *Handlers) listPartitionReassignments(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.ListPartitionReassignmentsRequest)
	resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	im := h.deps.Metadata.Image()
	add := func(t *metadata.Topic, parts []metadata.Partition) {
		rt := kmsg.NewListPartitionReassignmentsResponseTopic()
		rt.Topic = t.Name
		for _, p := range parts {
			if !p.Reassigning() {
				continue
			}
			rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			rp.Partition = p.Index
			rp.Replicas = p.Replicas
			rp.AddingReplicas = nonNil(p.AddingReplicas)
			rp.RemovingReplicas = nonNil(p.RemovingReplicas)
			rt.Partitions = append(rt.Partitions, rp)
		}
		if len(rt.Partitions) > 0 {
			resp.Topics = append(resp.Topics, rt)
		}
	}
	if r.Topics == nil {
		for _, name := range im.TopicNames() {
			t := im.Topics[name]
			add(t, t.Partitions)
		}
		return respond(resp)
	}
	for _, rt := range r.Topics {
		t, ok := im.Topics[rt.Topic]
		if !ok {
			continue
		}
		var parts []metadata.Partition
		for _, i := range rt.Partitions {
			if i >= 0 && int(i) < len(t.Partitions) {
				parts = append(parts, t.Partitions[i])
			}
		}
		add(t, parts)
	}
	return respond(resp)
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}
