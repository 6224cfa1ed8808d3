package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// maxBodyBytes bounds a JSON request body.
const maxBodyBytes = 1 << 20

// apiError is an error with the HTTP status the browser gets for it.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &apiError{http.StatusConflict, fmt.Sprintf(format, args...)}
}

// routes registers the JSON API.
func (s *Server) routes(mux *http.ServeMux) {
	mux.Handle("GET /api/cluster", s.api(s.getCluster))
	mux.Handle("GET /api/topics", s.api(s.listTopics))
	mux.Handle("POST /api/topics", s.api(s.createTopic))
	mux.Handle("GET /api/topics/{topic}", s.api(s.getTopic))
	mux.Handle("DELETE /api/topics/{topic}", s.api(s.deleteTopic))
	mux.Handle("PATCH /api/topics/{topic}/configs", s.api(s.alterTopicConfigs))
	mux.Handle("GET /api/topics/{topic}/messages", s.api(s.browseMessages))
	mux.Handle("GET /api/groups", s.api(s.listGroups))
	mux.Handle("GET /api/groups/{group}", s.api(s.getGroup))
	mux.Handle("POST /api/groups/{group}/reset", s.api(s.resetGroupOffsets))
	mux.Handle("GET /api/throughput", s.api(s.throughput))
	mux.Handle("/api/", s.api(func(_ context.Context, r *http.Request) (any, error) {
		return nil, notFound("no API at %s %s", r.Method, r.URL.Path)
	}))
}

// api adapts a handler returning a value (sent as JSON) or an error.
func (s *Server) api(h func(context.Context, *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := h(r.Context(), r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": message} with a status chosen from err:
// apiError's own, then Kafka error codes, then 502 (the cluster failed).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	var ae *apiError
	var ke *kerr.Error
	switch {
	case errors.As(err, &ae):
		status = ae.status
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
		err = fmt.Errorf("%w: the cluster did not answer in time", err)
	case errors.Is(err, context.Canceled):
		status = 499 // the browser went away; nobody reads this
	case errors.As(err, &ke):
		status = kafkaStatus(ke)
	}
	if status >= 500 {
		s.cfg.Logger.Warn("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// kafkaStatus maps a Kafka error code to the HTTP status of the same kind.
func kafkaStatus(e *kerr.Error) int {
	switch e {
	case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.GroupIDNotFound:
		return http.StatusNotFound
	case kerr.TopicAlreadyExists, kerr.NonEmptyGroup, kerr.UnstableOffsetCommit, kerr.RebalanceInProgress:
		return http.StatusConflict
	case kerr.InvalidTopicException, kerr.InvalidPartitions, kerr.InvalidReplicationFactor,
		kerr.InvalidReplicaAssignment, kerr.InvalidConfig, kerr.InvalidRequest, kerr.PolicyViolation,
		kerr.InvalidTimestamp, kerr.OffsetOutOfRange, kerr.InvalidCommitOffsetSize:
		return http.StatusBadRequest
	case kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed,
		kerr.TransactionalIDAuthorizationFailed:
		return http.StatusForbidden
	case kerr.RequestTimedOut:
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// kafkaError joins a Kafka error with the broker's message, if any.
func kafkaError(err error, message string) error {
	if err == nil {
		return nil
	}
	if message != "" && !strings.Contains(err.Error(), message) {
		return fmt.Errorf("%w (%s)", err, message)
	}
	return err
}

// guard wraps every request: a panic answers 500 (logged, never shown);
// mutating requests must come from this origin with a JSON body.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.cfg.Logger.Error("console handler panicked", "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error in the console (see its log)"})
			}
		}()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if err := checkMutation(r); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkMutation refuses a state-changing request that a page of another
// site could have sent: its Origin must be this host, and a body must be
// JSON (which a cross-site form cannot send without a CORS preflight).
func checkMutation(r *http.Request) error {
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return &apiError{http.StatusForbidden, fmt.Sprintf("cross-origin request from %q refused", origin)}
		}
	}
	if r.ContentLength != 0 {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/json" {
			return &apiError{http.StatusUnsupportedMediaType, "request body must be application/json"}
		}
	}
	return nil
}

// decodeJSON reads r's JSON body into dst, refusing unknown fields.
func decodeJSON(r *http.Request, dst any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) {
			return badRequest("request body is empty: want a JSON object")
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return badRequest("request body: field %q must be %s, got %s", ute.Field, ute.Type, ute.Value)
		}
		return badRequest("request body: %v", err)
	}
	if dec.More() {
		return badRequest("request body: one JSON object expected")
	}
	return nil
}
