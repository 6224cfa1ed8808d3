package broker

import (
	"context"

	"github.com/arus-io/arus/internal/controller"
)

// createInternalTopic creates a topic a coordinator needs
// (__consumer_offsets) on the active controller, through the controller
// channel. The coordinator reads the published image: once created, wait
// until this broker applied what its controller has (on the active
// controller's node the topic's partitions are then open here; elsewhere
// the topic shows up once the metadata arrives).
func (b *Broker) createInternalTopic(ctx context.Context, spec controller.TopicSpec) error {
	err := b.ctrl.CreateTopics(ctx, []controller.TopicSpec{spec})[0]
	if err == nil {
		_ = b.publisher.WaitApplied(ctx, b.controller.Image().Offset)
	}
	return err
}
