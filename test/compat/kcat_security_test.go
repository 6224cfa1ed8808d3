//go:build integration

package compat

import (
	"context"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

// splitPEM writes a PEM keystore's key and certificate to separate files,
// as librdkafka's ssl.key.location and ssl.certificate.location take them.
func splitPEM(t *testing.T, dir, name string, body []byte) (keyFile, certFile string) {
	t.Helper()
	var key, cert []byte
	for rest := body; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			cert = append(cert, pem.EncodeToMemory(b)...)
		} else {
			key = append(key, pem.EncodeToMemory(b)...)
		}
	}
	return arustest.WriteFile(t, dir, name+".key", key), arustest.WriteFile(t, dir, name+".crt", cert)
}

// TestKcatSecurity: kcat (librdkafka) produces and consumes over SASL_SSL
// with SCRAM-SHA-512 and over SSL with a client certificate; a wrong
// password and a missing certificate are refused.
func TestKcatSecurity(t *testing.T) {
	kcatBin(t)
	if testing.Short() {
		t.Skip("waits for refused logins to time out")
	}
	dir := t.TempDir()
	ca := arustest.NewCA(t, "arus kcat CA")
	ks := arustest.WriteFile(t, dir, "broker.pem", ca.Issue(t, "broker", true))
	caFile := arustest.WriteFile(t, dir, "ca.pem", ca.PEM)
	props := map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0,MTLS://127.0.0.1:0",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL",
		"sasl.enabled.mechanisms":        "SCRAM-SHA-256,SCRAM-SHA-512",
		"ssl.keystore.type":              "PEM", "ssl.keystore.location": ks,
		"ssl.truststore.type": "PEM", "ssl.truststore.location": caFile,
		"ssl.client.auth": "required",
		"connection.failed.authentication.delay.ms": "10",
	}
	b := arustest.StartBroker(t, func(c *config.Broker) {
		c.Listener = ""
		if err := config.ApplyProperties(c, props); err != nil {
			t.Fatal(err)
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	if res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "bob-secret"}}); err != nil || res.Error() != nil {
		t.Fatalf("create SCRAM user: %v %v", err, res.Error())
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "secure"); err != nil {
		t.Fatal(err)
	}

	saslSSL := b.ListenerAddr("SASL_SSL").String()
	scram := func(password string) []string {
		return []string{"-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=bob",
			"-X", "sasl.password=" + password, "-X", "ssl.ca.location=" + caFile}
	}
	kcat(t, saslSSL, "s1\ns2\n", append([]string{"-P", "-t", "secure"}, scram("bob-secret")...)...)
	out := kcat(t, saslSSL, "", append([]string{"-C", "-t", "secure", "-o", "beginning", "-e", "-f", `%s\n`}, scram("bob-secret")...)...)
	if out != "s1\ns2\n" {
		t.Fatalf("SASL_SSL consume: %q", out)
	}
	if _, err := kcatErr(t, saslSSL, "", append([]string{"-L", "-m", "5"}, scram("wrong")...)...); err == nil {
		t.Fatal("kcat with a wrong password listed metadata")
	}

	mtls := b.ListenerAddr("MTLS").String()
	key, cert := splitPEM(t, dir, "dave", ca.Issue(t, "dave", false))
	tlsArgs := []string{"-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + caFile, "-X", "ssl.certificate.location=" + cert, "-X", "ssl.key.location=" + key}
	kcat(t, mtls, "m1\n", append([]string{"-P", "-t", "secure"}, tlsArgs...)...)
	out = kcat(t, mtls, "", append([]string{"-C", "-t", "secure", "-o", "beginning", "-e", "-f", `%s\n`}, tlsArgs...)...)
	if out != "s1\ns2\nm1\n" {
		t.Fatalf("SSL consume: %q", out)
	}
	if out, err := kcatErr(t, mtls, "", "-L", "-m", "5", "-X", "security.protocol=SSL", "-X", "ssl.ca.location="+caFile); err == nil && strings.Contains(out, "secure") {
		t.Fatalf("kcat without a client certificate listed metadata:\n%s", out)
	}
}
