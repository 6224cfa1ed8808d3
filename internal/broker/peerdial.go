package broker

// The client side of a secured inter-broker listener: every connection a
// broker opens to a peer (replica fetches, requests to the active
// controller, transaction markers, a broker-only node's metadata fetches,
// and the Raft transport between voters) is dialled by dialSecured, which
// runs, as the inter-broker listener's protocol says,
//
//	TLS      the listener's truststore verifies the peer (and, with
//	         ssl.endpoint.identification.algorithm=https, Kafka's default,
//	         that its certificate names the host dialled); the keystore is
//	         presented as the client certificate (for ssl.client.auth)
//	SASL     SaslHandshake v1 + SaslAuthenticate v1 with
//	         sasl.mechanism.inter.broker.protocol, as the user and password
//	         of the listener's JAAS config (username="..." password="...")
//
// before the peer handshake (Kafka connections) or the Raft preface. The
// server side is internal/server (authenticatePeer).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/server"
)

// errPeerLogin marks a peer refusing this broker's inter-broker login
// (SASL_AUTHENTICATION_FAILED, an unsupported mechanism): a
// configuration error that retrying does not fix.
var errPeerLogin = errors.New("inter-broker login refused")

// peerSecurity is how this broker connects to its peers' inter-broker
// listeners.
type peerSecurity struct {
	listener string // inter-broker listener name, for messages
	protocol string
	// tls is set for SSL and SASL_SSL: files are read at each dial, so
	// renewed certificates are used without a restart.
	tls          *config.ListenerSecurity
	verifyHost   bool
	mechanism    string // SASL only
	user, secret string
	logger       *slog.Logger

	mu struct {
		sync.Mutex
		loginErr  error     // the last refused login (nil after a successful one)
		lastError time.Time // when a refused login was last logged at error level
	}
}

// newPeerSecurity reads the client side of the inter-broker listener's
// security from cfg.
func newPeerSecurity(sec config.Security, logger *slog.Logger) (*peerSecurity, error) {
	protocol, err := sec.InterBrokerProtocol()
	if err != nil {
		return nil, err
	}
	ps := &peerSecurity{listener: sec.InterBrokerListenerName, protocol: protocol, logger: logger}
	if protocol == config.ProtocolSSL || protocol == config.ProtocolSASLSSL {
		ls := sec.ForListener(sec.InterBrokerListenerName)
		ps.tls = &ls
		ps.verifyHost = sec.EndpointIdentification == nil || *sec.EndpointIdentification != ""
	}
	if protocol == config.ProtocolSASLPlaintext || protocol == config.ProtocolSASLSSL {
		ps.mechanism = sec.InterBrokerMechanism
		if ps.user, ps.secret, err = jaasLogin(sec.InterBrokerJAAS()); err != nil {
			return nil, fmt.Errorf("inter-broker listener %s: %w", sec.InterBrokerListenerName, err)
		}
	}
	return ps, nil
}

// jaasLogin returns the username and password options of a JAAS config
// (its first login module that has both).
func jaasLogin(jaas string) (user, password string, err error) {
	entries, err := auth.ParseJAAS(jaas)
	if err != nil {
		return "", "", err
	}
	for _, e := range entries {
		u, okU := e.Options["username"]
		p, okP := e.Options["password"]
		if okU && okP {
			return u, p, nil
		}
	}
	return "", "", errors.New("sasl.jaas.config has no username and password for brokers to log in with")
}

// secured reports whether peers authenticate (any protocol but PLAINTEXT).
func (ps *peerSecurity) secured() bool { return ps.protocol != config.ProtocolPlaintext }

// dialSecured dials addr and runs TLS and the SASL login the inter-broker
// listener needs.
func (b *Broker) dialSecured(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	ps := b.peerSec
	if ps == nil || !ps.secured() {
		return c, nil
	}
	deadline := time.Now().Add(10 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = c.SetDeadline(deadline)
	if ps.tls != nil {
		cfg, err := ps.clientTLS(addr)
		if err != nil {
			c.Close()
			return nil, err
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			err = fmt.Errorf("inter-broker TLS handshake with %s: %w", addr, err)
			var verr *tls.CertificateVerificationError
			if errors.As(err, &verr) {
				// The peer's certificate is not trusted: a
				// configuration error, like a refused login.
				err = fmt.Errorf("%w: %w (check ssl.truststore.location of the inter-broker listener)", errPeerLogin, err)
				ps.refused(err, addr)
			}
			return nil, err
		}
		c = tc
	}
	if ps.mechanism != "" {
		if err := ps.login(ctx, c, addr); err != nil {
			c.Close()
			return nil, err
		}
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// clientTLS is the TLS config to dial addr with.
func (ps *peerSecurity) clientTLS(addr string) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(addr)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if ks := ps.tls.KeystoreLocation; ks != "" {
		pem, err := os.ReadFile(ks)
		if err != nil {
			return nil, fmt.Errorf("inter-broker client certificate: ssl.keystore.location: %w", err)
		}
		cert, err := tls.X509KeyPair(pem, pem)
		if err != nil {
			return nil, fmt.Errorf("inter-broker client certificate: ssl.keystore.location %s: %w", ks, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if ts := ps.tls.TruststoreLocation; ts != "" {
		pem, err := os.ReadFile(ts)
		if err != nil {
			return nil, fmt.Errorf("inter-broker truststore: ssl.truststore.location: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("inter-broker truststore: ssl.truststore.location %s: no PEM certificates", ts)
		}
		cfg.RootCAs = pool
	}
	if !ps.verifyHost {
		// ssl.endpoint.identification.algorithm= (empty): the chain is
		// verified, the host name is not.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			certs := make([]*x509.Certificate, 0, len(raw))
			for _, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				certs = append(certs, c)
			}
			if len(certs) == 0 {
				return errors.New("peer sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}

// saslMechanism is the franz-go client mechanism of ps.
func (ps *peerSecurity) saslMechanism() (sasl.Mechanism, error) {
	switch ps.mechanism {
	case auth.MechanismPlain:
		return plain.Auth{User: ps.user, Pass: ps.secret}.AsMechanism(), nil
	case auth.MechanismScramSHA256:
		return scram.Auth{User: ps.user, Pass: ps.secret}.AsSha256Mechanism(), nil
	case auth.MechanismScramSHA512:
		return scram.Auth{User: ps.user, Pass: ps.secret}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("sasl.mechanism.inter.broker.protocol %s is not supported", ps.mechanism)
}

// login runs the SASL exchange on c. A refused login is logged at error
// level (at most every 10 s) and remembered for loginError.
func (ps *peerSecurity) login(ctx context.Context, c net.Conn, addr string) error {
	err := ps.exchange(ctx, c, addr)
	if err == nil {
		ps.mu.Lock()
		ps.mu.loginErr = nil
		ps.mu.Unlock()
		return nil
	}
	if errors.Is(err, errPeerLogin) {
		ps.refused(err, addr)
	}
	return err
}

// refused remembers a refused login (or an untrusted peer certificate)
// and logs it at error level, at most every 10 s.
func (ps *peerSecurity) refused(err error, addr string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.mu.loginErr = err
	if time.Since(ps.mu.lastError) >= 10*time.Second {
		ps.mu.lastError = time.Now()
		ps.logger.Error("inter-broker login refused by a peer: check the inter-broker listener's sasl.jaas.config (username, password), "+
			"sasl.mechanism.inter.broker.protocol and ssl.truststore.location", "listener", ps.listener, "peer", addr, "user", ps.user,
			"mechanism", ps.mechanism, "err", err)
	}
}

// loginError is the last refused login, nil when the last one succeeded.
func (ps *peerSecurity) loginError() error {
	if ps == nil {
		return nil
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.mu.loginErr
}

func (ps *peerSecurity) exchange(ctx context.Context, c net.Conn, addr string) error {
	mech, err := ps.saslMechanism()
	if err != nil {
		return err
	}
	var corr int32
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version = 1
	hs.Mechanism = mech.Name()
	hsResp := kmsg.NewPtrSASLHandshakeResponse()
	hsResp.Version = 1
	if err := saslRoundTrip(c, &corr, hs, hsResp); err != nil {
		return fmt.Errorf("inter-broker SaslHandshake with %s: %w", addr, err)
	}
	if err := kerr.ErrorForCode(hsResp.ErrorCode); err != nil {
		return fmt.Errorf("%w: %s does not enable %s for inter-broker logins (it offers %v): %w", errPeerLogin, addr, mech.Name(),
			hsResp.SupportedMechanisms, err)
	}
	session, msg, err := mech.Authenticate(ctx, addr)
	if err != nil {
		return err
	}
	for range 8 {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version = 1
		req.SASLAuthBytes = msg
		resp := kmsg.NewPtrSASLAuthenticateResponse()
		resp.Version = 1
		if err := saslRoundTrip(c, &corr, req, resp); err != nil {
			return fmt.Errorf("inter-broker SaslAuthenticate with %s: %w", addr, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			detail := ""
			if resp.ErrorMessage != nil {
				detail = ": " + *resp.ErrorMessage
			}
			return fmt.Errorf("%w: %s refused user %q (%s): %w%s", errPeerLogin, addr, ps.user, mech.Name(), err, detail)
		}
		done, next, err := session.Challenge(resp.SASLAuthBytes)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", errPeerLogin, addr, err)
		}
		if done {
			return nil
		}
		msg = next
	}
	return fmt.Errorf("inter-broker login with %s did not finish", addr)
}

// saslRoundTrip writes req (request header v1: both SASL requests are
// sent in non-flexible versions) and reads resp (response header v0).
func saslRoundTrip(c net.Conn, corr *int32, req kmsg.Request, resp kmsg.Response) error {
	*corr++
	clientID := "arus-broker"
	body := make([]byte, 4, 64)
	body = binary.BigEndian.AppendUint16(body, uint16(req.Key()))
	body = binary.BigEndian.AppendUint16(body, uint16(req.GetVersion()))
	body = binary.BigEndian.AppendUint32(body, uint32(*corr))
	body = binary.BigEndian.AppendUint16(body, uint16(len(clientID)))
	body = append(body, clientID...)
	body = req.AppendTo(body)
	binary.BigEndian.PutUint32(body, uint32(len(body)-4))
	if _, err := c.Write(body); err != nil {
		return err
	}
	var head [8]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: the peer closed the connection (is its inter-broker listener not SASL?)", err)
		}
		return err
	}
	size := int32(binary.BigEndian.Uint32(head[:4]))
	if size < 4 || size > 1<<20 {
		return fmt.Errorf("response of %d bytes", size)
	}
	if got := int32(binary.BigEndian.Uint32(head[4:])); got != *corr {
		return fmt.Errorf("response to request %d, want %d", got, *corr)
	}
	payload := make([]byte, size-4)
	if _, err := io.ReadFull(c, payload); err != nil {
		return err
	}
	return resp.ReadFrom(payload)
}

// dialPeer dials a peer's inter-broker listener (TLS and login first, as
// its protocol needs) and sends the handshake naming this node and its
// cluster (kgo's Dialer for every client this broker uses towards peers).
func (b *Broker) dialPeer(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := b.dialSecured(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(server.AppendPeerHandshake(nil, b.cfg.NodeID, b.controller.Image().ClusterID)); err != nil {
		c.Close()
		return nil, fmt.Errorf("inter-broker handshake with %s: %w", addr, err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// refusedLogin is a start-up error when peers refused this broker's
// inter-broker login: it cannot join, and retrying does not help.
func (b *Broker) refusedLogin() error {
	if err := b.peerSec.loginError(); err != nil {
		return fmt.Errorf("this broker cannot join the cluster: %w", err)
	}
	return nil
}

// sendToNode sends an inter-broker request to broker node: over its
// inter-broker listener, or, for this node, served in process as a
// loopback request. Looping back through the listener would log in as
// ANONYMOUS on a PLAINTEXT inter-broker listener, which an authorizer
// rightly refuses unless ANONYMOUS may act as a broker.
func (b *Broker) sendToNode(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error) {
	if node != b.cfg.NodeID || b.handlers == nil {
		return b.remote.sendToNode(ctx, node, req)
	}
	_, maxVersion, ok := api.VersionRange(req.Key())
	if !ok {
		return nil, fmt.Errorf("api key %d is not served", req.Key())
	}
	req.SetVersion(maxVersion)
	out := b.handlers.Serve(ctx, &api.Request{Version: maxVersion, Body: req, Listener: api.ListenerInterBroker, Loopback: true,
		Peer: api.Peer{NodeID: b.cfg.NodeID, ClusterID: b.controller.Image().ClusterID}, Principal: auth.Anonymous, ClientHost: "/127.0.0.1"})
	if out.Wait != nil {
		out = out.Wait()
	}
	if out.Release != nil {
		out.Release()
	}
	if out.Response == nil {
		return nil, fmt.Errorf("api key %d: no response from this node's own handler", req.Key())
	}
	return out.Response, nil
}

// warnAnonymousPeers warns when peers will be refused: with an
// authorizer, a PLAINTEXT inter-broker listener admits only peers whose
// principal, ANONYMOUS, may act as a broker.
func (b *Broker) warnAnonymousPeers(a *auth.Authorizer) {
	voters, _ := config.ParseVoters(b.cfg.ControllerQuorumVoters)
	if _, voter := voters[b.cfg.NodeID]; len(voters) <= 1 && (voter || len(voters) == 0) {
		return // alone: no peer connects
	}
	if b.peerSec.secured() || !a.Enabled() || a.Authorize(auth.Anonymous, "127.0.0.1", auth.OpClusterAction, auth.ResourceCluster, auth.ClusterName) {
		return
	}
	b.logger.Warn("authorizer.class.name is set and the inter-broker listener is PLAINTEXT: peers connect as User:ANONYMOUS, "+
		"which needs CLUSTER_ACTION on the cluster (super.users=...;User:ANONYMOUS, as Kafka needs), or secure the inter-broker "+
		"listener (inter.broker.listener.name with SSL, SASL_PLAINTEXT or SASL_SSL)", "super_users", b.cfg.Security.SuperUsers)
}
