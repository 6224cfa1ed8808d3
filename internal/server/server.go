package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/metrics"
)

// Handler serves decoded requests; *api.Handlers is the one the broker
// uses. Serve is called from many connections at once; ctx ends when the
// server shuts down, and every wait (including an Outcome's Wait) must
// end with it.
type Handler interface {
	Serve(ctx context.Context, req *api.Request) api.Outcome
}

// Config of a server. Zero limits mean unlimited; internal/config fills
// Kafka's names and arus's defaults.
type Config struct {
	// MaxRequestBytes is socket.request.max.bytes.
	MaxRequestBytes int32
	// QueuedMaxRequestBytes is queued.max.request.bytes: how many bytes of
	// requests, summed over all connections, may be read but not yet
	// handled. A connection about to read a request waits while the sum
	// is at the limit. Each request counts the capacity of the buffer it
	// may need (its size rounded up to a power of two); its buffer itself
	// only grows as the bytes arrive.
	QueuedMaxRequestBytes int64
	// ConnectionsMaxIdle is connections.max.idle.ms: a connection with no
	// request in flight and no bytes moving for this long is closed, as is
	// one whose request stops arriving mid-frame, or whose client stops
	// reading a response, for this long.
	ConnectionsMaxIdle time.Duration
	// MaxConnections is max.connections: while this many connections are
	// open, the listener stops accepting (new ones wait in the backlog).
	MaxConnections int
	// MaxConnectionsPerIP is max.connections.per.ip, with per-host
	// overrides (max.connections.per.ip.overrides, host or IP to count): a
	// connection over its address's limit is closed right after accept.
	MaxConnectionsPerIP          int
	MaxConnectionsPerIPOverrides map[string]int
	// MaxConnectionCreationRate is max.connection.creation.rate, new
	// connections per second; accepts are delayed to keep within it.
	MaxConnectionCreationRate int
	Handlers                  Handler
	Logger                    *slog.Logger
	// InterBroker makes this the inter-broker (and controller) listener:
	// it serves every API key, but only on connections that open with the
	// peer handshake (AppendPeerHandshake) or, when Handoff is set, with
	// Preface. A client listener serves the client keys only and closes a
	// connection that sends another (api.Serves).
	InterBroker bool
	// Preface and Handoff share the inter-broker listener with another
	// protocol: a connection whose first 8 bytes are Preface is given to
	// Handoff (which then owns it) instead of being served as Kafka. The
	// metadata quorum's Raft transport uses this.
	Preface []byte
	Handoff func(net.Conn)

	// ListenerName is the listener's name (listeners=NAME://host:port),
	// given to handlers with each request: Metadata answers with the
	// brokers' addresses on this listener.
	ListenerName string
	// TLS, when set, makes this an SSL or SASL_SSL listener: connections
	// start with a TLS handshake (file regions of Fetch responses are then
	// copied through TLS instead of sent with sendfile).
	TLS *tls.Config
	// PrincipalMapper names the principal of an SSL connection from its
	// client certificate (ssl.principal.mapping.rules); nil: ANONYMOUS.
	PrincipalMapper *auth.PrincipalMapper
	// SASL, when set, makes this a SASL_PLAINTEXT or SASL_SSL listener:
	// connections authenticate before any request but ApiVersions.
	SASL *SASLConfig
	// AuthorizePeer, on an inter-broker listener, is asked whether the
	// principal a connection authenticated as (from its SASL login or
	// client certificate; ANONYMOUS without either, as on PLAINTEXT) may
	// act as a broker (Kafka: CLUSTER_ACTION on the cluster). A false
	// answer closes the connection before it carries any request or Raft
	// message. Nil admits every connection.
	AuthorizePeer func(p auth.Principal, host string) bool
	// Metrics, when set, records every request (count, errors, phase
	// latencies); nil records nothing.
	Metrics *metrics.Metrics
}

// listener is the kind of listener this server is.
func (s *Server) listener() api.Listener {
	if s.cfg.InterBroker {
		return api.ListenerInterBroker
	}
	return api.ListenerClient
}

// Server serves the Kafka protocol on one listener.
type Server struct {
	cfg          Config
	ln           net.Listener
	ctx          context.Context
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	requestBytes *budget
	limits       *connLimits
	metrics      *metrics.Metrics // nil: none
	accepted     atomic.Uint64    // connections accepted (and admitted by the limits)

	mu struct {
		sync.Mutex
		conns  map[net.Conn]struct{}
		closed bool
	}
}

// Listen binds addr and returns a server that is not yet accepting.
func Listen(addr string, cfg Config) (*Server, error) {
	limits, err := newConnLimits(cfg)
	if err != nil {
		return nil, fmt.Errorf("max.connections.per.ip.overrides: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, ln: ln, ctx: ctx, cancel: cancel, requestBytes: newBudget(cfg.QueuedMaxRequestBytes), limits: limits,
		metrics: cfg.Metrics}
	s.mu.conns = map[net.Conn]struct{}{}
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until Shutdown; it starts its own goroutine.
func (s *Server) Serve() {
	s.goFunc(s.acceptLoop)
}

func (s *Server) goFunc(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

func (s *Server) acceptLoop() {
	var backoff time.Duration
	for {
		// max.connections, then max.connection.creation.rate: both wait
		// before accepting, as Kafka's acceptor does.
		if s.limits.waitSlot(s.ctx) != nil {
			return
		}
		if s.limits.waitRate(s.ctx) != nil {
			s.limits.releaseSlot()
			return
		}
		conn, err := s.ln.Accept()
		if err != nil {
			s.limits.releaseSlot()
			if s.ctx.Err() != nil {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failure (e.g. out of file descriptors): back off.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.cfg.Logger.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		ip := remoteIP(conn)
		if ok, warn, refused := s.limits.addIP(ip, time.Now()); !ok {
			s.limits.releaseSlot()
			conn.Close()
			if warn {
				s.cfg.Logger.Warn("closing connection: too many connections from this address (max.connections.per.ip)",
					"remote", conn.RemoteAddr().String(), "refused_since_last_warning", refused)
			}
			continue
		}
		s.mu.Lock()
		if s.mu.closed {
			s.mu.Unlock()
			s.limits.removeIP(ip)
			s.limits.releaseSlot()
			conn.Close()
			return
		}
		s.mu.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.accepted.Add(1)
		s.goFunc(func() {
			handedOff := newConn(s, conn).serve()
			s.mu.Lock()
			delete(s.mu.conns, conn)
			s.mu.Unlock()
			if !handedOff {
				conn.Close()
			}
			// A connection handed to the Raft transport leaves the
			// server and its limits.
			s.limits.removeIP(ip)
			s.limits.releaseSlot()
		})
	}
}

// handle runs a handler, turning a panic (a bug) into a closed connection
// rather than a dead broker.
func (s *Server) handle(c *conn, req *api.Request) (out api.Outcome) {
	defer func() {
		if p := recover(); p != nil {
			c.logger().Error("handler panicked; closing connection", "api_key", req.Body.Key(), "version", req.Version, "panic", p)
			out = api.Outcome{Close: true}
		}
	}()
	return s.cfg.Handlers.Serve(s.ctx, req)
}

// Connections returns the connections open now and those accepted since
// the server started (for metrics).
func (s *Server) Connections() (open int, accepted uint64) {
	s.mu.Lock()
	open = len(s.mu.conns)
	s.mu.Unlock()
	return open, s.accepted.Load()
}

// Shutdown stops accepting, closes every connection and waits for their
// goroutines. Idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.mu.closed {
		s.mu.closed = true
		s.cancel()
		s.ln.Close()
		for c := range s.mu.conns {
			c.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
