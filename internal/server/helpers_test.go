package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

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
		bc := &config.Broker{}
		if err := bc.Validate(); err != nil {
			t.Fatal(err)
		}
		cfg.Handlers = api.New(api.Deps{Broker: bc, Logger: cfg.Logger}, func() (string, int32) { return "127.0.0.1", 9092 })
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
