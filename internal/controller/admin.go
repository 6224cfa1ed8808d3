package controller

// Cluster admin proposals: CreatePartitions, ElectLeaders and topic config
// changes (AlterConfigs, IncrementalAlterConfigs).

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/metadata"
)

// Errors of leader elections, mapped to Kafka codes by internal/api.
var (
	// ErrElectionNotNeeded: the partition already has the leader the
	// election would give it.
	ErrElectionNotNeeded = errors.New("election not needed")
	// ErrPreferredLeaderNotAvailable: the preferred replica is fenced or
	// out of sync.
	ErrPreferredLeaderNotAvailable = errors.New("preferred leader not available")
	// ErrEligibleLeadersNotAvailable: no replica of the partition is alive.
	ErrEligibleLeadersNotAvailable = errors.New("eligible leaders not available")
)

// PartitionsSpec is one topic of a CreatePartitions request.
type PartitionsSpec struct {
	Topic string
	// Count is the total number of partitions wanted.
	Count int32
	// Assignment, when set, gives the replicas of each new partition.
	Assignment [][]int32
}

// CreatePartitions adds partitions to topics; one error per spec (nil on
// success). A topic named twice fails in every spec that names it. With validateOnly nothing is committed. New partitions are
// spread over the unfenced brokers round robin, continuing where the
// topic's existing partitions leave off.
func (c *Controller) CreatePartitions(specs []PartitionsSpec, validateOnly bool) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	errs := make([]error, len(specs))
	var recs []metadata.Record
	count := map[string]int{}
	for _, s := range specs {
		count[s.Topic]++
	}
	hosted := hostedReplicas(im)
	for i, s := range specs {
		if count[s.Topic] > 1 {
			// ControllerApis.createPartitions: none of the entries apply.
			errs[i] = fmt.Errorf("%w: Duplicate topic name.", ErrInvalidRequest)
			continue
		}
		topicRecs, err := planPartitions(im, s, hosted)
		if err != nil {
			errs[i] = err
			continue
		}
		recs = append(recs, topicRecs...)
	}
	if validateOnly {
		return errs
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

func planPartitions(im *metadata.Image, s PartitionsSpec, hosted hostedCounts) ([]metadata.Record, error) {
	t, ok := im.Topics[s.Topic]
	if !ok {
		return nil, fmt.Errorf("%w: topic %q does not exist", ErrUnknownTopic, s.Topic)
	}
	have := int32(len(t.Partitions))
	switch {
	case s.Count < have:
		return nil, fmt.Errorf("%w: topic %q has %d partitions; the count can only grow, not go down to %d", ErrInvalidPartitions, s.Topic, have, s.Count)
	case s.Count == have:
		return nil, fmt.Errorf("%w: topic %q already has %d partitions", ErrInvalidPartitions, s.Topic, have)
	case s.Count > 100000:
		return nil, fmt.Errorf("%w: %d partitions is over the limit of 100000", ErrInvalidPartitions, s.Count)
	case config.IsInternalTopic(s.Topic):
		// Kafka's controller has no such check (ReplicationControlManager.
		// createPartitions); its tools refused it. arus refuses at the
		// controller with the code Kafka uses for partition counts: a group
		// or transactional id maps to a partition by hash modulo the count,
		// so more partitions would orphan committed offsets and state.
		return nil, fmt.Errorf("%w: the number of partitions of internal topic %s cannot be changed", ErrInvalidPartitions, s.Topic)
	}
	add := int(s.Count - have)
	rf := 1
	if have > 0 {
		p0 := t.Partitions[0]
		rf = len(p0.Replicas) - len(p0.RemovingReplicas)
	}
	var assignment [][]int32
	if s.Assignment != nil {
		if len(s.Assignment) != add {
			return nil, fmt.Errorf("%w: %d partitions are added but %d assignments were given", ErrInvalidReplicaAssignment, add, len(s.Assignment))
		}
		for i, replicas := range s.Assignment {
			if err := validateReplicas(im, replicas); err != nil {
				return nil, fmt.Errorf("new partition %d: %w", int(have)+i, err)
			}
			if len(replicas) != rf {
				return nil, fmt.Errorf("%w: new partition %d has %d replicas, the topic's partitions have %d", ErrInvalidReplicaAssignment, int(have)+i, len(replicas), rf)
			}
		}
		assignment = s.Assignment
	} else {
		var live []int32
		for _, id := range im.BrokerIDs() {
			if !im.Brokers[id].Fenced {
				live = append(live, id)
			}
		}
		if rf > len(live) {
			return nil, fmt.Errorf("%w: replication factor %d is larger than the %d available brokers", ErrInvalidReplicationFactor, rf, len(live))
		}
		// Continue the round robin from where partition 0 started, so a
		// topic grown later is spread as if created with the final count.
		start := 0
		if have > 0 {
			if i := slices.Index(live, t.Partitions[0].Replicas[0]); i >= 0 {
				start = i
			}
		}
		assignment = assign(im, live, int(s.Count), rf, start)[have:]
	}
	if err := hosted.place(im, assignment); err != nil {
		return nil, fmt.Errorf("%w: topic %q: %w", ErrInvalidPartitions, s.Topic, err)
	}
	var recs []metadata.Record
	for i, replicas := range assignment {
		var isr []int32
		for _, r := range replicas {
			if !im.Brokers[r].Fenced {
				isr = append(isr, r)
			}
		}
		if len(isr) == 0 {
			return nil, fmt.Errorf("%w: every broker of new partition %d (%v) is fenced", ErrInvalidReplicaAssignment, int(have)+i, replicas)
		}
		recs = append(recs, metadata.Record{Partition: &metadata.PartitionRecord{
			TopicID: t.ID, Partition: have + int32(i), Replicas: slices.Clone(replicas), ISR: isr, Leader: isr[0],
		}})
	}
	return recs, nil
}

// ElectionType is the kind of ElectLeaders election, numbered as Kafka's.
type ElectionType int8

// Election types.
const (
	// ElectPreferred moves leadership to the first replica when it is
	// alive and in sync.
	ElectPreferred ElectionType = 0
	// ElectUnclean elects a leader for partitions that have none: an
	// in-sync replica if one is alive, else any live replica (which may
	// lose acknowledged records).
	ElectUnclean ElectionType = 1
)

// ElectionResult is the outcome of one partition's election.
type ElectionResult struct {
	Topic     string
	Partition int32
	Err       error
}

// ElectLeaders runs elections (Kafka's ElectLeaders). filter names the
// topics and partitions (an empty partition list: every partition of the
// topic); nil means every partition, and then partitions that needed no
// election are left out of the results, as Kafka does.
func (c *Controller) ElectLeaders(typ ElectionType, filter map[string][]int32) ([]ElectionResult, error) {
	if typ != ElectPreferred && typ != ElectUnclean {
		return nil, fmt.Errorf("%w: unknown election type %d", ErrInvalidRequest, typ)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	var results []ElectionResult
	var recs []metadata.Record
	elect := func(t *metadata.Topic, p metadata.Partition) {
		rec, err := planElection(im, typ, t, p)
		if filter == nil && errors.Is(err, ErrElectionNotNeeded) {
			return
		}
		results = append(results, ElectionResult{Topic: t.Name, Partition: p.Index, Err: err})
		if rec != nil {
			recs = append(recs, *rec)
		}
	}
	if filter == nil {
		for _, name := range im.TopicNames() {
			t := im.Topics[name]
			for _, p := range t.Partitions {
				elect(t, p)
			}
		}
	} else {
		names := make([]string, 0, len(filter))
		for n := range filter {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, name := range names {
			t := im.Topics[name]
			parts := filter[name]
			if len(parts) == 0 && t != nil {
				for _, p := range t.Partitions {
					parts = append(parts, p.Index)
				}
			}
			for _, i := range parts {
				if t == nil || i < 0 || int(i) >= len(t.Partitions) {
					results = append(results, ElectionResult{Topic: name, Partition: i,
						Err: fmt.Errorf("%w: %s-%d", ErrUnknownTopic, name, i)})
					continue
				}
				elect(t, t.Partitions[i])
			}
		}
	}
	if len(recs) > 0 {
		c.logger.Info("leader election", "type", typ, "partitions", len(recs))
	}
	if err := c.commitLocked(recs); err != nil {
		return nil, err
	}
	return results, nil
}

// planElection returns the record electing a new leader for p, or the
// reason there is none.
func planElection(im *metadata.Image, typ ElectionType, t *metadata.Topic, p metadata.Partition) (*metadata.Record, error) {
	live := func(r int32) bool {
		b, ok := im.Brokers[r]
		return ok && !b.Fenced
	}
	if typ == ElectPreferred {
		preferred := p.Replicas[0]
		switch {
		case p.Leader == preferred:
			return nil, fmt.Errorf("%w: broker %d, the preferred replica, already leads %s-%d", ErrElectionNotNeeded, preferred, t.Name, p.Index)
		case !live(preferred):
			return nil, fmt.Errorf("%w: broker %d, the preferred replica of %s-%d, is not alive", ErrPreferredLeaderNotAvailable, preferred, t.Name, p.Index)
		case !slices.Contains(p.ISR, preferred):
			return nil, fmt.Errorf("%w: broker %d, the preferred replica of %s-%d, is not in the ISR %v", ErrPreferredLeaderNotAvailable, preferred, t.Name, p.Index, p.ISR)
		}
		rec := partitionChange(t.ID, p, preferred, p.ISR)
		return &rec, nil
	}
	if p.Leader >= 0 && live(p.Leader) {
		return nil, fmt.Errorf("%w: %s-%d is led by live broker %d", ErrElectionNotNeeded, t.Name, p.Index, p.Leader)
	}
	for _, r := range p.Replicas {
		if live(r) && slices.Contains(p.ISR, r) {
			rec := partitionChange(t.ID, p, r, p.ISR)
			return &rec, nil
		}
	}
	for _, r := range p.Replicas {
		if live(r) {
			rec := partitionChange(t.ID, p, r, []int32{r})
			return &rec, nil
		}
	}
	return nil, fmt.Errorf("%w: no replica of %s-%d (%v) is alive", ErrEligibleLeadersNotAvailable, t.Name, p.Index, p.Replicas)
}

// ConfigOp is the operation of one IncrementalAlterConfigs entry,
// numbered as Kafka's.
type ConfigOp int8

// Config operations.
const (
	ConfigSet      ConfigOp = 0
	ConfigDelete   ConfigOp = 1
	ConfigAppend   ConfigOp = 2 // list configs: add items not yet present
	ConfigSubtract ConfigOp = 3 // list configs: remove items
)

// ConfigChange is one entry of an IncrementalAlterConfigs resource.
type ConfigChange struct {
	Name  string
	Op    ConfigOp
	Value *string
}

// IncrementalAlterTopicConfigs applies SET/DELETE/APPEND/SUBTRACT changes
// to a topic's configs, all or none. APPEND and SUBTRACT work on list
// configs and start from the topic's value, or Kafka's default when it
// has none.
func (c *Controller) IncrementalAlterTopicConfigs(topic string, changes []ConfigChange, validateOnly bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	if _, ok := im.Topics[topic]; !ok {
		return fmt.Errorf("%w: topic %q does not exist", ErrUnknownTopic, topic)
	}
	current := im.TopicConfigs[topic]
	set := map[string]*string{}
	for _, ch := range changes {
		if _, dup := set[ch.Name]; dup {
			return fmt.Errorf("%w: config %q appears twice", ErrInvalidRequest, ch.Name)
		}
		def, ok := config.LookupTopicDef(ch.Name)
		if !ok {
			return fmt.Errorf("%w: unknown topic config %q", ErrInvalidConfig, ch.Name)
		}
		switch ch.Op {
		case ConfigSet:
			if ch.Value == nil {
				return fmt.Errorf("%w: SET of %q needs a value", ErrInvalidRequest, ch.Name)
			}
			set[ch.Name] = ch.Value
		case ConfigDelete:
			set[ch.Name] = nil
		case ConfigAppend, ConfigSubtract:
			if def.Type != config.TypeList {
				return fmt.Errorf("%w: %q is not a list config; APPEND and SUBTRACT apply to lists only", ErrInvalidConfig, ch.Name)
			}
			if ch.Value == nil {
				return fmt.Errorf("%w: APPEND/SUBTRACT of %q needs a value", ErrInvalidRequest, ch.Name)
			}
			old, ok := current[ch.Name]
			if !ok {
				old = def.Default
			}
			v := editList(old, *ch.Value, ch.Op == ConfigAppend)
			set[ch.Name] = &v
		default:
			return fmt.Errorf("%w: unknown config operation %d for %q", ErrInvalidRequest, ch.Op, ch.Name)
		}
	}
	return c.alterTopicConfigsLocked(topic, set, validateOnly)
}

// ReplaceTopicConfigs makes configs the topic's whole set of overrides
// (Kafka's AlterConfigs): overrides not named are removed.
func (c *Controller) ReplaceTopicConfigs(topic string, configs map[string]*string, validateOnly bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.image.Load()
	if _, ok := im.Topics[topic]; !ok {
		return fmt.Errorf("%w: topic %q does not exist", ErrUnknownTopic, topic)
	}
	set := map[string]*string{}
	for k := range im.TopicConfigs[topic] {
		set[k] = nil
	}
	for k, v := range configs {
		if v == nil {
			return fmt.Errorf("%w: config %q has no value", ErrInvalidRequest, k)
		}
		set[k] = v
	}
	return c.alterTopicConfigsLocked(topic, set, validateOnly)
}

// alterTopicConfigsLocked validates every change, then commits them in
// name order (deterministic records).
func (c *Controller) alterTopicConfigsLocked(topic string, set map[string]*string, validateOnly bool) error {
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	slices.Sort(names)
	current := c.image.Load().TopicConfigs[topic]
	var recs []metadata.Record
	for _, k := range names {
		v := set[k]
		if err := config.ValidateTopicConfig(k, v); err != nil {
			return err
		}
		if err := config.ValidateInternalTopicConfig(topic, k, v); err != nil {
			return err
		}
		if old, ok := current[k]; v == nil && !ok || v != nil && ok && old == *v {
			continue // no change
		}
		if v != nil && !validateOnly {
			c.logDeprecated(topic, k, *v)
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

// editList adds (or removes) the comma-separated items of change to (from)
// the comma-separated list old, keeping order and dropping duplicates.
func editList(old, change string, add bool) string {
	split := func(s string) []string {
		var out []string
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	items := split(old)
	for _, x := range split(change) {
		i := slices.Index(items, x)
		switch {
		case add && i < 0:
			items = append(items, x)
		case !add && i >= 0:
			items = slices.Delete(items, i, i+1)
		}
	}
	return strings.Join(items, ",")
}

// logDeprecated logs that a deprecated topic config was accepted but has
// no effect (Kafka 3.x accepts message.format.version and friends and
// ignores them too, with a warning).
func (c *Controller) logDeprecated(topic, name, value string) {
	if d, ok := config.LookupTopicDef(name); ok && d.Deprecated {
		c.logger.Warn("accepted deprecated topic config; it has no effect", "topic", topic, "config", name, "value", value)
	}
}

// AlterBrokerConfigs changes the runtime configs of a broker resource:
// "" for every broker (Kafka's cluster-wide default) or a broker id.
// Without replace the changes are incremental (IncrementalAlterConfigs);
// with replace the SET values become the resource's whole set
// (AlterConfigs). Only dynamic broker configs may change
// (config.ValidateDynamicBrokerConfigs); brokers pick the records up from
// the metadata.
func (c *Controller) AlterBrokerConfigs(resource string, changes []ConfigChange, replace, validateOnly bool) error {
	if resource != "" {
		// ControllerConfigurationValidator.validateBrokerName
		id, err := strconv.ParseInt(resource, 10, 32)
		if err != nil {
			return fmt.Errorf("%w: Unable to parse broker name as a base 10 number.", ErrInvalidRequest)
		}
		if id < 0 {
			return fmt.Errorf("%w: Invalid negative broker ID.", ErrInvalidRequest)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	current := c.image.Load().BrokerConfigs[resource]
	set := map[string]*string{}
	if replace {
		for k := range current {
			set[k] = nil
		}
	}
	touched := map[string]bool{}
	for _, ch := range changes {
		if touched[ch.Name] {
			return fmt.Errorf("%w: config %q appears twice", ErrInvalidRequest, ch.Name)
		}
		touched[ch.Name] = true
		switch ch.Op {
		case ConfigSet:
			if ch.Value == nil {
				return fmt.Errorf("%w: Null value not supported for : %s", ErrInvalidRequest, ch.Name)
			}
			set[ch.Name] = ch.Value
		case ConfigDelete:
			set[ch.Name] = nil
		case ConfigAppend, ConfigSubtract:
			def, ok := config.LookupBrokerDef(ch.Name)
			if !ok || def.Type != config.TypeList {
				return fmt.Errorf("%w: Config value append is not allowed for config key: %s", ErrInvalidConfig, ch.Name)
			}
			if ch.Value == nil {
				return fmt.Errorf("%w: Null value not supported for : %s", ErrInvalidRequest, ch.Name)
			}
			old, ok := current[ch.Name]
			if !ok {
				old = def.Default
			}
			v := editList(old, *ch.Value, ch.Op == ConfigAppend)
			set[ch.Name] = &v
		default:
			return fmt.Errorf("%w: Unknown operations type %d", ErrInvalidRequest, ch.Op)
		}
	}
	if err := config.ValidateDynamicBrokerConfigs(set); err != nil {
		return err
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	slices.Sort(names)
	var recs []metadata.Record
	for _, k := range names {
		v := set[k]
		if old, ok := current[k]; v == nil && !ok || v != nil && ok && old == *v {
			continue
		}
		recs = append(recs, metadata.Record{Config: &metadata.ConfigRecord{
			ResourceType: metadata.ResourceBroker, ResourceName: resource, Name: k, Value: v,
		}})
	}
	if validateOnly {
		return nil
	}
	if len(recs) > 0 {
		c.logger.Info("broker configs changed", "resource", resource, "configs", names)
	}
	return c.commitLocked(recs)
}

// clusterTopicDefaults are the topic defaults the controller applies in
// its own decisions (unclean elections): the cluster-wide runtime broker
// configs (resource ""), over Kafka's defaults.
func clusterTopicDefaults(im *metadata.Image) map[string]string {
	return config.Layers{Cluster: im.BrokerConfigs[""]}.TopicDefaults()
}
