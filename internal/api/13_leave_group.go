package api

// LeaveGroup (key 13), versions 0-5.
//   v0: one MemberID. v1: throttle. v2: no change. v3: a batch of
//   members, each by member id or, for administrative removal of static
//   members, by instance id alone (KIP-345), with an error per member.
//   v4: flexible. v5: Reason per member (KIP-800).
//
// Before v3 the response has only the top-level error: the group-wide
// error, else the member's, as Kafka folds them.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/group"
)

func (h *Handlers) leaveGroup(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.LeaveGroupRequest)
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	var members []group.LeaveMember
	if r.Version < 3 {
		members = []group.LeaveMember{{MemberID: r.MemberID}}
	} else {
		for _, m := range r.Members {
			members = append(members, group.LeaveMember{MemberID: m.MemberID, InstanceID: m.InstanceID, Reason: strOrEmpty(m.Reason)})
		}
	}
	errs, err := h.deps.Groups.LeaveGroup(ctx, r.Group, members)
	resp.ErrorCode = errorCode(h.deps.Logger, err)
	if err != nil {
		return respond(resp)
	}
	if r.Version < 3 {
		resp.ErrorCode = errorCode(h.deps.Logger, errs[0])
		return respond(resp)
	}
	for i, m := range r.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
		rm.ErrorCode = errorCode(h.deps.Logger, errs[i])
		resp.Members = append(resp.Members, rm)
	}
	return respond(resp)
}
