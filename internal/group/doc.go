// Package group is the consumer group coordinator (Kafka's classic
// protocol) and the store of committed offsets in __consumer_offsets.
//
// # What it owns
//
// A Coordinator serves JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups and
// OffsetDelete for the groups whose __consumer_offsets partition this
// broker leads: partition abs(javaStringHashCode(group)) % partitions,
// exactly as Kafka computes it. The coordinator is protocol-agnostic: the
// leader member runs the assignor (range, round-robin, sticky,
// cooperative-sticky), the coordinator only runs the rounds. Cooperative
// rebalancing is the client running more rounds.
//
// Every change that must survive a restart is a record in the group's
// offsets partition, in Kafka's own formats (see records.go): offset
// commits, group metadata (generation, leader, members and their
// assignments) and tombstones that delete either. The topic is compacted
// (cleanup.policy=compact), so the latest record per key is the state.
// On start, or when this broker becomes the partition's leader, the
// partition is read from its start and the groups are rebuilt; requests
// for its groups get COORDINATOR_LOAD_IN_PROGRESS until that is done.
//
// # Structure and concurrency
//
//	Coordinator   routing by group id, offsets topic creation, shard lifecycle
//	shard         one goroutine per offsets partition: load, inbox, timers, writes
//	groupSet      pure: the groups of one partition, timer heap, load, expiry
//	group         pure: one group (group.go), its rebalances (rebalance.go) and offsets (offsets.go)
//
// group and groupSet have no goroutines, no clock and no I/O: every method
// takes the time, writes go through the small store interface, and
// deadlines (session, rebalance, initial delay, sync and pending-member
// timeouts) fire when tick is called. Tests drive them with a fake clock
// and a fake store; the shard drives them with time.Now and a timer.
//
// A shard's goroutine owns its groupSet exclusively. Request methods send
// a closure to the shard's inbox and wait on a buffered channel for the
// reply; JoinGroup and SyncGroup replies come later, when the round or the
// leader's assignment completes, and are delivered by calling the reply
// function the member holds. Writes are appended from the shard goroutine
// (so the log order is the order of state changes) with acks=all; one
// waiter goroutine per write waits for replication and sends the
// completion back through the inbox. State that depends on a write (an
// assignment, a committed offset) changes only when the write is durable.
//
// Coordinator.mu guards the shard map only; it is never held while
// calling the controller or waiting on the broker's metadata publisher
// (which calls OnImage).
package group
