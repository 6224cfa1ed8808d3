package api

// ElectLeaders (key 43), versions 0-2.
//   v1: ElectionType (0 preferred, 1 unclean) and a top-level ErrorCode.
//   v2: flexible.
// Null topics elects every partition and leaves out those that needed no
// election, as Kafka does. Per partition: ELECTION_NOT_NEEDED,
// PREFERRED_LEADER_NOT_AVAILABLE (preferred replica fenced or out of the
// ISR), ELIGIBLE_LEADERS_NOT_AVAILABLE (no live replica, unclean) or
// UNKNOWN_TOPIC_OR_PARTITION. Runs on the active controller.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/controller"
)

func (h *Handlers) electLeaders(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.ElectLeadersRequest)
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	typ := controller.ElectPreferred
	if r.Version >= 1 {
		typ = controller.ElectionType(r.ElectionType)
	}
	var filter map[string][]int32
	if r.Topics != nil {
		filter = make(map[string][]int32, len(r.Topics))
		for _, t := range r.Topics {
			// An empty list must stay non-nil: it means every partition.
			filter[t.Topic] = append(append([]int32{}, filter[t.Topic]...), t.Partitions...)
		}
	}
	results, err := h.deps.Controller.ElectLeaders(typ, filter)
	if err != nil {
		code := errorCode(h.deps.Logger, err)
		if r.Version >= 1 {
			resp.ErrorCode = code
			return respond(resp)
		}
		// v0 has no top-level error: report it on every partition asked for.
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				results = append(results, controller.ElectionResult{Topic: t.Topic, Partition: p, Err: err})
			}
		}
	}
	byTopic := map[string]int{}
	for _, res := range results {
		i, ok := byTopic[res.Topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[res.Topic] = i
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = res.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewElectLeadersResponseTopicPartition()
		rp.Partition = res.Partition
		rp.ErrorCode = errorCode(h.deps.Logger, res.Err)
		rp.ErrorMessage = errorMessage(res.Err)
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return respond(resp)
}
