package api

// AlterConfigs (key 33), versions 0-2.
//   v1: throttle after the response. v2: flexible.
// The legacy, non-incremental form: the configs given become the
// resource's whole set of overrides, and overrides not named are removed
// (IncrementalAlterConfigs, key 44, changes single configs). Topics and
// brokers: a broker resource is "" (every broker) or this broker's id, and
// only configs that can change at runtime may be set (the broker defaults
// of topic configs); others get Kafka's INVALID_REQUEST "Cannot update
// these configs dynamically: Set(...)".
//
// As in Kafka (ConfigAdminManager.preprocess), the broker that receives
// the request checks it first: a resource named twice, a config named
// twice in a resource, a null value, or a broker resource naming another
// broker fail here; the rest is forwarded to the active controller.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/controller"
)

func (h *Handlers) alterConfigs(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.AlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	resources := make([]configResource, len(r.Resources))
	for i, res := range r.Resources {
		cr := configResource{typ: res.ResourceType, name: res.ResourceName}
		for _, c := range res.Configs {
			cr.changes = append(cr.changes, controller.ConfigChange{Name: c.Name, Op: controller.ConfigSet, Value: c.Value})
		}
		resources[i] = cr
	}
	errs, done := h.preprocessConfigs(resources)
	forward := func(keep []bool) ([]error, error) {
		fr := kmsg.NewPtrAlterConfigsRequest()
		fr.ValidateOnly = r.ValidateOnly
		for i, res := range r.Resources {
			if keep[i] {
				fr.Resources = append(fr.Resources, res)
			}
		}
		out, err := h.forwardConfigs(ctx, req.Version, fr)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, rr := range out.(*kmsg.AlterConfigsResponse).Resources {
			errs = append(errs, responseError(rr.ErrorCode, rr.ErrorMessage))
		}
		return errs, nil
	}
	if out, closed := h.applyConfigs(resources, errs, done, true, r.ValidateOnly, forward); closed {
		return out
	}
	for i, res := range r.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		rr.ErrorCode = errorCode(h.deps.Logger, errs[i])
		rr.ErrorMessage = errorMessage(errs[i])
		resp.Resources = append(resp.Resources, rr)
	}
	return respond(resp)
}

// configResource is one resource of AlterConfigs or IncrementalAlterConfigs.
type configResource struct {
	typ     kmsg.ConfigResourceType
	name    string
	changes []controller.ConfigChange
}

// preprocessConfigs runs the checks Kafka makes on the broker that
// receives a config change (ConfigAdminManager.preprocess); done marks
// the resources that failed them.
func (h *Handlers) preprocessConfigs(resources []configResource) (errs []error, done []bool) {
	errs, done = make([]error, len(resources)), make([]bool, len(resources))
	type key struct {
		typ  kmsg.ConfigResourceType
		name string
	}
	first := map[key]int{}
	for i, res := range resources {
		k := key{res.typ, res.name}
		if j, dup := first[k]; dup {
			for _, x := range []int{i, j} {
				errs[x], done[x] = withCode(kerr.InvalidRequest, "Each resource must appear at most once."), true
			}
			continue
		}
		first[k] = i
	}
	for i, res := range resources {
		if done[i] {
			continue
		}
		errs[i] = h.preprocessResource(res)
		done[i] = errs[i] != nil
	}
	return errs, done
}

func (h *Handlers) preprocessResource(res configResource) error {
	names := map[string]bool{}
	var nulls []string
	for _, c := range res.changes {
		if names[c.Name] {
			return withCode(kerr.InvalidRequest, "Error due to duplicate config keys")
		}
		names[c.Name] = true
		if c.Op != controller.ConfigDelete && c.Value == nil {
			nulls = append(nulls, c.Name)
		}
	}
	if len(nulls) > 0 {
		return withCode(kerr.InvalidRequest, "Null value not supported for : %s", joinComma(nulls))
	}
	switch res.typ {
	case kmsg.ConfigResourceTypeTopic:
		return nil
	case kmsg.ConfigResourceTypeBroker:
		if res.name == "" {
			return nil
		}
		err := h.checkBrokerResource(res.name, "")
		if err != nil && h.deps.Channel.ServesLocally() && h.isRegisteredBroker(res.name) {
			// Forwarded by that broker, which checked the name (arus
			// forwards without Kafka's envelope, so the active controller
			// accepts any registered broker).
			return nil
		}
		if err != nil {
			if _, perr := parseBrokerID(res.name); perr != nil {
				return withCode(kerr.InvalidRequest, "Node id must be an integer, but it is: %s", res.name)
			}
		}
		return err
	case kmsg.ConfigResourceTypeBrokerLogger:
		return withCode(kerr.InvalidRequest, "arus has no runtime-adjustable loggers; set the log level with the broker's configuration")
	default:
		return withCode(kerr.InvalidRequest, "Unknown resource type %d", res.typ)
	}
}

// applyConfigs fills errs for the resources not done: here when this
// node's controller is active, else by forwarding them (forward gets
// which resources to send and returns their errors in order). closed is
// true when forwarding failed and out closes the connection, so the
// client retries.
func (h *Handlers) applyConfigs(resources []configResource, errs []error, done []bool, replace, validateOnly bool,
	forward func(keep []bool) ([]error, error)) (out Outcome, closed bool) {
	keep := make([]bool, len(resources))
	pending := false
	for i := range resources {
		keep[i] = !done[i]
		pending = pending || keep[i]
	}
	if !pending {
		return Outcome{}, false
	}
	if !h.deps.Channel.ServesLocally() {
		ferrs, err := forward(keep)
		if err != nil {
			h.deps.Logger.Warn("forwarding to the active controller failed; closing the connection so the client retries", "err", err)
			return Outcome{Close: true}, true
		}
		j := 0
		for i := range resources {
			if keep[i] && j < len(ferrs) {
				errs[i] = ferrs[j]
				j++
			}
		}
		return Outcome{}, false
	}
	for i, res := range resources {
		if !keep[i] {
			continue
		}
		switch res.typ {
		case kmsg.ConfigResourceTypeTopic:
			if replace {
				configs := make(map[string]*string, len(res.changes))
				for _, c := range res.changes {
					configs[c.Name] = c.Value
				}
				errs[i] = h.deps.Controller.ReplaceTopicConfigs(res.name, configs, validateOnly)
			} else {
				errs[i] = h.deps.Controller.IncrementalAlterTopicConfigs(res.name, res.changes, validateOnly)
			}
		case kmsg.ConfigResourceTypeBroker:
			errs[i] = h.deps.Controller.AlterBrokerConfigs(res.name, res.changes, replace, validateOnly)
		}
	}
	return Outcome{}, false
}

// forwardConfigs sends a config request to the active controller.
func (h *Handlers) forwardConfigs(ctx context.Context, version int16, req kmsg.Request) (kmsg.Response, error) {
	req.SetVersion(version)
	fctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	return h.deps.Channel.Forward(fctx, req)
}

// responseError turns a forwarded answer back into an error that maps to
// the same code and message.
func responseError(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	e := kerr.ErrorForCode(code)
	var ke *kerr.Error
	if !errors.As(e, &ke) {
		return e
	}
	if msg == nil {
		return ke
	}
	return &codedError{code: ke, msg: *msg}
}

func (h *Handlers) isRegisteredBroker(name string) bool {
	id, err := parseBrokerID(name)
	if err != nil {
		return false
	}
	_, ok := h.deps.Metadata.Image().Brokers[id]
	return ok
}
