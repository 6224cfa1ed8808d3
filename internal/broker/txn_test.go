package broker_test

// Transactions with real clients: franz-go transactional producers,
// read_committed and read_uncommitted consumers, fencing.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

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
