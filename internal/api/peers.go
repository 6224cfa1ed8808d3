package api

// Admission of requests on the inter-broker listener. The connection's
// principal must hold CLUSTER_ACTION on the cluster (or be a super user)
// for every request, as Kafka asks of the inter-broker APIs:
// internal/server checks it once at connect time too, for Raft
// connections as well. That principal is who the peer logged in as on a
// SASL inter-broker listener, its client certificate's on SSL, and
// ANONYMOUS on PLAINTEXT (with an authorizer, Kafka's User:ANONYMOUS in
// super.users, or a secured inter-broker listener). Without an authorizer
// every principal passes. Besides, the connection's handshake names the
// peer's node id and the cluster id (internal/server reads it), and every
// request is checked against the current metadata image:
//
//   - a cluster id that differs from ours is refused. An empty one is not
//     enforced, as Kafka's KafkaRaftClient.hasValidClusterId does not
//     enforce a missing one: a node that has not yet received any metadata
//     does not know it.
//   - node id fields of the request (BrokerID, ReplicaID, ReplicaState)
//     must be the handshake's node id: a peer speaks only for itself.
//   - except for what a node sends before it is registered (ApiVersions,
//     FetchSnapshot for an observer's first image, BrokerRegistration),
//     the peer must be a registered broker of this cluster.
//
// A refused request closes the connection. The Raft transport checks its
// own connections the same way against the voter set (internal/quorum).

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
)

// errPeerRefused marks requests refused by admitPeer.
var errPeerRefused = errors.New("peer refused")

func (h *Handlers) admitPeer(req *Request) error {
	im := h.deps.Controller.Image()
	p := req.Peer
	if !req.Loopback && !h.peerMayAct(req) {
		return fmt.Errorf("%w: principal %s lacks CLUSTER_ACTION on the cluster", errPeerRefused, req.Principal)
	}
	if p.ClusterID != "" && im.ClusterID != "" && p.ClusterID != im.ClusterID {
		return fmt.Errorf("%w: peer node %d belongs to cluster %q, this is cluster %q", errPeerRefused, p.NodeID, p.ClusterID, im.ClusterID)
	}
	if id, ok := requestNodeID(req.Body); ok && id != p.NodeID {
		return fmt.Errorf("%w: request names node %d on a connection of node %d", errPeerRefused, id, p.NodeID)
	}
	switch r := req.Body.(type) {
	case *kmsg.ApiVersionsRequest, *kmsg.FetchSnapshotRequest, *kmsg.BrokerRegistrationRequest:
		return nil
	case *kmsg.FetchRequest:
		if isMetadataFetch(r) {
			return nil // a new broker-only node reads the metadata before it registers
		}
	}
	if _, ok := im.Brokers[p.NodeID]; !ok {
		return fmt.Errorf("%w: node %d is not a registered broker of this cluster", errPeerRefused, p.NodeID)
	}
	return nil
}

// peerMayAct reports whether the principal of req's connection may act
// as a broker: CLUSTER_ACTION on the cluster (or a super user), as Kafka
// asks of the inter-broker APIs and of an Envelope's sender. Always true
// without an authorizer.
func (h *Handlers) peerMayAct(req *Request) bool {
	return h.deps.Authorizer.Authorize(req.Principal, req.host(), auth.OpClusterAction, auth.ResourceCluster, auth.ClusterName)
}

// requestNodeID returns the node a request speaks for, if it names one.
func requestNodeID(body kmsg.Request) (int32, bool) {
	switch r := body.(type) {
	case *kmsg.AlterPartitionRequest:
		return r.BrokerID, true
	case *kmsg.BrokerRegistrationRequest:
		return r.BrokerID, true
	case *kmsg.BrokerHeartbeatRequest:
		return r.BrokerID, true
	case *kmsg.AllocateProducerIDsRequest:
		return r.BrokerID, true
	case *kmsg.FetchSnapshotRequest:
		return r.ReplicaID, true
	case *kmsg.FetchRequest:
		if id := fetchReplicaID(r); id >= 0 {
			return id, true
		}
	}
	return 0, false
}

// fetchReplicaID is the replica id of a Fetch: ReplicaState.ID from v15,
// ReplicaID before; -1 (or another negative id) for consumers.
func fetchReplicaID(r *kmsg.FetchRequest) int32 {
	if r.Version >= 15 {
		return r.ReplicaState.ID
	}
	return r.ReplicaID
}

// clusterIDMismatch reports whether a request's own ClusterID field names
// another cluster (Kafka: INCONSISTENT_CLUSTER_ID; an empty id is not
// enforced).
func (h *Handlers) clusterIDMismatch(id *string) bool {
	cid := h.deps.Controller.Image().ClusterID
	return id != nil && *id != "" && cid != "" && *id != cid
}

// refuseFollowerFetch answers a replica fetch that arrived on a client
// listener as Kafka answers a follower fetch without ClusterAction on the
// cluster (KafkaApis.handleFetchRequest): TOPIC_AUTHORIZATION_FAILED for
// every partition. Replicas fetch on the inter-broker listener.
func refuseFollowerFetch(r *kmsg.FetchRequest) *kmsg.FetchResponse {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			rp.RecordBatches = []byte{} // never null: librdkafka rejects it
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
