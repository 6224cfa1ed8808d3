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
	first, err := b.begin(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	big := make(chan *frameCharge, 1)
	go func() {
		f, _ := b.begin(ctx, 80)
		big <- f
	}()
	waitFor(t, 5*time.Second, "the large frame queued", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.mu.waiters) == 1
	})
	// A small frame that would fit waits behind the large one.
	small := make(chan *frameCharge, 1)
	go func() {
		f, _ := b.begin(ctx, 10)
		small <- f
	}()
	waitFor(t, 5*time.Second, "the small frame queued", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.mu.waiters) == 2
	})
	b.end(first)
	fb, fs := <-big, <-small
	if got := b.inUse(); got != 90 {
		t.Fatalf("in use %d, want 90", got)
	}
	b.end(fb)
	b.end(fs)
	if got := b.inUse(); got != 0 {
		t.Fatalf("in use %d after every frame ended", got)
	}
}

// Frames that grow while they are read cannot deadlock: two frames each
// holding half the budget and each needing more proceed, the oldest first
// (it may overdraw the limit by one request).
func TestBudgetGrowingFramesDoNotDeadlock(t *testing.T) {
	b := newBudget(100)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	older, _ := b.begin(ctx, 50)
	younger, _ := b.begin(ctx, 50)
	grown := make(chan error, 1)
	go func() { grown <- b.grow(ctx, younger, 100) }()
	waitFor(t, 5*time.Second, "the younger frame waits", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.mu.waiters) == 1
	})
	// The oldest frame grows past the limit at once.
	if err := b.grow(ctx, older, 100); err != nil {
		t.Fatal(err)
	}
	if got := b.inUse(); got != 200 {
		t.Fatalf("in use %d, want 200 (the oldest frame overdraws)", got)
	}
	b.end(older) // the younger one is now the oldest
	if err := <-grown; err != nil {
		t.Fatal(err)
	}
	b.end(younger)
	if got := b.inUse(); got != 0 {
		t.Fatalf("in use %d", got)
	}
}

func TestBudgetWaitEndsWithContext(t *testing.T) {
	b := newBudget(10)
	holder, err := b.begin(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.begin(ctx, 5)
		done <- err
	}()
	waitFor(t, 5*time.Second, "the frame queued", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.mu.waiters) == 1
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	b.end(holder)
	if got := b.inUse(); got != 0 {
		t.Fatalf("in use %d after a cancelled wait", got)
	}
}

// TestRequestBudgetHoldsReaders: while the request budget is taken, a
// connection does not read its next request; it is served once room frees.
func TestRequestBudgetHoldsReaders(t *testing.T) {
	s := startTestServer(t, Config{MaxRequestBytes: 1 << 20, QueuedMaxRequestBytes: 1 << 20})
	hog := dial(t, s)
	// Claims 1 MiB and sends half of it and a bit: its buffer has grown
	// to 1 MiB, the whole budget.
	if _, err := hog.Write(append(binary.BigEndian.AppendUint32(nil, 1<<20), make([]byte, 512<<10+10)...)); err != nil {
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
	waitFor(t, 5*time.Second, "every claim is being read", func() bool { return s.requestBytes.inUse() == liars*firstCost(100<<20) })
	per := (int64(heapAndStacks()) - int64(before)) / liars
	t.Logf("a connection claiming 100 MiB and sending 10 bytes holds %d bytes", per)
	if per > 256<<10 {
		t.Fatalf("a 10-byte start of a 100 MiB request costs %d bytes", per)
	}
}

// TestStalledClaimsDoNotLockOthersOut: connections that claim 100 MiB and
// then stall hold what they sent (a first chunk), not what they claimed,
// so with a 1 MiB request budget other clients are still served.
func TestStalledClaimsDoNotLockOthersOut(t *testing.T) {
	s := startTestServer(t, Config{MaxRequestBytes: 100 << 20, QueuedMaxRequestBytes: 1 << 20})
	const liars = 8
	for range liars {
		if _, err := dial(t, s).Write(append(binary.BigEndian.AppendUint32(nil, 100<<20), make([]byte, 10)...)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "every claim is being read", func() bool { return s.requestBytes.inUse() == liars*firstCost(100<<20) })
	other := dial(t, s)
	if err := roundTrip(other, 1, 10*time.Second); err != nil {
		t.Fatalf("a client was not served while claims stalled: %v", err)
	}
}
