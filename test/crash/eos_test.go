//go:build integration

package crash

// Exactly-once on a 3-node cluster of real arus processes (RF=3,
// min.insync.replicas=2) while nodes are SIGKILLed and restarted:
//
//   - TestClusterConsumeTransformProduce: a franz-go GroupTransactSession
//     reads a pre-filled input topic, writes transformed records to an
//     output topic and commits its input offsets inside each transaction,
//     some transactions aborted on purpose, while the transaction
//     coordinator's node and then an output partition's leader are killed.
//     The read_committed output holds every input record exactly once, in
//     per-partition order; the deliberately aborted writes are in the log
//     (read_uncommitted) but never read_committed.
//   - TestClusterConsumeTransformProducePython (eos_python_test.go): the
//     same with confluent-kafka-python (librdkafka) as the processor.
//   - TestClusterTxnHistory (txnhistory_test.go): the randomized history
//     checker.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnCluster starts three nodes with small internal topics (3 partitions
// of __transaction_state and __consumer_offsets, both RF=3) and no initial
// rebalance delay, and creates topicName (numPartitions partitions, RF 3,
// min.insync.replicas 2) as the cluster's topic that waitHealthy checks.
func txnCluster(t *testing.T, topicName string) *cluster {
	t.Helper()
	c := newCluster(t, localSpec(t, 3), topicName)
	for _, id := range c.ids {
		b := c.nodes[id]
		base := b.args
		b.args = func(listener string) []string {
			return append(base(listener),
				"--override", "transaction.state.log.num.partitions=3",
				"--override", "offsets.topic.num.partitions=3",
				"--override", "group.initial.rebalance.delay.ms=0")
		}
	}
	c.startAll()
	c.createTopic()
	return c
}

// createReplicatedTopic creates another topic like the cluster's own.
func (c *cluster) createReplicatedTopic(name string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	minISR := "2"
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, numPartitions, int16(len(c.ids)),
		map[string]*string{"min.insync.replicas": &minISR}, name)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		c.t.Fatalf("create topic %s: %v", name, err)
	}
}

// txnCoordinator asks the running nodes which node coordinates
// transactional id.
func (c *cluster) txnCoordinator(id string) (int32, error) {
	var errs []error
	for _, n := range c.ids {
		if !c.running(n) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey, req.CoordinatorKeys, req.CoordinatorType = id, []string{id}, 1
		resp, err := req.RequestWith(ctx, c.admin(n).SeedBrokers()[0])
		cancel()
		if err == nil && len(resp.Coordinators) == 1 { // v4+: batched
			resp.ErrorCode, resp.NodeID = resp.Coordinators[0].ErrorCode, resp.Coordinators[0].NodeID
		}
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err == nil {
			return resp.NodeID, nil
		}
		errs = append(errs, fmt.Errorf("node %d: %w", n, err))
	}
	return -1, errors.Join(errs...)
}

// kill SIGKILLs node id and logs why.
func (c *cluster) kill(id int32, why string) {
	c.t.Helper()
	c.nodes[id].signal(syscall.SIGKILL)
	c.t.Logf("kill -9 node %d (%s)", id, why)
}

// readTopic reads topicName from the start with the given isolation until
// every partition reached its end offset (the last stable offset for
// read_committed), and returns the values per partition in offset order
// with their offsets (control records, the markers, left out).
func readTopic(t *testing.T, seeds []string, topicName string, committed bool) map[int32][]readRec {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	var ends kadm.ListedOffsets
	if committed {
		ends, err = kadm.NewClient(adm).ListCommittedOffsets(ctx, topicName)
	} else {
		ends, err = kadm.NewClient(adm).ListEndOffsets(ctx, topicName)
	}
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topicName, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topicName), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[int32][]readRec{}
	next := map[int32]int64{}
	done := func() bool {
		for p := range int32(numPartitions) {
			e, _ := ends.Lookup(topicName, p)
			if next[p] < e.Offset {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s (read_committed %v): only reached %v of %v", topicName, committed, next, ends)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fetch %s-%d: %v", topicName, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1 // markers count toward the end offset
			if !r.Attrs.IsControl() {
				out[r.Partition] = append(out[r.Partition], readRec{offset: r.Offset, value: string(r.Value)})
			}
		})
	}
	// Anything beyond the end offsets would be a bug too: poll once more.
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	cl.PollFetches(short).EachRecord(func(r *kgo.Record) {
		if !r.Attrs.IsControl() {
			out[r.Partition] = append(out[r.Partition], readRec{offset: r.Offset, value: string(r.Value)})
		}
	})
	return out
}

// TestClusterConsumeTransformProduce: see the file comment.
func TestClusterConsumeTransformProduce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three arus processes")
	}
	rng, _ := seededRand(t)
	const (
		inTopic      = "eos-in"
		outTopic     = "eos-out"
		group        = "eos-group"
		txnID        = "eos-ctp"
		perPartition = 400
		total        = perPartition * numPartitions
	)
	c := txnCluster(t, outTopic)
	c.createReplicatedTopic(inTopic)
	c.waitHealthy(60*time.Second, "topics fully replicated")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	// Input: "p-seq" for seq 0..perPartition-1 in partition p, in small
	// batches so that fetches (FetchMaxPartitionBytes below) and therefore
	// transactions stay small.
	fillCTPInput(ctx, t, c.addrs(), inTopic, perPartition)

	// The transformer: one session at a time (a new one after an error,
	// as an application would restart), output "p-seq|tN" to partition p,
	// where N numbers the transaction; every fifth-ish transaction is
	// aborted on purpose after its records were written.
	var (
		progress    atomic.Int64 // records in transactions End reported committed
		txns        atomic.Int64
		stop        = make(chan struct{})
		stopped     = make(chan struct{})
		mu          sync.Mutex
		abortedTags = map[string]bool{} // "tN" of deliberately aborted transactions
		abortedVals []string            // their acknowledged writes
		commits     int
		sessions    int
	)
	trng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	newSession := func() *kgo.GroupTransactSession {
		s, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(c.addrs()...), kgo.TransactionalID(txnID),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(inTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.DefaultProduceTopic(outTopic), kgo.FetchMaxWait(200*time.Millisecond), kgo.FetchMaxPartitionBytes(300),
			kgo.RequestTimeoutOverhead(3*time.Second), kgo.RetryTimeout(90*time.Second),
			kgo.SessionTimeout(20*time.Second), kgo.TransactionTimeout(30*time.Second))
		if err != nil {
			t.Error(err)
			return nil
		}
		sessions++
		return s
	}
	// The goroutine must not outlive the test, even when it fails early.
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	go func() {
		defer close(stopped)
		sess := newSession()
		defer func() {
			if sess != nil {
				sess.Close()
			}
		}()
		for tx := 0; sess != nil && tx < 10000; tx++ {
			select {
			case <-stop:
				return
			default:
			}
			pollCtx, cancelPoll := context.WithTimeout(ctx, time.Second)
			fs := sess.PollFetches(pollCtx)
			cancelPoll()
			if ctx.Err() != nil {
				return
			}
			if fs.NumRecords() == 0 {
				continue
			}
			if err := sess.Begin(); err != nil {
				t.Errorf("begin: %v", err)
				return
			}
			tag := "t" + strconv.Itoa(tx)
			var wrote []string
			var wmu sync.Mutex
			fs.EachRecord(func(r *kgo.Record) {
				out := &kgo.Record{Partition: r.Partition, Value: []byte(string(r.Value) + "|" + tag)}
				sess.Produce(ctx, out, func(r *kgo.Record, err error) {
					if err == nil {
						wmu.Lock()
						wrote = append(wrote, string(r.Value))
						wmu.Unlock()
					}
				})
			})
			commit := trng.IntN(5) != 0
			if !commit {
				// End(TryAbort) drops buffered records; flush first so
				// the aborted writes really are in the log.
				if err := sess.Client().Flush(ctx); err != nil {
					t.Logf("flush before abort: %v", err)
				}
			}
			committed, err := sess.End(ctx, kgo.TransactionEndTry(commit))
			txns.Add(1)
			mu.Lock()
			switch {
			case err != nil:
				// Outcome unknown to us; the next session's
				// InitProducerId completes or aborts it, and its
				// offsets with it.
				t.Logf("transaction %s: end: %v (new session)", tag, err)
				sess.Close()
				sess = newSession()
			case !commit:
				abortedTags[tag] = true
				wmu.Lock()
				abortedVals = append(abortedVals, wrote...)
				wmu.Unlock()
			case committed:
				commits++
				progress.Add(int64(fs.NumRecords()))
			}
			mu.Unlock()
		}
	}()

	// done reports whether the group's committed offsets reached the end
	// of the input.
	admCl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	done := func() bool {
		reqCtx, cancelReq := context.WithTimeout(ctx, 3*time.Second)
		defer cancelReq()
		offs, err := adm.FetchOffsets(reqCtx, group)
		if err != nil || offs.Error() != nil {
			return false
		}
		for p := range int32(numPartitions) {
			o, ok := offs.Lookup(inTopic, p)
			if !ok || o.At < perPartition {
				return false
			}
		}
		return true
	}
	awaitProgress := func(atLeast int64, what string) {
		t.Helper()
		waitFor(t, 90*time.Second, what, func() bool { return progress.Load() >= atLeast || done() })
	}

	// Fault 1: the transaction coordinator's node, mid-stream.
	awaitProgress(total/5, "a fifth of the input transformed")
	coord, err := c.txnCoordinator(txnID)
	if err != nil {
		t.Fatalf("find the transaction coordinator: %v", err)
	}
	c.kill(coord, "transaction coordinator of "+txnID)
	awaitProgress(progress.Load()+15, "progress without the old coordinator")
	c.restart(coord)
	c.waitHealthy(90*time.Second, "node back after the coordinator kill")

	// Fault 2: the leader of an output partition, preferring one that is
	// not the (new) coordinator, so it is a different fault.
	awaitProgress(max(progress.Load()+15, 3*total/5), "three fifths transformed")
	v, err := c.liveView()
	if err != nil {
		t.Fatal(err)
	}
	coord, _ = c.txnCoordinator(txnID)
	victimPart := int32(rng.IntN(numPartitions))
	for p := range int32(numPartitions) {
		if v.leader[p] != coord {
			victimPart = p
			break
		}
	}
	leader := v.leader[victimPart]
	c.kill(leader, fmt.Sprintf("leader of %s-%d (coordinator is node %d)", outTopic, victimPart, coord))
	awaitProgress(progress.Load()+15, "progress without the old leader")
	c.restart(leader)
	c.waitHealthy(90*time.Second, "node back after the leader kill")

	waitFor(t, 120*time.Second, "the group committed the whole input", done)
	close(stop)
	select {
	case <-stopped:
	case <-time.After(60 * time.Second):
		t.Fatal("transformer did not stop")
	}

	mu.Lock()
	defer mu.Unlock()
	uncommitted := checkCTPOutput(t, c.addrs(), outTopic, perPartition, abortedTags, abortedVals)
	t.Logf("%d inputs transformed exactly once through %d transactions (%d committed, %d aborted on purpose with %d writes, %d sessions); output log holds %d records read_uncommitted, 2 kills",
		total, txns.Load(), commits, len(abortedTags), len(abortedVals), sessions, uncommitted)
}

// checkCTPOutput checks the output topic of a consume-transform-produce
// run: read_committed holds "p-seq|tag" for seq 0..perPartition-1 in every
// partition p, each exactly once and in order, none tagged as a
// deliberately aborted transaction; every acknowledged write of those
// aborted transactions is in the log (read_uncommitted), and there was at
// least one. It returns the number of records read_uncommitted.
func checkCTPOutput(t *testing.T, seeds []string, outTopic string, perPartition int, abortedTags map[string]bool, abortedVals []string) int {
	t.Helper()
	rc := readTopic(t, seeds, outTopic, true)
	ru := readTopic(t, seeds, outTopic, false)
	for p := range int32(numPartitions) {
		next := 0
		for _, r := range rc[p] {
			body, tag, _ := strings.Cut(r.value, "|")
			if abortedTags[tag] {
				t.Errorf("%s-%d offset %d: %q of a deliberately aborted transaction is visible to read_committed", outTopic, p, r.offset, r.value)
			}
			want := fmt.Sprintf("%d-%d", p, next)
			if body != want {
				t.Errorf("%s-%d offset %d: read_committed %q, want %s|... (exactly once, in order)", outTopic, p, r.offset, r.value, want)
				break
			}
			next++
		}
		if next != perPartition && !t.Failed() {
			t.Errorf("%s-%d: read_committed holds %d of the %d inputs", outTopic, p, next, perPartition)
		}
	}
	inLog := map[string]bool{}
	for _, recs := range ru {
		for _, r := range recs {
			inLog[r.value] = true
		}
	}
	missing := 0
	for _, v := range abortedVals {
		if !inLog[v] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged writes of aborted transactions not visible to read_uncommitted", missing, len(abortedVals))
	}
	if len(abortedVals) == 0 {
		t.Errorf("no deliberately aborted transaction wrote anything; the abort checks proved nothing")
	}
	uncommitted := 0
	for _, recs := range ru {
		uncommitted += len(recs)
	}
	return uncommitted
}

// readRec is one record read back: its offset and value.
type readRec struct {
	offset int64
	value  string
}
