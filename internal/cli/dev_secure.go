package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/arus-io/arus/internal/config"
)

// `arus dev cluster --secure`: a generated CA and broker certificate, a
// SASL_SSL client listener and a SASL_SSL inter-broker listener per node,
// the authorizer on with "admin" (and the nodes' own "broker") the only
// super users, and the client settings written out. Everything lives
// in <data dir>/secure and is reused by later runs (same CA, same
// password), so a second `arus dev cluster --secure` joins the first.
//
// Bootstrapping the SCRAM user: SCRAM credentials are metadata records,
// created through a running cluster by a principal allowed to alter the
// cluster. The nodes therefore also accept "admin" over SASL/PLAIN (same
// password, TLS only, from the listener's JAAS config); the dev command
// logs in that way once and creates admin's SCRAM-SHA-256 and
// SCRAM-SHA-512 credentials, which are what the printed settings use.

const (
	devAdminUser = "admin"
	// devBrokerUser is the nodes' principal towards each other: the
	// inter-broker listener is SASL_SSL too (PLAIN, the admin's password),
	// and the broker user a super user, so peers hold CLUSTER_ACTION.
	devBrokerUser     = "broker"
	devSecureDir      = "secure"
	devClientListener = "SASL_SSL"
	devPeerListener   = "BROKER"
	// devCertValidity bounds the generated CA and broker certificate.
	devCertValidity = 365 * 24 * time.Hour
)

// devSecurity is the generated material of a secure dev cluster.
type devSecurity struct {
	dir          string // absolute <data dir>/secure
	caFile       string // CA certificate (truststore)
	keystoreFile string // broker key and certificate (PEM keystore)
	passwordFile string // admin's password
	clientProps  string // Kafka client properties (--command-config)
	kcatConf     string // librdkafka properties (kcat -F)
	password     string
}

// prepareDevSecurity creates (or reuses) the CA, the broker's keystore,
// admin's password and the client settings under dataDir/secure.
func prepareDevSecurity(dataDir string) (*devSecurity, error) {
	dir, err := filepath.Abs(filepath.Join(dataDir, devSecureDir))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secure dev cluster: %w", err)
	}
	s := &devSecurity{dir: dir, caFile: filepath.Join(dir, "ca.pem"), keystoreFile: filepath.Join(dir, "broker.pem"),
		passwordFile: filepath.Join(dir, "admin.password"), clientProps: filepath.Join(dir, "client.properties"),
		kcatConf: filepath.Join(dir, "kcat.conf")}
	caKeyFile := filepath.Join(dir, "ca-key.pem")
	ca, caKey, err := loadDevCA(s.caFile, caKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		ca, caKey, err = newDevCA(s.caFile, caKeyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("secure dev cluster CA: %w", err)
	}
	if _, err := tls.LoadX509KeyPair(s.keystoreFile, s.keystoreFile); err != nil {
		if err := writeDevBrokerKeystore(s.keystoreFile, ca, caKey); err != nil {
			return nil, fmt.Errorf("secure dev cluster broker certificate: %w", err)
		}
	}
	if b, err := os.ReadFile(s.passwordFile); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		s.password = strings.TrimSpace(string(b))
	} else {
		raw := make([]byte, 18)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		s.password = base64.RawURLEncoding.EncodeToString(raw)
		if err := os.WriteFile(s.passwordFile, []byte(s.password+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	props := fmt.Sprintf(`# Kafka client settings for the arus dev cluster (written by arus dev cluster --secure).
# Kafka tools: --command-config %[1]s; arus: --command-config %[1]s
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="%[2]s" password="%[3]s";
ssl.truststore.type=PEM
ssl.truststore.location=%[4]s
`, s.clientProps, devAdminUser, s.password, s.caFile)
	if err := os.WriteFile(s.clientProps, []byte(props), 0o600); err != nil {
		return nil, err
	}
	kcat := fmt.Sprintf(`# librdkafka settings for the arus dev cluster: kcat -F %s -b <bootstrap> -L
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-512
sasl.username=%s
sasl.password=%s
ssl.ca.location=%s
`, s.kcatConf, devAdminUser, s.password, s.caFile)
	if err := os.WriteFile(s.kcatConf, []byte(kcat), 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// nodeProperties returns the server.properties of a secure dev node.
func (s *devSecurity) nodeProperties(client, peer string) string {
	return fmt.Sprintf(`# arus dev cluster --secure node (generated; rewritten on every start)
listeners=%[1]s://%[2]s,%[3]s://%[4]s
inter.broker.listener.name=%[3]s
listener.security.protocol.map=%[1]s:SASL_SSL,%[3]s:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_%[5]s="%[6]s";
listener.name.broker.sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.broker.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="%[10]s" password="%[6]s" user_%[10]s="%[6]s";
ssl.keystore.type=PEM
ssl.keystore.location=%[7]s
ssl.truststore.type=PEM
ssl.truststore.location=%[8]s
authorizer.class.name=%[9]s
super.users=User:%[5]s;User:%[10]s
allow.everyone.if.no.acl.found=false
`, devClientListener, client, devPeerListener, peer, devAdminUser, s.password, s.keystoreFile, s.caFile, config.StandardAuthorizer, devBrokerUser)
}

// writeNodeConfig writes node i's properties file and returns its path.
func (s *devSecurity) writeNodeConfig(i int, client, peer string) (string, error) {
	p := filepath.Join(s.dir, fmt.Sprintf("node-%d.properties", i))
	return p, os.WriteFile(p, []byte(s.nodeProperties(client, peer)), 0o600)
}

func (s *devSecurity) tlsConfig() (*tls.Config, error) {
	return clientSecurity{caFile: s.caFile}.tlsConfig()
}

// createAdmin logs in as admin with PLAIN and creates admin's SCRAM
// credentials, retrying until the cluster answers or ctx ends; then it
// checks a SCRAM-SHA-512 login.
func (s *devSecurity) createAdmin(ctx context.Context, progress io.Writer, bootstrap []string) error {
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.DialTLSConfig(tlsCfg), kgo.RequestRetries(2),
		kgo.SASL(plain.Auth{User: devAdminUser, Pass: s.password}.AsMechanism()))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// kadm fills in the salt and salted password of the slice it is
	// given (and then refuses it again): a fresh slice per attempt.
	upserts := func() []kadm.UpsertSCRAM {
		return []kadm.UpsertSCRAM{
			{User: devAdminUser, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: s.password},
			{User: devAdminUser, Mechanism: kadm.ScramSha256, Iterations: 8192, Password: s.password},
		}
	}
	var last error
	for attempt := 1; ; attempt++ {
		// Each attempt is bounded, so a slow start shows as a message
		// every few seconds rather than a silent wait.
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := adm.AlterUserSCRAMs(actx, nil, upserts())
		cancel()
		if err == nil {
			err = res.Error()
		}
		if err == nil {
			break
		}
		last = err
		if attempt%10 == 0 {
			fmt.Fprintf(progress, "arus dev cluster --secure: waiting for the cluster to create SCRAM user %s: %v\n", devAdminUser, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create SCRAM user %s: %w (last error: %v)", devAdminUser, ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
	// Credentials reach each broker with the metadata: wait for a SCRAM login.
	check, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.DialTLSConfig(tlsCfg),
		kgo.SASL(scram.Auth{User: devAdminUser, Pass: s.password}.AsSha512Mechanism()))
	if err != nil {
		return err
	}
	defer check.Close()
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := check.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		} else if ctx.Err() != nil {
			return fmt.Errorf("SCRAM-SHA-512 login as %s: %w", devAdminUser, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// printSettings tells the user how to connect.
func (s *devSecurity) printSettings(out io.Writer, bootstrap string) {
	fmt.Fprintf(out, `arus dev cluster --secure: SASL_SSL on %[1]s, user %[2]q (SCRAM-SHA-512, super user), ACLs enforced
  CA certificate:    %[3]s
  admin password:    %[4]s
  client.properties: %[5]s
  arus CLI:          arus topic list -b %[1]s --ca %[3]s --sasl-mechanism SCRAM-SHA-512 --user %[2]s --password-file %[4]s
                     (or: arus topic list -b %[1]s --command-config %[5]s)
  Kafka tools:       kafka-topics.sh --bootstrap-server %[1]s --command-config %[5]s --list
  kcat:              kcat -b %[1]s -F %[6]s -L
`, bootstrap, devAdminUser, s.caFile, s.passwordFile, s.clientProps, s.kcatConf)
}

func loadDevCA(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not an ECDSA key", keyFile)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	if time.Now().After(cert.NotAfter) {
		return nil, nil, fmt.Errorf("%s expired on %s; remove %s to generate a new CA", certFile, cert.NotAfter.Format(time.DateOnly), filepath.Dir(certFile))
	}
	return cert, key, nil
}

func newDevCA(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "arus dev cluster CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(devCertValidity), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// writeDevBrokerKeystore writes a PEM keystore (key, then certificate)
// for 127.0.0.1 and localhost, signed by ca.
func writeDevBrokerKeystore(path string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "arus dev broker"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(devCertValidity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}, DNSNames: []string{"localhost"}}
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	body := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	return os.WriteFile(path, body, 0o600)
}
