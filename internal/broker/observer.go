package broker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/record"
)

// MetadataReceived reports how many bytes of metadata (records and
// snapshots) this broker-only node received from the voters, and how many
// snapshots among them (0 on voters).
func (b *Broker) MetadataReceived() (bytes, snapshots int64) {
	return b.metadataBytes.Load(), b.metadataSnapshots.Load()
}

// metadataPollInterval is how long a broker-only node waits before asking
// a voter again after a failed or empty pull (a voter holds a caught-up
// pull for up to metadataMaxWait, so this is a floor, not the cadence).
const metadataPollInterval = 200 * time.Millisecond

// metadataMaxWait is the MaxWaitMillis of an observer's metadata Fetch: a
// voter holds it until a change commits (long polling), as KRaft
// observers' fetches are held.
const metadataMaxWait = 500 * time.Millisecond

// metadataLoop keeps a broker-only node's image current: pulls follow one
// another at once (each is held by the voter until something commits); a
// failed pull moves to the next voter, and one that returned early with
// nothing new is not repeated before metadataPollInterval.
func (b *Broker) metadataLoop() {
	voter := 0
	for {
		start, before := time.Now(), b.controller.Image().Offset
		err := b.pullMetadata(voter)
		if err != nil {
			voter++ // try the next voter
			b.logger.Debug("metadata pull", "err", err)
		}
		pause := time.Duration(0)
		if err != nil || b.controller.Image().Offset == before {
			pause = metadataPollInterval - time.Since(start)
		}
		if pause <= 0 {
			select {
			case <-b.stop:
				return
			default:
			}
			continue
		}
		t := time.NewTimer(pause)
		select {
		case <-b.stop:
			t.Stop()
			return
		case <-t.C:
		case <-b.metadataKick:
			t.Stop()
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
		if lerr := b.refusedLogin(); lerr != nil {
			return lerr
		}
		select {
		case <-b.stop:
			return errors.New("stopped while fetching metadata")
		case <-time.After(metadataPollInterval):
		}
	}
	return fmt.Errorf("fetch metadata from the voters %v: %w", b.voters, err)
}

// pullMetadata brings the image up to date from voter number i (in id
// order): the committed batches after the image (Fetch of the metadata
// log), or, when the voter no longer retains them, a snapshot first.
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
	for range maxMetadataFetches {
		more, err := b.fetchMetadataRecords(cl)
		if errors.Is(err, kerr.OffsetOutOfRange) {
			if err := b.fetchMetadataSnapshot(cl); err != nil {
				return err
			}
			continue
		}
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// maxMetadataFetches bounds the fetches of one pullMetadata (each brings
// about metadataFetchBytes); the next poll continues.
const (
	maxMetadataFetches = 64
	metadataFetchBytes = 1 << 20
)

// fetchMetadataRecords fetches and applies the committed batches after
// the image; more reports that the voter has more.
func (b *Broker) fetchMetadataRecords(cl *kgo.Client) (more bool, err error) {
	next := b.controller.Image().Offset + 1
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = b.cfg.NodeID
	req.ReplicaState.ID = b.cfg.NodeID
	req.MaxBytes = metadataFetchBytes
	req.MaxWaitMillis = int32(metadataMaxWait / time.Millisecond)
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = api.MetadataTopic, api.MetadataTopicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = next, metadataFetchBytes, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { // the voter may hold the fetch: do not hold up a stop
		select {
		case <-b.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return false, err
	}
	fr := resp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(fr.ErrorCode); err != nil {
		return false, err
	}
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return false, errors.New("malformed metadata Fetch response")
	}
	p := fr.Topics[0].Partitions[0]
	if p.CurrentLeader.LeaderID > 0 {
		b.observer.SetLeader(p.CurrentLeader.LeaderID)
	}
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return false, err
	}
	b.metadataBytes.Add(int64(len(p.RecordBatches)))
	for rest := p.RecordBatches; len(rest) > 0; {
		h, err := record.ParseHeader(rest)
		if err != nil || h.Size() > len(rest) {
			return false, fmt.Errorf("metadata batch: %w", errors.Join(err, record.ErrCorrupt))
		}
		recs, err := record.Records(rest[:h.Size()])
		if err != nil {
			return false, fmt.Errorf("metadata batch: %w", err)
		}
		rest = rest[h.Size():]
		if h.BaseOffset != b.controller.Image().Offset+1 {
			return false, fmt.Errorf("metadata batch at offset %d, expected %d", h.BaseOffset, b.controller.Image().Offset+1)
		}
		raw := make([][]byte, len(recs))
		for i, r := range recs {
			raw[i] = r.Value
		}
		// One proposal at a time, as the voters applied it.
		b.controller.ApplyBatch(h.BaseOffset, raw)
	}
	return b.controller.Image().Offset+1 < p.HighWatermark, nil
}

// fetchMetadataSnapshot replaces the image with the voter's (FetchSnapshot).
func (b *Broker) fetchMetadataSnapshot(cl *kgo.Client) error {
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
	b.metadataBytes.Add(int64(len(p.Bytes)))
	b.metadataSnapshots.Add(1)
	return b.controller.Restore(p.Bytes, p.SnapshotID.EndOffset)
}
