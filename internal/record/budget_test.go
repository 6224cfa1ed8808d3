package record

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

func TestBudgetWaitsInOrder(t *testing.T) {
	b := NewBudget(10)
	ctx := context.Background()
	if err := b.Acquire(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if b.TryAcquire(3) {
		t.Fatal("TryAcquire(3) succeeded with 2 of 10 free")
	}
	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- b.Acquire(ctx, 5) }()
	waitFor(t, func() bool { return waiters(b) == 1 })
	go func() { second <- b.Acquire(ctx, 1) }() // fits, but must queue behind the first
	waitFor(t, func() bool { return waiters(b) == 2 })
	select {
	case <-second:
		t.Fatal("a small request overtook a waiting larger one")
	default:
	}
	b.Release(8)
	for _, ch := range []chan error{first, second} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("waiter not granted after release")
		}
	}
	if b.InUse() != 6 {
		t.Fatalf("in use %d, want 6", b.InUse())
	}
	// A canceled waiter leaves the queue and lets the next one through.
	ctx2, cancel := context.WithCancel(ctx)
	blocked := make(chan error, 1)
	go func() { blocked <- b.Acquire(ctx2, 10) }()
	waitFor(t, func() bool { return waiters(b) == 1 })
	cancel()
	if err := <-blocked; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled Acquire: %v", err)
	}
	if !b.TryAcquire(4) || b.InUse() != 10 {
		t.Fatalf("in use %d after cancel, want the freed room usable", b.InUse())
	}
	// Requests over the size are clipped to it.
	b.Release(10)
	if !b.TryAcquire(1 << 40) {
		t.Fatal("oversized request not clipped")
	}
	b.Release(1 << 40)
	if b.InUse() != 0 {
		t.Fatalf("in use %d, want 0", b.InUse())
	}
}

func waiters(b *Budget) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.mu.waiters)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		runtime.Gosched() // arustest.Eventually would import this package back
	}
}
