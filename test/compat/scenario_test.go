//go:build integration

package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
)

// groupPartitions is the partition count of the consumer-group scenarios'
// topics: enough for two members to get two each.
const groupPartitions = 4

// scenarioTimeout bounds one scenario script. The scripts stop themselves
// after 90 s; this is the backstop.
const scenarioTimeout = 2 * time.Minute

// startGroupBroker starts a broker whose auto-created topics have
// groupPartitions partitions.
func startGroupBroker(t *testing.T, opts ...arustest.Option) string {
	t.Helper()
	opts = append([]arustest.Option{arustest.WithNumPartitions(groupPartitions)}, opts...)
	return arustest.StartBroker(t, opts...).Addr()
}

// adminClient returns a franz-go admin client for addr, closed at cleanup.
func adminClient(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatalf("franz-go client: %v", err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// createTopic creates topic with groupPartitions partitions.
func createTopic(t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, groupPartitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// checkCommittedAtEnd reads the group's committed offsets with franz-go
// (OffsetFetch) and wants each partition of topic committed at its log end
// offset: the clients read everything and committed it.
func checkCommittedAtEnd(t *testing.T, adm *kadm.Client, group, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		t.Fatalf("fetch offsets of group %s: %v", group, err)
	}
	for p := range int32(groupPartitions) {
		end, _ := ends.Lookup(topic, p)
		c, ok := committed.Lookup(topic, p)
		switch {
		case !ok:
			t.Errorf("group %s: no committed offset for %s/%d (log end offset %d)", group, topic, p, end.Offset)
		case c.At != end.Offset:
			t.Errorf("group %s: committed offset of %s/%d is %d, log end offset %d", group, topic, p, c.At, end.Offset)
		}
	}
}

// runScenario runs a scenario script (bin args...) in dir and fails the
// test if it exits non-zero, runs past scenarioTimeout or, when
// librdkafka is true, logs a librdkafka protocol error (protocolErrors).
// The script's stderr is its progress log; it is shown on failure and
// with -v.
func runScenario(t *testing.T, dir string, librdkafka bool, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	var stdout, plainStderr syncBuffer
	cmd.Stdout = &stdout
	watched := &watchWriter{cancel: cancel}
	cmd.Stderr = &plainStderr
	if librdkafka {
		cmd.Stderr = watched
	}
	start := time.Now()
	err := cmd.Run()
	errText, hit := watched.result()
	if !librdkafka {
		errText = plainStderr.String()
	}
	show := strings.Join(append([]string{bin}, args...), " ")
	took := time.Since(start).Round(time.Millisecond)
	if dir := os.Getenv("ARUS_COMPAT_LOGDIR"); dir != "" {
		// The whole log; the failure message shows only its tail.
		name := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".stderr")
		if err := os.WriteFile(name, []byte(errText), 0o644); err != nil {
			t.Logf("ARUS_COMPAT_LOGDIR: %v", err)
		}
	}
	switch {
	case hit != "":
		t.Fatalf("%s: librdkafka reported a protocol error (%q) after %s; this is a broker bug\nstderr:\n%s\nstdout:\n%s",
			show, hit, took, tail(errText), tail(stdout.String()))
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		t.Fatalf("%s: still running after %s, killed\nstderr:\n%s\nstdout:\n%s", show, scenarioTimeout, tail(errText), tail(stdout.String()))
	case err != nil:
		t.Fatalf("%s: %v after %s\nstderr:\n%s\nstdout:\n%s", show, err, took, tail(errText), tail(stdout.String()))
	}
	t.Logf("%s: %s in %s\n%s", show, strings.TrimSpace(stdout.String()), took, errText)
	return stdout.String()
}

// syncBuffer is a bytes.Buffer that may be read while a process writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// requireOK checks that a scenario printed its success line.
func requireOK(t *testing.T, out, scenario string) {
	t.Helper()
	if !slices.Contains(lines(out), "OK "+scenario) {
		t.Fatalf("scenario %s exited 0 without printing %q; stdout:\n%s", scenario, "OK "+scenario, out)
	}
}

// pythonModules returns /usr/bin/python3 (Debian's, where python3-* packages
// install; a pyenv python3 earlier on PATH would not see them) or skips the
// test if it or one of the modules is missing.
func pythonModules(t *testing.T, pkg string, modules ...string) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found; install %s with `apt-get install -y %s` (CI does) to run this scenario", python, pkg, pkg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	script := "import " + strings.Join(modules, ", ")
	if out, err := exec.CommandContext(ctx, python, "-c", script).CombinedOutput(); err != nil {
		t.Skipf("%s -c %q failed (%v: %s); install %s with `apt-get install -y %s` (CI does) to run this scenario",
			python, script, err, strings.TrimSpace(string(out)), pkg, pkg)
	}
	return python
}

// scenarioName is the topic and group name stem of one scenario run.
func scenarioName(client, scenario string) string {
	return fmt.Sprintf("%s-%s", client, scenario)
}
