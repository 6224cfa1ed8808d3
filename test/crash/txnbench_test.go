//go:build integration

package crash

// TestTxnBench measures transactional produce against real arus processes
// and is skipped unless ARUS_TXN_BENCH is set (it is a measurement, not a
// check; BENCHMARKS.md "Transactions" has its numbers):
//
//	ARUS_TXN_BENCH=1 go test -tags integration -count=1 -v -run TestTxnBench ./test/crash/
//
// In one sitting, on one node (RF 1) and on three nodes (RF 3,
// min.insync.replicas 2), a topic of 3 partitions receives records of 100
// bytes from one franz-go producer, acks=all, round-robin over the
// partitions, in four modes, ARUS_TXN_BENCH_ROUNDS (default 2) times each,
// interleaved: ARUS_TXN_BENCH_RECORDS (default 100,000) records in the
// modes with transactions of 100, ten times as many in the others:
//
//   - idempotent, not transactional (async produce, one Flush at the end);
//   - transactions of 100 records (Begin, 100 async produces, Flush, EndTxn commit);
//   - the same with franz-go's CONCURRENT_TRANSACTIONS backoff at 1 ms instead
//     of 20 ms: the next transaction's AddPartitionsToTxn arrives while the
//     previous one's markers are still being written and is refused with
//     CONCURRENT_TRANSACTIONS (as Kafka does), so the default backoff bounds
//     small transactions at about 40 per second;
//   - transactions of 10,000 records.
//
// It logs records/s per mode and round and the EndTxn latency (the
// request's round trip seen by the client, franz-go's BrokerE2E hook)
// p50/p99/max per mode. Nothing is asserted beyond every record being
// acknowledged and every commit succeeding.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// endTxnTimes records the round trip of every EndTxn request (key 26)
// and counts the requests of the transaction APIs (AddPartitionsToTxn 24
// is retried while the previous transaction's markers are being written).
type endTxnTimes struct {
	mu       sync.Mutex
	times    []time.Duration
	requests map[int16]int
}

func (h *endTxnTimes) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	if e.Err() != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.requests == nil {
		h.requests = map[int16]int{}
	}
	h.requests[key]++
	if key == 26 {
		h.times = append(h.times, e.DurationE2E())
	}
}

// percentiles returns p50, p99 and the maximum.
func (h *endTxnTimes) percentiles() (p50, p99, maxT time.Duration, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ts := slices.Clone(h.times)
	if len(ts) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(ts)
	at := func(q float64) time.Duration { return ts[min(len(ts)-1, int(q*float64(len(ts))))] }
	return at(0.50), at(0.99), ts[len(ts)-1], len(ts)
}

func TestTxnBench(t *testing.T) {
	if os.Getenv("ARUS_TXN_BENCH") == "" {
		t.Skip("a measurement: set ARUS_TXN_BENCH=1 to run it")
	}
	records := envInt(t, "ARUS_TXN_BENCH_RECORDS", 100_000)
	rounds := envInt(t, "ARUS_TXN_BENCH_ROUNDS", 2)
	t.Run("1node", func(t *testing.T) {
		b := newBroker(t)
		b.start()
		createTopic(t, b.addr())
		runTxnBench(t, []string{b.addr()}, topic, records, rounds)
	})
	t.Run("3nodes-rf3", func(t *testing.T) {
		c := txnCluster(t, "txnbench")
		c.waitHealthy(60*time.Second, "topic fully replicated")
		runTxnBench(t, c.addrs(), "txnbench", records, rounds)
	})
}

func runTxnBench(t *testing.T, seeds []string, topicName string, records, rounds int) {
	modes := []struct {
		name    string
		txnSize int           // 0: not transactional
		backoff time.Duration // franz-go's CONCURRENT_TRANSACTIONS backoff (default 20 ms)
	}{
		{"idempotent, no transactions", 0, 0},
		{"transactions of 100", 100, 0},
		{"transactions of 100, 1 ms backoff", 100, time.Millisecond},
		{"transactions of 10,000", 10_000, 0},
	}
	hooks := make([]*endTxnTimes, len(modes))
	for i := range hooks {
		hooks[i] = &endTxnTimes{}
	}
	rates := make([][]float64, len(modes))
	value := make([]byte, 100)
	for round := 0; round < rounds; round++ {
		for i, m := range modes {
			opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topicName),
				kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.WithHooks(hooks[i])}
			if m.txnSize > 0 {
				opts = append(opts, kgo.TransactionalID(fmt.Sprintf("bench-%d-%d", i, round)))
			}
			if m.backoff > 0 {
				opts = append(opts, kgo.ConcurrentTransactionsBackoff(m.backoff))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			var failed atomic.Int64
			promise := func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
				}
			}
			records := records
			if m.txnSize != 100 {
				// Fast modes: ten times the records, or the run is too
				// short to measure (W1's million by default).
				records *= 10
			}
			start := time.Now()
			if m.txnSize == 0 {
				for n := 0; n < records; n++ {
					cl.Produce(ctx, &kgo.Record{Value: value}, promise)
				}
				if err := cl.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				for n := 0; n < records; n += m.txnSize {
					if err := cl.BeginTransaction(); err != nil {
						t.Fatal(err)
					}
					for k := 0; k < m.txnSize && n+k < records; k++ {
						cl.Produce(ctx, &kgo.Record{Value: value}, promise)
					}
					if err := cl.Flush(ctx); err != nil {
						t.Fatal(err)
					}
					if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
						t.Fatalf("%s: commit: %v", m.name, err)
					}
				}
			}
			took := time.Since(start)
			cancel()
			cl.Close()
			if f := failed.Load(); f > 0 {
				t.Fatalf("%s: %d records not acknowledged", m.name, f)
			}
			rate := float64(records) / took.Seconds()
			rates[i] = append(rates[i], rate)
			t.Logf("round %d, %s: %d records in %s, %.0f records/s", round+1, m.name, records, took.Round(time.Millisecond), rate)
		}
	}
	for i, m := range modes {
		line := fmt.Sprintf("%s: records/s %v", m.name, roundAll(rates[i]))
		if p50, p99, mx, n := hooks[i].percentiles(); n > 0 {
			line += fmt.Sprintf("; EndTxn (%d) p50 %s, p99 %s, max %s", n,
				p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), mx.Round(10*time.Microsecond))
		}
		hooks[i].mu.Lock()
		line += fmt.Sprintf("; requests: Produce %d, AddPartitionsToTxn %d, EndTxn %d",
			hooks[i].requests[0], hooks[i].requests[24], hooks[i].requests[26])
		hooks[i].mu.Unlock()
		t.Log(line)
	}
}

func roundAll(xs []float64) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = int(x + 0.5)
	}
	return out
}
