package quorum

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Wire format of the Raft transport (format constants: never change). A
// connection carries messages one way, from the node that dialled it. The
// dialler first writes the 8-byte preface and its identity, then frames in
// the framing of local.go whose payload is one protobuf-encoded
// raftpb.Message:
//
//	"arusraf2"                   preface: protocol and version
//	8 bytes                      the dialler's node id (big endian)
//	2 bytes n, n bytes           the cluster id the dialler knows ("" before it has one)
//	4 bytes length, 4 bytes CRC-32C, raftpb.Message    (repeated)
//
// The preface lets the transport share the inter-broker listener: that
// listener peeks at the first 8 bytes and hands a connection that starts
// with them to the transport rather than to the Kafka protocol (a Kafka
// request starts with a 4-byte size, far below 0x61727573 = "arus").
//
// The identity is checked before any message is read: the node must be
// another voter, and a cluster id that differs from the one this node
// knows is refused (an empty one is not enforced, as Kafka's
// KafkaRaftClient.hasValidClusterId does not enforce a missing one: voters
// forming a new cluster have none yet). Every message must then come from
// that node. Version 1 ("arusraf1", no identity) is refused.
var preface = [8]byte{'a', 'r', 'u', 's', 'r', 'a', 'f', '2'}

// maxClusterIDLen bounds the cluster id of a preface.
const maxClusterIDLen = 64

// Transport tuning.
const (
	// peerQueue is how many messages wait for one peer's connection; more
	// are dropped (Raft retransmits) so the Ready loop never blocks.
	peerQueue   = 4096
	dialTimeout = time.Second
	// securedDialTimeout bounds a Config.Dial (which may run TLS and a
	// SASL login after connecting).
	securedDialTimeout = 5 * time.Second
	// writeTimeout bounds one flush to a peer; a stalled peer is dropped
	// and redialled.
	writeTimeout   = 5 * time.Second
	prefaceTimeout = 10 * time.Second
	minBackoff     = 20 * time.Millisecond
	maxBackoff     = time.Second
)

// transport sends Raft messages to peers over TCP and delivers the
// messages it receives to recv. One goroutine accepts, one reads each
// inbound connection, and one per peer dials and writes; all are tracked
// by wg and end in close.
type transport struct {
	self     uint64
	listener net.Listener
	peers    map[uint64]*peer // fixed at start
	recv     chan<- *pb.Message
	maxBytes int
	clock    Clock
	logger   *slog.Logger
	// clusterID returns the cluster id this node knows ("" if none yet).
	clusterID func() string
	// dialer, when set, opens connections to peers (Config.Dial).
	dialer func(ctx context.Context, addr string) (net.Conn, error)

	stop   chan struct{} // closed by close
	cancel context.CancelFunc
	ctx    context.Context // cancelled by close; aborts dials
	wg     sync.WaitGroup

	// reportc is signalled (capacity 1) when reports has news for the
	// Ready loop.
	reportc chan struct{}
	mu      struct {
		sync.Mutex
		closed bool
		conns  map[net.Conn]struct{} // every open connection, both ways
		// unreachable and snapshots are reports for the Ready loop, which
		// alone may call into raft: peers a send failed to, and the
		// outcome of each MsgSnap.
		unreachable map[uint64]struct{}
		snapshots   map[uint64]raft.SnapshotStatus
	}
}

// peer is one remote voter's outgoing side.
type peer struct {
	id    uint64
	addr  string
	queue chan *pb.Message
}

func newTransport(self uint64, ln net.Listener, voters map[uint64]string, recv chan<- *pb.Message, maxBytes int, clock Clock, logger *slog.Logger, clusterID func() string) *transport {
	ctx, cancel := context.WithCancel(context.Background())
	if clusterID == nil {
		clusterID = func() string { return "" }
	}
	t := &transport{
		clusterID: clusterID,
		self:      self,
		listener:  ln,
		peers:     map[uint64]*peer{},
		recv:      recv,
		maxBytes:  maxBytes,
		clock:     clock,
		logger:    logger,
		stop:      make(chan struct{}),
		ctx:       ctx,
		cancel:    cancel,
		reportc:   make(chan struct{}, 1),
	}
	t.mu.conns = map[net.Conn]struct{}{}
	t.mu.unreachable = map[uint64]struct{}{}
	t.mu.snapshots = map[uint64]raft.SnapshotStatus{}
	for id, addr := range voters {
		if id != self {
			t.peers[id] = &peer{id: id, addr: addr, queue: make(chan *pb.Message, peerQueue)}
		}
	}
	return t
}

// start launches the accept loop and the peer writers.
func (t *transport) start() {
	t.goFunc(t.acceptLoop)
	for _, p := range t.peers {
		t.goFunc(func() { t.runPeer(p) })
	}
}

// goFunc runs fn on a goroutine tracked by wg.
func (t *transport) goFunc(fn func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		fn()
	}()
}

// close stops every goroutine, closes every connection and the listener,
// and waits. Idempotent.
func (t *transport) close() {
	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		t.wg.Wait()
		return
	}
	t.mu.closed = true
	close(t.stop)
	t.cancel()
	for c := range t.mu.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.listener.Close()
	t.wg.Wait()
}

// track registers an open connection so close can interrupt its I/O; it
// returns false (and closes c) when the transport is already closed.
func (t *transport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		c.Close()
		return false
	}
	t.mu.conns[c] = struct{}{}
	return true
}

func (t *transport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.mu.conns, c)
	t.mu.Unlock()
	c.Close()
}

// send queues messages for their peers without blocking. A message to an
// unknown peer or a full queue is dropped and reported.
func (t *transport) send(msgs []*pb.Message) {
	for _, m := range msgs {
		p := t.peers[m.GetTo()]
		if p == nil {
			t.logger.Warn("raft message to unknown peer dropped", "to", m.GetTo(), "type", m.GetType())
			continue
		}
		select {
		case p.queue <- m:
		default:
			t.failed(m)
		}
	}
}

// failed reports a message that was not delivered.
func (t *transport) failed(m *pb.Message) {
	t.mu.Lock()
	t.mu.unreachable[m.GetTo()] = struct{}{}
	if m.GetType() == pb.MsgSnap {
		t.mu.snapshots[m.GetTo()] = raft.SnapshotFailure
	}
	t.mu.Unlock()
	t.notify()
}

// sent reports a MsgSnap that was written to its peer's connection.
func (t *transport) sent(m *pb.Message) {
	if m.GetType() != pb.MsgSnap {
		return
	}
	t.mu.Lock()
	t.mu.snapshots[m.GetTo()] = raft.SnapshotFinish
	t.mu.Unlock()
	t.notify()
}

func (t *transport) notify() {
	select {
	case t.reportc <- struct{}{}:
	default:
	}
}

// takeReports returns and clears the pending reports; called by the Ready
// loop after reportc fires.
func (t *transport) takeReports() (unreachable []uint64, snapshots map[uint64]raft.SnapshotStatus) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id := range t.mu.unreachable {
		unreachable = append(unreachable, id)
	}
	clear(t.mu.unreachable)
	if len(t.mu.snapshots) > 0 {
		snapshots = t.mu.snapshots
		t.mu.snapshots = map[uint64]raft.SnapshotStatus{}
	}
	return unreachable, snapshots
}

// runPeer owns the outgoing connection to p: it dials on demand, writes
// queued messages in batches, and after a failure waits out a growing
// backoff during which messages are dropped rather than held (Raft
// retransmits from its log, so stale messages have no value).
func (t *transport) runPeer(p *peer) {
	var (
		conn    net.Conn
		w       *bufio.Writer
		backoff = minBackoff
		retryAt time.Time
		batch   []*pb.Message
		written []*pb.Message
		buf     []byte
		hdr     [frameHeader]byte
	)
	defer func() {
		if conn != nil {
			t.untrack(conn)
		}
	}()
	for {
		var m *pb.Message
		select {
		case <-t.stop:
			return
		case m = <-p.queue:
		}
		if conn == nil {
			if t.clock.Now().Before(retryAt) {
				t.failed(m)
				continue
			}
			c, err := t.dial(p.addr)
			if err != nil {
				t.logger.Debug("raft peer unreachable", "peer", p.id, "addr", p.addr, "err", err, "retry_in", backoff)
				retryAt = t.clock.Now().Add(backoff)
				backoff = min(backoff*2, maxBackoff)
				t.failed(m)
				continue
			}
			conn, w = c, bufio.NewWriterSize(c, 64<<10)
			backoff = minBackoff
			if _, err := w.Write(appendPreface(nil, t.self, t.clusterID())); err != nil {
				t.untrack(conn)
				conn = nil
				t.failed(m)
				continue
			}
		}
		// Take what else is queued so one flush carries the batch.
		batch = append(batch[:0], m)
	drain:
		for len(batch) < 256 {
			select {
			case m := <-p.queue:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		// Network deadlines need the wall clock, whatever Clock is.
		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		written = written[:0]
		var err error
		for _, m := range batch {
			var merr error
			buf, merr = proto.MarshalOptions{}.MarshalAppend(buf[:0], m)
			if merr == nil && len(buf) > t.maxBytes {
				merr = fmt.Errorf("message of %d bytes exceeds the limit of %d", len(buf), t.maxBytes)
			}
			if merr != nil {
				t.logger.Error("raft message not sent", "peer", p.id, "type", m.GetType(), "err", merr)
				t.failed(m)
				continue
			}
			if _, err = w.Write(frameHeaderOf(hdr[:0], buf)); err != nil {
				break
			}
			if _, err = w.Write(buf); err != nil {
				break
			}
			written = append(written, m)
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			t.logger.Debug("raft peer write failed", "peer", p.id, "err", err)
			t.untrack(conn)
			conn = nil
			retryAt = t.clock.Now().Add(backoff)
			for _, m := range batch {
				t.failed(m)
			}
			continue
		}
		for _, m := range written {
			t.sent(m)
		}
	}
}

func (t *transport) dial(addr string) (net.Conn, error) {
	var c net.Conn
	var err error
	if t.dialer != nil {
		ctx, cancel := context.WithTimeout(t.ctx, securedDialTimeout)
		c, err = t.dialer(ctx, addr)
		cancel()
	} else {
		d := net.Dialer{Timeout: dialTimeout}
		c, err = d.DialContext(t.ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if !t.track(c) {
		return nil, errClosedTransport
	}
	return c, nil
}

var errClosedTransport = errors.New("quorum: transport closed")

func (t *transport) acceptLoop() {
	for {
		c, err := t.listener.Accept()
		if err != nil {
			select {
			case <-t.stop:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			t.logger.Error("raft listener stopped", "err", err)
			return
		}
		if !t.track(c) {
			return
		}
		t.goFunc(func() { t.serveConn(c) })
	}
}

// serveConn reads messages from one inbound connection until it fails or
// the transport closes.
func (t *transport) serveConn(c net.Conn) {
	defer t.untrack(c)
	r := bufio.NewReaderSize(c, 64<<10)
	// Network deadlines need the wall clock, whatever Clock is.
	c.SetReadDeadline(time.Now().Add(prefaceTimeout))
	from, cid, err := readPreface(r)
	if err != nil {
		t.logger.Warn("raft connection without a valid preface closed", "remote", c.RemoteAddr(), "err", err)
		return
	}
	if _, voter := t.peers[from]; !voter {
		t.logger.Warn("raft connection from a node that is not a voter closed", "remote", c.RemoteAddr(), "node", from)
		return
	}
	if own := t.clusterID(); cid != "" && own != "" && cid != own {
		t.logger.Warn("raft connection from another cluster closed", "remote", c.RemoteAddr(), "node", from,
			"cluster_id", cid, "own_cluster_id", own)
		return
	}
	c.SetReadDeadline(time.Time{})
	for {
		payload, err := readFrame(r, t.maxBytes)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				t.logger.Debug("raft connection closed", "remote", c.RemoteAddr(), "err", err)
			}
			return
		}
		m := &pb.Message{}
		if err := proto.Unmarshal(payload, m); err != nil {
			t.logger.Warn("undecodable raft message; closing connection", "remote", c.RemoteAddr(), "err", err)
			return
		}
		if m.GetFrom() != from {
			t.logger.Warn("raft message from another node than the connection's; closing it", "remote", c.RemoteAddr(),
				"node", from, "from", m.GetFrom())
			return
		}
		if m.GetTo() != t.self {
			t.logger.Warn("raft message for another node dropped", "to", m.GetTo(), "self", t.self)
			continue
		}
		select {
		case t.recv <- m:
		case <-t.stop:
			return
		}
	}
}

// Preface returns the 8 bytes every Raft transport connection starts
// with, so a shared listener can tell them from other protocols.
func Preface() []byte { return append([]byte(nil), preface[:]...) }

// appendPreface appends the preface and the dialler's identity.
func appendPreface(dst []byte, self uint64, clusterID string) []byte {
	if len(clusterID) > maxClusterIDLen {
		clusterID = clusterID[:maxClusterIDLen]
	}
	dst = append(dst, preface[:]...)
	dst = binary.BigEndian.AppendUint64(dst, self)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clusterID)))
	return append(dst, clusterID...)
}

// readPreface reads the preface and the dialler's identity.
func readPreface(r io.Reader) (nodeID uint64, clusterID string, err error) {
	var head [len(preface) + 10]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, "", err
	}
	if [8]byte(head[:8]) != preface {
		return 0, "", fmt.Errorf("preface %q, want %q", head[:8], preface[:])
	}
	nodeID = binary.BigEndian.Uint64(head[8:16])
	n := int(binary.BigEndian.Uint16(head[16:18]))
	if n > maxClusterIDLen {
		return 0, "", fmt.Errorf("cluster id of %d bytes", n)
	}
	cid := make([]byte, n)
	if _, err := io.ReadFull(r, cid); err != nil {
		return 0, "", err
	}
	return nodeID, string(cid), nil
}
