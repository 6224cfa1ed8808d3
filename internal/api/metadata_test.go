package api

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/arus-io/arus/internal/metadata"
)

// TestDescribeTopicLeaderNotListed: a partition whose leader is not among
// the brokers the Metadata response lists (fenced and not yet replaced,
// unregistered, or offline) is LEADER_NOT_AVAILABLE with leader -1, as
// Kafka answers; clients then wait for a new leader instead of failing the
// partition's records for an unknown broker.
func TestDescribeTopicLeaderNotListed(t *testing.T) {
	im := metadata.Empty()
	for id := int32(1); id <= 3; id++ {
		im.Brokers[id] = metadata.Broker{ID: id, Fenced: id == 2}
	}
	topic := &metadata.Topic{Name: "t", Partitions: []metadata.Partition{
		{Index: 0, Leader: 1, LeaderEpoch: 4, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}},
		{Index: 1, Leader: 2, LeaderEpoch: 5, Replicas: []int32{2, 3, 1}, ISR: []int32{2, 3, 1}}, // fenced leader
		{Index: 2, Leader: 4, LeaderEpoch: 6, Replicas: []int32{4}, ISR: []int32{4}},             // unknown broker
		{Index: 3, Leader: -1, LeaderEpoch: 7, Replicas: []int32{3}, ISR: []int32{}},             // offline
	}}
	listed := map[int32]bool{1: true, 3: true} // what the response lists: broker 2 is fenced
	mt := describeTopic(im, topic, listed)
	want := []struct {
		leader int32
		code   int16
	}{{1, 0}, {-1, kerr.LeaderNotAvailable.Code}, {-1, kerr.LeaderNotAvailable.Code}, {-1, kerr.LeaderNotAvailable.Code}}
	for i, w := range want {
		p := mt.Partitions[i]
		if p.Leader != w.leader || p.ErrorCode != w.code {
			t.Errorf("partition %d: leader %d, error %d; want leader %d, error %d", i, p.Leader, p.ErrorCode, w.leader, w.code)
		}
		if p.LeaderEpoch != topic.Partitions[i].LeaderEpoch {
			t.Errorf("partition %d: leader epoch %d, want %d", i, p.LeaderEpoch, topic.Partitions[i].LeaderEpoch)
		}
	}
}
