package api

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/commitlog"
)

// randomFetchResponse builds a response exercising every field arus sets.
func randomFetchResponse(rng *rand.Rand, version int16) *kmsg.FetchResponse {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = version
	resp.ThrottleMillis, resp.ErrorCode, resp.SessionID = rng.Int32N(100), int16(rng.IntN(3)), 0
	for ti := 0; ti < rng.IntN(4); ti++ {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = fmt.Sprintf("topic-%d", ti)
		t.TopicID = [16]byte{byte(ti), 1, 2, 3}
		for pi := 0; pi < rng.IntN(4); pi++ {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition, p.ErrorCode = int32(pi), int16(rng.IntN(2))
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = rng.Int64N(1e9), rng.Int64N(1e9), rng.Int64N(1e9)
			switch rng.IntN(3) {
			case 0:
				p.RecordBatches = nil
			case 1:
				p.RecordBatches = []byte{}
			default:
				p.RecordBatches = make([]byte, 1+rng.IntN(300))
				for i := range p.RecordBatches {
					p.RecordBatches[i] = byte(rng.IntN(256))
				}
			}
			if rng.IntN(2) == 0 {
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 7, FirstOffset: 9}}
			} else if rng.IntN(2) == 0 {
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			}
			if rng.IntN(3) == 0 {
				p.DivergingEpoch.Epoch, p.DivergingEpoch.EndOffset = 3, 42
			}
			if rng.IntN(3) == 0 {
				p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = 2, 5
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func TestFetchEncodingMatchesKmsg(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	f, err := os.Create(filepath.Join(t.TempDir(), "segment"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 0; i < 500; i++ {
		version := int16(4 + rng.IntN(15))
		resp := randomFetchResponse(rng, version)
		want := resp.AppendTo(nil)

		// Inline batches: byte for byte what kmsg writes.
		chunks, size := appendFetchResponse(resp, nil)
		if got := joinChunks(t, chunks); !bytes.Equal(got, want) || size != int64(len(want)) {
			t.Fatalf("seed %d, v%d: inline encoding differs from kmsg (%d vs %d bytes)", seed, version, len(got), len(want))
		}

		// The same batches as file regions, split in two regions each.
		files := map[[2]int]fileBatches{}
		for ti := range resp.Topics {
			for pi := range resp.Topics[ti].Partitions {
				rb := resp.Topics[ti].Partitions[pi].RecordBatches
				if len(rb) < 2 {
					continue
				}
				st, _ := f.Stat()
				if _, err := f.WriteAt(rb, st.Size()); err != nil {
					t.Fatal(err)
				}
				half := int64(len(rb) / 2)
				files[[2]int{ti, pi}] = fileBatches{regions: []commitlog.FileRegion{
					{File: f, Offset: st.Size(), Length: half},
					{File: f, Offset: st.Size() + half, Length: int64(len(rb)) - half},
				}}
			}
		}
		chunks, size = appendFetchResponse(resp, files)
		if got := joinChunks(t, chunks); !bytes.Equal(got, want) || size != int64(len(want)) {
			t.Fatalf("seed %d, v%d: region encoding differs from kmsg", seed, version)
		}
	}
}

func joinChunks(t *testing.T, chunks []Chunk) []byte {
	t.Helper()
	var out []byte
	for _, c := range chunks {
		if c.Bytes != nil {
			out = append(out, c.Bytes...)
			continue
		}
		b := make([]byte, c.Region.Length)
		if _, err := c.Region.File.ReadAt(b, c.Region.Offset); err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}
