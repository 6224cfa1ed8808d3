package api

// DescribeQuorum (key 55), versions 0-2: the metadata quorum's voters, the
// active controller and the brokers observing it (kafka-metadata-quorum
// describe --status; arus cluster status). v1: fetch timestamps. v2: error
// messages and node endpoints. arus reports the metadata offset as the high
// watermark and -1 where it does not track a value (per-voter log end
// offsets and fetch times), which Kafka's tools print as unknown.

import (
	"context"
	"net"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/config"
)

func (h *Handlers) describeQuorum(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeQuorumRequest)
	resp := r.ResponseKind().(*kmsg.DescribeQuorumResponse)
	im := h.deps.Controller.Image()
	voters := map[int32]string{h.deps.Broker.NodeID: ""}
	if h.deps.Broker.ControllerQuorumVoters != "" {
		if v, err := config.ParseVoters(h.deps.Broker.ControllerQuorumVoters); err == nil {
			voters = v
		}
	}
	ids := make([]int32, 0, len(voters))
	for id := range voters {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	state := func(id int32) kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
		s := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		s.ReplicaID, s.LogEndOffset, s.LastFetchTimestamp, s.LastCaughtUpTimestamp = id, -1, -1, -1
		return s
	}
	for _, t := range r.Topics {
		rt := kmsg.NewDescribeQuorumResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeQuorumResponseTopicPartition()
			rp.Partition = p.Partition
			if t.Topic != MetadataTopic || p.Partition != 0 {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			rp.LeaderID = h.deps.Controller.ActiveID(h.deps.Broker.NodeID)
			rp.LeaderEpoch = -1
			rp.HighWatermark = im.Offset + 1
			for _, id := range ids {
				rp.CurrentVoters = append(rp.CurrentVoters, state(id))
			}
			for _, id := range im.BrokerIDs() {
				if _, voter := voters[id]; !voter {
					rp.Observers = append(rp.Observers, state(id))
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	for _, id := range ids {
		n := kmsg.NewDescribeQuorumResponseNode()
		n.NodeID = id
		if addr := voters[id]; addr != "" {
			if host, port, err := splitHostPort(addr); err == nil {
				l := kmsg.NewDescribeQuorumResponseNodeListener()
				l.Name, l.Host, l.Port = "CONTROLLER", host, port
				n.Listeners = append(n.Listeners, l)
			}
		}
		resp.Nodes = append(resp.Nodes, n)
	}
	return respond(resp)
}

func splitHostPort(addr string) (string, uint16, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return host, uint16(n), err
}
