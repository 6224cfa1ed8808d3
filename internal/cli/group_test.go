package cli

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
)

func TestParseTopicPartitions(t *testing.T) {
	tests := []struct {
		in    string
		topic string
		parts []int32
		ok    bool
	}{
		{"orders", "orders", nil, true},
		{"orders:0,2", "orders", []int32{0, 2}, true},
		{"orders:x", "", nil, false},
		{":1", "", nil, false},
		{"orders:-1", "", nil, false},
	}
	for _, tt := range tests {
		topic, parts, err := parseTopicPartitions(tt.in)
		if (err == nil) != tt.ok || topic != tt.topic || !slices.Equal(parts, tt.parts) {
			t.Errorf("parseTopicPartitions(%q) = %q %v %v", tt.in, topic, parts, err)
		}
	}
}

func TestGroupResetOffsetsFlags(t *testing.T) {
	for _, args := range [][]string{
		{"reset-offsets", "--topic", "t", "--to-earliest"},
		{"reset-offsets", "--group", "g", "--to-earliest"},
		{"reset-offsets", "--group", "g", "--topic", "t"},
		{"reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--to-latest"},
		{"reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "yesterday"},
	} {
		if _, _, err := runCommand(t, newGroupCommand(), "", append(args, "-b", "127.0.0.1:1")...); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// TestIntegrationGroupCommands drives list, describe, reset-offsets and
// delete against a group that consume --group filled.
func TestIntegrationGroupCommands(t *testing.T) {
	addr := testBroker(t)
	topic := testTopic(t, "grp")
	group := testTopic(t, "g")
	createTestTopic(t, addr, topic, 2)

	// Old records an hour back, new ones now: partition 0 gets old0-2 and
	// new0-1, partition 1 old3-4 and new2.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	now := time.Now()
	rec := func(p int32, v string, ts time.Time) *kgo.Record {
		return &kgo.Record{Topic: topic, Partition: p, Value: []byte(v), Timestamp: ts}
	}
	old, recent := now.Add(-time.Hour), now
	if err := cl.ProduceSync(t.Context(),
		rec(0, "old0", old), rec(0, "old1", old), rec(0, "old2", old), rec(0, "new0", recent), rec(0, "new1", recent),
		rec(1, "old3", old), rec(1, "old4", old), rec(1, "new2", recent),
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	all := []string{"new0", "new1", "new2", "old0", "old1", "old2", "old3", "old4"}
	readGroup := func() []string {
		var vs []string
		for _, r := range consumeJSON(t, addr, topic, "--group", group) {
			vs = append(vs, *r.Value)
		}
		slices.Sort(vs)
		return vs
	}
	if got := readGroup(); !slices.Equal(got, all) {
		t.Fatalf("first read: %v", got)
	}
	if got := readGroup(); len(got) != 0 {
		t.Fatalf("the group should resume at the end: %v", got)
	}

	out, _ := mustRun(t, newGroupCommand, "", "list", "-b", addr)
	if !strings.Contains(out, group) || !strings.Contains(out, "Empty") {
		t.Errorf("list:\n%s", out)
	}
	out, _ = mustRun(t, newGroupCommand, "", "describe", group, "-b", addr)
	for _, want := range []string{"State:        Empty", "COMMITTED", topic, "Total lag: 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}

	reset := func(args ...string) string {
		t.Helper()
		out, _ := mustRun(t, newGroupCommand, "", append([]string{"reset-offsets", "-b", addr, "--group", group}, args...)...)
		return out
	}
	out = reset("--topic", topic, "--to-earliest", "--dry-run")
	if !strings.Contains(out, "Dry run") || !strings.Contains(out, "PARTITION") {
		t.Errorf("dry run output:\n%s", out)
	}
	if got := readGroup(); len(got) != 0 {
		t.Fatalf("a dry run changed the offsets: %v", got)
	}

	reset("--topic", topic, "--to-earliest")
	if got := readGroup(); !slices.Equal(got, all) {
		t.Errorf("after --to-earliest: %v", got)
	}
	reset("--topic", topic, "--to-datetime", now.Add(-30*time.Minute).UTC().Format(time.RFC3339))
	if got := readGroup(); !slices.Equal(got, []string{"new0", "new1", "new2"}) {
		t.Errorf("after --to-datetime: %v", got)
	}
	reset("--topic", topic+":0", "--shift-by", "-2")
	if got := readGroup(); !slices.Equal(got, []string{"new0", "new1"}) {
		t.Errorf("after --shift-by -2 on partition 0: %v", got)
	}
	out = reset("--topic", topic, "--to-offset", "100")
	if !strings.Contains(out, "clamped to the end offset") {
		t.Errorf("--to-offset past the end should be clamped:\n%s", out)
	}
	reset("--topic", topic, "--to-offset", "1")
	if got := readGroup(); !slices.Equal(got, []string{"new0", "new1", "new2", "old1", "old2", "old4"}) {
		t.Errorf("after --to-offset 1: %v", got)
	}
	reset("--topic", topic, "--to-latest")
	if got := readGroup(); len(got) != 0 {
		t.Errorf("after --to-latest: %v", got)
	}

	// A live member blocks the reset (and the delete).
	member, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for ctx.Err() == nil {
			member.PollFetches(ctx)
		}
	}()
	arustest.Eventually(t, 30*time.Second, "the member joined", func() bool {
		out, _, err := runCommand(t, newGroupCommand(), "", "describe", group, "-b", addr)
		return err == nil && strings.Contains(out, "State:        Stable")
	})
	_, _, err = runCommand(t, newGroupCommand(), "", "reset-offsets", "-b", addr, "--group", group, "--topic", topic, "--to-earliest")
	if err == nil || !strings.Contains(err.Error(), "active member") {
		t.Errorf("reset with a live member: %v", err)
	}
	_, stderr, err := runCommand(t, newGroupCommand(), "", "delete", group, "-b", addr)
	if err == nil || !strings.Contains(stderr, "active members") {
		t.Errorf("delete with a live member: %v %s", err, stderr)
	}
	out, _ = mustRun(t, newGroupCommand, "", "describe", group, "-b", addr)
	if !strings.Contains(out, "MEMBER") || !strings.Contains(out, topic+":0,1") {
		t.Errorf("describe with a member:\n%s", out)
	}
	cancel()
	<-polled
	member.Close()

	out, _ = mustRun(t, newGroupCommand, "", "delete", group, "-b", addr)
	if !strings.Contains(out, "deleted group") {
		t.Errorf("delete: %s", out)
	}
	if _, _, err := runCommand(t, newGroupCommand(), "", "describe", group, "-b", addr); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("describe after delete: %v", err)
	}
	if _, stderr, err := runCommand(t, newGroupCommand(), "", "delete", group, "-b", addr); err == nil || !strings.Contains(stderr, "does not exist") {
		t.Errorf("second delete: %v %s", err, stderr)
	}
}
