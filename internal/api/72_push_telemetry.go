package api

// PushTelemetry (key 72), version 0 (KIP-714).
// A client pushes its metrics (OTLP, compressed with CompressionType) for
// the subscription it got from GetTelemetrySubscriptions. Refused as in
// Kafka's ClientMetricsManager.validatePushRequest: a zero or reserved
// instance id, or a push after one marked Terminating, is INVALID_REQUEST;
// a push before the interval passed (unless terminating) is
// THROTTLING_QUOTA_EXCEEDED; a stale subscription id is
// UNKNOWN_SUBSCRIPTION_ID; an unknown codec UNSUPPORTED_COMPRESSION_TYPE;
// more than telemetry.max.bytes TELEMETRY_TOO_LARGE. Accepted metrics are
// kept as the instance's last push (Handlers.Telemetry().Snapshot) and
// decoded into series for /metrics (Handlers.Telemetry().Stats); metrics
// that do not decompress or parse as OTLP are INVALID_RECORD, as Kafka
// answers when its exporter fails.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) pushTelemetry(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.PushTelemetryRequest)
	resp := r.ResponseKind().(*kmsg.PushTelemetryResponse)
	clientID := ""
	if req.ClientID != nil {
		clientID = *req.ClientID
	}
	refusal := h.telemetry.push(r.ClientInstanceID, r.SubscriptionID, r.Terminating, r.CompressionType, r.Metrics, clientID, req.ClientHost)
	if refusal == telemetryOK && len(r.Metrics) > 0 {
		if err := h.telemetry.ingest(ctx, r.ClientInstanceID, r.CompressionType, r.Metrics, clientID); err != nil {
			h.deps.Logger.Debug("client telemetry not understood", "client_id", clientID, "host", req.ClientHost, "err", err)
			refusal = telemetryInvalidRecord
		}
	}
	if refusal == telemetryOK {
		h.telemetry.pushed()
	}
	resp.ErrorCode = telemetryCode(refusal)
	return respond(resp)
}
