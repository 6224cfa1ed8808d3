package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
)

// TestDevSecureNodeConfig: the node properties `arus dev cluster --secure`
// writes start a broker with a SASL_SSL client listener and the
// authorizer; createAdmin gives admin SCRAM credentials; the written
// client.properties then works with --command-config, the printed flags
// work, and a second prepare reuses the CA and the password.
func TestDevSecureNodeConfig(t *testing.T) {
	dataDir := t.TempDir()
	sec, err := prepareDevSecurity(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	caBefore, _ := os.ReadFile(sec.caFile)
	path, err := sec.writeNodeConfig(1, "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	props, err := config.LoadProperties(path)
	if err != nil {
		t.Fatal(err)
	}
	b := arustest.StartBroker(t, func(c *config.Broker) {
		c.Listener = ""
		if err := config.ApplyProperties(c, props); err != nil {
			t.Fatal(err)
		}
	})
	addr := b.ListenerAddr(devClientListener).String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sec.createAdmin(ctx, io.Discard, []string{addr}); err != nil {
		t.Fatal(err)
	}

	topic := testTopic(t, "devsec")
	mustRun(t, newTopicCommand, "", "create", topic, "--partitions", "1", "--replication-factor", "1", "-b", addr, "--command-config", sec.clientProps)
	flags := []string{"-b", addr, "--ca", sec.caFile, "--sasl-mechanism", "SCRAM-SHA-512", "--user", devAdminUser, "--password-file", sec.passwordFile}
	mustRun(t, newProduceCommand, "secured\n", append([]string{topic}, flags...)...)
	if out, _ := mustRun(t, newConsumeCommand, "", append([]string{topic, "--exit-at-end"}, flags...)...); !strings.Contains(out, "value=secured") {
		t.Fatalf("consume with the printed flags:\n%s", out)
	}
	// No credentials: refused (the listener is SASL_SSL only).
	if _, _, err := runCommand(t, newTopicCommand(), "", "list", "-b", addr, "--ca", sec.caFile); err == nil {
		t.Fatal("topic list without SASL succeeded on the secure listener")
	}

	var printed strings.Builder
	sec.printSettings(&printed, addr)
	for _, want := range []string{sec.clientProps, sec.passwordFile, sec.caFile, "--command-config", "SCRAM-SHA-512"} {
		if !strings.Contains(printed.String(), want) {
			t.Fatalf("printed settings lack %q:\n%s", want, printed.String())
		}
	}

	again, err := prepareDevSecurity(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	caAfter, _ := os.ReadFile(again.caFile)
	if again.password != sec.password || string(caAfter) != string(caBefore) {
		t.Fatal("a second --secure run generated a new CA or password")
	}
	if st, err := os.Stat(filepath.Join(dataDir, devSecureDir, "ca-key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key: %v %v", st, err)
	}
}
