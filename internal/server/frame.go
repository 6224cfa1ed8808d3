package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

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

// readFrame reads one size-prefixed frame into buf (grown as needed).
func readFrame(r io.Reader, buf []byte, max int32) ([]byte, error) {
	var sizeBuf [4]byte
	if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
		return buf, err
	}
	size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
	switch {
	case size < 0:
		return buf, fmt.Errorf("%w: %d", ErrNegativeSize, size)
	case size > max:
		return buf, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, size, max)
	case size < 8:
		return buf, fmt.Errorf("%w: %d-byte request cannot hold a header", ErrMalformed, size)
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(r, buf); err != nil {
		return buf, fmt.Errorf("%w: truncated frame: %v", ErrMalformed, err)
	}
	return buf, nil
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
