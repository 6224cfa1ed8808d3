package record

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Legacy message format (magic 0 and 1), which Produce v0-v2 carry. A
// message set is a sequence of
//
//	offset       int64
//	message_size int32   bytes that follow
//	crc          uint32  CRC-32 (IEEE) of the rest
//	magic        int8    0 or 1
//	attributes   int8    bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4); bit 3 timestamp type (magic 1)
//	timestamp    int64   magic 1 only
//	key          bytes   int32 length, -1 null
//	value        bytes   int32 length, -1 null
//
// A compressed message is a wrapper whose value is a compressed message set
// of the same magic (wrappers never nest). arus stores record batch v2 only,
// so FromLegacy converts, as Kafka's LogValidator does when the topic's
// message format is v2 (every Kafka since 3.0).
const (
	legacyOffsetAndSize = 12
	legacyMinMessage    = 4 + 1 + 1 + 4 + 4 // crc, magic, attributes, key and value lengths
)

// FromLegacy converts a magic 0/1 message set into one v2 batch with the
// same records, compressed with the codec the producer used (lz4 only for
// magic 1: magic 0 lz4 used a non-standard frame checksum, KAFKA-1493, that
// no client still sends). Messages without a timestamp (magic 0) get
// NoTimestamp.
func FromLegacy(set []byte) ([]byte, error) {
	b := NewBuilder()
	codec := -1
	err := walkLegacy(set, false, func(m legacyMessage) error {
		if m.codec != CodecNone {
			if b.Len() > 0 || codec >= 0 {
				return fmt.Errorf("%w: a compressed message must be alone in its message set", ErrInvalidRecord)
			}
			if m.codec == CodecLZ4 && m.magic == 0 {
				return fmt.Errorf("%w: lz4 in message format v0 is not supported", ErrCorrupt)
			}
			if m.codec > CodecLZ4 {
				return fmt.Errorf("%w: compression codec %d in message format v%d", ErrCorrupt, m.codec, m.magic)
			}
			codec = m.codec
			inner, err := Decompress(m.codec, m.value)
			if err != nil {
				return err
			}
			return walkLegacy(inner, true, func(in legacyMessage) error {
				if in.magic != m.magic {
					return fmt.Errorf("%w: inner message of magic %d in a magic %d wrapper", ErrCorrupt, in.magic, m.magic)
				}
				ts := in.timestamp
				if m.magic == 1 && m.logAppendTime {
					ts = m.timestamp
				}
				b.Add(ts, in.key, in.value)
				return nil
			})
		}
		if codec >= 0 {
			return fmt.Errorf("%w: a compressed message must be alone in its message set", ErrInvalidRecord)
		}
		b.Add(m.timestamp, m.key, m.value)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if b.Len() == 0 {
		return nil, fmt.Errorf("%w: empty message set", ErrInvalidRecord)
	}
	return b.Build(max(codec, CodecNone))
}

type legacyMessage struct {
	magic         int8
	codec         int
	logAppendTime bool
	timestamp     int64
	key, value    []byte
}

// walkLegacy calls fn for each message of set, checking sizes and CRCs.
// Inner messages of a compressed wrapper may not be compressed themselves.
func walkLegacy(set []byte, inner bool, fn func(legacyMessage) error) error {
	for len(set) > 0 {
		if len(set) < legacyOffsetAndSize {
			return fmt.Errorf("%w: %d bytes left after the last message", ErrCorrupt, len(set))
		}
		size := int(int32(binary.BigEndian.Uint32(set[8:])))
		rest := set[legacyOffsetAndSize:]
		if size < legacyMinMessage || size > len(rest) {
			return fmt.Errorf("%w: message size %d with %d bytes left", ErrCorrupt, size, len(rest))
		}
		msg := rest[:size]
		set = rest[size:]
		if crc32.ChecksumIEEE(msg[4:]) != binary.BigEndian.Uint32(msg) {
			return fmt.Errorf("%w: message CRC mismatch", ErrCorrupt)
		}
		m := legacyMessage{magic: int8(msg[4]), codec: int(msg[5] & 0x07), timestamp: NoTimestamp}
		p := msg[6:]
		switch m.magic {
		case 0:
		case 1:
			if len(p) < 8+8 {
				return fmt.Errorf("%w: short magic 1 message", ErrCorrupt)
			}
			m.logAppendTime = msg[5]&0x08 != 0
			m.timestamp = int64(binary.BigEndian.Uint64(p))
			p = p[8:]
		default:
			return fmt.Errorf("%w: message magic %d in a v0-v2 produce", ErrCorrupt, m.magic)
		}
		if inner && m.codec != CodecNone {
			return fmt.Errorf("%w: nested compressed message", ErrCorrupt)
		}
		var ok bool
		if m.key, p, ok = legacyBytes(p); !ok {
			return fmt.Errorf("%w: bad message key length", ErrCorrupt)
		}
		if m.value, p, ok = legacyBytes(p); !ok || len(p) != 0 {
			return fmt.Errorf("%w: bad message value length", ErrCorrupt)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func legacyBytes(p []byte) (v, rest []byte, ok bool) {
	if len(p) < 4 {
		return nil, p, false
	}
	n := int(int32(binary.BigEndian.Uint32(p)))
	p = p[4:]
	switch {
	case n == -1:
		return nil, p, true
	case n < 0 || n > len(p):
		return nil, p, false
	}
	return p[:n:n], p[n:], true
}
