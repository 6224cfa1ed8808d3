package quorum

import (
	"errors"
	"hash/crc32"
)

// frameHeader is 4 bytes payload length + 4 bytes CRC-32C of the payload,
// the framing of the write-ahead log and snapshot files
// (docs/format/metadata-raft.md). Format constant: never change.
const frameHeader = 8

// maxRecord bounds one metadata record; larger length fields are corruption.
const maxRecord = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned after Shutdown.
var ErrClosed = errors.New("quorum: closed")
