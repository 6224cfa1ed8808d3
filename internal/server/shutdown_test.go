package server

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/api"
)

// TestShutdownWithStuckConnections: Shutdown finishes promptly whatever
// the connections are doing: a request stuck mid-frame, a client that
// does not read its responses, a handler waiting (long-poll style), a
// response waiting (acks=all style) and a reader waiting for the request
// budget.
func TestShutdownWithStuckConnections(t *testing.T) {
	base := realHandlers(t)
	var bigServed, waiting atomic.Int32
	handler := handlerFunc(func(ctx context.Context, req *api.Request) api.Outcome {
		switch softwareName(req) {
		case "big":
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = req.Version
			resp.ApiKeys = make([]kmsg.ApiVersionsResponseApiKey, 300_000) // ~2 MB
			bigServed.Add(1)
			return api.Outcome{Response: resp}
		case "long-poll":
			waiting.Add(1)
			<-ctx.Done()
		case "acks-all":
			out := base.Serve(ctx, req)
			return api.Outcome{Wait: func() api.Outcome {
				waiting.Add(1)
				<-ctx.Done()
				return out
			}}
		}
		return base.Serve(ctx, req)
	})
	quiet := (&logBuffer{}).logger()
	// budgeted: a request stuck mid-frame holds the whole request budget
	// (the size of a 1 MiB request and half of its bytes) and another
	// connection waits for it.
	budgeted, err := Listen("127.0.0.1:0", Config{MaxRequestBytes: 1 << 20, QueuedMaxRequestBytes: 1 << 20, Handlers: handler, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	budgeted.Serve()
	if _, err := dial(t, budgeted).Write(append(binary.BigEndian.AppendUint32(nil, 1<<20), make([]byte, 512<<10)...)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the stuck request holds the budget", func() bool { return budgeted.requestBytes.inUse() == 1<<20 })
	if _, err := dial(t, budgeted).Write(namedApiVersions(1, "arus-test")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a reader waits for the budget", func() bool {
		budgeted.requestBytes.mu.Lock()
		defer budgeted.requestBytes.mu.Unlock()
		return len(budgeted.requestBytes.mu.waiters) == 1
	})

	// busy: a client that never reads its ~2 MB responses (the writer is
	// stuck in Write, the reader on the pipelining bound), a long poll, an
	// acks=all wait and a request stuck mid-frame.
	busy, err := Listen("127.0.0.1:0", Config{MaxRequestBytes: 1 << 20, Handlers: handler, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	busy.Serve()
	slow := dial(t, busy)
	for i := range maxPipelined + 1 {
		if _, err := slow.Write(namedApiVersions(int32(i), "big")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "the slow reader's requests are handled", func() bool { return bigServed.Load() == maxPipelined+1 })
	if _, err := dial(t, busy).Write(namedApiVersions(1, "long-poll")); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, busy).Write(namedApiVersions(1, "acks-all")); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, busy).Write(append(binary.BigEndian.AppendUint32(nil, 1000), make([]byte, 500)...)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "both handlers wait", func() bool { return waiting.Load() == 2 })

	for _, srv := range []*Server{budgeted, busy} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		err := srv.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatalf("shutdown did not finish: %v", err)
		}
		t.Logf("shutdown took %s", time.Since(start))
	}
}
