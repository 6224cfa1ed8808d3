package guard

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrMalformed marks every body Check rejects; the caller closes the
// connection, as Kafka does for a request it cannot parse.
var ErrMalformed = errors.New("guard: malformed request")

// MalformedError says where and why a body was rejected.
type MalformedError struct {
	Key, Version int16
	// Offset is the byte of the body at which the bad count or length
	// starts.
	Offset int
	Reason string
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("guard: %s v%d body at byte %d: %s", kmsg.NameForKey(e.Key), e.Version, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrMalformed) true.
func (e *MalformedError) Unwrap() error { return ErrMalformed }

// AllocFactor bounds what decoding a body may allocate for its arrays:
// AllocFactor times the body's size plus AllocFloor bytes. Real requests
// stay far below (a Fetch partition is 30-40 bytes on the wire and about 60
// in memory).
const (
	AllocFactor = 8
	AllocFloor  = 1 << 20
)

// maxDepth bounds nesting; kmsg's deepest request is far shallower.
const maxDepth = 16

// Check reports whether body is a well-formed request body of key at
// version: every count and length fits in the bytes left, nothing is left
// over, and decoding it allocates at most AllocFactor times its size. It
// never allocates and costs time linear in len(body). The caller has already
// checked that key and version are served.
func Check(key, version int16, body []byte) error {
	root, err := layoutFor(key, version)
	if err != nil {
		return err
	}
	c := cursor{src: body, budget: AllocFactor*len(body) + AllocFloor}
	c.structure(root, 0)
	if c.reason == "" && c.pos != len(c.src) {
		c.failAt(c.pos, fmt.Sprintf("%d trailing bytes after the request", len(c.src)-c.pos))
	}
	if c.reason != "" {
		return &MalformedError{Key: key, Version: version, Offset: c.at, Reason: c.reason}
	}
	return nil
}

// cursor walks a body; the first failure sticks and stops the walk.
type cursor struct {
	src    []byte
	pos    int
	budget int // bytes decoding may still allocate for arrays
	reason string
	at     int
}

func (c *cursor) failAt(at int, reason string) {
	if c.reason == "" {
		c.reason, c.at = reason, at
	}
	c.pos = len(c.src)
}

func (c *cursor) left() int { return len(c.src) - c.pos }

func (c *cursor) ok() bool { return c.reason == "" }

func (c *cursor) skip(n int, what string) {
	if n > c.left() {
		c.failAt(c.pos, fmt.Sprintf("%s needs %d bytes, %d left", what, n, c.left()))
		return
	}
	c.pos += n
}

func (c *cursor) int16() int16 {
	if c.left() < 2 {
		c.failAt(c.pos, "truncated int16 length")
		return 0
	}
	v := int16(binary.BigEndian.Uint16(c.src[c.pos:]))
	c.pos += 2
	return v
}

func (c *cursor) int32() int32 {
	if c.left() < 4 {
		c.failAt(c.pos, "truncated int32 length")
		return 0
	}
	v := int32(binary.BigEndian.Uint32(c.src[c.pos:]))
	c.pos += 4
	return v
}

func (c *cursor) uvarint() uint32 {
	v, n := uvarint(c.src[c.pos:])
	if n <= 0 {
		c.failAt(c.pos, "bad unsigned varint")
		return 0
	}
	c.pos += n
	return v
}

// uvarint decodes a Kafka unsigned varint of at most 5 bytes (a uint32);
// n <= 0 means truncated or too long.
func uvarint(b []byte) (v uint32, n int) {
	var shift uint
	for i := 0; i < len(b) && i < 5; i++ {
		x := b[i]
		if i == 4 && x > 0x0f {
			return 0, -1
		}
		v |= uint32(x&0x7f) << shift
		if x < 0x80 {
			return v, i + 1
		}
		shift += 7
	}
	return 0, 0
}

// length reads a string, bytes or array length: compact ones are uvarint
// length+1 (0 is null), classic ones int16 (strings) or int32. It returns -1
// for null and fails on null where nullable is false or on any other
// negative length.
func (c *cursor) length(flexible, int16Len, nullable bool, what string) int {
	at := c.pos
	var n int
	switch {
	case flexible:
		n = int(c.uvarint()) - 1
	case int16Len:
		n = int(c.int16())
	default:
		n = int(c.int32())
	}
	if !c.ok() {
		return 0
	}
	if n < -1 || (n == -1 && !nullable) {
		c.failAt(at, fmt.Sprintf("%s has length %d", what, n))
		return 0
	}
	return n
}

func (c *cursor) structure(n *node, depth int) {
	if depth > maxDepth {
		c.failAt(c.pos, "nested too deep")
		return
	}
	for _, f := range n.fields {
		if !c.ok() {
			return
		}
		c.field(f, n.flexible, depth)
	}
	if n.flexible && c.ok() {
		c.tags(n, depth)
	}
}

func (c *cursor) field(f *node, flexible bool, depth int) {
	switch f.kind {
	case kindBool, kindInt8:
		c.skip(1, f.name)
	case kindInt16, kindUint16:
		c.skip(2, f.name)
	case kindInt32, kindUint32:
		c.skip(4, f.name)
	case kindInt64, kindFloat64:
		c.skip(8, f.name)
	case kindUUID:
		c.skip(16, f.name)
	case kindString, kindNullableString:
		if n := c.length(flexible, true, f.kind == kindNullableString, f.name); n > 0 {
			c.skip(n, f.name)
		}
	case kindBytes, kindNullableBytes:
		if n := c.length(flexible, false, f.kind == kindNullableBytes, f.name); n > 0 {
			c.skip(n, f.name)
		}
	case kindArray, kindNullableArray:
		c.array(f, flexible, depth)
	case kindStruct:
		c.structure(f, depth+1)
	case kindNullableStruct:
		at := c.pos
		c.skip(1, f.name)
		if c.ok() && int8(c.src[at]) != -1 {
			c.structure(f.fields[0], depth+1)
		}
	}
}

func (c *cursor) array(f *node, flexible bool, depth int) {
	at := c.pos
	n := c.length(flexible, false, f.kind == kindNullableArray, f.name)
	if n <= 0 {
		return
	}
	if n > c.left()/f.elem.minSize {
		c.failAt(at, fmt.Sprintf("%s claims %d elements of at least %d bytes, %d bytes left", f.name, n, f.elem.minSize, c.left()))
		return
	}
	c.budget -= n * max(f.goSize, 1)
	if c.budget < 0 {
		c.failAt(at, fmt.Sprintf("%s: decoding would allocate more than %d times the request size", f.name, AllocFactor))
		return
	}
	for i := 0; i < n && c.ok(); i++ {
		c.field(f.elem, flexible, depth+1)
	}
}

// tags walks a tagged-field section: a count, then per field its tag, its
// size and that many bytes. Fields holding arrays or structs are walked
// inside their bytes, since kmsg decodes them.
func (c *cursor) tags(n *node, depth int) {
	at := c.pos
	count := c.uvarint()
	if !c.ok() {
		return
	}
	// Each tagged field takes at least two bytes (tag and size).
	if int64(count) > int64(c.left()/2) {
		c.failAt(at, fmt.Sprintf("tagged-field count %d with %d bytes left", count, c.left()))
		return
	}
	for i := uint32(0); i < count && c.ok(); i++ {
		tag := c.uvarint()
		sizeAt := c.pos
		size := int(c.uvarint())
		if !c.ok() {
			return
		}
		if size > c.left() {
			c.failAt(sizeAt, fmt.Sprintf("tagged field %d claims %d bytes, %d left", tag, size, c.left()))
			return
		}
		end := c.pos + size
		if f := n.tagged[tag]; f != nil {
			sub := cursor{src: c.src[:end], pos: c.pos, budget: c.budget}
			sub.field(f, n.flexible, depth+1)
			if !sub.ok() {
				c.failAt(sub.at, fmt.Sprintf("tagged field %d: %s", tag, sub.reason))
				return
			}
			c.budget = sub.budget
		}
		c.pos = end
	}
}
