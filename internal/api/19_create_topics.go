package api

// CreateTopics (key 19), versions 0-7.
//   v1: ValidateOnly, ErrorMessage. v2: throttle. v4: NumPartitions and
//   ReplicationFactor may be -1 for the broker defaults. v5: flexible; the
//   response describes the created topic (partitions, replication factor,
//   configs). v6: no change. v7: TopicID.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/controller"
)

func (h *Handlers) createTopics(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.CreateTopicsRequest)
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	specs := make([]controller.TopicSpec, len(r.Topics))
	for i, t := range r.Topics {
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
		specs[i] = s
	}
	results := h.deps.Controller.CreateTopics(specs, r.ValidateOnly)
	defaults := h.deps.Broker.TopicDefaults
	for _, res := range results {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = res.Name
		rt.ErrorCode = errorCode(h.deps.Logger, res.Err)
		rt.ErrorMessage = errorMessage(res.Err)
		if res.Err == nil {
			rt.TopicID = res.ID
			rt.NumPartitions = res.NumPartitions
			rt.ReplicationFactor = res.ReplicationFactor
			for _, d := range config.TopicDefs() {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name = d.Name
				v, source := d.Default, kmsg.ConfigSourceDefaultConfig
				if o, ok := defaults[d.Name]; ok {
					v, source = o, kmsg.ConfigSourceStaticBrokerConfig
				}
				if o, ok := res.Configs[d.Name]; ok {
					v, source = o, kmsg.ConfigSourceDynamicTopicConfig
				}
				c.Value = &v
				c.Source = int8(source)
				rt.Configs = append(rt.Configs, c)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}
