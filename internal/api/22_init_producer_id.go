package api

// InitProducerId (key 22), versions 0-5.
//   v2: flexible. v3: ProducerID/ProducerEpoch of an existing producer
//   (KIP-360). v4: PRODUCER_FENCED. v5: KIP-890 part 2 (transactions).
//
// For idempotent producers (no transactional id) every call gets a fresh
// producer id with epoch 0, from blocks the controller hands out. With a
// transactional id the transaction coordinator answers (epoch bump,
// fencing of the previous producer, see internal/txn); PRODUCER_FENCED is
// INVALID_PRODUCER_EPOCH before v4.

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/txn"
)

// producerIDs hands out ids from the current block.
type producerIDs struct {
	mu   sync.Mutex
	next int64
	end  int64
}

func (h *Handlers) nextProducerID() (int64, error) {
	p := &h.producerIDs
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		start, n, err := h.allocateProducerIDBlock()
		if err != nil {
			return 0, err
		}
		p.next, p.end = start, start+n
	}
	id := p.next
	p.next++
	return id, nil
}

func (h *Handlers) initProducerID(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.InitProducerIDRequest)
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if r.TransactionalID != nil {
		// KafkaApis.handleInitProducerIdRequest: WRITE on the
		// transactional id.
		if !h.authorized(req, auth.OpWrite, auth.ResourceTransactionalID, *r.TransactionalID) {
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			return respond(resp)
		}
		c, err := h.txnCoordinator()
		var fresh int64
		if err == nil {
			fresh, err = h.nextProducerID()
		}
		if err != nil {
			resp.ErrorCode = errorCode(h.deps.Logger, err)
			return respond(resp)
		}
		waitStart := time.Now() // the coordinator waits for its log
		res := c.InitProducerID(ctx, txn.InitRequest{
			ID: *r.TransactionalID, Timeout: time.Duration(r.TransactionTimeoutMillis) * time.Millisecond,
			ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch, FreshProducerID: fresh,
		})
		req.waited(waitStart)
		resp.ErrorCode = h.txnErrorCode(res.Err, r.Version >= 4)
		if res.Err == nil {
			resp.ProducerID, resp.ProducerEpoch = res.ProducerID, res.ProducerEpoch
		}
		return respond(resp)
	}
	if !h.authorizedCluster(req, auth.OpIdempotentWrite) && !h.authorizedAny(req, auth.OpWrite, auth.ResourceTopic) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return respond(resp)
	}
	id, err := h.nextProducerID()
	if err != nil {
		resp.ErrorCode = errorCode(h.deps.Logger, err)
		return respond(resp)
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return respond(resp)
}

// allocateProducerIDBlock gets a block from the active controller, local
// or remote.
func (h *Handlers) allocateProducerIDBlock() (int64, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start, n, err := h.deps.Channel.AllocateProducerIDs(ctx, h.deps.Broker.NodeID)
	if errors.Is(err, controller.ErrNotController) {
		// No active controller reachable right now (an election runs,
		// or it moved): a retriable error, so producers try again.
		h.deps.Logger.Warn("allocate producer ids from the active controller", "err", err)
		return 0, 0, kerr.CoordinatorNotAvailable
	}
	return start, n, err
}
