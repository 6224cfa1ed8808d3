package api

// Heartbeat (key 12), versions 0-4.
//   v1: throttle. v2: no change. v3: InstanceID (KIP-345). v4: flexible.
//
// REBALANCE_IN_PROGRESS tells a member to rejoin; UNKNOWN_MEMBER_ID that
// it was evicted (its session timed out) or left; ILLEGAL_GENERATION that
// it missed a generation. While the group's partition is loading the
// answer is NONE, as Kafka answers blindly then.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/group"
)

func (h *Handlers) heartbeat(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.HeartbeatRequest)
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	hr := group.HeartbeatRequest{Group: r.Group, Generation: r.Generation, MemberID: r.MemberID}
	if r.Version >= 3 {
		hr.InstanceID = r.InstanceID
	}
	resp.ErrorCode = errorCode(h.deps.Logger, h.deps.Groups.Heartbeat(ctx, hr))
	return respond(resp)
}
