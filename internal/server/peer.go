package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/arus-io/arus/internal/api"
)

// The inter-broker handshake (format constants: never change). A peer's
// Kafka-protocol connection to an inter-broker listener starts with
//
//	"arusibk1"        8 bytes: protocol and version
//	int32             the peer's node id
//	int16 n, n bytes  the cluster id the peer knows ("" before it has any metadata)
//
// and is then an ordinary Kafka connection. The first 4 bytes read as a
// Kafka request size are far above any limit, so the listener tells it
// from a client that connected to the wrong port, and from the Raft
// transport's own preface ("arusraf..."), which it hands over instead.
var peerMagic = [8]byte{'a', 'r', 'u', 's', 'i', 'b', 'k', '1'}

// maxClusterIDLen bounds the cluster id in a handshake (Kafka's are 22
// characters).
const maxClusterIDLen = 64

// handshakeTimeout bounds how long a new inter-broker connection may take
// to send its handshake.
const handshakeTimeout = 10 * time.Second

// ErrHandshake ends an inter-broker connection without a valid handshake.
var ErrHandshake = errors.New("server: no valid inter-broker handshake")

// AppendPeerHandshake appends the handshake a peer sends first on each
// connection to an inter-broker listener.
func AppendPeerHandshake(dst []byte, nodeID int32, clusterID string) []byte {
	if len(clusterID) > maxClusterIDLen {
		clusterID = clusterID[:maxClusterIDLen]
	}
	dst = append(dst, peerMagic[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(nodeID))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clusterID)))
	return append(dst, clusterID...)
}

// readPeerHandshake reads the rest of a handshake after its magic.
func readPeerHandshake(r io.Reader) (api.Peer, error) {
	var head [6]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return api.Peer{}, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	nodeID := int32(binary.BigEndian.Uint32(head[0:4]))
	n := int(binary.BigEndian.Uint16(head[4:6]))
	if nodeID < 0 || n > maxClusterIDLen {
		return api.Peer{}, fmt.Errorf("%w: node id %d, cluster id of %d bytes", ErrHandshake, nodeID, n)
	}
	cid := make([]byte, n)
	if _, err := io.ReadFull(r, cid); err != nil {
		return api.Peer{}, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	return api.Peer{NodeID: nodeID, ClusterID: string(cid)}, nil
}

// admit reads what a new connection to the inter-broker listener starts
// with: the Raft preface (handoff is true: the connection was given to
// cfg.Handoff) or the peer handshake (c.peer is set). Anything else is an
// error and the connection is closed.
func (c *conn) admit() (handoff bool, err error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	var head [len(peerMagic)]byte
	if _, err := io.ReadFull(c.nc, head[:]); err != nil {
		return false, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	switch {
	case c.s.cfg.Handoff != nil && len(c.s.cfg.Preface) == len(peerMagic) && bytes.Equal(head[:], c.s.cfg.Preface):
		_ = c.nc.SetDeadline(time.Time{})
		c.s.cfg.Handoff(&bufferedConn{Conn: c.nc, r: io.MultiReader(bytes.NewReader(head[:]), c.nc)})
		return true, nil
	case head == peerMagic:
		c.peer, err = readPeerHandshake(c.nc)
		_ = c.nc.SetReadDeadline(time.Time{})
		return false, err
	}
	return false, fmt.Errorf("%w: a client connected to the inter-broker listener", ErrHandshake)
}
