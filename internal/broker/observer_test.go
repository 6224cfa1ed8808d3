package broker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

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

// TestMetadataFetchLongPolls: a voter holds a caught-up metadata Fetch
// until something commits (then answers with it), or until MaxWaitMillis
// passes (then answers with nothing), so observers need not poll.
func TestMetadataFetchLongPolls(t *testing.T) {
	b := arustest.StartBroker(t)
	arustest.Eventually(t, 30*time.Second, "cluster id known", func() bool { return b.Controller().Image().ClusterID != "" })
	conn := dialPeer(t, b.InterBrokerAddr().String(), 1, b.Controller().Image().ClusterID)
	send := func(offset int64, wait time.Duration, corr int32) {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 12
		req.ReplicaID, req.MaxWaitMillis, req.MaxBytes = 1, int32(wait/time.Millisecond), 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "__cluster_metadata"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = offset, 1<<20, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		if _, err := conn.Write(rawRequest(req, corr)); err != nil {
			t.Fatal(err)
		}
	}
	receive := func(corr int32) *kmsg.FetchResponse {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 12
		if err := resp.ReadFrom(readResponse(t, conn, corr)[1:]); err != nil { // flexible header: skip its empty tag section
			t.Fatal(err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("malformed response %+v", resp)
		}
		return resp
	}
	fetch := func(offset int64, wait time.Duration, corr int32) *kmsg.FetchResponse {
		send(offset, wait, corr)
		return receive(corr)
	}

	next := b.Controller().Image().Offset + 1
	if p := fetch(next, 100*time.Millisecond, 1).Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("caught-up fetch with nothing new: error %d, %d bytes", p.ErrorCode, len(p.RecordBatches))
	}

	// Held: the create commits while the fetch waits (capped by the voter
	// at a few seconds, so a slow create on a loaded machine is asked for
	// again), and the answer carries it.
	next = b.Controller().Image().Offset + 1
	send(next, time.Minute, 2)
	// Nothing has committed since: the voter holds the answer. (A broken
	// long poll answers at once, empty; a held one cannot answer early.)
	if err := conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var one [1]byte
	if n, err := conn.Read(one[:]); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a caught-up metadata Fetch was answered before anything committed (%d bytes, %v)", n, err)
	}
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	created := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := kadm.NewClient(newFranz(t, b.Addr())).CreateTopics(ctx, 1, 1, nil, "long-polled")
		if err == nil {
			err = resp["long-polled"].Err
		}
		created <- err
	}()
	p := receive(2).Topics[0].Partitions[0]
	for corr := int32(3); corr < 20 && p.ErrorCode == 0 && len(p.RecordBatches) == 0; corr++ {
		p = fetch(next, time.Minute, corr).Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			t.Fatalf("held fetch: error %d", p.ErrorCode)
		}
	}
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	if p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Fatalf("held fetch: error %d, %d bytes", p.ErrorCode, len(p.RecordBatches))
	}
	if !bytes.Contains(p.RecordBatches, []byte("long-polled")) {
		t.Fatalf("held fetch answered without the new topic's records")
	}
}
