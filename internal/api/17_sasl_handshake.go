package api

// SaslHandshake (key 17), versions 0-1.
//   v0: the tokens that follow are unframed. v1: they travel in
//   SaslAuthenticate requests.
//
// On a SASL listener internal/server answers it (the exchange is
// connection state). Reaching this handler means the listener has no SASL,
// which Kafka answers with ILLEGAL_SASL_STATE.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) saslHandshake(_ context.Context, req *Request) Outcome {
	resp := req.Body.(*kmsg.SASLHandshakeRequest).ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	return respond(resp)
}
