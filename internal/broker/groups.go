package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/controller"
)

// createInternalTopic creates a topic a coordinator needs
// (__consumer_offsets) on the active controller: locally when it runs
// here, else by forwarding CreateTopics to its node. The topic shows up
// in this node's image once the metadata arrives.
func (b *Broker) createInternalTopic(ctx context.Context, spec controller.TopicSpec) error {
	res := b.controller.CreateTopics([]controller.TopicSpec{spec}, false)[0]
	if res.Err == nil {
		// The coordinator reads the published image: wait until this
		// broker applied the topic (its partitions open here).
		_ = b.publisher.WaitApplied(ctx, b.controller.Image().Offset)
	}
	if !errors.Is(res.Err, controller.ErrNotController) || b.remote == nil {
		return res.Err
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = spec.Name, spec.NumPartitions, spec.ReplicationFactor
	for name, value := range spec.Configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = name, value
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := b.remote.forward(ctx, req)
	if err != nil {
		return err
	}
	topics := resp.(*kmsg.CreateTopicsResponse).Topics
	if len(topics) != 1 {
		return errors.New("malformed CreateTopics response from the active controller")
	}
	err = kerr.ErrorForCode(topics[0].ErrorCode)
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return controller.ErrTopicExists
	}
	return err
}
