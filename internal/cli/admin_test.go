package cli

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestConfigTargetCheck(t *testing.T) {
	for _, tc := range []struct {
		target configTarget
		ok     bool
	}{
		{configTarget{topic: "t", broker: -1}, true},
		{configTarget{broker: 2}, true},
		{configTarget{broker: -1, clusterDefault: true}, true},
		{configTarget{broker: -1}, false},
		{configTarget{topic: "t", broker: 1}, false},
		{configTarget{topic: "t", broker: -1, clusterDefault: true}, false},
	} {
		if err := tc.target.check(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.target, err)
		}
	}
}

// lineFields returns the whitespace-separated fields of the first output
// line starting with prefix.
func lineFields(t *testing.T, out, prefix string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.Fields(line)
		}
	}
	t.Fatalf("no line starting with %q in:\n%s", prefix, out)
	return nil
}

func TestIntegrationAdminCommands(t *testing.T) {
	addr := testBroker(t)
	topic := testTopic(t, "adm")
	createTestTopic(t, addr, topic, 2)
	_, adm := testAdmin(t, addr)
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(p int32, n int) {
		t.Helper()
		for i := range n {
			if err := prod.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "r%d", i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 6)
	produce(1, 4)
	starts := func() map[int32]int64 {
		t.Helper()
		listed, err := adm.ListStartOffsets(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32]int64{}
		listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
		return out
	}

	t.Run("topic delete-records", func(t *testing.T) {
		out, _ := mustRun(t, newTopicCommand, "", "delete-records", topic, "-b", addr, "--partition", "0", "--before", "2")
		if f := lineFields(t, out, topic); f[1] != "0" || f[2] != "2" {
			t.Fatalf("output:\n%s", out)
		}
		if s := starts(); s[0] != 2 || s[1] != 0 {
			t.Fatalf("start offsets %v after deleting partition 0 below 2", s)
		}
		mustRun(t, newTopicCommand, "", "delete-records", topic, "-b", addr, "--before", "-1")
		if s := starts(); s[0] != 6 || s[1] != 4 {
			t.Fatalf("start offsets %v after deleting everything", s)
		}
		_, stderr, err := runCommand(t, newTopicCommand(), "", "delete-records", topic, "-b", addr, "--partition", "1", "--before", "99")
		if err == nil || !strings.Contains(stderr, "above the high watermark") {
			t.Fatalf("above the high watermark: %v\n%s", err, stderr)
		}
		if _, _, err := runCommand(t, newTopicCommand(), "", "delete-records", topic, "-b", addr); err == nil || !strings.Contains(err.Error(), "--before") {
			t.Fatalf("without --before: %v", err)
		}
	})

	t.Run("logdirs", func(t *testing.T) {
		out, _ := mustRun(t, newLogDirsCommand, "", "-b", addr, "--topic", topic)
		if !strings.Contains(out, "free of") {
			t.Errorf("no volume space:\n%s", out)
		}
		parts := regexp.MustCompile(`(?m)\s`+regexp.QuoteMeta(topic)+`\s+(\d)\s+\d+(\.\d)? [KMG]?i?B\s+0$`).FindAllStringSubmatch(out, -1)
		if len(parts) != 2 {
			t.Fatalf("want both partitions with size and lag 0:\n%s", out)
		}
	})

	t.Run("config set and describe", func(t *testing.T) {
		mustRun(t, newConfigCommand, "", "set", "-b", addr, "--topic", topic, "retention.ms=1234567", "segment.ms=7654321")
		out, _ := mustRun(t, newConfigCommand, "", "describe", "-b", addr, "--topic", topic)
		if f := lineFields(t, out, "retention.ms"); f[1] != "1234567" || f[2] != "DYNAMIC_TOPIC_CONFIG" {
			t.Fatalf("describe:\n%s", out)
		}
		if strings.Contains(out, "max.message.bytes") {
			t.Errorf("defaults shown without --all:\n%s", out)
		}
		mustRun(t, newConfigCommand, "", "set", "-b", addr, "--topic", topic, "--delete", "retention.ms")
		out, _ = mustRun(t, newConfigCommand, "", "describe", "-b", addr, "--topic", topic, "--all")
		if f := lineFields(t, out, "retention.ms"); f[2] == "DYNAMIC_TOPIC_CONFIG" {
			t.Fatalf("retention.ms still set:\n%s", out)
		}

		mustRun(t, newConfigCommand, "", "set", "-b", addr, "--cluster-default", "log.retention.ms=7200000")
		out, _ = mustRun(t, newConfigCommand, "", "describe", "-b", addr, "--cluster-default")
		if f := lineFields(t, out, "log.retention.ms"); f[1] != "7200000" || f[2] != "DYNAMIC_DEFAULT_BROKER_CONFIG" {
			t.Fatalf("cluster default:\n%s", out)
		}
		brokers, err := adm.ListBrokers(t.Context())
		if err != nil || len(brokers) == 0 {
			t.Fatal(err)
		}
		id := fmt.Sprint(brokers[0].NodeID)
		out, _ = mustRun(t, newConfigCommand, "", "describe", "-b", addr, "--broker", id)
		if f := lineFields(t, out, "log.retention.ms"); f[1] != "7200000" {
			t.Fatalf("broker %s does not inherit the cluster default:\n%s", id, out)
		}
		// A config Kafka does not let change at runtime is refused.
		_, _, err = runCommand(t, newConfigCommand(), "", "set", "-b", addr, "--broker", id, "log.dirs=/tmp/x")
		if err == nil || !strings.Contains(err.Error(), "dynamically") {
			t.Fatalf("static config: %v", err)
		}
		if _, _, err := runCommand(t, newConfigCommand(), "", "describe", "-b", addr); err == nil {
			t.Fatal("describe without a target succeeded")
		}
		mustRun(t, newConfigCommand, "", "set", "-b", addr, "--cluster-default", "--delete", "log.retention.ms")
		out, _ = mustRun(t, newConfigCommand, "", "describe", "-b", addr, "--cluster-default")
		if strings.Contains(out, "log.retention.ms") {
			t.Fatalf("cluster default not removed:\n%s", out)
		}
	})

	t.Run("group lag", func(t *testing.T) {
		group := testTopic(t, "g")
		lagTopic := testTopic(t, "lag")
		createTestTopic(t, addr, lagTopic, 2)
		for i := range 3 {
			if err := prod.ProduceSync(t.Context(), &kgo.Record{Topic: lagTopic, Partition: int32(i % 2), Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if got := consumeJSON(t, addr, lagTopic, "--group", group); len(got) != 3 {
			t.Fatalf("consumed %d", len(got))
		}
		// 5 more on partition 1, 1 more on partition 0: lag 5 and 1.
		for i := range 6 {
			p := int32(1)
			if i == 0 {
				p = 0
			}
			if err := prod.ProduceSync(t.Context(), &kgo.Record{Topic: lagTopic, Partition: p, Value: []byte("y")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		out, _ := mustRun(t, newGroupCommand, "", "lag", group, "-b", addr)
		var rows [][]string
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 5 && f[0] == lagTopic {
				rows = append(rows, f)
			}
		}
		if len(rows) != 2 || rows[0][1] != "1" || rows[0][4] != "5" || rows[1][1] != "0" || rows[1][4] != "1" {
			t.Fatalf("want partition 1 (lag 5) before partition 0 (lag 1):\n%s", out)
		}
		if f := lineFields(t, out, "TOTAL"); f[1] != "6" {
			t.Fatalf("total:\n%s", out)
		}
		if _, _, err := runCommand(t, newGroupCommand(), "", "lag", "no-such-group-"+group, "-b", addr); err == nil {
			t.Fatal("lag of a missing group succeeded")
		}
	})
}

func TestWriteGroupLagEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := writeGroupLag(&buf, kadm.GroupLag{}); err != nil || !strings.Contains(buf.String(), "No committed offsets") {
		t.Fatalf("%v %q", err, buf.String())
	}
}
