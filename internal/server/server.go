package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/arus-io/arus/internal/api"
)

// Config of a server.
type Config struct {
	// MaxRequestBytes is socket.request.max.bytes.
	MaxRequestBytes int32
	Handlers        *api.Handlers
	Logger          *slog.Logger
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
	cfg    Config
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		conns  map[net.Conn]struct{}
		closed bool
	}
}

// Listen binds addr and returns a server that is not yet accepting.
func Listen(addr string, cfg Config) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, ln: ln, ctx: ctx, cancel: cancel}
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
		conn, err := s.ln.Accept()
		if err != nil {
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
		s.mu.Lock()
		if s.mu.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.mu.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.goFunc(func() {
			handedOff := false
			defer func() {
				s.mu.Lock()
				delete(s.mu.conns, conn)
				s.mu.Unlock()
				if !handedOff {
					conn.Close()
				}
			}()
			handedOff = s.serveConn(conn)
		})
	}
}

// pendingResponse is a handled request waiting for the writer.
type pendingResponse struct {
	correlationID int32
	outcome       api.Outcome
}

// maxPipelined bounds how many requests of one connection may be handled
// before their responses are written.
const maxPipelined = 16

// serveConn reads and handles requests in order on this goroutine and
// hands the outcomes to a writer goroutine that finishes them (waiting for
// durability where needed) and writes the responses in the same order. It
// returns true when it handed the connection to cfg.Handoff.
func (s *Server) serveConn(conn net.Conn) bool {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	logger := s.cfg.Logger.With("remote", conn.RemoteAddr().String())
	r := bufio.NewReaderSize(conn, 64<<10)
	listener := s.listener()
	var peer api.Peer
	if s.cfg.InterBroker {
		var handoff bool
		var err error
		if peer, handoff, err = s.admitInterBroker(conn, r); handoff {
			return true
		} else if err != nil {
			logger.Warn("closing inter-broker connection", "err", err)
			return false
		}
	}
	clientHost := "/" + conn.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(conn.RemoteAddr().String()); err == nil {
		clientHost = "/" + host
	}
	pending := make(chan pendingResponse, maxPipelined)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writeLoop(conn, pending)
	}()
	defer func() {
		close(pending)
		<-writerDone
	}()

	var frame []byte
	for {
		var err error
		frame, err = readFrame(r, frame, s.cfg.MaxRequestBytes)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && s.ctx.Err() == nil {
				logger.Warn("closing connection", "err", err)
			}
			return false
		}
		if key := int16(binary.BigEndian.Uint16(frame)); !api.Serves(listener, key) {
			// As Kafka's SocketServer does for a key its listener does not
			// enable: close the connection.
			logger.Warn("closing connection: API key not served on this listener", "api_key", key, "inter_broker", s.cfg.InterBroker)
			return false
		}
		h, req, err := parseRequest(frame)
		if err != nil {
			if errors.Is(err, ErrBadVersion) && h.key == 18 {
				pending <- pendingResponse{h.correlationID, api.Outcome{Response: api.UnsupportedApiVersions(listener)}}
				continue
			}
			logger.Warn("closing connection after bad request", "err", err)
			return false
		}
		outcome := s.handle(logger, &api.Request{Version: h.version, CorrelationID: h.correlationID, ClientID: h.clientID, ClientHost: clientHost, Body: req,
			Listener: listener, Peer: peer})
		pending <- pendingResponse{h.correlationID, outcome}
		if outcome.Close {
			return false
		}
		if cap(frame) > 8<<20 {
			frame = nil // do not pin a large buffer to an idle connection
		}
	}
}

// writeLoop finishes and writes responses in request order. After a write
// fails or a response asks to close, it closes the connection and only
// drains the rest (their Wait still runs, to release what they hold).
func (s *Server) writeLoop(conn net.Conn, pending <-chan pendingResponse) {
	var out []byte
	broken := false
	for p := range pending {
		outcome := p.outcome
		if outcome.Wait != nil {
			outcome = outcome.Wait()
		}
		if broken {
			if outcome.Release != nil {
				outcome.Release()
			}
			continue
		}
		switch {
		case outcome.Chunks != nil:
			var err error
			out, err = writeChunks(conn, out[:0], p.correlationID, outcome)
			outcome.Release()
			if err != nil {
				broken = true
			}
		case outcome.Response != nil:
			out = appendResponse(out[:0], p.correlationID, outcome.Response)
			if _, err := conn.Write(out); err != nil {
				broken = true
			}
		}
		if cap(out) > 8<<20 {
			out = nil
		}
		if outcome.Close || broken {
			broken = true
			conn.Close()
		}
	}
}

// handle runs a handler, turning a panic (a bug) into a closed connection
// rather than a dead broker.
func (s *Server) handle(logger *slog.Logger, req *api.Request) (out api.Outcome) {
	defer func() {
		if p := recover(); p != nil {
			logger.Error("handler panicked; closing connection", "api_key", req.Body.Key(), "version", req.Version, "panic", p)
			out = api.Outcome{Close: true}
		}
	}()
	return s.cfg.Handlers.Serve(s.ctx, req)
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

// bufferedConn is a connection whose first bytes were already read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
