package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

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

// authenticatePeer runs the SASL login of a connection to a SASL
// inter-broker listener, before its handshake: the peer sends
// SaslHandshake v1 and SaslAuthenticate requests (nothing else) and each
// is answered at once. It then asks cfg.AuthorizePeer whether the
// principal (ANONYMOUS without a login or client certificate) may act as
// a broker. Kafka and Raft connections log in the same way, so both are
// authenticated before admit tells them apart. The session does not
// expire (connections.max.reauth.ms applies to client listeners): a peer
// that must log in again reconnects.
func (c *conn) authenticatePeer() error {
	if c.s.cfg.SASL != nil {
		_ = c.nc.SetDeadline(time.Now().Add(handshakeTimeout))
		err := c.peerLogin()
		_ = c.nc.SetDeadline(time.Time{})
		if err != nil {
			return err
		}
	}
	if c.s.cfg.AuthorizePeer != nil {
		host := strings.TrimPrefix(c.clientHost, "/")
		if !c.s.cfg.AuthorizePeer(c.principal, host) {
			return fmt.Errorf("%w: principal %s may not act as a broker (it needs CLUSTER_ACTION on the cluster, or super.users)",
				ErrPeerNotAuthorized, c.principal)
		}
	}
	return nil
}

// ErrPeerNotAuthorized ends an inter-broker connection whose principal
// lacks CLUSTER_ACTION.
var ErrPeerNotAuthorized = errors.New("server: inter-broker connection not authorized")

// maxPeerLoginSteps bounds the requests of one inter-broker login
// (PLAIN takes 2, SCRAM 3).
const maxPeerLoginSteps = 8

// peerLogin answers SaslHandshake v1 and SaslAuthenticate requests until
// the exchange succeeds; anything else, or a failure, is an error (a
// failed login is answered with SASL_AUTHENTICATION_FAILED after
// connection.failed.authentication.delay.ms first, so the peer can log
// why).
func (c *conn) peerLogin() error {
	c.sasl = &saslConn{cfg: c.s.cfg.SASL}
	defer func() { c.sasl = nil }()
	for range maxPeerLoginSteps {
		if _, err := io.ReadFull(c.nc, c.hdr[:]); err != nil {
			return fmt.Errorf("%w: %v", errSASL, err)
		}
		if bytes.Equal(c.hdr[:], peerMagic[:4]) || bytes.Equal(c.hdr[:], c.s.cfg.Preface[:min(4, len(c.s.cfg.Preface))]) {
			return fmt.Errorf("%w: the peer did not log in (is its inter-broker listener not SASL, or its listener.security.protocol.map different?)", errSASL)
		}
		size := int32(binary.BigEndian.Uint32(c.hdr[:]))
		if size < 0 || size > maxRawToken {
			return fmt.Errorf("%w: inter-broker login frame of %d bytes (a client on the inter-broker listener?)", errSASL, size)
		}
		frame := make([]byte, size)
		if _, err := io.ReadFull(c.nc, frame); err != nil {
			return fmt.Errorf("%w: %v", errSASL, err)
		}
		h, req, err := parseRequest(frame)
		if err != nil {
			return fmt.Errorf("%w: %v", errSASL, err)
		}
		var p pendingResponse
		switch r := req.(type) {
		case *kmsg.SASLHandshakeRequest:
			if r.Version < 1 {
				return fmt.Errorf("%w: inter-broker login needs SaslHandshake v1", errSASL)
			}
			p, _, err = c.saslHandshake(h, r)
		case *kmsg.SASLAuthenticateRequest:
			p, _, err = c.saslAuthenticate(h, r)
		default:
			return fmt.Errorf("%w: API key %d before authentication", errSASL, h.key)
		}
		if err != nil {
			return err
		}
		out := p.outcome
		if out.Wait != nil {
			out = out.Wait()
		}
		if _, err := c.nc.Write(appendResponse(nil, h.correlationID, out.Response)); err != nil {
			return fmt.Errorf("%w: %v", errSASL, err)
		}
		if p.outcome.Close || out.Close {
			return fmt.Errorf("%w: inter-broker login refused (mechanism %q)", errSASL, c.sasl.mechanism)
		}
		if c.sasl.state == saslDone {
			return nil
		}
	}
	return fmt.Errorf("%w: inter-broker login did not finish in %d steps", errSASL, maxPeerLoginSteps)
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
