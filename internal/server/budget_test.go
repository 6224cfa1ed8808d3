package server

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

func TestBudgetFirstComeFirstServed(t *testing.T) {
	b := newBudget(100)
	ctx := context.Background()
	if err := b.acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	big := make(chan error, 1)
	go func() { big <- b.acquire(ctx, 80) }()
	waitFor(t, 5*time.Second, "the large acquire queued", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.mu.waiters) == 1
	})
	// A small request that would fit waits behind the large one.
	small := make(chan error, 1)
	go func() { small <- b.acquire(ctx, 10) }()
	waitFor(t, 5*time.Second, "the small acquire queued", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.mu.waiters) == 2
	})
	b.release(60)
	if err := <-big; err != nil {
		t.Fatal(err)
	}
	if err := <-small; err != nil {
		t.Fatal(err)
	}
	if got := b.inUse(); got != 90 {
		t.Fatalf("in use %d, want 90", got)
	}
	// More than the whole budget takes all of it rather than waiting forever.
	b.release(80)
	b.release(10)
	if err := b.acquire(ctx, 1000); err != nil || b.inUse() != 100 {
		t.Fatalf("acquire(1000) = %v, in use %d", err, b.inUse())
	}
	b.release(1000)
}

func TestBudgetWaitEndsWithContext(t *testing.T) {
	b := newBudget(10)
	if err := b.acquire(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.acquire(ctx, 5) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	b.release(10)
	if got := b.inUse(); got != 0 {
		t.Fatalf("in use %d after a cancelled wait", got)
	}
}

// TestRequestBudgetHoldsReaders: while the request budget is taken, a
// connection does not read its next request; it is served once room frees.
func TestRequestBudgetHoldsReaders(t *testing.T) {
	s := startTestServer(t, Config{MaxRequestBytes: 1 << 20, QueuedMaxRequestBytes: 1 << 20})
	hog := dial(t, s)
	// Claims 1 MiB (the whole budget) and sends 10 bytes.
	if _, err := hog.Write(append(binary.BigEndian.AppendUint32(nil, 1<<20), make([]byte, 10)...)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the 1 MiB request holds the budget", func() bool { return s.requestBytes.inUse() == 1<<20 })
	other := dial(t, s)
	if err := roundTrip(other, 1, 300*time.Millisecond); err == nil {
		t.Fatal("a request was read while the budget was spent")
	}
	hog.Close()
	_ = other.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got := readResponse(t, other); got != 1 {
		t.Fatalf("correlation id %d, want 1", got)
	}
	waitFor(t, 5*time.Second, "the budget is given back", func() bool { return s.requestBytes.inUse() == 0 })
}

// TestClaimedSizeCostsWhatArrives: a client claiming 100 MiB and sending
// 10 bytes costs about the first chunk (64 KiB), not 100 MiB.
func TestClaimedSizeCostsWhatArrives(t *testing.T) {
	const liars = 20
	s := startTestServer(t, Config{MaxRequestBytes: 100 << 20, QueuedMaxRequestBytes: 1 << 40})
	before := heapAndStacks()
	for range liars {
		c := dial(t, s)
		if _, err := c.Write(append(binary.BigEndian.AppendUint32(nil, 100<<20), make([]byte, 10)...)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "every claim is being read", func() bool { return s.requestBytes.inUse() == liars*frameCost(100<<20) })
	per := (int64(heapAndStacks()) - int64(before)) / liars
	t.Logf("a connection claiming 100 MiB and sending 10 bytes holds %d bytes", per)
	if per > 256<<10 {
		t.Fatalf("a 10-byte start of a 100 MiB request costs %d bytes", per)
	}
}
