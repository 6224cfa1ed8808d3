package metadata

import (
	"fmt"
	"testing"
)

func topicID(b byte) [16]byte { return [16]byte{b} }

func partitionRec(id [16]byte, p int32, leader int32) Record {
	return Record{Partition: &PartitionRecord{TopicID: id, Partition: p, Replicas: []int32{leader}, ISR: []int32{leader}, Leader: leader}}
}

// build applies records as one batch starting at offset first.
func build(t testing.TB, base *Image, first int64, recs ...Record) (*Image, *Delta) {
	t.Helper()
	b := NewBuilder(base)
	for i, r := range recs {
		if err := b.Apply(first+int64(i), r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	return b.Build()
}

func TestBuilderCopiesOnlyWhatChanged(t *testing.T) {
	v := "1000"
	base, _ := build(t, Empty(), 0,
		Record{ClusterID: &ClusterIDRecord{ClusterID: "c"}},
		Record{RegisterBroker: &RegisterBrokerRecord{BrokerID: 1, Host: "h", Port: 1}},
		Record{Topic: &TopicRecord{Name: "a", ID: topicID(1)}},
		partitionRec(topicID(1), 0, 1),
		Record{Topic: &TopicRecord{Name: "b", ID: topicID(2)}},
		partitionRec(topicID(2), 0, 1),
		Record{Config: &ConfigRecord{ResourceType: ResourceTopic, ResourceName: "b", Name: "retention.ms", Value: &v}},
	)
	next, delta := build(t, base, 7, partitionRec(topicID(1), 1, 1), partitionRec(topicID(1), 0, 1))

	if next.Offset != 8 || base.Offset != 6 {
		t.Fatalf("offsets: next %d, base %d", next.Offset, base.Offset)
	}
	if got := len(base.Topics["a"].Partitions); got != 1 {
		t.Fatalf("base image changed: topic a has %d partitions", got)
	}
	if got := len(next.Topics["a"].Partitions); got != 2 {
		t.Fatalf("topic a has %d partitions, want 2", got)
	}
	if next.Topics["b"] != base.Topics["b"] {
		t.Fatal("untouched topic b was copied")
	}
	// Maps nobody changed are shared, not cloned (the ACL watcher relies
	// on identity to skip rebuilding).
	if fmt.Sprintf("%p", next.Brokers) != fmt.Sprintf("%p", base.Brokers) ||
		fmt.Sprintf("%p", next.TopicConfigs) != fmt.Sprintf("%p", base.TopicConfigs) ||
		fmt.Sprintf("%p", next.ACLs) != fmt.Sprintf("%p", base.ACLs) ||
		fmt.Sprintf("%p", next.TopicIDs) != fmt.Sprintf("%p", base.TopicIDs) {
		t.Fatal("an unchanged map was copied")
	}
	if len(delta.Partitions) != 1 || len(delta.Partitions["a"]) != 2 || len(delta.CreatedTopics) != 0 ||
		len(delta.Brokers) != 0 || len(delta.TopicConfigs) != 0 || delta.Full {
		t.Fatalf("delta %+v", delta)
	}
}

func TestBuilderRejectsWithoutChange(t *testing.T) {
	base, _ := build(t, Empty(), 0, Record{Topic: &TopicRecord{Name: "a", ID: topicID(1)}})
	b := NewBuilder(base)
	if err := b.Apply(1, partitionRec(topicID(9), 0, 1)); err == nil {
		t.Fatal("partition of an unknown topic applied")
	}
	if err := b.Apply(1, partitionRec(topicID(1), 5, 1)); err == nil {
		t.Fatal("partition out of order applied")
	}
	b.Skip(1)
	im, delta := b.Build()
	if im.Offset != 1 || !delta.Empty() || len(im.Topics["a"].Partitions) != 0 {
		t.Fatalf("rejected records changed the image: offset %d, delta %+v", im.Offset, delta)
	}
}

func TestDeltaOfDeleteAndRecreate(t *testing.T) {
	v := "1"
	base, _ := build(t, Empty(), 0,
		Record{Topic: &TopicRecord{Name: "a", ID: topicID(1)}}, partitionRec(topicID(1), 0, 1),
		Record{Config: &ConfigRecord{ResourceType: ResourceTopic, ResourceName: "a", Name: "retention.ms", Value: &v}},
	)
	mid, d1 := build(t, base, 3, Record{RemoveTopic: &RemoveTopicRecord{ID: topicID(1)}})
	if _, ok := mid.TopicConfigs["a"]; ok || mid.Topics["a"] != nil {
		t.Fatal("removed topic left behind")
	}
	if base.TopicConfigs["a"]["retention.ms"] != "1" {
		t.Fatal("base image changed")
	}
	last, d2 := build(t, mid, 4, Record{Topic: &TopicRecord{Name: "a", ID: topicID(2)}}, partitionRec(topicID(2), 0, 2))
	m := d1.Merge(d2)
	if m.DeletedTopics[topicID(1)] != "a" || m.CreatedTopics["a"] != topicID(2) || len(m.Partitions["a"]) != 1 {
		t.Fatalf("merged delta %+v", m)
	}
	if _, ok := m.TopicConfigs["a"]; !ok {
		t.Fatalf("merged delta misses the removed configs: %+v", m)
	}
	if last.Topics["a"].Partitions[0].Leader != 2 {
		t.Fatal("recreated topic has the old partition")
	}
	if !d1.Merge(FullDelta()).Full {
		t.Fatal("merge with a full delta is not full")
	}
}

// TestBuilderAppendIsLinear adds a topic of many partitions in one batch
// and checks every partition arrived; the benchmark below shows the cost
// per partition stays flat as the topic grows.
func TestBuilderAppendIsLinear(t *testing.T) {
	const n = 10000
	im, delta := build(t, Empty(), 0, topicRecords(n)...)
	if got := len(im.Topics["big"].Partitions); got != n {
		t.Fatalf("%d partitions, want %d", got, n)
	}
	if delta.PartitionCount() != n {
		t.Fatalf("delta names %d partitions", delta.PartitionCount())
	}
}

func topicRecords(n int) []Record {
	recs := []Record{{Topic: &TopicRecord{Name: "big", ID: topicID(7)}}}
	for p := range n {
		recs = append(recs, partitionRec(topicID(7), int32(p), 1))
	}
	return recs
}

func BenchmarkBuilderTopic(b *testing.B) {
	for _, n := range []int{1000, 5000, 10000} {
		recs := topicRecords(n)
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			for range b.N {
				build(b, Empty(), 0, recs...)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/partition")
		})
	}
}
