package api

// DescribeConfigs (key 32), versions 0-4.
//   v1: IncludeSynonyms, Source replaces IsDefault. v2: no change. v3:
//   ConfigType and documentation. v4: flexible.
// Topics show every topic config: the topic's own value (dynamic topic
// config), else the broker-wide default (static broker config), else
// Kafka's default. The broker resource shows the broker's settings.

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/config"
)

func (h *Handlers) describeConfigs(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	im := h.deps.Controller.Image()
	for _, res := range r.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		want := func(name string) bool {
			if res.ConfigNames == nil {
				return true
			}
			for _, n := range res.ConfigNames {
				if n == name {
					return true
				}
			}
			return false
		}
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if _, ok := im.Topics[res.ResourceName]; !ok {
				rr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				msg := fmt.Sprintf("topic %q does not exist", res.ResourceName)
				rr.ErrorMessage = &msg
				break
			}
			overrides := im.TopicConfigs[res.ResourceName]
			for _, d := range config.TopicDefs() {
				if !want(d.Name) {
					continue
				}
				rr.Configs = append(rr.Configs, h.topicConfigEntry(r, d, overrides))
			}
		case kmsg.ConfigResourceTypeBroker:
			if res.ResourceName != "" && res.ResourceName != strconv.Itoa(int(h.deps.Broker.NodeID)) {
				rr.ErrorCode = kerr.InvalidRequest.Code
				msg := fmt.Sprintf("broker %q is not this broker (%d)", res.ResourceName, h.deps.Broker.NodeID)
				rr.ErrorMessage = &msg
				break
			}
			all := h.deps.Broker.BrokerConfigs()
			names := make([]string, 0, len(all))
			for n := range all {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if !want(n) {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				v := all[n]
				c.Name, c.Value = n, &v
				c.ReadOnly = true
				c.Source = kmsg.ConfigSourceStaticBrokerConfig
				c.ConfigType = kmsg.ConfigTypeString
				rr.Configs = append(rr.Configs, c)
			}
		default:
			rr.ErrorCode = kerr.InvalidRequest.Code
			msg := fmt.Sprintf("config resource type %d is not supported", res.ResourceType)
			rr.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return respond(resp)
}

func (h *Handlers) topicConfigEntry(r *kmsg.DescribeConfigsRequest, d config.TopicDef, overrides map[string]string) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = d.Name
	c.ConfigType = kmsg.ConfigType(d.Type)
	defaultValue, defaultSource := d.Default, kmsg.ConfigSourceDefaultConfig
	if v, ok := h.deps.Broker.TopicDefaults[d.Name]; ok {
		defaultValue, defaultSource = v, kmsg.ConfigSourceStaticBrokerConfig
	}
	v, source := defaultValue, defaultSource
	if o, ok := overrides[d.Name]; ok {
		v, source = o, kmsg.ConfigSourceDynamicTopicConfig
	}
	c.Value = &v
	c.Source = source
	c.IsDefault = source == kmsg.ConfigSourceDefaultConfig
	if r.IncludeDocumentation {
		doc := d.Doc
		c.Documentation = &doc
	}
	if r.IncludeSynonyms {
		if source == kmsg.ConfigSourceDynamicTopicConfig {
			s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			s.Name, s.Value, s.Source = d.Name, &v, source
			c.ConfigSynonyms = append(c.ConfigSynonyms, s)
		}
		if defaultSource == kmsg.ConfigSourceStaticBrokerConfig {
			s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			dv := defaultValue
			s.Name, s.Value, s.Source = d.BrokerName, &dv, defaultSource
			c.ConfigSynonyms = append(c.ConfigSynonyms, s)
		}
		s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
		dv := d.Default
		s.Name, s.Value, s.Source = d.BrokerName, &dv, kmsg.ConfigSourceDefaultConfig
		c.ConfigSynonyms = append(c.ConfigSynonyms, s)
	}
	return c
}
