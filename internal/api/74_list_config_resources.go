package api

// ListConfigResources (key 74), versions 0-1 (Kafka 4.1, KIP-1142).
//   v0 was ListClientMetricsResources: the client-metrics resources only.
//   v1: ResourceTypes filters by type (empty: every type the broker
//   supports); each resource carries its type.
// As Kafka's KafkaApis.handleListConfigResources: a type the broker does
// not support makes the whole answer UNSUPPORTED_VERSION; the resources
// are listed by type, groups with configs (arus keeps no per-group
// configs: none), client-metrics resources (none: arus has no
// client-metrics subscriptions configured), a broker logger and a broker
// resource per alive broker, and every topic.

import (
	"context"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config resource types (ConfigResource.Type ids).
const (
	resourceTopic         = int8(kmsg.ConfigResourceTypeTopic)
	resourceBroker        = int8(kmsg.ConfigResourceTypeBroker)
	resourceBrokerLogger  = int8(kmsg.ConfigResourceTypeBrokerLogger)
	resourceClientMetrics = int8(16)
	resourceGroup         = int8(32)
)

func (h *Handlers) listConfigResources(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.ListConfigResourcesRequest)
	resp := r.ResponseKind().(*kmsg.ListConfigResourcesResponse)
	supported := []int8{resourceClientMetrics}
	if r.Version >= 1 {
		supported = []int8{resourceTopic, resourceBroker, resourceBrokerLogger, resourceClientMetrics, resourceGroup}
	}
	types := r.ResourceTypes
	if len(types) == 0 {
		types = supported
	}
	for _, t := range types {
		if !slices.Contains(supported, t) {
			resp.ErrorCode = kerr.UnsupportedVersion.Code
			return respond(resp)
		}
	}
	im := h.deps.Metadata.Image()
	add := func(name string, typ int8) {
		resp.ConfigResources = append(resp.ConfigResources, kmsg.ListConfigResourcesResponseConfigResource{Name: name, Type: typ})
	}
	var alive []string
	for _, id := range im.BrokerIDs() {
		if !im.Brokers[id].Fenced {
			alive = append(alive, strconv.Itoa(int(id)))
		}
	}
	if slices.Contains(types, resourceBrokerLogger) {
		for _, id := range alive {
			add(id, resourceBrokerLogger)
		}
	}
	if slices.Contains(types, resourceBroker) {
		for _, id := range alive {
			add(id, resourceBroker)
		}
	}
	if slices.Contains(types, resourceTopic) {
		for _, name := range im.TopicNames() {
			add(name, resourceTopic)
		}
	}
	return respond(resp)
}
