package config

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// LoadProperties reads a Kafka-style server.properties file: key=value
// lines, '#' or '!' comments, blank lines ignored.
func LoadProperties(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	props := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, ":")
		}
		if !ok {
			return nil, fmt.Errorf("config file %s line %d: want key=value, got %q", path, n, line)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return props, nil
}

// namedListener is one entry of listeners or advertised.listeners:
// NAME://host:port.
type namedListener struct{ name, addr string }

func parseListeners(v string) []namedListener {
	var out []namedListener
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, addr := "PLAINTEXT", item
		if i := strings.Index(item, "://"); i >= 0 {
			name, addr = strings.ToUpper(item[:i]), item[i+3:]
		}
		out = append(out, namedListener{name, addr})
	}
	return out
}

// listenerProps are the listener configs of a properties file, resolved
// once every key is read (map order is random).
type listenerProps struct {
	listeners, advertised []namedListener
	interBrokerName       string
	controllerNames       []string
	// interBrokerProtocol is security.inter.broker.protocol, Kafka's
	// older way to name the inter-broker listener (by its protocol).
	interBrokerProtocol string
}

// apply sets the client and inter-broker listeners. arus serves the
// inter-broker and the controller traffic on one listener: the one named
// by controller.listener.names, else by inter.broker.listener.name (when
// inter.broker.listener.name names the client listener, as Kafka's
// quickstart does, the controller listener carries the inter-broker
// traffic too). The client listener is the other one.
func (lp listenerProps) apply(b *Broker) error {
	if lp.interBrokerName == "" && lp.interBrokerProtocol != "" {
		lp.interBrokerName = lp.interBrokerProtocol
	}
	internal := lp.interBrokerName
	switch {
	case len(lp.controllerNames) > 1:
		return fmt.Errorf("controller.listener.names: arus serves the controller on one listener, got %v", lp.controllerNames)
	case len(lp.controllerNames) == 1:
		internal = lp.controllerNames[0]
	}
	if lp.interBrokerName != "" && lp.interBrokerName != internal && !hasListener(lp.listeners, lp.interBrokerName) && len(lp.listeners) > 0 {
		return fmt.Errorf("inter.broker.listener.name %s is not among listeners", lp.interBrokerName)
	}
	// Every listener but the internal one serves clients; the first is
	// Listener, the others ExtraListeners, each advertised by name.
	if len(lp.listeners) > 0 {
		if internal != "" && !hasListener(lp.listeners, internal) {
			return fmt.Errorf("listeners has no listener named %s", internal)
		}
		b.ExtraListeners = nil
		for _, l := range lp.listeners {
			switch {
			case l.name == internal:
				b.InterBrokerListener = l.addr
				b.Security.InterBrokerListenerName = internal
			case b.Listener == "" || b.ListenerName == "" || b.ListenerName == l.name:
				b.Listener, b.ListenerName = l.addr, l.name
			default:
				b.ExtraListeners = append(b.ExtraListeners, NamedListener{Name: l.name, Addr: l.addr})
			}
		}
		if b.ListenerName == "" || !hasListener(lp.listeners, b.ListenerName) || b.ListenerName == internal {
			return fmt.Errorf("listeners: no client listener besides the inter-broker listener %s", internal)
		}
		if lp.interBrokerName != "" && lp.interBrokerName != internal && lp.interBrokerName != b.ListenerName {
			return fmt.Errorf("listeners: arus serves inter-broker and controller traffic on one listener; "+
				"inter.broker.listener.name (%s) and controller.listener.names (%s) must name the same one or the first client listener",
				lp.interBrokerName, internal)
		}
	}
	if len(lp.listeners) == 0 && internal != "" {
		// The listener's address comes from --inter-broker-listener.
		b.Security.InterBrokerListenerName = internal
	}
	for _, l := range lp.advertised {
		switch {
		case l.name == internal:
			b.AdvertisedInterBrokerListener = l.addr
		case l.name == b.ListenerName:
			b.AdvertisedListener = l.addr
		default:
			found := false
			for i := range b.ExtraListeners {
				if b.ExtraListeners[i].Name == l.name {
					b.ExtraListeners[i].Advertised, found = l.addr, true
				}
			}
			if !found {
				return fmt.Errorf("advertised.listeners names %s, which is not among listeners", l.name)
			}
		}
	}
	return nil
}

func hasListener(list []namedListener, name string) bool {
	for _, l := range list {
		if l.name == name {
			return true
		}
	}
	return false
}

// ApplyProperties sets the fields of b named by Kafka broker config keys
// in props. Unknown keys are an error, so typos do not pass silently.
func ApplyProperties(b *Broker, props map[string]string) error {
	byBrokerName := map[string]string{}
	for _, d := range topicDefs {
		if d.BrokerName != "" {
			byBrokerName[d.BrokerName] = d.Name
		}
	}
	var lp listenerProps
	for k, v := range props {
		bad := func(err error) error { return fmt.Errorf("config %s=%q: %v", k, v, err) }
		switch k {
		case "node.id", "broker.id":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return bad(err)
			}
			b.NodeID = int32(n)
		case "listeners":
			lp.listeners = parseListeners(v)
		case "http.listener":
			b.HTTPListener = v
		case "advertised.listeners":
			lp.advertised = parseListeners(v)
		case "inter.broker.listener.name":
			lp.interBrokerName = strings.ToUpper(strings.TrimSpace(v))
		case "security.inter.broker.protocol":
			lp.interBrokerProtocol = strings.ToUpper(strings.TrimSpace(v))
		case "controller.listener.names":
			for _, n := range strings.Split(v, ",") {
				if n = strings.ToUpper(strings.TrimSpace(n)); n != "" {
					lp.controllerNames = append(lp.controllerNames, n)
				}
			}
		case "log.dirs", "log.dir":
			b.DataDir = strings.Split(v, ",")[0]
		case "controller.quorum.voters":
			b.ControllerQuorumVoters = v
		case "broker.rack":
			b.Rack = v
		case "auto.create.topics.enable":
			on, err := strconv.ParseBool(v)
			if err != nil {
				return bad(err)
			}
			b.AutoCreateTopics = &on
		case "num.partitions":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return bad(err)
			}
			b.NumPartitions = int32(n)
		case "default.replication.factor":
			n, err := strconv.ParseInt(v, 10, 16)
			if err != nil {
				return bad(err)
			}
			b.DefaultReplicationFactor = int16(n)
		case "socket.request.max.bytes":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return bad(err)
			}
			b.MaxRequestBytes = int32(n)
		case "queued.max.request.bytes":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad(err)
			}
			b.QueuedMaxRequestBytes = n
		case "connections.max.idle.ms", "shutdown.timeout.ms":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad(err)
			}
			d := time.Duration(n) * time.Millisecond
			switch {
			case k == "shutdown.timeout.ms":
				b.ShutdownTimeout = d
			case n < 0: // Kafka's -1: never close idle connections
				b.ConnectionsMaxIdle = -1
			default:
				b.ConnectionsMaxIdle = d
			}
		case "max.connections", "max.connections.per.ip", "max.connection.creation.rate":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n <= 0 {
				return bad(fmt.Errorf("want a positive number"))
			}
			switch k {
			case "max.connections":
				b.MaxConnections = int32(n)
			case "max.connections.per.ip":
				b.MaxConnectionsPerIP = int32(n)
			default:
				b.MaxConnectionCreationRate = int32(n)
			}
		case "max.connections.per.ip.overrides":
			if _, err := ParseConnectionOverrides(v); err != nil {
				return bad(err)
			}
			b.MaxConnectionsPerIPOverrides = v
		case "arus.http.listener": // the name the metrics work first used
			b.HTTPListener = v
		case "arus.client.telemetry.metrics":
			b.ClientTelemetryMetrics = &v
		case "arus.client.telemetry.push.interval.ms":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n <= 0 {
				return bad(fmt.Errorf("want a positive number of milliseconds"))
			}
			b.ClientTelemetryPushInterval = time.Duration(n) * time.Millisecond
		case "arus.metrics.per.partition.enabled":
			on, err := strconv.ParseBool(v)
			if err != nil {
				return bad(err)
			}
			b.MetricsPerPartition = &on
		case "decompression.buffer.max.bytes":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad(err)
			}
			b.DecompressionMaxBytes = n
		case "arus.max.partitions.per.broker":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return bad(err)
			}
			b.MaxPartitionsPerBroker = int32(n)
		case "arus.fd.reserve":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return bad(err)
			}
			b.FDReserve = int32(n)
		case "log.retention.check.interval.ms":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad(err)
			}
			b.RetentionCheckInterval = time.Duration(n) * time.Millisecond
		case "log.flush.offset.checkpoint.interval.ms":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad(err)
			}
			b.RecoveryPointCheckpointInterval = time.Duration(n) * time.Millisecond
		case "auto.leader.rebalance.enable":
			on, err := strconv.ParseBool(v)
			if err != nil {
				return bad(err)
			}
			b.AutoLeaderRebalance = &on
		case "leader.imbalance.check.interval.seconds":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return bad(fmt.Errorf("want a positive number of seconds"))
			}
			b.LeaderImbalanceCheckInterval = time.Duration(n) * time.Second
		case "log.retention.hours", "log.retention.minutes":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad(err)
			}
			unit := time.Hour
			if k == "log.retention.minutes" {
				unit = time.Minute
			}
			setTopicDefault(b, "retention.ms", strconv.FormatInt((time.Duration(n)*unit).Milliseconds(), 10))
		case "process.roles":
			// Derived: a node listed in controller.quorum.voters is a
			// controller and broker, any other node a broker only.
			if !strings.Contains(v, "broker") {
				return bad(fmt.Errorf("every arus node serves clients; dedicated controllers are not supported"))
			}
		default:
			if ok, err := applySecurityProperty(&b.Security, k, v); ok {
				if err != nil {
					return bad(err)
				}
				continue
			}
			if ok, err := applyGroupProperty(&b.Groups, k, v); ok {
				if err != nil {
					return bad(err)
				}
				continue
			}
			if ok, err := applyTxnProperty(&b.Transactions, k, v); ok {
				if err != nil {
					return bad(err)
				}
				continue
			}
			name, ok := byBrokerName[k]
			if !ok {
				return fmt.Errorf("config %s: unknown or unsupported broker config", k)
			}
			setTopicDefault(b, name, v)
		}
	}
	return lp.apply(b)
}

func setTopicDefault(b *Broker, name, value string) {
	if b.TopicDefaults == nil {
		b.TopicDefaults = map[string]string{}
	}
	b.TopicDefaults[name] = value
}
