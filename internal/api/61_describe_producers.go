package api

// DescribeProducers (key 61), version 0: the producers of partitions this
// broker leads (KIP-664), with their epochs, last sequences and the start
// offset of an open transaction; used to find hanging transactions.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) describeProducers(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeProducersRequest)
	resp := r.ResponseKind().(*kmsg.DescribeProducersResponse)
	im := h.deps.Metadata.Image()
	for _, t := range r.Topics {
		rt := kmsg.DescribeProducersResponseTopic{Topic: t.Topic}
		for _, index := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition = index
			part, code := h.leaderFor(im, t.Topic, index)
			if code != 0 {
				rp.ErrorCode = code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			for _, p := range part.Producers() {
				rp.ActiveProducers = append(rp.ActiveProducers, kmsg.DescribeProducersResponseTopicPartitionActiveProducer{
					ProducerID: p.ProducerID, ProducerEpoch: int32(p.ProducerEpoch), LastSequence: p.LastSequence,
					LastTimestamp: p.LastTimestamp, CoordinatorEpoch: p.CoordinatorEpoch, CurrentTxnStartOffset: p.TxnStartOffset,
				})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return respond(resp)
}
