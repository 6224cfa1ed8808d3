package record

import (
	"errors"
	"fmt"
)

// Errors returned by Validate, each mapped to its own Kafka error code by
// internal/api. All of them leave the log untouched.
var (
	// ErrInvalidRecord: the batch is well formed but breaks a rule
	// (record count, control batch from a client, several batches).
	ErrInvalidRecord = errors.New("record: invalid record")
	// ErrTooLarge: the batch is larger than max.message.bytes.
	ErrTooLarge = errors.New("record: batch larger than max.message.bytes")
)

// Validate checks the bytes a producer sent for one partition before any of
// them is appended: exactly one whole v2 batch, a correct CRC, a size within
// maxBytes, a record count that matches lastOffsetDelta, and no control
// records. It returns the parsed header.
func Validate(b []byte, maxBytes int) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	size := h.Size()
	switch {
	case size > len(b):
		return h, fmt.Errorf("%w: batch claims %d bytes, %d present", ErrCorrupt, size, len(b))
	case size < len(b):
		return h, fmt.Errorf("%w: produce carries more than one batch (%d of %d bytes in the first)", ErrInvalidRecord, size, len(b))
	}
	if maxBytes > 0 && size > maxBytes {
		return h, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, maxBytes)
	}
	if err := CheckCRC(b); err != nil {
		return h, err
	}
	if h.RecordCount <= 0 || h.LastOffsetDelta != h.RecordCount-1 {
		return h, fmt.Errorf("%w: record count %d does not match last offset delta %d", ErrInvalidRecord, h.RecordCount, h.LastOffsetDelta)
	}
	if h.IsControl() {
		return h, fmt.Errorf("%w: clients may not write control batches", ErrInvalidRecord)
	}
	return h, nil
}
