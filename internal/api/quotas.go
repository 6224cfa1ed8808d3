package api

// Client quotas (internal/quota measures the rates): byte rates on
// Produce and Fetch, request_percentage on every client request, and
// controller_mutation_rate on topic and partition creation and deletion.
// As Kafka's KafkaApis: a Produce counts its request size against
// producer_byte_rate and is answered with ThrottleMillis; a Fetch counts
// its response against consumer_byte_rate and, when that puts the client
// over its quota, is answered empty with ThrottleMillis (the bytes are not
// counted). Either way the connection is then muted for the throttle time
// (KIP-219; Outcome.Throttle). Requests on the inter-broker listener
// (replication) are not counted.

import (
	"github.com/arus-io/arus/internal/metadata"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
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
	quotas := h.clientQuotas()
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
	quotas := h.clientQuotas()
	if len(quotas) == 0 {
		return res.outcome()
	}
	user, client := req.Principal.Name, clientIDOf(req)
	d := h.quotas.Record(quotas, quota.Fetch, user, client, res.size)
	// KafkaApis.handleFetchRequest: over either quota, the answer is
	// empty, throttled for the larger time, and the bytes not counted.
	d = max(d, h.requestThrottle(req))
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
	quotas := h.clientQuotas()
	if len(quotas) == 0 {
		return 0, false
	}
	n, ok := h.quotas.MaxValueInWindow(quotas, quota.Fetch, req.Principal.Name, clientIDOf(req))
	if !ok || n > 1<<31-1 {
		return 0, false
	}
	return int(n), true
}

// unmeasured are the keys request_percentage does not count: the SASL
// exchange (answered by the server), and the admin keys that wait for the
// controller to commit (their time is the quorum's, not this handler's;
// controller_mutation_rate limits the costly ones).
func unmeasured(key int16) bool {
	return key == 17 || key == 36 || proposes[key] || forwarded[key]
}

// requestThrottle counts the request's handling time (since Serve began,
// less its waits) against the client's request_percentage and returns
// the throttle time.
func (h *Handlers) requestThrottle(req *Request) time.Duration {
	if req.Listener == ListenerInterBroker || unmeasured(req.Body.Key()) || req.start.IsZero() {
		return 0
	}
	quotas := h.clientQuotas()
	if len(quotas) == 0 {
		return 0
	}
	return h.quotas.RecordTime(quotas, req.Principal.Name, clientIDOf(req), time.Since(req.start)-req.idle)
}

// throttleRequest applies request_percentage to an answered request
// (Fetch applies it itself, before its response is encoded): the larger
// of its throttle times is answered and the connection muted for it.
func (h *Handlers) throttleRequest(req *Request, out Outcome) Outcome {
	if req.Body.Key() == 1 {
		return out
	}
	return withThrottle(out, h.requestThrottle(req))
}

// withThrottle raises out's throttle time to d: the response's
// ThrottleMillis (once a waiting response exists) and the muting.
func withThrottle(out Outcome, d time.Duration) Outcome {
	if d <= out.Throttle {
		return out
	}
	out.Throttle = d
	set := func(o Outcome) Outcome {
		if r, ok := o.Response.(interface {
			Throttle() (int32, bool)
			SetThrottle(int32)
		}); ok && o.Chunks == nil {
			if cur, _ := r.Throttle(); cur < throttleMillis(d) {
				r.SetThrottle(throttleMillis(d))
			}
		}
		o.Throttle = max(o.Throttle, d)
		return o
	}
	if wait := out.Wait; wait != nil {
		out.Wait = func() Outcome { return set(wait()) }
		return out
	}
	return set(out)
}

// limitMutations applies controller_mutation_rate (KIP-599) to
// CreateTopics, CreatePartitions and DeleteTopics, counting the
// partitions each topic creates, adds or deletes. A strict request
// (CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+) made while
// the quota is exceeded has its topics, from then on, answered with
// THROTTLING_QUOTA_EXCEEDED (ControllerMutationQuotaManager's strict
// quota); an older request goes through. Either way the answer carries
// the time until the quota is back (ThrottleMillis) and the connection is
// muted for it. Validate-only requests and requests from peers (a
// forwarded request was counted where it arrived) are not counted. The
// returned patch gives back what topics that failed had taken.
func (h *Handlers) limitMutations(req *Request) func(Outcome) Outcome {
	key := req.Body.Key()
	if (key != 19 && key != 20 && key != 37) || req.Listener == ListenerInterBroker {
		return nil
	}
	quotas := h.clientQuotas()
	if len(quotas) == 0 {
		return nil
	}
	q := h.quotas.Mutations(quotas, req.Principal.Name, clientIDOf(req))
	if q == nil {
		return nil
	}
	im := h.deps.Controller.Image()
	partitionsOf := func(name string) int {
		if t, ok := im.Topics[name]; ok {
			return len(t.Partitions)
		}
		return 0
	}
	taken := map[string]int{} // by topic name, or by id for ids
	take := func(strict bool, name string, n int) bool {
		if strict && q.Exceeded() {
			return false
		}
		q.Record(n)
		taken[name] += n
		return true
	}
	throttled := kerr.ThrottlingQuotaExceeded
	var patch func(Outcome) Outcome
	switch r := req.Body.(type) {
	case *kmsg.CreateTopicsRequest:
		if r.ValidateOnly {
			return nil
		}
		strict := r.Version >= 6
		patch = withoutDenied(r.Topics,
			func(t kmsg.CreateTopicsRequestTopic) bool {
				n := int(t.NumPartitions)
				if len(t.ReplicaAssignment) > 0 {
					n = len(t.ReplicaAssignment)
				} else if n < 0 {
					n = int(h.deps.Broker.NumPartitions)
				}
				return take(strict, t.Topic, n)
			},
			func(t kmsg.CreateTopicsRequestTopic) kmsg.CreateTopicsResponseTopic {
				d := kmsg.NewCreateTopicsResponseTopic()
				d.Topic, d.ErrorCode, d.ErrorMessage = t.Topic, throttled.Code, str(throttled.Description)
				return d
			},
			func(kept []kmsg.CreateTopicsRequestTopic) { r.Topics = kept },
			func(resp *kmsg.CreateTopicsResponse) *[]kmsg.CreateTopicsResponseTopic { return &resp.Topics })
	case *kmsg.CreatePartitionsRequest:
		if r.ValidateOnly {
			return nil
		}
		strict := r.Version >= 3
		patch = withoutDenied(r.Topics,
			func(t kmsg.CreatePartitionsRequestTopic) bool {
				return take(strict, t.Topic, max(int(t.Count)-partitionsOf(t.Topic), 0))
			},
			func(t kmsg.CreatePartitionsRequestTopic) kmsg.CreatePartitionsResponseTopic {
				d := kmsg.NewCreatePartitionsResponseTopic()
				d.Topic, d.ErrorCode, d.ErrorMessage = t.Topic, throttled.Code, str(throttled.Description)
				return d
			},
			func(kept []kmsg.CreatePartitionsRequestTopic) { r.Topics = kept },
			func(resp *kmsg.CreatePartitionsResponse) *[]kmsg.CreatePartitionsResponseTopic { return &resp.Topics })
	case *kmsg.DeleteTopicsRequest:
		strict := r.Version >= 5
		if r.Version < 6 {
			patch = withoutDenied(r.TopicNames,
				func(name string) bool { return take(strict, name, partitionsOf(name)) },
				func(name string) kmsg.DeleteTopicsResponseTopic {
					d := kmsg.NewDeleteTopicsResponseTopic()
					d.Topic, d.ErrorCode, d.ErrorMessage = str(name), throttled.Code, str(throttled.Description)
					return d
				},
				func(kept []string) { r.TopicNames = kept },
				func(resp *kmsg.DeleteTopicsResponse) *[]kmsg.DeleteTopicsResponseTopic { return &resp.Topics })
			break
		}
		patch = withoutDenied(r.Topics,
			func(t kmsg.DeleteTopicsRequestTopic) bool {
				name := ""
				if t.Topic != nil {
					name = *t.Topic
				} else {
					name = im.TopicIDs[t.TopicID]
				}
				return take(strict, name, partitionsOf(name))
			},
			func(t kmsg.DeleteTopicsRequestTopic) kmsg.DeleteTopicsResponseTopic {
				d := kmsg.NewDeleteTopicsResponseTopic()
				d.Topic, d.TopicID, d.ErrorCode, d.ErrorMessage = t.Topic, t.TopicID, throttled.Code, str(throttled.Description)
				return d
			},
			func(kept []kmsg.DeleteTopicsRequestTopic) { r.Topics = kept },
			func(resp *kmsg.DeleteTopicsResponse) *[]kmsg.DeleteTopicsResponseTopic { return &resp.Topics })
	}
	return func(out Outcome) Outcome {
		if patch != nil {
			out = patch(out)
		}
		// Topics that failed took nothing.
		giveBack := func(name *string, code int16) {
			if name != nil && code != 0 && code != throttled.Code && taken[*name] > 0 {
				q.Record(-taken[*name])
				taken[*name] = 0
			}
		}
		switch resp := out.Response.(type) {
		case *kmsg.CreateTopicsResponse:
			for _, t := range resp.Topics {
				giveBack(&t.Topic, t.ErrorCode)
			}
		case *kmsg.CreatePartitionsResponse:
			for _, t := range resp.Topics {
				giveBack(&t.Topic, t.ErrorCode)
			}
		case *kmsg.DeleteTopicsResponse:
			for _, t := range resp.Topics {
				name := t.Topic
				if name == nil {
					if n, ok := im.TopicIDs[t.TopicID]; ok {
						name = &n
					}
				}
				giveBack(name, t.ErrorCode)
			}
		}
		return withThrottle(out, q.Throttle())
	}
}

func str(s string) *string { return &s }

// clientQuotas are the quotas in the controller's image (AlterClientQuotas
// answers once the controller applied them, before the publisher has);
// none without a controller (handlers serving only framing tests).
func (h *Handlers) clientQuotas() map[metadata.QuotaEntity]map[string]float64 {
	if h.deps.Controller == nil {
		return nil
	}
	return h.deps.Controller.Image().ClientQuotas
}
