package server

import (
	"context"
	"sync"
)

// budget is a broker-wide allowance of bytes (queued.max.request.bytes) for
// request frames being read or waiting to be handled. A frame is charged
// for the buffer it really holds, which grows as its bytes arrive: a
// client that claims 100 MiB and sends ten bytes holds one first chunk, so
// stalled claims cannot lock other connections out.
//
// Grants are first come, first served, so a large request waiting for room
// is not overtaken by smaller ones that arrive after it. Because frames
// grow while they are read, frames that are half read could each wait for
// room the others hold; to rule that deadlock out, the oldest frame being
// read may always grow (overdrawing the limit by at most one request, at
// most socket.request.max.bytes). A limit <= 0 means unbounded.
type budget struct {
	limit int64

	mu struct {
		sync.Mutex
		used    int64
		nextSeq uint64
		active  map[uint64]struct{} // frames being read, by start order
		waiters []*budgetWaiter     // FIFO
	}
}

type budgetWaiter struct {
	n     int64
	frame *frameCharge  // nil for a frame that has not started
	ready chan struct{} // closed when granted
}

// frameCharge is what one frame holds of the budget.
type frameCharge struct {
	seq     uint64
	charged int64
}

func newBudget(limit int64) *budget {
	b := &budget{limit: limit}
	b.mu.active = map[uint64]struct{}{}
	return b
}

// begin waits for room for the first n bytes of a frame and starts it.
func (b *budget) begin(ctx context.Context, n int64) (*frameCharge, error) {
	f := &frameCharge{}
	if b.limit <= 0 {
		return f, nil
	}
	if err := b.wait(ctx, n, nil); err != nil {
		return nil, err
	}
	f.charged = n
	b.mu.Lock()
	b.mu.nextSeq++
	f.seq = b.mu.nextSeq
	b.mu.active[f.seq] = struct{}{}
	b.mu.Unlock()
	return f, nil
}

// grow waits for room for n more bytes of frame f (its buffer grew).
func (b *budget) grow(ctx context.Context, f *frameCharge, n int64) error {
	if b.limit <= 0 {
		return nil
	}
	if err := b.wait(ctx, n, f); err != nil {
		return err
	}
	f.charged += n
	return nil
}

// end gives back everything frame f holds (its request was handled or the
// frame was abandoned).
func (b *budget) end(f *frameCharge) {
	if b.limit <= 0 || f == nil {
		return
	}
	b.mu.Lock()
	b.mu.used -= f.charged
	f.charged = 0
	delete(b.mu.active, f.seq)
	b.grantLocked()
	b.mu.Unlock()
}

// wait takes n bytes, waiting in line while they do not fit.
func (b *budget) wait(ctx context.Context, n int64, f *frameCharge) error {
	b.mu.Lock()
	if len(b.mu.waiters) == 0 && (b.mu.used+n <= b.limit || b.oldestLocked(f)) {
		b.mu.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, frame: f, ready: make(chan struct{})}
	b.mu.waiters = append(b.mu.waiters, w)
	b.grantLocked() // f may be the oldest frame
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
			b.removeLocked(w)
		}
		b.grantLocked()
		b.mu.Unlock()
		return ctx.Err()
	}
}

// oldestLocked reports whether f is the oldest frame being read.
func (b *budget) oldestLocked(f *frameCharge) bool {
	if f == nil {
		return false
	}
	for seq := range b.mu.active {
		if seq < f.seq {
			return false
		}
	}
	return true
}

func (b *budget) removeLocked(w *budgetWaiter) {
	for i, x := range b.mu.waiters {
		if x == w {
			b.mu.waiters = append(b.mu.waiters[:i], b.mu.waiters[i+1:]...)
			return
		}
	}
}

// grantLocked wakes waiters in order while the first one fits, and the
// oldest frame's growth wherever it waits.
func (b *budget) grantLocked() {
	for len(b.mu.waiters) > 0 {
		w := b.mu.waiters[0]
		if b.mu.used+w.n > b.limit && !b.oldestLocked(w.frame) {
			break
		}
		b.mu.used += w.n
		b.mu.waiters[0] = nil
		b.mu.waiters = b.mu.waiters[1:]
		close(w.ready)
	}
	for _, w := range b.mu.waiters {
		if w.frame != nil && b.oldestLocked(w.frame) {
			b.mu.used += w.n
			b.removeLocked(w)
			close(w.ready)
			return
		}
	}
}

// inUse reports the bytes taken (tests and metrics).
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.used
}
