package server

import (
	"fmt"
	"io"
	"net"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/commitlog"
)

// writeChunks writes a response whose body is encoded as chunks: bytes
// are gathered into buf and written together, file regions go straight
// from the page cache to the socket (sendRegion). It returns buf for reuse.
func writeChunks(conn net.Conn, buf []byte, correlationID int32, out api.Outcome) ([]byte, error) {
	buf = appendHeader(buf, correlationID, out.Response, out.ChunksSize)
	for _, c := range out.Chunks {
		if c.Bytes != nil {
			buf = append(buf, c.Bytes...)
			continue
		}
		if len(buf) > 0 {
			if _, err := conn.Write(buf); err != nil {
				return buf, err
			}
			buf = buf[:0]
		}
		if err := sendRegion(conn, c.Region); err != nil {
			return buf, err
		}
	}
	if len(buf) > 0 {
		if _, err := conn.Write(buf); err != nil {
			return buf, err
		}
	}
	return buf[:0], nil
}

// copyRegion is the fallback without sendfile: pread and write.
func copyRegion(conn net.Conn, r commitlog.FileRegion) error {
	n, err := io.Copy(conn, io.NewSectionReader(r.File, r.Offset, r.Length))
	if err == nil && n != r.Length {
		err = fmt.Errorf("server: region of %d bytes, sent %d", r.Length, n)
	}
	return err
}
