package api

// SyncGroup (key 14), versions 0-5.
//   v1: throttle. v2: no change. v3: InstanceID (KIP-345). v4: flexible.
//   v5: ProtocolType and Protocol in request and response, checked
//   against the group's (INCONSISTENT_GROUP_PROTOCOL) (KIP-559).
//
// The leader's request carries the assignment; it and every follower's
// request block until the assignment is durable in __consumer_offsets.
// Assignments sent by a member that is not the leader are ignored, as in
// Kafka.

import (
	"bytes"
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/group"
)

func (h *Handlers) syncGroup(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.SyncGroupRequest)
	resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
	sr := group.SyncRequest{Group: r.Group, Generation: r.Generation, MemberID: r.MemberID}
	if r.Version >= 3 {
		sr.InstanceID = r.InstanceID
	}
	if r.Version >= 5 {
		sr.ProtocolType, sr.Protocol = r.ProtocolType, r.Protocol
	}
	if len(r.GroupAssignment) > 0 {
		sr.Assignments = make(map[string][]byte, len(r.GroupAssignment))
		for _, a := range r.GroupAssignment {
			// Kept by the coordinator: copy out of the connection's buffer.
			sr.Assignments[a.MemberID] = bytes.Clone(a.MemberAssignment)
		}
	}
	waitStart := time.Now() // the coordinator waits for the rebalance or the append
	res := h.deps.Groups.SyncGroup(ctx, sr)
	req.waited(waitStart)
	resp.ErrorCode = errorCode(h.deps.Logger, res.Err)
	resp.MemberAssignment = res.Assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	if res.Err == nil {
		pt, p := res.ProtocolType, res.Protocol
		resp.ProtocolType, resp.Protocol = &pt, &p
	}
	return respond(resp)
}
