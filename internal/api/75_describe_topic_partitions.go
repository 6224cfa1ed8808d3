package api

// DescribeTopicPartitions (key 75), version 0 (KIP-966).
// Metadata for topics in pages: topics in name order, at most
// ResponsePartitionLimit partitions per answer (bounded by Kafka's
// max.request.partition.size.limit, 2000, and at least 1), and a
// NextCursor naming the topic and partition to continue from. An empty
// topic list means every topic, skipping none-existing ones; named topics
// that do not exist get UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION
// for an invalid name). A cursor must name one of the topics asked for and
// a partition >= 0, else every topic gets INVALID_REQUEST (Kafka's
// DescribeTopicPartitionsRequestHandler and
// KRaftMetadataCache.getTopicMetadataForDescribeTopicResponse).
// arus keeps no eligible leader replicas: both ELR lists are empty.

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/metadata"
)

// maxRequestPartitionSizeLimit is Kafka's max.request.partition.size.limit
// default: the most partitions one DescribeTopicPartitions answer holds.
const maxRequestPartitionSizeLimit = 2000

func (h *Handlers) describeTopicPartitions(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeTopicPartitionsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	im := h.deps.Metadata.Image()

	all := len(r.Topics) == 0
	cursorTopic, cursorPartition := "", int32(0)
	if r.Cursor != nil {
		cursorTopic, cursorPartition = r.Cursor.Topic, r.Cursor.Partition
	}
	seen := map[string]bool{}
	var topics []string
	add := func(name string) {
		if name >= cursorTopic && !seen[name] {
			seen[name] = true
			topics = append(topics, name)
		}
	}
	if all {
		// Only the topics the principal may describe, before the page is
		// cut (DescribeTopicPartitionsRequestHandler filters first).
		for name := range im.Topics {
			if h.authorized(req, auth.OpDescribe, auth.ResourceTopic, name) {
				add(name)
			}
		}
	} else {
		for _, t := range r.Topics {
			add(t.Topic)
		}
	}
	if r.Cursor != nil && ((!all && !seen[cursorTopic]) || cursorPartition < 0) {
		for _, t := range r.Topics {
			rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
			name := t.Topic
			rt.Topic, rt.ErrorCode = &name, kerr.InvalidRequest.Code
			resp.Topics = append(resp.Topics, rt)
		}
		return respond(resp)
	}
	sort.Strings(topics)

	remaining := max(min(maxRequestPartitionSizeLimit, int(r.ResponsePartitionLimit)), 1)
	for _, name := range topics {
		if remaining == 0 {
			// The page is full: continue at this topic's start.
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			break
		}
		t := im.Topics[name]
		if t == nil {
			if !all {
				rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
				n := name
				rt.Topic, rt.IsInternal = &n, config.IsInternalTopic(name)
				rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if config.ValidTopicName(name) != nil {
					rt.ErrorCode = kerr.InvalidTopicException.Code
				}
				resp.Topics = append(resp.Topics, rt)
			}
			continue
		}
		start := 0
		if name == cursorTopic {
			start = int(cursorPartition)
		}
		upper := min(len(t.Partitions), start+remaining)
		rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
		n := name
		rt.Topic, rt.TopicID, rt.IsInternal = &n, t.ID, config.IsInternalTopic(name)
		rt.AuthorizedOperations = h.authorizedOperations(req, auth.ResourceTopic, name)
		rt.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
		for i := start; i < upper; i++ {
			rt.Partitions = append(rt.Partitions, describePartitionKIP966(im, t.Partitions[i]))
		}
		resp.Topics = append(resp.Topics, rt)
		if upper < len(t.Partitions) {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: int32(upper)}
			break
		}
		remaining -= len(rt.Partitions)
	}
	return respond(resp)
}

// describePartitionKIP966 is one partition as KRaftMetadataCache describes
// it: the leader only when it is registered, every replica, the ISR,
// replicas on missing or fenced brokers as offline, and empty ELR lists.
func describePartitionKIP966(im *metadata.Image, p metadata.Partition) kmsg.DescribeTopicPartitionsResponseTopicPartition {
	rp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
	rp.Partition = p.Index
	rp.LeaderID = -1
	if _, ok := im.Brokers[p.Leader]; ok {
		rp.LeaderID = p.Leader
	}
	rp.LeaderEpoch = p.LeaderEpoch
	rp.Replicas = append([]int32{}, p.Replicas...)
	rp.ISR = append([]int32{}, p.ISR...)
	rp.EligibleLeaderReplicas = []int32{}
	rp.LastKnownELR = []int32{}
	rp.OfflineReplicas = []int32{}
	for _, id := range p.Replicas {
		if b, ok := im.Brokers[id]; !ok || b.Fenced {
			rp.OfflineReplicas = append(rp.OfflineReplicas, id)
		}
	}
	return rp
}
