package broker_test

// Transactions with real clients: franz-go transactional producers,
// read_committed and read_uncommitted consumers, fencing.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
)

// consumeValues reads topic from the start with the given isolation until
// want records arrived or ctx ends, and returns the values per partition.
func consumeValues(t *testing.T, ctx context.Context, addr, topic string, want int, committed bool) map[int32][]string {
	t.Helper()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl := newFranz(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	out := map[int32][]string{}
	n := 0
	for n < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Errorf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], string(r.Value))
			n++
		})
	}
	return out
}

func produceTxn(t *testing.T, ctx context.Context, cl *kgo.Client, topic, prefix string, n int, commit bool) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction (commit %v): %v", commit, err)
	}
}

func TestFranzGoTransactionsReadCommitted(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "txn-out", 1, nil)
	cl := newFranz(t, b.Addr(), kgo.TransactionalID("tx-1"), kgo.DefaultProduceTopic("txn-out"))

	produceTxn(t, ctx, cl, "txn-out", "a", 10, true)
	produceTxn(t, ctx, cl, "txn-out", "b", 5, false)
	produceTxn(t, ctx, cl, "txn-out", "c", 3, true)

	var want []string
	for i := 0; i < 10; i++ {
		want = append(want, fmt.Sprintf("a-%d", i))
	}
	for i := 0; i < 3; i++ {
		want = append(want, fmt.Sprintf("c-%d", i))
	}
	got := consumeValues(t, ctx, b.Addr(), "txn-out", len(want), true)
	if !slices.Equal(got[0], want) {
		t.Fatalf("read_committed got %v, want %v", got[0], want)
	}
	all := consumeValues(t, ctx, b.Addr(), "txn-out", 18, false)
	if len(all[0]) != 18 || all[0][10] != "b-0" {
		t.Fatalf("read_uncommitted got %v", all[0])
	}
}

// TestFranzGoGroupTransactSession: consume-transform-produce with
// GroupTransactSession. Input offsets are committed inside each
// transaction; a second session resuming the group after the first one
// commits half of the input continues where it stopped, and the
// read_committed output holds every input record exactly once, in order.
func TestFranzGoGroupTransactSession(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithGroupInitialRebalanceDelay(0))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "ctp-in", 1, nil)
	createTopic(t, ctx, b.Addr(), "ctp-out", 1, nil)
	const n = 200
	in := newFranz(t, b.Addr(), kgo.DefaultProduceTopic("ctp-in"))
	for i := 0; i < n; i += 5 { // small batches: many fetches, many transactions
		var recs []*kgo.Record
		for j := i; j < i+5; j++ {
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("%d", j))})
		}
		if err := in.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// transform runs one session until at least stopAfter records were
	// committed by all sessions together, or ctx ends.
	done := 0
	transform := func(stopAfter int, abortEvery int) {
		sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("ctp"),
			kgo.ConsumerGroup("ctp-group"), kgo.ConsumeTopics("ctp-in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.DefaultProduceTopic("ctp-out"), kgo.FetchMaxWait(200*time.Millisecond), kgo.FetchMaxPartitionBytes(200))
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		round := 0
		for done < stopAfter && ctx.Err() == nil {
			fs := sess.PollFetches(ctx)
			if fs.IsClientClosed() || ctx.Err() != nil {
				return
			}
			if err := sess.Begin(); err != nil {
				t.Fatal(err)
			}
			count := 0
			fs.EachRecord(func(r *kgo.Record) {
				sess.Produce(ctx, &kgo.Record{Value: append([]byte("out-"), r.Value...)}, nil)
				count++
			})
			round++
			commit := abortEvery == 0 || round%abortEvery != 0
			if !commit {
				// Make the aborted records reach the log (End would drop
				// them unsent otherwise).
				if err := sess.Client().Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			committed, err := sess.End(ctx, kgo.TransactionEndTry(commit))
			if err != nil {
				t.Fatalf("end: %v", err)
			}
			if committed {
				done += count
			}
		}
	}
	transform(n/2, 3)
	transform(n, 0)

	// Read one more than expected, briefly: a duplicate would show up.
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	got := consumeValues(t, short, b.Addr(), "ctp-out", n+1, true)[0]
	if len(got) != n {
		t.Fatalf("read_committed output has %d records, want %d", len(got), n)
	}
	short2, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	if all := consumeValues(t, short2, b.Addr(), "ctp-out", n+1, false)[0]; len(all) <= n {
		t.Fatalf("read_uncommitted output has %d records: the aborted transactions wrote nothing?", len(all))
	}
	for i := 0; i < n; i++ {
		if want := fmt.Sprintf("out-%d", i); got[i] != want {
			t.Fatalf("output[%d] = %s, want %s (exactly once, in order)", i, got[i], want)
		}
	}
}

// TestFranzGoTransactionFencing: a second producer with the same
// transactional id fences the first; the first's open transaction is
// aborted, its commit fails, and nothing it wrote is visible to
// read_committed.
func TestFranzGoTransactionFencing(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "fence", 1, nil)
	zombie := newFranz(t, b.Addr(), kgo.TransactionalID("fence-id"), kgo.DefaultProduceTopic("fence"))
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	fresh := newFranz(t, b.Addr(), kgo.TransactionalID("fence-id"), kgo.DefaultProduceTopic("fence"))
	produceTxn(t, ctx, fresh, "fence", "fresh", 3, true)

	err := zombie.EndTransaction(ctx, kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie commit: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	got := consumeValues(t, short, b.Addr(), "fence", 4, true)[0]
	if !slices.Equal(got, []string{"fresh-0", "fresh-1", "fresh-2"}) {
		t.Fatalf("read_committed: %v", got)
	}
}

// TestTransactionTimeoutAborts: the coordinator aborts a transaction past
// its transaction.timeout.ms, so the LSO moves on and read_committed
// consumers are not blocked by a producer that went away.
func TestTransactionTimeoutAborts(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTransactionAbortInterval(50*time.Millisecond))
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "timeout", 1, nil)
	gone := newFranz(t, b.Addr(), kgo.TransactionalID("timeout-id"), kgo.DefaultProduceTopic("timeout"),
		kgo.TransactionTimeout(time.Second))
	if err := gone.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := gone.ProduceSync(ctx, &kgo.Record{Value: []byte("lost")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	plain := newFranz(t, b.Addr(), kgo.DefaultProduceTopic("timeout"))
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Blocked behind the open transaction until the coordinator aborts it.
	got := consumeValues(t, ctx, b.Addr(), "timeout", 1, true)[0]
	if !slices.Equal(got, []string{"after"}) {
		t.Fatalf("read_committed: %v", got)
	}
	if err := gone.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the timed-out producer committed")
	}
}

// TestSaramaTransactionalProducer: sarama's transactional producer
// commits and aborts; read_committed sees only the committed messages.
func TestSaramaTransactionalProducer(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "sarama-txn", 1, nil)
	cfg := saramaConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Transaction.ID = "sarama-tx"
	cfg.Net.MaxOpenRequests = 1
	p := newSaramaProducer(t, b.Addr(), cfg)
	send := func(prefix string, n int, commit bool) {
		t.Helper()
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "sarama-txn", Value: sarama.StringEncoder(fmt.Sprintf("%s-%d", prefix, i))}); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		var err error
		if commit {
			err = p.CommitTxn()
		} else {
			err = p.AbortTxn()
		}
		if err != nil {
			t.Fatalf("end (commit %v): %v", commit, err)
		}
	}
	send("a", 4, true)
	send("b", 3, false)
	send("c", 2, true)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	got := consumeValues(t, short, b.Addr(), "sarama-txn", 7, true)[0]
	if want := []string{"a-0", "a-1", "a-2", "a-3", "c-0", "c-1"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed: %v, want %v", got, want)
	}
}

// TestDescribeAndListTransactions: kadm's DescribeTransactions,
// ListTransactions and DescribeProducers show an open transaction.
func TestDescribeAndListTransactions(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	createTopic(t, ctx, b.Addr(), "described", 1, nil)
	cl := newFranz(t, b.Addr(), kgo.TransactionalID("described-id"), kgo.DefaultProduceTopic("described"))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	described, err := adm.DescribeTransactions(ctx, "described-id")
	if err != nil {
		t.Fatal(err)
	}
	d, ok := described["described-id"]
	if !ok || d.Err != nil || d.State != "Ongoing" || len(d.Topics["described"]) != 1 || d.ProducerID < 0 {
		t.Fatalf("describe: %+v", described)
	}
	listed, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := listed["described-id"]; !ok || s.State != "Ongoing" || s.ProducerID != d.ProducerID {
		t.Fatalf("list Ongoing: %+v", listed)
	}
	if listed, err := adm.ListTransactions(ctx, nil, []string{"CompleteCommit"}); err != nil || len(listed) != 0 {
		t.Fatalf("list CompleteCommit: %+v %v", listed, err)
	}
	producers, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"described": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	producers.EachProducer(func(p kadm.DescribedProducer) {
		if p.ProducerID == d.ProducerID && p.CurrentTxnStartOffset == 0 {
			found = true
		}
	})
	if !found {
		t.Fatalf("describe producers: %+v", producers)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	arustest.Eventually(t, 5*time.Second, "transaction complete", func() bool {
		described, err := adm.DescribeTransactions(ctx, "described-id")
		return err == nil && described["described-id"].State == "CompleteCommit"
	})
}
