package controller

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/metadata"
)

// Errors a caller maps to Kafka codes. Each is wrapped with a message
// for the user.
var (
	ErrTopicExists              = errors.New("topic already exists")
	ErrUnknownTopic             = errors.New("unknown topic")
	ErrInvalidTopic             = errors.New("invalid topic")
	ErrInvalidPartitions        = errors.New("invalid number of partitions")
	ErrInvalidReplicationFactor = errors.New("invalid replication factor")
	ErrInvalidReplicaAssignment = errors.New("invalid replica assignment")
	ErrInvalidConfig            = config.ErrInvalidConfig
	ErrNotController            = errors.New("not the active controller")
)

// Log is the committed metadata log. Append returns once the records are
// committed and applied: the log calls the controller's Apply for every
// committed record, in order, on every node, before Append returns on the
// node that proposed them.
type Log interface {
	Append(records ...[]byte) (int64, error)
}

// Leadership is implemented by logs with a leader (the Raft quorum); a
// controller whose log lacks it always acts as the active controller.
type Leadership interface {
	IsLeader() bool
	LeaderID() uint64
}

// Defaults are the broker settings that shape created topics.
type Defaults struct {
	NumPartitions            int32
	DefaultReplicationFactor int16
}

// Controller owns metadata changes. Safe for concurrent use.
//
// Locking: mu serialises proposals (validate against the image, then
// append). Apply runs on the log's goroutine and takes only listenersMu, so
// a proposal waiting in Append under mu never blocks it.
type Controller struct {
	logBox   atomic.Pointer[logBox] // set once; read without locks
	defaults Defaults
	logger   *slog.Logger
	image    atomic.Pointer[metadata.Image]
	// tail is the newest committed batches, for observers.
	tail recordTail

	listenersMu sync.Mutex
	listeners   []func(*metadata.Image, *metadata.Delta)

	// elections and uncleanElections count leader changes this node
	// committed (metrics).
	elections, uncleanElections atomic.Uint64

	mu struct {
		sync.Mutex
		cluster       ClusterConfig
		heartbeats    map[int32]time.Time // soft state of the active controller
		registeredAt  map[int32]int64     // metadata offset after each broker's last registration (soft state)
		reported      map[int32]int64     // metadata offset each broker reported in its last heartbeat (soft state)
		lastRebalance time.Time
	}
}

// NewStateMachine returns a controller with an empty image; the log it is
// then attached to (SetLog) replays committed records into it via Apply.
func NewStateMachine(defaults Defaults, logger *slog.Logger) *Controller {
	c := &Controller{defaults: defaults, logger: logger}
	c.image.Store(metadata.Empty())
	return c
}

// SetLog attaches the committed log proposals go to.
func (c *Controller) SetLog(log Log) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logBox.Store(&logBox{log})
}

// New returns a controller over log after replaying the already committed
// records; used with logs that do not call Apply themselves (MemLog does).
func New(log Log, committed [][]byte, defaults Defaults, logger *slog.Logger) (*Controller, error) {
	c := NewStateMachine(defaults, logger)
	b := metadata.NewBuilder(c.image.Load())
	for i, raw := range committed {
		r, err := metadata.DecodeRecord(raw)
		if err == nil {
			err = b.Apply(int64(i), r)
		}
		if err != nil {
			return nil, fmt.Errorf("metadata record %d: %w", i, err)
		}
	}
	im, _ := b.Build()
	c.image.Store(im)
	c.tail.reset(int64(len(committed)))
	c.logBox.Store(&logBox{log})
	return c, nil
}

// Image returns the current committed image.
func (c *Controller) Image() *metadata.Image { return c.image.Load() }

// Subscribe registers fn to be called with every new image, in commit
// order, from the goroutine that applies committed records. fn must not
// block or do I/O: it runs on the Raft apply path.
func (c *Controller) Subscribe(fn func(*metadata.Image)) {
	c.SubscribeDelta(func(im *metadata.Image, _ *metadata.Delta) { fn(im) })
}

// SubscribeDelta registers fn to be called with every new image and what
// changed since the previous one (one call per committed batch, in commit
// order; a full delta after a snapshot restore), from the goroutine that
// applies committed records. fn must not block or do I/O: it runs on the
// Raft apply path (a broker's publisher only stores the newest pair).
func (c *Controller) SubscribeDelta(fn func(*metadata.Image, *metadata.Delta)) {
	c.listenersMu.Lock()
	defer c.listenersMu.Unlock()
	c.listeners = append(c.listeners, fn)
}

// Apply applies one committed record (quorum.StateMachine).
func (c *Controller) Apply(offset int64, raw []byte) {
	c.ApplyBatch(offset, [][]byte{raw})
}

// ApplyBatch applies the records of one proposal and publishes the image
// once, so no reader or listener ever sees half a proposal (a topic with
// some of its partitions). The image is built copy-on-write (a
// metadata.Builder), so a batch costs what it changes, not the size of
// the image. A record that does not fit the image is logged and skipped:
// every node skips it alike. No broker I/O happens here.
func (c *Controller) ApplyBatch(first int64, records [][]byte) {
	b := metadata.NewBuilder(c.image.Load())
	for i, raw := range records {
		offset := first + int64(i)
		r, err := metadata.DecodeRecord(raw)
		if err == nil {
			err = b.Apply(offset, r)
		}
		if err != nil {
			c.logger.Error("skipping metadata record", "offset", offset, "err", err)
			b.Skip(offset)
		}
	}
	im, delta := b.Build()
	c.tail.add(first, records)
	c.publish(im, delta)
}

// publish stores im and hands it to the listeners.
func (c *Controller) publish(im *metadata.Image, delta *metadata.Delta) {
	c.image.Store(im)
	c.listenersMu.Lock()
	listeners := c.listeners
	c.listenersMu.Unlock()
	for _, fn := range listeners {
		fn(im, delta)
	}
}

// Snapshot returns the image as records that rebuild it (quorum.StateMachine).
func (c *Controller) Snapshot() ([]byte, error) {
	return metadata.EncodeSnapshot(c.image.Load())
}

// Restore replaces the image with a snapshot's (quorum.StateMachine).
func (c *Controller) Restore(snapshot []byte, nextOffset int64) error {
	im, err := metadata.DecodeSnapshot(snapshot, nextOffset-1)
	if err != nil {
		return err
	}
	c.tail.reset(nextOffset)
	c.publish(im, metadata.FullDelta())
	return nil
}

// IsActive reports whether this node's controller may propose: it leads
// the quorum (or the log has no leadership).
func (c *Controller) IsActive() bool {
	if l, ok := c.log().(Leadership); ok {
		return l.IsLeader()
	}
	return c.log() != nil
}

// IsVoter reports whether this node's controller is part of the quorum
// (its image comes from the committed log, not from another node).
func (c *Controller) IsVoter() bool {
	_, observer := c.log().(*ObserverLog)
	return c.log() != nil && !observer
}

// ObserverLog is the log of a broker-only node: it proposes nothing
// (Append fails with ErrNotController) and knows the active controller
// from the voter it copies its metadata from.
type ObserverLog struct {
	leader atomic.Int32
}

// Append implements Log; observers never propose.
func (o *ObserverLog) Append(...[]byte) (int64, error) { return 0, ErrNotController }

// IsLeader implements Leadership.
func (o *ObserverLog) IsLeader() bool { return false }

// LeaderID implements Leadership: the last active controller heard of.
func (o *ObserverLog) LeaderID() uint64 {
	if id := o.leader.Load(); id > 0 {
		return uint64(id)
	}
	return 0
}

// SetLeader records the active controller.
func (o *ObserverLog) SetLeader(id int32) { o.leader.Store(id) }

// ActiveID returns the node id of the active controller, -1 if unknown.
func (c *Controller) ActiveID(self int32) int32 {
	if l, ok := c.log().(Leadership); ok {
		if id := l.LeaderID(); id != 0 {
			return int32(id)
		}
		return -1
	}
	return self
}

// commitLocked appends records; the log applies them (Apply) before
// Append returns.
func (c *Controller) commitLocked(records []metadata.Record) error {
	if len(records) == 0 {
		return nil
	}
	log := c.log()
	if log == nil {
		return ErrNotController
	}
	elections, unclean := countElections(c.image.Load(), records)
	raw := make([][]byte, len(records))
	for i, r := range records {
		b, err := r.Encode()
		if err != nil {
			return err
		}
		raw[i] = b
	}
	if _, err := log.Append(raw...); err != nil {
		// A log with leadership reports ErrNotController itself.
		return fmt.Errorf("commit metadata: %w", err)
	}
	c.elections.Add(elections)
	c.uncleanElections.Add(unclean)
	return nil
}

// countElections counts the records that give an existing partition a new
// leader, and those whose new leader was not in the ISR (unclean).
func countElections(im *metadata.Image, records []metadata.Record) (elections, unclean uint64) {
	for _, r := range records {
		pr := r.Partition
		if pr == nil || pr.Leader < 0 {
			continue
		}
		t, ok := im.Topics[im.TopicIDs[pr.TopicID]]
		if !ok || int(pr.Partition) >= len(t.Partitions) || pr.Partition < 0 {
			continue // a new partition: its first leader is no election
		}
		old := t.Partitions[pr.Partition]
		if old.Leader == pr.Leader {
			continue
		}
		elections++
		if !slices.Contains(old.ISR, pr.Leader) {
			unclean++
		}
	}
	return elections, unclean
}

// Stats are counters for metrics.
type Stats struct {
	// LeaderElections and UncleanLeaderElections count leader changes this
	// node committed while it was the active controller.
	LeaderElections, UncleanLeaderElections uint64
	// BrokerMetadataOffsets is, on the active controller, the metadata
	// offset each broker reported in its last heartbeat.
	BrokerMetadataOffsets map[int32]int64
}

// Stats returns the controller's counters.
func (c *Controller) Stats() Stats {
	s := Stats{LeaderElections: c.elections.Load(), UncleanLeaderElections: c.uncleanElections.Load()}
	if c.IsActive() {
		c.mu.Lock()
		s.BrokerMetadataOffsets = maps.Clone(c.mu.reported)
		c.mu.Unlock()
	}
	return s
}

// MemLog is an in-memory committed log that applies each record to its
// controller at once: the one-process stand-in for the quorum (tests and
// in-process clusters).
type MemLog struct {
	mu      sync.Mutex
	sm      interface{ ApplyBatch(int64, [][]byte) }
	records [][]byte
}

// NewMemLog returns a controller over an in-memory log.
func NewMemLog(defaults Defaults, logger *slog.Logger) (*Controller, *MemLog) {
	c := NewStateMachine(defaults, logger)
	m := &MemLog{sm: c}
	c.logBox.Store(&logBox{m})
	return c, m
}

// Append implements Log.
func (m *MemLog) Append(records ...[]byte) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	first := int64(len(m.records))
	m.records = append(m.records, records...)
	m.sm.ApplyBatch(first, records)
	return first, nil
}

// Records returns a copy of every committed record.
func (m *MemLog) Records() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.records...)
}

// Bootstrap gives a new cluster its id and registers (or re-registers) the
// local broker.
func (c *Controller) Bootstrap(b metadata.RegisterBrokerRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	var recs []metadata.Record
	if im.ClusterID == "" {
		recs = append(recs, metadata.Record{ClusterID: &metadata.ClusterIDRecord{ClusterID: newClusterID()}})
	}
	if old, ok := im.Brokers[b.BrokerID]; !ok || old.Host != b.Host || old.Port != b.Port || old.Rack != b.Rack ||
		old.InterBrokerHost != b.InterBrokerHost || old.InterBrokerPort != b.InterBrokerPort ||
		old.MaxPartitions != b.MaxPartitions || !slices.Equal(old.Listeners, b.Listeners) {
		rec := b
		recs = append(recs, metadata.Record{RegisterBroker: &rec})
	}
	if err := c.commitLocked(recs); err != nil {
		return err
	}
	if c.mu.registeredAt == nil {
		c.mu.registeredAt = map[int32]int64{}
	}
	c.mu.registeredAt[b.BrokerID] = c.image.Load().Offset
	return nil
}

// TopicSpec is one topic to create.
type TopicSpec struct {
	Name              string
	NumPartitions     int32 // -1: num.partitions
	ReplicationFactor int16 // -1: default.replication.factor
	// Assignment, when set, gives the replicas of each partition explicitly.
	Assignment [][]int32
	Configs    map[string]*string
}

// TopicResult is the outcome of one TopicSpec.
type TopicResult struct {
	Name              string
	ID                [16]byte
	NumPartitions     int32
	ReplicationFactor int16
	Configs           map[string]string
	Err               error
}

// CreateTopics validates every spec and commits those that pass. With
// validateOnly nothing is committed. A name given more than once is
// created under none of its specs and gets one result, at its first
// position, with ErrInvalidRequest (Kafka's ControllerApis.createTopics:
// INVALID_REQUEST "Duplicate topic name."), so results may be fewer than
// specs.
func (c *Controller) CreateTopics(specs []TopicSpec, validateOnly bool) []TopicResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	count := map[string]int{}
	for _, s := range specs {
		count[s.Name]++
	}
	results := make([]TopicResult, 0, len(specs))
	var recs []metadata.Record
	seen := map[string]bool{}
	hosted := hostedReplicas(im)
	for _, s := range specs {
		if seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		results = append(results, TopicResult{Name: s.Name})
		res := &results[len(results)-1]
		switch {
		case count[s.Name] > 1:
			res.Err = fmt.Errorf("%w: Duplicate topic name.", ErrInvalidRequest)
			continue
		case s.Name == metadataTopic:
			res.Err = fmt.Errorf("%w: Creation of internal topic %s is prohibited.", ErrInvalidRequest, metadataTopic)
			continue
		}
		topicRecs, err := c.planTopic(im, s, res, hosted)
		if err != nil {
			res.Err = err
			continue
		}
		recs = append(recs, topicRecs...)
	}
	if validateOnly || len(recs) == 0 {
		return results
	}
	if err := c.commitLocked(recs); err != nil {
		for i := range results {
			if results[i].Err == nil {
				results[i].Err = err
			}
		}
	}
	return results
}

// metadataTopic is the name of the metadata log's topic, which Kafka
// reserves.
const metadataTopic = "__cluster_metadata"

func (c *Controller) planTopic(im *metadata.Image, s TopicSpec, res *TopicResult, hosted hostedCounts) ([]metadata.Record, error) {
	if err := config.ValidTopicName(s.Name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidTopic, err)
	}
	if _, ok := im.Topics[s.Name]; ok {
		return nil, fmt.Errorf("%w: topic %q already exists", ErrTopicExists, s.Name)
	}
	norm := strings.ReplaceAll(s.Name, ".", "_")
	for name := range im.Topics {
		if strings.ReplaceAll(name, ".", "_") == norm {
			return nil, fmt.Errorf("%w: topic %q collides with existing topic %q ('.' and '_' are treated alike in metric names)", ErrInvalidTopic, s.Name, name)
		}
	}
	var nullConfigs []string
	for k, v := range s.Configs {
		if v == nil {
			nullConfigs = append(nullConfigs, k)
		}
	}
	if len(nullConfigs) > 0 {
		// ReplicationControlManager.computeConfigChanges
		sort.Strings(nullConfigs)
		return nil, fmt.Errorf("%w: Null value not supported for topic configs: %s", ErrInvalidConfig, strings.Join(nullConfigs, ","))
	}
	for k, v := range s.Configs {
		if err := config.ValidateTopicConfig(k, v); err != nil {
			return nil, err
		}
		if v != nil {
			if err := config.ValidateInternalTopicConfig(s.Name, k, v); err != nil {
				return nil, err
			}
		}
	}
	brokers := liveBrokers(im)
	var assignment [][]int32
	if len(s.Assignment) > 0 {
		if s.NumPartitions != -1 || s.ReplicationFactor != -1 {
			return nil, fmt.Errorf("%w: both a replica assignment and partitions/replication factor were given", ErrInvalidRequest)
		}
		for p, replicas := range s.Assignment {
			if len(replicas) == 0 {
				return nil, fmt.Errorf("%w: partition %d has no replicas", ErrInvalidReplicaAssignment, p)
			}
			if len(replicas) != len(s.Assignment[0]) {
				return nil, fmt.Errorf("%w: partitions have different replica counts", ErrInvalidReplicaAssignment)
			}
			dup := map[int32]bool{}
			for _, r := range replicas {
				if _, ok := im.Brokers[r]; !ok {
					return nil, fmt.Errorf("%w: broker %d does not exist", ErrInvalidReplicaAssignment, r)
				}
				if dup[r] {
					return nil, fmt.Errorf("%w: broker %d listed twice for partition %d", ErrInvalidReplicaAssignment, r, p)
				}
				dup[r] = true
			}
		}
		assignment = s.Assignment
	} else {
		// The replication factor is checked before the partition count,
		// as ReplicationControlManager.createTopic does.
		if s.ReplicationFactor < -1 || s.ReplicationFactor == 0 {
			return nil, fmt.Errorf("%w: Replication factor must be larger than 0, or -1 to use the default value.", ErrInvalidReplicationFactor)
		}
		if s.NumPartitions < -1 || s.NumPartitions == 0 {
			return nil, fmt.Errorf("%w: Number of partitions was set to an invalid non-positive value.", ErrInvalidPartitions)
		}
		n := s.NumPartitions
		if n == -1 {
			n = c.defaults.NumPartitions
		}
		if n > 100000 {
			return nil, fmt.Errorf("%w: %d partitions is over the limit of 100000", ErrInvalidPartitions, n)
		}
		rf := s.ReplicationFactor
		if rf == -1 {
			rf = c.defaults.DefaultReplicationFactor
		}
		if rf <= 0 {
			return nil, fmt.Errorf("%w: replication factor must be larger than 0, got %d", ErrInvalidReplicationFactor, rf)
		}
		if int(rf) > len(brokers) {
			return nil, fmt.Errorf("%w: replication factor %d is larger than the %d available brokers", ErrInvalidReplicationFactor, rf, len(brokers))
		}
		assignment = assign(im, brokers, int(n), int(rf), len(im.Topics))
	}
	if err := hosted.place(im, assignment); err != nil {
		return nil, fmt.Errorf("%w: topic %q: %w", ErrPolicyViolation, s.Name, err)
	}
	id := newTopicID()
	for im.TopicIDs[id] != "" {
		id = newTopicID()
	}
	res.ID = id
	res.NumPartitions = int32(len(assignment))
	res.ReplicationFactor = int16(len(assignment[0]))
	res.Configs = map[string]string{}
	recs := []metadata.Record{{Topic: &metadata.TopicRecord{Name: s.Name, ID: id}}}
	for k, v := range s.Configs {
		if v == nil {
			continue
		}
		c.logDeprecated(s.Name, k, *v)
		res.Configs[k] = *v
		recs = append(recs, metadata.Record{Config: &metadata.ConfigRecord{
			ResourceType: metadata.ResourceTopic, ResourceName: s.Name, Name: k, Value: v,
		}})
	}
	for p, replicas := range assignment {
		recs = append(recs, metadata.Record{Partition: &metadata.PartitionRecord{
			TopicID: id, Partition: int32(p), Replicas: replicas, ISR: append([]int32(nil), replicas...),
			Leader: replicas[0], LeaderEpoch: 0,
		}})
	}
	return recs, nil
}

// ErrInvalidRequest marks requests that contradict themselves.
var ErrInvalidRequest = errors.New("invalid request")

// liveBrokers returns the unfenced brokers in the order assignments walk
// them: ids sorted within each rack, racks interleaved (rack a's first,
// rack b's first, ..., rack a's second, ...), so consecutive brokers sit
// in different racks and the replicas of a partition spread over racks
// whenever the replication factor allows (rack-aware assignment).
func liveBrokers(im *metadata.Image) []int32 {
	byRack := map[string][]int32{}
	var racks []string
	for _, id := range im.BrokerIDs() {
		b := im.Brokers[id]
		if b.Fenced {
			continue
		}
		if _, ok := byRack[b.Rack]; !ok {
			racks = append(racks, b.Rack)
		}
		byRack[b.Rack] = append(byRack[b.Rack], id)
	}
	sort.Strings(racks)
	var out []int32
	for i := 0; len(out) < len(im.Brokers); i++ {
		added := false
		for _, r := range racks {
			if i < len(byRack[r]) {
				out = append(out, byRack[r][i])
				added = true
			}
		}
		if !added {
			break
		}
	}
	return out
}

// assign spreads partitions over brokers round robin, starting at an offset
// that differs per topic so leaders of many topics spread too. Each
// further replica is the next broker in the list whose rack the partition
// does not use yet, while racks remain (rack-aware assignment).
func assign(im *metadata.Image, brokers []int32, partitions, rf, salt int) [][]int32 {
	racks := map[string]bool{}
	for _, id := range brokers {
		racks[im.Brokers[id].Rack] = true
	}
	out := make([][]int32, partitions)
	for p := range out {
		replicas := make([]int32, 0, rf)
		used := map[string]bool{}
		for i := 0; len(replicas) < rf && i < 2*len(brokers); i++ {
			id := brokers[(salt+p+i)%len(brokers)]
			if slices.Contains(replicas, id) {
				continue
			}
			rack := im.Brokers[id].Rack
			if used[rack] && len(used) < len(racks) && i < len(brokers) {
				continue // another rack is still free
			}
			used[rack] = true
			replicas = append(replicas, id)
		}
		out[p] = replicas
	}
	return out
}

// DeleteTopics removes the named topics; one error per name (nil on success).
func (c *Controller) DeleteTopics(names []string) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	errs := make([]error, len(names))
	var recs []metadata.Record
	seen := map[string]bool{}
	for i, n := range names {
		t, ok := im.Topics[n]
		switch {
		case !ok:
			errs[i] = fmt.Errorf("%w: topic %q does not exist", ErrUnknownTopic, n)
		case seen[n]:
			errs[i] = fmt.Errorf("%w: topic %q appears twice in the request", ErrInvalidRequest, n)
		case config.IsInternalTopic(n):
			// Kafka's precedent for a prohibited internal topic is
			// ControllerApis.createTopics: INVALID_REQUEST, "Creation of
			// internal topic __cluster_metadata is prohibited."
			errs[i] = fmt.Errorf("%w: deletion of internal topic %s is prohibited", ErrInvalidRequest, n)
		default:
			seen[n] = true
			recs = append(recs, metadata.Record{RemoveTopic: &metadata.RemoveTopicRecord{ID: t.ID}})
		}
	}
	if err := c.commitLocked(recs); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// AllocateProducerIDs commits a block of count producer ids for a broker
// and returns the first id of the block.
func (c *Controller) AllocateProducerIDs(brokerID int32, count int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.image.Load().NextProducerID
	rec := metadata.Record{ProducerIDs: &metadata.ProducerIDsRecord{BrokerID: brokerID, NextProducerID: start + count}}
	if err := c.commitLocked([]metadata.Record{rec}); err != nil {
		return 0, err
	}
	return start, nil
}

// AlterTopicConfigs sets (or with a nil value deletes) topic configs.
func (c *Controller) AlterTopicConfigs(topic string, set map[string]*string, validateOnly bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	if _, ok := im.Topics[topic]; !ok {
		return fmt.Errorf("%w: topic %q does not exist", ErrUnknownTopic, topic)
	}
	var recs []metadata.Record
	for k, v := range set {
		if err := config.ValidateTopicConfig(k, v); err != nil {
			return err
		}
		if err := config.ValidateInternalTopicConfig(topic, k, v); err != nil {
			return err
		}
		recs = append(recs, metadata.Record{Config: &metadata.ConfigRecord{
			ResourceType: metadata.ResourceTopic, ResourceName: topic, Name: k, Value: v,
		}})
	}
	if validateOnly {
		return nil
	}
	return c.commitLocked(recs)
}

func newTopicID() [16]byte {
	var id [16]byte
	for id == ([16]byte{}) {
		_, _ = rand.Read(id[:])
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80
	}
	return id
}

// newClusterID returns a 22-character URL-safe base64 UUID, as Kafka's
// cluster ids are.
func newClusterID() string {
	id := newTopicID()
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// logBox holds the controller's log so it can be swapped atomically.
type logBox struct{ Log }

// log returns the attached log, nil before SetLog.
func (c *Controller) log() Log {
	if b := c.logBox.Load(); b != nil {
		return b.Log
	}
	return nil
}
