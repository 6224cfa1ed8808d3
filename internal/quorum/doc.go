// Package quorum stores and commits the metadata log. A record is committed
// once it is durable on a quorum, and gets an offset: its position in the
// log, from 0, with no gaps. Raft (raft.go) is a voter of a replicated
// quorum on go.etcd.io/raft/v3 (docs/format/metadata-raft.md); its
// Append(records ...[]byte) (firstOffset int64, err error) returns once
// the records are committed and applied here. A one-voter Raft is the
// single-node default on the same code path.
//
// # Raft
//
// StartRaft opens the directory (storage.go: a write-ahead log of entries
// and hard states plus a snapshot file, both framed with CRC-32C), restores
// the StateMachine from the snapshot and the locally committed entries,
// and starts two things: the transport (transport.go: connections handed
// over by the node's inter-broker listener, one outgoing connection per
// peer, messages dropped rather than queued when a peer is unreachable,
// since Raft retransmits; each connection opens with a preface naming the
// dialling voter and its cluster id, checked before any message is read)
// and the Ready loop.
//
// The Ready loop is one goroutine that owns the raft.RawNode, the storage
// and the state machine. It ticks, steps incoming messages and proposals,
// and handles each Ready in the order Raft requires: write the snapshot,
// entries and hard state and fsync them, then send the messages, then
// apply committed entries to the StateMachine, then Advance. Every
// SnapshotEntries applied entries it asks the StateMachine for a snapshot
// and compacts the log, keeping CatchUpEntries for lagging followers;
// followers further behind receive the snapshot.
//
// A Raft entry carries one Append: an envelope of an 8-byte proposal id and
// the records (envelope.go). The proposing node keeps a waiter per id and
// completes it when it applies the entry, so Append returns after the
// local state machine has seen the records. Only the leader accepts
// Append; a follower returns NotLeaderError with the leader's id, for the
// caller to forward. A waiter fails with ErrLeadershipLost when the node
// steps down or the term changes first, and with ErrClosed on Shutdown;
// in both cases the records may still be committed by the next leader.
//
// Membership is static: Config.Voters at the first start, recorded in
// every snapshot. Brokers are not voters; they will observe committed
// records (DESIGN.md section 7).
//
// # Concurrency
//
// Append, LeaderID, IsLeader, Applied and Shutdown are safe for
// concurrent use. StateMachine methods run on the Ready loop goroutine
// only, one at a time; they must not call Append or wait for anything an
// Append caller holds. The transport's goroutines hand messages and
// delivery reports to the loop over channels; the loop never blocks on
// the network. There is no lock nesting.
package quorum
