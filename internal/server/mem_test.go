package server

import (
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersionsFrame is a size-prefixed ApiVersions v3 request whose client
// software name has nameLen bytes (a large request that the handler
// answers normally).
func apiVersionsFrame(correlationID int32, nameLen int) []byte {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName = "arus-test" + strings.Repeat("x", nameLen)
	req.ClientSoftwareVersion = "1"
	return fullFrame(req, correlationID)
}

// readResponse reads one size-prefixed response and returns its
// correlation id.
func readResponse(t testing.TB, c net.Conn) int32 {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("read response size: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return int32(binary.BigEndian.Uint32(body))
}

func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// TestIdleConnectionMemory opens connections that each made one request
// and then went idle, and measures what they cost the process (heap in use
// plus goroutine stacks, server and client side together).
func TestIdleConnectionMemory(t *testing.T) {
	for _, tc := range []struct {
		name    string
		conns   int
		nameLen int // bytes of the request each connection sent before going idle
	}{
		{"after a small request", 500, 0},
		{"after a 512 KiB request", 100, 512 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startTestServer(t, Config{})
			before := heapAndStacks()
			conns := make([]net.Conn, 0, tc.conns)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			frame := apiVersionsFrame(1, tc.nameLen)
			for range tc.conns {
				c, err := net.Dial("tcp", s.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
				if _, err := c.Write(frame); err != nil {
					t.Fatal(err)
				}
				if got := readResponse(t, c); got != 1 {
					t.Fatalf("correlation id %d, want 1", got)
				}
			}
			after := heapAndStacks()
			per := (int64(after) - int64(before)) / int64(tc.conns)
			t.Logf("%d idle connections: %d bytes per connection (heap in use + stacks)", tc.conns, per)
			if per > 64<<10 {
				t.Fatalf("an idle connection costs %d bytes, want under 64 KiB", per)
			}
		})
	}
}
