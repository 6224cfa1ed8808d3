//go:build integration

package crash

// TestClusterTxnHistory is a randomized history checker in the spirit of
// Jepsen's: several transactional producers (franz-go, one transactional id
// each) run small transactions against a 3-node cluster of real processes
// (RF=3, min.insync.replicas=2), committing or aborting at random, while a
// seeded nemesis SIGKILLs a node (half the time the transaction
// coordinator of a random producer), restarts it and waits for the
// cluster to heal, four or five times. A read_committed consumer reads along
// the whole time. Every transaction's outcome is recorded as the client
// saw it: committed (EndTxn commit succeeded), aborted (abort requested,
// whether or not EndTxn answered: a transaction never asked to commit can
// never commit), or unknown (commit requested, EndTxn failed).
//
// Afterwards the final read_committed and read_uncommitted logs are checked:
//
//   - no committed write lost: every record of a committed transaction is
//     read_committed, in the partition it was written to;
//   - no duplicate: no value appears twice;
//   - no aborted write visible: no record of an aborted transaction is
//     read_committed, and every acknowledged record of a deliberately
//     aborted transaction is in the log (read_uncommitted);
//   - atomicity: a transaction with an unknown outcome is visible whole or
//     not at all;
//   - order: within a partition, each producer's records appear in the
//     order it wrote them (transaction, then position);
//   - reads during the run were read_committed and stable: every record the
//     concurrent reader saw is at the same offset in the final log and
//     belongs to a transaction that did not abort.
//
// A typical run (2-core machine shared with other work): 6 producers,
// about 1,500 transactions (two thirds committed, one third aborted) with
// 5,000 records, 5 node kills, in about 30 s. The counts are logged.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// txnOutcome is how a transaction ended, as its producer saw it.
type txnOutcome int

const (
	txnCommitted txnOutcome = iota
	txnAborted
	txnUnknown
)

// histTxn is one transaction in the history.
type histTxn struct {
	producer, no int
	values       []string         // in production order
	partition    map[string]int32 // value -> partition written to
	acked        map[string]bool  // produce acknowledged
	outcome      txnOutcome
	deliberate   bool // aborted by choice, every write acknowledged
}

// histValue names the i-th record of transaction no of producer.
func histValue(producer, no, i int) string { return fmt.Sprintf("w%d-%d-%d", producer, no, i) }

func parseHistValue(v string) (producer, no, i int, ok bool) {
	n, err := fmt.Sscanf(v, "w%d-%d-%d", &producer, &no, &i)
	return producer, no, i, err == nil && n == 3
}

func TestClusterTxnHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three arus processes")
	}
	rng, _ := seededRand(t)
	const (
		histTopic    = "hist"
		producers    = 6
		maxTxns      = 400 // per producer
		maxRecords   = 6   // per transaction
		minFaults    = 4
		extraFaults  = 2 // 4 or 5 kills
		afterFaultTx = 5 // transactions per producer after the last restart
	)
	c := txnCluster(t, histTopic)
	c.waitHealthy(60*time.Second, "topic fully replicated")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	var (
		mu      sync.Mutex
		history []*histTxn
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		started [producers]atomic.Int64
	)
	for p := 0; p < producers; p++ {
		prng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			newClient := func() *kgo.Client {
				cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.TransactionalID(fmt.Sprintf("hist-%d", p)),
					kgo.DefaultProduceTopic(histTopic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
					kgo.RequestTimeoutOverhead(3*time.Second), kgo.RetryTimeout(60*time.Second),
					kgo.TransactionTimeout(20*time.Second), kgo.ProducerLinger(0))
				if err != nil {
					t.Error(err)
				}
				return cl
			}
			cl := newClient()
			defer func() {
				if cl != nil {
					cl.Close()
				}
			}()
			for no := 0; cl != nil && no < maxTxns && ctx.Err() == nil; no++ {
				select {
				case <-stop:
					return
				default:
				}
				started[p].Add(1)
				tx := &histTxn{producer: p, no: no, partition: map[string]int32{}, acked: map[string]bool{}}
				var pmu sync.Mutex
				failed := false
				if err := cl.BeginTransaction(); err != nil {
					t.Errorf("producer %d: begin: %v", p, err)
					return
				}
				n := 1 + prng.IntN(maxRecords)
				for i := 0; i < n; i++ {
					v := histValue(p, no, i)
					part := int32(prng.IntN(numPartitions))
					tx.values = append(tx.values, v)
					tx.partition[v] = part
					cl.Produce(ctx, &kgo.Record{Partition: part, Value: []byte(v)}, func(r *kgo.Record, err error) {
						pmu.Lock()
						defer pmu.Unlock()
						if err != nil {
							failed = true
						} else {
							tx.acked[string(r.Value)] = true
						}
					})
				}
				if err := cl.Flush(ctx); err != nil {
					return // ctx ended
				}
				commit := !failed && prng.IntN(3) != 0
				err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit))
				switch {
				case commit && err == nil:
					tx.outcome = txnCommitted
				case !commit:
					tx.outcome = txnAborted
					tx.deliberate = !failed && err == nil
				default:
					tx.outcome = txnUnknown
				}
				mu.Lock()
				history = append(history, tx)
				mu.Unlock()
				if err != nil || failed {
					// As an application would: a new producer with
					// the same id fences the old one and finishes
					// (aborts) whatever it left open.
					t.Logf("producer %d transaction %d: failed writes %v, end: %v (new client)", p, no, failed, err)
					cl.Close()
					cl = newClient()
				}
			}
		}()
	}

	// Goroutines must not outlive the test, even when it fails early.
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})

	// The concurrent read_committed reader.
	type seen struct {
		partition int32
		offset    int64
		value     string
	}
	var observed []seen
	readerDone := make(chan struct{})
	readerStop := make(chan struct{})
	t.Cleanup(func() { cancel(); <-readerDone })
	go func() {
		defer close(readerDone)
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.ConsumeTopics(histTopic),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Error(err)
			return
		}
		defer cl.Close()
		for range 100000 {
			select {
			case <-readerStop:
				return
			default:
			}
			pctx, cancelPoll := context.WithTimeout(ctx, time.Second)
			fs := cl.PollFetches(pctx)
			cancelPoll()
			if ctx.Err() != nil {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				observed = append(observed, seen{r.Partition, r.Offset, string(r.Value)})
			})
		}
	}()

	// The nemesis, on the test goroutine: kill -9 a random node, restart
	// it after a random pause, wait for the cluster to heal, repeat.
	pause := func(lo, hi time.Duration) {
		d := lo + time.Duration(rng.Int64N(int64(hi-lo)))
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	faults := minFaults + rng.IntN(extraFaults)
	var killed []int32
	for f := 0; f < faults && ctx.Err() == nil; f++ {
		pause(time.Second, 4*time.Second)
		// Half the kills aim at the transaction coordinator of a random
		// producer, the others at any node.
		victim := c.ids[rng.IntN(len(c.ids))]
		txnID := fmt.Sprintf("hist-%d", rng.IntN(producers))
		coord, err := c.txnCoordinator(txnID)
		if rng.IntN(2) == 0 && err == nil {
			victim = coord
		}
		c.kill(victim, fmt.Sprintf("fault %d of %d; node %d coordinates %s", f+1, faults, coord, txnID))
		killed = append(killed, victim)
		pause(500*time.Millisecond, 3*time.Second)
		c.restart(victim)
		c.waitHealthy(90*time.Second, fmt.Sprintf("cluster healed after fault %d", f+1))
	}
	// Some more traffic on the healed cluster, then stop.
	var marks [producers]int64
	for p := range marks {
		marks[p] = started[p].Load()
	}
	waitFor(t, 60*time.Second, "every producer runs transactions after the last restart", func() bool {
		for p := range marks {
			if started[p].Load() < marks[p]+afterFaultTx {
				return false
			}
		}
		return true
	})
	close(stop)
	waitOrFail(t, 90*time.Second, "producers to finish", wg.Wait)
	c.waitHealthy(60*time.Second, "cluster healthy before the final reads")
	rc := readTopic(t, c.addrs(), histTopic, true)
	ru := readTopic(t, c.addrs(), histTopic, false)
	close(readerStop)
	waitOrFail(t, 30*time.Second, "reader to stop", func() { <-readerDone })

	mu.Lock()
	defer mu.Unlock()
	byValue := map[string]*histTxn{}
	counts := map[txnOutcome]int{}
	records := 0
	for _, tx := range history {
		counts[tx.outcome]++
		records += len(tx.values)
		for _, v := range tx.values {
			byValue[v] = tx
		}
	}
	type at struct {
		partition int32
		offset    int64
	}
	visible := map[string]at{}
	atOffset := map[at]string{}
	errs := 0
	report := func(format string, args ...any) {
		errs++
		if errs <= 20 {
			t.Errorf(format, args...)
		}
	}
	for p, recs := range rc {
		last := map[int][2]int{} // producer -> last (txn, i) seen in this partition
		for _, r := range recs {
			atOffset[at{p, r.offset}] = r.value
			if prev, dup := visible[r.value]; dup {
				report("duplicate: %q at %d-%d and %d-%d", r.value, prev.partition, prev.offset, p, r.offset)
			}
			visible[r.value] = at{p, r.offset}
			prod, no, i, ok := parseHistValue(r.value)
			tx := byValue[r.value]
			if !ok || tx == nil {
				report("read_committed %d-%d: %q was never written by a finished transaction", p, r.offset, r.value)
				continue
			}
			if tx.partition[r.value] != p {
				report("%q written to partition %d, read from %d", r.value, tx.partition[r.value], p)
			}
			if l, ok := last[prod]; ok && (no < l[0] || (no == l[0] && i <= l[1])) {
				report("order: partition %d offset %d has %q after w%d-%d-%d of the same producer", p, r.offset, r.value, prod, l[0], l[1])
			}
			last[prod] = [2]int{no, i}
		}
	}
	inLog := map[string]bool{}
	for _, recs := range ru {
		for _, r := range recs {
			inLog[r.value] = true
		}
	}
	for _, tx := range history {
		n := 0
		for _, v := range tx.values {
			if _, ok := visible[v]; ok {
				n++
			}
		}
		switch tx.outcome {
		case txnCommitted:
			if n != len(tx.values) {
				report("lost: producer %d transaction %d committed %d records, %d read_committed", tx.producer, tx.no, len(tx.values), n)
			}
		case txnAborted:
			if n != 0 {
				report("aborted visible: producer %d transaction %d aborted, %d of its %d records read_committed", tx.producer, tx.no, n, len(tx.values))
			}
			if tx.deliberate {
				for _, v := range tx.values {
					if !inLog[v] {
						report("aborted write %q acknowledged but not in the log (read_uncommitted)", v)
					}
				}
			}
		case txnUnknown:
			if n != 0 && n != len(tx.values) {
				report("atomicity: producer %d transaction %d (outcome unknown) has %d of %d records read_committed", tx.producer, tx.no, n, len(tx.values))
			}
		}
	}
	for _, s := range observed {
		if final, ok := atOffset[at{s.partition, s.offset}]; !ok || final != s.value {
			report("read during the run: %q at %d-%d, the final log has %q there", s.value, s.partition, s.offset, final)
		}
		if tx := byValue[s.value]; tx != nil && tx.outcome == txnAborted {
			report("read during the run: %q of an aborted transaction", s.value)
		}
	}
	if errs > 20 {
		t.Errorf("... %d violations in all", errs)
	}
	if counts[txnCommitted] == 0 || counts[txnAborted] == 0 {
		t.Errorf("history too thin to check anything: %v", counts)
	}
	t.Logf("history: %d producers, %d transactions (%d committed, %d aborted, %d unknown), %d records; %d faults (kill -9 of nodes %v, each restarted); %d records read_committed, %d read_uncommitted, %d read by the concurrent reader",
		producers, len(history), counts[txnCommitted], counts[txnAborted], counts[txnUnknown], records,
		len(killed), killed, len(visible), len(inLog), len(observed))
}
