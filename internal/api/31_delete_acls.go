package api

// DeleteAcls (key 31), versions 0-3.
//   v1: pattern types. v2: flexible. v3: the user resource type.
//
// Needs ALTER on the cluster. Runs on the active controller (forwarded);
// each filter's result lists the bindings it removed.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/metadata"
)

func (h *Handlers) deleteACLs(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DeleteACLsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(r.Filters))
	var matchers []func(metadata.AccessControlEntryRecord) bool
	var idx []int
	for i, fr := range r.Filters {
		resp.Results[i].Default()
		f := aclFilter(fr.ResourceType, fr.ResourceName, fr.ResourcePatternType, fr.Principal, fr.Host, fr.Operation, fr.PermissionType)
		switch {
		case !h.deps.Authorizer.Enabled():
			resp.Results[i].ErrorCode = kerr.SecurityDisabled.Code
		case !h.authorizedCluster(req, auth.OpAlter):
			resp.Results[i].ErrorCode = kerr.ClusterAuthorizationFailed.Code
		case f.Validate() != nil:
			resp.Results[i].ErrorCode = kerr.InvalidRequest.Code
		default:
			matchers = append(matchers, func(a metadata.AccessControlEntryRecord) bool { return f.Matches(bindingOf(a)) })
			idx = append(idx, i)
		}
	}
	if len(matchers) == 0 {
		return respond(resp)
	}
	removed, err := h.deps.Controller.DeleteACLs(matchers)
	for j, i := range idx {
		if err != nil {
			resp.Results[i].ErrorCode = h.controllerCode(err)
			continue
		}
		for _, a := range removed[j] {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = kmsg.ACLResourceType(a.ResourceType), a.ResourceName, kmsg.ACLResourcePatternType(a.PatternType)
			m.Principal, m.Host = a.Principal, a.Host
			m.Operation, m.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.PermissionType)
			resp.Results[i].MatchingACLs = append(resp.Results[i].MatchingACLs, m)
		}
	}
	return respond(resp)
}
