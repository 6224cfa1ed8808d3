package api

// Client quotas on Produce and Fetch (internal/quota measures the rates).
// As Kafka's KafkaApis: a Produce counts its request size against
// producer_byte_rate and is answered with ThrottleMillis; a Fetch counts
// its response against consumer_byte_rate and, when that puts the client
// over its quota, is answered empty with ThrottleMillis (the bytes are not
// counted). Either way the connection is then muted for the throttle time
// (KIP-219; Outcome.Throttle). Requests on the inter-broker listener
// (replication) are not counted.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/quota"
)

func newQuotas(deps Deps) *quota.Manager {
	cfg := quota.Config{Now: deps.Now}
	if deps.Broker != nil {
		cfg.Samples, cfg.Window = deps.Broker.Security.QuotaWindowNum, deps.Broker.Security.QuotaWindowSize
	}
	return quota.New(cfg)
}

func clientIDOf(req *Request) string {
	if req.ClientID == nil {
		return ""
	}
	return *req.ClientID
}

func throttleMillis(d time.Duration) int32 {
	ms := d.Milliseconds()
	if ms > 1<<31-1 {
		ms = 1<<31 - 1
	}
	return int32(ms)
}

// throttleProduce counts a handled Produce against the client's quota.
func (h *Handlers) throttleProduce(req *Request, out Outcome) Outcome {
	if req.Listener == ListenerInterBroker {
		return out
	}
	quotas := h.deps.Controller.Image().ClientQuotas
	if len(quotas) == 0 {
		return out
	}
	d := h.quotas.Record(quotas, quota.Produce, req.Principal.Name, clientIDOf(req), req.Size)
	if d <= 0 {
		return out
	}
	out.Throttle = d
	set := func(o Outcome) Outcome {
		if pr, ok := o.Response.(*kmsg.ProduceResponse); ok {
			pr.ThrottleMillis = throttleMillis(d)
		}
		return o
	}
	if wait := out.Wait; wait != nil {
		out.Wait = func() Outcome { return set(wait()) }
		return out
	}
	return set(out)
}

// fetchOutcome counts a client's Fetch answer against its quota and
// returns what to send: res itself, or an empty throttled response.
func (h *Handlers) fetchOutcome(req *Request, r *kmsg.FetchRequest, res *fetchResult) Outcome {
	if req.Listener == ListenerInterBroker {
		return res.outcome()
	}
	quotas := h.deps.Controller.Image().ClientQuotas
	if len(quotas) == 0 {
		return res.outcome()
	}
	user, client := req.Principal.Name, clientIDOf(req)
	d := h.quotas.Record(quotas, quota.Fetch, user, client, res.size)
	if d <= 0 {
		return res.outcome()
	}
	h.quotas.Unrecord(quotas, quota.Fetch, user, client, res.size)
	res.release()
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	resp.ThrottleMillis = throttleMillis(d)
	out := respond(resp)
	out.Throttle = d
	return out
}

// fetchQuotaBytes bounds a client's Fetch response by what its quota
// allows in one quota window span, as Kafka does; ok false without a
// consumer quota.
func (h *Handlers) fetchQuotaBytes(req *Request) (int, bool) {
	if req.Listener == ListenerInterBroker {
		return 0, false
	}
	quotas := h.deps.Controller.Image().ClientQuotas
	if len(quotas) == 0 {
		return 0, false
	}
	n, ok := h.quotas.MaxValueInWindow(quotas, quota.Fetch, req.Principal.Name, clientIDOf(req))
	if !ok || n > 1<<31-1 {
		return 0, false
	}
	return int(n), true
}
