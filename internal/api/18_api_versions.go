package api

// ApiVersions (key 18), versions 0-4.
//   v1: ThrottleMillis. v2: no change. v3: flexible; the client sends its
//   software name and version; features (KIP-584) in tagged fields:
//   SupportedFeatures, FinalizedFeaturesEpoch (the metadata offset the
//   finalized levels were read at) and FinalizedFeatures (features.go).
//   v4: no change (UNSUPPORTED_VERSION handling, KIP-511).
// The response header is always v0 (no tagged fields), even when flexible;
// internal/server handles that.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) apiVersions(_ context.Context, req *Request) Outcome {
	resp := req.Body.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = h.apiKeys[req.Listener]
	if req.Version >= 3 {
		if c := h.deps.Controller; c != nil { // nil in internal/server's tests
			resp.FinalizedFeaturesEpoch = max(c.Image().Offset, 0)
		}
		for _, f := range features {
			resp.SupportedFeatures = append(resp.SupportedFeatures, kmsg.ApiVersionsResponseSupportedFeature{
				Name: f.name, MinVersion: f.level, MaxVersion: f.level,
			})
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, kmsg.ApiVersionsResponseFinalizedFeature{
				Name: f.name, MinVersionLevel: f.level, MaxVersionLevel: f.level,
			})
		}
	}
	return respond(resp)
}
