package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

//go:embed static
var staticFiles embed.FS

// Defaults of Config.
const (
	DefaultMetadataTTL  = 1500 * time.Millisecond
	DefaultMaxRecords   = 500
	DefaultFetchTimeout = 5 * time.Second
	// maxBrowsers bounds message-browser reads running at once; each has
	// its own short-lived consumer client.
	maxBrowsers = 4
)

// Config configures the console.
type Config struct {
	// Listener is the host:port to serve on (port 0: any free port).
	Listener string
	// Bootstrap lists the host:port of brokers to contact first.
	Bootstrap []string
	// ClientOpts are added to every franz-go client the console makes
	// (TLS, SASL, client id).
	ClientOpts []kgo.Opt
	// Routes are more handlers on the same listener, by ServeMux pattern
	// ("GET /metrics", "/healthz"); they must not start with /api/.
	Routes map[string]http.Handler
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// MetadataTTL is how long cluster metadata, offsets and group lists
	// are reused before asking the cluster again (DefaultMetadataTTL).
	MetadataTTL time.Duration
	// MaxRecords caps the records one message-browser request returns
	// (DefaultMaxRecords).
	MaxRecords int
	// FetchTimeout bounds one message-browser read (DefaultFetchTimeout).
	FetchTimeout time.Duration
}

func (c *Config) validate() error {
	if len(c.Bootstrap) == 0 {
		return errors.New("web: no bootstrap broker given")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MetadataTTL == 0 {
		c.MetadataTTL = DefaultMetadataTTL
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = DefaultMaxRecords
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.MetadataTTL < 0 || c.MaxRecords < 0 || c.FetchTimeout < 0 {
		return errors.New("web: metadata TTL, max records and fetch timeout must be positive")
	}
	return nil
}

// Server is a running console.
type Server struct {
	cfg      Config
	client   *kgo.Client
	admin    *kadm.Client
	cache    cache
	browsers chan struct{} // semaphore of message-browser reads
	handler  http.Handler

	listener net.Listener
	http     *http.Server
	served   chan struct{} // closed when Serve returns

	closeOnce sync.Once
	closeErr  error
}

// New builds a console that is not yet listening; Handler serves it
// (tests use it with httptest). Close releases its client.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Bootstrap...),
		kgo.ClientID("arus-console"),
		kgo.DialTimeout(5 * time.Second),
		kgo.RequestRetries(2),
		kgo.RetryTimeout(5 * time.Second),
		// kadm's Metadata and sharded requests reuse the client's
		// metadata for MetadataMinAge; keep it short so a topic created
		// or deleted a moment ago shows (the console's cache does the
		// real saving).
		kgo.MetadataMinAge(250 * time.Millisecond),
	}, cfg.ClientOpts...)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("web: kafka client: %w", err)
	}
	s := &Server{
		cfg: cfg, client: client, admin: kadm.NewClient(client),
		cache: cache{ttl: cfg.MetadataTTL}, browsers: make(chan struct{}, maxBrowsers),
	}
	s.admin.SetTimeoutMillis(10_000)
	mux := http.NewServeMux()
	s.routes(mux)
	assets, _ := fs.Sub(staticFiles, "static") // static exists: it is embedded
	mux.Handle("/", staticHandler(assets))
	for pattern, h := range cfg.Routes {
		if err := handle(mux, pattern, h); err != nil {
			client.Close()
			return nil, err
		}
	}
	s.handler = s.guard(mux)
	return s, nil
}

// handle registers an extra route, turning ServeMux's panic on a bad or
// conflicting pattern into an error.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	if strings.Contains(pattern, "/api/") {
		return fmt.Errorf("web: route %q: /api/ belongs to the console", pattern)
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("web: route %q: %v", pattern, v)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// Listen starts a console serving on cfg.Listener.
func Listen(cfg Config) (*Server, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if s.cfg.Listener == "" {
		s.Close()
		return nil, errors.New("web: no listener address")
	}
	ln, err := net.Listen("tcp", s.cfg.Listener)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("web console: listen on %s: %w (set --http-listener to another host:port, or off)", s.cfg.Listener, err)
	}
	s.listener = ln
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("web console stopped", "err", err)
		}
	}()
	s.cfg.Logger.Info("web console serving", "url", "http://"+ln.Addr().String()+"/")
	return s, nil
}

// Handler is the console's HTTP handler: pages, /api/ and Config.Routes.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr is the bound listener address (nil for a Server from New).
func (s *Server) Addr() net.Addr {
	if s.listener == nil {
		return nil
	}
	return s.listener.Addr()
}

// Shutdown stops accepting, waits for running requests until ctx ends,
// then closes the Kafka client. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		if s.http != nil {
			if err := s.http.Shutdown(ctx); err != nil {
				s.closeErr = fmt.Errorf("web console shutdown: %w", err)
				_ = s.http.Close()
			}
			<-s.served
		}
		s.client.Close()
	})
	return s.closeErr
}

// Close is Shutdown without waiting for running requests.
func (s *Server) Close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Shutdown(ctx)
}

// staticHandler serves the embedded assets; paths that are not files get
// index.html, so a reload on a page's URL works.
func staticHandler(assets fs.FS) http.Handler {
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'")
		files.ServeHTTP(w, r)
	})
}
