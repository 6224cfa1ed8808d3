package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/config"
)

// startTestServer serves cfg on 127.0.0.1:0 with the real handlers (only
// ApiVersions works without a cluster behind them) unless cfg names its
// own, and shuts it down when the test ends.
func startTestServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = 100 << 20
	}
	if cfg.Handlers == nil {
		cfg.Handlers = realHandlers(t)
	}
	s, err := Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

// realHandlers are the broker's handlers without a cluster behind them:
// enough for ApiVersions.
func realHandlers(t testing.TB) Handler {
	bc := &config.Broker{}
	if err := bc.Validate(); err != nil {
		t.Fatal(err)
	}
	return api.New(api.Deps{Broker: bc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, func() (string, int32) { return "127.0.0.1", 9092 })
}

// handlerFunc adapts a function to Handler.
type handlerFunc func(ctx context.Context, req *api.Request) api.Outcome

func (f handlerFunc) Serve(ctx context.Context, req *api.Request) api.Outcome { return f(ctx, req) }

// namedApiVersions is an ApiVersions v3 request whose client software
// name tells a test handler what to do.
func namedApiVersions(correlationID int32, name string) []byte {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName = name
	req.ClientSoftwareVersion = "1"
	return fullFrame(req, correlationID)
}

// softwareName is the client software name of an ApiVersions request.
func softwareName(req *api.Request) string {
	if r, ok := req.Body.(*kmsg.ApiVersionsRequest); ok {
		return r.ClientSoftwareName
	}
	return ""
}

// dial connects to s and fails the test on error; the connection is closed
// when the test ends.
func dial(t testing.TB, s *Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends an ApiVersions request and reports whether its answer
// came back within timeout.
func roundTrip(c net.Conn, correlationID int32, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(namedApiVersions(correlationID, "arus-test")); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		return err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != correlationID {
		return fmt.Errorf("correlation id %d, want %d", got, correlationID)
	}
	return nil
}

// mustRoundTrip fails the test unless an ApiVersions round trip works.
func mustRoundTrip(t testing.TB, c net.Conn, correlationID int32) {
	t.Helper()
	if err := roundTrip(c, correlationID, 10*time.Second); err != nil {
		t.Fatalf("ApiVersions on %s: %v", c.LocalAddr(), err)
	}
}

// closedByServer reports whether the server closed c within timeout
// (a read ends with EOF or a reset rather than a timeout).
func closedByServer(c net.Conn, timeout time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	var b [1]byte
	_, err := c.Read(b[:])
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// logBuffer collects log output for tests that check what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }
