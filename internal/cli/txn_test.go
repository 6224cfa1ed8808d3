package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIntegrationTxnCommands lists and describes an open transaction, then
// aborts it: its producer is fenced and the transaction ends aborted.
func TestIntegrationTxnCommands(t *testing.T) {
	addr := testBroker(t)
	topic := testTopic(t, "txn")
	id := testTopic(t, "id")
	createTestTopic(t, addr, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	out, _ := mustRun(t, newTxnCommand, "", "list", "--state", "Ongoing", "-b", addr)
	if !strings.Contains(out, id) || !strings.Contains(out, "Ongoing") {
		t.Fatalf("list:\n%s", out)
	}
	out, _ = mustRun(t, newTxnCommand, "", "list", "--min-duration", "1h", "-b", addr)
	if strings.Contains(out, id) {
		t.Fatalf("list --min-duration 1h shows a new transaction:\n%s", out)
	}
	out, _ = mustRun(t, newTxnCommand, "", "describe", id, "-b", addr)
	if !strings.Contains(out, "Ongoing") || !strings.Contains(out, topic+"-0") {
		t.Fatalf("describe:\n%s", out)
	}
	out, _ = mustRun(t, newTxnCommand, "", "abort", id, "-b", addr)
	if !strings.Contains(out, "aborted") {
		t.Fatalf("abort:\n%s", out)
	}
	out, _ = mustRun(t, newTxnCommand, "", "describe", id, "-b", addr)
	if !strings.Contains(out, "Empty") {
		t.Fatalf("describe after abort:\n%s", out)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the fenced producer committed")
	}
}
