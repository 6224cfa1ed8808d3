package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/metadata"
)

// TestObserverFollowsRecords: a broker-only node follows the committed
// metadata records, so a change to one topic costs it bytes in
// proportion to that change, not to the whole image (which it would get
// as a snapshot only when behind what the voters retain).
func TestObserverFollowsRecords(t *testing.T) {
	c := arustest.StartQuorumClusterWithBrokers(t, 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	voter, observer := c.Broker(1), c.Broker(2)
	arustest.Eventually(t, 20*time.Second, "the voter sees both brokers", func() bool {
		return len(voter.Controller().Image().Brokers) == 2
	})
	adm := kadm.NewClient(newFranz(t, voter.Addr()))
	// A sizeable image: 20 topics of 50 partitions.
	for i := range 20 {
		name := fmt.Sprintf("bulk-%d", i)
		if resp, err := adm.CreateTopics(ctx, 50, 1, nil, name); err != nil || resp[name].Err != nil {
			t.Fatalf("create %s: %v %v", name, err, resp[name].Err)
		}
	}
	caughtUp := func() bool {
		return observer.Controller().Image().Offset == voter.Controller().Image().Offset
	}
	arustest.Eventually(t, 20*time.Second, "the observer caught up", caughtUp)
	snapshot, err := metadata.EncodeSnapshot(voter.Controller().Image())
	if err != nil {
		t.Fatal(err)
	}
	before, snapsBefore := observer.MetadataReceived()

	if resp, err := adm.CreateTopics(ctx, 1, 1, nil, "one-more"); err != nil || resp["one-more"].Err != nil {
		t.Fatalf("create one-more: %v %v", err, resp["one-more"].Err)
	}
	arustest.Eventually(t, 20*time.Second, "the observer has the new topic", func() bool {
		_, ok := observer.Controller().Image().Topics["one-more"]
		return ok && caughtUp()
	})
	after, snapsAfter := observer.MetadataReceived()
	perChange := after - before
	t.Logf("creating a one-partition topic cost the observer %d bytes of metadata; the whole image is %d bytes", perChange, len(snapshot))
	if snapsAfter != snapsBefore {
		t.Fatalf("the observer fetched %d snapshots for one change", snapsAfter-snapsBefore)
	}
	if perChange <= 0 || perChange > 2048 || perChange*20 > int64(len(snapshot)) {
		t.Fatalf("one small change cost %d bytes (image: %d bytes)", perChange, len(snapshot))
	}
}
