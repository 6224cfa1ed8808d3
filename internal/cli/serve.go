package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // profiles behind --pprof-addr
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/arus-io/arus/internal/broker"
	"github.com/arus-io/arus/internal/config"
)

// connectionOptions are the connection limits and shutdown bound.
type connectionOptions struct {
	queuedMaxRequestBytes int64
	maxIdle               time.Duration
	maxConnections        int32
	maxPerIP              int32
	perIPOverrides        string
	creationRate          int32
	shutdownTimeout       time.Duration
}

type serveOptions struct {
	overrides           []string
	nodeID              int32
	listener            string
	advertised          string
	interBroker         string
	interAdvertised     string
	dataDir             string
	autoCreate          bool
	numPartitions       int32
	retentionCheck      time.Duration
	topicDefaults       []string
	logLevel            string
	logFormat           string
	pprofAddr           string
	httpListener        string
	voters              string
	rack                string
	autoLeaderRebalance bool
	configFile          string
	conns               connectionOptions
	changed             func(flag string) bool // set on the command line or by env
}

func addServeFlags(cmd *cobra.Command, o *serveOptions) {
	f := cmd.Flags()
	f.StringVar(&o.configFile, "config", envStr("ARUS_CONFIG", ""), "Kafka-style server.properties file (node.id, listeners, log.dirs, controller.quorum.voters, broker.rack, num.partitions, log.retention.hours, ...); flags and env override it")
	envOf := map[string]string{"node-id": "ARUS_NODE_ID", "listener": "ARUS_LISTENER", "advertised-listener": "ARUS_ADVERTISED_LISTENER",
		"data-dir": "ARUS_DATA_DIR", "auto-create-topics": "ARUS_AUTO_CREATE_TOPICS", "num-partitions": "ARUS_NUM_PARTITIONS",
		"controller-quorum-voters": "ARUS_CONTROLLER_QUORUM_VOTERS", "rack": "ARUS_RACK",
		"inter-broker-listener": "ARUS_INTER_BROKER_LISTENER", "advertised-inter-broker-listener": "ARUS_ADVERTISED_INTER_BROKER_LISTENER",
		"http-listener": "ARUS_HTTP_LISTENER"}
	o.changed = func(flag string) bool {
		if f.Changed(flag) {
			return true
		}
		_, ok := os.LookupEnv(envOf[flag])
		return envOf[flag] != "" && ok
	}
	f.Int32Var(&o.nodeID, "node-id", envInt("ARUS_NODE_ID", 1), "node.id of this broker (env ARUS_NODE_ID)")
	f.StringVar(&o.listener, "listener", envStr("ARUS_LISTENER", "localhost:9092"), "host:port clients connect to (env ARUS_LISTENER)")
	f.StringVar(&o.advertised, "advertised-listener", envStr("ARUS_ADVERTISED_LISTENER", ""), "host:port given to clients in metadata; default: the listener (env ARUS_ADVERTISED_LISTENER)")
	f.StringVar(&o.interBroker, "inter-broker-listener", envStr("ARUS_INTER_BROKER_LISTENER", ""), "host:port of the inter-broker and controller listener: replication, requests to the controller and the metadata quorum; peers only, never clients (the listener of inter.broker.listener.name / controller.listener.names). Default: this node's address in --controller-quorum-voters, else a free port on the client listener's host, registered for peers (env ARUS_INTER_BROKER_LISTENER)")
	f.StringVar(&o.interAdvertised, "advertised-inter-broker-listener", envStr("ARUS_ADVERTISED_INTER_BROKER_LISTENER", ""), "host:port peers use to reach the inter-broker listener; default: the advertised host with the bound port (env ARUS_ADVERTISED_INTER_BROKER_LISTENER)")
	f.StringVar(&o.dataDir, "data-dir", envStr("ARUS_DATA_DIR", "arus-data"), "directory for partition logs and metadata (log.dirs; env ARUS_DATA_DIR)")
	f.BoolVar(&o.autoCreate, "auto-create-topics", envStr("ARUS_AUTO_CREATE_TOPICS", "true") == "true", "create unknown topics when clients ask for them (auto.create.topics.enable)")
	f.Int32Var(&o.numPartitions, "num-partitions", envInt("ARUS_NUM_PARTITIONS", 1), "partitions of auto-created topics (num.partitions)")
	f.DurationVar(&o.retentionCheck, "retention-check-interval", 5*time.Minute, "how often retention deletes old segments (log.retention.check.interval.ms)")
	f.StringArrayVar(&o.topicDefaults, "topic-default", nil, "broker-wide topic config default, e.g. --topic-default retention.ms=86400000 (repeatable)")
	f.StringVar(&o.logLevel, "log-level", envStr("ARUS_LOG_LEVEL", "info"), "debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", envStr("ARUS_LOG_FORMAT", "text"), "text or json")
	f.StringVar(&o.voters, "controller-quorum-voters", envStr("ARUS_CONTROLLER_QUORUM_VOTERS", ""), "metadata quorum of a cluster: id@host:port of every controller's inter-broker listener, comma separated, e.g. 1@10.0.0.1:9093,2@10.0.0.2:9093,3@10.0.0.3:9093 (controller.quorum.voters; empty: a one-node cluster)")
	f.BoolVar(&o.autoLeaderRebalance, "auto-leader-rebalance", true, "move leadership back to preferred replicas every leader.imbalance.check.interval.seconds (auto.leader.rebalance.enable)")
	f.StringVar(&o.rack, "rack", envStr("ARUS_RACK", ""), "rack of this broker (broker.rack)")
	c := &o.conns
	f.Int64Var(&c.queuedMaxRequestBytes, "queued-max-request-bytes", config.DefaultQueuedMaxRequestBytes, "bytes of requests read but not yet handled, over all connections; readers wait beyond it (queued.max.request.bytes; -1: unbounded)")
	f.DurationVar(&c.maxIdle, "connections-max-idle", config.DefaultConnectionsMaxIdle, "close connections idle this long (connections.max.idle.ms; negative: never)")
	f.Int32Var(&c.maxConnections, "max-connections", config.DefaultMaxConnections, "at most this many client connections; more wait to be accepted (max.connections)")
	f.Int32Var(&c.maxPerIP, "max-connections-per-ip", config.DefaultMaxConnectionsPerIP, "connections from one address beyond this are closed (max.connections.per.ip)")
	f.StringVar(&c.perIPOverrides, "max-connections-per-ip-overrides", "", "per-host limits, host:count,host:count (max.connections.per.ip.overrides)")
	f.Int32Var(&c.creationRate, "max-connection-creation-rate", config.DefaultMaxConnectionCreationRate, "new connections accepted per second (max.connection.creation.rate)")
	f.DurationVar(&c.shutdownTimeout, "shutdown-timeout", config.DefaultShutdownTimeout, "a SIGTERM or SIGINT exits after this even if shutdown has not finished; a second signal exits at once (shutdown.timeout.ms)")
	f.StringVar(&o.httpListener, "http-listener", envStr("ARUS_HTTP_LISTENER", config.DefaultHTTPListener), "host:port of the HTTP listener: web console, Prometheus /metrics, /healthz and /readyz; \"off\" disables it (http.listener; env ARUS_HTTP_LISTENER)")
	f.StringArrayVar(&o.overrides, "override", nil, "set a server.properties key, over --config, e.g. --override listeners=SASL_SSL://0.0.0.0:9093 --override ssl.keystore.location=/etc/arus/broker.pem --override authorizer.class.name="+config.StandardAuthorizer+" (repeatable; kafka-server-start.sh's --override)")
	f.StringVar(&o.pprofAddr, "pprof-addr", "", "serve Go's net/http/pprof profiles on this address, e.g. 127.0.0.1:6060 (off by default)")
}

func newServeCommand() *cobra.Command {
	opts := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run an arus broker (the default when no command is given)",
		Long: `Run an arus node: a one-node cluster by default, listening for Kafka clients
on localhost:9092 and keeping its data in ./arus-data. Every acknowledged
write is fsynced before the acknowledgement is sent. Stop with Ctrl-C
(SIGINT) or SIGTERM for a clean shutdown; after a crash the next start
recovers the logs and keeps every acknowledged record.`,
		Example: `  arus serve
  arus serve --listener 127.0.0.1:19092 --data-dir /tmp/arus --num-partitions 6
  arus serve --node-id 1 --listener 0.0.0.0:9092 --inter-broker-listener 10.0.0.1:9093 \
      --controller-quorum-voters 1@10.0.0.1:9093,2@10.0.0.2:9093,3@10.0.0.3:9093
  arus serve --topic-default retention.ms=3600000 --auto-create-topics=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), opts)
		},
	}
	addServeFlags(cmd, opts)
	return cmd
}

func runServe(ctx context.Context, o *serveOptions) error {
	logger, err := newLogger(o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	defaults := map[string]string{}
	for _, kv := range o.topicDefaults {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--topic-default %q: want name=value", kv)
		}
		defaults[k] = v
	}
	cfg := config.Broker{}
	props := map[string]string{}
	if o.configFile != "" {
		var err error
		if props, err = config.LoadProperties(o.configFile); err != nil {
			return err
		}
	}
	// --override key=value (kafka-server-start.sh's --override) sets any
	// server.properties key, over the file.
	for _, kv := range o.overrides {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--override %q: want key=value", kv)
		}
		props[strings.TrimSpace(k)] = v
	}
	if len(props) > 0 {
		if err := config.ApplyProperties(&cfg, props); err != nil {
			return err
		}
	}
	// Flags (and their environment variables) win over the file; the
	// file wins over the flags' defaults.
	pick := func(flag string, fileSet bool) bool { return o.changed(flag) || !fileSet }
	if pick("node-id", cfg.NodeID != 0) {
		cfg.NodeID = o.nodeID
	}
	if pick("listener", cfg.Listener != "") {
		cfg.Listener = o.listener
	}
	if pick("advertised-listener", cfg.AdvertisedListener != "") {
		cfg.AdvertisedListener = o.advertised
	}
	if pick("inter-broker-listener", cfg.InterBrokerListener != "") {
		cfg.InterBrokerListener = o.interBroker
	}
	if pick("advertised-inter-broker-listener", cfg.AdvertisedInterBrokerListener != "") {
		cfg.AdvertisedInterBrokerListener = o.interAdvertised
	}
	if pick("data-dir", cfg.DataDir != "") {
		cfg.DataDir = o.dataDir
	}
	if pick("auto-create-topics", cfg.AutoCreateTopics != nil) {
		auto := o.autoCreate
		cfg.AutoCreateTopics = &auto
	}
	if pick("num-partitions", cfg.NumPartitions != 0) {
		cfg.NumPartitions = o.numPartitions
	}
	if pick("controller-quorum-voters", cfg.ControllerQuorumVoters != "") {
		cfg.ControllerQuorumVoters = o.voters
	}
	if pick("auto-leader-rebalance", cfg.AutoLeaderRebalance != nil) {
		on := o.autoLeaderRebalance
		cfg.AutoLeaderRebalance = &on
	}
	if pick("http-listener", cfg.HTTPListener != "") {
		cfg.HTTPListener = o.httpListener
	}
	if pick("rack", cfg.Rack != "") {
		cfg.Rack = o.rack
	}
	if pick("retention-check-interval", cfg.RetentionCheckInterval != 0) {
		cfg.RetentionCheckInterval = o.retentionCheck
	}
	applyConnectionFlags(&cfg, o)
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = config.DefaultShutdownTimeout
	}
	for k, v := range defaults {
		if cfg.TopicDefaults == nil {
			cfg.TopicDefaults = map[string]string{}
		}
		cfg.TopicDefaults[k] = v
	}
	// Start runs in its own goroutine so that a signal while it waits
	// (for the metadata quorum, say) still ends the process in bounded time.
	type startResult struct {
		b   *broker.Broker
		err error
	}
	started := make(chan startResult, 1)
	go func() {
		b, err := broker.Start(cfg, logger)
		started <- startResult{b, err}
	}()
	var b *broker.Broker
	select {
	case r := <-started:
		if r.err != nil {
			return r.err
		}
		b = r.b
	case <-ctx.Done():
		logger.Info("signal while starting: stopping once started")
		return shutdown(func(ctx context.Context) error {
			select {
			case r := <-started:
				if r.err != nil {
					return nil // never started; nothing to stop
				}
				return r.b.Shutdown(ctx)
			case <-ctx.Done():
				return fmt.Errorf("still starting: %w", ctx.Err())
			}
		}, cfg.ShutdownTimeout, logger)
	}
	if o.pprofAddr != "" {
		srv := &http.Server{Addr: o.pprofAddr, Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
				logger.Error("pprof server", "err", err)
			}
		}()
		defer srv.Close()
		logger.Info("pprof profiles served", "addr", "http://"+o.pprofAddr+"/debug/pprof/")
	}
	<-ctx.Done()
	return shutdown(b.Shutdown, cfg.ShutdownTimeout, logger)
}

// shutdown stops the broker (with stop) within timeout. A SIGINT or SIGTERM while it
// runs (the first one ended ctx, see Main) exits at once, and so does
// running out of time: either returns an error, so the process exits
// non-zero without waiting for what is stuck.
func shutdown(stop func(context.Context) error, timeout time.Duration, logger *slog.Logger) error {
	// Registered only now, so the signal that started the shutdown is not
	// counted again.
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	logger.Info("shutting down", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stop(ctx) }()
	// The broker's own deadline is ctx; the timer below is the process's,
	// a little later, for a shutdown stuck where no context reaches.
	hard := time.NewTimer(timeout + time.Second)
	defer hard.Stop()
	select {
	case err := <-done:
		if err != nil {
			logger.Error("shutdown", "err", err)
			return fmt.Errorf("%w: %w", errSilent, err)
		}
		logger.Info("shut down")
		return nil
	case sig := <-again:
		logger.Error("second signal: exiting without finishing shutdown", "signal", sig.String())
		return fmt.Errorf("%w: second signal", errSilent)
	case <-hard.C:
		logger.Error("shutdown did not finish in time: exiting", "timeout", timeout)
		return fmt.Errorf("%w: shutdown timed out", errSilent)
	}
}

// applyConnectionFlags sets the connection limits from flags that were
// given, or from the flags' defaults where the config file says nothing.
func applyConnectionFlags(cfg *config.Broker, o *serveOptions) {
	pick := func(flag string, fileSet bool) bool { return o.changed(flag) || !fileSet }
	c := o.conns
	if pick("queued-max-request-bytes", cfg.QueuedMaxRequestBytes != 0) {
		cfg.QueuedMaxRequestBytes = c.queuedMaxRequestBytes
		if cfg.QueuedMaxRequestBytes == config.DefaultQueuedMaxRequestBytes && !o.changed("queued-max-request-bytes") {
			cfg.QueuedMaxRequestBytes = 0 // the default, which follows socket.request.max.bytes
		}
	}
	if pick("connections-max-idle", cfg.ConnectionsMaxIdle != 0) {
		cfg.ConnectionsMaxIdle = c.maxIdle
	}
	if pick("max-connections", cfg.MaxConnections != 0) {
		cfg.MaxConnections = c.maxConnections
	}
	if pick("max-connections-per-ip", cfg.MaxConnectionsPerIP != 0) {
		cfg.MaxConnectionsPerIP = c.maxPerIP
	}
	if pick("max-connections-per-ip-overrides", cfg.MaxConnectionsPerIPOverrides != "") {
		cfg.MaxConnectionsPerIPOverrides = c.perIPOverrides
	}
	if pick("max-connection-creation-rate", cfg.MaxConnectionCreationRate != 0) {
		cfg.MaxConnectionCreationRate = c.creationRate
	}
	if pick("shutdown-timeout", cfg.ShutdownTimeout != 0) {
		cfg.ShutdownTimeout = c.shutdownTimeout
	}
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func envStr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envInt(name string, def int32) int32 {
	var n int32
	if v, ok := os.LookupEnv(name); ok {
		if _, err := fmt.Sscan(v, &n); err == nil {
			return n
		}
	}
	return def
}
