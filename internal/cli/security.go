package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/config"
)

// Client-side security of every command that talks to a cluster: a Kafka
// client properties file (--command-config, as kafka-topics.sh takes it)
// and short flags that override it.

const (
	commandConfigFlag = "command-config"
	// passwordEnv holds the SASL password when --password-file is not
	// given (a password is never a command-line argument: ps shows those).
	passwordEnv = "ARUS_PASSWORD"
)

// addSecurityFlags adds the client security flags to cmd as persistent
// flags (called by addClientFlags).
func addSecurityFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.String(commandConfigFlag, "", "Kafka client properties file: security.protocol, sasl.mechanism, sasl.jaas.config, ssl.truststore.location, ssl.keystore.location (PEM)")
	f.Bool("tls", false, "connect with TLS (security.protocol SSL, or SASL_SSL with --sasl-mechanism)")
	f.String("ca", "", "PEM file of the CAs to trust (ssl.truststore.location; default: the system's); implies --tls")
	f.String("cert", "", "PEM client certificate (with its key, or see --key) for mutual TLS; implies --tls")
	f.String("key", "", "PEM private key of --cert, when not in the same file")
	f.String("sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default PLAIN when --user is given)")
	f.String("user", "", "SASL user name")
	f.String("password-file", "", "file holding the SASL password (else $"+passwordEnv+")")
}

// clientSecurity is what a client needs to connect securely.
type clientSecurity struct {
	protocol       string // config.Protocol*; "" is PLAINTEXT
	mechanism      string
	user, password string
	caFile         string
	certFile       string // PEM certificate chain, and the key when keyFile is ""
	keyFile        string
	// noHostnameCheck is ssl.endpoint.identification.algorithm= (empty):
	// the chain is verified, the broker's name is not.
	noHostnameCheck bool
}

// securityFromProperties reads a Kafka client properties file.
func securityFromProperties(path string) (clientSecurity, error) {
	props, err := config.LoadProperties(path)
	if err != nil {
		return clientSecurity{}, err
	}
	var s clientSecurity
	for k, v := range props {
		v = strings.TrimSpace(v)
		switch k {
		case "security.protocol":
			s.protocol = strings.ToUpper(v)
		case "sasl.mechanism":
			s.mechanism = strings.ToUpper(v)
		case "sasl.jaas.config":
			entries, err := auth.ParseJAAS(v)
			if err != nil || len(entries) == 0 {
				return s, fmt.Errorf("%s: sasl.jaas.config: %v", path, err)
			}
			s.user, s.password = entries[0].Options["username"], entries[0].Options["password"]
		case "ssl.truststore.location":
			s.caFile = v
		case "ssl.keystore.location":
			s.certFile = v
		case "ssl.truststore.type", "ssl.keystore.type":
			if v != "" && !strings.EqualFold(v, "PEM") {
				return s, fmt.Errorf("%s: %s=%s: arus reads PEM files only (convert a JKS or PKCS12 store with keytool and openssl)", path, k, v)
			}
		case "ssl.key.password", "ssl.keystore.password":
			if v != "" {
				return s, fmt.Errorf("%s: %s: arus reads unencrypted PEM keys only", path, k)
			}
		case "ssl.endpoint.identification.algorithm":
			s.noHostnameCheck = v == ""
		}
	}
	return s, nil
}

// securityOptions returns the franz-go options for cmd's security flags
// and --command-config (flags win over the file).
func securityOptions(cmd *cobra.Command) ([]kgo.Opt, error) {
	var s clientSecurity
	if f := cmd.Flag(commandConfigFlag); f != nil && f.Value.String() != "" {
		var err error
		if s, err = securityFromProperties(f.Value.String()); err != nil {
			return nil, err
		}
	}
	str := func(name string) string {
		if f := cmd.Flag(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	useTLS := str("tls") == "true"
	if v := str("ca"); v != "" {
		s.caFile, useTLS = v, true
	}
	if v := str("cert"); v != "" {
		s.certFile, useTLS = v, true
	}
	if v := str("key"); v != "" {
		s.keyFile = v
	}
	if v := str("sasl-mechanism"); v != "" {
		s.mechanism = strings.ToUpper(v)
	}
	if v := str("user"); v != "" {
		s.user = v
	}
	if v := str("password-file"); v != "" {
		b, err := os.ReadFile(v)
		if err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
		s.password = strings.TrimRight(string(b), "\r\n")
	} else if s.password == "" {
		s.password = os.Getenv(passwordEnv)
	}
	if str("user") != "" || str("sasl-mechanism") != "" {
		if useTLS || s.protocol == config.ProtocolSSL || s.protocol == config.ProtocolSASLSSL {
			s.protocol = config.ProtocolSASLSSL
		} else {
			s.protocol = config.ProtocolSASLPlaintext
		}
	} else if useTLS {
		switch s.protocol {
		case config.ProtocolSASLPlaintext, config.ProtocolSASLSSL:
			s.protocol = config.ProtocolSASLSSL
		default:
			s.protocol = config.ProtocolSSL
		}
	}
	return s.options()
}

func (s clientSecurity) options() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	switch s.protocol {
	case "", config.ProtocolPlaintext, config.ProtocolSASLPlaintext:
	case config.ProtocolSSL, config.ProtocolSASLSSL:
		cfg, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	default:
		return nil, fmt.Errorf("security.protocol %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", s.protocol)
	}
	if s.protocol == config.ProtocolSASLPlaintext || s.protocol == config.ProtocolSASLSSL {
		mech, err := s.saslMechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

func (s clientSecurity) saslMechanism() (sasl.Mechanism, error) {
	if s.user == "" {
		return nil, errors.New("SASL needs a user: --user, or username in sasl.jaas.config")
	}
	if s.password == "" {
		return nil, fmt.Errorf("SASL user %s has no password: --password-file, $%s, or password in sasl.jaas.config", s.user, passwordEnv)
	}
	switch s.mechanism {
	case "", "PLAIN":
		return plain.Auth{User: s.user, Pass: s.password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.user, Pass: s.password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.user, Pass: s.password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.mechanism)
}

func (s clientSecurity) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.caFile != "" {
		pem, err := os.ReadFile(s.caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificates", s.caFile)
		}
	}
	if s.certFile != "" {
		certPEM, err := os.ReadFile(s.certFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		keyPEM := certPEM
		if s.keyFile != "" {
			if keyPEM, err = os.ReadFile(s.keyFile); err != nil {
				return nil, fmt.Errorf("client key: %w", err)
			}
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s: %w", s.certFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if s.noHostnameCheck {
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true // the chain is verified below, without the host name
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}
