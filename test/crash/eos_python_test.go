//go:build integration

package crash

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fillCTPInput writes "p-seq" for seq 0..perPartition-1 to partition p of
// topicName, in batches of 5 per partition so that fetches and therefore
// transactions stay small.
func fillCTPInput(ctx context.Context, t *testing.T, seeds []string, topicName string, perPartition int) {
	t.Helper()
	in, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(topicName), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for seq := 0; seq < perPartition; seq += 5 {
		var recs []*kgo.Record
		for p := range int32(numPartitions) {
			for s := seq; s < min(seq+5, perPartition); s++ {
				recs = append(recs, &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("%d-%d", p, s))})
			}
		}
		if err := in.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("fill %s: %v", topicName, err)
		}
	}
}

// TestClusterConsumeTransformProducePython is TestClusterConsumeTransformProduce
// with confluent-kafka-python (librdkafka) as the transactional processor:
// python/confluent_ctp.py reads the input read_committed in a group, writes
// each batch transformed inside a transaction with send_offsets_to_transaction,
// aborts every fifth transaction on purpose, and handles the errors the
// kills cause as an application would (retry retriable calls; abort and
// rewind on abortable errors; start anew on fatal ones). The script pauses
// twice inside an open transaction whose writes were delivered (a fifth and
// three fifths into the input); at the first pause the transaction
// coordinator's node is SIGKILLed, at the second an output partition's
// leader, and the script resumes at once; each node is restarted once the
// stream moved on without it. Then the group's committed offsets must be the
// input's end, and the output is checked as in the franz-go test: every
// input exactly once and in order read_committed, nothing of a deliberately
// aborted transaction read_committed, all of their delivered writes
// read_uncommitted.
func TestClusterConsumeTransformProducePython(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three arus processes")
	}
	python := confluentPython(t)
	rng, _ := seededRand(t)
	const (
		inTopic      = "eos-py-in"
		outTopic     = "eos-py-out"
		group        = "eos-py-group"
		txnID        = "eos-py-ctp"
		perPartition = 100
		total        = perPartition * numPartitions
		scriptLimit  = 90 * time.Second
	)
	c := txnCluster(t, outTopic)
	c.createReplicatedTopic(inTopic)
	c.waitHealthy(60*time.Second, "topics fully replicated")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	fillCTPInput(ctx, t, c.addrs(), inTopic, perPartition)

	stderrPath := filepath.Join(t.TempDir(), "confluent_ctp.stderr")
	stderr, err := os.Create(stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd := exec.CommandContext(ctx, python, "python/confluent_ctp.py", strings.Join(c.addrs(), ","),
		inTopic, outTopic, group, txnID, strconv.Itoa(perPartition), strconv.Itoa(int(scriptLimit/time.Second)),
		fmt.Sprintf("%d,%d", total/5, 3*total/5))
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		progress    atomic.Int64 // input records in committed transactions, as the script reports
		paused      atomic.Int64 // pauses begun (a transaction open with its writes delivered)
		mu          sync.Mutex
		abortedTags = map[string]bool{}
		abortedVals []string
		doneLine    string
		badLines    []string
		exited      = make(chan struct{})
		runErr      error
	)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			kind, rest, _ := strings.Cut(line, " ")
			mu.Lock()
			switch kind {
			case "PROGRESS":
				n, err := strconv.ParseInt(rest, 10, 64)
				if err != nil {
					badLines = append(badLines, line)
				}
				progress.Store(n)
			case "ABORTED":
				tag, vals, _ := strings.Cut(rest, " ")
				var vs []string
				if err := json.Unmarshal([]byte(vals), &vs); err != nil {
					badLines = append(badLines, line)
				}
				abortedTags[tag] = true
				abortedVals = append(abortedVals, vs...)
			case "PAUSED":
				n, err := strconv.ParseInt(rest, 10, 64)
				if err != nil {
					badLines = append(badLines, line)
				}
				paused.Store(n)
			case "DONE":
				doneLine = rest
			default:
				badLines = append(badLines, line)
			}
			mu.Unlock()
		}
		runErr = cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	scriptLog := func() string {
		b, _ := os.ReadFile(stderrPath)
		if len(b) > 16<<10 {
			b = b[len(b)-16<<10:]
		}
		return string(b)
	}
	hasExited := func() bool {
		select {
		case <-exited:
			return true
		default:
			return false
		}
	}
	awaitProgress := func(atLeast int64, what string) {
		t.Helper()
		waitFor(t, 60*time.Second, what, func() bool { return progress.Load() >= atLeast || hasExited() })
	}
	// awaitPause waits until the script paused for the k-th time, inside
	// an open transaction whose writes were delivered, and reports whether
	// it did (rather than exit).
	awaitPause := func(k int64, what string) bool {
		t.Helper()
		waitFor(t, 60*time.Second, what, func() bool { return paused.Load() >= k || hasExited() })
		return paused.Load() >= k
	}
	resume := func() {
		t.Helper()
		if _, err := stdin.Write([]byte("go\n")); err != nil {
			t.Fatalf("resume confluent_ctp.py: %v", err)
		}
	}

	// Fault 1: the transaction coordinator's node, while a transaction
	// a fifth into the input is open with its writes delivered.
	kills := 0
	if awaitPause(1, "a fifth of the input transformed, a transaction open") {
		coord, err := c.txnCoordinator(txnID)
		if err != nil {
			t.Fatalf("find the transaction coordinator: %v", err)
		}
		c.kill(coord, "transaction coordinator of "+txnID)
		kills++
		resume()
		awaitProgress(progress.Load()+10, "progress without the old coordinator")
		c.restart(coord)
		c.waitHealthy(60*time.Second, "node back after the coordinator kill")
	}

	// Fault 2: the leader of an output partition, preferring one that is
	// not the (new) coordinator, while a transaction three fifths into the
	// input is open.
	if awaitPause(2, "three fifths transformed, a transaction open") {
		v, err := c.liveView()
		if err != nil {
			t.Fatal(err)
		}
		coord, _ := c.txnCoordinator(txnID)
		victimPart := int32(rng.IntN(numPartitions))
		for p := range int32(numPartitions) {
			if v.leader[p] != coord {
				victimPart = p
				break
			}
		}
		leader := v.leader[victimPart]
		c.kill(leader, fmt.Sprintf("leader of %s-%d (coordinator is node %d)", outTopic, victimPart, coord))
		kills++
		resume()
		awaitProgress(progress.Load()+10, "progress without the old leader")
		c.restart(leader)
		c.waitHealthy(60*time.Second, "node back after the leader kill")
	}

	select {
	case <-exited:
	case <-time.After(scriptLimit + 10*time.Second):
		t.Fatalf("confluent_ctp.py still running; stderr tail:\n%s", scriptLog())
	}
	mu.Lock()
	defer mu.Unlock()
	if runErr != nil || doneLine == "" || len(badLines) > 0 {
		t.Fatalf("confluent_ctp.py: %v (DONE %q, unexpected stdout %q); stderr tail:\n%s", runErr, doneLine, badLines, scriptLog())
	}
	if kills != 2 {
		t.Fatalf("the processor finished after %d of the 2 kills; the faults proved nothing", kills)
	}

	// The group's committed offsets are the input's end.
	admCl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	offs, err := kadm.NewClient(admCl).FetchOffsets(ctx, group)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	for p := range int32(numPartitions) {
		if o, ok := offs.Lookup(inTopic, p); !ok || o.At != perPartition {
			t.Errorf("group %s committed %s-%d at %d (found %v), want %d", group, inTopic, p, o.At, ok, perPartition)
		}
	}

	full, _ := os.ReadFile(stderrPath)
	uncommitted := checkCTPOutput(t, c.addrs(), outTopic, perPartition, abortedTags, abortedVals)
	if t.Failed() || os.Getenv("ARUS_CRASH_LOGS") != "" {
		t.Logf("confluent_ctp.py stderr tail:\n%s", scriptLog())
	}
	t.Logf("confluent-kafka-python: %d inputs transformed exactly once (transactions, abortable errors, restarts: %s; %d retried calls; %d aborted on purpose with %d writes); output log holds %d records read_uncommitted, %d kills",
		total, doneLine, strings.Count(string(full), ": retriable: "), len(abortedTags), len(abortedVals), uncommitted, kills)
}

// confluentPython returns /usr/bin/python3 when it imports confluent_kafka
// (Debian's python3-confluent-kafka, as test/compat uses) and skips the
// test otherwise.
func confluentPython(t *testing.T) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found; install python3-confluent-kafka (scripts/install-test-deps.sh) to run this test", python)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, python, "-c", "import confluent_kafka").CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || errors.Is(err, exec.ErrNotFound) {
			t.Skipf("%s cannot import confluent_kafka (%v: %s); install python3-confluent-kafka (scripts/install-test-deps.sh) to run this test",
				python, err, strings.TrimSpace(string(out)))
		}
		t.Fatal(err)
	}
	return python
}
