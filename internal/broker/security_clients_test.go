package broker_test

// Real Go clients (sarama, segmentio/kafka-go, franz-go) against every
// secured listener kind: SSL with a client certificate, SASL_PLAINTEXT and
// SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. Each produces,
// consumes through a consumer group and commits; the negative cases check
// the error each client reports for a wrong password, an unknown user, a
// certificate from another CA and an expired session, while another
// client keeps working.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	kgosasl "github.com/segmentio/kafka-go/sasl"
	kgoplain "github.com/segmentio/kafka-go/sasl/plain"
	kgoscram "github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	xdgscram "github.com/xdg-go/scram"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

const (
	clientUser     = "client"
	clientPassword = "client-secret"
)

// secureEnv is a broker with a PLAINTEXT, an SSL (client certificate
// required), a SASL_PLAINTEXT and a SASL_SSL listener; user "client" has
// PLAIN and both SCRAM credentials and ACLs for every topic and group.
type secureEnv struct {
	broker             *arustest.Broker
	ca                 *arustest.CA
	roots              *x509.CertPool
	clientCert         tls.Certificate // CN=client, from ca
	strangerCert       tls.Certificate // CN=client, from another CA
	plaintext, ssl     string
	saslPlain, saslSSL string
}

func startSecureEnv(t *testing.T, extra map[string]string) *secureEnv {
	t.Helper()
	dir := t.TempDir()
	ca := arustest.NewCA(t, "arus clients CA")
	props := map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
		"sasl.enabled.mechanisms":        "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`user_admin="admin-secret" user_client="client-secret";`,
		"listener.name.sasl_ssl.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`user_admin="admin-secret" user_client="client-secret";`,
		"ssl.keystore.type": "PEM", "ssl.keystore.location": arustest.WriteFile(t, dir, "broker.pem", ca.Issue(t, "broker", true)),
		"ssl.truststore.type": "PEM", "ssl.truststore.location": arustest.WriteFile(t, dir, "ca.pem", ca.PEM),
		"ssl.client.auth":                           "required",
		"ssl.principal.mapping.rules":               "RULE:^CN=([^,]*).*$/$1/,DEFAULT",
		"authorizer.class.name":                     "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":                               "User:admin;User:ANONYMOUS",
		"allow.everyone.if.no.acl.found":            "false",
		"connection.failed.authentication.delay.ms": "10",
	}
	for k, v := range extra {
		props[k] = v
	}
	b := arustest.StartBroker(t, func(c *config.Broker) {
		c.Listener = ""
		if err := config.ApplyProperties(c, props); err != nil {
			t.Fatal(err)
		}
	})
	env := &secureEnv{broker: b, ca: ca, roots: ca.Pool(), clientCert: arustest.KeyPair(t, ca.Issue(t, clientUser, false)),
		strangerCert: arustest.KeyPair(t, arustest.NewCA(t, "another CA").Issue(t, clientUser, false)),
		plaintext:    b.ListenerAddr("PLAINTEXT").String(), ssl: b.ListenerAddr("SSL").String(),
		saslPlain: b.ListenerAddr("SASL_PLAINTEXT").String(), saslSSL: b.ListenerAddr("SASL_SSL").String()}

	// ANONYMOUS on PLAINTEXT is a super user here: it plays the operator.
	ctx := testContext(t)
	adm := kadm.NewClient(newFranz(t, env.plaintext))
	if res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: clientUser, Mechanism: kadm.ScramSha256, Iterations: 4096, Password: clientPassword},
		{User: clientUser, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: clientPassword},
	}); err != nil || res.Error() != nil {
		t.Fatalf("create SCRAM user: %v %v", err, res.Error())
	}
	acls := []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:" + clientUser).Topics("*").Operations(kadm.OpAll).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Allow("User:" + clientUser).Groups("*").Operations(kadm.OpAll).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Allow("User:"+clientUser).Clusters().Operations(kadm.OpIdempotentWrite, kadm.OpDescribe),
	}
	for _, a := range acls {
		if res, err := adm.CreateACLs(ctx, a); err != nil || res[0].Err != nil {
			t.Fatalf("create ACLs: %v %+v", err, res)
		}
	}
	return env
}

// secureCase is one way to connect: the listener, TLS or not, the SASL
// mechanism ("" for none; SSL authenticates with the client certificate).
type secureCase struct {
	name      string
	addr      func(*secureEnv) string
	tls       bool
	mechanism string
}

var secureCases = []secureCase{
	{"SSL", func(e *secureEnv) string { return e.ssl }, true, ""},
	{"SASL_PLAINTEXT-PLAIN", func(e *secureEnv) string { return e.saslPlain }, false, "PLAIN"},
	{"SASL_PLAINTEXT-SCRAM-SHA-256", func(e *secureEnv) string { return e.saslPlain }, false, "SCRAM-SHA-256"},
	{"SASL_PLAINTEXT-SCRAM-SHA-512", func(e *secureEnv) string { return e.saslPlain }, false, "SCRAM-SHA-512"},
	{"SASL_SSL-PLAIN", func(e *secureEnv) string { return e.saslSSL }, true, "PLAIN"},
	{"SASL_SSL-SCRAM-SHA-256", func(e *secureEnv) string { return e.saslSSL }, true, "SCRAM-SHA-256"},
	{"SASL_SSL-SCRAM-SHA-512", func(e *secureEnv) string { return e.saslSSL }, true, "SCRAM-SHA-512"},
}

func (e *secureEnv) tlsConfig(c secureCase) *tls.Config {
	if !c.tls {
		return nil
	}
	cfg := &tls.Config{RootCAs: e.roots, MinVersion: tls.VersionTLS12}
	if c.mechanism == "" {
		cfg.Certificates = []tls.Certificate{e.clientCert}
	}
	return cfg
}

// saramaSCRAM adapts github.com/xdg-go/scram to sarama.SCRAMClient, as
// sarama's own example does.
type saramaSCRAM struct {
	hash xdgscram.HashGeneratorFcn
	conv *xdgscram.ClientConversation
}

func (s *saramaSCRAM) Begin(user, password, authzID string) error {
	c, err := s.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	s.conv = c.NewConversation()
	return nil
}

func (s *saramaSCRAM) Step(challenge string) (string, error) { return s.conv.Step(challenge) }
func (s *saramaSCRAM) Done() bool                            { return s.conv.Done() }

func (e *secureEnv) sarama(c secureCase, user, password string) *sarama.Config {
	cfg := saramaConfig()
	cfg.Metadata.Retry.Max = 0
	if c.tls {
		cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, e.tlsConfig(c)
	}
	if c.mechanism != "" {
		cfg.Net.SASL.Enable, cfg.Net.SASL.Handshake = true, true
		cfg.Net.SASL.Version = sarama.SASLHandshakeV1
		cfg.Net.SASL.User, cfg.Net.SASL.Password = user, password
		cfg.Net.SASL.Mechanism = sarama.SASLMechanism(c.mechanism)
		switch c.mechanism {
		case "SCRAM-SHA-256":
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &saramaSCRAM{hash: xdgscram.SHA256} }
		case "SCRAM-SHA-512":
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &saramaSCRAM{hash: xdgscram.SHA512} }
		}
	}
	return cfg
}

func kafkaGoMechanism(t testing.TB, mechanism, user, password string) kgosasl.Mechanism {
	t.Helper()
	var m kgosasl.Mechanism
	var err error
	switch mechanism {
	case "":
		return nil
	case "PLAIN":
		return kgoplain.Mechanism{Username: user, Password: password}
	case "SCRAM-SHA-256":
		m, err = kgoscram.Mechanism(kgoscram.SHA256, user, password)
	case "SCRAM-SHA-512":
		m, err = kgoscram.Mechanism(kgoscram.SHA512, user, password)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *secureEnv) kafkaGoDialer(t testing.TB, c secureCase, user, password string) *kafka.Dialer {
	return &kafka.Dialer{Timeout: 5 * time.Second, TLS: e.tlsConfig(c), SASLMechanism: kafkaGoMechanism(t, c.mechanism, user, password)}
}

func (e *secureEnv) franzOpts(t testing.TB, c secureCase, user, password string) []kgo.Opt {
	var opts []kgo.Opt
	if cfg := e.tlsConfig(c); cfg != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	switch c.mechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha512Mechanism()))
	}
	return opts
}

// saramaGroupHandler hands every consumed message to msgs and marks it.
type saramaGroupHandler struct {
	msgs chan<- *sarama.ConsumerMessage
}

func (saramaGroupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaGroupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h saramaGroupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		s.MarkMessage(m, "")
		s.Commit() // auto-commit is off: commit as the message is handed over
		select {
		case h.msgs <- m:
		case <-s.Context().Done():
			return nil
		}
	}
	return nil
}

// TestSecureClientsProduceConsumeGroup: sarama, franz-go and kafka-go produce, read
// the records back through a consumer group and commit, over every
// secured listener kind and mechanism; the committed offsets are checked
// with the operator's admin client.
func TestSecureClientsProduceConsumeGroup(t *testing.T) {
	env := startSecureEnv(t, nil)
	adm := kadm.NewClient(newFranz(t, env.plaintext))
	const n = 5
	for _, c := range secureCases {
		t.Run("sarama/"+c.name, func(t *testing.T) {
			ctx := testContext(t)
			topic, group := "sarama-"+c.name, "sarama-g-"+c.name
			cfg := env.sarama(c, clientUser, clientPassword)
			cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
			cfg.Consumer.Offsets.AutoCommit.Enable = false
			cfg.Producer.Idempotent, cfg.Net.MaxOpenRequests = true, 1
			cfg.Producer.Retry.Max = 3
			client, err := sarama.NewClient([]string{c.addr(env)}, cfg)
			if err != nil {
				t.Fatalf("sarama connect: %v", err)
			}
			defer client.Close()
			createTopic(t, ctx, env.plaintext, topic, 2, nil)
			producer, err := sarama.NewSyncProducerFromClient(client)
			if err != nil {
				t.Fatalf("sarama producer: %v", err)
			}
			defer producer.Close()
			for i := 0; i < n; i++ {
				if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprint(i)), Value: sarama.StringEncoder(fmt.Sprint("v", i))}); err != nil {
					t.Fatalf("sarama produce: %v", err)
				}
			}
			cg, err := sarama.NewConsumerGroupFromClient(group, client)
			if err != nil {
				t.Fatalf("sarama consumer group: %v", err)
			}
			msgs := make(chan *sarama.ConsumerMessage, n)
			cgCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				var err error
				for cgCtx.Err() == nil && err == nil {
					err = cg.Consume(cgCtx, []string{topic}, saramaGroupHandler{msgs: msgs})
				}
				done <- err
			}()
			seen := map[string]bool{}
			for len(seen) < n {
				select {
				case m := <-msgs:
					seen[string(m.Value)] = true
				case err := <-cg.Errors():
					t.Fatalf("sarama group: %v", err)
				case <-ctx.Done():
					t.Fatalf("sarama group read %d of %d records", len(seen), n)
				}
			}
			// The marked offsets are committed when the session ends.
			stop()
			if err := <-done; err != nil {
				t.Fatalf("sarama group consume: %v", err)
			}
			if err := cg.Close(); err != nil {
				t.Fatalf("sarama group close: %v", err)
			}
			checkCommitted(t, ctx, adm, group, topic, n)
		})
		t.Run("franz-go/"+c.name, func(t *testing.T) {
			ctx := testContext(t)
			topic, group := "franz-"+c.name, "franz-g-"+c.name
			createTopic(t, ctx, env.plaintext, topic, 2, nil)
			cl := newFranz(t, c.addr(env), append(env.franzOpts(t, c, clientUser, clientPassword),
				kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group), kgo.DisableAutoCommit(), kgo.FetchMaxWait(100*time.Millisecond))...)
			for i := 0; i < n; i++ {
				r := &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint("v", i))}
				if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatalf("franz-go produce: %v", err)
				}
			}
			seen := map[string]bool{}
			for len(seen) < n {
				fs := cl.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatalf("franz-go group read %d of %d", len(seen), n)
				}
				fs.EachError(func(topic string, p int32, err error) { t.Fatalf("franz-go fetch %s[%d]: %v", topic, p, err) })
				fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
			}
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				t.Fatalf("franz-go commit: %v", err)
			}
			cl.Close()
			checkCommitted(t, ctx, adm, group, topic, n)
		})
		t.Run("kafka-go/"+c.name, func(t *testing.T) {
			ctx := testContext(t)
			topic, group := "kafkago-"+c.name, "kafkago-g-"+c.name
			createTopic(t, ctx, env.plaintext, topic, 2, nil)
			tr := newKafkaGoTransport(t)
			tr.TLS, tr.SASL = env.tlsConfig(c), kafkaGoMechanism(t, c.mechanism, clientUser, clientPassword)
			w := &kafka.Writer{Addr: kafka.TCP(c.addr(env)), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: 5 * time.Millisecond,
				RequiredAcks: kafka.RequireAll, MaxAttempts: 3, Transport: tr}
			defer w.Close()
			var batch []kafka.Message
			for i := 0; i < n; i++ {
				batch = append(batch, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint("v", i))})
			}
			if err := w.WriteMessages(ctx, batch...); err != nil {
				t.Fatalf("kafka-go produce: %v", err)
			}
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{c.addr(env)}, GroupID: group, Topic: topic, MaxWait: 50 * time.Millisecond,
				StartOffset: kafka.FirstOffset, Dialer: env.kafkaGoDialer(t, c, clientUser, clientPassword), HeartbeatInterval: 200 * time.Millisecond})
			seen := map[string]bool{}
			for len(seen) < n {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					t.Fatalf("kafka-go group read %d of %d: %v", len(seen), n, err)
				}
				seen[string(m.Value)] = true
				if err := r.CommitMessages(ctx, m); err != nil {
					t.Fatalf("kafka-go commit: %v", err)
				}
			}
			if err := r.Close(); err != nil {
				t.Fatalf("kafka-go reader close: %v", err)
			}
			checkCommitted(t, ctx, adm, group, topic, n)
		})
	}
}

// checkCommitted: group's committed offsets on topic add up to n and
// equal the end offsets.
func checkCommitted(t *testing.T, ctx context.Context, adm *kadm.Client, group, topic string, n int64) {
	t.Helper()
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) {
		c, _ := committed.Lookup(topic, o.Partition)
		if o.Offset > 0 && c.At != o.Offset {
			t.Errorf("%s committed %s[%d]=%d, end offset %d", group, topic, o.Partition, c.At, o.Offset)
		}
		sum += o.Offset
	})
	if sum != n {
		t.Errorf("%s holds %d records, want %d", topic, sum, n)
	}
}

// TestSecureClientsRefused: a wrong password and an unknown user on every
// SASL listener and mechanism, and a certificate from another CA (or
// none) on the SSL listener, for sarama, franz-go and kafka-go, each with
// the error it reports; a logged-in franz-go client keeps producing
// throughout.
func TestSecureClientsRefused(t *testing.T) {
	env := startSecureEnv(t, nil)
	ctx := testContext(t)
	createTopic(t, ctx, env.plaintext, "steady", 1, nil)
	steadyCase := secureCases[len(secureCases)-1]
	steady := newFranz(t, steadyCase.addr(env), env.franzOpts(t, steadyCase, clientUser, clientPassword)...)
	produced := 0
	produce := func(t *testing.T) {
		t.Helper()
		if err := steady.ProduceSync(ctx, &kgo.Record{Topic: "steady", Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatalf("the logged-in client failed after a refused one: %v", err)
		}
		produced++
	}
	produce(t)

	type login struct{ name, user, password string }
	logins := []login{{"wrong-password", clientUser, "wrong"}, {"unknown-user", "nobody", clientPassword}}
	for _, c := range secureCases {
		if c.mechanism == "" {
			continue
		}
		for _, l := range logins {
			t.Run("sarama/"+c.name+"/"+l.name, func(t *testing.T) {
				_, err := sarama.NewClient([]string{c.addr(env)}, env.sarama(c, l.user, l.password))
				if !errors.Is(err, sarama.ErrSASLAuthenticationFailed) {
					t.Fatalf("sarama: %v, want %v", err, sarama.ErrSASLAuthenticationFailed)
				}
				produce(t)
			})
			t.Run("franz-go/"+c.name+"/"+l.name, func(t *testing.T) {
				cl := newFranz(t, c.addr(env), append(env.franzOpts(t, c, l.user, l.password), kgo.RequestRetries(0))...)
				if err := cl.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
					t.Fatalf("franz-go: %v, want %v", err, kerr.SaslAuthenticationFailed)
				}
				produce(t)
			})
			t.Run("kafka-go/"+c.name+"/"+l.name, func(t *testing.T) {
				_, err := env.kafkaGoDialer(t, c, l.user, l.password).DialContext(ctx, "tcp", c.addr(env))
				if !errors.Is(err, kafka.SASLAuthenticationFailed) {
					t.Fatalf("kafka-go: %v, want %v", err, kafka.SASLAuthenticationFailed)
				}
				produce(t)
			})
		}
	}

	// SSL with ssl.client.auth=required: a certificate from another CA
	// fails the handshake; each client reports the TLS alert.
	// GetClientCertificate sends the certificate whatever CAs the server
	// names (with Certificates, crypto/tls would send none that does not
	// chain to one of them).
	stranger := &tls.Config{RootCAs: env.roots, MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &env.strangerCert, nil }}
	noCert := &tls.Config{RootCAs: env.roots, MinVersion: tls.VersionTLS12}
	for _, tc := range []struct {
		name, alert string
		cfg         *tls.Config
	}{{"certificate-from-another-CA", "tls: unknown certificate authority", stranger}, {"no-certificate", "tls: certificate required", noCert}} {
		t.Run("sarama/"+tc.name, func(t *testing.T) {
			cfg := saramaConfig()
			cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, tc.cfg
			br := sarama.NewBroker(env.ssl)
			if err := br.Open(cfg); err != nil {
				t.Fatal(err)
			}
			defer br.Close()
			_, err := br.GetMetadata(&sarama.MetadataRequest{Version: 1})
			if !isTLSRefusal(err, tc.alert) {
				t.Fatalf("sarama: %v, want the alert %q", err, tc.alert)
			}
			t.Logf("sarama reports: %v", err)
			produce(t)
		})
		t.Run("kafka-go/"+tc.name, func(t *testing.T) {
			conn, err := (&kafka.Dialer{Timeout: 5 * time.Second, TLS: tc.cfg}).DialContext(ctx, "tcp", env.ssl)
			if err == nil {
				_, err = conn.ReadPartitions()
				conn.Close()
			}
			if !isTLSRefusal(err, tc.alert) {
				t.Fatalf("kafka-go: %v, want the alert %q", err, tc.alert)
			}
			t.Logf("kafka-go reports: %v", err)
			produce(t)
		})
		t.Run("franz-go/"+tc.name, func(t *testing.T) {
			cl := newFranz(t, env.ssl, kgo.DialTLSConfig(tc.cfg), kgo.RequestRetries(0))
			err := cl.Ping(ctx)
			if !isTLSRefusal(err, tc.alert) {
				t.Fatalf("franz-go: %v, want the alert %q", err, tc.alert)
			}
			t.Logf("franz-go reports: %v", err)
			produce(t)
		})
	}
	if got := endOffsets(t, ctx, env.plaintext, "steady")[0]; got != int64(produced) {
		t.Fatalf("steady holds %d records, produced %d", got, produced)
	}
}

// isTLSRefusal: under TLS 1.3 the client finishes its handshake before
// the server checks the client certificate, so the server's alert reaches
// the client on its first read, as "remote error: <alert>".
func isTLSRefusal(err error, alert string) bool {
	return err != nil && strings.Contains(err.Error(), "remote error: "+alert)
}

// disconnectCounter counts franz-go's broker disconnects.
type disconnectCounter struct{ n atomic.Int64 }

func (d *disconnectCounter) OnBrokerDisconnect(kgo.BrokerMetadata, net.Conn) { d.n.Add(1) }

// TestSecureClientsSessionExpiry: with connections.max.reauth.ms, a client
// that does not re-authenticate (kafka-go) has its connection closed at
// its first request after the session lifetime; franz-go and sarama
// re-authenticate on their connections (KIP-368) and keep working
// without a reconnect.
func TestSecureClientsSessionExpiry(t *testing.T) {
	const lifetime = 2500 * time.Millisecond
	env := startSecureEnv(t, map[string]string{"connections.max.reauth.ms": fmt.Sprint(lifetime.Milliseconds())})
	ctx := testContext(t)
	createTopic(t, ctx, env.plaintext, "reauth", 1, nil)
	c := secureCases[len(secureCases)-1] // SASL_SSL, SCRAM-SHA-512

	var disconnects disconnectCounter
	franz := newFranz(t, c.addr(env), append(env.franzOpts(t, c, clientUser, clientPassword), kgo.WithHooks(&disconnects))...)
	if err := franz.ProduceSync(ctx, &kgo.Record{Topic: "reauth", Value: []byte("f1")}).FirstErr(); err != nil {
		t.Fatalf("franz-go produce: %v", err)
	}
	sp, err := sarama.NewSyncProducer([]string{c.addr(env)}, env.sarama(c, clientUser, clientPassword))
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	defer sp.Close()
	if _, _, err := sp.SendMessage(&sarama.ProducerMessage{Topic: "reauth", Value: sarama.StringEncoder("s1")}); err != nil {
		t.Fatalf("sarama produce: %v", err)
	}

	// kafka-go's Conn logs in once and never again.
	conn, err := env.kafkaGoDialer(t, c, clientUser, clientPassword).DialContext(ctx, "tcp", c.addr(env))
	if err != nil {
		t.Fatalf("kafka-go login: %v", err)
	}
	defer conn.Close()
	loggedIn := time.Now()
	var lastErr error
	arustest.Eventually(t, 4*lifetime, "kafka-go connection still served after its session expired", func() bool {
		_, lastErr = conn.ReadPartitions("reauth")
		return lastErr != nil
	})
	if since := time.Since(loggedIn); since < lifetime {
		t.Fatalf("kafka-go connection closed %s after login, before the %s session lifetime: %v", since, lifetime, lastErr)
	}
	if !errors.Is(lastErr, io.EOF) && !errors.Is(lastErr, syscall.ECONNRESET) && !errors.Is(lastErr, syscall.EPIPE) {
		t.Fatalf("kafka-go after expiry: %v, want the connection closed (EOF)", lastErr)
	}

	// Both other clients' sessions have expired too by now; they
	// re-authenticate in place.
	if err := franz.ProduceSync(ctx, &kgo.Record{Topic: "reauth", Value: []byte("f2")}).FirstErr(); err != nil {
		t.Fatalf("franz-go produce after the session lifetime: %v", err)
	}
	if _, _, err := sp.SendMessage(&sarama.ProducerMessage{Topic: "reauth", Value: sarama.StringEncoder("s2")}); err != nil {
		t.Fatalf("sarama produce after the session lifetime: %v", err)
	}
	if n := disconnects.n.Load(); n != 0 {
		t.Fatalf("franz-go disconnected %d times; it should re-authenticate on its connections", n)
	}
	if got := endOffsets(t, ctx, env.plaintext, "reauth")[0]; got != 4 {
		t.Fatalf("reauth holds %d records, want 4", got)
	}
}
