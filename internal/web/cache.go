package web

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errLoadFailed is what waiters get when a load ended without a result.
var errLoadFailed = errors.New("web: cluster read failed")

// cache keeps the answers of cluster reads for ttl, so that several pages
// (or tabs) polling at once cost the cluster one request. Concurrent
// misses for one key wait for a single load.
type cache struct {
	ttl time.Duration
	mu  struct {
		sync.Mutex
		entries map[string]*cacheEntry
	}
}

type cacheEntry struct {
	done chan struct{} // closed when val, err and at are set
	at   time.Time     // when the load finished
	val  any
	err  error
}

// get returns the value under key, loading it with load when missing or
// older than ttl. Errors are not kept past the load that returned them.
// The time returned is when the value was read from the cluster.
func (c *cache) get(ctx context.Context, key string, load func(context.Context) (any, error)) (any, time.Time, error) {
	c.mu.Lock()
	if c.mu.entries == nil {
		c.mu.entries = map[string]*cacheEntry{}
	}
	e := c.mu.entries[key]
	if e != nil {
		select {
		case <-e.done:
			if e.err != nil || time.Since(e.at) > c.ttl {
				e = nil
			}
		default: // loading: wait for it below
		}
	}
	if e == nil {
		e = &cacheEntry{done: make(chan struct{})}
		c.mu.entries[key] = e
		c.mu.Unlock()
		// The load outlives a caller that gives up, so others waiting on
		// it still get an answer; it is bounded by its own timeout.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		func() {
			// Waiters are released even if load panics (the handler's
			// recover answers that request).
			e.err = errLoadFailed
			defer func() { e.at = time.Now(); close(e.done) }()
			e.val, e.err = load(lctx)
		}()
		return e.val, e.at, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.val, e.at, e.err
	case <-ctx.Done():
		return nil, time.Time{}, ctx.Err()
	}
}

// invalidate drops every cached value: after the console changed the
// cluster, the next read must see the change.
func (c *cache) invalidate() {
	c.mu.Lock()
	c.mu.entries = nil
	c.mu.Unlock()
}
