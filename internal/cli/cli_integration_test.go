package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/arustest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests run the commands against an in-process arus broker, or
// against the broker named by $ARUS_TEST_BROKER (host:port) when set. Each
// test uses its own topics, so they can share one broker.

// testBroker returns the broker address.
func testBroker(t *testing.T) string {
	t.Helper()
	if addr := os.Getenv("ARUS_TEST_BROKER"); addr != "" {
		return addr
	}
	return arustest.StartBroker(t).Addr()
}

var topicCounter atomic.Int64

// testTopic returns a topic name unique to this test and run.
func testTopic(t *testing.T, suffix string) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("%s-%s-%d-%d", name, suffix, time.Now().UnixNano(), topicCounter.Add(1))
}

// testAdmin returns an admin client for setup and checks, closed at cleanup.
func testAdmin(t *testing.T, addr string) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// mustRun runs a command and fails the test if it fails.
func mustRun(t *testing.T, cmd func() *cobra.Command, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := runCommand(t, cmd(), stdin, args...)
	if err != nil {
		t.Fatalf("%v: %v\nstderr: %s", args, err, stderr)
	}
	return stdout, stderr
}

func createTestTopic(t *testing.T, addr, topic string, partitions int) {
	t.Helper()
	mustRun(t, newTopicCommand, "", "create", topic, "-b", addr,
		"--partitions", fmt.Sprint(partitions), "--replication-factor", "1")
}

// consumeJSON consumes topic to its current end and decodes the output.
func consumeJSON(t *testing.T, addr, topic string, extra ...string) []jsonRecord {
	t.Helper()
	args := append([]string{topic, "-b", addr, "--exit-at-end", "--format", "json"}, extra...)
	out, _ := mustRun(t, newConsumeCommand, "", args...)
	var records []jsonRecord
	scanner := bufio.NewScanner(strings.NewReader(out))
	for scanner.Scan() {
		var r jsonRecord
		if err := json.Unmarshal(scanner.Bytes(), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", scanner.Text(), err)
		}
		records = append(records, r)
	}
	return records
}

func TestIntegrationTopicLifecycle(t *testing.T) {
	addr := testBroker(t)
	topic := testTopic(t, "t")

	out, _ := mustRun(t, newTopicCommand, "", "create", topic, "-b", addr,
		"--partitions", "3", "--replication-factor", "1", "--config", "retention.ms=3600000")
	if !strings.Contains(out, "created topic") {
		t.Errorf("create output %q", out)
	}
	_, _, err := runCommand(t, newTopicCommand(), "", "create", topic, "-b", addr, "-p", "1", "-r", "1")
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second create: %v", err)
	}
	// Kafka rejects names outside [a-zA-Z0-9._-]; the broker's error must
	// reach the user.
	_, _, err = runCommand(t, newTopicCommand(), "", "create", "bad name!", "-b", addr, "-p", "1", "-r", "1")
	if err == nil || !strings.Contains(err.Error(), `create topic "bad name!": INVALID_TOPIC_EXCEPTION`) {
		t.Errorf("invalid name: got error %v, want INVALID_TOPIC_EXCEPTION", err)
		if err == nil {
			_, adm := testAdmin(t, addr)
			_, _ = adm.DeleteTopics(t.Context(), "bad name!")
		}
	}

	out, _ = mustRun(t, newTopicCommand, "", "list", "-b", addr)
	found := false
	for _, line := range strings.Split(out, "\n") {
		if fields := strings.Fields(line); len(fields) == 3 && fields[0] == topic {
			found = fields[1] == "3" && fields[2] == "1"
		}
	}
	if !found {
		t.Errorf("list lacks %s with 3 partitions, RF 1:\n%s", topic, out)
	}

	mustRun(t, newProduceCommand, "a\nb\nc\n", topic, "-b", addr, "--partition", "1")
	out, _ = mustRun(t, newTopicCommand, "", "describe", topic, "-b", addr)
	for _, want := range []string{"Partitions: 3", "Replication factor: 1", "retention.ms=3600000"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "\n1  ") || !strings.Contains(out, "0          3") {
		t.Errorf("describe does not show partition 1 with offsets 0..3:\n%s", out)
	}

	out, _ = mustRun(t, newTopicCommand, "", "delete", topic, "-b", addr)
	if !strings.Contains(out, "deleted topic") {
		t.Errorf("delete output %q", out)
	}
	_, _, err = runCommand(t, newTopicCommand(), "", "describe", topic, "-b", addr)
	if err == nil || err.Error() != fmt.Sprintf("topic %q does not exist", topic) {
		t.Errorf("describe after delete: %v", err)
	}
	_, _, err = runCommand(t, newTopicCommand(), "", "delete", topic, "-b", addr)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("delete of missing topic: %v", err)
	}
}

func TestIntegrationProduceConsume(t *testing.T) {
	addr := testBroker(t)
	const partitions = 4
	topic := testTopic(t, "pc")
	createTestTopic(t, addr, topic, partitions)

	var input strings.Builder
	var want []string
	for i := range 200 {
		line := fmt.Sprintf("key%d:value %d", i%13, i)
		input.WriteString(line + "\n")
		want = append(want, line)
	}
	_, stderr := mustRun(t, newProduceCommand, input.String(), topic, "-b", addr,
		"--key-separator", ":", "--header", "src=test", "--header", "n=1", "--compression", "lz4")
	if !strings.Contains(stderr, "produced 200 records") {
		t.Errorf("produce summary %q", stderr)
	}

	records := consumeJSON(t, addr, topic)
	var got []string
	keyPartition := map[string]int32{}
	lastValue := map[string]int{} // per key, values must come in produce order
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	for _, r := range records {
		if r.Key == nil || r.Value == nil {
			t.Fatalf("record without key or value: %+v", r)
		}
		got = append(got, *r.Key+":"+*r.Value)
		if p, ok := keyPartition[*r.Key]; ok && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d", *r.Key, p, r.Partition)
		}
		keyPartition[*r.Key] = r.Partition
		// Kafka's murmur2 placement, as a Java client would choose.
		if want := int32(partitioner.Partition(&kgo.Record{Key: []byte(*r.Key)}, partitions)); want != r.Partition {
			t.Errorf("key %s in partition %d, murmur2 says %d", *r.Key, r.Partition, want)
		}
		var n int
		fmt.Sscanf(*r.Value, "value %d", &n)
		if last, ok := lastValue[*r.Key]; ok && n <= last {
			t.Errorf("key %s: value %d after %d", *r.Key, n, last)
		}
		lastValue[*r.Key] = n
		if len(r.Headers) != 2 || r.Headers[0].Key != "src" || *r.Headers[0].Value != "test" || r.Headers[1].Key != "n" {
			t.Errorf("headers %+v", r.Headers)
		}
		if r.Topic != topic {
			t.Errorf("topic %q", r.Topic)
		}
		if _, err := time.Parse(time.RFC3339Nano, r.Timestamp); err != nil {
			t.Errorf("timestamp %q: %v", r.Timestamp, err)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("consumed %d records, produced %d; they differ", len(got), len(want))
	}

	// One partition, text format, bounded by --max-messages.
	p := keyPartition["key0"]
	out, _ := mustRun(t, newConsumeCommand, "", topic, "-b", addr, "--partition", fmt.Sprint(p), "--max-messages", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], fmt.Sprintf("partition=%d offset=0 ", p)) || !strings.Contains(lines[0], "headers=src=test,n=1 value=value ") {
		t.Errorf("text output:\n%s", out)
	}

	// --partition forces the partition regardless of the key.
	topic2 := testTopic(t, "forced")
	createTestTopic(t, addr, topic2, partitions)
	mustRun(t, newProduceCommand, "a:1\nb:2\nc:3\n", topic2, "-b", addr, "--key-separator", ":", "--partition", "2", "--acks", "1")
	for _, r := range consumeJSON(t, addr, topic2) {
		if r.Partition != 2 {
			t.Errorf("record %+v not in partition 2", r)
		}
	}

	// acks=0 and an empty value.
	mustRun(t, newProduceCommand, "\n", topic2, "-b", addr, "--acks", "0")

	_, _, err := runCommand(t, newProduceCommand(), "x\n", testTopic(t, "missing"), "-b", addr)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("produce to missing topic: %v", err)
	}
	_, _, err = runCommand(t, newConsumeCommand(), "", testTopic(t, "missing"), "-b", addr, "-e")
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("consume from missing topic: %v", err)
	}
}

func TestIntegrationConsumeFrom(t *testing.T) {
	addr := testBroker(t)
	topic := testTopic(t, "from")
	createTestTopic(t, addr, topic, 1)

	// Old records an hour back and new ones now, with explicit timestamps,
	// so --from a time between them needs no waiting on the clock.
	cl, _ := testAdmin(t, addr)
	now := time.Now()
	var records []*kgo.Record
	for i := range 5 {
		records = append(records, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprint("old", i)), Timestamp: now.Add(-time.Hour)})
	}
	for i := range 3 {
		records = append(records, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprint("new", i)), Timestamp: now})
	}
	if err := cl.ProduceSync(t.Context(), records...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	values := func(rs []jsonRecord) string {
		var vs []string
		for _, r := range rs {
			vs = append(vs, *r.Value)
		}
		return strings.Join(vs, ",")
	}
	middle := now.Add(-30 * time.Minute).UTC().Format(time.RFC3339)
	if got := values(consumeJSON(t, addr, topic, "--from", middle)); got != "new0,new1,new2" {
		t.Errorf("--from %s: %s", middle, got)
	}
	if got := values(consumeJSON(t, addr, topic, "--from", "3")); got != "old3,old4,new0,new1,new2" {
		t.Errorf("--from 3: %s", got)
	}
	if got := values(consumeJSON(t, addr, topic, "--from", "end")); got != "" {
		t.Errorf("--from end: %s", got)
	}
	future := now.Add(time.Hour).UTC().Format(time.RFC3339)
	if got := values(consumeJSON(t, addr, topic, "--from", future)); got != "" {
		t.Errorf("--from %s: %s", future, got)
	}
}

func TestIntegrationConsumeGroup(t *testing.T) {
	addr := testBroker(t)
	if _, _, ok := api.VersionRange(10); !ok {
		t.Skip("consumer groups (FindCoordinator, JoinGroup) are not served yet")
	}
	topic := testTopic(t, "group")
	group := testTopic(t, "g")
	createTestTopic(t, addr, topic, 2)
	mustRun(t, newProduceCommand, "a\nb\nc\nd\n", topic, "-b", addr)

	if n := len(consumeJSON(t, addr, topic, "--group", group)); n != 4 {
		t.Fatalf("first group read: %d records, want 4", n)
	}
	_, adm := testAdmin(t, addr)
	committed, err := adm.FetchOffsetsForTopics(t.Context(), group, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, o := range committed[topic] {
		total += max(o.At, 0)
	}
	if total != 4 {
		t.Errorf("committed offsets sum to %d, want 4: %+v", total, committed)
	}
	// The group resumes after what it has read.
	mustRun(t, newProduceCommand, "e\n", topic, "-b", addr)
	if rs := consumeJSON(t, addr, topic, "--group", group); len(rs) != 1 || *rs[0].Value != "e" {
		t.Errorf("second group read: %+v", rs)
	}
}

func TestIntegrationBench(t *testing.T) {
	addr := testBroker(t)
	topic := testTopic(t, "bench")

	out, stderr := mustRun(t, newBenchCommand, "", "produce", "-b", addr, "--topic", topic,
		"--records", "1000", "--size", "64", "--partitions", "3", "--replication-factor", "1", "--json")
	var report benchReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	if report.Records != 1000 || report.Failed != 0 || report.Bytes != 64_000 || report.TimedOut ||
		report.RecordsPerSec <= 0 || report.Latency.Max <= 0 || report.Latency.P50 > report.Latency.P99 {
		t.Errorf("produce report %+v", report)
	}
	if !strings.Contains(stderr, "created topic") || !strings.Contains(stderr, "1000/1000 records") {
		t.Errorf("produce stderr %q", stderr)
	}

	out, _ = mustRun(t, newBenchCommand, "", "consume", "-b", addr, "--topic", topic, "--records", "1000", "--json")
	report = benchReport{}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	if report.Records != 1000 || report.Bytes != 64_000 || report.TimedOut {
		t.Errorf("consume report %+v", report)
	}

	// --records 0 reads what exists; the text report is printed.
	out, _ = mustRun(t, newBenchCommand, "", "consume", "-b", addr, "--topic", topic, "--records", "0")
	if !strings.Contains(out, "records:     1000 of 1000") || !strings.Contains(out, "latency:") {
		t.Errorf("consume text report:\n%s", out)
	}

	// A rate-limited run that cannot finish in time reports and fails.
	_, _, err := runCommand(t, newBenchCommand(), "", "produce", "-b", addr, "--topic", topic,
		"--records", "1000000", "--rate", "100", "--timeout", "300ms", "--json")
	if err == nil || !strings.Contains(err.Error(), "bench stopped early") {
		t.Errorf("timeout run: %v", err)
	}
}
