package api

// DeleteGroups (key 42), versions 0-3.
//   v1: no change. v2: flexible. v3: ErrorMessage per group.
//
// Only empty groups can be deleted (NON_EMPTY_GROUP otherwise); an
// unknown group is GROUP_ID_NOT_FOUND. The group's offsets and metadata
// are deleted with tombstones, and the answer waits for them.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) deleteGroups(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DeleteGroupsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
	errs := h.deps.Groups.DeleteGroups(ctx, r.Groups)
	for i, id := range r.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = id
		rg.ErrorCode = errorCode(h.deps.Logger, errs[i])
		if r.Version >= 3 {
			rg.ErrorMessage = errorMessage(errs[i])
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return respond(resp)
}
