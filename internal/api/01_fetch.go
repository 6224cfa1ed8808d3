package api

// Fetch (key 1), versions 4-18.
//   v4: isolation level, LastStableOffset, aborted transactions (read_committed
//   reads stop at the LSO; see partition/txn.go). v5:
//   LogStartOffset. v7: fetch sessions (KIP-227); arus answers session id 0
//   ("no session"), which clients accept and keep sending full requests.
//   v9: CurrentLeaderEpoch checks. v11: rack, preferred read replica.
//   v12: flexible, LastFetchedEpoch and DivergingEpoch (followers).
//   v13: topics by id. v15: ReplicaState replaces ReplicaID. v16-v18: leader
//   hints and KIP-1166 fields are tagged and optional.
//
// MaxBytes bounds the response and PartitionMaxBytes each partition, but
// the first batch of the first partition with data is returned whole even
// when larger (KIP-74), so a consumer can always make progress. When less
// than MinBytes is ready the request waits up to MaxWaitMillis for any of
// its partitions' high watermarks to move.

import (
	"context"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/auth"
	"github.com/arus-io/arus/internal/commitlog"
	"github.com/arus-io/arus/internal/metadata"
	"github.com/arus-io/arus/internal/metrics"
	"github.com/arus-io/arus/internal/partition"
)

func (h *Handlers) fetch(ctx context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.FetchRequest)
	if fetchReplicaID(r) >= 0 && req.Listener != ListenerInterBroker {
		return respond(refuseFollowerFetch(r))
	}
	if req.Listener == ListenerInterBroker && isMetadataFetch(r) {
		return h.fetchMetadataLog(ctx, r)
	}
	var deadline time.Time
	if r.MaxWaitMillis > 0 {
		deadline = h.deps.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
	}
	for {
		res := h.fetchOnce(req, r)
		if res.failed || res.size >= int(r.MinBytes) || deadline.IsZero() || len(res.waitOn) == 0 {
			return h.fetchOutcome(req, r, res)
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return h.fetchOutcome(req, r, res)
		}
		res.release()
		waitStart := time.Now()
		woken := waitAny(ctx, res.waitOn, remaining)
		req.waited(waitStart)
		if !woken {
			// Timed out or the connection is going away: answer with what
			// is there now.
			return h.fetchOutcome(req, r, h.fetchOnce(req, r))
		}
	}
}

// fetchResult is one attempt at answering a Fetch.
type fetchResult struct {
	resp     *kmsg.FetchResponse
	size     int                    // record bytes in the answer
	waitOn   []<-chan struct{}      // partitions to long-poll on
	failed   bool                   // a partition failed: answer now
	files    map[[2]int]fileBatches // batches left in segment files (zero copy)
	releases []func()
}

func (r *fetchResult) release() {
	for _, fn := range r.releases {
		fn()
	}
	r.releases = nil
}

// outcome encodes the answer: with file regions as chunks for sendfile,
// else as a plain response.
func (r *fetchResult) outcome() Outcome {
	if len(r.files) == 0 {
		r.release()
		return respond(r.resp)
	}
	chunks, size := appendFetchResponse(r.resp, r.files)
	for _, fb := range r.files {
		fb.topic.Fetched(fb.length(), fb.records())
	}
	releases := r.releases
	return Outcome{Response: r.resp, Chunks: chunks, ChunksSize: size, Release: func() {
		for _, fn := range releases {
			fn()
		}
	}}
}

// waitAny blocks until one channel is closed (true) or the timeout or ctx
// ends (false).
func waitAny(ctx context.Context, chans []<-chan struct{}, timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	cases := make([]reflect.SelectCase, 0, len(chans)+2)
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	for _, ch := range chans {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	chosen, _, _ := reflect.Select(cases)
	return chosen >= 2
}

// fetchOnce builds a response from what is readable now. It returns the
// number of record bytes, the change channels of the partitions read (taken
// before reading, so no change is missed) and whether any partition failed.
func (h *Handlers) fetchOnce(req *Request, r *kmsg.FetchRequest) *fetchResult {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	res := &fetchResult{resp: resp}
	im := h.deps.Metadata.Image()
	maxBytes := int(r.MaxBytes)
	if r.Version < 3 || maxBytes <= 0 {
		maxBytes = int(^uint32(0) >> 1)
	}
	if limit, ok := h.fetchQuotaBytes(req); ok && limit < maxBytes {
		maxBytes = limit
	}
	total := 0
	failed := false
	replicaID := r.ReplicaID
	if r.Version >= 15 {
		replicaID = r.ReplicaState.ID
	}
	var waitOn []<-chan struct{}
	for _, t := range r.Topics {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name := t.Topic
		if r.Version >= 13 {
			name = im.TopicIDs[t.TopicID]
		}
		rt.Partitions = make([]kmsg.FetchResponseTopicPartition, len(t.Partitions))
		readable := replicaID >= 0 || h.authorized(req, auth.OpRead, auth.ResourceTopic, name)
		var topicMetrics *metrics.TopicMetrics // resolved at the first read: unknown names get no series
		for i, p := range t.Partitions {
			rp := &rt.Partitions[i]
			rp.Default()
			rp.Partition = p.Partition
			// Kafka always sends a record set, empty rather than null:
			// librdkafka rejects a null one as a protocol error.
			rp.RecordBatches = []byte{}
			if !readable {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				failed = true
				continue
			}
			if replicaID >= 0 {
				n, ch, ok := h.followerFetchPartition(im, name, replicaID, p, rp)
				total += n
				failed = failed || !ok
				if ch != nil {
					waitOn = append(waitOn, ch)
				}
				continue
			}
			part, code := h.leaderFor(im, name, p.Partition)
			if code == kerr.UnknownTopicOrPartition.Code && r.Version >= 13 {
				code = kerr.UnknownTopicID.Code
			}
			if code == 0 {
				code = errorCode(h.deps.Logger, part.CheckLeaderEpoch(p.CurrentLeaderEpoch))
			}
			if code == 0 && r.Version < 10 && part.CompressionType() == "zstd" {
				// Kafka's KafkaApis.maybeConvertFetchedData: consumers older
				// than Fetch v10 (Kafka 2.1) may not read zstd, so a topic
				// whose compression.type is zstd answers them this.
				code = kerr.UnsupportedCompressionType.Code
			}
			if code != 0 {
				rp.ErrorCode = code
				failed = true
				continue
			}
			waitOn = append(waitOn, part.Changed())
			limit := int(p.PartitionMaxBytes)
			if rest := maxBytes - total; rest < limit {
				limit = rest
			}
			fillFetchPartition(rp, part, r.IsolationLevel)
			if limit <= 0 && total > 0 {
				continue
			}
			// Batches stay in the segment files: the connection sends them
			// with sendfile (zero copy, DESIGN §5). read_committed stops at
			// the last stable offset and lists the aborted transactions of
			// the range.
			var regions []commitlog.FileRegion
			var release func()
			var err error
			if r.IsolationLevel == 1 {
				var aborted []partition.AbortedTxn
				regions, release, aborted, rp.LastStableOffset, err = part.ReadCommittedRegions(p.FetchOffset, limit, total == 0)
				for _, a := range aborted {
					rp.AbortedTransactions = append(rp.AbortedTransactions,
						kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset})
				}
			} else {
				regions, release, err = part.ReadRegions(p.FetchOffset, limit, total == 0)
			}
			if err != nil {
				rp.ErrorCode = errorCode(h.deps.Logger, err)
				failed = true
				continue
			}
			if len(regions) > 0 {
				if res.files == nil {
					res.files = map[[2]int]fileBatches{}
				}
				if topicMetrics == nil {
					topicMetrics = h.deps.Metrics.Topic(name)
				}
				fb := fileBatches{regions: regions, topic: topicMetrics}
				res.files[[2]int{len(resp.Topics), i}] = fb
				res.releases = append(res.releases, release)
				total += int(fb.length())
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	res.size, res.waitOn, res.failed = total, waitOn, failed
	return res
}

func fillFetchPartition(rp *kmsg.FetchResponseTopicPartition, part *partition.Partition, isolation int8) {
	rp.HighWatermark = part.HighWatermark()
	rp.LastStableOffset = rp.HighWatermark
	if isolation == 1 {
		rp.LastStableOffset = part.LastStableOffset()
	}
	rp.LogStartOffset = part.LogStartOffset()
	if isolation == 1 {
		rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	}
}

// followerFetchPartition serves one partition of a follower's fetch:
// records up to the log end, the leader's high watermark, or where the
// follower's log diverged. It returns the bytes read, the channel to
// long-poll on and whether it succeeded.
func (h *Handlers) followerFetchPartition(im *metadata.Image, topic string, replicaID int32, p kmsg.FetchRequestTopicPartition, rp *kmsg.FetchResponseTopicPartition) (int, <-chan struct{}, bool) {
	part, code := h.leaderFor(im, topic, p.Partition)
	if code == 0 {
		code = errorCode(h.deps.Logger, part.CheckLeaderEpoch(p.CurrentLeaderEpoch))
	}
	if code != 0 {
		rp.ErrorCode = code
		return 0, nil, false
	}
	ch := part.Appended()
	res, err := part.FollowerFetch(replicaID, p.FetchOffset, p.LastFetchedEpoch, int(p.PartitionMaxBytes))
	if err == nil {
		part.ObserveFollowerLogStart(replicaID, p.LogStartOffset) // for DeleteRecords' low watermark
	}
	rp.HighWatermark, rp.LogStartOffset = res.HighWatermark, res.LogStartOffset
	rp.LastStableOffset = res.HighWatermark
	if err != nil {
		rp.ErrorCode = errorCode(h.deps.Logger, err)
		return 0, nil, false
	}
	if res.Diverging {
		rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = res.DivergingEpoch, res.DivergingEndOffset
		return 0, nil, false
	}
	if res.Records != nil {
		rp.RecordBatches = res.Records
	}
	return len(res.Records), ch, true
}
