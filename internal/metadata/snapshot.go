package metadata

import (
	"encoding/json"
	"fmt"
	"sort"
)

// snapshot is the stored form of an image: the records that rebuild it
// (docs/format/metadata-raft.md). Field names must never change.
type snapshot struct {
	Version int      `json:"version"`
	Records []Record `json:"records"`
}

// EncodeSnapshot returns records that rebuild im from an empty image,
// in a deterministic order.
func EncodeSnapshot(im *Image) ([]byte, error) {
	var recs []Record
	if im.ClusterID != "" {
		recs = append(recs, Record{ClusterID: &ClusterIDRecord{ClusterID: im.ClusterID}})
	}
	for _, id := range im.BrokerIDs() {
		b := im.Brokers[id]
		recs = append(recs, Record{RegisterBroker: &RegisterBrokerRecord{BrokerID: b.ID, Host: b.Host, Port: b.Port, Rack: b.Rack,
			InterBrokerHost: b.InterBrokerHost, InterBrokerPort: b.InterBrokerPort,
			MaxPartitions: b.MaxPartitions, Listeners: b.Listeners}})
		if b.Fenced {
			recs = append(recs, Record{FenceBroker: &FenceBrokerRecord{BrokerID: b.ID}})
		}
	}
	for _, name := range im.TopicNames() {
		t := im.Topics[name]
		recs = append(recs, Record{Topic: &TopicRecord{Name: t.Name, ID: t.ID}})
		for _, p := range t.Partitions {
			recs = append(recs, Record{Partition: &PartitionRecord{
				TopicID: t.ID, Partition: p.Index, Replicas: p.Replicas, ISR: p.ISR,
				Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
				AddingReplicas: p.AddingReplicas, RemovingReplicas: p.RemovingReplicas,
			}})
		}
	}
	appendConfigs := func(resourceType int8, all map[string]map[string]string) {
		names := make([]string, 0, len(all))
		for n := range all {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			keys := make([]string, 0, len(all[n]))
			for k := range all[n] {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v := all[n][k]
				recs = append(recs, Record{Config: &ConfigRecord{ResourceType: resourceType, ResourceName: n, Name: k, Value: &v}})
			}
		}
	}
	appendConfigs(ResourceTopic, im.TopicConfigs)
	appendConfigs(ResourceBroker, im.BrokerConfigs)
	aclIDs := make([][16]byte, 0, len(im.ACLs))
	for id := range im.ACLs {
		aclIDs = append(aclIDs, id)
	}
	sort.Slice(aclIDs, func(i, j int) bool { return string(aclIDs[i][:]) < string(aclIDs[j][:]) })
	for _, id := range aclIDs {
		acl := im.ACLs[id]
		recs = append(recs, Record{AccessControlEntry: &acl})
	}
	scramKeys := make([]ScramKey, 0, len(im.ScramCredentials))
	for k := range im.ScramCredentials {
		scramKeys = append(scramKeys, k)
	}
	sort.Slice(scramKeys, func(i, j int) bool {
		a, b := scramKeys[i], scramKeys[j]
		return a.User < b.User || (a.User == b.User && a.Mechanism < b.Mechanism)
	})
	for _, k := range scramKeys {
		c := im.ScramCredentials[k]
		recs = append(recs, Record{UserScramCredential: &c})
	}
	recs = append(recs, im.quotaRecords()...)
	if im.NextProducerID > 0 {
		recs = append(recs, Record{ProducerIDs: &ProducerIDsRecord{NextProducerID: im.NextProducerID}})
	}
	return json.Marshal(snapshot{Version: 1, Records: recs})
}

// DecodeSnapshot rebuilds an image from EncodeSnapshot's output; offset
// is the log position the snapshot covers.
func DecodeSnapshot(b []byte, offset int64) (*Image, error) {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("metadata: decode snapshot: %w", err)
	}
	if s.Version != 1 {
		return nil, fmt.Errorf("metadata: snapshot version %d not supported", s.Version)
	}
	bld := NewBuilder(Empty())
	for i, r := range s.Records {
		if err := bld.Apply(offset, r); err != nil {
			return nil, fmt.Errorf("metadata: snapshot record %d: %w", i, err)
		}
	}
	bld.Skip(offset)
	im, _ := bld.Build()
	return im, nil
}
