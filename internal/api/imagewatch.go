package api

import (
	"context"
	"sync"

	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/metadata"
)

// imageWatch lets a request wait until this node's metadata image meets a
// condition (a topic created on the active controller arrived here), woken
// by every new image instead of polling.
type imageWatch struct {
	ctrl *controller.Controller
	mu   sync.Mutex
	next chan struct{} // closed and replaced on every new image
}

func newImageWatch(ctrl *controller.Controller) *imageWatch {
	w := &imageWatch{ctrl: ctrl, next: make(chan struct{})}
	if ctrl != nil {
		ctrl.Subscribe(w.published)
	}
	return w
}

// published runs on the goroutine that applies metadata; it only wakes.
func (w *imageWatch) published(*metadata.Image) {
	w.mu.Lock()
	close(w.next)
	w.next = make(chan struct{})
	w.mu.Unlock()
}

// wait blocks until cond holds for the current image or ctx ends, and
// reports whether it held.
func (w *imageWatch) wait(ctx context.Context, cond func(*metadata.Image) bool) bool {
	for {
		w.mu.Lock()
		next := w.next
		w.mu.Unlock()
		if cond(w.ctrl.Image()) {
			return true
		}
		select {
		case <-next:
		case <-ctx.Done():
			return false
		}
	}
}
