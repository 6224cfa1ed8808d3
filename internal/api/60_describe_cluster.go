package api

// DescribeCluster (key 60), versions 0-2 (all flexible).
//   v1: EndpointType (KIP-919): 1 brokers; 2 controllers is answered
//   UNSUPPORTED_ENDPOINT_TYPE, as Kafka brokers do. v2:
//   IncludeFencedBrokers and IsFenced per broker.
// Brokers are those of the metadata image; fenced ones only when asked
// for (v2+). The controller id is the node of the active controller.
// Any principal may ask (KafkaApis.handleDescribeCluster checks no ACL);
// the cluster's authorized operations, when asked for, are reported only
// to a principal that may DESCRIBE the cluster, else 0.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
)

func (h *Handlers) describeCluster(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeClusterRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = r.EndpointType
	if r.Version >= 1 && r.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = errorMessage(fmt.Errorf("endpoint type %d is not served by brokers; ask for brokers (1)", r.EndpointType))
		return respond(resp)
	}
	im := h.deps.Metadata.Image()
	resp.ClusterID = im.ClusterID
	resp.ControllerID = h.deps.Controller.ActiveID(h.deps.Broker.NodeID)
	resp.ClusterAuthorizedOperations = -2147483648
	if r.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = 0
		if h.authorizedCluster(req, auth.OpDescribe) {
			resp.ClusterAuthorizedOperations = h.authorizedOperations(req, auth.ResourceCluster, auth.ClusterName)
		}
	}
	for _, id := range im.BrokerIDs() {
		b := im.Brokers[id]
		if b.Fenced && !r.IncludeFencedBrokers {
			continue
		}
		host, port, ok := h.brokerAddress(im, id, req.ListenerName)
		if !ok {
			continue
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.IsFenced = id, host, port, b.Fenced
		if b.Rack != "" {
			rack := b.Rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	return respond(resp)
}
