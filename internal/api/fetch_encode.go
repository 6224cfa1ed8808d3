package api

// Encoding of Fetch responses whose record batches stay in segment files
// (DESIGN §5, zero copy). appendFetchResponse writes exactly what
// kmsg.FetchResponse.AppendTo writes for versions 4-18 (fetch_encode_test.go
// checks byte equality), except that a partition whose batches are file
// regions gets their total length written and the regions recorded as
// chunks between the encoded bytes. The connection's writer then sends the
// bytes with write and the regions with sendfile.

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/commitlog"
	"github.com/arus-io/arus/internal/metrics"
)

// Chunk is one piece of an encoded response: bytes, or a file region.
type Chunk struct {
	Bytes  []byte
	Region commitlog.FileRegion // used when Bytes is nil
}

// chunkWriter accumulates encoded bytes and regions in order.
type chunkWriter struct {
	chunks []Chunk
	buf    []byte
	size   int64
}

func (w *chunkWriter) region(r commitlog.FileRegion) {
	w.flush()
	w.chunks = append(w.chunks, Chunk{Region: r})
	w.size += r.Length
}

func (w *chunkWriter) flush() {
	if len(w.buf) > 0 {
		w.chunks = append(w.chunks, Chunk{Bytes: w.buf})
		w.size += int64(len(w.buf))
		w.buf = nil
	}
}

func appendUvarint(dst []byte, v uint32) []byte { return binary.AppendUvarint(dst, uint64(v)) }

func appendInt16(dst []byte, v int16) []byte { return binary.BigEndian.AppendUint16(dst, uint16(v)) }
func appendInt32(dst []byte, v int32) []byte { return binary.BigEndian.AppendUint32(dst, uint32(v)) }
func appendInt64(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

func appendArrayLen(dst []byte, n int, flexible bool) []byte {
	if flexible {
		return appendUvarint(dst, uint32(n+1))
	}
	return appendInt32(dst, int32(n))
}

// fileBatches are the regions standing in for one partition's RecordBatches.
type fileBatches struct {
	regions []commitlog.FileRegion
	topic   *metrics.TopicMetrics // counts the bytes out; nil: none
}

func (f fileBatches) records() int64 {
	var n int64
	for _, r := range f.regions {
		n += r.Records
	}
	return n
}

func (f fileBatches) length() int64 {
	var n int64
	for _, r := range f.regions {
		n += r.Length
	}
	return n
}

// appendFetchResponse encodes resp; files[i][j], when set, replaces the
// RecordBatches of partition j of topic i.
func appendFetchResponse(resp *kmsg.FetchResponse, files map[[2]int]fileBatches) ([]Chunk, int64) {
	w := &chunkWriter{}
	version := resp.Version
	flexible := version >= 12
	b := w.buf
	b = appendInt32(b, resp.ThrottleMillis)
	if version >= 7 {
		b = appendInt16(b, resp.ErrorCode)
		b = appendInt32(b, resp.SessionID)
	}
	b = appendArrayLen(b, len(resp.Topics), flexible)
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		if version <= 12 {
			if flexible {
				b = appendUvarint(b, uint32(len(t.Topic)+1))
			} else {
				b = appendInt16(b, int16(len(t.Topic)))
			}
			b = append(b, t.Topic...)
		}
		if version >= 13 {
			b = append(b, t.TopicID[:]...)
		}
		b = appendArrayLen(b, len(t.Partitions), flexible)
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			b = appendInt32(b, p.Partition)
			b = appendInt16(b, p.ErrorCode)
			b = appendInt64(b, p.HighWatermark)
			b = appendInt64(b, p.LastStableOffset)
			if version >= 5 {
				b = appendInt64(b, p.LogStartOffset)
			}
			if p.AbortedTransactions == nil {
				if flexible {
					b = appendUvarint(b, 0)
				} else {
					b = appendInt32(b, -1)
				}
			} else {
				b = appendArrayLen(b, len(p.AbortedTransactions), flexible)
				for _, a := range p.AbortedTransactions {
					b = appendInt64(b, a.ProducerID)
					b = appendInt64(b, a.FirstOffset)
					if flexible {
						b = appendUvarint(b, 0)
					}
				}
			}
			if version >= 11 {
				b = appendInt32(b, p.PreferredReadReplica)
			}
			if fb, ok := files[[2]int{ti, pi}]; ok {
				n := fb.length()
				if flexible {
					b = binary.AppendUvarint(b, uint64(n+1))
				} else {
					b = appendInt32(b, int32(n))
				}
				w.buf = b
				for _, r := range fb.regions {
					w.region(r)
				}
				b = w.buf
			} else if p.RecordBatches == nil {
				if flexible {
					b = appendUvarint(b, 0)
				} else {
					b = appendInt32(b, -1)
				}
			} else {
				if flexible {
					b = appendUvarint(b, uint32(len(p.RecordBatches)+1))
				} else {
					b = appendInt32(b, int32(len(p.RecordBatches)))
				}
				b = append(b, p.RecordBatches...)
			}
			if flexible {
				b = appendPartitionTags(b, p)
			}
		}
		if flexible {
			b = appendUvarint(b, 0)
		}
	}
	if flexible {
		b = appendUvarint(b, 0) // no top-level tags (arus sends no node endpoints)
	}
	w.buf = b
	w.flush()
	return w.chunks, w.size
}

// appendPartitionTags writes the tagged fields that differ from their
// defaults, in tag order, as kmsg does.
func appendPartitionTags(b []byte, p *kmsg.FetchResponseTopicPartition) []byte {
	diverging := p.DivergingEpoch.Epoch != -1 || p.DivergingEpoch.EndOffset != -1
	leader := p.CurrentLeader.LeaderID != -1 || p.CurrentLeader.LeaderEpoch != -1
	snapshot := p.SnapshotID.EndOffset != -1 || p.SnapshotID.Epoch != -1
	n := 0
	for _, set := range []bool{diverging, leader, snapshot} {
		if set {
			n++
		}
	}
	b = appendUvarint(b, uint32(n))
	if diverging {
		b = append(b, 0, 13) // tag 0, 4+8 bytes + empty tags
		b = appendInt32(b, p.DivergingEpoch.Epoch)
		b = appendInt64(b, p.DivergingEpoch.EndOffset)
		b = append(b, 0)
	}
	if leader {
		b = append(b, 1, 9)
		b = appendInt32(b, p.CurrentLeader.LeaderID)
		b = appendInt32(b, p.CurrentLeader.LeaderEpoch)
		b = append(b, 0)
	}
	if snapshot {
		b = append(b, 2, 13)
		b = appendInt64(b, p.SnapshotID.EndOffset)
		b = appendInt32(b, p.SnapshotID.Epoch)
		b = append(b, 0)
	}
	return b
}
