package broker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// httpServer is the node's HTTP listener (arus.http.listener): /metrics,
// /healthz and /readyz. It is started first and stopped last, so probes
// see a node that is starting or stopping as "not ready" rather than as a
// refused connection.
type httpServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// startHTTP binds addr and serves the handlers register adds to a mux; an
// empty addr serves nothing (nil server, nil error).
func startHTTP(addr string, register func(*http.ServeMux), logger *slog.Logger) (*httpServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	register(mux)
	h := &httpServer{ln: ln, done: make(chan struct{}), srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}}
	go func() {
		defer close(h.done)
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	logger.Info("http listener serving /metrics, /healthz, /readyz", "addr", ln.Addr().String())
	return h, nil
}

// addr is the bound address.
func (h *httpServer) addr() net.Addr { return h.ln.Addr() }

// shutdown stops the server and waits for its goroutine.
func (h *httpServer) shutdown(ctx context.Context) error {
	err := h.srv.Shutdown(ctx)
	if err != nil {
		_ = h.srv.Close()
	}
	<-h.done
	return err
}

// registerHTTP adds this node's handlers to the HTTP listener's mux.
func (b *Broker) registerHTTP(mux *http.ServeMux) {
	b.metrics.Register(mux, b.Ready)
}

// HTTPAddr is the address the HTTP listener is bound to; nil when it is off.
func (b *Broker) HTTPAddr() net.Addr {
	if b.http == nil {
		return nil
	}
	return b.http.addr()
}
