package group_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/group"
	"github.com/arus-io/arus/internal/metadata"
)

// TestOffsetsTopicWaitsForStartingCluster: FindCoordinator in a
// three-voter cluster that is still starting (one broker registered) must
// not create __consumer_offsets with a single replica for good; it answers
// COORDINATOR_NOT_AVAILABLE (retriable, as Kafka does while fewer brokers
// are alive than offsets.topic.replication.factor) and creates the topic
// with three replicas once the brokers are there. A one-node cluster
// still gets a one-replica topic.
func TestOffsetsTopicWaitsForStartingCluster(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Broker{NodeID: 1, Listener: "127.0.0.1:0", DataDir: t.TempDir()}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	register := func(ctrl *controller.Controller, id int32) {
		t.Helper()
		if err := ctrl.Bootstrap(metadata.RegisterBrokerRecord{BrokerID: id, Host: "127.0.0.1", Port: 9000 + id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		expected int
		wantRF   int
	}{{"three voters", 3, 3}, {"one node", 1, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			ctrl, _ := controller.NewMemLog(controller.Defaults{NumPartitions: 1, DefaultReplicationFactor: 1}, logger)
			register(ctrl, 1)
			c := group.New(group.Config{NodeID: 1, Groups: cfg.Groups, Metadata: ctrl, ExpectedBrokers: tc.expected, Logger: logger})
			t.Cleanup(func() { _ = c.Shutdown(context.Background()) })
			if tc.expected > 1 {
				err := c.EnsureOffsetsTopic(context.Background())
				if !errors.Is(err, group.ErrCoordinatorNotAvailable) {
					t.Fatalf("one of three brokers registered: %v, want COORDINATOR_NOT_AVAILABLE", err)
				}
				if _, ok := ctrl.Image().Topics[group.OffsetsTopic]; ok {
					t.Fatal("offsets topic created before the cluster's brokers registered")
				}
				register(ctrl, 2)
				register(ctrl, 3)
			}
			if err := c.EnsureOffsetsTopic(context.Background()); err != nil {
				t.Fatalf("ensure offsets topic: %v", err)
			}
			topic := ctrl.Image().Topics[group.OffsetsTopic]
			if topic == nil || len(topic.Partitions[0].Replicas) != tc.wantRF {
				t.Fatalf("offsets topic %+v, want %d replicas", topic, tc.wantRF)
			}
		})
	}
}
