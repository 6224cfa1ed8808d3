package api

// FetchSnapshot (key 59), versions 0-1, used between arus nodes only.
//
// Broker-only nodes (observers, not voters of the metadata quorum) follow
// the committed metadata log with Fetch (metadata_fetch.go); only when
// they are behind what a voter retains do they ask for a snapshot here:
// FetchSnapshot for topic __cluster_metadata, partition 0, naming the
// snapshot they hold by SnapshotID.EndOffset (the metadata offset after
// their image). The answer is empty when they are current, else the whole
// image as records (metadata.EncodeSnapshot) in Bytes with its EndOffset,
// plus the active controller in CurrentLeader.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/metadata"
)

// MetadataTopic is the name KRaft gives the metadata log.
const MetadataTopic = "__cluster_metadata"

func (h *Handlers) fetchSnapshot(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.FetchSnapshotRequest)
	resp := r.ResponseKind().(*kmsg.FetchSnapshotResponse)
	if h.clusterIDMismatch(r.ClusterID) {
		// Kafka's KafkaRaftClient: a FetchSnapshot naming another cluster
		// gets INCONSISTENT_CLUSTER_ID.
		resp.ErrorCode = kerr.InconsistentClusterID.Code
		return respond(resp)
	}
	im := h.deps.Controller.Image()
	for _, t := range r.Topics {
		rt := kmsg.NewFetchSnapshotResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewFetchSnapshotResponseTopicPartition()
			rp.Partition = p.Partition
			rp.CurrentLeader.LeaderID = h.deps.Controller.ActiveID(h.deps.Broker.NodeID)
			switch {
			case t.Topic != MetadataTopic || p.Partition != 0:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case !h.deps.Controller.IsVoter():
				rp.ErrorCode = kerr.NotController.Code
			case p.SnapshotID.EndOffset == im.Offset+1:
				rp.SnapshotID.EndOffset = im.Offset + 1 // current: nothing to send
			default:
				b, err := metadata.EncodeSnapshot(im)
				if err != nil {
					rp.ErrorCode = errorCode(h.deps.Logger, err)
					break
				}
				rp.SnapshotID.EndOffset = im.Offset + 1
				rp.Size, rp.Bytes = int64(len(b)), b
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}
