package group

import "errors"

// Errors the coordinator returns; internal/api maps each to its Kafka
// error code. The comments say where Kafka returns the same condition.
var (
	// ErrProducerFenced: a TxnOffsetCommit from a producer epoch older
	// than the partition knows (PRODUCER_FENCED / INVALID_PRODUCER_EPOCH).
	ErrProducerFenced = errors.New("group: transactional producer fenced")
	// ErrInvalidGroupID: an empty group id on a group-management request
	// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup). Offset commits and
	// fetches, DescribeGroups and DeleteGroups accept the empty id, as
	// Kafka does for backwards compatibility.
	ErrInvalidGroupID = errors.New("group: invalid group id")
	// ErrCoordinatorNotAvailable: the coordinator is stopping, the group
	// is being deleted, or the offsets topic cannot be created or written.
	ErrCoordinatorNotAvailable = errors.New("group: coordinator not available")
	// ErrNotCoordinator: this broker does not lead the group's
	// __consumer_offsets partition.
	ErrNotCoordinator = errors.New("group: not the coordinator for this group")
	// ErrLoadInProgress: the group's __consumer_offsets partition is still
	// being read after start or a leadership change.
	ErrLoadInProgress = errors.New("group: coordinator load in progress")
	// ErrInvalidSessionTimeout: JoinGroup asked for a session timeout
	// outside group.min/max.session.timeout.ms.
	ErrInvalidSessionTimeout = errors.New("group: invalid session timeout")
	// ErrInconsistentProtocol: the member's protocol type or protocols do
	// not fit the group's, or a new group's join names none.
	ErrInconsistentProtocol = errors.New("group: inconsistent group protocol")
	// ErrUnknownMemberID: the member id (or instance id) is not in the
	// group: never joined, left, or evicted after its session timed out.
	ErrUnknownMemberID = errors.New("group: unknown member id")
	// ErrMemberIDRequired: first step of the KIP-394 join (JoinGroup v4+);
	// the result carries the member id to join with.
	ErrMemberIDRequired = errors.New("group: member id required")
	// ErrFencedInstanceID: a newer member with the same group.instance.id
	// has replaced this one (KIP-345).
	ErrFencedInstanceID = errors.New("group: fenced instance id")
	// ErrIllegalGeneration: the request's generation is not the group's.
	ErrIllegalGeneration = errors.New("group: illegal generation")
	// ErrRebalanceInProgress: the group is rebalancing; the member must
	// rejoin.
	ErrRebalanceInProgress = errors.New("group: rebalance in progress")
	// ErrGroupIDNotFound: DeleteGroups, OffsetDelete or DescribeGroups v6+
	// name a group that does not exist.
	ErrGroupIDNotFound = errors.New("group: group id not found")
	// ErrNonEmptyGroup: DeleteGroups or OffsetDelete on a group with members.
	ErrNonEmptyGroup = errors.New("group: group is not empty")
	// ErrGroupSubscribedToTopic: OffsetDelete for a topic the group's
	// members are subscribed to.
	ErrGroupSubscribedToTopic = errors.New("group: group is subscribed to the topic")
	// ErrOffsetMetadataTooLarge: the commit's metadata string is longer
	// than offset.metadata.max.bytes.
	ErrOffsetMetadataTooLarge = errors.New("group: offset metadata too large")
	// ErrInvalidCommitOffsetSize: the commit does not fit in one record
	// batch of the offsets topic.
	ErrInvalidCommitOffsetSize = errors.New("group: offset commit too large")
)

// errRecordTooLarge is how the shard reports a write that does not fit in
// one batch of the offsets topic; commits turn it into
// ErrInvalidCommitOffsetSize, group metadata writes report it as is (an
// unknown server error to the client, as Kafka does).
var errRecordTooLarge = errors.New("group: records too large for the offsets topic")
