package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/arus-io/arus/internal/metadata"
)

// publisher moves committed metadata from the controller's apply path to
// the broker, off that path. The controller's listener (offer) only stores
// the newest image and the delta that leads to it and wakes the
// publisher's goroutine, so Raft never waits for broker I/O. The goroutine
// takes whatever is newest (coalescing the deltas of the batches it
// missed) and applies it in this fixed order:
//
//  1. the replica manager (applyPartitions): open new partitions, close and
//     remove those no longer hosted, set leader/follower roles, configs
//     and the followed set, for the delta's changed partitions only;
//  2. the coordinators (the group coordinator; the transaction coordinator
//     hooks in here, after the group coordinator, through coordinators):
//     they find every partition they are told of already open;
//  3. the image for request handlers (Image) and WaitApplied's waiters.
//
// So a request handler never sees a partition in the image that the
// replica manager has not opened, and a coordinator never sees one either.
type publisher struct {
	// steps are the appliers in the order above, fixed at construction;
	// each runs on the publisher goroutine only.
	steps []func(*metadata.Image, *metadata.Delta)

	mu struct {
		sync.Mutex
		newest  *metadata.Image   // newest image offered, nil when taken
		deltas  []*metadata.Delta // deltas since the last take, oldest first
		stopped bool
	}
	kick chan struct{} // buffered 1: something was offered
	done chan struct{} // closed when run returned

	published atomic.Pointer[metadata.Image]
	changedMu sync.Mutex
	changed   chan struct{} // closed and replaced at every publication
}

func newPublisher(initial *metadata.Image, steps ...func(*metadata.Image, *metadata.Delta)) *publisher {
	p := &publisher{steps: steps, kick: make(chan struct{}, 1), done: make(chan struct{}), changed: make(chan struct{})}
	p.published.Store(initial)
	return p
}

// offer hands the publisher a new image and the delta from the previous
// offered image. It never blocks: it runs on the controller's apply path.
func (p *publisher) offer(im *metadata.Image, delta *metadata.Delta) {
	p.mu.Lock()
	if p.mu.stopped {
		p.mu.Unlock()
		return
	}
	if p.mu.newest == nil || im.Offset >= p.mu.newest.Offset {
		p.mu.newest = im // the initial offer may race with a commit's
	}
	p.mu.deltas = append(p.mu.deltas, delta)
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// take returns the newest image and one delta for everything offered
// since the last take; nil when nothing was offered.
func (p *publisher) take() (*metadata.Image, *metadata.Delta) {
	p.mu.Lock()
	defer p.mu.Unlock()
	im, deltas := p.mu.newest, p.mu.deltas
	p.mu.newest, p.mu.deltas = nil, nil
	if im == nil {
		return nil, nil
	}
	return im, metadata.MergeDeltas(deltas...)
}

// run applies offered images until stop is closed; then it drops any
// later offer.
func (p *publisher) run(stop <-chan struct{}) {
	defer close(p.done)
	defer func() {
		p.mu.Lock()
		p.mu.stopped = true
		p.mu.newest, p.mu.deltas = nil, nil
		p.mu.Unlock()
	}()
	for {
		select {
		case <-stop:
			return
		case <-p.kick:
		}
		im, delta := p.take()
		if im == nil {
			continue
		}
		if im.Offset < p.published.Load().Offset {
			continue // never go back
		}
		for _, step := range p.steps {
			step(im, delta)
		}
		p.publish(im)
	}
}

func (p *publisher) publish(im *metadata.Image) {
	p.published.Store(im)
	p.changedMu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.changedMu.Unlock()
}

// Image returns the newest image every step has applied: request
// handlers read this, never the controller's (possibly newer) image.
func (p *publisher) Image() *metadata.Image { return p.published.Load() }

// WaitApplied blocks until an image at offset or later is published (the
// replica manager and coordinators applied it), or ctx ends (its error),
// or the publisher stopped (ErrPublisherStopped).
func (p *publisher) WaitApplied(ctx context.Context, offset int64) error {
	for {
		p.changedMu.Lock()
		changed := p.changed
		p.changedMu.Unlock()
		if p.published.Load().Offset >= offset {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return ErrPublisherStopped
		}
	}
}

// ErrPublisherStopped is returned by WaitApplied once the broker stopped.
var ErrPublisherStopped = errors.New("broker: metadata publisher stopped")

// startPublisher subscribes the publisher to the controller, starts its
// goroutine and waits until the current image is applied.
func (b *Broker) startPublisher() error {
	b.controller.SubscribeDelta(b.publisher.offer)
	b.goFunc(func() { b.publisher.run(b.stop) })
	im := b.controller.Image()
	b.publisher.offer(im, metadata.FullDelta())
	ctx, cancel := context.WithTimeout(context.Background(), registrationTimeout)
	defer cancel()
	go func() {
		select {
		case <-b.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := b.publisher.WaitApplied(ctx, im.Offset); err != nil {
		return fmt.Errorf("apply metadata at offset %d: %w", im.Offset, err)
	}
	return nil
}

// applyCoordinators is the publisher's second step: the coordinators learn
// which of their partitions this node leads (all already open): the group
// coordinator, then the transaction coordinator.
func (b *Broker) applyCoordinators(im *metadata.Image, _ *metadata.Delta) {
	b.groups.OnImage(im)
	b.txns.OnImage(im)
}

// awaitOthers is the api.Metadata of a broker started WithAppliedBy: its
// own image, and WaitApplied over its own publisher and then the others'.
type awaitOthers struct {
	*publisher
	others func(ctx context.Context, offset int64) error
}

func (m awaitOthers) WaitApplied(ctx context.Context, offset int64) error {
	if err := m.publisher.WaitApplied(ctx, offset); err != nil {
		return err
	}
	return m.others(ctx, offset)
}

// WaitApplied blocks until this broker applied the metadata up to offset
// (its replica manager and coordinators), ctx ends, or the broker stopped
// (ErrPublisherStopped).
func (b *Broker) WaitApplied(ctx context.Context, offset int64) error {
	return b.publisher.WaitApplied(ctx, offset)
}
