package record

import (
	"context"
	"sync"
	"sync/atomic"
)

// Budget is a weighted semaphore of bytes: the memory that decompression
// may hold at once, broker-wide. Callers wait for room instead of
// exceeding it; waiters are served in arrival order so a large request is
// not starved by a stream of small ones. A request larger than the whole
// budget is clipped to the budget (it then runs alone). A nil *Budget is
// unlimited. Safe for concurrent use.
type Budget struct {
	mu struct {
		sync.Mutex
		used    int64
		waiters []*budgetWaiter // FIFO
	}
	size int64
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once n is granted
}

// NewBudget returns a budget of size bytes (at least 1).
func NewBudget(size int64) *Budget {
	return &Budget{size: max(size, 1)}
}

// Size is the budget's capacity in bytes.
func (b *Budget) Size() int64 {
	if b == nil {
		return 0
	}
	return b.size
}

// InUse is the number of bytes currently granted.
func (b *Budget) InUse() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.used
}

// Clip returns n as Acquire counts it: at most the budget's size.
func (b *Budget) Clip(n int64) int64 {
	if b == nil {
		return n
	}
	return min(max(n, 0), b.size)
}

// Acquire waits until Clip(n) bytes are free and takes them, or returns
// ctx.Err(). Release the same n (Release clips it the same way).
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	if b == nil {
		return nil
	}
	n = b.Clip(n)
	b.mu.Lock()
	if len(b.mu.waiters) == 0 && b.mu.used+n <= b.size {
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
			b.grantLocked()
		default:
			for i, o := range b.mu.waiters {
				if o == w {
					b.mu.waiters = append(b.mu.waiters[:i], b.mu.waiters[i+1:]...)
					break
				}
			}
			b.grantLocked() // the head may have changed
		}
		b.mu.Unlock()
		return ctx.Err()
	}
}

// TryAcquire takes Clip(n) bytes if they are free now and nobody waits.
func (b *Budget) TryAcquire(n int64) bool {
	if b == nil {
		return true
	}
	n = b.Clip(n)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.mu.waiters) == 0 && b.mu.used+n <= b.size {
		b.mu.used += n
		return true
	}
	return false
}

// Release gives back n bytes taken by Acquire or TryAcquire.
func (b *Budget) Release(n int64) {
	if b == nil {
		return
	}
	n = b.Clip(n)
	b.mu.Lock()
	b.mu.used -= n
	if b.mu.used < 0 {
		b.mu.used = 0 // a caller bug; never let it wedge the budget
	}
	b.grantLocked()
	b.mu.Unlock()
}

func (b *Budget) grantLocked() {
	for len(b.mu.waiters) > 0 {
		w := b.mu.waiters[0]
		if b.mu.used+w.n > b.size {
			return
		}
		b.mu.used += w.n
		close(w.ready)
		b.mu.waiters = b.mu.waiters[1:]
	}
}

// DefaultDecompressionBudget is the size of the process-wide budget until
// the broker sets its configured one (decompression.buffer.max.bytes).
const DefaultDecompressionBudget = 64 << 20

// decompressionBudget is the one piece of process-wide state in this
// package: every decompression (produce validation, compaction, readers)
// charges it, so the bound holds whatever path decompresses.
var (
	decompressionBudget atomic.Pointer[Budget]
	defaultBudget       = NewBudget(DefaultDecompressionBudget)
)

// SetDecompressionBudget replaces the process-wide decompression budget
// (the broker calls it at start). Holders of the old budget release into
// the old one.
func SetDecompressionBudget(b *Budget) {
	if b != nil {
		decompressionBudget.Store(b)
	}
}

// DecompressionBudget returns the process-wide decompression budget.
func DecompressionBudget() *Budget {
	if b := decompressionBudget.Load(); b != nil {
		return b
	}
	return defaultBudget
}
