package broker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/api"
)

// metadataPollInterval is how often a broker-only node asks a voter
// whether the metadata changed.
const metadataPollInterval = 200 * time.Millisecond

// metadataLoop keeps a broker-only node's image current.
func (b *Broker) metadataLoop() {
	t := time.NewTicker(metadataPollInterval)
	defer t.Stop()
	voter := 0
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.metadataKick:
		}
		if err := b.pullMetadata(voter); err != nil {
			voter++ // try the next voter
			b.logger.Debug("metadata pull", "err", err)
		}
	}
}

// kickMetadata makes a broker-only node fetch the metadata now (a change it
// forwarded to the active controller committed); a no-op on voters, whose
// image follows the quorum's commits.
func (b *Broker) kickMetadata() {
	select {
	case b.metadataKick <- struct{}{}:
	default:
	}
}

// waitForMetadata blocks until the first image arrived (or a deadline).
func (b *Broker) waitForMetadata() error {
	deadline := time.Now().Add(registrationTimeout)
	var err error
	for voter := 0; time.Now().Before(deadline); voter++ {
		if err = b.pullMetadata(voter); err == nil && b.controller.Image().ClusterID != "" {
			return nil
		}
		select {
		case <-b.stop:
			return errors.New("stopped while fetching metadata")
		case <-time.After(metadataPollInterval):
		}
	}
	return fmt.Errorf("fetch metadata from the voters %v: %w", b.voters, err)
}

// pullMetadata asks voter number i (in id order) for the image.
func (b *Broker) pullMetadata(i int) error {
	ids := make([]int, 0, len(b.voters))
	for id := range b.voters {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	addr := b.voters[int32(ids[i%len(ids)])]
	cl, err := b.remote.clientFor(addr)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrFetchSnapshotRequest()
	req.ReplicaID = b.cfg.NodeID
	if cid := b.controller.Image().ClusterID; cid != "" {
		req.ClusterID = &cid
	}
	rt := kmsg.NewFetchSnapshotRequestTopic()
	rt.Topic = api.MetadataTopic
	rp := kmsg.NewFetchSnapshotRequestTopicPartition()
	rp.SnapshotID.EndOffset = b.controller.Image().Offset + 1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return err
	}
	fr := resp.(*kmsg.FetchSnapshotResponse)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return errors.New("malformed FetchSnapshot response")
	}
	p := fr.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return err
	}
	if p.CurrentLeader.LeaderID > 0 {
		b.observer.SetLeader(p.CurrentLeader.LeaderID)
	}
	if len(p.Bytes) == 0 {
		return nil
	}
	return b.controller.Restore(p.Bytes, p.SnapshotID.EndOffset)
}
