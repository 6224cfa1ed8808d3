package api

// IncrementalAlterConfigs (key 44), versions 0-1.
//   v1: flexible.
// Changes single configs of a resource: SET (0), DELETE (1, back to the
// default), APPEND (2) and SUBTRACT (3) items of list configs such as
// cleanup.policy. A resource's changes apply all or none. Topics and
// brokers, with the same rules and receiving-broker checks as AlterConfigs
// (33_alter_configs.go). Runs on the active controller; brokers pick the
// change up from the metadata.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/controller"
)

func (h *Handlers) incrementalAlterConfigs(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.IncrementalAlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	resources := make([]configResource, len(r.Resources))
	for i, res := range r.Resources {
		cr := configResource{typ: res.ResourceType, name: res.ResourceName}
		for _, c := range res.Configs {
			cr.changes = append(cr.changes, controller.ConfigChange{Name: c.Name, Op: controller.ConfigOp(c.Op), Value: c.Value})
		}
		resources[i] = cr
	}
	errs, done := h.preprocessConfigs(resources)
	forward := func(keep []bool) ([]error, error) {
		fr := kmsg.NewPtrIncrementalAlterConfigsRequest()
		fr.ValidateOnly = r.ValidateOnly
		for i, res := range r.Resources {
			if keep[i] {
				fr.Resources = append(fr.Resources, res)
			}
		}
		out, err := h.forwardConfigs(ctx, req.Version, fr)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, rr := range out.(*kmsg.IncrementalAlterConfigsResponse).Resources {
			errs = append(errs, responseError(rr.ErrorCode, rr.ErrorMessage))
		}
		return errs, nil
	}
	if out, closed := h.applyConfigs(resources, errs, done, false, r.ValidateOnly, forward); closed {
		return out
	}
	for i, res := range r.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		rr.ErrorCode = errorCode(h.deps.Logger, errs[i])
		rr.ErrorMessage = errorMessage(errs[i])
		resp.Resources = append(resp.Resources, rr)
	}
	return respond(resp)
}
