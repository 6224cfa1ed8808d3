//go:build integration

package crash

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

var clientPropsRE = regexp.MustCompile(`client\.properties: (\S+)`)

// printed returns the first submatch of re in the command's output.
func (d *devRun) printed(re *regexp.Regexp) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.out {
		if m := re.FindStringSubmatch(l); m != nil {
			return m[1]
		}
	}
	return ""
}

// TestDevClusterSecure runs `arus dev cluster --secure --nodes 3`: the
// printed client.properties and CLI flags log in with SCRAM-SHA-512 over
// TLS; a replicated topic takes writes; PLAINTEXT, a wrong password and a
// user without ACLs are refused; Ctrl-C stops everything.
func TestDevClusterSecure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	base := freeRun(t, 3)
	dir := t.TempDir()
	dev := startDev(t, "--secure", "--nodes", "3", "--base-port", strconv.Itoa(base), "--data-dir", dir)
	var addrs []string
	for i := 0; i < 3; i++ {
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", base+i))
	}
	var props string
	t.Cleanup(func() {
		if t.Failed() {
			dev.mu.Lock()
			defer dev.mu.Unlock()
			for _, l := range dev.out {
				if !strings.HasPrefix(l, "[node") || strings.Contains(l, "WARN") || strings.Contains(l, "ERROR") {
					t.Log(l)
				}
			}
		}
	})
	waitFor(t, 90*time.Second, "arus dev cluster --secure prints the client settings", func() bool {
		props = dev.printed(clientPropsRE)
		return props != ""
	})
	secure := filepath.Join(dir, "secure")
	if props != filepath.Join(secure, "client.properties") {
		t.Fatalf("client.properties at %s, want it under %s", props, secure)
	}
	body, err := os.ReadFile(props)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512", "ssl.truststore.location=" + filepath.Join(secure, "ca.pem")} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("client.properties lacks %q:\n%s", want, body)
		}
	}
	pw, err := os.ReadFile(filepath.Join(secure, "admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	password := strings.TrimSpace(string(pw))
	caPEM, err := os.ReadFile(filepath.Join(secure, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	tlsCfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	login := func(user, pass string, opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.DialTLSConfig(tlsCfg),
			kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()), kgo.RequestRetries(1)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	admin := login("admin", password, kgo.RequiredAcks(kgo.AllISRAcks()))
	adm := kadm.NewClient(admin)
	waitFor(t, 90*time.Second, "three brokers in metadata", func() bool {
		m, err := adm.Metadata(ctx)
		return err == nil && len(m.Brokers) == 3
	})
	if _, err := adm.CreateTopic(ctx, 3, 3, nil, "secure-dev"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := admin.ProduceSync(ctx, &kgo.Record{Topic: "secure-dev", Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("admin produce: %v", err)
		}
	}

	// The printed arus CLI settings work: --command-config, and the flags.
	out, err := exec.CommandContext(ctx, arusBin, "topic", "list", "-b", addrs[0], "--command-config", props).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "secure-dev") {
		t.Fatalf("arus topic list --command-config: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(ctx, arusBin, "consume", "secure-dev", "--exit-at-end", "-b", addrs[1], "--ca", filepath.Join(secure, "ca.pem"),
		"--sasl-mechanism", "SCRAM-SHA-512", "--user", "admin", "--password-file", filepath.Join(secure, "admin.password")).CombinedOutput()
	if err != nil || strings.Count(string(out), "value=") != 10 {
		t.Fatalf("arus consume with the printed flags: %v\n%s", err, out)
	}

	// kcat with the printed librdkafka config, when kcat is installed.
	if kcat, err := exec.LookPath("kcat"); err == nil {
		out, err := exec.CommandContext(ctx, kcat, "-b", addrs[2], "-F", filepath.Join(secure, "kcat.conf"), "-C", "-t", "secure-dev", "-o", "beginning", "-e", "-q").Output()
		if err != nil || strings.Count(string(out), "\n") != 10 {
			t.Fatalf("kcat -F kcat.conf: %v\n%s", err, out)
		}
	}

	// Refused: PLAINTEXT on the SASL_SSL port, a wrong password; a user
	// without ACLs may log in but not write (the authorizer is on).
	plain, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RequestRetries(0), kgo.DialTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	if err := plain.Ping(pctx); err == nil {
		t.Fatal("a PLAINTEXT client was served on the secure listener")
	}
	pcancel()
	if err := login("admin", "wrong").Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	if res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "bob-secret"}}); err != nil || res.Error() != nil {
		t.Fatalf("create bob: %v %v", err, res.Error())
	}
	bob := login("bob", "bob-secret", kgo.DisableIdempotentWrite())
	waitFor(t, 30*time.Second, "bob logs in and is refused the write", func() bool {
		err := bob.ProduceSync(ctx, &kgo.Record{Topic: "secure-dev", Value: []byte("x")}).FirstErr()
		return errors.Is(err, kerr.TopicAuthorizationFailed)
	})

	dev.stop(t)
	for _, a := range addrs {
		if c, err := (&tls.Dialer{Config: tlsCfg}).DialContext(ctx, "tcp", a); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Ctrl-C", a)
		}
	}
}
