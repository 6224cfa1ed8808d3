package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/ctrlchan"
	"github.com/arus-io/arus/internal/group"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/metrics"
	"github.com/arus-io/arus/internal/partition"
	"github.com/arus-io/arus/internal/quota"
	"github.com/arus-io/arus/internal/txn"
)

// Partitions finds the partition replicas open on this broker.
type Partitions interface {
	// Partition returns the open replica, or nil when this broker has none.
	Partition(topic string, index int32) *partition.Partition
}

// Metadata is this broker's published view of the cluster metadata: an
// image the broker's replica manager and coordinators have already
// applied (a partition it names as hosted here is open). Implemented by
// the broker's metadata publisher; safe for concurrent use.
type Metadata interface {
	// Image returns the newest published image; never nil.
	Image() *metadata.Image
	// WaitApplied blocks until an image at offset or later is published,
	// or ctx ends (returning its error).
	WaitApplied(ctx context.Context, offset int64) error
}

// Deps are what handlers call into. All fields are required.
type Deps struct {
	Broker *config.Broker
	// Controller is this node's controller: the admin requests served
	// here when it is the active one (Channel.ServesLocally) propose on
	// it, and the controller-side RPCs read its image.
	Controller *controller.Controller
	Metadata   Metadata
	// Channel reaches the active controller: whether requests that
	// change metadata are served here or forwarded, and the proposals
	// this broker makes for itself. nil: a Local channel on Controller
	// that never forwards (Controller is always active).
	Channel    ctrlchan.Channel
	Partitions Partitions
	Groups     *group.Coordinator
	// Txns is the transaction coordinator (nil: transactions are refused
	// with COORDINATOR_NOT_AVAILABLE).
	Txns   *txn.Coordinator
	Logger *slog.Logger
	Now    func() time.Time
	// MetadataChanged, optional, tells a node that copies its metadata
	// from the voters that a change it forwarded has committed, so it
	// fetches the metadata now rather than at its next poll.
	MetadataChanged func()
	// Authorizer decides what principals may do; nil (or one not
	// enabled) allows everything.
	Authorizer *auth.Authorizer
	// AdvertisedFor reports this broker's advertised address on a named
	// client listener; nil: the advertised address given to New for every
	// listener.
	AdvertisedFor func(listenerName string) (host string, port int32, ok bool)
	// Metrics counts bytes and records in and out per topic; nil: none.
	Metrics *metrics.Metrics
	// SendToNode sends a request to another broker's inter-broker
	// listener (KIP-890 verification with a remote transaction
	// coordinator); nil: partitions whose coordinator is elsewhere cannot
	// be verified (COORDINATOR_NOT_AVAILABLE).
	SendToNode func(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error)
}

// Handlers serves requests. Safe for concurrent use by many connections.
type Handlers struct {
	deps        Deps
	producerIDs producerIDs
	advertised  func() (host string, port int32)
	// apiKeys is what ApiVersions advertises, by listener.
	apiKeys    [2][]kmsg.ApiVersionsResponseApiKey
	autoCreate *autoCreator
	images     *imageWatch
	// telemetry is the client telemetry state (KIP-714, telemetry.go).
	telemetry *Telemetry
	// quotas measures clients against their client quotas (quotas.go).
	quotas *quota.Manager
}

// New returns the handlers. advertised reports the address to put into
// Metadata responses for this broker.
func New(deps Deps, advertised func() (string, int32)) *Handlers {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	h := &Handlers{deps: deps, advertised: advertised, telemetry: newTelemetry(deps.Now)}
	for _, l := range []Listener{ListenerClient, ListenerInterBroker} {
		h.apiKeys[l] = apiKeys(l)
	}
	h.quotas = newQuotas(deps)
	h.autoCreate = newAutoCreator(h)
	if h.deps.Metadata == nil && deps.Controller != nil {
		h.deps.Metadata = newControllerMetadata(deps.Controller)
	}
	if h.deps.Channel == nil && deps.Controller != nil {
		h.deps.Channel = ctrlchan.NewLocal(deps.Controller, nil, deps.Now)
	}
	h.images = &imageWatch{meta: h.deps.Metadata}
	return h
}

// Close stops the work handlers started in the background (auto topic
// creation) and waits for it. Requests still running may fail.
func (h *Handlers) Close() { h.autoCreate.close() }

// Request is one decoded request with its header fields.
type Request struct {
	Version       int16
	CorrelationID int32
	ClientID      *string
	// ClientHost is the client's address as Kafka shows it in
	// DescribeGroups ("/127.0.0.1").
	ClientHost string
	Body       kmsg.Request
	// Listener is the kind of listener the request arrived on; Peer, on
	// the inter-broker listener, is who opened the connection.
	Listener Listener
	Peer     Peer
	// Principal is who the connection authenticated as (auth.Anonymous
	// without authentication); ListenerName the named listener the
	// request arrived on ("" for the inter-broker listener).
	Principal    auth.Principal
	ListenerName string
	// Size is the request's size on the wire in bytes (what produce
	// quotas count).
	Size int
	// Loopback marks a broker's request to itself served in process
	// (transaction markers for its own partitions): an inter-broker
	// request with a broker's rights, which no connection carries.
	Loopback bool
	// forwardedFor is set on the active controller for a client request
	// another broker forwarded: it is authorized as that client's.
	forwardedFor bool
	// start is when Serve began; idle how much of the time since the
	// handler spent waiting (long polls, group rebalances, appends): the
	// rest is what request_percentage counts.
	start time.Time
	idle  time.Duration
}

// waited counts the time since t as waiting, not handling.
func (r *Request) waited(t time.Time) { r.idle += time.Since(t) }

// Peer is the node at the other end of an inter-broker connection, as its
// handshake claims: checked against the cluster on every request.
type Peer struct {
	NodeID    int32
	ClusterID string // "" when the peer does not know it yet (a new node)
}

// Outcome tells the connection what to do after a request.
type Outcome struct {
	// Response to send; nil sends nothing (produce with acks=0).
	Response kmsg.Response
	// Close asks the server to close the connection after sending any
	// response, as Kafka does for acks=0 produce errors.
	Close bool
	// Wait, when set, finishes the request: the server calls it from the
	// connection's writer, in request order, and sends what it returns.
	// Produce uses it to wait for durability while the next requests on
	// the same connection are already appended, so one fsync covers them.
	Wait func() Outcome
	// Chunks, when set, is the already encoded body of Response (which
	// then only gives the key and version): bytes and file regions, the
	// latter sent with sendfile (zero copy). ChunksSize is their total
	// length; Release, called once they were written, frees the regions.
	Chunks     []Chunk
	ChunksSize int64
	Release    func()
	// Throttle, when positive, is how long the client exceeded a quota
	// for: the server stops reading the connection's next request for
	// that long (KIP-219 muting); the response carries it as
	// ThrottleMillis.
	Throttle time.Duration
}

// Serve runs the handler of the request's key. The server has already
// checked the version against the registry.
func (h *Handlers) Serve(ctx context.Context, req *Request) Outcome {
	e, ok := registry[req.Body.Key()]
	if !ok || e.handle == nil || !Serves(req.Listener, req.Body.Key()) {
		return Outcome{Close: true}
	}
	if req.Listener == ListenerInterBroker {
		if err := h.admitPeer(req); err != nil {
			h.deps.Logger.Warn("inter-broker request refused; closing the connection",
				"api_key", req.Body.Key(), "peer_node", req.Peer.NodeID, "remote", req.ClientHost, "err", err)
			return Outcome{Close: true}
		}
		if forwarded[req.Body.Key()] {
			h.unmarkForwarded(req)
		}
	}
	req.start = time.Now()
	denied, done, patch := h.authorizeRequest(req)
	if done {
		return h.throttleRequest(req, denied)
	}
	if mutations := h.limitMutations(req); mutations != nil {
		if patch == nil {
			patch = mutations
		} else {
			authz := patch
			patch = func(o Outcome) Outcome { return mutations(authz(o)) }
		}
	}
	out, done := h.maybeForward(ctx, req)
	if !done {
		out = e.handle(h, ctx, req)
		if proposes[req.Body.Key()] {
			h.awaitApplied(ctx)
		}
		if req.Body.Key() == 0 {
			out = h.throttleProduce(req, out)
		}
	}
	if patch != nil {
		if wait := out.Wait; wait != nil {
			// The response exists only once the wait is over.
			out.Wait = func() Outcome { return patch(wait()) }
		} else {
			out = patch(out)
		}
	}
	return h.throttleRequest(req, out)
}

func respond(r kmsg.Response) Outcome { return Outcome{Response: r} }

// Telemetry returns the client telemetry state (KIP-714): the metrics
// clients pushed, and the subscription they are asked for.
func (h *Handlers) Telemetry() *Telemetry { return h.telemetry }
