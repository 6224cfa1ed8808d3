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

// stripListener turns "PLAINTEXT://host:port" (first of a list) into host:port.
func stripListener(v string) string {
	v = strings.TrimSpace(strings.Split(v, ",")[0])
	if i := strings.Index(v, "://"); i >= 0 {
		v = v[i+3:]
	}
	return v
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
			b.Listener = stripListener(v)
		case "http.listener":
			b.HTTPListener = v
		case "advertised.listeners":
			b.AdvertisedListener = stripListener(v)
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
		case "log.retention.check.interval.ms":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad(err)
			}
			b.RetentionCheckInterval = time.Duration(n) * time.Millisecond
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
			if ok, err := applyGroupProperty(&b.Groups, k, v); ok {
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
	return nil
}

func setTopicDefault(b *Broker, name, value string) {
	if b.TopicDefaults == nil {
		b.TopicDefaults = map[string]string{}
	}
	b.TopicDefaults[name] = value
}
