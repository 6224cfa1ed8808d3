package api

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// entry is one API key we serve: the version range advertised in
// ApiVersions and its handler.
type entry struct {
	min, max int16
	handle   func(h *Handlers, ctx context.Context, req *Request) Outcome
}

// registry is the dispatch table. Versions are the ones arus implements;
// see each handler's file for what changes per version.
var registry = map[int16]entry{
	0:  {0, 13, (*Handlers).produce},                     // v0-v2: message sets converted to v2 batches
	1:  {4, 18, (*Handlers).fetch},                       //
	2:  {1, 11, (*Handlers).listOffsets},                 //
	3:  {0, 13, (*Handlers).metadata},                    //
	8:  {0, 10, (*Handlers).offsetCommit},                //
	9:  {0, 10, (*Handlers).offsetFetch},                 //
	10: {0, 6, (*Handlers).findCoordinator},              //
	11: {0, 9, (*Handlers).joinGroup},                    //
	12: {0, 4, (*Handlers).heartbeat},                    //
	13: {0, 5, (*Handlers).leaveGroup},                   //
	14: {0, 5, (*Handlers).syncGroup},                    //
	15: {0, 6, (*Handlers).describeGroups},               //
	16: {0, 5, (*Handlers).listGroups},                   //
	17: {0, 1, (*Handlers).saslHandshake},                // SASL listeners: answered by internal/server
	18: {0, 4, (*Handlers).apiVersions},                  // v5 unreleased in Kafka 4.x
	19: {0, 7, (*Handlers).createTopics},                 //
	20: {0, 6, (*Handlers).deleteTopics},                 //
	21: {0, 2, (*Handlers).deleteRecords},                //
	22: {0, 5, (*Handlers).initProducerID},               //
	23: {0, 4, (*Handlers).offsetForLeaderEpoch},         //
	24: {0, 5, (*Handlers).addPartitionsToTxn},           //
	25: {0, 4, (*Handlers).addOffsetsToTxn},              //
	26: {0, 5, (*Handlers).endTxn},                       // v5: KIP-890 part 2
	27: {0, 2, (*Handlers).writeTxnMarkers},              // inter-broker
	28: {0, 5, (*Handlers).txnOffsetCommit},              // v6: topic ids, not yet
	29: {0, 3, (*Handlers).describeACLs},                 //
	30: {0, 3, (*Handlers).createACLs},                   //
	31: {0, 3, (*Handlers).deleteACLs},                   //
	32: {0, 4, (*Handlers).describeConfigs},              //
	33: {0, 2, (*Handlers).alterConfigs},                 //
	35: {1, 4, (*Handlers).describeLogDirs},              // v0 removed in Kafka 4 (KIP-896)
	36: {0, 2, (*Handlers).saslAuthenticate},             // SASL listeners: answered by internal/server
	37: {0, 3, (*Handlers).createPartitions},             //
	42: {0, 3, (*Handlers).deleteGroups},                 //
	43: {0, 2, (*Handlers).electLeaders},                 //
	44: {0, 1, (*Handlers).incrementalAlterConfigs},      //
	45: {0, 1, (*Handlers).alterPartitionAssignments},    //
	46: {0, 0, (*Handlers).listPartitionReassignments},   //
	47: {0, 0, (*Handlers).offsetDelete},                 //
	48: {0, 1, (*Handlers).describeClientQuotas},         //
	49: {0, 1, (*Handlers).alterClientQuotas},            // forwarded to the active controller
	50: {0, 0, (*Handlers).describeUserScramCredentials}, //
	51: {0, 0, (*Handlers).alterUserScramCredentials},    //
	57: {0, 2, (*Handlers).updateFeatures},               // forwarded to the active controller
	60: {0, 2, (*Handlers).describeCluster},              //
	61: {0, 0, (*Handlers).describeProducers},            //
	65: {0, 0, (*Handlers).describeTransactions},         //
	66: {0, 1, (*Handlers).listTransactions},             // v2: id pattern, not yet
	71: {0, 0, (*Handlers).getTelemetrySubscriptions},    // KIP-714
	72: {0, 0, (*Handlers).pushTelemetry},                // KIP-714
	74: {0, 1, (*Handlers).listConfigResources},          // Kafka 4.1
	75: {0, 0, (*Handlers).describeTopicPartitions},      // KIP-966
	55: {0, 2, (*Handlers).describeQuorum},
	56: {2, 2, (*Handlers).alterPartition},      // inter-broker
	59: {0, 1, (*Handlers).fetchSnapshot},       // inter-broker: observers' metadata
	62: {0, 4, (*Handlers).brokerRegistration},  // inter-broker
	63: {0, 2, (*Handlers).brokerHeartbeat},     // inter-broker
	67: {0, 0, (*Handlers).allocateProducerIDs}, // inter-broker
}

// interBrokerKeys are served on the inter-broker listener only: requests
// between brokers and controllers, never a client's.
var interBrokerKeys = map[int16]bool{27: true, 56: true, 59: true, 62: true, 63: true, 67: true}

// Listener is the kind of listener a request arrived on.
type Listener int8

const (
	// ListenerClient serves the client API keys to anyone.
	ListenerClient Listener = iota
	// ListenerInterBroker serves every key, to peers of the cluster only
	// (they open each connection with a handshake naming their node id
	// and cluster id; see internal/server).
	ListenerInterBroker
)

// Serves reports whether key is served on listener l. A key that is not
// is handled as Kafka's SocketServer handles a key its listener does not
// enable: the connection is closed.
func Serves(l Listener, key int16) bool {
	_, ok := registry[key]
	return ok && (!interBrokerKeys[key] || l == ListenerInterBroker)
}

// VersionRange returns the versions served for key; ok is false for keys
// arus does not serve.
func VersionRange(key int16) (min, max int16, ok bool) {
	e, ok := registry[key]
	return e.min, e.max, ok
}

// apiKeys lists every key served on l with its range, sorted, for
// ApiVersions.
func apiKeys(l Listener) []kmsg.ApiVersionsResponseApiKey {
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(registry))
	for k, e := range registry {
		if Serves(l, k) {
			out = append(out, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: e.min, MaxVersion: e.max})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ApiKey < out[j].ApiKey })
	return out
}

// UnsupportedApiVersions is the answer to an ApiVersions request of a
// version we do not serve: a v0 response with UNSUPPORTED_VERSION and our
// ranges on listener l, so the client can retry with one we do (KIP-511).
func UnsupportedApiVersions(l Listener) kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = 35 // UNSUPPORTED_VERSION
	resp.ApiKeys = apiKeys(l)
	return resp
}
