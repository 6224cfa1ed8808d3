package group

import (
	"time"
)

// State is a classic group's state.
type State int8

// The states of a classic group, as Kafka names them in DescribeGroups and
// ListGroups. Transitions:
//
//	Empty -> PreparingRebalance               a member joins
//	PreparingRebalance -> CompletingRebalance every member rejoined, or the rebalance timeout passed
//	PreparingRebalance -> Empty               the round ended without members
//	CompletingRebalance -> Stable             the leader's assignment is durable
//	CompletingRebalance, Stable -> PreparingRebalance  membership or metadata changed
//	Empty -> Dead                             deleted, or its offsets expired
const (
	StateEmpty State = iota
	StatePreparingRebalance
	StateCompletingRebalance
	StateStable
	StateDead
)

func (s State) String() string {
	switch s {
	case StateEmpty:
		return "Empty"
	case StatePreparingRebalance:
		return "PreparingRebalance"
	case StateCompletingRebalance:
		return "CompletingRebalance"
	case StateStable:
		return "Stable"
	case StateDead:
		return "Dead"
	}
	return "Unknown"
}

// Protocol is one assignment protocol a member supports (range,
// cooperative-sticky, ...) with the member's metadata for it.
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup request.
type JoinRequest struct {
	Group string
	// MemberID is empty on a member's first join.
	MemberID string
	// InstanceID is group.instance.id of a static member (KIP-345), nil
	// for a dynamic member.
	InstanceID       *string
	ClientID         string
	ClientHost       string
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []Protocol
	// RequireKnownMemberID is set from JoinGroup v4: a new dynamic member
	// first gets MEMBER_ID_REQUIRED and its id (KIP-394).
	RequireKnownMemberID bool
	// SupportSkipAssignment is set from JoinGroup v9 (KIP-814).
	SupportSkipAssignment bool
	Reason                string
}

// JoinMember is one member as the leader sees it in its JoinGroup result.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// JoinResult answers a JoinRequest. On error only MemberID (which may be
// new, with ErrMemberIDRequired) and Generation (-1) are meaningful.
type JoinResult struct {
	Err            error
	MemberID       string
	Generation     int32
	ProtocolType   string // "" when the group has none
	Protocol       string // "" when none was selected
	Leader         string
	SkipAssignment bool
	// Members is filled for the leader only.
	Members []JoinMember
}

func joinError(memberID string, err error) JoinResult {
	return JoinResult{Err: err, MemberID: memberID, Generation: -1}
}

// SyncRequest is a SyncGroup request.
type SyncRequest struct {
	Group        string
	Generation   int32
	MemberID     string
	InstanceID   *string
	ProtocolType *string // v5+, checked when set
	Protocol     *string // v5+, checked when set
	// Assignments are the leader's assignment per member id; ignored when
	// sent by any other member, as Kafka ignores them.
	Assignments map[string][]byte
}

// SyncResult answers a SyncRequest.
type SyncResult struct {
	Err          error
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// HeartbeatRequest is a Heartbeat request.
type HeartbeatRequest struct {
	Group      string
	Generation int32
	MemberID   string
	InstanceID *string
}

// LeaveMember is one member leaving: by member id, or by instance id alone
// (MemberID empty) for an administrative removal of a static member.
type LeaveMember struct {
	MemberID   string
	InstanceID *string
	Reason     string
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Offset is a committed offset with what was committed alongside it.
type Offset struct {
	Offset      int64
	LeaderEpoch int32 // -1 when unknown
	Metadata    string
	CommitTime  time.Time
	// ExpireTime is set only by OffsetCommit v1-v4 with an explicit
	// retention; such offsets expire at that time (pre-KIP-211).
	ExpireTime time.Time
}

// CommitOffset is one partition of an OffsetCommit.
type CommitOffset struct {
	TopicPartition
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	// CommitTime is set by OffsetCommit v1's per-partition timestamp;
	// zero means now.
	CommitTime time.Time
}

// CommitRequest is an OffsetCommit request (after the API layer removed
// partitions of unknown topics).
type CommitRequest struct {
	Group      string
	Generation int32 // -1 for commits outside group management
	MemberID   string
	InstanceID *string
	// Retention, when positive, gives the commits an expire time
	// (OffsetCommit v2-v4 RetentionTimeMillis).
	Retention time.Duration
	Offsets   []CommitOffset
	// MissingGroupNotFound makes a commit with a generation to a group
	// that does not exist fail with ErrGroupIDNotFound (OffsetCommit v9+)
	// instead of ErrIllegalGeneration.
	MissingGroupNotFound bool
}

// FetchedOffset is one partition of an OffsetFetch result; Offset is -1
// when nothing is committed.
type FetchedOffset struct {
	TopicPartition
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	// Unstable: a transaction holds an uncommitted commit of the
	// partition (OffsetFetch RequireStable answers UNSTABLE_OFFSET_COMMIT).
	Unstable bool
}

// MemberDescription is one member in a DescribeGroups result.
type MemberDescription struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	// Metadata and Assignment are set only while the group is Stable, as
	// in Kafka.
	Metadata   []byte
	Assignment []byte
}

// Description is a DescribeGroups result.
type Description struct {
	Group        string
	State        State
	ProtocolType string
	Protocol     string
	Members      []MemberDescription
}

// Overview is one group in a ListGroups result.
type Overview struct {
	Group        string
	ProtocolType string
	State        State
}
