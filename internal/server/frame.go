package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/guard"
)

// Errors that end a connection.
var (
	ErrFrameTooLarge = errors.New("server: request larger than socket.request.max.bytes")
	ErrNegativeSize  = errors.New("server: negative request size")
	ErrUnknownKey    = errors.New("server: unknown API key")
	ErrBadVersion    = errors.New("server: unsupported API version")
	ErrMalformed     = errors.New("server: malformed request")
)

// firstChunk is the buffer a frame starts with (or its size, if smaller):
// a frame's buffer then doubles as its bytes arrive, so a client that
// claims a large size and sends little costs little memory.
const firstChunk = 64 << 10

// checkFrameSize checks a frame's size prefix before anything is
// allocated for it.
func checkFrameSize(size, max int32) error {
	switch {
	case size < 0:
		return fmt.Errorf("%w: %d", ErrNegativeSize, size)
	case size > max:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, size, max)
	case size < 8:
		return fmt.Errorf("%w: %d-byte request cannot hold a header", ErrMalformed, size)
	}
	return nil
}

// growFactor is how much a frame's buffer grows each time it fills: 4
// keeps the copies of a large request near a third of its size (doubling
// copied about all of it again) while a stalled claim still holds only
// what arrived, rounded up.
const growFactor = 4

// firstCost is what the first buffer of a frame of size bytes holds.
func firstCost(size int32) int64 { return 1 << bufShift(min(int(size), firstChunk)) }

// readFrameBody reads a frame of size bytes into a pooled buffer that
// starts at min(size, firstChunk) and grows (growFactor) as bytes arrive; grow (if
// not nil) is called with the extra capacity before each doubling and may
// wait for it (queued.max.request.bytes). The caller returns the buffer
// with putBuf once the request is handled.
func readFrameBody(r io.Reader, size int32, grow func(extra int64) error) (*[]byte, error) {
	n := int(size)
	buf := getBuf(min(n, firstChunk))
	got := 0
	for got < n {
		if got == cap(*buf) {
			next := 1 << bufShift(min(growFactor*cap(*buf), n))
			if grow != nil {
				if err := grow(int64(next - cap(*buf))); err != nil {
					putBuf(buf)
					return nil, err
				}
			}
			grown := getBuf(next)
			copy(*grown, (*buf)[:got])
			putBuf(buf)
			buf = grown
		}
		m, err := r.Read((*buf)[got:min(cap(*buf), n)])
		got += m
		if err != nil && got < n {
			putBuf(buf)
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%w: truncated frame (%d of %d bytes): %w", ErrMalformed, got, n, err)
		}
	}
	*buf = (*buf)[:n]
	return buf, nil
}

// readFrame reads one size-prefixed frame (size check, then body).
func readFrame(r io.Reader, max int32) (*[]byte, error) {
	var sizeBuf [4]byte
	if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
	if err := checkFrameSize(size, max); err != nil {
		return nil, err
	}
	return readFrameBody(r, size, nil)
}

// Buffers for frames and responses come from pools by power-of-two
// capacity, 512 B to 2 GiB, shared by every connection: an idle connection
// holds none, and the pools empty themselves over two garbage collections
// after a spike.
const (
	minBufShift = 9
	maxBufShift = 31
)

var bufPools [maxBufShift + 1]sync.Pool // index s holds *[]byte of capacity 1<<s

func bufShift(n int) int { return max(bits.Len(uint(max(n, 1)-1)), minBufShift) }

// getBuf returns a buffer of length and capacity 1<<bufShift(n).
func getBuf(n int) *[]byte {
	s := bufShift(n)
	if p, ok := bufPools[s].Get().(*[]byte); ok {
		*p = (*p)[:cap(*p)]
		return p
	}
	b := make([]byte, 1<<s)
	return &b
}

// putBuf returns a buffer from getBuf (others, such as one grown by
// append, are left to the garbage collector).
func putBuf(p *[]byte) {
	c := cap(*p)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	s := bits.Len(uint(c)) - 1
	if s < minBufShift || s > maxBufShift {
		return
	}
	bufPools[s].Put(p)
}

// header is a parsed request header.
type header struct {
	key           int16
	version       int16
	correlationID int32
	clientID      *string
}

// parseRequest parses the header and body of one frame. It returns the
// header even when it fails after parsing it, so ApiVersions can answer an
// unsupported version.
func parseRequest(frame []byte) (header, kmsg.Request, error) {
	rd := kbin.Reader{Src: frame}
	var h header
	h.key = rd.Int16()
	h.version = rd.Int16()
	h.correlationID = rd.Int32()
	if !rd.Ok() {
		return h, nil, fmt.Errorf("%w: short header", ErrMalformed)
	}
	min, max, ok := api.VersionRange(h.key)
	req := kmsg.RequestForKey(h.key)
	if !ok || req == nil {
		return h, nil, fmt.Errorf("%w: %d", ErrUnknownKey, h.key)
	}
	if h.version < min || h.version > max {
		return h, nil, fmt.Errorf("%w: %s v%d (served %d-%d)", ErrBadVersion, kmsg.NameForKey(h.key), h.version, min, max)
	}
	// The client id is an int16-length nullable string in every header version.
	h.clientID = rd.NullableString()
	req.SetVersion(h.version)
	if req.IsFlexible() {
		skipTags(&rd)
	}
	if !rd.Ok() {
		return h, nil, fmt.Errorf("%w: bad request header", ErrMalformed)
	}
	// kmsg trusts the counts it reads (a tagged-field count loops even
	// past the end of the buffer), so the body is checked against its
	// layout first.
	if err := guard.Check(h.key, h.version, rd.Src); err != nil {
		return h, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := req.ReadFrom(rd.Src); err != nil {
		return h, nil, fmt.Errorf("%w: %s v%d body: %v", ErrMalformed, kmsg.NameForKey(h.key), h.version, err)
	}
	return h, req, nil
}

func skipTags(rd *kbin.Reader) {
	n := rd.Uvarint()
	for i := uint32(0); i < n && rd.Ok(); i++ {
		rd.Uvarint() // tag
		size := rd.Uvarint()
		rd.Span(int(size))
	}
}

// appendHeader appends a response's size prefix (for a body of bodySize
// bytes), correlation id and, for flexible versions, empty header tags.
// ApiVersions always uses response header v0 (no tagged fields), so that
// a client that sent a version we do not know can still parse the answer.
func appendHeader(dst []byte, correlationID int32, resp kmsg.Response, bodySize int64) []byte {
	header := int64(4)
	if resp.IsFlexible() && resp.Key() != 18 {
		header++
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(header+bodySize))
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if header == 5 {
		dst = append(dst, 0)
	}
	return dst
}

// appendResponse appends a whole size-prefixed response frame to dst.
// ApiVersions always uses response header v0 (no tagged fields), so that
// a client that sent a version we do not know can still parse the answer.
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = appendHeader(dst, correlationID, resp, 0) // size patched below
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
