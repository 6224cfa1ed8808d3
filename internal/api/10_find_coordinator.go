package api

// FindCoordinator (key 10), versions 0-6.
//   v0: group key only (GroupCoordinator). v1: CoordinatorType (0 group,
//   1 transaction), ErrorMessage, throttle. v2: no change. v3: flexible.
//   v4: batched CoordinatorKeys with a result per key (KIP-699). v5: no
//   change for us. v6: key type 2 (share groups, KIP-932), not served.
//
// The first request for a group creates __consumer_offsets, as Kafka
// does; arus creates it synchronously, so the answer names the
// coordinator at once instead of COORDINATOR_NOT_AVAILABLE. The same goes
// for __transaction_state and transaction coordinators (key type 1).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/group"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/txn"
)

func (h *Handlers) findCoordinator(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.FindCoordinatorRequest)
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := r.CoordinatorKeys
	if r.Version < 4 {
		keys = []string{r.CoordinatorKey}
	}
	for _, key := range keys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.NodeID, c.Port = key, -1, -1
		var err error
		switch {
		case r.CoordinatorType == 0 && !h.authorized(req, auth.OpDescribe, auth.ResourceGroup, key):
			err = kerr.GroupAuthorizationFailed
		case r.CoordinatorType == 1 && !h.authorized(req, auth.OpDescribe, auth.ResourceTransactionalID, key):
			err = kerr.TransactionalIDAuthorizationFailed
		}
		switch {
		case err != nil:
		case r.CoordinatorType == 0:
			var node int32
			if node, err = h.deps.Groups.FindCoordinator(ctx, key); err == nil {
				host, port, ok := h.coordinatorAddress(h.deps.Metadata.Image(), node, req.ListenerName)
				if !ok {
					err = group.ErrCoordinatorNotAvailable
				} else {
					c.NodeID, c.Host, c.Port = node, host, port
				}
			}
		case r.CoordinatorType == 1:
			var tc *txn.Coordinator
			var node int32
			if tc, err = h.txnCoordinator(); err == nil {
				if node, err = tc.FindCoordinator(ctx, key); err == nil {
					host, port, ok := h.coordinatorAddress(h.deps.Metadata.Image(), node, req.ListenerName)
					if !ok {
						err = txn.ErrCoordinatorNotAvailable
					} else {
						c.NodeID, c.Host, c.Port = node, host, port
					}
				}
			}
		default:
			c.ErrorCode = kerr.InvalidRequest.Code
			msg := "unknown coordinator type"
			c.ErrorMessage = &msg
		}
		if err != nil {
			c.NodeID, c.Host, c.Port = -1, "", -1
			c.ErrorCode = errorCode(h.deps.Logger, err)
			c.ErrorMessage = errorMessage(err)
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	if r.Version < 4 {
		c := resp.Coordinators[0]
		resp.Coordinators = nil
		resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
		resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
	}
	return respond(resp)
}

// coordinatorAddress is node's address for a FindCoordinator answer, or
// !ok when node is fenced: Metadata leaves a fenced broker out of its
// broker list (unless it is this one), so a client could not reach the
// coordinator by id (franz-go fails the transaction's records with
// "unknown broker"). Kafka answers COORDINATOR_NOT_AVAILABLE for a
// coordinator without a live endpoint, and clients retry until the
// partition has a new leader.
func (h *Handlers) coordinatorAddress(im *metadata.Image, node int32, listenerName string) (host string, port int32, ok bool) {
	if b, known := im.Brokers[node]; known && b.Fenced && node != h.deps.Broker.NodeID {
		return "", -1, false
	}
	return h.brokerAddress(im, node, listenerName)
}
