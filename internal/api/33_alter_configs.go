package api

// AlterConfigs (key 33), versions 0-2.
//   v1: throttle after the response. v2: flexible.
// The legacy, non-incremental form: the configs given become the
// resource's whole set of overrides, and overrides not named are removed
// (IncrementalAlterConfigs, key 44, changes single configs). Topics only:
// broker configs cannot be changed at runtime yet. Runs on the active
// controller.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) alterConfigs(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.AlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, res := range r.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var err error
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			configs := make(map[string]*string, len(res.Configs))
			for _, c := range res.Configs {
				if _, dup := configs[c.Name]; dup {
					err = fmt.Errorf("config %q appears twice: %w", c.Name, kerr.InvalidRequest)
					break
				}
				configs[c.Name] = c.Value
			}
			if err == nil {
				err = h.deps.Controller.ReplaceTopicConfigs(res.ResourceName, configs, r.ValidateOnly)
			}
		default:
			err = unsupportedConfigResource(res.ResourceType)
		}
		rr.ErrorCode = errorCode(h.deps.Logger, err)
		rr.ErrorMessage = errorMessage(err)
		resp.Resources = append(resp.Resources, rr)
	}
	return respond(resp)
}

// unsupportedConfigResource is the answer to config changes arus does not
// make: broker configs (static: flags, environment, config file) and
// anything that is not a topic.
func unsupportedConfigResource(t kmsg.ConfigResourceType) error {
	switch t {
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		return fmt.Errorf("dynamic broker configs are not supported yet: set broker configs with flags, environment or the config file and restart the broker: %w", kerr.InvalidRequest)
	default:
		return fmt.Errorf("config resource type %d cannot be altered; only topics (2) can: %w", t, kerr.InvalidRequest)
	}
}
