//go:build integration

package compat

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/arustest"
)

// kcatGroupTimeout bounds the two-member phase of TestKcatBalancedConsumer.
const kcatGroupTimeout = 60 * time.Second

// kcatMember is one running `kcat -G` (librdkafka balanced consumer).
type kcatMember struct {
	name   string
	args   []string
	cancel context.CancelFunc
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr *watchWriter
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, once done is closed
}

// kcatGroupArgs are the -G arguments shared by every member: start from
// the earliest offset only where the group has no committed offset (kcat's
// -o would override committed offsets), report partition EOF on stderr
// ("Reached end of topic ...") without exiting, unbuffered output.
func kcatGroupArgs(addr, group, topic string, extra ...string) []string {
	args := []string{"-b", addr, "-G", group, "-X", "auto.offset.reset=earliest", "-X", "enable.partition.eof=true",
		"-u", "-f", `%p %o %s\n`}
	return append(append(args, extra...), topic)
}

func startKcatMember(t *testing.T, bin, name string, args []string) *kcatMember {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kcatGroupTimeout+30*time.Second)
	m := &kcatMember{name: name, args: args, cancel: cancel, done: make(chan struct{})}
	m.stderr = &watchWriter{cancel: cancel}
	m.cmd = exec.CommandContext(ctx, bin, args...)
	m.cmd.WaitDelay = 5 * time.Second
	m.cmd.Stdout = &m.stdout
	m.cmd.Stderr = m.stderr
	if err := m.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start kcat %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		m.err = m.cmd.Wait()
		close(m.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-m.done
		if t.Failed() {
			errText, _ := m.stderr.result()
			t.Logf("%s: kcat %s\nstderr:\n%s\nstdout:\n%s", m.name, strings.Join(m.args, " "), tail(errText), tail(m.stdout.String()))
		}
	})
	return m
}

func (m *kcatMember) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

var (
	kcatAssignedRe = regexp.MustCompile(`rebalanced \(memberid [^)]*\): (assigned|revoked): (.*)$`)
	kcatPartRe     = regexp.MustCompile(`\[(\d+)\]`)
	kcatEOFRe      = regexp.MustCompile(`Reached end of topic \S+ \[(\d+)\] at offset (\d+)`)
)

// kcatGroupState reads kcat's stderr log: the partitions of the latest
// assignment, and the EOF offset of each reported since.
func kcatGroupState(stderr string) (assigned []int32, eof map[int32]int64) {
	eof = map[int32]int64{}
	for _, l := range lines(stderr) {
		if m := kcatAssignedRe.FindStringSubmatch(l); m != nil {
			assigned, eof = nil, map[int32]int64{}
			if m[1] == "assigned" {
				for _, pm := range kcatPartRe.FindAllStringSubmatch(m[2], -1) {
					p, _ := strconv.ParseInt(pm[1], 10, 32)
					assigned = append(assigned, int32(p))
				}
			}
			continue
		}
		if m := kcatEOFRe.FindStringSubmatch(l); m != nil {
			p, _ := strconv.ParseInt(m[1], 10, 32)
			o, _ := strconv.ParseInt(m[2], 10, 64)
			eof[int32(p)] = o
		}
	}
	sort.Slice(assigned, func(i, j int) bool { return assigned[i] < assigned[j] })
	return assigned, eof
}

// groupRecord is one line of kcat -f '%p %o %s\n'.
type groupRecord struct {
	partition int32
	offset    int64
	value     string
}

func parseGroupRecords(t *testing.T, who, out string) []groupRecord {
	t.Helper()
	var recs []groupRecord
	for _, l := range lines(out) {
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 {
			t.Fatalf("%s: unexpected output line %q", who, l)
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: unexpected output line %q", who, l)
		}
		recs = append(recs, groupRecord{int32(p), o, f[2]})
	}
	return recs
}

// checkGroupRecords wants every value of want exactly once in got and
// nothing else, with offsets growing within each partition.
func checkGroupRecords(t *testing.T, who string, got []groupRecord, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, r := range got {
		count[r.value]++
	}
	var dups, missing, extra []string
	wantSet := map[string]bool{}
	for _, v := range want {
		wantSet[v] = true
		if count[v] == 0 {
			missing = append(missing, v)
		}
	}
	for v, c := range count {
		if c > 1 {
			dups = append(dups, v)
		}
		if !wantSet[v] {
			extra = append(extra, v)
		}
	}
	sort.Strings(dups)
	sort.Strings(extra)
	if len(dups)+len(missing)+len(extra) > 0 {
		t.Errorf("%s: %d records; duplicates %q; missing %q; unexpected %q", who, len(got), dups, missing, extra)
	}
	last := map[int32]int64{}
	for _, r := range got {
		if prev, ok := last[r.partition]; ok && r.offset <= prev {
			t.Errorf("%s: partition %d offset %d (%s) after offset %d", who, r.partition, r.offset, r.value, prev)
		}
		last[r.partition] = r.offset
	}
}

// produceToPartitions writes perPartition values to each partition with
// kcat -P -p and returns them all.
func produceToPartitions(t *testing.T, addr, topic, tag string, perPartition int) []string {
	t.Helper()
	var all []string
	for p := range groupPartitions {
		var in []string
		for i := range perPartition {
			in = append(in, fmt.Sprintf("%s-p%d-%02d", tag, p, i))
		}
		kcat(t, addr, strings.Join(in, "\n")+"\n", "-P", "-t", topic, "-p", strconv.Itoa(p))
		all = append(all, in...)
	}
	return all
}

// TestKcatBalancedConsumer: two `kcat -G` instances (librdkafka's
// balanced consumer, range assignor, auto commit) share a 4-partition
// topic whose 40 records were produced before they started: together they
// read each record exactly once, each from its own partitions. Stopped with
// SIGTERM, they commit on close; the group's committed offsets are the log
// end offsets. A third `kcat -G -e` in the same group then reads exactly
// the 12 records produced after the commit.
//
// The broker uses group.initial.rebalance.delay.ms=3s (Kafka's default),
// so both members, started together, join the group's first generation and
// neither reads anything before the partitions are split.
func TestKcatBalancedConsumer(t *testing.T) {
	t.Parallel()
	bin := kcatBin(t)
	addr := startGroupBroker(t, arustest.WithGroupInitialRebalanceDelay(3*time.Second))
	adm := adminClient(t, addr)
	const topic, group = "kcat-balanced", "kcat-balanced-group"
	const perPartition = 10
	createTopic(t, adm, topic)
	first := produceToPartitions(t, addr, topic, "first", perPartition)

	members := []*kcatMember{
		startKcatMember(t, bin, "member-1", kcatGroupArgs(addr, group, topic)),
		startKcatMember(t, bin, "member-2", kcatGroupArgs(addr, group, topic)),
	}
	var assigned [2][]int32
	arustest.Eventually(t, kcatGroupTimeout,
		"both kcat -G members assigned disjoint partitions covering the topic, each at EOF on all of them, 40 records read (see the kcat logs below)",
		func() bool {
			total := 0
			done := true
			for i, m := range members {
				errText, hit := m.stderr.result()
				if hit != "" {
					t.Fatalf("%s: librdkafka reported a protocol error (%q); this is a broker bug", m.name, hit)
				}
				if m.exited() {
					t.Fatalf("%s: kcat exited before being stopped: %v", m.name, m.err)
				}
				a, eof := kcatGroupState(errText)
				assigned[i] = a
				for _, p := range a {
					if eof[p] != perPartition {
						done = false
					}
				}
				total += len(lines(m.stdout.String()))
			}
			union := append(slices.Clone(assigned[0]), assigned[1]...)
			slices.Sort(union)
			// Sorted, the two assignments together are 0..3 exactly: disjoint and covering.
			return done && total >= len(first) && len(assigned[0]) > 0 && len(assigned[1]) > 0 &&
				slices.Equal(union, []int32{0, 1, 2, 3})
		})
	t.Logf("assignments: member-1 %v, member-2 %v", assigned[0], assigned[1])

	// SIGTERM: kcat leaves its poll loop and closes the consumer, which
	// commits the consumed offsets (enable.auto.commit) and leaves the group.
	for _, m := range members {
		if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("%s: SIGTERM: %v", m.name, err)
		}
	}
	var all []groupRecord
	for i, m := range members {
		select {
		case <-m.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: still running 30s after SIGTERM", m.name)
		}
		if _, hit := m.stderr.result(); hit != "" {
			t.Fatalf("%s: librdkafka reported a protocol error (%q) while closing; this is a broker bug", m.name, hit)
		}
		if m.err != nil {
			t.Errorf("%s: kcat exited with %v after SIGTERM", m.name, m.err)
		}
		recs := parseGroupRecords(t, m.name, m.stdout.String())
		if len(recs) == 0 {
			t.Errorf("%s read nothing; the group did not share the topic", m.name)
		}
		for _, r := range recs {
			if !slices.Contains(assigned[i], r.partition) {
				t.Errorf("%s read %s from partition %d, assigned %v", m.name, r.value, r.partition, assigned[i])
			}
		}
		all = append(all, recs...)
	}
	checkGroupRecords(t, "kcat -G member-1 and member-2 together", all, first)
	checkCommittedAtEnd(t, adm, group, topic)
	if t.Failed() {
		return
	}

	// Resume: a new member of the same group starts after the committed
	// offsets and sees only what was produced since.
	second := produceToPartitions(t, addr, topic, "second", 3)
	out, err := kcatErr(t, addr, "", kcatGroupArgs(addr, group, topic, "-e")[2:]...)
	if err != nil {
		t.Fatal(err)
	}
	recs := parseGroupRecords(t, "kcat -G -e after the commit", out)
	checkGroupRecords(t, "kcat -G -e after the commit (only records produced after it)", recs, second)
	for _, r := range recs {
		if r.offset < perPartition {
			t.Errorf("kcat -G -e after the commit re-read partition %d offset %d (%s), committed offset %d", r.partition, r.offset, r.value, perPartition)
		}
	}
	checkCommittedAtEnd(t, adm, group, topic)
}
