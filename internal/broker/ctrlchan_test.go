package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/ctrlchan"
)

// TestControllerChannelChosenAtStart: voters get a Local controller
// channel, broker-only nodes a Remote one; when the active controller
// moves (its node crashes), the remaining voter and the broker-only node
// reach the new one through the same channels.
func TestControllerChannelChosenAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node failover test")
	}
	c := arustest.StartQuorumClusterWithBrokers(t, 3, 1)
	for id := int32(1); id <= 3; id++ {
		if ch, ok := c.Broker(id).ControllerChannel().(*ctrlchan.Local); !ok {
			t.Fatalf("voter %d has a %T controller channel, want *ctrlchan.Local", id, ch)
		}
	}
	observer := c.Broker(4)
	if ch, ok := observer.ControllerChannel().(*ctrlchan.Remote); !ok {
		t.Fatalf("broker-only node 4 has a %T controller channel, want *ctrlchan.Remote", ch)
	}
	arustest.Eventually(t, 30*time.Second, "an active controller that sees all 4 brokers", func() bool {
		id := c.ActiveController()
		return id > 0 && len(c.Broker(id).Controller().Image().Brokers) == 4
	})
	active := c.ActiveController()
	for id := int32(1); id <= 4; id++ {
		if got := c.Broker(id).ControllerChannel().ServesLocally(); got != (id == active) {
			t.Fatalf("node %d serves locally: %v (active controller %d)", id, got, active)
		}
	}

	create := func(node int32, name string) {
		t.Helper()
		ch := c.Broker(node).ControllerChannel()
		var err error
		arustest.Eventually(t, 30*time.Second, "create "+name+" through node's channel", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = ch.CreateTopics(ctx, []controller.TopicSpec{{Name: name, NumPartitions: 1, ReplicationFactor: 1}})[0]
			return err == nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ch.CreateTopics(ctx, []controller.TopicSpec{{Name: name, NumPartitions: 1, ReplicationFactor: 1}})[0]; !errors.Is(err, controller.ErrTopicExists) {
			t.Fatalf("node %d: creating %s again: %v, want ErrTopicExists", node, name, err)
		}
	}
	voter := active%3 + 1 // a voter that is not the active controller
	create(voter, "from-voter")
	create(4, "from-observer")

	c.Crash(active)
	arustest.Eventually(t, 30*time.Second, "a new active controller", func() bool {
		id := c.ActiveController()
		return id > 0 && id != active
	})
	moved := c.ActiveController()
	create(voter, "from-voter-after-move")
	create(4, "from-observer-after-move")
	for _, id := range []int32{voter, 4} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start, n, err := c.Broker(id).ControllerChannel().AllocateProducerIDs(ctx, id)
		cancel()
		if err != nil || n <= 0 {
			t.Fatalf("node %d: producer ids after the move to %d: %d+%d, %v", id, moved, start, n, err)
		}
	}
	im := c.Broker(moved).Controller().Image()
	for _, name := range []string{"from-voter", "from-observer", "from-voter-after-move", "from-observer-after-move"} {
		if _, ok := im.Topics[name]; !ok {
			t.Fatalf("topic %s missing on the new active controller", name)
		}
	}
}
