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
// survives kill -9 without files of its own. The aborted transactions are
// not kept in memory: each ABORT marker adds an entry to the transaction
// index of its segment (commitlog's .txnindex, Kafka's format), which
// read_committed fetches read for the range they return. After a crash
// the scan at open writes the entries the log's recovery found missing
// (commitlog.Log.TxnIndexRebuildFrom).

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/arus-io/arus/internal/commitlog"
	"github.com/arus-io/arus/internal/record"
)

// ErrCoordinatorFenced: a marker from a transaction coordinator older than
// the one that last wrote for the producer (TRANSACTION_COORDINATOR_FENCED).
var ErrCoordinatorFenced = errors.New("partition: transaction coordinator fenced")

// AbortedTxn is one aborted transaction: its producer, the first offset of
// its data, the offset of its ABORT marker and the last stable offset when
// the marker was written (an entry of the transaction index).
type AbortedTxn = commitlog.AbortedTxn

type completedTxn struct{ first, marker int64 }

// txnTracker is the transaction state of a partition. Guarded by
// Partition.mu.
type txnTracker struct {
	open      map[int64]int64 // producer id -> first offset of its open transaction
	completed []completedTxn  // markers not yet known below the high watermark, in log order
}

func newTxnTracker() txnTracker { return txnTracker{open: map[int64]int64{}} }

// observe follows one batch in log order; batch is needed for control
// batches only (their type is in the record). For an ABORT marker it
// returns the transaction index entry.
func (t *txnTracker) observe(h *record.Header, batch []byte) (AbortedTxn, bool, error) {
	if h.ProducerID < 0 || !h.IsTransactional() {
		return AbortedTxn{}, false, nil
	}
	if !h.IsControl() {
		if _, ok := t.open[h.ProducerID]; !ok {
			t.open[h.ProducerID] = h.BaseOffset
		}
		return AbortedTxn{}, false, nil
	}
	typ, ok, err := record.ControlType(batch)
	if err != nil || !ok {
		return AbortedTxn{}, false, err
	}
	if typ != record.ControlAbort && typ != record.ControlCommit {
		return AbortedTxn{}, false, nil
	}
	a, aborted := t.marker(h.ProducerID, h.BaseOffset, typ == record.ControlCommit)
	return a, aborted, nil
}

// marker completes the producer's transaction at the marker offset and,
// for an abort, returns its transaction index entry (firstOffset is the
// marker's own offset when the transaction wrote nothing here, as in Kafka). Its last stable
// offset is Kafka's ProducerStateManager.lastStableOffset: the first
// offset of the earliest other open transaction, else the offset after
// the marker.
func (t *txnTracker) marker(pid, offset int64, commit bool) (AbortedTxn, bool) {
	first, ok := t.open[pid]
	if ok {
		delete(t.open, pid)
		t.completed = append(t.completed, completedTxn{first: first, marker: offset})
	} else {
		// A transaction that wrote nothing here: Kafka still indexes its
		// abort, from the marker itself (ProducerAppendInfo.appendEndTxnMarker).
		first = offset
	}
	if commit {
		return AbortedTxn{}, false
	}
	lso := offset + 1
	for _, o := range t.open {
		lso = min(lso, o)
	}
	return AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: offset, LastStableOffset: lso}, true
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

// scanTxns rebuilds the transaction state from the whole log, and the
// transaction index entries that the log's recovery found missing.
func (p *Partition) scanTxns() (txnTracker, error) {
	t := newTxnTracker()
	rebuildFrom := p.log.TxnIndexRebuildFrom()
	var rebuilt []AbortedTxn
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
		a, aborted, err := t.observe(&h, batch)
		if aborted && a.LastOffset >= rebuildFrom {
			rebuilt = append(rebuilt, a)
		}
		return err
	})
	if err != nil {
		return t, err
	}
	if rebuildFrom != math.MaxInt64 {
		if err := p.log.RebuildTxnIndex(rebuilt); err != nil {
			return t, err
		}
		p.logger.Info("rebuilt transaction index", "from", rebuildFrom, "entries", len(rebuilt))
	}
	return t, nil
}

// indexAbortLocked adds an ABORT marker's entry to the transaction index.
func (p *Partition) indexAbortLocked(a AbortedTxn, aborted bool) error {
	if !aborted {
		return nil
	}
	if err := p.log.AppendAbortedTxn(a); err != nil {
		return fmt.Errorf("%w: %v", ErrStorage, err)
	}
	return nil
}

// LastStableOffset is the offset below which every transaction is
// complete and replicated: what read_committed consumers may read.
func (p *Partition) LastStableOffset() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastStableLocked()
}

// lastStableLocked is the last stable offset: the first offset of the
// earliest incomplete transaction, never below the log start offset
// (retention or DeleteRecords may have removed the start of a hanging
// transaction; Kafka's UnifiedLog.maybeIncrementFirstUnstableOffset does
// the same), and never above the high watermark.
func (p *Partition) lastStableLocked() int64 {
	hw := p.hw.Load()
	return min(max(p.mu.txns.firstUnstable(hw), p.log.LogStartOffset()), hw)
}

// AbortedTransactions lists the aborted transactions that may have data
// in [from, upTo), from the transaction index.
func (p *Partition) AbortedTransactions(from, upTo int64) ([]AbortedTxn, error) {
	return p.log.CollectAbortedTxns(from, upTo)
}

// ReadCommittedRegions is ReadRegions bounded by the last stable offset;
// it also returns that offset and the aborted transactions in the range
// read.
func (p *Partition) ReadCommittedRegions(offset int64, maxBytes int, minOneBatch bool) ([]commitlog.FileRegion, func(), []AbortedTxn, int64, error) {
	p.mu.Lock()
	lso := p.lastStableLocked()
	p.mu.Unlock()
	if offset >= lso && offset <= p.log.LogEndOffset() {
		return nil, func() {}, nil, lso, nil
	}
	regions, release, aborted, err := p.log.ReadCommittedRegions(offset, lso, maxBytes, minOneBatch)
	return regions, release, aborted, lso, err
}

// Marker is a transaction marker to write (WriteTxnMarkers).
type Marker struct {
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32
	Commit           bool
	// TransactionVersion is the coordinator's transaction version for
	// this producer (WriteTxnMarkers v2, KIP-1228): from 2 (KIP-890 part
	// 2) every transaction ends with an epoch bump, so its marker must
	// carry an epoch newer than the producer's data here.
	TransactionVersion int8
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
		if m.ProducerEpoch < e.Epoch || (m.TransactionVersion >= 2 && m.ProducerEpoch == e.Epoch) {
			p.mu.Unlock()
			return res, fmt.Errorf("%w: marker epoch %d, current %d (transaction version %d)", ErrInvalidProducerEpoch, m.ProducerEpoch, e.Epoch, m.TransactionVersion)
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
	e.LastTimestamp = max(e.LastTimestamp, now)
	if v, ok := p.mu.verifying[m.ProducerID]; ok && (v.epoch < m.ProducerEpoch || (v.epoch == m.ProducerEpoch && m.TransactionVersion < 2)) {
		// The verification was for the transaction this marker ended:
		// its batch must not open a new one. (A transaction-version-2
		// marker carries the epoch of the producer's next transaction,
		// whose verification stays good.)
		delete(p.mu.verifying, m.ProducerID)
	}
	// The .txnindex entry is written under mu (a page-cache write; an
	// fsync only if the segment was sealed meanwhile): once the marker
	// counts, the last stable offset may pass the aborted data, and a
	// read_committed fetch must then find the entry.
	err = p.indexAbortLocked(p.mu.txns.marker(m.ProducerID, base, m.Commit))
	p.appendedLocked(h.NextOffset())
	p.mu.Unlock()
	if err != nil {
		return res, err
	}
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
