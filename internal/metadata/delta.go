package metadata

import (
	"fmt"
	"maps"
)

// Delta says what changed between two images: the records of one committed
// batch, or of several (Merge) when a consumer fell behind. It names what
// changed, not the new values: those are read from the image the delta
// leads to. A Delta is immutable once Build returned it.
type Delta struct {
	// Full is set when the change is not known record by record (the
	// image was restored from a snapshot): consumers then reconcile
	// against the whole image. The other fields are empty.
	Full bool
	// Topics created, by name (their ID in the new image).
	CreatedTopics map[string][16]byte
	// DeletedTopics maps the ID of every removed topic to its name. A
	// name may be both deleted (old ID) and created (new ID).
	DeletedTopics map[[16]byte]string
	// Partitions names, per topic, every partition whose record was
	// written (created, leader or ISR change, reassignment).
	Partitions map[string]map[int32]struct{}
	// TopicConfigs names the topics whose dynamic configs changed
	// (removal with the topic included).
	TopicConfigs map[string]struct{}
	// BrokerConfigs is set when a broker (or cluster default) config
	// changed: every topic's resolved config may have.
	BrokerConfigs bool
	// Brokers names brokers registered, re-registered, fenced or unfenced.
	Brokers map[int32]struct{}
	// ACLs, ScramCredentials and ClientQuotas are set when those sets
	// changed; ProducerIDs when a producer id block was handed out.
	ACLs, ScramCredentials, ClientQuotas, ProducerIDs bool
}

// FullDelta is the delta of an image known only as a whole (restored from
// a snapshot).
func FullDelta() *Delta { return &Delta{Full: true} }

// Empty reports whether d changes nothing (a batch of skipped records).
func (d *Delta) Empty() bool {
	return !d.Full && len(d.CreatedTopics) == 0 && len(d.DeletedTopics) == 0 && len(d.Partitions) == 0 &&
		len(d.TopicConfigs) == 0 && !d.BrokerConfigs && len(d.Brokers) == 0 && !d.ACLs && !d.ScramCredentials && !d.ClientQuotas && !d.ProducerIDs
}

// PartitionCount is how many partition records the delta names.
func (d *Delta) PartitionCount() int {
	n := 0
	for _, ps := range d.Partitions {
		n += len(ps)
	}
	return n
}

// Merge returns the delta from d's base image to later's image: later
// must start where d ends. Neither is modified.
func (d *Delta) Merge(later *Delta) *Delta { return MergeDeltas(d, later) }

// MergeDeltas returns one delta for consecutive deltas (nil ones are
// skipped), in time proportional to their total size. None is modified.
func MergeDeltas(ds ...*Delta) *Delta {
	var nonNil []*Delta
	for _, d := range ds {
		if d != nil {
			nonNil = append(nonNil, d)
		}
	}
	switch len(nonNil) {
	case 0:
		return &Delta{}
	case 1:
		return nonNil[0]
	}
	out := &Delta{}
	for _, d := range nonNil {
		if d.Full {
			return FullDelta()
		}
		out.CreatedTopics = copyInto(out.CreatedTopics, d.CreatedTopics)
		out.DeletedTopics = copyInto(out.DeletedTopics, d.DeletedTopics)
		out.TopicConfigs = copyInto(out.TopicConfigs, d.TopicConfigs)
		out.Brokers = copyInto(out.Brokers, d.Brokers)
		out.BrokerConfigs = out.BrokerConfigs || d.BrokerConfigs
		out.ACLs = out.ACLs || d.ACLs
		out.ScramCredentials = out.ScramCredentials || d.ScramCredentials
		out.ClientQuotas = out.ClientQuotas || d.ClientQuotas
		out.ProducerIDs = out.ProducerIDs || d.ProducerIDs
		for topic, ps := range d.Partitions {
			if out.Partitions == nil {
				out.Partitions = map[string]map[int32]struct{}{}
			}
			out.Partitions[topic] = copyInto(out.Partitions[topic], ps)
		}
	}
	return out
}

// copyInto copies src into dst (allocated when nil) and returns dst.
func copyInto[K comparable, V any](dst, src map[K]V) map[K]V {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[K]V, len(src))
	}
	maps.Copy(dst, src)
	return dst
}

// Builder applies the records of one batch to an image, copying each
// changed map and topic once per batch rather than once per record, and
// records the Delta. Adding N partitions to one topic costs O(N) in all.
// The base image is never modified; the built image shares everything
// that did not change with it. Not safe for concurrent use; Build ends
// its use.
type Builder struct {
	next  Image
	delta Delta
	// owned says which maps of next were already copied in this batch;
	// ownedTopics and ownedConfigs which topics and config maps.
	owned struct {
		brokers, topics, topicIDs, topicConfigs, brokerConfigs, acls, scram bool
	}
	ownedTopics  map[string]bool
	ownedConfigs map[string]bool
}

// NewBuilder starts a batch on base.
func NewBuilder(base *Image) *Builder {
	return &Builder{next: *base, ownedTopics: map[string]bool{}, ownedConfigs: map[string]bool{}}
}

// Skip moves the image's offset past a record that was not applied.
func (b *Builder) Skip(offset int64) { b.next.Offset = offset }

// Build returns the new image and what changed. The builder must not be
// used afterwards.
func (b *Builder) Build() (*Image, *Delta) {
	im := b.next
	d := b.delta
	return &im, &d
}

func (b *Builder) brokers() map[int32]Broker {
	if !b.owned.brokers {
		b.next.Brokers, b.owned.brokers = maps.Clone(b.next.Brokers), true
	}
	if b.delta.Brokers == nil {
		b.delta.Brokers = map[int32]struct{}{}
	}
	return b.next.Brokers
}

func (b *Builder) topics() map[string]*Topic {
	if !b.owned.topics {
		b.next.Topics, b.owned.topics = maps.Clone(b.next.Topics), true
	}
	return b.next.Topics
}

func (b *Builder) topicIDs() map[[16]byte]string {
	if !b.owned.topicIDs {
		b.next.TopicIDs, b.owned.topicIDs = maps.Clone(b.next.TopicIDs), true
	}
	return b.next.TopicIDs
}

// topic returns the batch's own copy of topic name, copying it (and its
// partition slice) the first time it changes in this batch.
func (b *Builder) topic(name string) *Topic {
	t := b.next.Topics[name]
	if b.ownedTopics[name] {
		return t
	}
	cp := *t
	cp.Partitions = append(make([]Partition, 0, len(t.Partitions)+1), t.Partitions...)
	b.topics()[name] = &cp
	b.ownedTopics[name] = true
	return &cp
}

func (b *Builder) configs(resourceType int8) (map[string]map[string]string, error) {
	switch resourceType {
	case ResourceTopic:
		if !b.owned.topicConfigs {
			b.next.TopicConfigs, b.owned.topicConfigs = maps.Clone(b.next.TopicConfigs), true
		}
		return b.next.TopicConfigs, nil
	case ResourceBroker:
		if !b.owned.brokerConfigs {
			b.next.BrokerConfigs, b.owned.brokerConfigs = maps.Clone(b.next.BrokerConfigs), true
		}
		return b.next.BrokerConfigs, nil
	}
	return nil, fmt.Errorf("%w: config resource type %d", ErrInconsistent, resourceType)
}

func (b *Builder) notePartition(topic string, index int32) {
	if b.delta.Partitions == nil {
		b.delta.Partitions = map[string]map[int32]struct{}{}
	}
	ps := b.delta.Partitions[topic]
	if ps == nil {
		ps = map[int32]struct{}{}
		b.delta.Partitions[topic] = ps
	}
	ps[index] = struct{}{}
}

func (b *Builder) noteTopicConfig(topic string) {
	if b.delta.TopicConfigs == nil {
		b.delta.TopicConfigs = map[string]struct{}{}
	}
	b.delta.TopicConfigs[topic] = struct{}{}
}

// Apply applies r as the record at offset. A record that does not fit
// the image returns an error wrapping ErrInconsistent and changes nothing.
func (b *Builder) Apply(offset int64, r Record) error {
	if err := b.apply(r); err != nil {
		return err
	}
	b.next.Offset = offset
	return nil
}

func (b *Builder) apply(r Record) error {
	im := &b.next
	switch {
	case r.ClusterID != nil:
		im.ClusterID = r.ClusterID.ClusterID
	case r.RegisterBroker != nil:
		rb := r.RegisterBroker
		// Re-registration keeps the fence: a returning broker is unfenced
		// by its heartbeat, which also re-elects partitions waiting for it.
		fenced := im.Brokers[rb.BrokerID].Fenced
		b.brokers()[rb.BrokerID] = Broker{ID: rb.BrokerID, Host: rb.Host, Port: rb.Port, Rack: rb.Rack, Fenced: fenced,
			InterBrokerHost: rb.InterBrokerHost, InterBrokerPort: rb.InterBrokerPort,
			MaxPartitions: rb.MaxPartitions, Listeners: rb.Listeners}
		b.delta.Brokers[rb.BrokerID] = struct{}{}
	case r.Topic != nil:
		if _, ok := im.Topics[r.Topic.Name]; ok {
			return fmt.Errorf("%w: topic %q exists", ErrInconsistent, r.Topic.Name)
		}
		b.topics()[r.Topic.Name] = &Topic{Name: r.Topic.Name, ID: r.Topic.ID}
		b.ownedTopics[r.Topic.Name] = true
		b.topicIDs()[r.Topic.ID] = r.Topic.Name
		if b.delta.CreatedTopics == nil {
			b.delta.CreatedTopics = map[string][16]byte{}
		}
		b.delta.CreatedTopics[r.Topic.Name] = r.Topic.ID
	case r.Partition != nil:
		p := r.Partition
		name, ok := im.TopicIDs[p.TopicID]
		if !ok {
			return fmt.Errorf("%w: partition of unknown topic id %x", ErrInconsistent, p.TopicID)
		}
		if n := len(im.Topics[name].Partitions); p.Partition < 0 || int(p.Partition) > n {
			return fmt.Errorf("%w: partition %d of %q out of order", ErrInconsistent, p.Partition, name)
		}
		t := b.topic(name)
		part := Partition{Index: p.Partition, Replicas: p.Replicas, ISR: p.ISR, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
			AddingReplicas: p.AddingReplicas, RemovingReplicas: p.RemovingReplicas}
		if int(p.Partition) == len(t.Partitions) {
			t.Partitions = append(t.Partitions, part)
		} else {
			t.Partitions[p.Partition] = part
		}
		b.notePartition(name, p.Partition)
	case r.RemoveTopic != nil:
		name, ok := im.TopicIDs[r.RemoveTopic.ID]
		if !ok {
			return fmt.Errorf("%w: remove of unknown topic id %x", ErrInconsistent, r.RemoveTopic.ID)
		}
		delete(b.topics(), name)
		delete(b.ownedTopics, name)
		delete(b.topicIDs(), r.RemoveTopic.ID)
		if _, ok := im.TopicConfigs[name]; ok {
			tc, _ := b.configs(ResourceTopic)
			delete(tc, name)
			delete(b.ownedConfigs, configKey(ResourceTopic, name))
			b.noteTopicConfig(name)
		}
		if b.delta.DeletedTopics == nil {
			b.delta.DeletedTopics = map[[16]byte]string{}
		}
		b.delta.DeletedTopics[r.RemoveTopic.ID] = name
		if ps := b.delta.Partitions[name]; ps != nil && b.delta.CreatedTopics[name] == r.RemoveTopic.ID {
			// Created and removed in this batch: nothing to report of it
			// but the removal.
			delete(b.delta.Partitions, name)
			delete(b.delta.CreatedTopics, name)
		}
	case r.Config != nil:
		c := r.Config
		all, err := b.configs(c.ResourceType)
		if err != nil {
			return err
		}
		key := configKey(c.ResourceType, c.ResourceName)
		m := all[c.ResourceName]
		if !b.ownedConfigs[key] {
			m = maps.Clone(m)
			if m == nil {
				m = map[string]string{}
			}
			b.ownedConfigs[key] = true
		}
		if c.Value == nil {
			delete(m, c.Name)
		} else {
			m[c.Name] = *c.Value
		}
		all[c.ResourceName] = m
		if c.ResourceType == ResourceTopic {
			b.noteTopicConfig(c.ResourceName)
		} else {
			b.delta.BrokerConfigs = true
		}
	case r.FenceBroker != nil, r.UnfenceBroker != nil:
		id, fenced := int32(0), r.FenceBroker != nil
		if fenced {
			id = r.FenceBroker.BrokerID
		} else {
			id = r.UnfenceBroker.BrokerID
		}
		br, ok := im.Brokers[id]
		if !ok {
			return fmt.Errorf("%w: fence state of unknown broker %d", ErrInconsistent, id)
		}
		br.Fenced = fenced
		b.brokers()[id] = br
		b.delta.Brokers[id] = struct{}{}
	case r.ProducerIDs != nil:
		if r.ProducerIDs.NextProducerID <= im.NextProducerID {
			return fmt.Errorf("%w: producer id block moves back", ErrInconsistent)
		}
		im.NextProducerID = r.ProducerIDs.NextProducerID
		b.delta.ProducerIDs = true
	case r.AccessControlEntry != nil:
		b.acls()[r.AccessControlEntry.ID] = *r.AccessControlEntry
	case r.RemoveAccessControlEntry != nil:
		if _, ok := im.ACLs[r.RemoveAccessControlEntry.ID]; !ok {
			return fmt.Errorf("%w: remove of unknown ACL %x", ErrInconsistent, r.RemoveAccessControlEntry.ID)
		}
		delete(b.acls(), r.RemoveAccessControlEntry.ID)
	case r.UserScramCredential != nil:
		c := r.UserScramCredential
		b.scram()[ScramKey{c.Name, c.Mechanism}] = *c
	case r.RemoveUserScramCredential != nil:
		k := ScramKey{r.RemoveUserScramCredential.Name, r.RemoveUserScramCredential.Mechanism}
		if _, ok := im.ScramCredentials[k]; !ok {
			return fmt.Errorf("%w: remove of unknown SCRAM credential %v", ErrInconsistent, k)
		}
		delete(b.scram(), k)
	case r.ClientQuota != nil:
		if err := b.next.applyClientQuota(r.ClientQuota, &b.next); err != nil {
			return err
		}
		b.delta.ClientQuotas = true
	default:
		return fmt.Errorf("%w: empty record", ErrInconsistent)
	}
	return nil
}

func (b *Builder) acls() map[[16]byte]AccessControlEntryRecord {
	if !b.owned.acls {
		b.next.ACLs, b.owned.acls = maps.Clone(b.next.ACLs), true
	}
	b.delta.ACLs = true
	return b.next.ACLs
}

func (b *Builder) scram() map[ScramKey]UserScramCredentialRecord {
	if !b.owned.scram {
		b.next.ScramCredentials, b.owned.scram = maps.Clone(b.next.ScramCredentials), true
	}
	b.delta.ScramCredentials = true
	return b.next.ScramCredentials
}

func configKey(resourceType int8, name string) string {
	return fmt.Sprintf("%d/%s", resourceType, name)
}
