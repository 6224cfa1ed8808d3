package api

// GetTelemetrySubscriptions (key 71), version 0 (KIP-714).
// A client asks which metrics to push: a zero ClientInstanceId gets a new
// one from the broker. The answer is the instance's subscription (the
// requested metric prefixes, none by default: a client then pushes
// nothing), the codecs accepted (zstd, lz4, gzip, snappy), the push
// interval (5 minutes), telemetry.max.bytes (1 MiB) and cumulative
// temporality: unlike Kafka (which asks for deltas for its exporter
// plugins) arus asks for cumulative sums, which it exports to Prometheus
// as they come and which survive a lost push.
// Asking again before the push interval passed is
// THROTTLING_QUOTA_EXCEEDED, as Kafka's ClientMetricsManager does. See
// telemetry.go.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) getTelemetrySubscriptions(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.GetTelemetrySubscriptionsRequest)
	resp := r.ResponseKind().(*kmsg.GetTelemetrySubscriptionsResponse)
	sub, refusal := h.telemetry.get(r.ClientInstanceID)
	if refusal != telemetryOK {
		resp.ErrorCode = telemetryCode(refusal)
		return respond(resp)
	}
	resp.ClientInstanceID = sub.instanceID
	resp.SubscriptionID = sub.subscriptionID
	resp.AcceptedCompressionTypes = telemetryCompressionTypes
	resp.PushIntervalMillis = int32(sub.interval.Milliseconds())
	resp.TelemetryMaxBytes = telemetryMaxBytes
	resp.DeltaTemporality = false
	resp.RequestedMetrics = sub.metrics
	if resp.RequestedMetrics == nil {
		resp.RequestedMetrics = []string{}
	}
	return respond(resp)
}

// telemetryCode is the Kafka error of a refused telemetry request.
func telemetryCode(r telemetryRefusal) int16 {
	switch r {
	case telemetryThrottled:
		return kerr.ThrottlingQuotaExceeded.Code
	case telemetryInvalid:
		return kerr.InvalidRequest.Code
	case telemetryUnknownSubscription:
		return kerr.UnknownSubscriptionID.Code
	case telemetryUnsupportedCompression:
		return kerr.UnsupportedCompressionType.Code
	case telemetryTooLarge:
		return kerr.TelemetryTooLarge.Code
	case telemetryInvalidRecord:
		return kerr.InvalidRecord.Code
	}
	return 0
}
