package controller

import (
	"errors"
	"sync"
)

// ErrOffsetTooOld is returned by MetadataBatches for an offset before the
// retained tail of the log: the caller needs a snapshot first.
var ErrOffsetTooOld = errors.New("controller: metadata offset before the retained log")

// Retention of the in-memory log tail that observers (broker-only nodes)
// follow: the newest batches up to both limits. An observer further
// behind fetches a snapshot instead.
const (
	tailMaxBatches = 20000
	tailMaxBytes   = 32 << 20
)

// Batch is one committed proposal: its records from offset First.
type Batch struct {
	First   int64
	Records [][]byte
}

// recordTail keeps the newest committed batches, in order, without gaps.
type recordTail struct {
	mu      sync.Mutex
	batches []Batch
	bytes   int
	next    int64 // offset after the last batch (the start when empty)
}

// add appends a batch; a batch that does not follow the last one (after a
// snapshot restore) starts the tail over.
func (t *recordTail) add(first int64, records [][]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if first != t.next {
		t.resetLocked(first)
	}
	t.batches = append(t.batches, Batch{First: first, Records: records})
	for _, r := range records {
		t.bytes += len(r)
	}
	t.next = first + int64(len(records))
	for len(t.batches) > 1 && (len(t.batches) > tailMaxBatches || t.bytes > tailMaxBytes) {
		for _, r := range t.batches[0].Records {
			t.bytes -= len(r)
		}
		t.batches[0] = Batch{}
		t.batches = t.batches[1:]
	}
}

func (t *recordTail) reset(next int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.resetLocked(next)
}

func (t *recordTail) resetLocked(next int64) {
	t.batches, t.bytes, t.next = nil, 0, next
}

// from returns whole batches starting at offset, at least one and then
// up to maxBytes of records; none when offset is the next one.
func (t *recordTail) from(offset int64, maxBytes int) ([]Batch, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if offset >= t.next {
		return nil, nil
	}
	start := t.next
	if len(t.batches) > 0 {
		start = t.batches[0].First
	}
	if offset < start {
		return nil, ErrOffsetTooOld
	}
	// Binary search for the batch starting at offset.
	lo, hi := 0, len(t.batches)
	for lo < hi {
		mid := (lo + hi) / 2
		if t.batches[mid].First < offset {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(t.batches) || t.batches[lo].First != offset {
		return nil, ErrOffsetTooOld // not a batch boundary: start from a snapshot
	}
	var out []Batch
	size := 0
	for _, b := range t.batches[lo:] {
		n := 0
		for _, r := range b.Records {
			n += len(r)
		}
		if len(out) > 0 && size+n > maxBytes {
			break
		}
		out = append(out, b)
		size += n
	}
	return out, nil
}

// MetadataBatches returns committed batches from offset on (whole
// proposals, so an observer applying them never sees half of one), about
// maxBytes of records at most but at least one batch; nil when offset is
// past the last committed record. ErrOffsetTooOld: offset precedes the
// retained tail (or is not a batch boundary) and the caller needs a
// snapshot.
func (c *Controller) MetadataBatches(offset int64, maxBytes int) ([]Batch, error) {
	return c.tail.from(offset, maxBytes)
}
