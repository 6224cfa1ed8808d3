package api

// CreatePartitions (key 37), versions 0-3.
//   v1: throttle after the response. v2: flexible. v3: no change.
// Count is the topic's new total; Assignment, when given, places each new
// partition (one entry per new partition, as many replicas as the topic
// has). Runs on the active controller.

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
	for i, t := range r.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		rt.ErrorCode = errorCode(h.deps.Logger, errs[i])
		rt.ErrorMessage = errorMessage(errs[i])
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}
