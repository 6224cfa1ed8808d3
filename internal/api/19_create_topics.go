package api

// CreateTopics (key 19), versions 0-7.
//   v1: ValidateOnly, ErrorMessage. v2: throttle. v4: NumPartitions and
//   ReplicationFactor may be -1 for the broker defaults. v5: flexible; the
//   response describes the created topic (partitions, replication factor,
//   configs). v6: no change. v7: TopicID.
// Errors follow Kafka's ControllerApis.createTopics and
// ReplicationControlManager.createTopic: a name given twice is
// INVALID_REQUEST ("Duplicate topic name.") and neither is created; an
// invalid replication factor (0 or below -1) is INVALID_REPLICATION_FACTOR,
// checked before an invalid partition count (INVALID_PARTITIONS); a null
// config value is INVALID_CONFIG; deprecated topic configs are accepted.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/controller"
)

func (h *Handlers) createTopics(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.CreateTopicsRequest)
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	specs := make([]controller.TopicSpec, 0, len(r.Topics))
	createAll := h.authorizedCluster(req, auth.OpCreate)
	var denied []string
	for _, t := range r.Topics {
		if !createAll && !h.authorized(req, auth.OpCreate, auth.ResourceTopic, t.Topic) {
			denied = append(denied, t.Topic)
			continue
		}
		s := controller.TopicSpec{Name: t.Topic, NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor}
		if len(t.ReplicaAssignment) > 0 {
			s.Assignment = make([][]int32, len(t.ReplicaAssignment))
			for _, a := range t.ReplicaAssignment {
				if a.Partition < 0 || int(a.Partition) >= len(t.ReplicaAssignment) {
					s.Assignment = [][]int32{{}} // rejected as an invalid assignment
					break
				}
				s.Assignment[a.Partition] = a.Replicas
			}
		}
		if len(t.Configs) > 0 {
			s.Configs = make(map[string]*string, len(t.Configs))
			for _, c := range t.Configs {
				s.Configs[c.Name] = c.Value
			}
		}
		specs = append(specs, s)
	}
	results := h.deps.Controller.CreateTopics(specs, r.ValidateOnly)
	layers := h.deps.Broker.Layers(h.deps.Metadata.Image().BrokerConfigs)
	for _, res := range results {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = res.Name
		rt.ErrorCode = errorCode(h.deps.Logger, res.Err)
		rt.ErrorMessage = errorMessage(res.Err)
		if res.Err == nil {
			rt.TopicID = res.ID
			rt.NumPartitions = res.NumPartitions
			rt.ReplicationFactor = res.ReplicationFactor
			if !h.authorized(req, auth.OpDescribeConfigs, auth.ResourceTopic, res.Name) {
				// ControllerApis.createTopics: the configs only to who may
				// DESCRIBE_CONFIGS the topic.
				rt.ConfigErrorCode = kerr.TopicAuthorizationFailed.Code
				resp.Topics = append(resp.Topics, rt)
				continue
			}
			for _, e := range layers.DescribeTopic(res.Configs) {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name, c.Value, c.ReadOnly, c.IsSensitive = e.Name, e.Value, e.ReadOnly, e.Sensitive
				c.Source = int8(e.Source)
				rt.Configs = append(rt.Configs, c)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	for _, name := range denied {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic, rt.ErrorCode = name, kerr.TopicAuthorizationFailed.Code
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}
