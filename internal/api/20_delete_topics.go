package api

// DeleteTopics (key 20), versions 0-6.
//   v1: throttle. v4: flexible. v5: ErrorMessage. v6: topics by name or id.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) deleteTopics(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DeleteTopicsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	im := h.deps.Controller.Image()

	type item struct {
		name *string
		id   [16]byte
		code int16
	}
	var items []item
	if r.Version >= 6 {
		for _, t := range r.Topics {
			it := item{name: t.Topic, id: t.TopicID}
			if t.Topic == nil {
				if n, ok := im.TopicIDs[t.TopicID]; ok {
					it.name = &n
				} else {
					it.code = kerr.UnknownTopicID.Code
				}
			}
			items = append(items, it)
		}
	} else {
		for i := range r.TopicNames {
			items = append(items, item{name: &r.TopicNames[i]})
		}
	}
	var names []string
	var idx []int
	for i, it := range items {
		if it.code == 0 {
			names = append(names, *it.name)
			idx = append(idx, i)
		}
	}
	errs := h.deps.Controller.DeleteTopics(names)
	for j, err := range errs {
		it := &items[idx[j]]
		it.code = errorCode(h.deps.Logger, err)
		if t, ok := im.Topics[*it.name]; ok {
			it.id = t.ID
		}
		if err == nil {
			h.deps.Logger.Info("deleted topic", "topic", *it.name)
		}
	}
	for _, it := range items {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID, rt.ErrorCode = it.name, it.id, it.code
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}
