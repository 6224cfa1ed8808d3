package api

// JoinGroup (key 11), versions 0-9.
//   v0: no RebalanceTimeout (the session timeout is used). v1:
//   RebalanceTimeout. v2: throttle. v3: no change. v4: a new member gets
//   MEMBER_ID_REQUIRED with its id first and must join again with it
//   (KIP-394). v5: InstanceID, static membership (KIP-345). v6: flexible.
//   v7: ProtocolType in the response, Protocol nullable. v8: Reason
//   (KIP-800). v9: SkipAssignment for a static leader that rejoined a
//   Stable group (KIP-814).
//
// The request blocks until the rebalance round completes (or, for a
// member rejoining a Stable or CompletingRebalance group with unchanged
// metadata, answers at once). Like Kafka, the connection serves nothing
// else meanwhile.

import (
	"bytes"
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/group"
)

func (h *Handlers) joinGroup(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.JoinGroupRequest)
	resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
	jr := group.JoinRequest{
		Group: r.Group, MemberID: r.MemberID, ClientID: strOrEmpty(req.ClientID), ClientHost: req.ClientHost,
		SessionTimeout: millis(r.SessionTimeoutMillis), RebalanceTimeout: millis(r.RebalanceTimeoutMillis),
		ProtocolType: r.ProtocolType, Reason: strOrEmpty(r.Reason),
		RequireKnownMemberID: r.Version >= 4, SupportSkipAssignment: r.Version >= 9,
	}
	if r.Version < 1 {
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	if r.Version >= 5 {
		jr.InstanceID = r.InstanceID
	}
	for _, p := range r.Protocols {
		// The coordinator keeps the metadata; the request's bytes alias
		// the connection's read buffer, which the next request reuses.
		jr.Protocols = append(jr.Protocols, group.Protocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)})
	}
	waitStart := time.Now() // the coordinator waits for the rebalance or the append
	res := h.deps.Groups.JoinGroup(ctx, jr)
	req.waited(waitStart)
	resp.ErrorCode = errorCode(h.deps.Logger, res.Err)
	resp.Generation = res.Generation
	resp.MemberID = res.MemberID
	resp.LeaderID = res.Leader
	resp.SkipAssignment = res.SkipAssignment
	if res.Err == nil {
		if res.ProtocolType != "" {
			pt := res.ProtocolType
			resp.ProtocolType = &pt
		}
		p := res.Protocol
		resp.Protocol = &p
	}
	for _, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ProtocolMetadata = m.MemberID, m.InstanceID, m.Metadata
		resp.Members = append(resp.Members, rm)
	}
	return respond(resp)
}
