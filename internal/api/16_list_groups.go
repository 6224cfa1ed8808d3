package api

// ListGroups (key 16), versions 0-5.
//   v1: throttle. v2: no change. v3: flexible. v4: StatesFilter and
//   GroupState (KIP-518). v5: TypesFilter and GroupType (KIP-848); every
//   arus group is "classic".
//
// Filters match case-insensitively, as Kafka's do. While some offsets
// partition is still loading the error is COORDINATOR_LOAD_IN_PROGRESS
// and the groups of the loaded ones are listed.

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
)

func (h *Handlers) listGroups(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.ListGroupsRequest)
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	groups, err := h.deps.Groups.ListGroups(ctx)
	resp.ErrorCode = errorCode(h.deps.Logger, err)
	matches := func(filter []string, value string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, value) {
				return true
			}
		}
		return false
	}
	describeAll := h.authorizedCluster(req, auth.OpDescribe)
	for _, g := range groups {
		if !describeAll && !h.authorized(req, auth.OpDescribe, auth.ResourceGroup, g.Group) {
			continue
		}
		if r.Version >= 4 && !matches(r.StatesFilter, g.State.String()) {
			continue
		}
		if r.Version >= 5 && !matches(r.TypesFilter, "classic") {
			continue
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.Group, g.ProtocolType, g.State.String(), "classic"
		resp.Groups = append(resp.Groups, rg)
	}
	return respond(resp)
}
