package broker_test

// Secured inter-broker listeners: brokers replicate, forward, register
// and run Raft over SSL, SASL_PLAINTEXT and SASL_SSL, logging in as the
// inter-broker user of their configuration; a wrong password keeps a
// broker out, and a principal without CLUSTER_ACTION cannot talk to the
// inter-broker listener.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/broker"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/server"
)

// interBrokerProps are server.properties keys (Kafka's) of a secured
// inter-broker listener named BROKER, with a PLAINTEXT client listener
// whose ANONYMOUS clients are super users (the test's admin).
func interBrokerProps(t *testing.T, ca *arustest.CA, protocol, mechanism, password string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	props := map[string]string{
		"inter.broker.listener.name":     "BROKER",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,BROKER:" + protocol,
		"authorizer.class.name":          config.StandardAuthorizer,
		"super.users":                    "User:broker;User:ANONYMOUS;User:CN=broker",
	}
	if strings.Contains(protocol, "SSL") {
		props["listener.name.broker.ssl.keystore.location"] = arustest.WriteFile(t, dir, "broker.pem", ca.Issue(t, "broker", true))
		props["listener.name.broker.ssl.truststore.location"] = arustest.WriteFile(t, dir, "ca.pem", ca.PEM)
		props["listener.name.broker.ssl.client.auth"] = "required"
	}
	if strings.HasPrefix(protocol, "SASL") {
		props["sasl.mechanism.inter.broker.protocol"] = mechanism
		props["listener.name.broker.sasl.enabled.mechanisms"] = mechanism
		users := `org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="` + password +
			`" user_broker="broker-secret" user_alice="alice-secret";`
		props["listener.name.broker.plain.sasl.jaas.config"] = users
		if mechanism != "PLAIN" {
			props["listener.name.broker."+strings.ToLower(mechanism)+".sasl.jaas.config"] =
				`org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="` + password + `";`
		}
	}
	return props
}

// withProps applies server.properties keys to a node's config.
func withProps(t *testing.T, props map[string]string) arustest.Option {
	return func(c *config.Broker) {
		if err := config.ApplyProperties(c, props); err != nil {
			t.Errorf("properties: %v", err)
		}
	}
}

func TestInterBrokerSecuredListeners(t *testing.T) {
	for _, tc := range []struct{ protocol, mechanism string }{
		{"SASL_SSL", "PLAIN"},
		{"SASL_PLAINTEXT", "SCRAM-SHA-512"},
		{"SSL", ""},
	} {
		t.Run(tc.protocol+"_"+tc.mechanism, func(t *testing.T) {
			ctx := testContext(t)
			props := interBrokerProps(t, arustest.NewCA(t, "inter-broker CA"), tc.protocol, tc.mechanism, "broker-secret")
			c := arustest.StartQuorumCluster(t, 3, withProps(t, props), arustest.WithTransactionStatePartitions(1))
			addrs := c.ListenerAddrs()

			// CreateTopics through a node that is not the active
			// controller is forwarded over the secured listener, and
			// replication runs over it.
			via := addrs[0]
			if ctl := c.ActiveController(); ctl == 1 {
				via = addrs[1]
			}
			adm := kadm.NewClient(newFranz(t, via))
			minISR := "2"
			resp, err := adm.CreateTopics(ctx, 3, 3, map[string]*string{"min.insync.replicas": &minISR}, "secured")
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				t.Fatalf("create topic through a follower: %v", err)
			}
			producer := newFranz(t, addrs[2], kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("secured"))
			for i := range 30 {
				if err := producer.ProduceSync(ctx, kgo.StringRecord("r"+string(rune('a'+i%26)))).FirstErr(); err != nil {
					t.Fatalf("acks=all produce %d: %v", i, err)
				}
			}
			arustest.Eventually(t, 20*time.Second, "every partition fully in sync", func() bool {
				td, err := adm.ListTopics(ctx, "secured")
				if err != nil {
					return false
				}
				for _, p := range td["secured"].Partitions {
					if len(p.ISR) != 3 {
						return false
					}
				}
				return true
			})
			if got := consumeAllFranz(t, ctx, addrs[1], "secured", 30); len(got) != 30 {
				t.Fatalf("consumed %d records, want 30", len(got))
			}

			// A connection that does not speak the listener's protocol
			// (plain TCP with a peer handshake) is refused.
			raw := dialPeer(t, c.InterBrokerAddr(1), 2, "")
			_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := raw.Write(rawRequest(kmsg.NewPtrApiVersionsRequest(), 1)); err == nil {
				if _, err := io.ReadFull(raw, make([]byte, 4)); err == nil {
					t.Fatal("a plain connection got an answer from a secured inter-broker listener")
				}
			}
		})
	}
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInterBrokerWrongPasswordDoesNotJoin(t *testing.T) {
	ca := arustest.NewCA(t, "inter-broker CA")
	c := arustest.StartQuorumCluster(t, 1, withProps(t, interBrokerProps(t, ca, "SASL_SSL", "PLAIN", "broker-secret")))
	// Node 2, a broker-only node, has the wrong inter-broker password.
	cfg := config.Broker{NodeID: 2, Listener: "127.0.0.1:0", InterBrokerListener: "127.0.0.1:0", DataDir: t.TempDir(),
		ControllerQuorumVoters: c.Voters(), HTTPListener: ""}
	if err := config.ApplyProperties(&cfg, interBrokerProps(t, ca, "SASL_SSL", "PLAIN", "wrong-secret")); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	start := time.Now()
	b, err := broker.Start(cfg, logger, broker.WithTiming(c.Timing))
	if err == nil {
		_ = b.Shutdown(context.Background())
		t.Fatal("a broker with the wrong inter-broker password started")
	}
	if !strings.Contains(err.Error(), "inter-broker login refused") || !strings.Contains(err.Error(), "cannot join") {
		t.Fatalf("start error %q does not say the inter-broker login was refused", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatalf("the refused broker took %s to give up", time.Since(start))
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "inter-broker login refused") {
		t.Fatalf("no error logged about the refused login:\n%s", logs.String())
	}
	if _, ok := c.Broker(1).Controller().Image().Brokers[2]; ok {
		t.Fatal("the refused broker is registered")
	}

	// The same broker-only node with the right password copies the
	// metadata from the voter and registers.
	cfg = config.Broker{NodeID: 2, Listener: "127.0.0.1:0", InterBrokerListener: "127.0.0.1:0", DataDir: t.TempDir(),
		ControllerQuorumVoters: c.Voters()}
	if err := config.ApplyProperties(&cfg, interBrokerProps(t, ca, "SASL_SSL", "PLAIN", "broker-secret")); err != nil {
		t.Fatal(err)
	}
	b, err = broker.Start(cfg, arustest.Logger(t), broker.WithTiming(c.Timing))
	if err != nil {
		t.Fatalf("broker-only node with the right password: %v", err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	arustest.Eventually(t, 10*time.Second, "node 2 registered with the voter", func() bool {
		br, ok := c.Broker(1).Controller().Image().Brokers[2]
		return ok && !br.Fenced
	})
}

// saslLogin logs in on c with PLAIN (SaslHandshake v1, SaslAuthenticate
// v1); it returns the SaslAuthenticate error code.
func saslLogin(t *testing.T, c net.Conn, user, password string) int16 {
	t.Helper()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	if _, err := c.Write(rawRequest(hs, 1)); err != nil {
		t.Fatal(err)
	}
	hsResp := kmsg.NewPtrSASLHandshakeResponse()
	hsResp.Version = 1
	if err := hsResp.ReadFrom(readResponse(t, c, 1)); err != nil || hsResp.ErrorCode != 0 {
		t.Fatalf("handshake: %v %d", err, hsResp.ErrorCode)
	}
	au := kmsg.NewPtrSASLAuthenticateRequest()
	au.Version = 1
	au.SASLAuthBytes = []byte("\x00" + user + "\x00" + password)
	if _, err := c.Write(rawRequest(au, 2)); err != nil {
		t.Fatal(err)
	}
	auResp := kmsg.NewPtrSASLAuthenticateResponse()
	auResp.Version = 1
	if err := auResp.ReadFrom(readResponse(t, c, 2)); err != nil {
		t.Fatal(err)
	}
	return auResp.ErrorCode
}

// closedByPeer reports whether the server closes c before answering a
// request (reading fails with EOF or a reset).
func closedByPeer(t *testing.T, c net.Conn, req kmsg.Request) bool {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(rawRequest(req, 9)); err != nil {
		return true
	}
	_, err := io.ReadFull(c, make([]byte, 4))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server neither answered nor closed the connection")
	}
	return err != nil
}

func TestInterBrokerListenerNeedsClusterAction(t *testing.T) {
	ctx := testContext(t)
	c := arustest.StartQuorumCluster(t, 1, withProps(t, interBrokerProps(t, arustest.NewCA(t, "inter-broker CA"), "SASL_PLAINTEXT", "PLAIN", "broker-secret")))
	b := c.Broker(1)
	inter := c.InterBrokerAddr(1)
	cid := b.Controller().Image().ClusterID
	heartbeat := func() kmsg.Request {
		hb := kmsg.NewPtrBrokerHeartbeatRequest()
		hb.BrokerID, hb.WantShutdown = 1, true
		return hb
	}

	// alice has a valid login but no CLUSTER_ACTION: the connection is
	// closed after the login, before any inter-broker API.
	conn := dial(t, inter)
	if code := saslLogin(t, conn, "alice", "alice-secret"); code != 0 {
		t.Fatalf("alice's login: error code %d", code)
	}
	if _, err := conn.Write(server.AppendPeerHandshake(nil, 1, cid)); err != nil {
		t.Fatal(err)
	}
	if !closedByPeer(t, conn, heartbeat()) {
		t.Fatal("alice, without CLUSTER_ACTION, was served on the inter-broker listener")
	}
	if br, ok := b.Controller().Image().Brokers[1]; !ok || br.Fenced {
		t.Fatal("alice's heartbeat fenced node 1")
	}

	// A wrong password gets SASL_AUTHENTICATION_FAILED.
	conn = dial(t, inter)
	if code := saslLogin(t, conn, "broker", "nope"); code != 58 {
		t.Fatalf("wrong password: error code %d, want 58 (SASL_AUTHENTICATION_FAILED)", code)
	}

	// Not logging in at all closes the connection.
	if !closedByPeer(t, dialPeer(t, inter, 1, cid), kmsg.NewPtrApiVersionsRequest()) {
		t.Fatal("a peer that did not log in was served")
	}

	// The broker user (a super user) is served.
	conn = dial(t, inter)
	if code := saslLogin(t, conn, "broker", "broker-secret"); code != 0 {
		t.Fatalf("broker login: error code %d", code)
	}
	if _, err := conn.Write(server.AppendPeerHandshake(nil, 1, cid)); err != nil {
		t.Fatal(err)
	}
	if keys := apiVersionKeys(t, conn); len(keys) == 0 {
		t.Fatal("the broker user got no ApiVersions")
	}

	// Granting alice CLUSTER_ACTION admits her.
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	acl := kadm.NewACLs().Allow("User:alice").Clusters().Operations(kadm.OpClusterAction).ResourcePatternType(kadm.ACLPatternLiteral)
	if res, err := adm.CreateACLs(ctx, acl); err != nil || res[0].Err != nil {
		t.Fatalf("create acl: %v %v", err, res)
	}
	arustest.Eventually(t, 10*time.Second, "alice admitted with CLUSTER_ACTION", func() bool {
		conn := dial(t, inter)
		defer conn.Close()
		if saslLogin(t, conn, "alice", "alice-secret") != 0 {
			return false
		}
		if _, err := conn.Write(server.AppendPeerHandshake(nil, 1, cid)); err != nil {
			return false
		}
		return !closedByPeer(t, conn, kmsg.NewPtrApiVersionsRequest())
	})

	// On the client listener the inter-broker APIs stay closed to anyone.
	if !closedByPeer(t, dial(t, b.Addr()), heartbeat()) {
		t.Fatal("the client listener served BrokerHeartbeat")
	}
}

// answers reports whether the server answers an ApiVersions request on c
// (reading the whole response) rather than closing it.
func answers(c net.Conn) bool {
	if _, err := c.Write(rawRequest(kmsg.NewPtrApiVersionsRequest(), 10)); err != nil {
		return false
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return false
	}
	_, err := io.ReadFull(c, make([]byte, binary.BigEndian.Uint32(size[:])))
	return err == nil
}

// forwardedCreateTopics is a CreateTopics v7 as a broker forwards it:
// the client's principal and host in arus's forwarding tag.
func forwardedCreateTopics(topic, principal string) kmsg.Request {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
	req.Topics = append(req.Topics, rt)
	val := binary.BigEndian.AppendUint16(nil, uint16(len(principal)))
	val = append(val, principal...)
	val = binary.BigEndian.AppendUint16(val, 9)
	val = append(val, "127.0.0.1"...)
	req.UnknownTags.Set(10_001, val)
	return req
}

// createTopicsCode sends req on c and returns the topic's error code.
func createTopicsCode(t *testing.T, c net.Conn, req kmsg.Request, corr int32) int16 {
	t.Helper()
	if _, err := c.Write(rawRequest(req, corr)); err != nil {
		t.Fatal(err)
	}
	body := readResponse(t, c, corr)
	resp := kmsg.NewPtrCreateTopicsResponse()
	resp.Version = 7
	if err := resp.ReadFrom(body[1:]); err != nil { // body[0]: the response header's tags
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 {
		t.Fatalf("%d topics in the response", len(resp.Topics))
	}
	return resp.Topics[0].ErrorCode
}

// A forwarded client principal is believed only from a connection that
// may act as a broker: on a PLAINTEXT inter-broker listener with an
// authorizer, that is ANONYMOUS with CLUSTER_ACTION.
func TestForwardedPrincipalNeedsClusterAction(t *testing.T) {
	ctx := testContext(t)
	c := arustest.StartQuorumCluster(t, 1, func(cfg *config.Broker) {
		cfg.ListenerName = "SASL_PLAINTEXT"
		cfg.Security.AuthorizerClassName = config.StandardAuthorizer
		cfg.Security.SuperUsers = "User:admin"
		cfg.Security.PlainJAAS = map[string]string{"": `org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";`}
	})
	b := c.Broker(1)
	inter, cid := c.InterBrokerAddr(1), b.Controller().Image().ClusterID

	// ANONYMOUS may not act as a broker: a "peer" claiming to forward
	// the super user's request is closed before it is served.
	if !closedByPeer(t, dialPeer(t, inter, 1, cid), forwardedCreateTopics("stolen", "User:admin")) {
		t.Fatal("a PLAINTEXT peer without CLUSTER_ACTION was served")
	}
	adm := kadm.NewClient(newFranz(t, b.Addr(), kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism())))
	if topics, err := adm.ListTopics(ctx, "stolen"); err != nil || topics.Has("stolen") {
		t.Fatalf("the refused request created its topic (%v)", err)
	}

	// With CLUSTER_ACTION for ANONYMOUS (Kafka's setup for a PLAINTEXT
	// inter-broker listener) the forwarded principal is believed: the
	// one named, not the connection's, is authorized.
	acl := kadm.NewACLs().Allow("User:ANONYMOUS").Clusters().Operations(kadm.OpClusterAction).ResourcePatternType(kadm.ACLPatternLiteral)
	if res, err := adm.CreateACLs(ctx, acl); err != nil || res[0].Err != nil {
		t.Fatalf("create acl: %v %v", err, res)
	}
	var conn net.Conn
	arustest.Eventually(t, 10*time.Second, "ANONYMOUS admitted on the inter-broker listener", func() bool {
		conn = dialPeer(t, inter, 1, cid)
		return answers(conn)
	})
	if code := createTopicsCode(t, conn, forwardedCreateTopics("mallory-topic", "User:mallory"), 11); code != 29 {
		t.Fatalf("forwarded for User:mallory: error code %d, want 29 (TOPIC_AUTHORIZATION_FAILED)", code)
	}
	if code := createTopicsCode(t, conn, forwardedCreateTopics("admin-topic", "User:admin"), 12); code != 0 {
		t.Fatalf("forwarded for User:admin: error code %d, want 0", code)
	}
}

// listener.name.<listener>.* overrides, as Kafka reads them: each
// listener its own mechanisms, keystore and ssl.client.auth.
func TestPerListenerSecurityOverrides(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	ca := arustest.NewCA(t, "listener CA")
	props := map[string]string{
		"listeners":                                       "PLAINTEXT://127.0.0.1:0,SASLA://127.0.0.1:0,SCRAMONLY://127.0.0.1:0,TLSA://127.0.0.1:0,MTLS://127.0.0.1:0",
		"listener.security.protocol.map":                  "PLAINTEXT:PLAINTEXT,SASLA:SASL_PLAINTEXT,SCRAMONLY:SASL_PLAINTEXT,TLSA:SSL,MTLS:SSL",
		"sasl.enabled.mechanisms":                         "PLAIN,SCRAM-SHA-512",
		"listener.name.scramonly.sasl.enabled.mechanisms": "SCRAM-SHA-512",
		"plain.sasl.jaas.config":                          `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`,
		"ssl.keystore.location":                           arustest.WriteFile(t, dir, "global.pem", ca.Issue(t, "global", true)),
		"ssl.truststore.location":                         arustest.WriteFile(t, dir, "ca.pem", ca.PEM),
		"listener.name.mtls.ssl.keystore.location":        arustest.WriteFile(t, dir, "mtls.pem", ca.Issue(t, "mtls-listener", true)),
		"listener.name.mtls.ssl.client.auth":              "required",
	}
	b := arustest.StartBroker(t, withProps(t, props))
	alice := kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism())

	// PLAIN works where it is enabled, and not on SCRAMONLY.
	if _, err := kadm.NewClient(newFranz(t, b.ListenerAddr("SASLA").String(), alice)).BrokerMetadata(ctx); err != nil {
		t.Fatalf("PLAIN on SASLA: %v", err)
	}
	conn := dial(t, b.ListenerAddr("SCRAMONLY").String())
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	if _, err := conn.Write(rawRequest(hs, 1)); err != nil {
		t.Fatal(err)
	}
	hsResp := kmsg.NewPtrSASLHandshakeResponse()
	hsResp.Version = 1
	if err := hsResp.ReadFrom(readResponse(t, conn, 1)); err != nil {
		t.Fatal(err)
	}
	if hsResp.ErrorCode != 33 || len(hsResp.SupportedMechanisms) != 1 || hsResp.SupportedMechanisms[0] != "SCRAM-SHA-512" {
		t.Fatalf("PLAIN on SCRAMONLY: code %d, mechanisms %v; want 33 (UNSUPPORTED_SASL_MECHANISM), [SCRAM-SHA-512]",
			hsResp.ErrorCode, hsResp.SupportedMechanisms)
	}

	// Each SSL listener serves its own keystore; MTLS wants a client
	// certificate, TLSA does not.
	pool := ca.Pool()
	served := func(name string, certs []tls.Certificate) (string, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", b.ListenerAddr(name).String(),
			&tls.Config{RootCAs: pool, Certificates: certs, MinVersion: tls.VersionTLS12})
		if err != nil {
			return "", err
		}
		defer c.Close()
		// TLS 1.3: a refused client certificate shows on the first read.
		if !answers(c) {
			return "", errors.New("connection closed after the handshake")
		}
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
	}
	if cn, err := served("TLSA", nil); err != nil || cn != "global" {
		t.Fatalf("TLSA: certificate %q, %v; want global's", cn, err)
	}
	if _, err := served("MTLS", nil); err == nil {
		t.Fatal("MTLS (listener.name.mtls.ssl.client.auth=required) accepted a client without a certificate")
	}
	clientCert := arustest.KeyPair(t, ca.Issue(t, "client", false))
	if cn, err := served("MTLS", []tls.Certificate{clientCert}); err != nil || cn != "mtls-listener" {
		t.Fatalf("MTLS with a client certificate: server certificate %q, %v; want mtls-listener's", cn, err)
	}
}

// Transaction markers for a broker's own partitions are written in
// process, not over its inter-broker listener as ANONYMOUS: transactions
// work with an authorizer whose super users do not include ANONYMOUS.
func TestTransactionsWithAuthorizerWithoutAnonymousSuperUser(t *testing.T) {
	ctx := testContext(t)
	b := arustest.StartBroker(t, func(cfg *config.Broker) {
		cfg.ListenerName = "SASL_PLAINTEXT"
		cfg.Security.AuthorizerClassName = config.StandardAuthorizer
		cfg.Security.SuperUsers = "User:admin"
		cfg.Security.PlainJAAS = map[string]string{"": `org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";`}
	}, arustest.WithTransactionStatePartitions(1))
	admin := kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism())
	if _, err := kadm.NewClient(newFranz(t, b.Addr(), admin)).CreateTopic(ctx, 1, 1, nil, "txn-acl"); err != nil {
		t.Fatal(err)
	}
	producer := newFranz(t, b.Addr(), admin, kgo.TransactionalID("tx-acl"), kgo.DefaultProduceTopic("txn-acl"))
	produceTxn(t, ctx, producer, "txn-acl", "committed", 3, true)
	produceTxn(t, ctx, producer, "txn-acl", "aborted", 2, false)
	produceTxn(t, ctx, producer, "txn-acl", "last", 1, true)
	got := pollFranz(t, ctx, newFranz(t, b.Addr(), admin, kgo.ConsumeTopics("txn-acl"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted())), 4)
	for i, want := range []string{"committed-0", "committed-1", "committed-2", "last-0"} {
		if got[i].Value != want {
			t.Fatalf("read_committed record %d is %q, want %q (all: %v)", i, got[i].Value, want, got)
		}
	}
}
