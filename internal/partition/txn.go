package partition

// Transactions on the partition side (Kafka's ProducerStateManager for
// transactions): each producer's open transaction starts at its first
// transactional batch and ends at a COMMIT or ABORT marker the transaction
// coordinator writes (WriteTxnMarkers). The last stable offset (LSO) is
// the smallest of the high watermark and the first offset of every
// transaction not yet complete, where a transaction is complete once its
// marker is below the high watermark. read_committed consumers read up to
// the LSO and skip the data of aborted transactions, which the fetch lists
// for the range it returns.
//
// The tracker is rebuilt from the log (batch headers and the markers'
// control records) whenever the partition opens or truncates, so it
// survives kill -9 without files of its own.

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/arus-io/arus/internal/commitlog"
	"github.com/arus-io/arus/internal/record"
)

// ErrCoordinatorFenced: a marker from a transaction coordinator older than
// the one that last wrote for the producer (TRANSACTION_COORDINATOR_FENCED).
var ErrCoordinatorFenced = errors.New("partition: transaction coordinator fenced")

// AbortedTxn is one aborted transaction: its producer, the first offset of
// its data and the offset of its ABORT marker.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

type completedTxn struct{ first, marker int64 }

// txnTracker is the transaction state of a partition. Guarded by
// Partition.mu.
type txnTracker struct {
	open      map[int64]int64 // producer id -> first offset of its open transaction
	completed []completedTxn  // markers not yet known below the high watermark, in log order
	aborted   []AbortedTxn    // by marker offset
}

func newTxnTracker() txnTracker { return txnTracker{open: map[int64]int64{}} }

// observe follows one batch in log order; batch is needed for control
// batches only (their type is in the record).
func (t *txnTracker) observe(h *record.Header, batch []byte) error {
	if h.ProducerID < 0 || !h.IsTransactional() {
		return nil
	}
	if !h.IsControl() {
		if _, ok := t.open[h.ProducerID]; !ok {
			t.open[h.ProducerID] = h.BaseOffset
		}
		return nil
	}
	typ, ok, err := record.ControlType(batch)
	if err != nil || !ok {
		return err
	}
	if typ != record.ControlAbort && typ != record.ControlCommit {
		return nil
	}
	t.marker(h.ProducerID, h.BaseOffset, typ == record.ControlCommit)
	return nil
}

func (t *txnTracker) marker(pid, offset int64, commit bool) {
	first, ok := t.open[pid]
	if !ok {
		return // a marker for a transaction that wrote nothing here
	}
	delete(t.open, pid)
	t.completed = append(t.completed, completedTxn{first: first, marker: offset})
	if !commit {
		t.aborted = append(t.aborted, AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: offset})
	}
}

// firstUnstable drops the completed transactions whose markers are below
// hw and returns the first offset of the earliest transaction still
// unstable, or hw.
func (t *txnTracker) firstUnstable(hw int64) int64 {
	i := 0
	for i < len(t.completed) && t.completed[i].marker < hw {
		i++
	}
	if i > 0 {
		t.completed = append(t.completed[:0], t.completed[i:]...)
	}
	lso := hw
	for _, first := range t.open {
		lso = min(lso, first)
	}
	for _, c := range t.completed {
		lso = min(lso, c.first)
	}
	return lso
}

// abortedIn returns the aborted transactions that may have data in
// [from, upTo): marker at or after from, first offset before upTo.
func (t *txnTracker) abortedIn(from, upTo int64) []AbortedTxn {
	i := sort.Search(len(t.aborted), func(i int) bool { return t.aborted[i].LastOffset >= from })
	var out []AbortedTxn
	for _, a := range t.aborted[i:] {
		if a.FirstOffset < upTo {
			out = append(out, a)
		}
	}
	return out
}

// trim forgets aborted transactions whose markers are gone with retention.
func (t *txnTracker) trim(logStart int64) {
	i := sort.Search(len(t.aborted), func(i int) bool { return t.aborted[i].LastOffset >= logStart })
	if i > 0 {
		t.aborted = append(t.aborted[:0], t.aborted[i:]...)
	}
}

// scanTxns rebuilds the transaction state from the whole log.
func (p *Partition) scanTxns() (txnTracker, error) {
	t := newTxnTracker()
	err := p.log.ScanBatches(p.log.LogStartOffset(), func(h record.Header) error {
		var batch []byte
		if h.IsControl() && h.IsTransactional() && h.ProducerID >= 0 {
			b, err := p.log.Read(h.BaseOffset, h.NextOffset(), h.Size(), true)
			if err != nil {
				return err
			}
			if len(b) < h.Size() {
				return fmt.Errorf("%w: control batch at %d cut short", record.ErrCorrupt, h.BaseOffset)
			}
			batch = b[:h.Size()]
		}
		return t.observe(&h, batch)
	})
	return t, err
}

// LastStableOffset is the offset below which every transaction is
// complete and replicated: what read_committed consumers may read.
func (p *Partition) LastStableOffset() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.txns.firstUnstable(p.hw.Load())
}

// AbortedTransactions lists the aborted transactions with data in
// [from, upTo), for a read_committed fetch.
func (p *Partition) AbortedTransactions(from, upTo int64) []AbortedTxn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.txns.abortedIn(from, upTo)
}

// ReadCommittedRegions is ReadRegions bounded by the last stable offset;
// it also returns that offset and the aborted transactions in the range
// read.
func (p *Partition) ReadCommittedRegions(offset int64, maxBytes int, minOneBatch bool) ([]commitlog.FileRegion, func(), []AbortedTxn, int64, error) {
	p.mu.Lock()
	lso := p.mu.txns.firstUnstable(p.hw.Load())
	aborted := p.mu.txns.abortedIn(offset, lso)
	p.mu.Unlock()
	if offset >= lso && offset <= p.log.LogEndOffset() {
		return nil, func() {}, nil, lso, nil
	}
	regions, release, err := p.log.ReadRegions(offset, lso, maxBytes, minOneBatch)
	return regions, release, aborted, lso, err
}

// Marker is a transaction marker to write (WriteTxnMarkers).
type Marker struct {
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32
	Commit           bool
}

// AppendMarker appends the COMMIT or ABORT control batch that ends the
// producer's transaction on this partition (the leader only). A marker
// with an epoch older than the producer's is INVALID_PRODUCER_EPOCH; one
// from an older coordinator epoch is refused as fenced. Wait with
// WaitReplicated before answering the coordinator.
func (p *Partition) AppendMarker(m Marker) (AppendResult, error) {
	res := AppendResult{LogAppendTime: -1}
	// As appendBatch: appendMu across the write, mu only around it.
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.mu.Lock()
	switch {
	case p.mu.closed:
		p.mu.Unlock()
		return res, ErrClosed
	case !p.mu.role.IsLeader():
		p.mu.Unlock()
		return res, ErrNotLeader
	}
	leaderEpoch := p.mu.role.LeaderEpoch
	e := p.mu.producers[m.ProducerID]
	if e != nil {
		if m.ProducerEpoch < e.Epoch {
			p.mu.Unlock()
			return res, fmt.Errorf("%w: marker epoch %d is older than the current %d", ErrInvalidProducerEpoch, m.ProducerEpoch, e.Epoch)
		}
		if m.CoordinatorEpoch < e.CoordinatorEpoch {
			p.mu.Unlock()
			return res, fmt.Errorf("%w: coordinator epoch %d is older than %d", ErrCoordinatorFenced, m.CoordinatorEpoch, e.CoordinatorEpoch)
		}
	}
	p.mu.Unlock()
	now := p.now().UnixMilli()
	batch := record.BuildMarker(m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Commit, now)
	h, err := record.ParseHeader(batch)
	if err != nil {
		return res, err
	}
	base, err := p.log.Append(batch, &h, leaderEpoch)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	p.mu.Lock()
	if e == nil {
		e = &producerEntry{Epoch: m.ProducerEpoch}
		p.mu.producers[m.ProducerID] = e
	}
	e.marker(m.ProducerEpoch, m.CoordinatorEpoch)
	p.mu.txns.marker(m.ProducerID, base, m.Commit)
	p.appendedLocked(h.NextOffset())
	p.mu.Unlock()
	res.BaseOffset, res.End = base, base+1
	res.LogStartOffset = p.log.LogStartOffset()
	p.signalAppended()
	return res, nil
}

// AppendMarkerReplicated appends a marker and waits until it is
// replicated (the coordinator's WriteTxnMarkers use acks=all).
func (p *Partition) AppendMarkerReplicated(ctx context.Context, m Marker) error {
	res, err := p.AppendMarker(m)
	if err != nil {
		return err
	}
	return p.WaitReplicated(ctx, res.End)
}

// ProducerState is one producer's state on the partition (DescribeProducers).
type ProducerState struct {
	ProducerID       int64
	ProducerEpoch    int16
	LastSequence     int32 // -1 when unknown
	LastTimestamp    int64 // ms, -1 when unknown
	CoordinatorEpoch int32
	// TxnStartOffset is the first offset of its open transaction, or -1.
	TxnStartOffset int64
}

// Producers lists the producers this replica knows, by id.
func (p *Partition) Producers() []ProducerState {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ProducerState, 0, len(p.mu.producers))
	for id, e := range p.mu.producers {
		s := ProducerState{ProducerID: id, ProducerEpoch: e.Epoch, LastSequence: e.lastSeq(), LastTimestamp: -1,
			CoordinatorEpoch: e.CoordinatorEpoch, TxnStartOffset: -1}
		if n := len(e.Batches); n > 0 {
			s.LastTimestamp = e.Batches[n-1].Timestamp
		}
		if first, ok := p.mu.txns.open[id]; ok {
			s.TxnStartOffset = first
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}
