package cli

import (
	"github.com/spf13/cobra"
	"strings"
	"testing"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

// securedTestBroker starts a broker with SASL_SSL (PLAIN user admin, a
// super user) and SSL with required client certificates (principal: the
// certificate's CN), authorization on. It returns the two addresses and
// the CA file.
func securedTestBroker(t *testing.T) (saslSSL, mtls, caFile string, ca *arustest.CA) {
	t.Helper()
	dir := t.TempDir()
	ca = arustest.NewCA(t, "arus cli test CA")
	ks := arustest.WriteFile(t, dir, "broker.pem", ca.Issue(t, "broker", true))
	caFile = arustest.WriteFile(t, dir, "ca.pem", ca.PEM)
	props := map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0,MTLS://127.0.0.1:0",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL",
		"sasl.enabled.mechanisms":        "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"listener.name.sasl_ssl.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`user_admin="admin-secret";`,
		"ssl.keystore.type": "PEM", "ssl.keystore.location": ks,
		"ssl.truststore.type": "PEM", "ssl.truststore.location": caFile,
		"ssl.client.auth":                           "required",
		"ssl.principal.mapping.rules":               "RULE:^CN=([^,]*).*$/$1/,DEFAULT",
		"authorizer.class.name":                     config.StandardAuthorizer,
		"super.users":                               "User:admin",
		"connection.failed.authentication.delay.ms": "10",
	}
	b := arustest.StartBroker(t, func(c *config.Broker) {
		c.Listener = ""
		if err := config.ApplyProperties(c, props); err != nil {
			t.Fatal(err)
		}
	})
	return b.ListenerAddr("SASL_SSL").String(), b.ListenerAddr("MTLS").String(), caFile, ca
}

func TestIntegrationSecurityCommands(t *testing.T) {
	saslSSL, mtls, caFile, ca := securedTestBroker(t)
	dir := t.TempDir()
	// Kafka's client properties, as kafka-topics.sh --command-config reads them.
	adminProps := arustest.WriteFile(t, dir, "admin.properties", []byte(strings.Join([]string{
		"# admin over SASL_SSL",
		"security.protocol=SASL_SSL",
		"sasl.mechanism=PLAIN",
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";`,
		"ssl.truststore.type=PEM",
		"ssl.truststore.location=" + caFile,
		"client.id=cli-test",
	}, "\n")))
	admin := []string{"-b", saslSSL, "--command-config", adminProps}
	run := func(cmd func() *cobra.Command, stdin string, args ...string) string {
		t.Helper()
		out, _ := mustRun(t, cmd, stdin, args...)
		return out
	}

	topic := testTopic(t, "sec")
	run(newTopicCommand, "", append([]string{"create", topic, "--partitions", "1", "--replication-factor", "1"}, admin...)...)

	// SCRAM users: the password from the environment, never an argument.
	t.Setenv(newPasswordEnv, "bob-secret")
	run(newUserCommand, "", append([]string{"scram", "set", "bob", "--mechanism", "SCRAM-SHA-512", "--iterations", "4096"}, admin...)...)
	if out := run(newUserCommand, "", append([]string{"scram", "list"}, admin...)...); !strings.Contains(out, "bob") || !strings.Contains(out, "SCRAM-SHA-512") || !strings.Contains(out, "4096") {
		t.Fatalf("user scram list:\n%s", out)
	}

	// ACLs for bob (SASL) and dave (certificate).
	run(newACLCommand, "", append([]string{"create", "--principal", "User:bob", "--topic", topic, "--operation", "write,read,describe"}, admin...)...)
	run(newACLCommand, "", append([]string{"create", "--principal", "User:dave", "--topic", topic[:8], "--resource-pattern-type", "prefixed", "--operation", "read,describe"}, admin...)...)
	out := run(newACLCommand, "", append([]string{"list", "--principal", "User:bob"}, admin...)...)
	if strings.Count(out, "User:bob") != 3 || !strings.Contains(out, "write") || strings.Contains(out, "User:dave") {
		t.Fatalf("acl list --principal User:bob:\n%s", out)
	}
	if out := run(newACLCommand, "", append([]string{"list"}, admin...)...); !strings.Contains(out, "prefixed") || strings.Count(out, "User:") != 5 {
		t.Fatalf("acl list:\n%s", out)
	}

	// bob produces with the short flags and a password file.
	pw := arustest.WriteFile(t, dir, "bob.pw", []byte("bob-secret\n"))
	bob := []string{"-b", saslSSL, "--ca", caFile, "--sasl-mechanism", "SCRAM-SHA-512", "--user", "bob", "--password-file", pw}
	run(newProduceCommand, "one\ntwo\n", append([]string{topic}, bob...)...)
	// A wrong password fails.
	badPW := arustest.WriteFile(t, dir, "bad.pw", []byte("nope"))
	if _, _, err := runCommand(t, newProduceCommand(), "x\n", topic, "-b", saslSSL, "--ca", caFile, "--sasl-mechanism", "SCRAM-SHA-512",
		"--user", "bob", "--password-file", badPW); err == nil || !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") {
		t.Fatalf("wrong password: %v", err)
	}

	// dave consumes over SSL with his certificate (key in the same file).
	dave := arustest.WriteFile(t, dir, "dave.pem", ca.Issue(t, "dave", false))
	out = run(newConsumeCommand, "", topic, "-b", mtls, "--ca", caFile, "--cert", dave, "--exit-at-end")
	if !strings.Contains(out, "value=one\n") || !strings.Contains(out, "value=two\n") || strings.Count(out, "\n") != 2 {
		t.Fatalf("dave consumed %q", out)
	}
	// The same through a properties file with a keystore.
	daveProps := arustest.WriteFile(t, dir, "dave.properties", []byte("security.protocol=SSL\nssl.truststore.location="+caFile+
		"\nssl.keystore.type=PEM\nssl.keystore.location="+dave+"\n"))
	if out := run(newConsumeCommand, "", topic, "-b", mtls, "--command-config", daveProps, "--exit-at-end"); strings.Count(out, "value=") != 2 {
		t.Fatalf("dave (properties) consumed %q", out)
	}

	// Quotas.
	run(newQuotaCommand, "", append([]string{"set", "--quota-user", "bob", "producer_byte_rate=1048576", "consumer_byte_rate=2097152"}, admin...)...)
	run(newQuotaCommand, "", append([]string{"set", "--default-user", "--client-id", "batch", "producer_byte_rate=4096"}, admin...)...)
	out = run(newQuotaCommand, "", append([]string{"describe"}, admin...)...)
	for _, want := range []string{"user=bob", "producer_byte_rate", "1048576", "2097152", "user=<default>, client-id=batch", "4096"} {
		if !strings.Contains(out, want) {
			t.Fatalf("quota describe lacks %q:\n%s", want, out)
		}
	}
	run(newQuotaCommand, "", append([]string{"set", "--quota-user", "bob", "--delete", "consumer_byte_rate"}, admin...)...)
	if out := run(newQuotaCommand, "", append([]string{"describe", "--quota-user", "bob"}, admin...)...); strings.Contains(out, "consumer_byte_rate") || !strings.Contains(out, "1048576") {
		t.Fatalf("quota describe --quota-user bob after delete:\n%s", out)
	}
	if _, _, err := runCommand(t, newQuotaCommand(), "", append([]string{"set", "--quota-user", "bob", "no_such_quota=1"}, admin...)...); err == nil {
		t.Fatal("an unknown quota key was accepted")
	}

	// Deleting bob's ACLs takes his access away; deleting his credential
	// his login.
	out = run(newACLCommand, "", append([]string{"delete", "--principal", "User:bob", "--topic", topic}, admin...)...)
	if strings.Count(out, "User:bob") != 3 {
		t.Fatalf("acl delete:\n%s", out)
	}
	if _, _, err := runCommand(t, newProduceCommand(), "x\n", append([]string{topic}, bob...)...); err == nil {
		t.Fatal("bob produced without ACLs")
	}
	run(newUserCommand, "", append([]string{"scram", "delete", "bob", "--mechanism", "SCRAM-SHA-512"}, admin...)...)
	if out := run(newUserCommand, "", append([]string{"scram", "list"}, admin...)...); strings.Contains(out, "bob") {
		t.Fatalf("bob still listed:\n%s", out)
	}
	// A command without credentials on the SASL_SSL listener fails.
	if _, _, err := runCommand(t, newTopicCommand(), "", "list", "-b", saslSSL, "--ca", caFile); err == nil {
		t.Fatal("topic list without SASL credentials succeeded on a SASL_SSL listener")
	}
}

func TestSecurityFromProperties(t *testing.T) {
	dir := t.TempDir()
	p := arustest.WriteFile(t, dir, "c.properties", []byte(`security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-256
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="a b";
ssl.truststore.type=PEM
ssl.truststore.location=/ca.pem
ssl.endpoint.identification.algorithm=
`))
	s, err := securityFromProperties(p)
	if err != nil {
		t.Fatal(err)
	}
	want := clientSecurity{protocol: "SASL_SSL", mechanism: "SCRAM-SHA-256", user: "alice", password: "a b", caFile: "/ca.pem", noHostnameCheck: true}
	if s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	jks := arustest.WriteFile(t, dir, "jks.properties", []byte("ssl.truststore.type=JKS\n"))
	if _, err := securityFromProperties(jks); err == nil || !strings.Contains(err.Error(), "PEM") {
		t.Fatalf("JKS truststore: %v", err)
	}
}

// TestServeOverride: --override sets server.properties keys; a SASL_SSL
// listener without a keystore is refused at validation, before anything
// listens.
func TestServeOverride(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runCommand(t, newServeCommand(), "", "--data-dir", dir, "--http-listener", "off",
		"--override", "listeners=SASL_SSL://127.0.0.1:0", "--override", "sasl.enabled.mechanisms=SCRAM-SHA-512")
	if err == nil || !strings.Contains(err.Error(), "ssl.keystore.location") {
		t.Fatalf("SASL_SSL listener without a keystore: %v", err)
	}
	if _, _, err := runCommand(t, newServeCommand(), "", "--data-dir", dir, "--override", "no-equals-sign"); err == nil {
		t.Fatal("--override without = accepted")
	}
	if _, _, err := runCommand(t, newServeCommand(), "", "--data-dir", dir, "--override", "authorizer.class.name=kafka.security.authorizer.AclAuthorizer"); err == nil {
		t.Fatal("unsupported authorizer accepted")
	}
}
