package api

// DescribeConfigs (key 32), versions 0-4.
//   v1: IncludeSynonyms, Source replaces IsDefault. v2: no change. v3:
//   IncludeDocumentation, ConfigType. v4: flexible.
//
// As Kafka's ConfigHelper.describeConfigs: a topic shows every topic
// config, its value coming from the topic's override (DYNAMIC_TOPIC_CONFIG),
// else the broker default set at runtime for this broker
// (DYNAMIC_BROKER_CONFIG) or for every broker (DYNAMIC_DEFAULT_BROKER_CONFIG),
// else the broker's configuration (STATIC_BROKER_CONFIG), else Kafka's
// default (DEFAULT_CONFIG). Synonyms list those sources in that order,
// under the broker config names (retention.ms -> log.retention.ms,
// log.retention.minutes, log.retention.hours). A broker resource named
// by this broker's id shows the broker configs (read only unless they can
// change at runtime); the empty name shows the configs set at runtime
// for every broker. An empty or null ConfigNames list means every config.

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/config"
)

func (h *Handlers) describeConfigs(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	im := h.deps.Metadata.Image()
	layers := h.deps.Broker.Layers(im.BrokerConfigs)
	for _, res := range r.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var entries []config.Entry
		var err error
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if verr := config.ValidTopicName(res.ResourceName); verr != nil {
				err = withCode(kerr.InvalidTopicException, "%v", verr)
			} else if _, ok := im.Topics[res.ResourceName]; !ok {
				rr.ErrorCode = kerr.UnknownTopicOrPartition.Code // Kafka sends no message
			} else {
				entries = layers.DescribeTopic(im.TopicConfigs[res.ResourceName])
			}
		case kmsg.ConfigResourceTypeBroker:
			if res.ResourceName == "" {
				entries = layers.DescribeBroker(false)
			} else if err = h.checkBrokerResource(res.ResourceName, " or empty string"); err == nil {
				entries = layers.DescribeBroker(true)
			}
		case kmsg.ConfigResourceTypeBrokerLogger:
			// arus has no runtime-adjustable loggers: this broker has none
			// to show.
			if res.ResourceName == "" {
				err = withCode(kerr.InvalidRequest, "Broker id must not be empty")
			} else {
				err = h.checkBrokerResource(res.ResourceName, "")
			}
		default:
			err = withCode(kerr.InvalidRequest, "Unsupported resource type: %d", res.ResourceType)
		}
		if err != nil {
			rr.ErrorCode = errorCode(h.deps.Logger, err)
			rr.ErrorMessage = errorMessage(err)
		}
		for _, e := range entries {
			if wantConfig(res.ConfigNames, e.Name) {
				rr.Configs = append(rr.Configs, configEntry(r, e))
			}
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return respond(resp)
}

// checkBrokerResource checks that a broker resource name is this
// broker's id, with Kafka's messages (ConfigHelper.resourceNameToBrokerId).
func (h *Handlers) checkBrokerResource(name, orEmpty string) error {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return withCode(kerr.InvalidRequest, "Broker id must be an integer, but it is: %s", name)
	}
	if int32(id) != h.deps.Broker.NodeID {
		return withCode(kerr.InvalidRequest, "Unexpected broker id, expected %d%s, but received %s", h.deps.Broker.NodeID, orEmpty, name)
	}
	return nil
}

// wantConfig reports whether a config is asked for: a null or empty list
// asks for every config.
func wantConfig(names []string, name string) bool {
	if len(names) == 0 {
		return true
	}
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func configEntry(r *kmsg.DescribeConfigsRequest, e config.Entry) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value = e.Name, e.Value
	c.ReadOnly, c.IsSensitive = e.ReadOnly, e.Sensitive
	c.Source = kmsg.ConfigSource(e.Source)
	c.IsDefault = e.Source == config.SourceDefault // v0
	c.ConfigType = kmsg.ConfigType(e.Type)
	if r.IncludeDocumentation {
		doc := e.Doc
		c.Documentation = &doc
	}
	if r.IncludeSynonyms {
		for _, s := range e.Synonyms {
			cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			cs.Name, cs.Value, cs.Source = s.Name, s.Value, kmsg.ConfigSource(s.Source)
			c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
		}
	}
	return c
}
