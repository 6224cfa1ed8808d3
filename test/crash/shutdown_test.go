//go:build integration

package crash

// Shutdown tests: SIGTERM ends a real arus process in bounded time whatever
// its connections are doing, and a second SIGTERM ends it at once.

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawFrame is a size-prefixed request as a client sends it (header v1,
// or v2 for flexible versions).
func rawFrame(req kmsg.Request, correlationID int32) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, uint16(req.Key()))
	body = binary.BigEndian.AppendUint16(body, uint16(req.GetVersion()))
	body = binary.BigEndian.AppendUint32(body, uint32(correlationID))
	body = binary.BigEndian.AppendUint16(body, 4)
	body = append(body, "test"...)
	if req.IsFlexible() {
		body = append(body, 0)
	}
	body = req.AppendTo(body)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// exitCode is the process's exit status, or -1 if a signal killed it.
func exitCode(err error) int {
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// logHas reports whether this start's part of the log contains s.
func (b *broker) logHas(s string) bool {
	data, err := os.ReadFile(b.logPath)
	if err != nil {
		return false
	}
	i := strings.LastIndex(string(data), b.marker)
	return i >= 0 && strings.Contains(string(data[i:]), s)
}

// TestShutdownWithStuckConnections: SIGTERM stops a broker cleanly and
// promptly while connections are stuck mid-frame, a client does not read
// its responses, a consumer long-polls and others sit idle.
func TestShutdownWithStuckConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: runs the arus binary")
	}
	const timeout = 10 * time.Second
	b := newBroker(t)
	args := b.args
	b.args = func(listener string) []string {
		return append(args(listener), "--shutdown-timeout", timeout.String())
	}
	b.start()
	addr := b.addr()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	// Two requests stuck mid-frame: a size prefix and half the bytes.
	for range 2 {
		if _, err := dial().Write(append(binary.BigEndian.AppendUint32(nil, 1000), make([]byte, 500)...)); err != nil {
			t.Fatal(err)
		}
	}
	// Idle connections.
	for range 10 {
		dial()
	}
	// A client that sends requests and never reads the answers, until the
	// broker stops reading from it (its writer is stuck in a full socket).
	slow := dial()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "slow", "1"
	var flood []byte
	for i := range 2000 {
		flood = append(flood, rawFrame(req, int32(i))...)
	}
	blocked := false
	for range 2000 { // at most ~140 MB of requests; the sockets fill long before
		_ = slow.SetWriteDeadline(time.Now().Add(3 * time.Second))
		if _, err := slow.Write(flood); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("slow client: %v", err)
			}
			blocked = true
			break
		}
	}
	if !blocked {
		t.Fatal("the broker read the slow client's flood to the end: it never blocked on it")
	}
	// A consumer long-polling an empty topic.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("idle"), kgo.FetchMaxWait(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "idle"); err != nil {
		t.Fatal(err)
	}
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		cl.PollFetches(ctx)
	}()
	start := time.Now()
	b.signal(syscall.SIGTERM) // fails the test unless it exits with status 0
	took := time.Since(start)
	t.Logf("SIGTERM to exit: %s", took)
	if took > timeout {
		t.Fatalf("shutdown took %s, over --shutdown-timeout %s", took, timeout)
	}
	if !b.logHas("shut down") {
		t.Fatal("no clean shutdown in the log")
	}
}

// stuckNode launches a node that cannot finish starting: it is one of
// three voters of a metadata quorum whose other two never run. It serves
// TCP on its client listener while it waits.
func stuckNode(t *testing.T, shutdownTimeout time.Duration) *broker {
	ports := freeLocalPorts(t, 4) // node 1's client port, then the voters' inter-broker ports
	var voters []string
	for i, p := range ports[1:] {
		voters = append(voters, strconv.Itoa(i+1)+"@127.0.0.1:"+strconv.Itoa(p))
	}
	b := newBroker(t)
	b.port = ports[0]
	args := b.args
	b.args = func(listener string) []string {
		return append(args(listener), "--node-id", "1", "--controller-quorum-voters", strings.Join(voters, ","),
			"--inter-broker-listener", "127.0.0.1:"+strconv.Itoa(ports[1]), "--shutdown-timeout", shutdownTimeout.String())
	}
	b.launch()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	waitFor(t, 30*time.Second, "the node listens", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return b
}

// TestShutdownTimeoutBoundsAStuckShutdown: a node that cannot stop cleanly
// (it is still waiting for its quorum) exits on SIGTERM once
// --shutdown-timeout has passed, with a non-zero status.
func TestShutdownTimeoutBoundsAStuckShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: runs the arus binary")
	}
	const timeout = 2 * time.Second
	b := stuckNode(t, timeout)
	p := b.proc
	start := time.Now()
	if err := b.send(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(timeout + 10*time.Second):
		t.Fatalf("no exit within %s of SIGTERM with --shutdown-timeout %s", timeout+10*time.Second, timeout)
	}
	b.proc = nil
	t.Logf("SIGTERM to exit: %s, %v", time.Since(start), p.err)
	if code := exitCode(p.err); code <= 0 {
		t.Fatalf("exit status %d (%v), want non-zero after a shutdown that did not finish", code, p.err)
	}
}

// TestSecondSignalExitsAtOnce: while a shutdown is under way, a second
// SIGTERM ends the process at once with a non-zero status and a log line.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: runs the arus binary")
	}
	b := stuckNode(t, 5*time.Minute)
	p := b.proc
	if err := b.send(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the shutdown began", func() bool { return b.logHas("shutting down") })
	select {
	case <-p.exited:
		t.Fatalf("the first SIGTERM ended a node that cannot stop cleanly: %v", p.err)
	default:
	}
	start := time.Now()
	if err := b.send(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the second SIGTERM did not end the process within 10s")
	}
	b.proc = nil
	t.Logf("second SIGTERM to exit: %s, %v", time.Since(start), p.err)
	if code := exitCode(p.err); code <= 0 {
		t.Fatalf("exit status %d (%v), want non-zero", code, p.err)
	}
	if !b.logHas("second signal") {
		t.Fatal("no log line about the second signal")
	}
}
