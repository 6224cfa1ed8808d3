//go:build integration

package compat

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

// pySecureEnv is a broker with PLAINTEXT (the operator, a super user),
// SSL (client certificate required), SASL_PLAINTEXT and SASL_SSL
// listeners; user "client" has PLAIN and both SCRAM credentials and ACLs
// on every topic and group.
type pySecureEnv struct {
	broker                    *arustest.Broker
	dir                       string
	ca                        string
	cert, key                 string // CN=client from the CA
	strangerCert, strangerKey string // CN=client from another CA
	adm                       *kadm.Client
}

func startPySecureEnv(t *testing.T, extra map[string]string) *pySecureEnv {
	t.Helper()
	dir := t.TempDir()
	ca := arustest.NewCA(t, "arus python CA")
	env := &pySecureEnv{dir: dir, ca: arustest.WriteFile(t, dir, "ca.pem", ca.PEM)}
	env.key, env.cert = splitPEM(t, dir, "client", ca.Issue(t, "client", false))
	env.strangerKey, env.strangerCert = splitPEM(t, dir, "stranger", arustest.NewCA(t, "another CA").Issue(t, "client", false))
	jaas := `org.apache.kafka.common.security.plain.PlainLoginModule required user_client="client-secret";`
	props := map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
		"sasl.enabled.mechanisms":        "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
		"listener.name.sasl_ssl.plain.sasl.jaas.config":       jaas,
		"ssl.keystore.type": "PEM", "ssl.keystore.location": arustest.WriteFile(t, dir, "broker.pem", ca.Issue(t, "broker", true)),
		"ssl.truststore.type": "PEM", "ssl.truststore.location": env.ca,
		"ssl.client.auth":                           "required",
		"ssl.principal.mapping.rules":               "RULE:^CN=([^,]*).*$/$1/,DEFAULT",
		"authorizer.class.name":                     config.StandardAuthorizer,
		"super.users":                               "User:ANONYMOUS",
		"allow.everyone.if.no.acl.found":            "false",
		"connection.failed.authentication.delay.ms": "10",
	}
	for k, v := range extra {
		props[k] = v
	}
	env.broker = arustest.StartBroker(t, func(c *config.Broker) {
		c.Listener = ""
		if err := config.ApplyProperties(c, props); err != nil {
			t.Fatal(err)
		}
	})
	env.adm = adminClient(t, env.broker.ListenerAddr("PLAINTEXT").String())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if res, err := env.adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "client", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "client-secret"},
		{User: "client", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "client-secret"},
	}); err != nil || res.Error() != nil {
		t.Fatalf("create SCRAM user: %v %v", err, res.Error())
	}
	for _, a := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:client").Topics("*").Operations(kadm.OpAll).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Allow("User:client").Groups("*").Operations(kadm.OpAll).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Allow("User:client").Clusters().Operations(kadm.OpIdempotentWrite),
	} {
		if res, err := env.adm.CreateACLs(ctx, a); err != nil || res[0].Err != nil {
			t.Fatalf("create ACLs: %v %+v", err, res)
		}
	}
	return env
}

// pyConn is the CONFIG_JSON of secure_clients.py.
type pyConn struct {
	Bootstrap  string `json:"bootstrap"`
	Protocol   string `json:"protocol"`
	Mechanism  string `json:"mechanism"`
	User       string `json:"user"`
	Password   string `json:"password"`
	CA         string `json:"ca"`
	Cert       string `json:"cert,omitempty"`
	Key        string `json:"key,omitempty"`
	Topic      string `json:"topic"`
	Group      string `json:"group"`
	LifetimeMs int64  `json:"lifetime_ms,omitempty"`
}

func (e *pySecureEnv) conn(protocol, mechanism string) pyConn {
	c := pyConn{Bootstrap: e.broker.ListenerAddr(protocol).String(), Protocol: protocol, Mechanism: mechanism,
		User: "client", Password: "client-secret", CA: e.ca}
	if protocol == "SSL" {
		c.Cert, c.Key = e.cert, e.key
	}
	return c
}

type pyClient struct {
	name, pkg, module string
	librdkafka        bool
}

var pyClients = []pyClient{
	{"confluent", "python3-confluent-kafka", "confluent_kafka", true},
	{"kafka-python", "python3-kafka", "kafka", false},
}

var pySecureModes = []struct{ protocol, mechanism string }{
	{"SSL", ""},
	{"SASL_PLAINTEXT", "PLAIN"}, {"SASL_PLAINTEXT", "SCRAM-SHA-256"}, {"SASL_PLAINTEXT", "SCRAM-SHA-512"},
	{"SASL_SSL", "PLAIN"}, {"SASL_SSL", "SCRAM-SHA-256"}, {"SASL_SSL", "SCRAM-SHA-512"},
}

func runSecureScript(t *testing.T, python string, client pyClient, scenario string, c pyConn) string {
	t.Helper()
	cfg, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	// The refused logins are librdkafka errors on purpose: not watched.
	watch := client.librdkafka && scenario == "roundtrip"
	out := runScenario(t, "python", watch, python, "secure_clients.py", client.name, scenario, string(cfg))
	requireOK(t, out, scenario)
	return out
}

// reported returns the text after prefix on the script's output line.
func reported(t *testing.T, out, prefix string) string {
	t.Helper()
	for _, l := range lines(out) {
		if r, ok := strings.CutPrefix(l, prefix+" "); ok {
			return r
		}
	}
	t.Fatalf("no %s line in:\n%s", prefix, out)
	return ""
}

// TestPythonSecurity: confluent-kafka-python and kafka-python produce,
// consume in a group and commit over SSL, SASL_PLAINTEXT and SASL_SSL with
// PLAIN and both SCRAMs; a wrong password, an unknown user and a client
// certificate from another CA are refused with each client's error,
// while a logged-in franz-go client keeps producing.
func TestPythonSecurity(t *testing.T) {
	if testing.Short() {
		t.Skip("runs many Python clients")
	}
	env := startPySecureEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	steadyConn := env.conn("SASL_SSL", "SCRAM-SHA-512")
	steady := steadyFranz(t, env, steadyConn)
	createTopic(t, env.adm, "steady")
	produced := 0
	keepsWorking := func(t *testing.T) {
		t.Helper()
		if err := steady.ProduceSync(ctx, &kgo.Record{Topic: "steady", Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatalf("the logged-in franz-go client failed: %v", err)
		}
		produced++
	}
	for _, client := range pyClients {
		t.Run(client.name, func(t *testing.T) {
			python := pythonModules(t, client.pkg, client.module)
			for _, m := range pySecureModes {
				name := m.protocol
				if m.mechanism != "" {
					name += "-" + m.mechanism
				}
				t.Run("roundtrip/"+name, func(t *testing.T) {
					c := env.conn(m.protocol, m.mechanism)
					c.Topic, c.Group = fmt.Sprintf("py-%s-%s", client.name, name), fmt.Sprintf("py-%s-%s-g", client.name, name)
					createTopic(t, env.adm, c.Topic)
					runSecureScript(t, python, client, "roundtrip", c)
					checkCommittedWritten(t, env.adm, c.Group, c.Topic, 5)
				})
			}
			refusals := []struct {
				name string
				conn func() pyConn
				// want is the error each client reports. kafka-python 2.0
				// authenticates with the v0 handshake and unframed tokens,
				// where a broker answers a failed login by closing the
				// connection (as Kafka does); librdkafka uses
				// SaslAuthenticate and reports its error.
				want map[string]string
			}{
				{"wrong-password", func() pyConn {
					c := env.conn("SASL_SSL", "SCRAM-SHA-512")
					c.Password = "wrong"
					return c
				}, saslRefusal},
				{"unknown-user-plain", func() pyConn {
					c := env.conn("SASL_PLAINTEXT", "PLAIN")
					c.User = "nobody"
					return c
				}, saslRefusal},
				{"unknown-user-scram", func() pyConn {
					c := env.conn("SASL_SSL", "SCRAM-SHA-256")
					c.User = "nobody"
					return c
				}, saslRefusal},
				{"certificate-from-another-CA", func() pyConn {
					c := env.conn("SSL", "")
					c.Cert, c.Key = env.strangerCert, env.strangerKey
					return c
				}, map[string]string{"confluent": "alert unknown ca", "kafka-python": "TLSV1_ALERT_UNKNOWN_CA"}},
			}
			for _, r := range refusals {
				t.Run("refused/"+r.name, func(t *testing.T) {
					c := r.conn()
					c.Topic, c.Group = "steady", "unused"
					got := reported(t, runSecureScript(t, python, client, "refused", c), "REFUSED")
					t.Logf("%s reports: %s", client.name, got)
					if want := r.want[client.name]; !strings.Contains(got, want) {
						t.Fatalf("%s reported %q, want %q in it", client.name, got, want)
					}
					keepsWorking(t)
				})
			}
		})
	}
	if got := endOffset(t, env.adm, "steady"); got != int64(produced) {
		t.Fatalf("steady holds %d records, produced %d", got, produced)
	}
}

// TestPythonSessionExpiry: with connections.max.reauth.ms, neither Python
// client re-authenticates (librdkafka 2.0 predates its KIP-368 support,
// kafka-python has none), so the broker closes each one's connection at
// its first request after the lifetime; both reconnect and deliver, and a
// franz-go client on the same broker re-authenticates and keeps working.
func TestPythonSessionExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for sessions to expire")
	}
	const lifetime = 2000
	env := startPySecureEnv(t, map[string]string{"connections.max.reauth.ms": fmt.Sprint(lifetime)})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createTopic(t, env.adm, "expiry")
	steady := steadyFranz(t, env, env.conn("SASL_SSL", "SCRAM-SHA-512"))
	if err := steady.ProduceSync(ctx, &kgo.Record{Topic: "expiry", Value: []byte("franz-before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, client := range pyClients {
		t.Run(client.name, func(t *testing.T) {
			python := pythonModules(t, client.pkg, client.module)
			c := env.conn("SASL_SSL", "SCRAM-SHA-512")
			c.Topic, c.Group, c.LifetimeMs = "expiry", "unused", lifetime
			got := reported(t, runSecureScript(t, python, client, "expiry", c), "CLOSED")
			t.Logf("%s reports: %s", client.name, got)
			if err := steady.ProduceSync(ctx, &kgo.Record{Topic: "expiry", Value: []byte("franz")}).FirstErr(); err != nil {
				t.Fatalf("franz-go after the session lifetime: %v", err)
			}
		})
	}
}

func steadyFranz(t *testing.T, env *pySecureEnv, c pyConn) *kgo.Client {
	t.Helper()
	pem, err := os.ReadFile(c.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap), kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}),
		kgo.SASL(scram.Auth{User: c.User, Pass: c.Password}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

var saslRefusal = map[string]string{
	"confluent":    "_AUTHENTICATION: sasl_", // "SASL authentication error: Authentication failed ..."
	"kafka-python": "KafkaConnectionError",
}

func endOffset(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}

// checkCommittedWritten: group committed the end offset of every
// partition of topic that holds records (librdkafka commits nothing for a
// partition it read nothing from), and the topic holds n records.
func checkCommittedWritten(t *testing.T, adm *kadm.Client, group, topic string, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) {
		sum += o.Offset
		if o.Offset == 0 {
			return
		}
		if c, ok := committed.Lookup(topic, o.Partition); !ok || c.At != o.Offset {
			t.Errorf("group %s committed %s[%d] at %d, end offset %d", group, topic, o.Partition, c.At, o.Offset)
		}
	})
	if sum != n {
		t.Errorf("%s holds %d records, want %d", topic, sum, n)
	}
}
