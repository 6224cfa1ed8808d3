package api

// Auto topic creation (auto.create.topics.enable), as Kafka's
// AutoTopicCreationManager does it: a Metadata request naming topics that
// do not exist (v0-v3 always, v4+ when AllowAutoTopicCreation is set)
// sends one CreateTopics for them to the active controller, wherever it
// runs, and answers those topics at once with LEADER_NOT_AVAILABLE and no
// partitions; the client asks again and finds the topic once this node's
// image has it. The request is never held up by the create, and a topic
// already being created is not created again (in-flight creates are
// deduplicated, as Kafka's inflightTopics set does).
//
// Outcomes of a create:
//   - created, or it already existed on the controller: the topic is
//     answered LEADER_NOT_AVAILABLE until it shows up in this node's image
//     (or visibleWait passes), without new creates;
//   - retriable (no active controller known, forwarding failed, the
//     controller moved, fewer live brokers than the replication factor
//     right after a cluster starts): nothing is remembered, the next
//     Metadata request tries again;
//   - definitive (the name collides with another topic, a policy refuses
//     it): the next Metadata request for that topic gets the error code
//     once, then creation is tried again.

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/metadata"
)

const (
	// autoCreateTimeout bounds one create, forwarded or local.
	autoCreateTimeout = 30 * time.Second
	// visibleWait is how long a created topic is answered
	// LEADER_NOT_AVAILABLE without a new create while this node's image
	// does not show it yet (metadata reaches every node well within it).
	visibleWait = 10 * time.Second
	// failureKeep bounds how long a definitive failure waits to be
	// reported to the next Metadata request for that topic.
	failureKeep = time.Minute
	// maxAutoCreates bounds the creates running at once; a Metadata
	// request beyond it answers LEADER_NOT_AVAILABLE and creates nothing
	// (the client's retry will).
	maxAutoCreates = 16
)

// autoCreator runs auto-creates in goroutines it owns; close stops them.
type autoCreator struct {
	h      *Handlers
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// awaited mirrors len(mu.created), so Metadata requests skip the lock
	// when no created topic is awaited.
	awaited atomic.Int32

	mu struct {
		sync.Mutex
		inflight map[string]bool      // create sent, no answer yet
		created  map[string]time.Time // created on the controller; until when to wait for the local image
		failed   map[string]failure   // definitive failures not yet reported
		running  int                  // goroutines in create
		closed   bool
	}
}

type failure struct {
	code int16
	at   time.Time
}

func newAutoCreator(h *Handlers) *autoCreator {
	a := &autoCreator{h: h}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.mu.inflight = map[string]bool{}
	a.mu.created = map[string]time.Time{}
	a.mu.failed = map[string]failure{}
	return a
}

// close cancels the creates in flight and waits for their goroutines.
func (a *autoCreator) close() {
	a.mu.Lock()
	a.mu.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
}

// request starts creating the named topics (none of which is in im) and
// returns the error code to answer for each: LEADER_NOT_AVAILABLE while
// the topic is being created, or a definitive failure of an earlier try.
func (a *autoCreator) request(im *metadata.Image, names []string) map[string]int16 {
	now := a.h.deps.Now()
	codes := make(map[string]int16, len(names))
	var batch []string
	a.mu.Lock()
	for _, name := range names {
		codes[name] = kerr.LeaderNotAvailable.Code
		if f, ok := a.mu.failed[name]; ok {
			delete(a.mu.failed, name)
			codes[name] = f.code
			continue
		}
		if a.mu.inflight[name] {
			continue
		}
		if until, ok := a.mu.created[name]; ok && now.Before(until) {
			continue
		}
		if _, ok := a.mu.created[name]; ok {
			delete(a.mu.created, name)
			a.awaited.Store(int32(len(a.mu.created)))
		}
		if _, exists := im.Topics[name]; exists || a.mu.closed || a.mu.running >= maxAutoCreates {
			continue
		}
		a.mu.inflight[name] = true
		batch = append(batch, name)
	}
	if len(batch) > 0 {
		a.mu.running++
		a.wg.Add(1)
	}
	a.mu.Unlock()
	if len(batch) > 0 {
		go func() {
			defer a.wg.Done()
			a.create(batch)
		}()
	}
	return codes
}

// arrived notes that topics are in this node's image, so a created topic
// deleted later is created again at once when asked for.
func (a *autoCreator) arrived(names []string) {
	if a.awaited.Load() == 0 || len(names) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, name := range names {
		delete(a.mu.created, name)
	}
	a.awaited.Store(int32(len(a.mu.created)))
}

// create runs one create of names (with the broker's defaults) and
// records its outcome.
func (a *autoCreator) create(names []string) {
	ctx, cancel := context.WithTimeout(a.ctx, autoCreateTimeout)
	defer cancel()
	codes := a.h.createOnController(ctx, names)
	if a.h.deps.MetadataChanged != nil {
		a.h.deps.MetadataChanged() // a broker-only node fetches the new topics now
	}
	now := a.h.deps.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mu.running--
	var notYet []string
	for i, name := range names {
		delete(a.mu.inflight, name)
		switch code := codes[i]; {
		case code == 0 || code == kerr.TopicAlreadyExists.Code:
			a.mu.created[name] = now.Add(visibleWait)
			if code == 0 {
				a.h.deps.Logger.Info("auto-created topic", "topic", name)
			}
		case autoCreateRetriable(code):
			notYet = append(notYet, name)
		default:
			a.mu.failed[name] = failure{code: code, at: now}
			a.h.deps.Logger.Warn("auto-create topic failed", "topic", name, "err", kerr.ErrorForCode(code))
		}
	}
	if len(notYet) > 0 {
		a.h.deps.Logger.Debug("auto-create not possible yet; the clients' next metadata requests retry",
			"topics", notYet, "err", kerr.ErrorForCode(codes[slices.Index(names, notYet[0])]))
	}
	for name, until := range a.mu.created {
		if now.After(until) {
			delete(a.mu.created, name)
		}
	}
	for name, f := range a.mu.failed {
		if now.Sub(f.at) > failureKeep {
			delete(a.mu.failed, name)
		}
	}
	a.awaited.Store(int32(len(a.mu.created)))
}

// autoCreateRetriable reports whether a failed auto-create should simply
// be tried again by the client's next Metadata request. Auto-created
// topics use default.replication.factor, which config validation keeps
// positive, so INVALID_REPLICATION_FACTOR means fewer live brokers than
// replicas: a cluster still starting, or brokers down for a moment.
func autoCreateRetriable(code int16) bool {
	switch code {
	case kerr.InvalidReplicationFactor.Code, kerr.NotController.Code:
		return true
	}
	err := kerr.ErrorForCode(code)
	var ke *kerr.Error
	return errors.As(err, &ke) && ke.Retriable
}

// createOnController creates topics with the broker defaults on the active
// controller: here when it is active, else through the controller
// channel's forwarding. It returns one Kafka error code per name; a failed
// forward counts as NOT_CONTROLLER (retriable) for every name.
func (h *Handlers) createOnController(ctx context.Context, names []string) []int16 {
	specs := make([]controller.TopicSpec, len(names))
	for i, name := range names {
		specs[i] = controller.TopicSpec{Name: name, NumPartitions: -1, ReplicationFactor: -1}
	}
	local := h.deps.Channel.ServesLocally()
	codes := make([]int16, len(names))
	for i, err := range h.deps.Channel.CreateTopics(ctx, specs) {
		switch {
		case errors.Is(err, controller.ErrTopicExists):
			codes[i] = kerr.TopicAlreadyExists.Code
		case errors.Is(err, controller.ErrNotController):
			codes[i] = kerr.NotController.Code // try again
		default:
			codes[i] = errorCode(h.deps.Logger, err)
		}
	}
	if local {
		h.awaitApplied(ctx)
	}
	return codes
}
