package api

// Helpers shared by the group APIs (08, 09, 10-16, 42, 47).

import (
	"time"

	"github.com/arus-io/arus/internal/metadata"
)

// brokerAddress returns the advertised address of node id, ok false when
// the node is not registered.
// on the named client listener (any listener registered without names).
func (h *Handlers) brokerAddress(im *metadata.Image, id int32, listenerName string) (host string, port int32, ok bool) {
	b, ok := im.Brokers[id]
	if !ok {
		return "", -1, false
	}
	if id == h.deps.Broker.NodeID {
		if h.deps.AdvertisedFor != nil && listenerName != "" {
			return h.deps.AdvertisedFor(listenerName)
		}
		host, port = h.advertised()
		return host, port, true
	}
	if listenerName == "" {
		return b.Host, b.Port, true
	}
	return b.ListenerAddr(listenerName)
}

// knownPartition reports whether topic has partition index in im.
func knownPartition(im *metadata.Image, topic string, index int32) bool {
	t, ok := im.Topics[topic]
	return ok && index >= 0 && int(index) < len(t.Partitions)
}

func millis(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }

func strOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
