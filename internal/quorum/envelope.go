package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// ErrCorrupt marks data on disk or on the wire that fails its checks
// (CRC, lengths, version). Returned wrapped by StartRaft when the snapshot
// file or the middle of the write-ahead log is damaged; a torn tail of the
// write-ahead log is not corruption and is cut off instead.
var ErrCorrupt = errors.New("quorum: corrupt data")

// Versions of the envelopes below. Format constants: never change.
const (
	proposalVersion byte = 1
	snapshotVersion byte = 1
)

// appendFrame appends one frame in the framing of local.go: 4 bytes
// payload length, 4 bytes CRC-32C of the payload, the payload.
func appendFrame(dst, payload []byte) []byte {
	return append(frameHeaderOf(dst, payload), payload...)
}

// frameHeaderOf appends only the header of payload's frame.
func frameHeaderOf(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
}

// errTorn reports an incomplete frame at the end of a buffer.
var errTorn = errors.New("quorum: torn frame")

// nextFrame decodes the frame at the start of buf and returns its payload
// and total size. It returns errTorn when buf ends inside the frame and an
// ErrCorrupt error when the length exceeds limit or the CRC does not match.
func nextFrame(buf []byte, limit int) (payload []byte, size int, err error) {
	if len(buf) < frameHeader {
		return nil, 0, errTorn
	}
	n := binary.BigEndian.Uint32(buf)
	sum := binary.BigEndian.Uint32(buf[4:])
	if uint64(n) > uint64(limit) {
		return nil, 0, fmt.Errorf("%w: frame of %d bytes exceeds %d", ErrCorrupt, n, limit)
	}
	if len(buf)-frameHeader < int(n) {
		return nil, 0, errTorn
	}
	payload = buf[frameHeader : frameHeader+int(n)]
	if crc32.Checksum(payload, castagnoli) != sum {
		return nil, 0, fmt.Errorf("%w: frame CRC mismatch", ErrCorrupt)
	}
	return payload, frameHeader + int(n), nil
}

// readFrame reads one frame from r into a new buffer. The length is
// checked against limit before anything is allocated.
func readFrame(r io.Reader, limit int) ([]byte, error) {
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(limit) {
		return nil, fmt.Errorf("%w: frame of %d bytes exceeds %d", ErrCorrupt, n, limit)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(hdr[4:]) {
		return nil, fmt.Errorf("%w: frame CRC mismatch", ErrCorrupt)
	}
	return payload, nil
}

// A proposal envelope is the data of every normal Raft entry that carries
// metadata records (format constant: never change):
//
//	1 byte   version (1)
//	8 bytes  proposal id, chosen by the proposing node to find its waiter
//	4 bytes  record count n
//	n times: 4 bytes record length, record bytes
//
// Big endian. Entries with empty data (the leader's no-op entry of each
// term) carry no records.
const proposalHeader = 1 + 8 + 4

func encodeProposal(id uint64, records [][]byte) []byte {
	size := proposalHeader
	for _, r := range records {
		size += 4 + len(r)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, proposalVersion)
	buf = binary.BigEndian.AppendUint64(buf, id)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(records)))
	for _, r := range records {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(r)))
		buf = append(buf, r...)
	}
	return buf
}

// decodeProposal parses a proposal envelope. The records alias data.
func decodeProposal(data []byte) (id uint64, records [][]byte, err error) {
	if len(data) < proposalHeader {
		return 0, nil, fmt.Errorf("%w: proposal of %d bytes is shorter than its header", ErrCorrupt, len(data))
	}
	if data[0] != proposalVersion {
		return 0, nil, fmt.Errorf("%w: proposal version %d", ErrCorrupt, data[0])
	}
	id = binary.BigEndian.Uint64(data[1:])
	count := binary.BigEndian.Uint32(data[9:])
	rest := data[proposalHeader:]
	// Every record takes at least its 4-byte length: bound the count by
	// what remains before allocating.
	if uint64(count) > uint64(len(rest)/4) {
		return 0, nil, fmt.Errorf("%w: proposal claims %d records in %d bytes", ErrCorrupt, count, len(rest))
	}
	records = make([][]byte, 0, count)
	for range count {
		if len(rest) < 4 {
			return 0, nil, fmt.Errorf("%w: proposal record length cut off", ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return 0, nil, fmt.Errorf("%w: proposal record of %d bytes with %d left", ErrCorrupt, n, len(rest))
		}
		records = append(records, rest[:n:n])
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return 0, nil, fmt.Errorf("%w: %d trailing bytes after proposal records", ErrCorrupt, len(rest))
	}
	return id, records, nil
}

// A snapshot envelope is the Data of every Raft snapshot (format
// constant: never change):
//
//	1 byte   version (1)
//	8 bytes  next record offset: the offset the first record after the
//	         snapshot gets
//	rest     the state machine's bytes from StateMachine.Snapshot
const snapshotHeader = 1 + 8

func encodeSnapshot(nextOffset int64, state []byte) []byte {
	buf := make([]byte, 0, snapshotHeader+len(state))
	buf = append(buf, snapshotVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(nextOffset))
	return append(buf, state...)
}

func decodeSnapshot(data []byte) (nextOffset int64, state []byte, err error) {
	if len(data) < snapshotHeader {
		return 0, nil, fmt.Errorf("%w: snapshot data of %d bytes is shorter than its header", ErrCorrupt, len(data))
	}
	if data[0] != snapshotVersion {
		return 0, nil, fmt.Errorf("%w: snapshot version %d", ErrCorrupt, data[0])
	}
	next := binary.BigEndian.Uint64(data[1:])
	if next > 1<<62 {
		return 0, nil, fmt.Errorf("%w: snapshot next offset %d", ErrCorrupt, next)
	}
	return int64(next), data[snapshotHeader:], nil
}
