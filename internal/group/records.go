package group

// Records of __consumer_offsets (spec: docs/format/consumer-offsets.md),
// in Kafka's own encodings (kmsg's
// OffsetCommitKey/Value and GroupMetadataKey/Value), so a Kafka tool that
// reads the topic understands them and the log compacts by key:
//
//	key version 0 or 1  offset commit   (group, topic, partition)
//	key version 2       group metadata  (group)
//	null value          tombstone: the offset or the group is deleted
//
// Writes use key version 1 and value version 3 (version 1 when a commit
// carries an explicit expire timestamp, OffsetCommit v1-v4), and group
// metadata value version 3, as Kafka 2.3+ writes them. Other key versions
// (KIP-848 and share-group records) are skipped on load. These formats
// must never change: they are on disk and in clients' tools.

import (
	"fmt"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetsTopic is the internal topic holding commits and group metadata.
const OffsetsTopic = "__consumer_offsets"

// PartitionFor returns the __consumer_offsets partition of a group:
// abs(javaStringHashCode(group)) % partitions, with Kafka's Utils.abs
// (which maps MinInt32 to 0), so arus and Kafka agree.
func PartitionFor(group string, partitions int32) int32 {
	if partitions <= 0 {
		return 0
	}
	h := javaStringHashCode(group)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

// javaStringHashCode is Java's String.hashCode: s[0]*31^(n-1) + ... over
// the UTF-16 code units, wrapping at 32 bits.
func javaStringHashCode(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// keyValue is one record to write; Value nil is a tombstone.
type keyValue struct {
	Key, Value []byte
}

func offsetKey(group string, tp TopicPartition) []byte {
	k := kmsg.OffsetCommitKey{Version: 1, Group: group, Topic: tp.Topic, Partition: tp.Partition}
	return k.AppendTo(nil)
}

func offsetValue(o Offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = 3
	v.Offset = o.Offset
	v.LeaderEpoch = o.LeaderEpoch
	v.Metadata = o.Metadata
	v.CommitTimestamp = o.CommitTime.UnixMilli()
	if !o.ExpireTime.IsZero() {
		v.Version = 1
		v.ExpireTimestamp = o.ExpireTime.UnixMilli()
	}
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: 2, Group: group}
	return k.AppendTo(nil)
}

// groupValue encodes the group's current generation with the given
// assignment per member.
func groupValue(g *group, assignment map[string][]byte) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = 3
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateSince.UnixMilli()
	for _, id := range g.memberIDs() {
		m := g.members[id]
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.id
		vm.InstanceID = m.instanceID
		vm.ClientID = m.clientID
		vm.ClientHost = m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		vm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		vm.Subscription = m.metadataFor(g.protocol)
		vm.Assignment = assignment[m.id]
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

// decodedRecord is one record of the offsets topic after decoding: either
// an offset commit (group, partition and offset, nil offset for a
// tombstone) or group metadata (nil value for a tombstone).
type decodedRecord struct {
	group     string
	isOffset  bool
	partition TopicPartition
	offset    *kmsg.OffsetCommitValue
	metadata  *kmsg.GroupMetadataValue
}

// errSkipRecord marks records of kinds arus does not use (KIP-848 and
// share groups); loading skips them.
var errSkipRecord = fmt.Errorf("group: record kind not used")

func decodeRecord(key, value []byte) (decodedRecord, error) {
	var r decodedRecord
	if len(key) < 2 {
		return r, fmt.Errorf("offsets record key of %d bytes", len(key))
	}
	switch version := int16(key[0])<<8 | int16(key[1]); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return r, fmt.Errorf("offset commit key: %w", err)
		}
		r.group, r.isOffset = k.Group, true
		r.partition = TopicPartition{Topic: k.Topic, Partition: k.Partition}
		if value != nil {
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(value); err != nil {
				return r, fmt.Errorf("offset commit value of group %q: %w", k.Group, err)
			}
			if v.Version < 3 {
				v.LeaderEpoch = -1
			}
			r.offset = &v
		}
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return r, fmt.Errorf("group metadata key: %w", err)
		}
		r.group = k.Group
		if value != nil {
			var v kmsg.GroupMetadataValue
			if err := v.ReadFrom(value); err != nil {
				return r, fmt.Errorf("group metadata value of group %q: %w", k.Group, err)
			}
			r.metadata = &v
		}
	default:
		return r, errSkipRecord
	}
	return r, nil
}
