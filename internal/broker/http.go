package broker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// httpServer is the node's HTTP listener (http.listener): /metrics,
// /healthz and /readyz, and the web console on every other path. It is started first and stopped last, so probes
// see a node that is starting or stopping as "not ready" rather than as a
// refused connection.
type httpServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
	// console serves every path the mux has no other handler for, once
	// the node has started (503 until then).
	console atomic.Pointer[http.Handler]
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
	h := &httpServer{ln: ln, done: make(chan struct{})}
	mux := http.NewServeMux()
	register(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if c := h.console.Load(); c != nil {
			(*c).ServeHTTP(w, r)
			return
		}
		http.Error(w, "arus is starting", http.StatusServiceUnavailable)
	})
	h.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(h.done)
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	logger.Info("http listener serving /metrics, /healthz, /readyz", "addr", ln.Addr().String())
	return h, nil
}

// setConsole mounts the web console on every path not taken by the
// metrics and probe handlers.
func (h *httpServer) setConsole(c http.Handler) { h.console.Store(&c) }

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
