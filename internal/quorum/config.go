package quorum

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Config configures one member of a Raft metadata quorum. Validate fills
// the defaults; zero values mean "default" everywhere.
type Config struct {
	// NodeID is this voter's Raft id; non-zero and a key of Voters.
	NodeID uint64
	// Voters maps every voter's id to the host:port its Raft transport
	// listens on. Membership is static: every node must be started with the
	// same set, and a directory that was formed with another set is refused.
	Voters map[uint64]string
	// Listener, when set, is used instead of listening on Voters[NodeID]
	// (tests bind 127.0.0.1:0 first so that every address is known before
	// any node starts). The Raft takes ownership and closes it.
	Listener net.Listener
	// ClusterID, when set, returns the cluster id this node knows ("" while
	// it knows none). The transport sends it to peers and refuses
	// connections from nodes that name another.
	ClusterID func() string
	// Dial, when set, opens the connection to a peer's address (the
	// broker runs TLS and the SASL login of a secured inter-broker
	// listener in it); the transport then writes its preface. Nil dials
	// plain TCP. Called from the transport's peer goroutines, with a
	// context that bounds the whole dial.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Dir holds the Raft write-ahead log and snapshot. Created if missing.
	Dir string

	// TickInterval is the duration of one Raft tick; default 100 ms.
	TickInterval time.Duration
	// ElectionTicks is the election timeout in ticks (randomised by Raft
	// between it and twice it); default 10. Must exceed HeartbeatTicks.
	ElectionTicks int
	// HeartbeatTicks is the leader's heartbeat interval in ticks; default 1.
	HeartbeatTicks int

	// SnapshotEntries is how many applied Raft entries trigger a snapshot
	// of the state machine and a compaction of the log; default 4096.
	SnapshotEntries uint64
	// CatchUpEntries is how many entries before a snapshot stay in the log
	// so that a slightly lagging follower catches up without a snapshot;
	// default 1024.
	CatchUpEntries uint64
	// MaxMessageBytes bounds one transport frame (a snapshot travels in
	// one message); default 128 MiB. Larger frames close the connection.
	MaxMessageBytes int
	// AppendTimeout bounds Append (AppendContext takes a context instead);
	// default 10 s.
	AppendTimeout time.Duration

	// Logger receives the quorum's and the Raft library's logs; default
	// slog.Default().
	Logger *slog.Logger
	// Clock drives ticks and reconnect backoff; default the wall clock.
	Clock Clock
}

// Defaults for Config; see the field comments.
const (
	DefaultTickInterval    = 100 * time.Millisecond
	DefaultElectionTicks   = 10
	DefaultHeartbeatTicks  = 1
	DefaultSnapshotEntries = 4096
	DefaultCatchUpEntries  = 1024
	DefaultMaxMessageBytes = 128 << 20
	DefaultAppendTimeout   = 10 * time.Second
)

// validate rejects nonsense and fills defaults.
func (c *Config) validate() error {
	if c.NodeID == 0 {
		return errors.New("quorum: node id must be non-zero")
	}
	if len(c.Voters) == 0 {
		return errors.New("quorum: no voters")
	}
	for id, addr := range c.Voters {
		if id == 0 {
			return errors.New("quorum: voter id 0 is reserved")
		}
		if addr == "" && !(id == c.NodeID && c.Listener != nil) {
			return fmt.Errorf("quorum: voter %d has no address", id)
		}
	}
	if _, ok := c.Voters[c.NodeID]; !ok {
		return fmt.Errorf("quorum: node %d is not among the voters", c.NodeID)
	}
	if c.Dir == "" {
		return errors.New("quorum: no directory")
	}
	if c.TickInterval == 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = DefaultElectionTicks
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = DefaultHeartbeatTicks
	}
	if c.TickInterval < 0 || c.ElectionTicks < 0 || c.HeartbeatTicks < 0 {
		return errors.New("quorum: negative tick settings")
	}
	if c.ElectionTicks <= c.HeartbeatTicks {
		return fmt.Errorf("quorum: election ticks (%d) must exceed heartbeat ticks (%d)", c.ElectionTicks, c.HeartbeatTicks)
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = DefaultSnapshotEntries
	}
	if c.CatchUpEntries == 0 {
		c.CatchUpEntries = DefaultCatchUpEntries
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxMessageBytes < 1<<20 {
		return fmt.Errorf("quorum: max message bytes %d is below 1 MiB", c.MaxMessageBytes)
	}
	if c.AppendTimeout == 0 {
		c.AppendTimeout = DefaultAppendTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = wallClock{}
	}
	return nil
}

// Clock is the time source of the Ready loop and the transport.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker firing every d; the caller stops it.
	NewTicker(d time.Duration) Ticker
}

// Ticker is a stoppable periodic timer, like *time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) NewTicker(d time.Duration) Ticker { return wallTicker{time.NewTicker(d)} }

type wallTicker struct{ t *time.Ticker }

func (w wallTicker) C() <-chan time.Time { return w.t.C }
func (w wallTicker) Stop()               { w.t.Stop() }
