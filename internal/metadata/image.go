package metadata

import (
	"errors"
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
// receiver is not modified. Applying many records one by one copies the
// changed maps once per record; a Builder copies them once per batch.
func (im *Image) Apply(offset int64, r Record) (*Image, error) {
	b := NewBuilder(im)
	if err := b.Apply(offset, r); err != nil {
		return nil, err
	}
	next, _ := b.Build()
	return next, nil
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
