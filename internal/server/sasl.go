package server

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/auth"
)

// SASLConfig makes a listener authenticate connections with SASL
// (SASL_PLAINTEXT, or SASL_SSL with Config.TLS).
type SASLConfig struct {
	// Mechanisms is sasl.enabled.mechanisms for this listener.
	Mechanisms []string
	// Credentials checks passwords: the listener's PLAIN users and the
	// SCRAM credentials of the metadata image.
	Credentials auth.Credentials
	// Listener names the listener whose PLAIN users (JAAS config) apply;
	// "" takes Config.ListenerName.
	Listener string
	// MaxReauth is connections.max.reauth.ms (KIP-368): 0 keeps sessions
	// forever; otherwise SaslAuthenticate v1+ tells the client the session
	// lifetime, the client re-authenticates before it ends, and a
	// connection whose session ended is closed at its next request.
	MaxReauth time.Duration
	// FailedDelay is connection.failed.authentication.delay.ms: how long a
	// failed login waits before its answer is sent and the connection
	// closed (slows password guessing; other connections are unaffected).
	FailedDelay time.Duration
}

// saslState is where a connection is in its SASL exchange.
type saslState int8

const (
	saslHandshake    saslState = iota // expects ApiVersions or SaslHandshake
	saslAuthenticate                  // expects SaslAuthenticate (handshake v1)
	saslRawToken                      // expects an unframed token (handshake v0)
	saslDone                          // authenticated; a SaslHandshake starts re-authentication
	saslFailed                        // a login failed; the connection is closing
)

// saslConn is the SASL state of one connection; only the reader touches it.
type saslConn struct {
	cfg       *SASLConfig
	state     saslState
	mechanism string
	session   auth.Session
	// expires is when the session ends (zero: never).
	expires time.Time
	reauth  bool // the exchange running is a re-authentication
}

// errSASL ends a connection whose SASL exchange went wrong.
var errSASL = errors.New("server: SASL exchange failed")

// startTLS runs the TLS handshake of a new connection.
func (c *conn) startTLS() error {
	_ = c.nc.SetDeadline(time.Now().Add(handshakeTimeout))
	tc := tls.Server(c.nc, c.s.cfg.TLS)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.nc = tc
	if c.sasl == nil && c.s.cfg.PrincipalMapper != nil {
		c.principal = c.s.cfg.PrincipalMapper.CertificatePrincipal(tc.ConnectionState().PeerCertificates)
	}
	return nil
}

// authenticating handles a request on a SASL listener before the main
// dispatch: SaslHandshake and SaslAuthenticate are answered here (handled
// is true), ApiVersions passes through in any state, and anything else
// before authentication, or after the session expired, closes the
// connection (err set), as Kafka's SaslServerAuthenticator does.
func (c *conn) authenticating(h header, req kmsg.Request) (p pendingResponse, handled bool, err error) {
	s := c.sasl
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return p, false, nil
	case *kmsg.SASLHandshakeRequest:
		return c.saslHandshake(h, r)
	case *kmsg.SASLAuthenticateRequest:
		return c.saslAuthenticate(h, r)
	}
	if s.state != saslDone {
		return p, true, fmt.Errorf("%w: API key %d before authentication", errSASL, h.key)
	}
	if !s.expires.IsZero() && time.Now().After(s.expires) {
		return p, true, fmt.Errorf("%w: session expired (connections.max.reauth.ms) without re-authentication", errSASL)
	}
	return p, false, nil
}

func (c *conn) saslHandshake(h header, r *kmsg.SASLHandshakeRequest) (pendingResponse, bool, error) {
	s := c.sasl
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.SupportedMechanisms = s.cfg.Mechanisms
	p := pendingResponse{correlationID: h.correlationID, outcome: api.Outcome{Response: resp}}
	switch {
	case s.state == saslHandshake:
		s.reauth = false
	case s.state == saslDone && r.Version >= 1 && s.cfg.MaxReauth > 0:
		s.reauth = true // KIP-368: same mechanism, same principal
	default:
		resp.ErrorCode = kerr.IllegalSaslState.Code
		p.outcome.Close = true
		return p, true, nil
	}
	if s.reauth && r.Mechanism != s.mechanism {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		p.outcome.Close = true
		return p, true, nil
	}
	listener := c.s.cfg.ListenerName
	if s.cfg.Listener != "" {
		listener = s.cfg.Listener
	}
	session, err := auth.NewSession(r.Mechanism, s.cfg.Mechanisms, listener, s.cfg.Credentials)
	if err != nil {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		p.outcome.Close = true
		return p, true, nil
	}
	s.session, s.mechanism = session, r.Mechanism
	s.state = saslAuthenticate
	if r.Version == 0 {
		s.state = saslRawToken
	}
	return p, true, nil
}

func (c *conn) saslAuthenticate(h header, r *kmsg.SASLAuthenticateRequest) (pendingResponse, bool, error) {
	s := c.sasl
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	p := pendingResponse{correlationID: h.correlationID, outcome: api.Outcome{Response: resp}}
	if s.state != saslAuthenticate {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		p.outcome.Close = true
		return p, true, nil
	}
	challenge, done, err := s.session.Step(r.SASLAuthBytes)
	if err == nil && done {
		err = c.authenticated()
	}
	if err != nil {
		msg := "Authentication failed during authentication due to invalid credentials with SASL mechanism " + s.mechanism
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = &msg
		c.logger().Info("SASL authentication failed", "mechanism", s.mechanism, "err", err)
		p.outcome = c.delayedFailure(resp)
		return p, true, nil
	}
	resp.SASLAuthBytes = challenge
	if done && r.Version >= 1 && !s.expires.IsZero() {
		resp.SessionLifetimeMillis = time.Until(s.expires).Milliseconds()
	}
	return p, true, nil
}

// authenticated finishes an exchange: the connection takes the
// principal (a re-authentication must keep it) and a new session lifetime.
func (c *conn) authenticated() error {
	s := c.sasl
	principal := s.session.Principal()
	if s.reauth && principal != c.principal {
		return fmt.Errorf("%w: re-authentication as %s on a connection of %s", errSASL, principal, c.principal)
	}
	c.principal = principal
	s.state, s.session = saslDone, nil
	s.expires = time.Time{}
	if s.cfg.MaxReauth > 0 {
		s.expires = time.Now().Add(s.cfg.MaxReauth)
	}
	return nil
}

// delayedFailure answers a failed login after FailedDelay and closes the
// connection; the wait runs on the connection's writer, so nothing else
// is held up.
func (c *conn) delayedFailure(resp kmsg.Response) api.Outcome {
	delay := c.sasl.cfg.FailedDelay
	ctx := c.s.ctx
	c.sasl.state = saslFailed
	return api.Outcome{Close: true, Wait: func() api.Outcome {
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
		return api.Outcome{Response: resp, Close: true}
	}}
}

// rawToken runs one step of an exchange started with SaslHandshake v0:
// the frame is the client's token itself, and the answer is the
// challenge, size-prefixed, without a Kafka header. A failure closes the
// connection (v0 clients get no error message, as in Kafka).
func (c *conn) rawToken(token []byte) error {
	s := c.sasl
	challenge, done, err := s.session.Step(token)
	if err == nil && done {
		err = c.authenticated()
	}
	if err != nil {
		c.logger().Info("SASL authentication failed", "mechanism", s.mechanism, "err", err)
		return fmt.Errorf("%w: %w", errSASL, err)
	}
	// Responses queued before (the handshake's) must be written first.
	c.writers.Wait()
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(challenge)), uint32(len(challenge)))
	out = append(out, challenge...)
	if c.idle > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.idle))
	}
	_, err = c.nc.Write(out)
	return err
}

// readRawToken reads an unframed SASL token (handshake v0): a size and
// that many bytes, bounded like any request.
func (c *conn) readRawToken(size int32) ([]byte, error) {
	if size < 0 || size > maxRawToken {
		return nil, fmt.Errorf("%w: SASL token of %d bytes", errSASL, size)
	}
	buf := make([]byte, size)
	_, err := io.ReadFull(c, buf)
	return buf, err
}

// maxRawToken bounds an unframed SASL token.
const maxRawToken = 64 << 10
