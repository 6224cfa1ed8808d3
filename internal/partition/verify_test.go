package partition

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestTxnVerificationGuard: a transactional batch that opens a
// transaction needs a current verification; a marker of the producer's
// transaction between the verification and the append voids it (the late
// write of a finished transaction cannot open a hanging one), while a
// transaction-version-2 marker, which carries the next transaction's
// epoch, keeps a verification made at that epoch.
func TestTxnVerificationGuard(t *testing.T) {
	p := openTest(t, t.TempDir(), nil)
	ctx := context.Background()
	guard, err := p.StartTxnVerification(1, 0)
	if err != nil || guard == 0 {
		t.Fatalf("first verification: %d %v", guard, err)
	}
	if again, _ := p.StartTxnVerification(1, 0); again != guard {
		t.Fatalf("a second verification in progress got guard %d, want the shared %d", again, guard)
	}
	if _, err := p.AppendVerified(ctx, txnBatch(t, 1, 0, 0, 1), -1, guard+1); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("stale guard: %v", err)
	}
	if _, err := p.AppendVerified(ctx, txnBatch(t, 1, 0, 0, 1), -1, guard); err != nil {
		t.Fatalf("verified append: %v", err)
	}
	// Open here now: no verification needed for the next batch.
	if g, err := p.StartTxnVerification(1, 0); err != nil || g != 0 {
		t.Fatalf("verification of an open transaction: %d %v", g, err)
	}
	marker(t, p, 1, 0, true)

	// Verify, then the transaction ends (marker), then the late batch.
	guard, _ = p.StartTxnVerification(1, 0)
	marker(t, p, 1, 0, false)
	end := p.LogEndOffset()
	if _, err := p.AppendVerified(ctx, txnBatch(t, 1, 0, 1, 1), -1, guard); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("append after a marker voided the verification: %v", err)
	}
	if p.LogEndOffset() != end {
		t.Fatal("the refused batch was appended")
	}

	// Transaction version 2: data at epoch 0, marker at epoch 1. The next
	// transaction (epoch 1) was verified before that marker landed.
	guard, _ = p.StartTxnVerification(2, 0)
	if _, err := p.AppendVerified(ctx, txnBatch(t, 2, 0, 0, 1), -1, guard); err != nil {
		t.Fatal(err)
	}
	next, _ := p.StartTxnVerification(2, 1)
	if _, err := p.AppendMarker(Marker{ProducerID: 2, ProducerEpoch: 0, CoordinatorEpoch: 1, Commit: true, TransactionVersion: 2}); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("version-2 marker without an epoch bump: %v", err)
	}
	res, err := p.AppendMarker(Marker{ProducerID: 2, ProducerEpoch: 1, CoordinatorEpoch: 1, Commit: true, TransactionVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.WaitReplicated(wctx, res.End); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendVerified(ctx, txnBatch(t, 2, 0, 1, 1), -1, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("late write of the finished epoch: %v", err)
	}
	if _, err := p.AppendVerified(ctx, txnBatch(t, 2, 1, 0, 1), -1, next); err != nil {
		t.Fatalf("next transaction's verified batch after the version-2 marker: %v", err)
	}
}

// TestExpireProducers: producer.id.expiration.ms forgets idle producers
// but never one with an open transaction; a forgotten producer's next
// batch is accepted with any sequence, a known one's gap is refused.
func TestExpireProducers(t *testing.T) {
	p := openTest(t, t.TempDir(), nil)
	if _, err := appendDurable(t, p, idBatch(t, 1, 0, 0, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := appendDurable(t, p, txnBatch(t, 2, 0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(idBatch(t, 1, 0, 5, 1), -1); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap of a known producer: %v", err)
	}
	if n := p.ExpireProducers(time.Now(), time.Hour); n != 0 {
		t.Fatalf("expired %d producers before their time", n)
	}
	if n := p.ExpireProducers(time.Now().Add(2*time.Hour), time.Hour); n != 1 {
		t.Fatalf("expired %d producers, want 1 (producer 2's transaction is open)", n)
	}
	if len(p.Producers()) != 1 || p.Producers()[0].ProducerID != 2 {
		t.Fatalf("producers left: %+v", p.Producers())
	}
	if _, err := appendDurable(t, p, idBatch(t, 1, 0, 5, 1)); err != nil {
		t.Fatalf("batch of an expired producer: %v", err)
	}
	// Its state survives a restart through the snapshot, with its time.
	dir := p.dir
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openTest(t, dir, nil)
	defer p.Close()
	if n := p.ExpireProducers(time.Now(), time.Hour); n != 0 {
		t.Fatalf("expired %d producers right after a restart", n)
	}
	if n := p.ExpireProducers(time.Now().Add(2*time.Hour), time.Hour); n != 1 {
		t.Fatalf("expired %d producers after a restart, want 1", n)
	}
}

// TestProducerStateOutlivesRetention: retention removing every batch of a
// producer does not forget it (Kafka keeps producer state until
// producer.id.expiration.ms, KIP-360), even across a crash: the
// retention pass writes a producer snapshot at or above the new log
// start. The producer goes on in sequence; a gap is
// OUT_OF_ORDER_SEQUENCE_NUMBER.
func TestProducerStateOutlivesRetention(t *testing.T) {
	dir := t.TempDir()
	conf := map[string]string{"segment.bytes": "100", "retention.ms": "1"}
	p := openTest(t, dir, conf)
	for seq := int32(0); seq < 2; seq++ {
		if _, err := appendDurable(t, p, idBatch(t, 1, 0, seq, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := appendDurable(t, p, idBatch(t, 2, 0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if n, err := p.EnforceRetention(); err != nil || n == 0 || p.LogStartOffset() < 2 {
		t.Fatalf("retention deleted %d segments (%v), log start %d; want producer 1's batches gone", n, err, p.LogStartOffset())
	}
	crashDir := t.TempDir()
	copyDir(t, dir, crashDir) // as a kill -9 leaves it: no clean-shutdown snapshot
	p.Close()
	p = openTest(t, crashDir, conf)
	defer p.Close()
	if _, err := p.Append(idBatch(t, 1, 0, 9, 1), -1); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("sequence gap after retention and a crash: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", err)
	}
	if _, err := appendDurable(t, p, idBatch(t, 1, 0, 2, 1)); err != nil {
		t.Fatalf("next batch in sequence: %v", err)
	}
}
