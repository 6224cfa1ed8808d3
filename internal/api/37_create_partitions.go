package api

// CreatePartitions (key 37), versions 0-3.
//   v1: throttle after the response. v2: flexible. v3: no change.
// Count is the topic's new total; Assignment, when given, places each new
// partition (one entry per new partition, as many replicas as the topic
// has). Runs on the active controller. Errors as Kafka's
// ReplicationControlManager.createPartitions: an unknown topic is
// UNKNOWN_TOPIC_OR_PARTITION, a count that does not grow INVALID_PARTITIONS,
// assignments that do not match INVALID_REPLICA_ASSIGNMENT, and a topic
// named twice INVALID_REQUEST, answered once and not changed.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/controller"
)

func (h *Handlers) createPartitions(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.CreatePartitionsRequest)
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	specs := make([]controller.PartitionsSpec, len(r.Topics))
	for i, t := range r.Topics {
		specs[i] = controller.PartitionsSpec{Topic: t.Topic, Count: t.Count}
		if t.Assignment != nil {
			specs[i].Assignment = make([][]int32, len(t.Assignment))
			for j, a := range t.Assignment {
				specs[i].Assignment[j] = a.Replicas
			}
		}
	}
	errs := h.deps.Controller.CreatePartitions(specs, r.ValidateOnly)
	answered := map[string]bool{}
	for i, t := range r.Topics {
		if answered[t.Topic] {
			continue // a duplicate is answered once, as Kafka does
		}
		answered[t.Topic] = true
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		rt.ErrorCode = errorCode(h.deps.Logger, errs[i])
		rt.ErrorMessage = errorMessage(errs[i])
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}
