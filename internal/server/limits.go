package server

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// connLimits enforces Kafka's connection quotas (SocketServer.scala,
// ConnectionQuotas) for one listener:
//
//   - max.connections: the acceptor waits for a free slot before accepting,
//     so connections over the limit wait in the kernel's backlog (Kafka's
//     waitForConnectionSlot);
//   - max.connection.creation.rate: the acceptor is delayed so that accepts
//     do not exceed the rate (a token bucket holding one second of tokens);
//   - max.connections.per.ip (and its overrides): a connection from an
//     address already at its limit is closed right after accept (Kafka's
//     TooManyConnectionsException).
type connLimits struct {
	slots     chan struct{} // one token per open connection; nil: unlimited
	rate      float64       // connections per second; 0: unlimited
	perIP     int           // 0: unlimited
	overrides map[netip.Addr]int

	// tokens and last are the acceptor's token bucket; only the accept
	// loop touches them.
	tokens float64
	last   time.Time

	mu struct {
		sync.Mutex
		perIP map[netip.Addr]*ipCount
	}
}

type ipCount struct {
	open     int
	refused  int       // refused since the last warning
	lastWarn time.Time // when a refusal was last logged
}

func newConnLimits(cfg Config) (*connLimits, error) {
	l := &connLimits{rate: float64(cfg.MaxConnectionCreationRate), perIP: cfg.MaxConnectionsPerIP}
	if cfg.MaxConnections > 0 {
		l.slots = make(chan struct{}, cfg.MaxConnections)
	}
	l.tokens = l.rate
	l.last = time.Now()
	l.mu.perIP = map[netip.Addr]*ipCount{}
	l.overrides = map[netip.Addr]int{}
	for host, n := range cfg.MaxConnectionsPerIPOverrides {
		addrs, err := resolveHost(host)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			l.overrides[a] = n
		}
	}
	return l, nil
}

// resolveHost turns an override's host (an IP or a name, as Kafka's
// InetAddress.getByName accepts) into addresses.
func resolveHost(host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, a.Unmap())
		}
	}
	return out, nil
}

// waitSlot blocks until the listener may hold one more connection. Every
// successful waitSlot is paired with releaseSlot.
func (l *connLimits) waitSlot(ctx context.Context) error {
	if l.slots == nil {
		return nil
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *connLimits) releaseSlot() {
	if l.slots != nil {
		<-l.slots
	}
}

// waitRate blocks until accepting one more connection keeps within
// max.connection.creation.rate, and takes that token. Accept loop only.
func (l *connLimits) waitRate(ctx context.Context) error {
	if l.rate <= 0 {
		return nil
	}
	for {
		now := time.Now()
		l.tokens = min(l.rate, l.tokens+now.Sub(l.last).Seconds()*l.rate)
		l.last = now
		if l.tokens >= 1 {
			l.tokens--
			return nil
		}
		wait := time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// addIP counts a new connection from addr. It reports false when addr is
// at its limit (the connection must be closed), and then whether to log
// it: at most one warning per address every warnEvery, with how many
// connections were refused since the last one.
func (l *connLimits) addIP(addr netip.Addr, now time.Time) (ok, warn bool, refused int) {
	max, overridden := l.overrides[addr]
	if !overridden {
		max = l.perIP
	}
	if max <= 0 && !overridden {
		max = int(^uint(0) >> 1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.mu.perIP[addr]
	if c == nil {
		c = &ipCount{}
		l.mu.perIP[addr] = c
	}
	if c.open >= max {
		c.refused++
		if now.Sub(c.lastWarn) < warnEvery {
			return false, false, 0
		}
		refused = c.refused
		c.refused, c.lastWarn = 0, now
		return false, true, refused
	}
	c.open++
	return true, false, 0
}

// warnEvery spaces the warnings about one address's refused connections.
const warnEvery = 10 * time.Second

func (l *connLimits) removeIP(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.mu.perIP[addr]; c != nil {
		c.open--
		if c.open <= 0 {
			delete(l.mu.perIP, addr)
		}
	}
}

// remoteIP is the address connection limits count by.
func remoteIP(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
