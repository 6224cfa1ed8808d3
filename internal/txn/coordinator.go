package txn

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
	"github.com/arus-io/arus/internal/group"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/partition"
)

// MetadataSource is what the coordinator needs of the controller: the
// image and topic creation. *controller.Controller implements it.
type MetadataSource interface {
	Image() *metadata.Image
	CreateTopics(specs []controller.TopicSpec, validateOnly bool) []controller.TopicResult
}

// Partitions finds the partition replicas open on this broker.
type Partitions interface {
	Partition(topic string, index int32) *partition.Partition
}

// Config of a Coordinator.
type Config struct {
	NodeID       int32
	Transactions config.Transactions // validated by config.Broker.Validate
	Metadata     MetadataSource
	// CreateTopic creates __transaction_state on the active controller;
	// nil uses Metadata.CreateTopics.
	CreateTopic func(ctx context.Context, spec controller.TopicSpec) error
	Partitions  Partitions
	// SendMarkers writes markers on a partition leader (WriteTxnMarkers on
	// its inter-broker listener).
	SendMarkers SendMarkers
	Logger      *slog.Logger
	Now         func() time.Time
}

// Coordinator is the transaction coordinator of one broker: a shard for
// every __transaction_state partition it leads. Safe for concurrent use.
type Coordinator struct {
	cfg      Config
	settings settings
	logger   *slog.Logger
	createMu sync.Mutex
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
	c := &Coordinator{cfg: cfg, logger: cfg.Logger.With("component", "txn-coordinator"),
		settings: settings{maxTimeout: cfg.Transactions.MaxTimeout, idExpiration: cfg.Transactions.IDExpiration}}
	c.mu.shards = map[int32]*shard{}
	return c
}

// PartitionFor is the __transaction_state partition of a transactional
// id: Kafka's abs(hashCode) % partitions, as for groups.
func PartitionFor(id string, partitions int32) int32 { return group.PartitionFor(id, partitions) }

// OnImage starts a shard for every state partition this broker leads and
// stops the others (a new leader epoch restarts the shard: a new
// coordinator epoch). It does not block.
func (c *Coordinator) OnImage(im *metadata.Image) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return
	}
	t := im.Topics[StateTopic]
	for index, s := range c.mu.shards {
		if t == nil || int(index) >= len(t.Partitions) || t.Partitions[index].Leader != c.cfg.NodeID ||
			t.Partitions[index].LeaderEpoch != s.coordinatorEpoch || !c.sameLog(s, index) {
			s.requestStop()
			delete(c.mu.shards, index)
		}
	}
	if t == nil {
		return
	}
	for _, p := range t.Partitions {
		if p.Leader == c.cfg.NodeID && c.mu.shards[p.Index] == nil {
			c.startShardLocked(p.Index, p.LeaderEpoch)
		}
	}
}

func (c *Coordinator) sameLog(s *shard, index int32) bool {
	p := c.cfg.Partitions.Partition(StateTopic, index)
	return p != nil && Log(p) == s.log
}

func (c *Coordinator) startShardLocked(index, leaderEpoch int32) *shard {
	p := c.cfg.Partitions.Partition(StateTopic, index)
	if p == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &shard{
		index: index, coordinatorEpoch: leaderEpoch, log: p, now: c.cfg.Now,
		logger: c.logger.With("state_partition", index), image: c.cfg.Metadata.Image, send: c.cfg.SendMarkers,
		checkEach: c.cfg.Transactions.AbortTimedOutInterval, expireEach: c.cfg.Transactions.RemoveExpiredInterval,
		inbox: make(chan func(), 256), stop: make(chan struct{}), done: make(chan struct{}), loadDone: make(chan struct{}),
		ctx: ctx, cancel: cancel, loadBytes: int(c.cfg.Transactions.StateLogLoadBufferSize),
	}
	s.set = newTxnSet(c.settings, s)
	c.mu.shards[index] = s
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		s.run()
	}()
	return s
}

// Shutdown stops every shard and waits for them. Idempotent.
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

// EnsureStateTopic creates __transaction_state (compacted, with
// transaction.state.log.num.partitions partitions) unless it exists.
func (c *Coordinator) EnsureStateTopic(ctx context.Context) error {
	if _, ok := c.cfg.Metadata.Image().Topics[StateTopic]; ok {
		return nil
	}
	c.createMu.Lock()
	defer c.createMu.Unlock()
	im := c.cfg.Metadata.Image()
	if _, ok := im.Topics[StateTopic]; ok {
		return nil
	}
	tc := c.cfg.Transactions
	rf := min(int(tc.StateLogReplicationFactor), len(im.Brokers))
	if rf < 1 {
		return fmt.Errorf("%w: no brokers registered to host %s", ErrCoordinatorNotAvailable, StateTopic)
	}
	// Kafka's defaults for the topic: compacted, min.insync.replicas from
	// transaction.state.log.min.isr (capped here like the replication
	// factor), unclean election off.
	compact, segment := "compact", strconv.Itoa(int(tc.StateLogSegmentBytes))
	minISR := int(tc.StateLogMinISR) // transaction.state.log.min.isr
	if minISR <= 0 {
		minISR = 2
	}
	minISRValue := strconv.Itoa(min(minISR, rf))
	spec := controller.TopicSpec{
		Name: StateTopic, NumPartitions: tc.StateLogPartitions, ReplicationFactor: int16(rf),
		Configs: map[string]*string{"cleanup.policy": &compact, "segment.bytes": &segment, "min.insync.replicas": &minISRValue},
	}
	var err error
	if c.cfg.CreateTopic != nil {
		err = c.cfg.CreateTopic(ctx, spec)
	} else {
		err = c.cfg.Metadata.CreateTopics([]controller.TopicSpec{spec}, false)[0].Err
	}
	if err != nil && !errors.Is(err, controller.ErrTopicExists) {
		c.logger.Error("cannot create the transaction state topic", "err", err)
		return fmt.Errorf("%w: create %s: %v", ErrCoordinatorNotAvailable, StateTopic, err)
	}
	if err == nil {
		c.logger.Info("created the transaction state topic", "topic", StateTopic, "partitions", tc.StateLogPartitions)
	}
	if _, ok := c.cfg.Metadata.Image().Topics[StateTopic]; !ok {
		return fmt.Errorf("%w: %s is being created", ErrCoordinatorNotAvailable, StateTopic)
	}
	return nil
}

// FindCoordinator returns the node coordinating the transactional id,
// creating the state topic first if needed; when it is this node it waits
// briefly for the partition to load.
func (c *Coordinator) FindCoordinator(ctx context.Context, id string) (int32, error) {
	if err := c.EnsureStateTopic(ctx); err != nil {
		return -1, err
	}
	im := c.cfg.Metadata.Image()
	t := im.Topics[StateTopic]
	if t == nil || len(t.Partitions) == 0 {
		return -1, ErrCoordinatorNotAvailable
	}
	p := t.Partitions[PartitionFor(id, int32(len(t.Partitions)))]
	if _, ok := im.Brokers[p.Leader]; !ok {
		return -1, ErrCoordinatorNotAvailable
	}
	if p.Leader == c.cfg.NodeID {
		if s, err := c.shardFor(id); errors.Is(err, ErrLoadInProgress) && s != nil {
			timer := time.NewTimer(2 * time.Second)
			defer timer.Stop()
			select {
			case <-s.loadDone:
			case <-timer.C:
			case <-ctx.Done():
			case <-s.stop:
			}
		}
	}
	return p.Leader, nil
}

// shardFor returns the loaded shard of id (and the loading one with
// ErrLoadInProgress).
func (c *Coordinator) shardFor(id string) (*shard, error) {
	im := c.cfg.Metadata.Image()
	t := im.Topics[StateTopic]
	if t == nil || len(t.Partitions) == 0 {
		return nil, ErrNotCoordinator
	}
	index := PartitionFor(id, int32(len(t.Partitions)))
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
		s = c.startShardLocked(index, t.Partitions[index].LeaderEpoch)
	}
	c.mu.Unlock()
	switch {
	case s == nil:
		return nil, ErrNotCoordinator
	case s.failed.Load():
		return nil, ErrCoordinatorNotAvailable
	case !s.loaded.Load():
		return s, ErrLoadInProgress
	}
	return s, nil
}

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

func replier[T any]() (chan T, func(T)) {
	ch := make(chan T, 1)
	return ch, func(v T) {
		select {
		case ch <- v:
		default:
		}
	}
}

// call runs fn on id's shard and waits for the value it replies.
func call[T any](ctx context.Context, c *Coordinator, id string, fn func(now time.Time, set *txnSet, reply func(T))) (T, error) {
	var zero T
	s, err := c.shardFor(id)
	if err != nil {
		return zero, err
	}
	ch, reply := replier[T]()
	if err := s.do(ctx, func(now time.Time) { fn(now, s.set, reply) }); err != nil {
		return zero, err
	}
	return wait(ctx, s, ch)
}

// InitProducerID serves InitProducerId for a transactional id.
func (c *Coordinator) InitProducerID(ctx context.Context, req InitRequest) InitResult {
	r, err := call(ctx, c, req.ID, func(now time.Time, set *txnSet, reply func(InitResult)) {
		set.initProducerID(now, req, reply)
	})
	if err != nil {
		return InitResult{ProducerID: -1, ProducerEpoch: -1, Err: err}
	}
	return r
}

// AddPartitions adds partitions to the producer's transaction.
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pid int64, epoch int16, tps []TopicPartition) error {
	err, callErr := call(ctx, c, id, func(now time.Time, set *txnSet, reply func(error)) {
		set.addPartitions(now, id, pid, epoch, tps, reply)
	})
	return errors.Join(callErr, err)
}

// VerifyPartitions checks that partitions are in the producer's ongoing
// transaction (KIP-890 part 1); one error per partition.
func (c *Coordinator) VerifyPartitions(ctx context.Context, id string, pid int64, epoch int16, tps []TopicPartition) []error {
	errs, err := call(ctx, c, id, func(_ time.Time, set *txnSet, reply func([]error)) {
		reply(set.verifyPartitions(id, pid, epoch, tps))
	})
	if err != nil {
		errs = make([]error, len(tps))
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// EndTxn commits or aborts the producer's transaction.
func (c *Coordinator) EndTxn(ctx context.Context, req EndRequest) EndResult {
	r, err := call(ctx, c, req.ID, func(now time.Time, set *txnSet, reply func(EndResult)) {
		set.endTxn(now, req, reply)
	})
	if err != nil {
		return EndResult{ProducerID: -1, ProducerEpoch: -1, Err: err}
	}
	return r
}

// Describe returns the state of a transactional id.
func (c *Coordinator) Describe(ctx context.Context, id string) (Metadata, error) {
	type result struct {
		m   Metadata
		err error
	}
	r, err := call(ctx, c, id, func(_ time.Time, set *txnSet, reply func(result)) {
		m, err := set.describe(id)
		reply(result{m, err})
	})
	if err != nil {
		return Metadata{ID: id}, err
	}
	return r.m, r.err
}

// List lists the transactions of every loaded shard; ErrLoadInProgress
// while some shard loads (the others' are returned anyway).
func (c *Coordinator) List(ctx context.Context, f Filter) ([]Metadata, error) {
	c.mu.Lock()
	shards := slices.Collect(maps.Values(c.mu.shards))
	c.mu.Unlock()
	var out []Metadata
	var loadErr error
	for _, s := range shards {
		if s.failed.Load() {
			continue
		}
		if !s.loaded.Load() {
			loadErr = ErrLoadInProgress
			continue
		}
		ch, reply := replier[[]Metadata]()
		if err := s.do(ctx, func(now time.Time) { reply(s.set.list(now, f)) }); err != nil {
			continue
		}
		list, err := wait(ctx, s, ch)
		if err != nil {
			continue
		}
		out = append(out, list...)
	}
	slices.SortFunc(out, func(a, b Metadata) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, loadErr
}
