package api

// AlterPartitionReassignments (key 45), versions 0-1.
//   v0: flexible. v1: AllowReplicationFactorChange (KIP-860); when false a
//   target of another size than the current replica list is refused with
//   INVALID_REPLICATION_FACTOR.
// Starts moving partitions to their target replicas (null replicas cancels
// an ongoing move); the move itself completes later, once the new replicas
// caught up (controller/reassign.go). Runs on the active controller.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/controller"
)

func (h *Handlers) alterPartitionAssignments(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	allowRF := r.Version < 1 || r.AllowReplicationFactorChange
	resp.AllowReplicationFactorChange = allowRF
	var specs []controller.ReassignSpec
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			specs = append(specs, controller.ReassignSpec{Topic: t.Topic, Partition: p.Partition, Replicas: p.Replicas})
		}
	}
	errs := h.deps.Controller.AlterPartitionReassignments(specs, allowRF)
	i := 0
	for _, t := range r.Topics {
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = errorCode(h.deps.Logger, errs[i])
			rp.ErrorMessage = errorMessage(errs[i])
			rt.Partitions = append(rt.Partitions, rp)
			i++
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}
