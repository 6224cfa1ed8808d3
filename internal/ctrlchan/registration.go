package ctrlchan

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// InterBrokerListenerName is the listener name under which a broker
// registers its inter-broker listener (Kafka's default
// inter.broker.listener.name is the security protocol's name; arus's
// listeners have their own).
const InterBrokerListenerName = "BROKER"

// maxPartitionsTag is an arus tagged field of BrokerRegistrationRequest:
// the broker's partition limit (arus.max.partitions.per.broker), an int32.
// Kafka has no such field; a tag Kafka does not know is skipped by it.
const maxPartitionsTag = 10_000

// SetRegistrationMaxPartitions puts a broker's partition limit into its
// registration request.
func SetRegistrationMaxPartitions(req *kmsg.BrokerRegistrationRequest, limit int32) {
	req.UnknownTags.Set(maxPartitionsTag, binary.BigEndian.AppendUint32(nil, uint32(limit)))
}

// RegistrationMaxPartitions reads the limit; 0 when absent or malformed.
func RegistrationMaxPartitions(req *kmsg.BrokerRegistrationRequest) int32 {
	var limit int32
	req.UnknownTags.Each(func(key uint32, val []byte) {
		if key == maxPartitionsTag && len(val) == 4 {
			limit = max(int32(binary.BigEndian.Uint32(val)), 0)
		}
	})
	return limit
}

// securityProtocolCode is Kafka's SecurityProtocol id of a protocol name.
func securityProtocolCode(name string) int16 {
	switch name {
	case "SSL":
		return 1
	case "SASL_PLAINTEXT":
		return 2
	case "SASL_SSL":
		return 3
	}
	return 0
}
