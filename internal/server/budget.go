package server

import (
	"context"
	"sync"
)

// budget is a broker-wide allowance of bytes (queued.max.request.bytes),
// handed out first come, first served: a large request waiting for room is
// not overtaken by smaller ones that arrive after it, so it cannot starve.
// A limit <= 0 means unbounded.
type budget struct {
	limit int64

	mu struct {
		sync.Mutex
		used    int64
		waiters []*budgetWaiter // FIFO
	}
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

func newBudget(limit int64) *budget { return &budget{limit: limit} }

// charge is what acquiring n costs: a request larger than the whole budget
// takes all of it (instead of waiting forever).
func (b *budget) charge(n int64) int64 { return min(n, b.limit) }

// acquire waits until n bytes are free and takes them, or returns ctx's
// error. The caller passes the same n to release.
func (b *budget) acquire(ctx context.Context, n int64) error {
	if b.limit <= 0 {
		return nil
	}
	n = b.charge(n)
	b.mu.Lock()
	if len(b.mu.waiters) == 0 && b.mu.used+n <= b.limit {
		b.mu.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.mu.waiters = append(b.mu.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.mu.used -= n
		default:
			for i, x := range b.mu.waiters {
				if x == w {
					b.mu.waiters = append(b.mu.waiters[:i], b.mu.waiters[i+1:]...)
					break
				}
			}
		}
		b.grantLocked()
		b.mu.Unlock()
		return ctx.Err()
	}
}

// release returns n bytes taken by acquire.
func (b *budget) release(n int64) {
	if b.limit <= 0 {
		return
	}
	b.mu.Lock()
	b.mu.used -= b.charge(n)
	b.grantLocked()
	b.mu.Unlock()
}

// grantLocked wakes waiters in order while the first one fits.
func (b *budget) grantLocked() {
	for len(b.mu.waiters) > 0 {
		w := b.mu.waiters[0]
		if b.mu.used+w.n > b.limit {
			return
		}
		b.mu.used += w.n
		b.mu.waiters[0] = nil
		b.mu.waiters = b.mu.waiters[1:]
		close(w.ready)
	}
}

// inUse reports the bytes taken (tests and metrics).
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.used
}
