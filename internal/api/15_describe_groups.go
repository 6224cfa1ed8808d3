package api

// DescribeGroups (key 15), versions 0-6.
//   v1: throttle. v2: no change. v3: AuthorizedOperations when asked
//   (arus has no authorizer yet: all group operations). v4: InstanceID
//   per member. v5: flexible. v6: an unknown group is GROUP_ID_NOT_FOUND
//   with an ErrorMessage (KIP-1043); before, state Dead and no error.
//
// Member metadata and assignments are filled only while the group is
// Stable, as Kafka does.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/group"
)

func (h *Handlers) describeGroups(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeGroupsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range r.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = id
		if !h.authorized(req, auth.OpDescribe, auth.ResourceGroup, id) {
			rg.ErrorCode = kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		d, err := h.deps.Groups.DescribeGroup(ctx, id)
		switch {
		case errors.Is(err, group.ErrGroupIDNotFound):
			rg.State = group.StateDead.String()
			if r.Version >= 6 {
				rg.ErrorCode = errorCode(h.deps.Logger, err)
				msg := "group " + id + " not found"
				rg.ErrorMessage = &msg
			}
		case err != nil:
			rg.ErrorCode = errorCode(h.deps.Logger, err)
		default:
			rg.State, rg.ProtocolType, rg.Protocol = d.State.String(), d.ProtocolType, d.Protocol
			for _, m := range d.Members {
				rm := kmsg.NewDescribeGroupsResponseGroupMember()
				rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
				rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
				if rm.ProtocolMetadata == nil {
					rm.ProtocolMetadata = []byte{}
				}
				if rm.MemberAssignment == nil {
					rm.MemberAssignment = []byte{}
				}
				rg.Members = append(rg.Members, rm)
			}
			if r.IncludeAuthorizedOperations {
				rg.AuthorizedOperations = h.authorizedOperations(req, auth.ResourceGroup, id)
			}
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return respond(resp)
}
