package api

import (
	"context"
	"sync"
	"time"

	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/metadata"
)

// controllerMetadata is the Metadata of handlers built without a broker
// (tests of this package): the controller's own image, which it applies
// synchronously.
type controllerMetadata struct {
	ctrl *controller.Controller
	mu   sync.Mutex
	next chan struct{} // closed and replaced at every new image
}

func newControllerMetadata(c *controller.Controller) *controllerMetadata {
	m := &controllerMetadata{ctrl: c, next: make(chan struct{})}
	c.Subscribe(func(*metadata.Image) {
		m.mu.Lock()
		close(m.next)
		m.next = make(chan struct{})
		m.mu.Unlock()
	})
	return m
}

func (m *controllerMetadata) Image() *metadata.Image { return m.ctrl.Image() }

func (m *controllerMetadata) WaitApplied(ctx context.Context, offset int64) error {
	for {
		m.mu.Lock()
		next := m.next
		m.mu.Unlock()
		if m.ctrl.Image().Offset >= offset {
			return nil
		}
		select {
		case <-next:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// imageWatch lets a request wait until this node's published metadata
// image meets a condition (a topic created on the active controller
// arrived here), woken by every publication instead of polling.
type imageWatch struct {
	meta Metadata
}

// wait blocks until cond holds for the published image or ctx ends, and
// reports whether it held.
func (w *imageWatch) wait(ctx context.Context, cond func(*metadata.Image) bool) bool {
	for {
		im := w.meta.Image()
		if cond(im) {
			return true
		}
		if w.meta.WaitApplied(ctx, im.Offset+1) != nil {
			return false
		}
	}
}

// proposes are the admin keys whose handlers commit metadata changes on
// this node's controller; their answer waits (awaitApplied) until this
// broker applied the change.
var proposes = map[int16]bool{19: true, 20: true, 30: true, 31: true, 33: true, 37: true, 43: true, 44: true, 45: true, 51: true}

// maxAppliedWait bounds how long a proposal served on this node (the
// active controller) waits for this broker to apply its outcome.
const maxAppliedWait = 30 * time.Second

// awaitApplied waits, after a proposal was served here, until this
// broker's publisher applied the controller's image as of now: an admin
// call (CreateTopics, CreatePartitions, reassignment, ...) answers once
// this node's partitions are open and its Metadata shows the change, as
// it did when brokers applied metadata on the commit path. Bounded by
// ctx and maxAppliedWait; a timeout only means the answer comes earlier.
func (h *Handlers) awaitApplied(ctx context.Context) {
	if h.deps.Metadata == nil || h.deps.Controller == nil {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, maxAppliedWait)
	defer cancel()
	_ = h.deps.Metadata.WaitApplied(wctx, h.deps.Controller.Image().Offset)
}
