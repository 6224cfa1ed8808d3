package api

// DescribeLogDirs (key 35), versions 1-4 (Kafka 4 removed v0, KIP-896).
//   v2: flexible. v3: top-level ErrorCode. v4: TotalBytes and UsableBytes
//   of the volume holding each log directory.
// arus has one log directory (log.dirs, a single path): the answer lists
// it with every partition replica hosted here, or those asked for (a null
// topic list means all), with its size, its offset lag (how far its log
// end is behind the partition's high watermark: 0 on a leader, as Kafka's
// ReplicaManager.getLogEndOffsetLag) and IsFuture false (arus never moves
// replicas between directories).

import (
	"context"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handlers) describeLogDirs(_ context.Context, req *Request) Outcome {
	r := req.Body.(*kmsg.DescribeLogDirsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	im := h.deps.Metadata.Image()
	want := func(string, int32) bool { return true }
	if r.Topics != nil {
		asked := map[string]map[int32]bool{}
		for _, t := range r.Topics {
			if asked[t.Topic] == nil {
				asked[t.Topic] = map[int32]bool{}
			}
			for _, p := range t.Partitions {
				asked[t.Topic][p] = true
			}
		}
		want = func(topic string, p int32) bool { return asked[topic][p] }
	}

	dir := kmsg.NewDescribeLogDirsResponseDir()
	path, err := filepath.Abs(h.deps.Broker.DataDir)
	if err != nil {
		path = h.deps.Broker.DataDir
	}
	dir.Dir = path
	if st, err := os.Stat(path); err != nil || !st.IsDir() {
		// An offline directory (Kafka: KAFKA_STORAGE_ERROR, no topics).
		dir.ErrorCode = kerr.KafkaStorageError.Code
		resp.Dirs = append(resp.Dirs, dir)
		return respond(resp)
	}
	dir.TotalBytes, dir.UsableBytes = diskSpace(path)

	for _, name := range im.TopicNames() {
		t := im.Topics[name]
		rt := kmsg.NewDescribeLogDirsResponseDirTopic()
		rt.Topic = name
		for _, p := range t.Partitions {
			if !want(name, p.Index) {
				continue
			}
			part := h.deps.Partitions.Partition(name, p.Index)
			if part == nil {
				continue // not hosted here
			}
			rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			rp.Partition = p.Index
			rp.Size = part.Size()
			rp.OffsetLag = part.OffsetLag()
			rt.Partitions = append(rt.Partitions, rp)
		}
		if len(rt.Partitions) > 0 {
			dir.Topics = append(dir.Topics, rt)
		}
	}
	resp.Dirs = append(resp.Dirs, dir)
	return respond(resp)
}
