package metadata

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"sort"
	"strconv"
)

// Image is the cluster metadata after applying every record up to Offset.
type Image struct {
	// Offset is the position in the metadata log of the last applied record; -1 when empty.
	Offset         int64
	ClusterID      string
	Brokers        map[int32]Broker
	Topics         map[string]*Topic
	TopicIDs       map[[16]byte]string
	NextProducerID int64
	// TopicConfigs and BrokerConfigs hold dynamic config overrides.
	TopicConfigs  map[string]map[string]string
	BrokerConfigs map[string]map[string]string
	// ACLs by binding id; ScramCredentials by user and mechanism.
	ACLs             map[[16]byte]AccessControlEntryRecord
	ScramCredentials map[ScramKey]UserScramCredentialRecord
	// ClientQuotas are the client quota values (key to value) by entity.
	ClientQuotas map[QuotaEntity]map[string]float64
}

// ScramKey names one SCRAM credential.
type ScramKey struct {
	User      string
	Mechanism int8
}

// Broker is one registered broker.
type Broker struct {
	ID     int32
	Host   string
	Port   int32
	Rack   string
	Fenced bool
	// MaxPartitions is how many partition replicas the broker can host
	// (arus.max.partitions.per.broker, reported at registration); 0: no
	// limit known.
	MaxPartitions int32
	// InterBrokerHost and InterBrokerPort are the broker's inter-broker
	// listener; port 0 when it registered without one.
	InterBrokerHost string
	InterBrokerPort int32
	// Listeners are the broker's named client listeners (empty in records
	// written before they existed: Host and Port are then the only one).
	Listeners []BrokerListener
}

// ListenerAddr returns the broker's address on the named listener; ok is
// false when it has no such listener. A broker registered without
// listener names answers with Host and Port for any name.
func (b Broker) ListenerAddr(name string) (host string, port int32, ok bool) {
	if len(b.Listeners) == 0 {
		return b.Host, b.Port, true
	}
	for _, l := range b.Listeners {
		if l.Name == name {
			return l.Host, l.Port, true
		}
	}
	return "", 0, false
}

// InterBrokerAddr is host:port of the broker's inter-broker listener, ""
// when it registered none.
func (b Broker) InterBrokerAddr() string {
	if b.InterBrokerPort == 0 {
		return ""
	}
	return net.JoinHostPort(b.InterBrokerHost, strconv.Itoa(int(b.InterBrokerPort)))
}

// Topic is one topic with its partitions, indexed by partition number.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions []Partition
}

// Partition is one partition's replica assignment and leadership.
type Partition struct {
	Index          int32
	Replicas       []int32
	ISR            []int32
	Leader         int32 // -1: offline, no eligible leader
	LeaderEpoch    int32
	PartitionEpoch int32
	// AddingReplicas and RemovingReplicas describe an ongoing reassignment
	// (both empty when there is none); see PartitionRecord.
	AddingReplicas   []int32
	RemovingReplicas []int32
}

// Reassigning reports whether a reassignment of p is in progress.
func (p Partition) Reassigning() bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// Empty returns the image of an empty metadata log.
func Empty() *Image {
	return &Image{
		Offset:           -1,
		Brokers:          map[int32]Broker{},
		Topics:           map[string]*Topic{},
		TopicIDs:         map[[16]byte]string{},
		TopicConfigs:     map[string]map[string]string{},
		BrokerConfigs:    map[string]map[string]string{},
		ACLs:             map[[16]byte]AccessControlEntryRecord{},
		ScramCredentials: map[ScramKey]UserScramCredentialRecord{},
		ClientQuotas:     map[QuotaEntity]map[string]float64{},
	}
}

// ErrInconsistent is returned by Apply for a record that does not fit the
// image (a partition of an unknown topic, a duplicate topic). A correct
// controller never commits one; replay stops at it.
var ErrInconsistent = errors.New("metadata: record inconsistent with image")

// Apply returns a new image with r applied as the record at offset. The
// receiver is not modified.
func (im *Image) Apply(offset int64, r Record) (*Image, error) {
	next := *im
	next.Offset = offset
	switch {
	case r.ClusterID != nil:
		next.ClusterID = r.ClusterID.ClusterID
	case r.RegisterBroker != nil:
		b := r.RegisterBroker
		next.Brokers = maps.Clone(im.Brokers)
		// Re-registration keeps the fence: a returning broker is unfenced
		// by its heartbeat, which also re-elects partitions waiting for it.
		next.Brokers[b.BrokerID] = Broker{ID: b.BrokerID, Host: b.Host, Port: b.Port, Rack: b.Rack, Fenced: im.Brokers[b.BrokerID].Fenced,
			InterBrokerHost: b.InterBrokerHost, InterBrokerPort: b.InterBrokerPort,
			MaxPartitions: b.MaxPartitions, Listeners: b.Listeners}
	case r.Topic != nil:
		if _, ok := im.Topics[r.Topic.Name]; ok {
			return nil, fmt.Errorf("%w: topic %q exists", ErrInconsistent, r.Topic.Name)
		}
		next.Topics = maps.Clone(im.Topics)
		next.TopicIDs = maps.Clone(im.TopicIDs)
		next.Topics[r.Topic.Name] = &Topic{Name: r.Topic.Name, ID: r.Topic.ID}
		next.TopicIDs[r.Topic.ID] = r.Topic.Name
	case r.Partition != nil:
		p := r.Partition
		name, ok := im.TopicIDs[p.TopicID]
		if !ok {
			return nil, fmt.Errorf("%w: partition of unknown topic id %x", ErrInconsistent, p.TopicID)
		}
		old := im.Topics[name]
		if p.Partition < 0 || int(p.Partition) > len(old.Partitions) {
			return nil, fmt.Errorf("%w: partition %d of %q out of order", ErrInconsistent, p.Partition, name)
		}
		t := *old
		t.Partitions = append([]Partition(nil), old.Partitions...)
		part := Partition{Index: p.Partition, Replicas: p.Replicas, ISR: p.ISR, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
			AddingReplicas: p.AddingReplicas, RemovingReplicas: p.RemovingReplicas}
		if int(p.Partition) == len(t.Partitions) {
			t.Partitions = append(t.Partitions, part)
		} else {
			t.Partitions[p.Partition] = part
		}
		next.Topics = maps.Clone(im.Topics)
		next.Topics[name] = &t
	case r.RemoveTopic != nil:
		name, ok := im.TopicIDs[r.RemoveTopic.ID]
		if !ok {
			return nil, fmt.Errorf("%w: remove of unknown topic id %x", ErrInconsistent, r.RemoveTopic.ID)
		}
		next.Topics = maps.Clone(im.Topics)
		next.TopicIDs = maps.Clone(im.TopicIDs)
		next.TopicConfigs = maps.Clone(im.TopicConfigs)
		delete(next.Topics, name)
		delete(next.TopicIDs, r.RemoveTopic.ID)
		delete(next.TopicConfigs, name)
	case r.Config != nil:
		c := r.Config
		var src *map[string]map[string]string
		switch c.ResourceType {
		case ResourceTopic:
			src = &next.TopicConfigs
		case ResourceBroker:
			src = &next.BrokerConfigs
		default:
			return nil, fmt.Errorf("%w: config resource type %d", ErrInconsistent, c.ResourceType)
		}
		*src = maps.Clone(*src)
		m := maps.Clone((*src)[c.ResourceName])
		if m == nil {
			m = map[string]string{}
		}
		if c.Value == nil {
			delete(m, c.Name)
		} else {
			m[c.Name] = *c.Value
		}
		(*src)[c.ResourceName] = m
	case r.FenceBroker != nil, r.UnfenceBroker != nil:
		id, fenced := int32(0), r.FenceBroker != nil
		if fenced {
			id = r.FenceBroker.BrokerID
		} else {
			id = r.UnfenceBroker.BrokerID
		}
		b, ok := im.Brokers[id]
		if !ok {
			return nil, fmt.Errorf("%w: fence state of unknown broker %d", ErrInconsistent, id)
		}
		b.Fenced = fenced
		next.Brokers = maps.Clone(im.Brokers)
		next.Brokers[id] = b
	case r.ProducerIDs != nil:
		if r.ProducerIDs.NextProducerID <= im.NextProducerID {
			return nil, fmt.Errorf("%w: producer id block moves back", ErrInconsistent)
		}
		next.NextProducerID = r.ProducerIDs.NextProducerID
	case r.AccessControlEntry != nil:
		next.ACLs = maps.Clone(im.ACLs)
		next.ACLs[r.AccessControlEntry.ID] = *r.AccessControlEntry
	case r.RemoveAccessControlEntry != nil:
		if _, ok := im.ACLs[r.RemoveAccessControlEntry.ID]; !ok {
			return nil, fmt.Errorf("%w: remove of unknown ACL %x", ErrInconsistent, r.RemoveAccessControlEntry.ID)
		}
		next.ACLs = maps.Clone(im.ACLs)
		delete(next.ACLs, r.RemoveAccessControlEntry.ID)
	case r.UserScramCredential != nil:
		c := r.UserScramCredential
		next.ScramCredentials = maps.Clone(im.ScramCredentials)
		next.ScramCredentials[ScramKey{c.Name, c.Mechanism}] = *c
	case r.RemoveUserScramCredential != nil:
		k := ScramKey{r.RemoveUserScramCredential.Name, r.RemoveUserScramCredential.Mechanism}
		if _, ok := im.ScramCredentials[k]; !ok {
			return nil, fmt.Errorf("%w: remove of unknown SCRAM credential %v", ErrInconsistent, k)
		}
		next.ScramCredentials = maps.Clone(im.ScramCredentials)
		delete(next.ScramCredentials, k)
	case r.ClientQuota != nil:
		if err := im.applyClientQuota(r.ClientQuota, &next); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: empty record", ErrInconsistent)
	}
	return &next, nil
}

// TopicNames returns the topic names in order.
func (im *Image) TopicNames() []string {
	names := make([]string, 0, len(im.Topics))
	for n := range im.Topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// BrokerIDs returns the broker ids in order.
func (im *Image) BrokerIDs() []int32 {
	ids := make([]int32, 0, len(im.Brokers))
	for id := range im.Brokers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
