// Package broker is the composition root of an arus node: it opens the
// data directory, the metadata log and controller, the partitions this
// node hosts and the client listener, and stops them in reverse order.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sys/unix"

	"github.com/arus-io/arus/internal/api"
	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/commitlog"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/ctrlchan"
	"github.com/arus-io/arus/internal/group"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/metrics"
	"github.com/arus-io/arus/internal/partition"
	"github.com/arus-io/arus/internal/quorum"
	"github.com/arus-io/arus/internal/record"
	"github.com/arus-io/arus/internal/replica"
	"github.com/arus-io/arus/internal/server"
	"github.com/arus-io/arus/internal/txn"
	"github.com/arus-io/arus/internal/web"
)

// Broker is one running arus node.
type Broker struct {
	cfg        config.Broker
	logger     *slog.Logger
	lock       *os.File
	controller *controller.Controller
	server     *server.Server
	handlers   *api.Handlers
	advertised struct {
		host string
		port int32
	}
	// interServer is the inter-broker listener: peers' replica fetches and
	// controller requests, and the metadata quorum's Raft connections.
	interServer     *server.Server
	interAdvertised struct {
		host string
		port int32
	}

	// extra are the client listeners after the first; tls the
	// certificates of SSL and SASL_SSL listeners, by ssl.client.auth.
	extra []*clientListener
	tls   map[auth.TLSFiles]*auth.ServerTLS
	// peerSec is how this node dials its peers' inter-broker listeners
	// (TLS, SASL login; peerdial.go).
	peerSec *peerSecurity

	opts     options
	replicas *replica.Manager // follower fetchers
	groups   *group.Coordinator
	txns     *txn.Coordinator
	raft     *quorum.Raft            // nil with a shared (test) controller or on a broker-only node
	observer *controller.ObserverLog // set on a broker-only node

	// files is the open-file cache of every partition's segments;
	// maxPartitions the limit reported at registration (0: none).
	files         *commitlog.FileCache
	maxPartitions int32

	metadataKick chan struct{} // wakes a broker-only node's metadataLoop (buffered, 1)
	// metrics is this node's Prometheus registry and instruments; http
	// serves it with /healthz and /readyz (nil when arus.http.listener is
	// off). ready is set once Start has finished, stopping when shutdown
	// begins: /readyz reads both.
	metrics  *metrics.Metrics
	http     *httpServer
	ready    atomic.Bool
	stopping atomic.Bool
	// heartbeatAcked is when (unix ns) the active controller last
	// acknowledged a heartbeat: /readyz wants one within the session timeout.
	heartbeatAcked atomic.Int64

	lastHWCheckpoint time.Time        // owned by the reviewReplicas loop
	remote           *remote          // requests to the active controller on another node
	web              *web.Server      // console on http.listener; nil when off
	voters           map[int32]string // metadata quorum: node id -> listener address
	// ctrl is this node's way to the active controller, chosen once at
	// start: Local on a voter, Remote on a broker-only node.
	ctrl ctrlchan.Channel

	stop chan struct{}
	wg   sync.WaitGroup

	mu struct {
		sync.RWMutex
		partitions map[topicPartition]*partition.Partition
		closed     bool
	}
	// publisher applies committed metadata to this node (replica manager,
	// coordinators) off the controller's apply path and publishes the
	// image request handlers read; replicaState is its replica manager's.
	publisher    *publisher
	replicaState replicaState
	// metadataBytes and metadataSnapshots count what a broker-only node
	// received from the voters (observer.go).
	metadataBytes, metadataSnapshots atomic.Int64

	shutdownOnce sync.Once
	shutdownErr  error
	controlled   bool // set by Shutdown, not by Crash
}

type topicPartition struct {
	topic string
	index int32
}

// Start opens everything and begins serving clients. On error everything
// opened so far is closed again.
func Start(cfg config.Broker, logger *slog.Logger, opts ...Option) (b *Broker, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	b = &Broker{cfg: cfg, logger: logger, stop: make(chan struct{}), opts: defaultOptions()}
	b.opts.timing.LeaderRebalanceInterval = cfg.LeaderImbalanceCheckInterval // WithTiming may override
	for _, o := range opts {
		o(&b.opts)
	}
	if !*cfg.AutoLeaderRebalance {
		b.opts.timing.LeaderRebalanceInterval = 0
	}
	b.mu.partitions = map[topicPartition]*partition.Partition{}
	defer func() {
		if err != nil {
			_ = b.Shutdown(context.Background())
		}
	}()

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return b, fmt.Errorf("data directory: %w", err)
	}
	if b.lock, err = lockDir(cfg.DataDir); err != nil {
		return b, err
	}
	b.metrics = metrics.New(metrics.Options{PerPartition: *cfg.MetricsPerPartition})
	b.metrics.SetSource(b)
	// Serve /healthz and /readyz (503 until started) from the beginning.
	// It is not fatal when it cannot bind (another arus on this machine
	// holds the default port): Kafka clients come first.
	if b.http, err = startHTTP(cfg.HTTPListener, b.registerHTTP, logger); err != nil {
		logger.Error("http listener (console, /metrics) not started", "addr", cfg.HTTPListener, "err", err)
		b.http = nil
	}
	// One budget per process: in-process test clusters share the last one set.
	record.SetDecompressionBudget(record.NewBudget(cfg.DecompressionMaxBytes))
	b.files, b.maxPartitions = fileBudget(cfg, logger)
	defaults := controller.Defaults{NumPartitions: cfg.NumPartitions, DefaultReplicationFactor: cfg.DefaultReplicationFactor}
	if b.opts.controller != nil {
		b.controller = b.opts.controller
	} else {
		b.controller = controller.NewStateMachine(defaults, logger)
		b.controller.SetClusterConfig(controller.ClusterConfig{
			SessionTimeout: b.opts.timing.SessionTimeout, LeaderRebalanceInterval: b.opts.timing.LeaderRebalanceInterval,
		})
	}

	// The publisher applies committed metadata in a fixed order: replica
	// manager, then coordinators, then the image for handlers.
	b.publisher = newPublisher(metadata.Empty(), b.applyPartitions, b.applyCoordinators)
	quorumVoters, _ := config.ParseVoters(cfg.ControllerQuorumVoters) // validated by cfg.Validate
	b.groups = group.New(group.Config{
		NodeID: cfg.NodeID, Groups: cfg.Groups, Metadata: b.publisher, CreateTopic: b.createInternalTopic,
		ExpectedBrokers: len(quorumVoters), Partitions: b, Logger: logger,
	})
	b.remote = newRemote(b)
	quorumVoter := cfg.ControllerQuorumVoters == ""
	if _, ok := quorumVoters[cfg.NodeID]; ok || b.opts.controller != nil {
		quorumVoter = true
	}
	if quorumVoter {
		b.ctrl = ctrlchan.NewLocal(b.controller, b.remote.forward, nil)
	} else {
		b.ctrl = ctrlchan.NewRemote(b.remote.forward, b.controller.Image)
	}
	b.txns = txn.New(txn.Config{
		NodeID: cfg.NodeID, Transactions: cfg.Transactions, Metadata: b.controller, CreateTopic: b.createInternalTopic,
		Partitions: b, SendMarkers: api.MarkerSender(b.sendToNode), Logger: logger,
	})
	creds, err := newCredentials(cfg.Security, b.controller)
	if err != nil {
		return b, err
	}
	if b.peerSec, err = newPeerSecurity(cfg.Security, logger); err != nil {
		return b, err
	}
	if err := creds.addPeerLogin(b.peerSec); err != nil {
		return b, err
	}
	authorizer, err := newAuthorizer(cfg.Security, b.controller)
	if err != nil {
		return b, err
	}
	b.warnAnonymousPeers(authorizer)
	var meta api.Metadata = b.publisher
	if b.opts.appliedBy != nil {
		meta = awaitOthers{b.publisher, b.opts.appliedBy}
	}
	deps := api.Deps{Broker: &b.cfg, Controller: b.controller, Metadata: meta, Channel: b.ctrl, Partitions: b, Groups: b.groups,
		Logger: logger, Authorizer: authorizer, AdvertisedFor: b.advertisedFor, Metrics: b.metrics, Txns: b.txns}
	deps.SendToNode = b.remote.sendToNode // KIP-890 verification with a remote transaction coordinator
	b.metadataKick = make(chan struct{}, 1)
	deps.MetadataChanged = b.kickMetadata
	handlers := api.New(deps, func() (string, int32) { return b.advertised.host, b.advertised.port })
	b.handlers = handlers
	handlers.Telemetry().SetTelemetrySubscription(cfg.ClientTelemetryPrefixes(), cfg.ClientTelemetryPushInterval)
	raftConns := newConnListener()
	overrides, _ := config.ParseConnectionOverrides(cfg.MaxConnectionsPerIPOverrides) // validated by cfg.Validate
	clientBase := server.Config{
		MaxRequestBytes: cfg.MaxRequestBytes, Handlers: handlers, Logger: logger,
		QueuedMaxRequestBytes: cfg.QueuedMaxRequestBytes, ConnectionsMaxIdle: max(cfg.ConnectionsMaxIdle, 0),
		MaxConnections: int(cfg.MaxConnections), MaxConnectionsPerIP: int(cfg.MaxConnectionsPerIP),
		MaxConnectionsPerIPOverrides: overrides, MaxConnectionCreationRate: int(cfg.MaxConnectionCreationRate),
		Metrics: b.metrics,
	}
	firstCfg, _, err := b.listenerServerConfig(clientBase, cfg.ClientListeners()[0], creds)
	if err != nil {
		return b, err
	}
	b.server, err = server.Listen(cfg.Listener, firstCfg)
	if err != nil {
		return b, fmt.Errorf("listen on %s: %w", cfg.Listener, err)
	}
	interCfg := server.Config{
		MaxRequestBytes: cfg.MaxRequestBytes, Handlers: handlers, Logger: logger.With("listener", "inter-broker"),
		InterBroker: true, Preface: quorum.Preface(), Handoff: raftConns.deliver, Metrics: b.metrics,
		AuthorizePeer: func(p auth.Principal, host string) bool {
			return authorizer.Authorize(p, host, auth.OpClusterAction, auth.ResourceCluster, auth.ClusterName)
		},
	}
	if b.peerSec.secured() {
		if _, err := b.secureServerConfig(&interCfg, cfg.Security.InterBrokerListenerName, creds); err != nil {
			return b, err
		}
	}
	b.interServer, err = server.Listen(cfg.InterBrokerListener, interCfg)
	if err != nil {
		return b, fmt.Errorf("listen on %s (inter-broker listener): %w", cfg.InterBrokerListener, err)
	}
	raftConns.addr = b.interServer.Addr()
	if err := b.resolveAdvertised(); err != nil {
		return b, err
	}
	if err := b.listenExtra(clientBase, creds); err != nil {
		return b, err
	}
	b.voters = map[int32]string{cfg.NodeID: b.InterBrokerAdvertised()}
	if cfg.ControllerQuorumVoters != "" {
		b.voters, _ = config.ParseVoters(cfg.ControllerQuorumVoters) // validated by cfg.Validate
	}
	b.replicas = replica.NewManager(cfg.NodeID, logger, kgo.ClientID(fmt.Sprintf("arus-broker-%d", cfg.NodeID)),
		kgo.RequestTimeoutOverhead(5*time.Second), kgo.Dialer(b.dialPeer))

	// Serve before the quorum starts: Raft traffic arrives on the
	// inter-broker listener.
	b.server.Serve()
	for _, l := range b.extra {
		l.server.Serve()
	}
	b.interServer.Serve()
	_, voter := b.voters[cfg.NodeID]
	switch {
	case b.opts.controller != nil:
		raftConns.Close()
	case voter:
		voters := map[uint64]string{}
		for id, addr := range b.voters {
			voters[uint64(id)] = addr
		}
		b.raft, err = quorum.StartRaft(quorum.Config{
			NodeID: uint64(cfg.NodeID), Voters: voters, Listener: raftConns,
			ClusterID: func() string { return b.controller.Image().ClusterID },
			Dial:      func(ctx context.Context, addr string) (net.Conn, error) { return b.dialSecured(ctx, "tcp", addr) },
			Dir:       filepath.Join(cfg.DataDir, "__cluster_metadata-0"), Logger: logger,
		}, b.controller)
		if err != nil {
			return b, fmt.Errorf("metadata quorum: %w", err)
		}
		b.controller.SetLog(raftLog{b.raft})
	default:
		// A broker-only node copies the metadata image from the voters.
		raftConns.Close()
		b.observer = &controller.ObserverLog{}
		b.controller.SetLog(b.observer)
		if err := b.waitForMetadata(); err != nil {
			return b, err
		}
		b.goFunc(b.metadataLoop)
	}

	// Follow every new image, then catch up with the current one and
	// wait until it is applied: partitions are open before registering.
	if err := b.startPublisher(); err != nil {
		return b, err
	}
	if err := b.register(); err != nil {
		return b, err
	}
	if err := writeMetaProperties(cfg.DataDir, b.controller.Image().ClusterID, cfg.NodeID); err != nil {
		return b, err
	}
	// log.retention.check.interval.ms, log.cleaner.backoff.ms
	b.goFunc(func() { b.every(b.cfg.RetentionCheckInterval, func(time.Time) { b.EnforceRetention() }) })
	b.goFunc(func() { b.every(b.opts.timing.CleanerBackoff, func(time.Time) { b.Compact() }) })
	// producer.id.expiration.check.interval.ms
	if iv := b.cfg.Transactions.ProducerIDExpirationCheckInterval; iv > 0 {
		b.goFunc(func() { b.every(iv, b.ExpireProducers) })
	}
	if err := b.sendHeartbeat(false); err != nil {
		b.logger.Warn("heartbeat", "err", err)
	}
	b.goFunc(func() { b.every(b.opts.timing.HeartbeatInterval, b.heartbeat) })
	b.goFunc(func() { b.every(min(b.opts.timing.ISRCheckInterval, hwCheckpointInterval), b.reviewReplicas) })
	if b.opts.controller == nil {
		b.goFunc(func() { b.every(time.Second, b.tickController) })
	}
	if b.http != nil {
		// The console is a Kafka client of this node's own listener,
		// served on the HTTP listener beside /metrics.
		var werr error
		if b.web, werr = web.New(web.Config{Bootstrap: []string{b.server.Addr().String()}, Logger: logger}); werr != nil {
			b.web = nil
			logger.Error("web console not started", "err", werr)
		} else {
			b.http.setConsole(b.web.Handler())
			logger.Info("web console serving", "url", "http://"+b.http.addr().String()+"/")
		}
	}
	b.ready.Store(true)
	logger.Info("arus broker started", "node_id", cfg.NodeID, "listener", b.server.Addr().String(),
		"inter_broker_listener", b.interServer.Addr().String(), "inter_broker_advertised", b.InterBrokerAdvertised(),
		"advertised", net.JoinHostPort(b.advertised.host, strconv.Itoa(int(b.advertised.port))),
		"data_dir", cfg.DataDir, "cluster_id", b.controller.Image().ClusterID)
	return b, nil
}

func (b *Broker) goFunc(fn func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		fn()
	}()
}

func (b *Broker) resolveAdvertised() error {
	var err error
	b.advertised.host, b.advertised.port, err = advertisedAddr(b.cfg.AdvertisedListener, b.cfg.Listener, b.server.Addr())
	if err != nil {
		return fmt.Errorf("advertised listener: %w", err)
	}
	// The inter-broker listener is advertised on its own host, else on the
	// client listener's advertised host (its default binds the same host).
	interListener := b.cfg.InterBrokerListener
	if host, port, _ := net.SplitHostPort(interListener); host == "" || host == "0.0.0.0" || host == "::" {
		interListener = net.JoinHostPort(b.advertised.host, port)
	}
	b.interAdvertised.host, b.interAdvertised.port, err = advertisedAddr(b.cfg.AdvertisedInterBrokerListener, interListener, b.interServer.Addr())
	if err != nil {
		return fmt.Errorf("advertised inter-broker listener: %w", err)
	}
	return nil
}

// advertisedAddr is the advertised host and port of a listener: addr when
// set, else the listener's host (this machine's name for a wildcard) and
// the bound port.
func advertisedAddr(addr, listener string, bound net.Addr) (string, int32, error) {
	if addr == "" {
		host, _, _ := net.SplitHostPort(listener)
		if host == "" || host == "0.0.0.0" || host == "::" {
			if h, err := os.Hostname(); err == nil {
				host = h
			} else {
				host = "localhost"
			}
		}
		addr = net.JoinHostPort(host, strconv.Itoa(bound.(*net.TCPAddr).Port))
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("%q: bad port", addr)
	}
	return host, int32(p), nil
}

// InterBrokerAddr is the address the inter-broker listener is bound to.
func (b *Broker) InterBrokerAddr() net.Addr { return b.interServer.Addr() }

// InterBrokerAdvertised is host:port peers reach the inter-broker
// listener at (registered with the controller).
func (b *Broker) InterBrokerAdvertised() string {
	return net.JoinHostPort(b.interAdvertised.host, strconv.Itoa(int(b.interAdvertised.port)))
}

// Addr is the address the client listener is bound to.
func (b *Broker) Addr() net.Addr { return b.server.Addr() }

// Controller returns the node's controller (tests inspect the image).
func (b *Broker) Controller() *controller.Controller { return b.controller }

// ControllerChannel returns the node's way to the active controller,
// chosen at start (tests check which).
func (b *Broker) ControllerChannel() ctrlchan.Channel { return b.ctrl }

// Partition implements api.Partitions.
func (b *Broker) Partition(topic string, index int32) *partition.Partition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.mu.partitions[topicPartition{topic, index}]
}

func (b *Broker) topicConfig(im *metadata.Image, topic string) config.Topic {
	return config.ResolveTopic(im.TopicConfigs[topic], b.cfg.Layers(im.BrokerConfigs).TopicDefaults())
}

// deletedSuffix marks a partition directory being removed, as Kafka's
// "-delete" directories do; leftovers are removed at the next start.
const deletedSuffix = "-delete"

// removeDir renames a partition directory out of the way at once and
// deletes it in the background: this runs on the metadata publisher, and
// removing a large log must not hold it up.
func (b *Broker) removeDir(name string) {
	src := filepath.Join(b.cfg.DataDir, name)
	dst := fmt.Sprintf("%s.%d%s", src, time.Now().UnixNano(), deletedSuffix)
	if err := os.Rename(src, dst); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			b.logger.Error("remove partition data", "dir", name, "err", err)
		}
		return
	}
	b.logger.Info("removing data of a partition no longer hosted here", "dir", name)
	b.goFunc(func() {
		if err := os.RemoveAll(dst); err != nil {
			b.logger.Error("remove partition data", "dir", dst, "err", err)
		}
	})
}

// removeStrayDirs removes, once after start, the partition
// directories of partitions no longer hosted here (deleted or moved away
// while this node was down) and leftovers of interrupted removals. A
// partition assigned here is kept even if it failed to open.
func (b *Broker) removeStrayDirs(im *metadata.Image) {
	entries, err := os.ReadDir(b.cfg.DataDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "__cluster_metadata-0" {
			continue
		}
		if strings.HasSuffix(e.Name(), deletedSuffix) {
			dst := filepath.Join(b.cfg.DataDir, e.Name())
			b.goFunc(func() { _ = os.RemoveAll(dst) })
			continue
		}
		topic, index, ok := parsePartitionDir(e.Name())
		if !ok {
			continue
		}
		if t, exists := im.Topics[topic]; exists && int(index) < len(t.Partitions) &&
			containsID(t.Partitions[index].Replicas, b.cfg.NodeID) {
			continue
		}
		b.removeDir(e.Name())
	}
}

func parsePartitionDir(name string) (string, int32, bool) {
	i := len(name) - 1
	for i >= 0 && name[i] >= '0' && name[i] <= '9' {
		i--
	}
	if i <= 0 || i == len(name)-1 || name[i] != '-' {
		return "", 0, false
	}
	n, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil {
		return "", 0, false
	}
	return name[:i], int32(n), config.ValidTopicName(name[:i]) == nil
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// every runs fn every interval until the broker stops; each background
// duty (retention, cleaning, heartbeats, ISR review, the controller's
// clock) is one such loop, started with goFunc.
func (b *Broker) every(interval time.Duration, fn func(now time.Time)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			fn(now)
		}
	}
}

// Compact runs one cleaner pass over every compacted partition now.
func (b *Broker) Compact() {
	for _, p := range b.partitionList() {
		st, err := p.Compact()
		if err != nil {
			b.logger.Error("log cleaner", "topic", p.Topic(), "partition", p.Index(), "err", err)
		} else if st.SegmentsCleaned > 0 {
			b.logger.Info("log cleaner compacted", "topic", p.Topic(), "partition", p.Index(),
				"segments", st.SegmentsCleaned, "bytes_before", st.BytesBefore, "bytes_after", st.BytesAfter, "records_removed", st.RecordsRemoved)
		}
	}
}

func (b *Broker) partitionList() []*partition.Partition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	parts := make([]*partition.Partition, 0, len(b.mu.partitions))
	for _, p := range b.mu.partitions {
		parts = append(parts, p)
	}
	return parts
}

// EnforceRetention runs one retention pass over every partition now.
func (b *Broker) EnforceRetention() {
	for _, p := range b.partitionList() {
		n, err := p.EnforceRetention()
		if err != nil {
			b.logger.Error("retention", "topic", p.Topic(), "partition", p.Index(), "err", err)
		} else if n > 0 {
			b.logger.Info("retention deleted segments", "topic", p.Topic(), "partition", p.Index(), "segments", n, "log_start_offset", p.LogStartOffset())
		}
	}
}

// ExpireProducers forgets, on every partition, the producer ids idle past
// producer.id.expiration.ms (partition.ExpireProducers).
func (b *Broker) ExpireProducers(now time.Time) {
	exp := b.cfg.Transactions.ProducerIDExpiration
	if exp <= 0 {
		return
	}
	for _, p := range b.partitionList() {
		if n := p.ExpireProducers(now, exp); n > 0 {
			b.logger.Debug("expired producer ids", "topic", p.Topic(), "partition", p.Index(), "producers", n)
		}
	}
}

// Shutdown hands over leadership (controlled shutdown, in a cluster),
// stops serving, closes every partition cleanly (so the next start needs
// no recovery) and releases the data directory. Idempotent.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.controlled = true
	return b.stopAll(ctx)
}

// Crash stops the broker without handing over leadership, as a dead
// process would look to the rest of the cluster (tests of failover).
func (b *Broker) Crash(ctx context.Context) error {
	return b.stopAll(ctx)
}

func (b *Broker) stopAll(ctx context.Context) error {
	b.stopping.Store(true) // /readyz answers 503 from here on
	b.shutdownOnce.Do(func() {
		if b.controlled && b.ctrl != nil && len(b.controller.Image().Brokers) > 1 {
			// Controlled shutdown: hand leadership over before going away.
			if err := b.sendHeartbeat(true); err != nil {
				b.logger.Warn("controlled shutdown", "err", err)
			}
		}
		close(b.stop)
		// From here on metadata changes no longer touch partitions (and
		// start no background removals the wait below would miss).
		b.mu.Lock()
		b.mu.closed = true
		b.mu.Unlock()
		var errs []error
		if b.web != nil {
			errs = append(errs, b.web.Shutdown(ctx))
		}
		for _, l := range b.extra {
			errs = append(errs, l.server.Shutdown(ctx))
		}
		if b.server != nil {
			errs = append(errs, b.server.Shutdown(ctx))
		}
		if b.interServer != nil {
			errs = append(errs, b.interServer.Shutdown(ctx))
		}
		if b.handlers != nil {
			b.handlers.Close()
		}
		if b.groups != nil {
			errs = append(errs, b.groups.Shutdown(ctx))
		}
		if b.txns != nil {
			errs = append(errs, b.txns.Shutdown(ctx))
		}
		b.wg.Wait()
		if b.replicas != nil {
			b.replicas.Shutdown()
		}

		b.mu.Lock()
		errs = append(errs, closePartitions(b.mu.partitions)...)
		b.mu.partitions = nil
		b.mu.Unlock()
		if b.raft != nil {
			errs = append(errs, b.raft.Shutdown(ctx))
		}
		if b.remote != nil {
			b.remote.close()
		}
		if b.http != nil {
			// Last, so probes see "not ready" rather than a refused
			// connection while the rest shuts down.
			errs = append(errs, b.http.shutdown(ctx))
		}
		if b.lock != nil {
			errs = append(errs, b.lock.Close())
		}
		b.shutdownErr = errors.Join(errs...)
	})
	return b.shutdownErr
}

// lockDir takes an exclusive lock on <dir>/.lock so two nodes never share
// a data directory.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another arus process: %w", dir, err)
	}
	return f, nil
}

// writeMetaProperties writes Kafka's meta.properties for operators and tools.
func writeMetaProperties(dir, clusterID string, nodeID int32) error {
	content := fmt.Sprintf("#arus node metadata\nversion=1\ncluster.id=%s\nnode.id=%d\n", clusterID, nodeID)
	path := filepath.Join(dir, "meta.properties")
	if old, err := os.ReadFile(path); err == nil && string(old) == content {
		return nil
	}
	return os.WriteFile(path, []byte(content), 0o644)
}
