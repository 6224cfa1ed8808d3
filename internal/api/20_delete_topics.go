package api

// DeleteTopics (key 20), versions 0-6.
//   v1: throttle. v4: flexible. v5: ErrorMessage. v6: topics by name or id.
//
// Errors as Kafka's ControllerApis.deleteTopics: a topic named (or
// identified) more than once is deleted under none of its entries and
// answered once with INVALID_REQUEST; a v6 entry with both a name and an
// id, or neither, is INVALID_REQUEST; an unknown name is
// UNKNOWN_TOPIC_OR_PARTITION, an unknown id UNKNOWN_TOPIC_ID.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
)

func (h *Handlers) deleteTopics(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DeleteTopicsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	im := h.deps.Controller.Image()

	type item struct {
		name *string
		id   [16]byte
		err  error
	}
	var items []item
	var byName []string // names to delete, in request order
	nameCount := map[string]int{}
	idCount := map[[16]byte]int{}
	var entries []item
	if r.Version >= 6 {
		for _, t := range r.Topics {
			entries = append(entries, item{name: t.Topic, id: t.TopicID})
		}
	} else {
		for i := range r.TopicNames {
			entries = append(entries, item{name: &r.TopicNames[i]})
		}
	}
	for _, e := range entries {
		switch {
		case e.name == nil && e.id == [16]byte{}:
		case e.name == nil:
			idCount[e.id]++
		case e.id == [16]byte{}:
			nameCount[*e.name]++
		}
	}
	reported := map[string]bool{}
	reportedID := map[[16]byte]bool{}
	for _, e := range entries {
		switch {
		case e.name == nil && e.id == [16]byte{}:
			items = append(items, item{err: withCode(kerr.InvalidRequest, "Neither topic name nor id were specified.")})
		case e.name != nil && e.id != [16]byte{}:
			items = append(items, item{name: e.name, id: e.id, err: withCode(kerr.InvalidRequest, "You may not specify both topic name and topic id.")})
		case e.name == nil:
			if reportedID[e.id] {
				continue
			}
			reportedID[e.id] = true
			n, ok := im.TopicIDs[e.id]
			switch {
			case idCount[e.id] > 1:
				items = append(items, item{id: e.id, err: withCode(kerr.InvalidRequest, "Duplicate topic id.")})
			case !ok:
				items = append(items, item{id: e.id, err: kerr.UnknownTopicID})
			case nameCount[n] > 0:
				// The id of a topic also named in the request.
				items = append(items, item{name: &n, id: e.id, err: withCode(kerr.InvalidRequest, "The provided topic name maps to an ID that was already supplied.")})
				nameCount[n] = 2 // and the name's entry fails too
			default:
				name := n
				items = append(items, item{name: &name, id: e.id})
				byName = append(byName, name)
			}
		default:
			if reported[*e.name] {
				continue
			}
			reported[*e.name] = true
			if nameCount[*e.name] > 1 {
				items = append(items, item{name: e.name, err: withCode(kerr.InvalidRequest, "Duplicate topic name.")})
				continue
			}
			items = append(items, item{name: e.name})
			byName = append(byName, *e.name)
		}
	}
	// A name whose id was also given failed above; drop it from the deletes.
	var names []string
	deniedNames := map[string]bool{}
	// ControllerApis.deleteTopics: DELETE on the cluster allows every
	// topic, else DELETE on each.
	deleteAll := h.authorizedCluster(req, auth.OpDelete)
	for _, n := range byName {
		if nameCount[n] <= 1 {
			if !deleteAll && !h.authorized(req, auth.OpDelete, auth.ResourceTopic, n) {
				deniedNames[n] = true
				continue
			}
			names = append(names, n)
		}
	}
	for i := range items {
		if it := &items[i]; it.err == nil && it.name != nil && nameCount[*it.name] > 1 && it.id == [16]byte{} {
			it.err = withCode(kerr.InvalidRequest, "The provided topic name maps to an ID that was already supplied.")
		}
	}
	errs := h.deps.Controller.DeleteTopics(names)
	result := make(map[string]error, len(names))
	for i, n := range names {
		result[n] = errs[i]
	}
	for _, it := range items {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = it.name, it.id
		err := it.err
		if err == nil && it.name != nil && deniedNames[*it.name] {
			err = kerr.TopicAuthorizationFailed
			if it.id != ([16]byte{}) && !h.authorized(req, auth.OpDescribe, auth.ResourceTopic, *it.name) {
				// Asked for by id and not describable: the name stays hidden.
				rt.Topic = nil
			}
		} else if err == nil && it.name != nil {
			err = result[*it.name]
			if t, ok := im.Topics[*it.name]; ok {
				rt.TopicID = t.ID
			}
			if err == nil {
				h.deps.Logger.Info("deleted topic", "topic", *it.name)
			}
		}
		rt.ErrorCode = errorCode(h.deps.Logger, err)
		rt.ErrorMessage = errorMessage(err)
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}
