//go:build integration

package crash

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKillMidTransaction SIGKILLs the broker while a transactional
// producer has a transaction open, after a history of committed and
// aborted transactions. After the restart the partitions rebuild their
// last stable offsets and aborted-transaction lists from the log, the
// coordinator reloads __transaction_state, a new producer with the same
// transactional id fences the dead one (its open transaction is
// aborted), and a read_committed consumer sees exactly the committed
// transactions, in order.
func TestKillMidTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real arus process")
	}
	rng, _ := seededRand(t)
	b := newBroker(t)
	b.start()
	createTopic(t, b.addr())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const id = "crash-txn"
	newProducer := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr()), kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.RetryTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	committed := map[int32][]string{}
	uncommitted := 0
	txn := func(cl *kgo.Client, n int, end *bool, label string) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("%s-%d", label, i))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", label, err)
		}
		if end == nil {
			uncommitted += n
			return // left open
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(*end)); err != nil {
			t.Fatalf("end %s: %v", label, err)
		}
		if *end {
			for _, r := range recs {
				committed[r.Partition] = append(committed[r.Partition], string(r.Value))
			}
		} else {
			uncommitted += n
		}
	}
	cl := newProducer()
	rounds := 10 + rng.IntN(10)
	for i := 0; i < rounds; i++ {
		commit := rng.IntN(3) != 0
		txn(cl, 1+rng.IntN(30), &commit, fmt.Sprintf("t%d", i))
	}
	txn(cl, 25, nil, "open")
	b.signal(syscall.SIGKILL)
	cl.Close()
	b.start()

	// A restarted application: same transactional id, fences the old one.
	cl = newProducer()
	defer cl.Close()
	commit := true
	txn(cl, 10, &commit, "after")

	want := 0
	for _, v := range committed {
		want += len(v)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(b.addr()), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := map[int32][]string{}
	n := 0
	for n < want && ctx.Err() == nil {
		consumer.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], string(r.Value))
			n++
		})
	}
	// Anything more would be an aborted or duplicated record: poll a little longer.
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	for short.Err() == nil {
		consumer.PollFetches(short).EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], string(r.Value))
			n++
		})
	}
	for p := int32(0); p < numPartitions; p++ {
		if !slices.Equal(got[p], committed[p]) {
			t.Errorf("partition %d: read_committed got %d records %v, want the %d committed %v", p, len(got[p]), got[p], len(committed[p]), committed[p])
		}
	}
	t.Logf("%d transactions, %d committed records, %d aborted or never committed; all read back exactly once", rounds+2, want, uncommitted)
}
