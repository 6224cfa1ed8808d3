package api

// IncrementalAlterConfigs (key 44), versions 0-1.
//   v1: flexible.
// Changes single configs of a resource: SET (0), DELETE (1, back to the
// default), APPEND (2) and SUBTRACT (3) items of list configs such as
// cleanup.policy. A resource's changes apply all or none. Topics only:
// broker configs cannot be changed at runtime yet (INVALID_REQUEST with a
// message saying so). Runs on the active controller; brokers pick the
// change up from the metadata (reconcile).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/controller"
)

func (h *Handlers) incrementalAlterConfigs(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.IncrementalAlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, res := range r.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var err error
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			changes := make([]controller.ConfigChange, len(res.Configs))
			for i, c := range res.Configs {
				changes[i] = controller.ConfigChange{Name: c.Name, Op: controller.ConfigOp(c.Op), Value: c.Value}
			}
			err = h.deps.Controller.IncrementalAlterTopicConfigs(res.ResourceName, changes, r.ValidateOnly)
		default:
			err = unsupportedConfigResource(res.ResourceType)
		}
		rr.ErrorCode = errorCode(h.deps.Logger, err)
		rr.ErrorMessage = errorMessage(err)
		resp.Resources = append(resp.Resources, rr)
	}
	return respond(resp)
}
