// Package quorum stores and commits the metadata log. A record is committed
// once it is durable on the quorum; Local is the one-voter quorum of a
// single node: a record is committed when it is fsynced to the local log
// file. The multi-node quorum (etcd raft) will commit the same records
// through Raft behind the same Log interface.
//
// The file format is in docs/format/metadata-log.md.
package quorum
