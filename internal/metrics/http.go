package metrics

import (
	"net/http"
)

// Register adds /metrics, /healthz and /readyz to mux. ready reports why
// the node is not ready (nil when it is): /readyz answers 503 with the
// reason then, 200 otherwise. /healthz answers 200 while the process
// serves HTTP at all (liveness).
func (m *Metrics) Register(mux *http.ServeMux, ready func() error) {
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("GET /healthz", HealthHandler())
	mux.Handle("GET /readyz", ReadyHandler(ready))
}

// HealthHandler is the liveness probe: 200 "ok".
func HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// ReadyHandler is the readiness probe: 200 "ready" when ready returns
// nil, else 503 with its reason.
func ReadyHandler(ready func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}
