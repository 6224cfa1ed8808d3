package api

// SaslAuthenticate (key 36), versions 0-2.
//   v1: SessionLifetimeMillis (KIP-368 re-authentication). v2: flexible.
//
// On a SASL listener internal/server answers it; here the listener has no
// SASL, which Kafka answers with ILLEGAL_SASL_STATE.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) saslAuthenticate(_ context.Context, req *Request) Outcome {
	resp := req.Body.(*kmsg.SASLAuthenticateRequest).ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	return respond(resp)
}
