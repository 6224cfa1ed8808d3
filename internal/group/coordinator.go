package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/partition"
)

// newMemberJoinTimeout is how long a member that never completed a round
// may wait in JoinGroup before it is dropped (Kafka's fixed
// NewMemberJoinTimeoutMs).
const newMemberJoinTimeout = 5 * time.Minute

// Metadata is the broker's published metadata: who leads which offsets
// partition. In a broker it is the metadata publisher, whose image only
// names partitions the replica manager already opened (a coordinator never
// sees a partition before it is open). *controller.Controller also
// implements it (tests without a broker).
type Metadata interface {
	Image() *metadata.Image
}

// topicCreator is implemented by a Metadata that can create topics (the
// controller); used when Config.CreateTopic is nil.
type topicCreator interface {
	CreateTopics(specs []controller.TopicSpec, validateOnly bool) []controller.TopicResult
}

// Partitions finds the partition replicas open on this broker.
type Partitions interface {
	// Partition returns the open replica, or nil.
	Partition(topic string, index int32) *partition.Partition
}

// Config of a Coordinator.
type Config struct {
	NodeID   int32
	Groups   config.Groups // validated by config.Broker.Validate
	Metadata Metadata
	// CreateTopic creates __consumer_offsets on the active controller,
	// wherever it runs; nil uses Metadata's CreateTopics when it has one
	// (a controller, in tests).
	CreateTopic func(ctx context.Context, spec controller.TopicSpec) error
	// ExpectedBrokers is how many brokers the cluster has by its own
	// configuration (the metadata quorum's voters, each also a broker);
	// 0 or 1 for a one-node cluster. The offsets topic gets
	// min(offsets.topic.replication.factor, max(registered brokers,
	// ExpectedBrokers)) replicas, so a cluster that is still starting
	// answers COORDINATOR_NOT_AVAILABLE until its brokers registered
	// rather than creating the topic with fewer replicas for good.
	ExpectedBrokers int
	Partitions      Partitions
	Logger          *slog.Logger
	Now             func() time.Time
}

// Coordinator is the classic-protocol group coordinator of one broker. It
// runs a shard for every __consumer_offsets partition this broker leads.
// Safe for concurrent use; the request methods block until the shard has
// answered (JoinGroup and SyncGroup until the rebalance step completes),
// or ctx ends.
type Coordinator struct {
	cfg      Config
	settings *settings
	createMu sync.Mutex // serializes creating the offsets topic
	wg       sync.WaitGroup

	mu struct {
		sync.Mutex
		shards map[int32]*shard
		closed bool
	}
}

// New returns a coordinator with no shards; OnImage starts them.
func New(cfg Config) *Coordinator {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := cfg.Groups
	delay := time.Duration(0)
	if g.InitialRebalanceDelay != nil {
		delay = *g.InitialRebalanceDelay
	}
	c := &Coordinator{cfg: cfg, settings: &settings{
		initialRebalanceDelay: delay, newMemberJoinTimeout: newMemberJoinTimeout,
		minSessionTimeout: g.MinSessionTimeout, maxSessionTimeout: g.MaxSessionTimeout,
		offsetMetadataMax: int(g.OffsetMetadataMaxBytes),
		logger:            cfg.Logger.With("component", "group-coordinator"),
	}}
	c.mu.shards = map[int32]*shard{}
	return c
}

// OnImage starts a shard for every offsets partition this broker leads
// and has open, and stops the others. The broker's metadata publisher
// calls it after its replica manager applied im. It does not block.
func (c *Coordinator) OnImage(im *metadata.Image) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return
	}
	t := im.Topics[OffsetsTopic]
	for index, s := range c.mu.shards {
		if t == nil || int(index) >= len(t.Partitions) || t.Partitions[index].Leader != c.cfg.NodeID ||
			!c.sameLog(s, index) {
			s.requestStop()
			delete(c.mu.shards, index)
		}
	}
	if t == nil {
		return
	}
	for _, p := range t.Partitions {
		if p.Leader == c.cfg.NodeID && c.mu.shards[p.Index] == nil {
			c.startShardLocked(p.Index)
		}
	}
}

func (c *Coordinator) sameLog(s *shard, index int32) bool {
	p := c.cfg.Partitions.Partition(OffsetsTopic, index)
	return p != nil && Log(p) == s.log
}

func (c *Coordinator) startShardLocked(index int32) *shard {
	p := c.cfg.Partitions.Partition(OffsetsTopic, index)
	if p == nil {
		return nil
	}
	s := newShard(index, p, c.settings, c.cfg.Now, c.cfg.Groups.OffsetsRetention, c.cfg.Groups.OffsetsRetentionCheckInterval)
	c.mu.shards[index] = s
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		s.run()
	}()
	return s
}

// Shutdown stops every shard, answering waiting requests with
// NOT_COORDINATOR, and waits for them. Idempotent.
func (c *Coordinator) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	c.mu.closed = true
	for index, s := range c.mu.shards {
		s.requestStop()
		delete(c.mu.shards, index)
	}
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EnsureOffsetsTopic creates __consumer_offsets (compacted, with
// offsets.topic.num.partitions partitions) unless it exists. Kafka does
// this on the first FindCoordinator. When the active controller runs on
// another node, the topic reaches this node's image a little later:
// meanwhile the answer is ErrCoordinatorNotAvailable, which clients retry.
func (c *Coordinator) EnsureOffsetsTopic(ctx context.Context) error {
	if _, ok := c.cfg.Metadata.Image().Topics[OffsetsTopic]; ok {
		return nil
	}
	c.createMu.Lock()
	defer c.createMu.Unlock()
	im := c.cfg.Metadata.Image()
	if _, ok := im.Topics[OffsetsTopic]; ok {
		return nil
	}
	g := c.cfg.Groups
	rf := min(int(g.OffsetsTopicReplicationFactor), max(len(im.Brokers), c.cfg.ExpectedBrokers))
	if rf < 1 || len(im.Brokers) < rf {
		return fmt.Errorf("%w: %d of %d brokers registered to host %s", ErrCoordinatorNotAvailable, len(im.Brokers), rf, OffsetsTopic)
	}
	compact, segment, compression := "compact", strconv.Itoa(int(g.OffsetsTopicSegmentBytes)), "producer"
	spec := controller.TopicSpec{
		Name: OffsetsTopic, NumPartitions: g.OffsetsTopicPartitions, ReplicationFactor: int16(rf),
		Configs: map[string]*string{"cleanup.policy": &compact, "segment.bytes": &segment, "compression.type": &compression},
	}
	var err error
	if c.cfg.CreateTopic != nil {
		err = c.cfg.CreateTopic(ctx, spec)
	} else if tc, ok := c.cfg.Metadata.(topicCreator); ok {
		err = tc.CreateTopics([]controller.TopicSpec{spec}, false)[0].Err
	} else {
		err = errors.New("no way to create topics configured")
	}
	if err != nil && !errors.Is(err, controller.ErrTopicExists) {
		// Retriable for the client (fewer live brokers than replicas
		// right after a start, no active controller yet, ...).
		c.settings.logger.Info("cannot create the offsets topic yet", "err", err)
		return fmt.Errorf("%w: create %s: %v", ErrCoordinatorNotAvailable, OffsetsTopic, err)
	}
	if err == nil {
		c.settings.logger.Info("created the offsets topic", "topic", OffsetsTopic, "partitions", g.OffsetsTopicPartitions)
	}
	if _, ok := c.cfg.Metadata.Image().Topics[OffsetsTopic]; !ok {
		return fmt.Errorf("%w: %s is being created", ErrCoordinatorNotAvailable, OffsetsTopic)
	}
	return nil
}

// FindCoordinator returns the node that coordinates group, creating the
// offsets topic first if needed. When this node is the coordinator it
// waits (briefly) for the group's partition to be loaded.
func (c *Coordinator) FindCoordinator(ctx context.Context, group string) (int32, error) {
	if err := c.EnsureOffsetsTopic(ctx); err != nil {
		return -1, err
	}
	im := c.cfg.Metadata.Image()
	t := im.Topics[OffsetsTopic]
	if t == nil || len(t.Partitions) == 0 {
		return -1, ErrCoordinatorNotAvailable
	}
	p := t.Partitions[PartitionFor(group, int32(len(t.Partitions)))]
	if _, ok := im.Brokers[p.Leader]; !ok {
		return -1, ErrCoordinatorNotAvailable
	}
	if p.Leader == c.cfg.NodeID {
		c.awaitLoad(ctx, group)
	}
	return p.Leader, nil
}

// findLoadWait bounds how long FindCoordinator waits for the group's
// partition to load before answering anyway.
const findLoadWait = 2 * time.Second

// awaitLoad starts loading the group's partition and waits a little for
// it: a new (or small) partition loads in microseconds, and a client that
// gets COORDINATOR_LOAD_IN_PROGRESS on its first JoinGroup backs off for
// seconds.
func (c *Coordinator) awaitLoad(ctx context.Context, group string) {
	_, err := c.shardFor(group)
	if !errors.Is(err, ErrLoadInProgress) {
		return
	}
	c.mu.Lock()
	var s *shard
	if t := c.cfg.Metadata.Image().Topics[OffsetsTopic]; t != nil && len(t.Partitions) > 0 {
		s = c.mu.shards[PartitionFor(group, int32(len(t.Partitions)))]
	}
	c.mu.Unlock()
	if s == nil {
		return
	}
	timer := time.NewTimer(findLoadWait)
	defer timer.Stop()
	select {
	case <-s.loadDone:
	case <-timer.C:
	case <-ctx.Done():
	case <-s.stop:
	}
}

// shardFor returns the loaded shard of group.
func (c *Coordinator) shardFor(group string) (*shard, error) {
	im := c.cfg.Metadata.Image()
	t := im.Topics[OffsetsTopic]
	if t == nil || len(t.Partitions) == 0 {
		return nil, ErrNotCoordinator
	}
	index := PartitionFor(group, int32(len(t.Partitions)))
	if t.Partitions[index].Leader != c.cfg.NodeID {
		return nil, ErrNotCoordinator
	}
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil, ErrCoordinatorNotAvailable
	}
	s := c.mu.shards[index]
	if s == nil {
		s = c.startShardLocked(index)
	}
	c.mu.Unlock()
	switch {
	case s == nil:
		return nil, ErrNotCoordinator
	case s.failed.Load():
		return nil, ErrCoordinatorNotAvailable
	case !s.loaded.Load():
		return nil, ErrLoadInProgress
	}
	return s, nil
}

// wait returns the shard's answer, or an error when ctx ends or the
// shard stops first.
func wait[T any](ctx context.Context, s *shard, ch <-chan T) (T, error) {
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%w: %v", ErrCoordinatorNotAvailable, ctx.Err())
	case <-s.done:
		select {
		case v := <-ch:
			return v, nil
		default:
			var zero T
			return zero, ErrNotCoordinator
		}
	}
}

// replier returns a channel and a function that delivers one value to it
// without ever blocking the shard.
func replier[T any]() (chan T, func(T)) {
	ch := make(chan T, 1)
	return ch, func(v T) {
		select {
		case ch <- v:
		default:
		}
	}
}

// JoinGroup joins a member; it blocks until the rebalance round completes.
func (c *Coordinator) JoinGroup(ctx context.Context, req JoinRequest) JoinResult {
	if req.Group == "" {
		return joinError(req.MemberID, ErrInvalidGroupID)
	}
	s, err := c.shardFor(req.Group)
	if err != nil {
		return joinError(req.MemberID, err)
	}
	ch, reply := replier[JoinResult]()
	if err := s.do(ctx, func(now time.Time) { s.set.join(now, &req, reply) }); err != nil {
		return joinError(req.MemberID, err)
	}
	r, err := wait(ctx, s, ch)
	if err != nil {
		return joinError(req.MemberID, err)
	}
	return r
}

// SyncGroup blocks until the leader's assignment is durable (or the
// member is already past it).
func (c *Coordinator) SyncGroup(ctx context.Context, req SyncRequest) SyncResult {
	if req.Group == "" {
		return SyncResult{Err: ErrInvalidGroupID}
	}
	s, err := c.shardFor(req.Group)
	if errors.Is(err, ErrLoadInProgress) {
		// The rebalance state was lost with the old coordinator; old
		// clients do not expect COORDINATOR_LOAD_IN_PROGRESS here.
		return SyncResult{Err: ErrRebalanceInProgress}
	}
	if err != nil {
		return SyncResult{Err: err}
	}
	ch, reply := replier[SyncResult]()
	if err := s.do(ctx, func(now time.Time) { s.set.sync(now, &req, reply) }); err != nil {
		return SyncResult{Err: err}
	}
	r, err := wait(ctx, s, ch)
	if err != nil {
		return SyncResult{Err: err}
	}
	return r
}

// Heartbeat keeps a member's session alive and tells it about rebalances.
func (c *Coordinator) Heartbeat(ctx context.Context, req HeartbeatRequest) error {
	if req.Group == "" {
		return ErrInvalidGroupID
	}
	s, err := c.shardFor(req.Group)
	if errors.Is(err, ErrLoadInProgress) {
		return nil // Kafka answers blindly while loading
	}
	if err != nil {
		return err
	}
	ch, reply := replier[error]()
	if err := s.do(ctx, func(now time.Time) { reply(s.set.heartbeat(now, &req)) }); err != nil {
		return err
	}
	res, err := wait(ctx, s, ch)
	if err != nil {
		return err
	}
	return res
}

// LeaveGroup removes members; it returns one error per member and a
// group-wide error.
func (c *Coordinator) LeaveGroup(ctx context.Context, group string, members []LeaveMember) ([]error, error) {
	if group == "" {
		return nil, ErrInvalidGroupID
	}
	s, err := c.shardFor(group)
	if err != nil {
		return nil, err
	}
	type result struct {
		errs []error
		err  error
	}
	ch, reply := replier[result]()
	if err := s.do(ctx, func(now time.Time) {
		errs, err := s.set.leave(now, group, members)
		reply(result{errs, err})
	}); err != nil {
		return nil, err
	}
	r, err := wait(ctx, s, ch)
	if err != nil {
		return nil, err
	}
	return r.errs, r.err
}

// CommitOffsets stores commits; it returns one error per req.Offsets
// entry once they are durable.
func (c *Coordinator) CommitOffsets(ctx context.Context, req CommitRequest) []error {
	fail := func(err error) []error {
		errs := make([]error, len(req.Offsets))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	s, err := c.shardFor(req.Group)
	if err != nil {
		return fail(err)
	}
	ch, reply := replier[[]error]()
	if err := s.do(ctx, func(now time.Time) { s.set.commit(now, &req, reply) }); err != nil {
		return fail(err)
	}
	errs, err := wait(ctx, s, ch)
	if err != nil {
		return fail(err)
	}
	return errs
}

// FetchOffsets returns the committed offsets of partitions (all committed
// partitions when nil).
func (c *Coordinator) FetchOffsets(ctx context.Context, group string, partitions []TopicPartition) ([]FetchedOffset, error) {
	s, err := c.shardFor(group)
	if err != nil {
		return nil, err
	}
	ch, reply := replier[[]FetchedOffset]()
	if err := s.do(ctx, func(time.Time) { reply(s.set.fetch(group, partitions)) }); err != nil {
		return nil, err
	}
	return wait(ctx, s, ch)
}

// DescribeGroup describes a group; ErrGroupIDNotFound (with state Dead)
// when it does not exist.
func (c *Coordinator) DescribeGroup(ctx context.Context, group string) (Description, error) {
	s, err := c.shardFor(group)
	if err != nil {
		return Description{Group: group}, err
	}
	type result struct {
		d   Description
		err error
	}
	ch, reply := replier[result]()
	if err := s.do(ctx, func(time.Time) {
		d, err := s.set.describe(group)
		reply(result{d, err})
	}); err != nil {
		return Description{Group: group}, err
	}
	r, err := wait(ctx, s, ch)
	if err != nil {
		return Description{Group: group}, err
	}
	return r.d, r.err
}

// ListGroups lists the groups of every loaded shard, sorted; the error is
// ErrLoadInProgress while some shard is still loading (the groups of the
// others are returned anyway).
func (c *Coordinator) ListGroups(ctx context.Context) ([]Overview, error) {
	c.mu.Lock()
	shards := slices.Collect(maps.Values(c.mu.shards))
	c.mu.Unlock()
	var out []Overview
	var loadErr error
	for _, s := range shards {
		if s.failed.Load() {
			continue
		}
		if !s.loaded.Load() {
			loadErr = ErrLoadInProgress
			continue
		}
		ch, reply := replier[[]Overview]()
		if err := s.do(ctx, func(time.Time) { reply(s.set.list()) }); err != nil {
			continue
		}
		list, err := wait(ctx, s, ch)
		if err != nil {
			continue
		}
		out = append(out, list...)
	}
	slices.SortFunc(out, func(a, b Overview) int {
		switch {
		case a.Group < b.Group:
			return -1
		case a.Group > b.Group:
			return 1
		}
		return 0
	})
	return out, loadErr
}

// DeleteGroups deletes empty groups and their offsets; one error per id.
func (c *Coordinator) DeleteGroups(ctx context.Context, groups []string) []error {
	errs := make([]error, len(groups))
	byShard := map[*shard][]int{}
	for i, id := range groups {
		s, err := c.shardFor(id)
		if err != nil {
			errs[i] = err
			continue
		}
		byShard[s] = append(byShard[s], i)
	}
	for s, indexes := range byShard {
		ids := make([]string, len(indexes))
		for j, i := range indexes {
			ids[j] = groups[i]
		}
		ch, reply := replier[[]error]()
		err := s.do(ctx, func(time.Time) { s.set.deleteGroups(ids, reply) })
		var res []error
		if err == nil {
			res, err = wait(ctx, s, ch)
		}
		for j, i := range indexes {
			if err != nil {
				errs[i] = err
			} else {
				errs[i] = res[j]
			}
		}
	}
	return errs
}

// DeleteOffsets deletes committed offsets of a group (OffsetDelete): the
// group-wide error, else one error per partition.
func (c *Coordinator) DeleteOffsets(ctx context.Context, group string, partitions []TopicPartition) ([]error, error) {
	if group == "" {
		return nil, ErrInvalidGroupID
	}
	s, err := c.shardFor(group)
	if err != nil {
		return nil, err
	}
	type result struct {
		errs []error
		err  error
	}
	ch, reply := replier[result]()
	if err := s.do(ctx, func(time.Time) {
		s.set.deleteOffsets(group, partitions, func(errs []error, err error) { reply(result{errs, err}) })
	}); err != nil {
		return nil, err
	}
	r, err := wait(ctx, s, ch)
	if err != nil {
		return nil, err
	}
	return r.errs, r.err
}
