//go:build integration

package compat

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kafkajsDir is the Node project with the KafkaJS scenarios (group.js).
const kafkajsDir = "kafkajs"

// kafkajsRecords is N for group.js: records per scenario.
const kafkajsRecords = "40"

// npmInstallTimeout bounds `npm ci` (one small package from the registry).
const npmInstallTimeout = 5 * time.Minute

// kafkajsReady returns node's path after making sure kafkajs/node_modules
// holds the KafkaJS version pinned in package.json, running `npm ci` when
// it does not. It skips the test when node or npm is missing.
func kafkajsReady(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found on PATH; install Node.js and npm (CI has them) to run the KafkaJS scenarios")
	}
	want := jsonField(t, filepath.Join(kafkajsDir, "package.json"), "dependencies", "kafkajs")
	if got, _ := readJSONField(filepath.Join(kafkajsDir, "node_modules", "kafkajs", "package.json"), "version"); got == want {
		return node
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm not found on PATH; install npm (CI has it) to run the KafkaJS scenarios")
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmInstallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = kafkajsDir
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in test/compat/%s: %v after %s (it needs the npm registry)\n%s",
			kafkajsDir, err, time.Since(start).Round(time.Millisecond), tail(string(out)))
	}
	if got, err := readJSONField(filepath.Join(kafkajsDir, "node_modules", "kafkajs", "package.json"), "version"); got != want {
		t.Fatalf("after npm ci, node_modules has kafkajs %q (%v), package.json pins %q", got, err, want)
	}
	t.Logf("npm ci: kafkajs %s installed in %s", want, time.Since(start).Round(time.Millisecond))
	return node
}

func readJSONField(path string, keys ...string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", err
	}
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s, nil
}

func jsonField(t *testing.T, path string, keys ...string) string {
	t.Helper()
	s, err := readJSONField(path, keys...)
	if err != nil || s == "" {
		t.Fatalf("%s: no %s (%v)", path, strings.Join(keys, "."), err)
	}
	return s
}

// TestKafkaJSGroup runs `node group.js ADDR TOPIC N SCENARIO`: KafkaJS
// consumers in a group with consumer.run({eachMessage}), commitOffsets,
// and resume after restart (see group.js). KafkaJS only uses
// non-flexible API versions.
func TestKafkaJSGroup(t *testing.T) {
	t.Parallel()
	node := kafkajsReady(t)
	addr := startGroupBroker(t)
	adm := adminClient(t, addr)
	for _, sc := range []string{"resume", "split"} {
		t.Run(sc, func(t *testing.T) {
			topic := scenarioName("kafkajs", sc)
			createTopic(t, adm, topic)
			out := runScenario(t, kafkajsDir, false, node, "group.js", addr, topic, kafkajsRecords, sc)
			requireOK(t, out, sc)
			checkCommittedAtEnd(t, adm, topic+"-group", topic)
		})
	}
}
