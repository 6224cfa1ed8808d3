package metadata

import (
	"encoding/json"
	"fmt"
)

// Record is one metadata change. Exactly one field is set. The JSON form is
// what the metadata log stores (docs/format/metadata-records.md); field names
// must never change.
type Record struct {
	RegisterBroker *RegisterBrokerRecord `json:"registerBroker,omitempty"`
	Topic          *TopicRecord          `json:"topic,omitempty"`
	Partition      *PartitionRecord      `json:"partition,omitempty"`
	RemoveTopic    *RemoveTopicRecord    `json:"removeTopic,omitempty"`
	Config         *ConfigRecord         `json:"config,omitempty"`
	ProducerIDs    *ProducerIDsRecord    `json:"producerIds,omitempty"`
	ClusterID      *ClusterIDRecord      `json:"clusterId,omitempty"`
	FenceBroker    *FenceBrokerRecord    `json:"fenceBroker,omitempty"`
	UnfenceBroker  *UnfenceBrokerRecord  `json:"unfenceBroker,omitempty"`
	// ACLs and SCRAM credentials (internal/auth gives the codes meaning).
	AccessControlEntry        *AccessControlEntryRecord        `json:"accessControlEntry,omitempty"`
	RemoveAccessControlEntry  *RemoveAccessControlEntryRecord  `json:"removeAccessControlEntry,omitempty"`
	UserScramCredential       *UserScramCredentialRecord       `json:"userScramCredential,omitempty"`
	RemoveUserScramCredential *RemoveUserScramCredentialRecord `json:"removeUserScramCredential,omitempty"`
	// ClientQuota sets or removes one client quota (quotas.go).
	ClientQuota *ClientQuotaRecord `json:"clientQuota,omitempty"`
}

// AccessControlEntryRecord adds one ACL binding (Kafka's
// AccessControlEntryRecord): the enums carry Kafka's wire codes.
type AccessControlEntryRecord struct {
	ID             [16]byte `json:"id"`
	ResourceType   int8     `json:"resourceType"`
	ResourceName   string   `json:"resourceName"`
	PatternType    int8     `json:"patternType"`
	Principal      string   `json:"principal"`
	Host           string   `json:"host"`
	Operation      int8     `json:"operation"`
	PermissionType int8     `json:"permissionType"`
}

// RemoveAccessControlEntryRecord deletes the ACL binding with ID.
type RemoveAccessControlEntryRecord struct {
	ID [16]byte `json:"id"`
}

// UserScramCredentialRecord sets a user's SCRAM credential for one
// mechanism (1 SCRAM-SHA-256, 2 SCRAM-SHA-512): salted and hashed only,
// never the password.
type UserScramCredentialRecord struct {
	Name       string `json:"name"`
	Mechanism  int8   `json:"mechanism"`
	Salt       []byte `json:"salt"`
	StoredKey  []byte `json:"storedKey"`
	ServerKey  []byte `json:"serverKey"`
	Iterations int32  `json:"iterations"`
}

// RemoveUserScramCredentialRecord deletes a user's credential for one mechanism.
type RemoveUserScramCredentialRecord struct {
	Name      string `json:"name"`
	Mechanism int8   `json:"mechanism"`
}

// FenceBrokerRecord marks a broker fenced: it missed its heartbeats (or
// shut down) and may lead nothing.
type FenceBrokerRecord struct {
	BrokerID int32 `json:"brokerId"`
}

// UnfenceBrokerRecord marks a fenced broker alive again.
type UnfenceBrokerRecord struct {
	BrokerID int32 `json:"brokerId"`
}

// ClusterIDRecord names the cluster; the first record of every metadata log.
type ClusterIDRecord struct {
	ClusterID string `json:"clusterId"`
}

// RegisterBrokerRecord adds or updates a broker. Host and Port are its
// client listener (what Metadata gives clients); InterBrokerHost and
// InterBrokerPort its inter-broker listener, where peers send replica
// fetches and controller requests (absent in records written before
// arus had one: peers then cannot reach it until it registers again).
type RegisterBrokerRecord struct {
	BrokerID        int32  `json:"brokerId"`
	Host            string `json:"host"`
	Port            int32  `json:"port"`
	Rack            string `json:"rack,omitempty"`
	InterBrokerHost string `json:"interBrokerHost,omitempty"`
	InterBrokerPort int32  `json:"interBrokerPort,omitempty"`
	// MaxPartitions is the broker's partition limit; 0 (records written
	// before it existed) means none.
	MaxPartitions int32 `json:"maxPartitions,omitempty"`
	// Listeners are all of the broker's client listeners by name, so
	// Metadata answers each client with the addresses of the listener it
	// connected through; Host and Port repeat the first one.
	Listeners []BrokerListener `json:"listeners,omitempty"`
}

// BrokerListener is one named listener of a broker.
type BrokerListener struct {
	Name             string `json:"name"`
	Host             string `json:"host"`
	Port             int32  `json:"port"`
	SecurityProtocol string `json:"securityProtocol,omitempty"`
}

// TopicRecord creates a topic; its partitions follow as PartitionRecords.
type TopicRecord struct {
	Name string   `json:"name"`
	ID   [16]byte `json:"id"`
}

// PartitionRecord creates or replaces one partition's assignment and leadership.
type PartitionRecord struct {
	TopicID     [16]byte `json:"topicId"`
	Partition   int32    `json:"partition"`
	Replicas    []int32  `json:"replicas"`
	ISR         []int32  `json:"isr"`
	Leader      int32    `json:"leader"`
	LeaderEpoch int32    `json:"leaderEpoch"`
	// PartitionEpoch counts every change of the record (leader or ISR);
	// AlterPartition requests must name the current one.
	PartitionEpoch int32 `json:"partitionEpoch"`
	// AddingReplicas and RemovingReplicas are set while the partition is
	// being reassigned (AlterPartitionReassignments): Replicas is then the
	// target replicas followed by the removing ones, and the move completes
	// once every adding replica is in the ISR.
	AddingReplicas   []int32 `json:"addingReplicas,omitempty"`
	RemovingReplicas []int32 `json:"removingReplicas,omitempty"`
}

// RemoveTopicRecord deletes a topic and its configs.
type RemoveTopicRecord struct {
	ID [16]byte `json:"id"`
}

// Resource types of ConfigRecord, numbered as Kafka's ConfigResource.Type.
const (
	ResourceTopic  int8 = 2
	ResourceBroker int8 = 4
)

// ConfigRecord sets (Value non-nil) or removes one config of a resource.
type ConfigRecord struct {
	ResourceType int8    `json:"resourceType"`
	ResourceName string  `json:"resourceName"`
	Name         string  `json:"name"`
	Value        *string `json:"value"`
}

// ProducerIDsRecord hands the block [NextProducerID-BlockSize, NextProducerID)
// to a broker; the next block starts at NextProducerID.
type ProducerIDsRecord struct {
	BrokerID       int32 `json:"brokerId"`
	NextProducerID int64 `json:"nextProducerId"`
}

// Encode returns the stored form of r.
func (r Record) Encode() ([]byte, error) { return json.Marshal(r) }

// DecodeRecord parses a stored record.
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("metadata: decode record: %w", err)
	}
	return r, nil
}
