package api

// CreateAcls (key 30), versions 0-3.
//   v1: pattern types (v0 creates LITERAL). v2: flexible. v3: the user
//   resource type.
//
// Needs ALTER on the cluster. Runs on the active controller (forwarded),
// which commits the bindings as AccessControlEntry records; an existing
// identical binding is not duplicated.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/metadata"
)

func (h *Handlers) createACLs(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.CreateACLsRequest)
	resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(r.Creations))
	fail := func(i int, code int16, msg string) {
		resp.Results[i].ErrorCode = code
		if msg != "" {
			resp.Results[i].ErrorMessage = &msg
		}
	}
	var valid []metadata.AccessControlEntryRecord
	var validIdx []int
	for i, c := range r.Creations {
		resp.Results[i].Default()
		b := auth.Binding{ResourceType: auth.ResourceType(c.ResourceType), ResourceName: c.ResourceName,
			PatternType: auth.PatternType(c.ResourcePatternType), Principal: c.Principal, Host: c.Host,
			Operation: auth.Operation(c.Operation), Permission: auth.Permission(c.PermissionType)}
		switch {
		case !h.deps.Authorizer.Enabled():
			fail(i, kerr.SecurityDisabled.Code, "")
		case !h.authorizedCluster(req, auth.OpAlter):
			fail(i, kerr.ClusterAuthorizationFailed.Code, "")
		case b.Validate() != nil:
			fail(i, kerr.InvalidRequest.Code, b.Validate().Error())
		default:
			valid = append(valid, recordOf(b))
			validIdx = append(validIdx, i)
		}
	}
	if len(valid) > 0 {
		if err := h.deps.Controller.CreateACLs(valid); err != nil {
			code := h.controllerCode(err)
			for _, i := range validIdx {
				fail(i, code, "")
			}
		}
	}
	return respond(resp)
}
