package broker_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

// securedBroker starts a broker with four client listeners (PLAINTEXT,
// SASL_PLAINTEXT, SASL_SSL, SSL with required client certificates), PLAIN
// users admin and alice, authorization on and admin a super user, as a
// Kafka server.properties would configure it.
func securedBroker(t *testing.T, ca *arustest.CA) *arustest.Broker {
	t.Helper()
	dir := t.TempDir()
	ks, ts := arustest.WriteFile(t, dir, "broker.pem", ca.Issue(t, "broker", true)), arustest.WriteFile(t, dir, "ca.pem", ca.PEM)
	props := map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0,MTLS://127.0.0.1:0",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL",
		"sasl.enabled.mechanisms":        "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`,
		"listener.name.sasl_ssl.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`user_admin="admin-secret" user_alice="alice-secret";`,
		"ssl.keystore.type":     "PEM",
		"ssl.keystore.location": ks, "ssl.truststore.type": "PEM", "ssl.truststore.location": ts,
		"ssl.client.auth":                           "required",
		"ssl.principal.mapping.rules":               "RULE:^CN=([^,]*).*$/$1/,DEFAULT",
		"authorizer.class.name":                     "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":                               "User:admin",
		"allow.everyone.if.no.acl.found":            "false",
		"connection.failed.authentication.delay.ms": "10",
	}
	return arustest.StartBroker(t, func(c *config.Broker) {
		c.Listener = ""
		if err := config.ApplyProperties(c, props); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSecurityListenersSASLAndACLs(t *testing.T) {
	ctx := testContext(t)
	ca := arustest.NewCA(t, "arus test CA")
	b := securedBroker(t, ca)
	saslPlain := b.ListenerAddr("SASL_PLAINTEXT").String()
	saslSSL := b.ListenerAddr("SASL_SSL").String()
	mtls := b.ListenerAddr("MTLS").String()
	tlsCfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}

	admin := newFranz(t, saslPlain, kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism()))
	adm := kadm.NewClient(admin)

	// Metadata answers with the addresses of the listener asked through.
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := net.JoinHostPort(meta.Brokers[0].Host, strconv.Itoa(int(meta.Brokers[0].Port))); got != saslPlain {
		t.Fatalf("metadata through SASL_PLAINTEXT advertises %s, want %s", got, saslPlain)
	}

	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "secret"); err != nil {
		t.Fatal(err)
	}
	// SCRAM users through the controller.
	altered, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-secret"},
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "carol-secret"},
	})
	if err != nil || altered.Error() != nil {
		t.Fatalf("alter scram: %v %v", err, altered.Error())
	}
	described, err := adm.DescribeUserSCRAMs(ctx, "bob", "carol")
	if err != nil || described.Error() != nil || described["carol"].CredInfos[0].Iterations != 8192 {
		t.Fatalf("describe scram: %v %+v", err, described)
	}
	// ACLs: bob writes and reads orders, in group g; a PREFIXED grant for carol.
	acls := kadm.NewACLs().Allow("User:bob").Topics("orders").Operations(kadm.OpWrite, kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	if res, err := adm.CreateACLs(ctx, acls); err != nil || res[0].Err != nil {
		t.Fatalf("create acls: %v %v", err, res)
	}
	grp := kadm.NewACLs().Allow("User:bob").Groups("g").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	if _, err := adm.CreateACLs(ctx, grp); err != nil {
		t.Fatal(err)
	}
	pre := kadm.NewACLs().Allow("User:carol", "User:dave").Topics("ord").Operations(kadm.OpDescribe, kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed)
	if _, err := adm.CreateACLs(ctx, pre); err != nil {
		t.Fatal(err)
	}
	dreq := kmsg.NewPtrDescribeACLsRequest()
	dreq.ResourceType, dreq.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	dreq.Operation, dreq.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	dresp, err := dreq.RequestWith(ctx, admin)
	if err != nil || dresp.ErrorCode != 0 || len(dresp.Resources) != 3 {
		t.Fatalf("describe acls: %v %+v", err, dresp)
	}

	// bob over SASL_SSL with SCRAM-SHA-256: produce and consume orders.
	bob := newFranz(t, saslSSL, kgo.DialTLSConfig(tlsCfg), kgo.SASL(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha256Mechanism()),
		kgo.ConsumeTopics("orders"), kgo.ConsumerGroup("g"), kgo.FetchMaxWait(100*time.Millisecond))
	if err := bob.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("o1")}).FirstErr(); err != nil {
		t.Fatalf("bob produce: %v", err)
	}
	got := pollFranz(t, ctx, bob, 1) // closes bob
	if string(got[0].Value) != "o1" {
		t.Fatalf("bob consumed %v", got)
	}
	bobProducer := newFranz(t, saslSSL, kgo.DialTLSConfig(tlsCfg), kgo.SASL(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha256Mechanism()))
	if err := bobProducer.ProduceSync(ctx, &kgo.Record{Topic: "secret", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("bob produce to secret: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// carol (SCRAM-SHA-512, PREFIXED READ on "ord"): may read, not write;
	// Metadata hides "secret".
	carol := newFranz(t, saslSSL, kgo.DialTLSConfig(tlsCfg), kgo.SASL(scram.Auth{User: "carol", Pass: "carol-secret"}.AsSha512Mechanism()),
		kgo.RequestRetries(0))
	carolAdm := kadm.NewClient(carol)
	topics, err := carolAdm.ListTopics(ctx)
	if err != nil || !topics.Has("orders") || topics.Has("secret") {
		t.Fatalf("carol lists %v (%v)", topics.Names(), err)
	}
	// The idempotent producer first needs a producer id: with WRITE on no
	// topic, Kafka answers CLUSTER_AUTHORIZATION_FAILED (KIP-679).
	if err := carol.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("carol produce: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	carolPlain := newFranz(t, saslSSL, kgo.DialTLSConfig(tlsCfg), kgo.SASL(scram.Auth{User: "carol", Pass: "carol-secret"}.AsSha512Mechanism()),
		kgo.RequestRetries(0), kgo.DisableIdempotentWrite())
	if err := carolPlain.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("carol produce: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if _, err := carolAdm.CreateTopic(ctx, 1, 1, nil, "carols"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("carol create topic: %v", err)
	}
	if res, err := carolAdm.CreateACLs(ctx, acls); err != nil || len(res) == 0 || !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("carol create acls: %v %+v", err, res)
	}
	// The operators' admin APIs are authorized too: DeleteRecords needs
	// DELETE on the topic, DescribeLogDirs DESCRIBE and UpdateFeatures
	// ALTER on the cluster (KafkaApis.handleDeleteRecordsRequest,
	// handleDescribeLogDirsRequest, ControllerApis.handleUpdateFeatures).
	if res, err := carolAdm.DeleteRecords(ctx, kadm.Offsets{"orders": {0: {At: 1}}}); err != nil {
		t.Fatalf("carol delete records: %v", err)
	} else if r, ok := res.Lookup("orders", 0); !ok || !errors.Is(r.Err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("carol delete records: %+v, want TOPIC_AUTHORIZATION_FAILED", r)
	}
	if _, err := carolAdm.DescribeAllLogDirs(ctx, nil); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("carol describe log dirs: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	upd := kmsg.NewPtrUpdateFeaturesRequest()
	if resp, err := upd.RequestWith(ctx, carol); err != nil || resp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("carol update features: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", err, resp)
	}
	// Client quotas: DESCRIBE_CONFIGS and ALTER_CONFIGS on the cluster
	// (KafkaApis.handleDescribeClientQuotasRequest, ControllerApis.handleAlterClientQuotas).
	if _, err := carolAdm.DescribeClientQuotas(ctx, false, nil); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("carol describe client quotas: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	quotaEntry := []kadm.AlterClientQuotaEntry{{Entity: kadm.ClientQuotaEntity{{Type: "user"}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1 << 30}}}}
	if res, err := carolAdm.AlterClientQuotas(ctx, quotaEntry); err != nil || len(res) != 1 || !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("carol alter client quotas: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", err, res)
	}
	if res, err := adm.AlterClientQuotas(ctx, quotaEntry); err != nil || res[0].Err != nil {
		t.Fatalf("admin alter client quotas: %v %+v", err, res)
	}
	if got, err := adm.DescribeClientQuotas(ctx, false, nil); err != nil || len(got) != 1 {
		t.Fatalf("admin describe client quotas: %v %+v", err, got)
	}

	// Wrong password, unknown user: SASL_AUTHENTICATION_FAILED; others unaffected.
	for _, mech := range []kgo.Opt{
		kgo.SASL(scram.Auth{User: "bob", Pass: "wrong"}.AsSha256Mechanism()),
		kgo.SASL(scram.Auth{User: "nobody", Pass: "x"}.AsSha512Mechanism()),
		kgo.SASL(plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism()),
	} {
		bad := newFranz(t, saslSSL, kgo.DialTLSConfig(tlsCfg), mech, kgo.RequestRetries(0))
		if err := bad.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("bad login: %v, want SASL_AUTHENTICATION_FAILED", err)
		}
	}
	if err := bobProducer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("o2")}).FirstErr(); err != nil {
		t.Fatalf("bob after failed logins: %v", err)
	}

	// SSL with client certificates: the principal is the mapped subject.
	daveCert := arustest.KeyPair(t, ca.IssueSubject(t, pkix.Name{CommonName: "dave", Organization: []string{"arus"}}, false))
	dave := newFranz(t, mtls, kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{daveCert}, MinVersion: tls.VersionTLS12}),
		kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if got := pollFranz(t, ctx, dave, 2); len(got) != 2 {
		t.Fatalf("dave read %v", got)
	}
	// A certificate from another CA is refused.
	strangerCert := arustest.KeyPair(t, arustest.NewCA(t, "other CA").Issue(t, "admin", false))
	stranger := newFranz(t, mtls, kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{strangerCert}, MinVersion: tls.VersionTLS12}),
		kgo.RequestRetries(0))
	if err := stranger.Ping(ctx); err == nil {
		t.Fatal("a certificate from another CA was accepted")
	}

	// PLAINTEXT: ANONYMOUS may not do anything without ACLs.
	anon := newFranz(t, b.Addr(), kgo.RequestRetries(0))
	if err := anon.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("anonymous produce: %v", err)
	}

	// DeleteAcls removes what the filter matches; bob loses WRITE.
	del, err := adm.DeleteACLs(ctx, kadm.NewACLs().Allow("User:bob").AllowHosts().Topics("orders").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(del) != 1 || len(del[0].Deleted) != 1 {
		t.Fatalf("delete acls: %v %+v", err, del)
	}
	arustest.Eventually(t, 5*time.Second, "bob still writes after his ACL was deleted", func() bool {
		err := bobProducer.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr()
		return errors.Is(err, kerr.TopicAuthorizationFailed)
	})
}

// TestSecuritySaramaPlainOverTLS: sarama with SASL/PLAIN over SASL_SSL
// (handshake v1 and SaslAuthenticate), as a sarama user configures it.
func TestSecuritySaramaPlainOverTLS(t *testing.T) {
	ctx := testContext(t)
	ca := arustest.NewCA(t, "arus test CA")
	b := securedBroker(t, ca)
	addr := b.ListenerAddr("SASL_SSL").String()
	cfg := saramaConfig()
	cfg.Net.TLS.Enable = true
	cfg.Net.TLS.Config = &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	cfg.Net.SASL.User, cfg.Net.SASL.Password = "admin", "admin-secret"
	cfg.Net.SASL.Handshake = true
	cfg.Net.SASL.Version = sarama.SASLHandshakeV1
	cfg.Producer.Retry.Max = 1
	producer, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: "sarama-secure", Value: sarama.StringEncoder("v")}); err != nil {
		t.Fatalf("sarama produce as super user: %v", err)
	}
	got := consumeSaramaWith(t, ctx, cfg, addr, "sarama-secure", 0, 0, 1)
	if len(got) != 1 || string(got[0].Value) != "v" {
		t.Fatalf("sarama consumed %v", got)
	}
	bad := saramaConfig()
	*bad = *cfg
	bad.Net.SASL.Password = "wrong"
	if _, err := sarama.NewSyncProducer([]string{addr}, bad); err == nil || !errors.Is(err, sarama.ErrSASLAuthenticationFailed) {
		t.Fatalf("sarama wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
}

// TestSecuritySASLGate: before authentication only ApiVersions and the
// SASL keys are answered; anything else closes the connection.
func TestSecuritySASLGate(t *testing.T) {
	ca := arustest.NewCA(t, "arus test CA")
	b := securedBroker(t, ca)
	c := dial(t, b.ListenerAddr("SASL_PLAINTEXT").String())
	if _, err := c.Write(rawRequest(kmsg.NewPtrApiVersionsRequest(), 1)); err != nil {
		t.Fatal(err)
	}
	readResponse(t, c, 1)
	if _, err := c.Write(rawRequest(kmsg.NewPtrMetadataRequest(), 2)); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c)
}
