package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// TLSFiles are a listener's TLS settings with Kafka's PEM names.
type TLSFiles struct {
	// KeystoreLocation is ssl.keystore.location with ssl.keystore.type=PEM:
	// one file holding the private key (unencrypted PKCS#8, PKCS#1 or EC)
	// and the certificate chain, leaf first.
	KeystoreLocation string
	// TruststoreLocation is ssl.truststore.location with
	// ssl.truststore.type=PEM: the CA certificates client certificates
	// must chain to.
	TruststoreLocation string
	// ClientAuth is ssl.client.auth: "none" (default), "requested" or
	// "required".
	ClientAuth string
}

// Validate checks the settings (not the files).
func (f TLSFiles) Validate() error {
	switch f.ClientAuth {
	case "", "none":
	case "requested", "required":
		if f.TruststoreLocation == "" {
			return fmt.Errorf("ssl.client.auth=%s needs ssl.truststore.location", f.ClientAuth)
		}
	default:
		return fmt.Errorf("ssl.client.auth must be none, requested or required, got %q", f.ClientAuth)
	}
	if f.KeystoreLocation == "" {
		return errors.New("an SSL listener needs ssl.keystore.location (ssl.keystore.type=PEM: key and certificate chain in one file)")
	}
	return nil
}

// reloadCheckInterval is how often a handshake looks at the files' modification times.
const reloadCheckInterval = time.Second

// ServerTLS is a listener's TLS configuration, reloaded when the keystore
// or truststore file changes: each handshake uses the newest files that
// loaded without error (a broken file is logged and the old certificates
// stay in use). Safe for concurrent use.
type ServerTLS struct {
	files  TLSFiles
	logger *slog.Logger

	mu struct {
		sync.Mutex
		config  *tls.Config
		stamps  [2]fileStamp
		checked time.Time
	}
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewServerTLS loads the files.
func NewServerTLS(files TLSFiles, logger *slog.Logger) (*ServerTLS, error) {
	if err := files.Validate(); err != nil {
		return nil, err
	}
	s := &ServerTLS{files: files, logger: logger}
	cfg, stamps, err := s.load()
	if err != nil {
		return nil, err
	}
	s.mu.config, s.mu.stamps, s.mu.checked = cfg, stamps, time.Now()
	return s, nil
}

// Config returns the tls.Config to serve with; it picks up reloaded files
// per handshake.
func (s *ServerTLS) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current(), nil
		},
	}
}

func (s *ServerTLS) current() *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.Sub(s.mu.checked) < reloadCheckInterval {
		return s.mu.config
	}
	s.mu.checked = now
	if s.stamps() == s.mu.stamps {
		return s.mu.config
	}
	cfg, stamps, err := s.load()
	if err != nil {
		s.logger.Error("TLS files changed but do not load; still using the previous certificates", "err", err)
		s.mu.stamps = stamps // do not retry until they change again
		return s.mu.config
	}
	s.logger.Info("TLS certificates reloaded", "keystore", s.files.KeystoreLocation, "truststore", s.files.TruststoreLocation)
	s.mu.config, s.mu.stamps = cfg, stamps
	return cfg
}

func (s *ServerTLS) stamps() [2]fileStamp {
	var out [2]fileStamp
	for i, path := range []string{s.files.KeystoreLocation, s.files.TruststoreLocation} {
		if path == "" {
			continue
		}
		if fi, err := os.Stat(path); err == nil {
			out[i] = fileStamp{fi.ModTime(), fi.Size()}
		}
	}
	return out
}

func (s *ServerTLS) load() (*tls.Config, [2]fileStamp, error) {
	stamps := s.stamps()
	pem, err := os.ReadFile(s.files.KeystoreLocation)
	if err != nil {
		return nil, stamps, fmt.Errorf("ssl.keystore.location: %w", err)
	}
	// One PEM file with both: X509KeyPair takes the CERTIFICATE blocks
	// from the first argument and the first PRIVATE KEY block from the second.
	cert, err := tls.X509KeyPair(pem, pem)
	if err != nil {
		return nil, stamps, fmt.Errorf("ssl.keystore.location %s: %w", s.files.KeystoreLocation, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if s.files.TruststoreLocation != "" {
		ca, err := os.ReadFile(s.files.TruststoreLocation)
		if err != nil {
			return nil, stamps, fmt.Errorf("ssl.truststore.location: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, stamps, fmt.Errorf("ssl.truststore.location %s: no PEM certificates", s.files.TruststoreLocation)
		}
		cfg.ClientCAs = pool
	}
	switch s.files.ClientAuth {
	case "requested":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "required":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, stamps, nil
}
