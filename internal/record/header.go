package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Format constants of RecordBatch v2. They are part of the on-disk and wire
// format and must never change.
const (
	HeaderSize = 61 // bytes before the first record
	// LogOverhead is the size of baseOffset plus batchLength: the bytes of a
	// batch not counted by batchLength.
	LogOverhead = 12
	Magic       = 2

	crcOffset        = 17
	attributesOffset = 21
	maxTSOffset      = 35
)

// Compression codecs, the low three bits of the attributes.
const (
	CodecNone   = 0
	CodecGzip   = 1
	CodecSnappy = 2
	CodecLZ4    = 3
	CodecZstd   = 4
)

// Attribute bits.
const (
	AttrCodecMask     = 0x07
	AttrLogAppendTime = 0x08
	AttrTransactional = 0x10
	AttrControl       = 0x20
	AttrDeleteHorizon = 0x40
	NoProducerID      = int64(-1)
	NoSequence        = int32(-1)
	NoTimestamp       = int64(-1)
)

// ErrCorrupt marks every failure caused by bytes that do not form a valid
// batch. Recovery truncates a log only at errors that match it.
var ErrCorrupt = errors.New("record: corrupt batch")

// ErrUnsupportedMagic is returned for batches whose magic byte is not 2.
var ErrUnsupportedMagic = errors.New("record: unsupported magic (only record format v2 is served)")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the parsed fixed part of a batch.
type Header struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Size is the whole size of the batch in bytes, header included.
func (h *Header) Size() int { return int(h.BatchLength) + LogOverhead }

// LastOffset is the offset of the last record of the batch.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset right after the batch.
func (h *Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Codec returns the compression codec of the batch.
func (h *Header) Codec() int { return int(h.Attributes & AttrCodecMask) }

// IsControl reports whether the batch holds control records (transaction markers).
func (h *Header) IsControl() bool { return h.Attributes&AttrControl != 0 }

// IsTransactional reports whether the batch belongs to a transaction.
func (h *Header) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// LastSequence is the sequence number of the last record (wrapping as Kafka does).
func (h *Header) LastSequence() int32 {
	if h.BaseSequence == NoSequence {
		return NoSequence
	}
	return IncSequence(h.BaseSequence, h.LastOffsetDelta)
}

// IncSequence adds delta to seq, wrapping at math.MaxInt32 like Kafka.
func IncSequence(seq, delta int32) int32 {
	if seq > int32(^uint32(0)>>1)-delta {
		return delta - (int32(^uint32(0)>>1) - seq) - 1
	}
	return seq + delta
}

// ParseHeader parses the fixed header at the start of b. It checks only that
// enough bytes are present for the header and that batchLength is sane; it
// does not check the CRC (see Validate).
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, fmt.Errorf("%w: %d bytes, header needs %d", ErrCorrupt, len(b), HeaderSize)
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[0:]))
	h.BatchLength = int32(binary.BigEndian.Uint32(b[8:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[12:]))
	h.Magic = int8(b[16])
	h.CRC = binary.BigEndian.Uint32(b[17:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[21:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[23:]))
	h.BaseTimestamp = int64(binary.BigEndian.Uint64(b[27:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[35:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[43:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[51:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[53:]))
	h.RecordCount = int32(binary.BigEndian.Uint32(b[57:]))
	if h.Magic != Magic {
		return h, fmt.Errorf("%w: magic %d", ErrUnsupportedMagic, h.Magic)
	}
	if h.BatchLength < HeaderSize-LogOverhead {
		return h, fmt.Errorf("%w: batch length %d below header size", ErrCorrupt, h.BatchLength)
	}
	return h, nil
}

// PeekSize returns the total size of the batch starting at b from its first
// 12 bytes, or an error when fewer than 12 bytes are present or the length is
// impossible.
func PeekSize(b []byte) (int, error) {
	if len(b) < LogOverhead {
		return 0, fmt.Errorf("%w: %d bytes, need %d for the batch length", ErrCorrupt, len(b), LogOverhead)
	}
	n := int32(binary.BigEndian.Uint32(b[8:]))
	if n < HeaderSize-LogOverhead {
		return 0, fmt.Errorf("%w: batch length %d below header size", ErrCorrupt, n)
	}
	return int(n) + LogOverhead, nil
}

// ComputeCRC returns the CRC-32C of the batch as it should be stored in its header.
func ComputeCRC(batch []byte) uint32 {
	return crc32.Checksum(batch[attributesOffset:], castagnoli)
}

// CheckCRC verifies the stored CRC of a whole batch.
func CheckCRC(batch []byte) error {
	if len(batch) < HeaderSize {
		return fmt.Errorf("%w: short batch", ErrCorrupt)
	}
	stored := binary.BigEndian.Uint32(batch[crcOffset:])
	if got := ComputeCRC(batch); got != stored {
		return fmt.Errorf("%w: crc mismatch (stored %08x, computed %08x)", ErrCorrupt, stored, got)
	}
	return nil
}

// SetBaseOffset patches baseOffset in place (outside the CRC range).
func SetBaseOffset(batch []byte, offset int64) {
	binary.BigEndian.PutUint64(batch[0:], uint64(offset))
}

// SetPartitionLeaderEpoch patches partitionLeaderEpoch in place (outside the CRC range).
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	binary.BigEndian.PutUint32(batch[12:], uint32(epoch))
}

// SetLogAppendTime marks the batch as LogAppendTime, sets maxTimestamp to ts
// and recomputes the CRC, as Kafka does for topics with
// message.timestamp.type=LogAppendTime.
func SetLogAppendTime(batch []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(batch[attributesOffset:])
	binary.BigEndian.PutUint16(batch[attributesOffset:], attrs|AttrLogAppendTime)
	binary.BigEndian.PutUint64(batch[maxTSOffset:], uint64(ts))
	binary.BigEndian.PutUint32(batch[crcOffset:], ComputeCRC(batch))
}
