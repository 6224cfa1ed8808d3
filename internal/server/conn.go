package server

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/metrics"
)

// Errors that end a connection.
var (
	// ErrIdle: no request arrived and no response was pending for
	// connections.max.idle.ms.
	ErrIdle = errors.New("server: connection idle longer than connections.max.idle.ms")
	// ErrStalled: a request's bytes stopped arriving for
	// connections.max.idle.ms.
	ErrStalled = errors.New("server: request stalled mid-frame longer than connections.max.idle.ms")
)

// pendingResponse is a handled request waiting for the writer.
type pendingResponse struct {
	correlationID int32
	outcome       api.Outcome
	// key and version name the request for metrics (key -1: none); times
	// are filled as it moves through the connection.
	key, version int16
	times        metrics.RequestTimes
}

// maxPipelined bounds how many requests of one connection may be handled
// before their responses are written.
const maxPipelined = 16

// conn is one client connection. Its reader runs on the goroutine the
// server started for it; a writer goroutine runs only while responses are
// queued. An idle connection therefore holds one parked goroutine, its
// socket and this struct: no buffers (frames and responses use pooled
// buffers for the time they are in use).
type conn struct {
	s      *Server
	nc     net.Conn
	remote string // client address, for logs
	// clientHost is the address as Kafka shows it in DescribeGroups.
	clientHost string
	hdr        [4]byte // the next frame's size prefix
	// listener is the kind of listener; peer, on the inter-broker
	// listener, the node that opened the connection with the handshake.
	listener api.Listener
	peer     api.Peer
	// principal is who the connection authenticated as (ANONYMOUS until
	// then, and on PLAINTEXT listeners); sasl is the SASL state on a SASL
	// listener. Both belong to the reader.
	principal auth.Principal
	sasl      *saslConn

	// idle is connections.max.idle.ms (0: never). lastRead and lastWrite
	// (unix nanoseconds) and inflight (requests read whose response is not
	// written yet) decide whether a read that timed out means idle.
	idle      time.Duration
	lastRead  atomic.Int64
	lastWrite atomic.Int64
	inflight  atomic.Int32

	slots chan struct{} // one token per queued response (maxPipelined)
	out   struct {
		sync.Mutex
		queue   []pendingResponse
		running bool // a writer goroutine is draining queue
	}
	writers sync.WaitGroup
	// broken is set once a write failed or a response asked to close;
	// only the (single, running) writer touches it.
	broken bool
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, remote: nc.RemoteAddr().String(), idle: s.cfg.ConnectionsMaxIdle, slots: make(chan struct{}, maxPipelined),
		listener: s.listener(), principal: auth.Anonymous}
	if s.cfg.SASL != nil && !s.cfg.InterBroker {
		c.sasl = &saslConn{cfg: s.cfg.SASL}
	}
	c.clientHost = "/" + c.remote
	if host, _, err := net.SplitHostPort(c.remote); err == nil {
		c.clientHost = "/" + host
	}
	now := time.Now().UnixNano()
	c.lastRead.Store(now)
	c.lastWrite.Store(now)
	return c
}

func (c *conn) logger() *slog.Logger { return c.s.cfg.Logger.With("remote", c.remote) }

// Read reads from the socket under connections.max.idle.ms: when the read
// deadline passes it goes on reading if the connection is still in use (a
// response is pending, or bytes moved within the idle time) and fails
// with ErrIdle otherwise.
func (c *conn) Read(p []byte) (int, error) {
	for {
		n, err := c.nc.Read(p)
		if n > 0 && c.idle > 0 {
			c.lastRead.Store(time.Now().UnixNano())
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || c.s.ctx.Err() != nil {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
		now := time.Now()
		if c.inflight.Load() > 0 {
			_ = c.nc.SetReadDeadline(now.Add(c.idle))
			continue
		}
		last := time.Unix(0, max(c.lastRead.Load(), c.lastWrite.Load()))
		if now.Sub(last) >= c.idle {
			return 0, ErrIdle
		}
		_ = c.nc.SetReadDeadline(last.Add(c.idle))
	}
}

// serve reads and handles requests in order and queues their outcomes for
// the writer, which finishes them (waiting for durability where needed)
// and writes the responses in the same order. It returns true when it
// handed the connection to cfg.Handoff.
func (c *conn) serve() (handedOff bool) {
	defer c.writers.Wait()
	if tc, ok := c.nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if c.s.cfg.TLS != nil {
		if err := c.startTLS(); err != nil {
			c.logger().Info("closing connection", "err", err)
			return false
		}
	}
	if c.s.cfg.InterBroker {
		if err := c.authenticatePeer(); err != nil {
			c.logger().Warn("closing inter-broker connection", "err", err)
			return false
		}
		if handoff, err := c.admit(); handoff {
			return true
		} else if err != nil {
			c.logger().Warn("closing inter-broker connection", "err", err)
			return false
		}
	}
	for {
		if c.idle > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.idle))
		}
		if _, err := io.ReadFull(c, c.hdr[:]); err != nil {
			c.closing(err, false)
			return false
		}
		size := int32(binary.BigEndian.Uint32(c.hdr[:]))
		if c.sasl != nil && c.sasl.state == saslRawToken {
			token, err := c.readRawToken(size)
			if err == nil {
				err = c.rawToken(token)
			}
			if err != nil {
				c.closing(err, true)
				return false
			}
			continue
		}
		if err := checkFrameSize(size, c.s.cfg.MaxRequestBytes); err != nil {
			c.closing(err, false)
			return false
		}
		// queued.max.request.bytes: wait (without reading the body) until
		// the broker has room for this request.
		charge, err := c.s.requestBytes.begin(c.s.ctx, firstCost(size))
		if err != nil {
			return false
		}
		frame, err := readFrameBody(c, size, func(extra int64) error { return c.s.requestBytes.grow(c.s.ctx, charge, extra) })
		if err != nil {
			c.s.requestBytes.end(charge)
			c.closing(err, true)
			return false
		}
		if key := int16(binary.BigEndian.Uint16(*frame)); knownKey(key) && !api.Serves(c.listener, key) {
			// As Kafka's SocketServer does for a key its listener does not
			// enable: close the connection.
			putBuf(frame)
			c.s.requestBytes.end(charge)
			c.logger().Warn("closing connection: API key not served on this listener", "api_key", key, "inter_broker", c.s.cfg.InterBroker)
			return false
		}
		var times metrics.RequestTimes
		if c.s.metrics != nil {
			times.Received = time.Now()
		}
		h, req, err := parseRequest(*frame)
		p := pendingResponse{correlationID: h.correlationID, key: h.key, version: h.version}
		saslHandled := false
		if err == nil && c.sasl != nil {
			var sp pendingResponse
			if sp, saslHandled, err = c.authenticating(h, req); err != nil {
				c.logger().Info("closing connection", "err", err)
				putBuf(frame)
				c.s.requestBytes.end(charge)
				return false
			}
			if saslHandled {
				p.outcome = sp.outcome
			}
		}
		switch {
		case saslHandled:
		case err == nil:
			if c.s.metrics != nil {
				times.Started = time.Now()
			}
			p.outcome = c.s.handle(c, &api.Request{Version: h.version, CorrelationID: h.correlationID, ClientID: h.clientID, ClientHost: c.clientHost, Body: req,
				Listener: c.listener, Peer: c.peer, Principal: c.principal, ListenerName: c.s.cfg.ListenerName, Size: int(size)})
		case errors.Is(err, ErrBadVersion) && h.key == 18:
			p.outcome = api.Outcome{Response: api.UnsupportedApiVersions(c.listener)}
		case errors.Is(err, ErrUnknownKey):
			if resp := api.UnservedResponse(h.key, h.version); resp != nil {
				p.outcome = api.Outcome{Response: resp}
			} else {
				c.logger().Warn("closing connection after bad request", "err", err)
			}
		default:
			c.logger().Warn("closing connection after bad request", "err", err)
		}
		if c.s.metrics != nil {
			times.Handled = time.Now()
			if times.Started.IsZero() {
				times.Started = times.Handled
			}
			p.times = times
		}
		// Handled: the request's bytes are no longer needed (handlers copy
		// what they keep).
		putBuf(frame)
		c.s.requestBytes.end(charge)
		if err != nil && p.outcome.Response == nil {
			return false
		}
		if !c.enqueue(p) || p.outcome.Close {
			return false
		}
		if p.outcome.Throttle > 0 && !c.mute(p.outcome.Throttle) {
			return false
		}
	}
}

// mute stops reading the connection for d: a client over its quota was
// told to wait that long (ThrottleMillis), and a client that does not is
// held back here (KIP-219). False means the server is shutting down.
func (c *conn) mute(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.s.ctx.Done():
		return false
	}
}

// closing logs why the connection ends (err from reading a frame's size,
// or its body when midFrame), unless it is the client leaving or the
// server shutting down. Limits are logged at warn, idle expiry (routine
// for clients that keep connections open) at debug.
func (c *conn) closing(err error, midFrame bool) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), c.s.ctx.Err() != nil:
	case errors.Is(err, ErrIdle) && !midFrame:
		c.logger().Debug("closing idle connection", "idle", c.idle)
	case errors.Is(err, ErrIdle):
		c.logger().Warn("closing connection", "err", ErrStalled, "idle", c.idle)
	default:
		c.logger().Warn("closing connection", "err", err)
	}
}

// enqueue hands a response to the writer, starting one if none runs. It
// waits while maxPipelined responses are queued; false means the server
// is shutting down (the outcome was finished here).
func (c *conn) enqueue(p pendingResponse) bool {
	select {
	case c.slots <- struct{}{}:
	case <-c.s.ctx.Done():
		finishDropped(p.outcome)
		return false
	}
	c.inflight.Add(1)
	c.out.Lock()
	c.out.queue = append(c.out.queue, p)
	start := !c.out.running
	if start {
		c.out.running = true
		c.writers.Add(1)
	}
	c.out.Unlock()
	if start {
		go c.writeLoop()
	}
	return true
}

// finishDropped runs what an outcome holds without sending it.
func finishDropped(out api.Outcome) {
	if out.Wait != nil {
		out = out.Wait()
	}
	if out.Release != nil {
		out.Release()
	}
}

// writeLoop finishes and writes queued responses in request order and
// exits when the queue is empty. After a write fails or a response asks
// to close, it closes the connection and only drains the rest (their Wait
// still runs, to release what they hold).
func (c *conn) writeLoop() {
	defer c.writers.Done()
	var buf *[]byte
	defer func() {
		if buf != nil {
			putBuf(buf)
		}
	}()
	for {
		c.out.Lock()
		if len(c.out.queue) == 0 {
			c.out.queue = nil
			c.out.running = false
			c.out.Unlock()
			return
		}
		p := c.out.queue[0]
		c.out.queue[0] = pendingResponse{}
		c.out.queue = c.out.queue[1:]
		c.out.Unlock()

		outcome := p.outcome
		if outcome.Wait != nil {
			outcome = outcome.Wait()
		}
		if c.s.metrics != nil {
			p.times.Finished = time.Now()
		}
		if c.broken {
			if outcome.Release != nil {
				outcome.Release()
			}
		} else if outcome.Chunks != nil || outcome.Response != nil {
			if buf == nil {
				buf = getBuf(4 << 10)
			}
			if c.idle > 0 {
				_ = c.nc.SetWriteDeadline(time.Now().Add(c.idle))
			}
			var err error
			if outcome.Chunks != nil {
				*buf, err = writeChunks(c.nc, (*buf)[:0], p.correlationID, outcome)
				outcome.Release()
			} else {
				*buf = appendResponse((*buf)[:0], p.correlationID, outcome.Response)
				_, err = c.nc.Write(*buf)
			}
			if err != nil {
				c.broken = true
			}
			if c.idle > 0 {
				c.lastWrite.Store(time.Now().UnixNano())
			}
		}
		if c.s.metrics != nil {
			p.times.Sent = time.Now()
			c.s.metrics.ObserveRequest(p.key, p.version, outcome.Response, p.times)
		}
		if outcome.Close || c.broken {
			c.broken = true
			c.nc.Close()
		}
		c.inflight.Add(-1)
		<-c.slots
	}
}

// bufferedConn is a connection whose first bytes were already read: r
// gives them back before the rest.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// knownKey reports whether arus serves key on some listener; keys it serves
// nowhere are answered by parseRequest's unknown-key path instead.
func knownKey(key int16) bool {
	_, _, ok := api.VersionRange(key)
	return ok
}
