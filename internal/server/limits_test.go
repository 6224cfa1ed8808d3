package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/api"
)

func TestIdleConnectionClosed(t *testing.T) {
	const idle = 200 * time.Millisecond
	release := make(chan struct{})
	base := realHandlers(t)
	s := startTestServer(t, Config{ConnectionsMaxIdle: idle, Handlers: handlerFunc(func(ctx context.Context, req *api.Request) api.Outcome {
		out := base.Serve(ctx, req)
		if softwareName(req) != "slow" {
			return out
		}
		// A response that takes longer than the idle time: the
		// connection is in use, not idle.
		return api.Outcome{Wait: func() api.Outcome {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return out
		}}
	})})

	idler := dial(t, s)
	mustRoundTrip(t, idler, 1)
	busy := dial(t, s)
	if _, err := busy.Write(namedApiVersions(7, "slow")); err != nil {
		t.Fatal(err)
	}
	if !closedByServer(idler, 10*time.Second) {
		t.Fatal("the idle connection was not closed")
	}
	// The busy connection outlives the idle time with its request in
	// flight; it gets its answer and goes on working.
	<-time.After(2 * idle)
	close(release)
	if got := readResponse(t, busy); got != 7 {
		t.Fatalf("correlation id %d, want 7", got)
	}
	mustRoundTrip(t, busy, 8)
	// Another client still works.
	mustRoundTrip(t, dial(t, s), 1)
}

func TestIdleConnectionStalledMidFrame(t *testing.T) {
	logs := &logBuffer{}
	s := startTestServer(t, Config{ConnectionsMaxIdle: 200 * time.Millisecond, Logger: logs.logger()})
	c := dial(t, s)
	frame := namedApiVersions(1, "arus-test")
	if _, err := c.Write(frame[:len(frame)/2]); err != nil {
		t.Fatal(err)
	}
	if !closedByServer(c, 10*time.Second) {
		t.Fatal("a connection stalled mid-frame was not closed")
	}
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "stalled mid-frame") || !strings.Contains(got, c.LocalAddr().String()) {
		t.Fatalf("no warning naming the client; log:\n%s", got)
	}
	mustRoundTrip(t, dial(t, s), 1)
}

func TestMaxConnectionsPerIP(t *testing.T) {
	logs := &logBuffer{}
	s := startTestServer(t, Config{MaxConnectionsPerIP: 3, Logger: logs.logger()})
	c1, c2, c3 := dial(t, s), dial(t, s), dial(t, s)
	mustRoundTrip(t, c1, 1)
	mustRoundTrip(t, c2, 1)
	mustRoundTrip(t, c3, 1)
	// The fourth and fifth are closed right after accept.
	for range 2 {
		if !closedByServer(dial(t, s), 10*time.Second) {
			t.Fatal("a connection over max.connections.per.ip was not closed")
		}
	}
	// The first three keep working.
	mustRoundTrip(t, c1, 2)
	mustRoundTrip(t, c2, 2)
	mustRoundTrip(t, c3, 2)
	if got := logs.String(); strings.Count(got, "max.connections.per.ip") != 1 || !strings.Contains(got, "level=WARN") || !strings.Contains(got, "remote=127.0.0.1:") {
		t.Fatalf("want one warning naming the client; log:\n%s", got)
	}
	// Once one closes, a new connection is accepted again.
	c1.Close()
	waitFor(t, 10*time.Second, "a connection after one closed", func() bool {
		c := dial(t, s)
		return roundTrip(c, 1, 2*time.Second) == nil
	})
}

func TestMaxConnectionsPerIPOverride(t *testing.T) {
	s := startTestServer(t, Config{MaxConnectionsPerIP: 100, MaxConnectionsPerIPOverrides: map[string]int{"127.0.0.1": 1}})
	c := dial(t, s)
	mustRoundTrip(t, c, 1)
	if !closedByServer(dial(t, s), 10*time.Second) {
		t.Fatal("the override of 1 connection let a second one in")
	}
	mustRoundTrip(t, c, 2)
}

func TestMaxConnectionsWaitsForASlot(t *testing.T) {
	s := startTestServer(t, Config{MaxConnections: 2})
	c1, c2 := dial(t, s), dial(t, s)
	mustRoundTrip(t, c1, 1)
	mustRoundTrip(t, c2, 1)
	// The third connects (the kernel's backlog) but is not served while
	// two are open.
	c3 := dial(t, s)
	if err := roundTrip(c3, 1, 300*time.Millisecond); err == nil {
		t.Fatal("a third connection was served with max.connections=2")
	}
	c1.Close()
	// roundTrip above wrote one request; its answer arrives once accepted.
	_ = c3.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got := readResponse(t, c3); got != 1 {
		t.Fatalf("correlation id %d, want 1", got)
	}
	mustRoundTrip(t, c2, 2)
}

func TestMaxConnectionCreationRate(t *testing.T) {
	const rate = 10
	s := startTestServer(t, Config{MaxConnectionCreationRate: rate})
	start := time.Now()
	// The bucket holds one second of connections; the next rate
	// connections take at least another (rate-1)/rate seconds.
	for i := range 2 * rate {
		mustRoundTrip(t, dial(t, s), int32(i))
	}
	if elapsed := time.Since(start); elapsed < (rate-1)*time.Second/rate {
		t.Fatalf("%d connections accepted in %s at max.connection.creation.rate=%d", 2*rate, elapsed, rate)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		<-tick.C
	}
}
