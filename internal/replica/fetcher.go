// Package replica runs the follower side of replication: one fetcher per
// source broker pulls the partitions this broker follows from their leader
// with Kafka's replica fetch protocol (Fetch with ReplicaState, leader
// epochs and LastFetchedEpoch), appends what it gets keeping the leader's
// offsets, and truncates when the leader reports a diverging epoch
// (KIP-101, KIP-279, KIP-320).
//
// The Manager owns the fetchers; SetFollowed replaces the set of followed
// partitions (the broker calls it when metadata changes). Each fetcher is
// one goroutine, started and stopped by the Manager.
package replica

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/partition"
)

// Followed is one partition this broker follows.
type Followed struct {
	Topic     string
	TopicID   [16]byte
	Partition *partition.Partition
	Leader    int32
	// LeaderAddr is the leader's host:port; a fetcher is per leader and
	// address, so a leader that restarts elsewhere gets a new connection.
	LeaderAddr string
}

// source identifies a fetcher: a leader at an address.
type source struct {
	id   int32
	addr string
}

// Manager runs one fetcher per leader broker.
type Manager struct {
	self   int32
	opts   []kgo.Opt
	logger *slog.Logger

	mu struct {
		sync.Mutex
		fetchers map[source]*fetcher
		closed   bool
	}
	wg sync.WaitGroup
}

// NewManager returns a manager; each fetcher opens its own kgo client to
// its leader with opts added.
func NewManager(self int32, logger *slog.Logger, opts ...kgo.Opt) *Manager {
	m := &Manager{self: self, opts: opts, logger: logger}
	m.mu.fetchers = map[source]*fetcher{}
	return m
}

// SetFollowed replaces the followed partitions, starting and stopping
// fetchers as leaders come and go.
func (m *Manager) SetFollowed(all []Followed) {
	byLeader := map[source][]Followed{}
	for _, f := range all {
		if f.Leader >= 0 && f.Leader != m.self && f.LeaderAddr != "" {
			src := source{f.Leader, f.LeaderAddr}
			byLeader[src] = append(byLeader[src], f)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return
	}
	for leader, f := range m.mu.fetchers {
		if _, ok := byLeader[leader]; !ok {
			f.stop()
			delete(m.mu.fetchers, leader)
		}
	}
	for leader, parts := range byLeader {
		f, ok := m.mu.fetchers[leader]
		if !ok {
			var err error
			if f, err = newFetcher(m, leader); err != nil {
				m.logger.Error("start replica fetcher", "leader", leader.id, "addr", leader.addr, "err", err)
				continue
			}
			m.mu.fetchers[leader] = f
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				f.run()
			}()
		}
		f.setPartitions(parts)
	}
}

// Shutdown stops every fetcher and waits for them.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	m.mu.closed = true
	for leader, f := range m.mu.fetchers {
		f.stop()
		delete(m.mu.fetchers, leader)
	}
	m.mu.Unlock()
	m.wg.Wait()
}

type fetcher struct {
	m      *Manager
	leader int32
	client *kgo.Client // seeded with the leader only
	ctx    context.Context
	cancel context.CancelFunc
	logger *slog.Logger

	mu struct {
		sync.Mutex
		parts   []Followed
		changed chan struct{}
	}
}

func newFetcher(m *Manager, src source) (*fetcher, error) {
	opts := append([]kgo.Opt{kgo.SeedBrokers(src.addr)}, m.opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{m: m, leader: src.id, client: cl, ctx: ctx, cancel: cancel, logger: m.logger.With("source_broker", src.id)}
	f.mu.changed = make(chan struct{})
	return f, nil
}

func (f *fetcher) stop() { f.cancel() }

func (f *fetcher) setPartitions(parts []Followed) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.parts = parts
	close(f.mu.changed)
	f.mu.changed = make(chan struct{})
}

func (f *fetcher) partitions() ([]Followed, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.parts, f.mu.changed
}

// Fetch settings of followers (replica.fetch.*).
const (
	fetchMaxWait        = 500 * time.Millisecond
	fetchMaxBytes       = 10 << 20
	fetchPartitionBytes = 1 << 20
	backoffMin          = 50 * time.Millisecond
	backoffMax          = time.Second
)

func (f *fetcher) run() {
	defer f.client.Close()
	backoff := time.Duration(0)
	for f.ctx.Err() == nil {
		parts, changed := f.partitions()
		ok := f.fetchOnce(parts)
		if ok {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, backoffMin), backoffMax)
		t := time.NewTimer(backoff)
		select {
		case <-f.ctx.Done():
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// fetchOnce sends one Fetch for every followed partition and applies the
// answer; false asks the caller to back off.
func (f *fetcher) fetchOnce(parts []Followed) bool {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = f.m.self
	req.ReplicaState.ID = f.m.self
	req.MaxWaitMillis = int32(fetchMaxWait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = fetchMaxBytes
	req.SessionID, req.SessionEpoch = 0, -1
	type key struct {
		topic string
		index int32
	}
	sent := map[key]Followed{}
	positions := map[key]partition.FetchPosition{}
	byTopic := map[string]int{} // index into req.Topics
	for _, fp := range parts {
		pos, ok := fp.Partition.FollowerPosition()
		if !ok || pos.Leader != f.leader {
			continue
		}
		ti, ok := byTopic[fp.Topic]
		if !ok {
			nt := kmsg.NewFetchRequestTopic()
			nt.Topic, nt.TopicID = fp.Topic, fp.TopicID
			req.Topics = append(req.Topics, nt)
			ti = len(req.Topics) - 1
			byTopic[fp.Topic] = ti
		}
		t := &req.Topics[ti]
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = fp.Partition.Index()
		rp.FetchOffset = pos.Offset
		rp.CurrentLeaderEpoch = pos.LeaderEpoch
		rp.LastFetchedEpoch = pos.LastFetchedEpoch
		// The leader completes DeleteRecords once every replica's log
		// start offset reached the new start (its low watermark).
		rp.LogStartOffset = fp.Partition.LogStartOffset()
		rp.PartitionMaxBytes = fetchPartitionBytes
		t.Partitions = append(t.Partitions, rp)
		k := key{fp.Topic, rp.Partition}
		sent[k], positions[k] = fp, pos
	}
	if len(req.Topics) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(f.ctx, fetchMaxWait+10*time.Second)
	defer cancel()
	// The seed broker is the leader's address itself: no metadata lookup,
	// so a leader that came back on a new address is reached at once.
	resp, err := f.client.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		if f.ctx.Err() == nil {
			f.logger.Debug("replica fetch failed", "err", err)
		}
		return false
	}
	progress := true
	for _, t := range resp.(*kmsg.FetchResponse).Topics {
		for _, rp := range t.Partitions {
			name := t.Topic
			if name == "" {
				for k, fp := range sent {
					if fp.TopicID == t.TopicID {
						name = k.topic
						break
					}
				}
			}
			k := key{name, rp.Partition}
			fp, ok := sent[k]
			if !ok {
				continue
			}
			if !f.apply(fp, positions[k], &rp) {
				progress = false
			}
		}
	}
	return progress
}

// apply handles one partition of a fetch response.
func (f *fetcher) apply(fp Followed, pos partition.FetchPosition, rp *kmsg.FetchResponseTopicPartition) bool {
	p := fp.Partition
	logger := f.logger.With("topic", fp.Topic, "partition", rp.Partition)
	if rp.ErrorCode != 0 {
		err := kerr.ErrorForCode(rp.ErrorCode)
		// Leadership moved or is moving: wait for metadata to say so.
		logger.Debug("replica fetch partition error", "err", err)
		return false
	}
	if rp.DivergingEpoch.Epoch >= 0 || rp.DivergingEpoch.EndOffset >= 0 {
		// Truncate to where both logs agree: the leader's end of that
		// epoch, bounded by our own end of it.
		end := rp.DivergingEpoch.EndOffset
		if ourEpoch, ourEnd := p.EndOffsetForEpoch(rp.DivergingEpoch.Epoch); ourEpoch == rp.DivergingEpoch.Epoch && ourEnd < end {
			end = ourEnd
		}
		if end < 0 {
			end = 0
		}
		if err := p.TruncateTo(end); err != nil {
			logger.Error("truncate diverged log", "offset", end, "err", err)
			return false
		}
		return true
	}
	if err := p.AppendFromLeader(pos.LeaderEpoch, rp.RecordBatches, rp.HighWatermark); err != nil {
		// A role change or a partition closed under the fetch (its topic
		// deleted, the replica moved away, the broker stopping) is not a
		// fault: metadata removes the partition from this fetcher next,
		// as Kafka's fetcher manager drops removed partitions silently.
		if errors.Is(err, partition.ErrRoleChanged) || errors.Is(err, partition.ErrClosed) {
			logger.Debug("append fetched batches", "err", err)
		} else {
			logger.Error("append fetched batches", "err", err)
		}
		return false
	}
	// Records the leader deleted (DeleteRecords) go here too.
	if err := p.FollowLeaderLogStart(rp.LogStartOffset); err != nil {
		logger.Warn("follow the leader's log start offset", "offset", rp.LogStartOffset, "err", err)
	}
	return true
}
