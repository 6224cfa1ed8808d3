package partition

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/arus-io/arus/internal/record"
)

// Errors of idempotent produce, mapped to Kafka codes by internal/api.
var (
	ErrOutOfOrderSequence   = errors.New("partition: out of order sequence number")
	ErrInvalidProducerEpoch = errors.New("partition: invalid producer epoch")
	// ErrInvalidTxnState: a transactional batch would start a transaction
	// on the partition that the transaction coordinator did not verify,
	// or whose verification a marker has since ended (KIP-890 part 1;
	// INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("partition: partition was not added to the transaction")
)

// maxCachedBatches is how many batches per producer are remembered for
// duplicate detection; Kafka's max.in.flight.requests.per.connection limit
// for idempotence is the same 5.
const maxCachedBatches = 5

// batchMeta is what duplicate detection remembers of one appended batch.
type batchMeta struct {
	FirstSeq    int32 `json:"firstSeq"`
	LastSeq     int32 `json:"lastSeq"`
	FirstOffset int64 `json:"firstOffset"`
	LastOffset  int64 `json:"lastOffset"`
	Timestamp   int64 `json:"timestamp"`
}

// producerEntry is the state of one producer id on this partition.
type producerEntry struct {
	Epoch   int16       `json:"epoch"`
	Batches []batchMeta `json:"batches"` // oldest first, at most maxCachedBatches
	// CoordinatorEpoch is that of the transaction coordinator that wrote
	// the producer's last marker here (0 before any).
	CoordinatorEpoch int32 `json:"coordinatorEpoch,omitempty"`
	// LastTimestamp is when the producer last wrote here (ms: the append
	// time, or the batch's max timestamp when replayed from the log); 0 in
	// snapshots written before it existed. producer.id.expiration.ms
	// counts from it.
	LastTimestamp int64 `json:"lastTimestamp,omitempty"`
}

// observe follows one batch of the log: a marker, or a data batch.
func (e *producerEntry) observe(h *record.Header, now int64) {
	e.LastTimestamp = max(e.LastTimestamp, now)
	if h.IsControl() {
		e.marker(h.ProducerEpoch, -1)
		return
	}
	e.update(h, now)
}

// marker records a transaction marker of epoch (coordinatorEpoch -1 when
// unknown): a newer epoch (a fenced producer's transaction aborted by the
// coordinator) starts with no sequence history.
func (e *producerEntry) marker(epoch int16, coordinatorEpoch int32) {
	if epoch > e.Epoch {
		e.Epoch = epoch
		e.Batches = e.Batches[:0]
	}
	if coordinatorEpoch > e.CoordinatorEpoch {
		e.CoordinatorEpoch = coordinatorEpoch
	}
}

func (e *producerEntry) lastSeq() int32 {
	if len(e.Batches) == 0 {
		return record.NoSequence
	}
	return e.Batches[len(e.Batches)-1].LastSeq
}

// duplicate returns the cached batch that h repeats, if any.
func (e *producerEntry) duplicate(h *record.Header) (batchMeta, bool) {
	if h.ProducerEpoch != e.Epoch {
		return batchMeta{}, false
	}
	last := h.LastSequence()
	for _, b := range e.Batches {
		if b.FirstSeq == h.BaseSequence && b.LastSeq == last {
			return b, true
		}
	}
	return batchMeta{}, false
}

// check validates the sequence of a new batch against the state, as
// Kafka's ProducerAppendInfo does.
func (e *producerEntry) check(h *record.Header) error {
	switch {
	case e == nil:
		// Unknown producer: Kafka accepts any sequence here when the
		// state was lost to retention; a fresh producer starts at 0.
		return nil
	case h.ProducerEpoch < e.Epoch:
		return fmt.Errorf("%w: epoch %d is older than the current %d", ErrInvalidProducerEpoch, h.ProducerEpoch, e.Epoch)
	case h.ProducerEpoch > e.Epoch:
		if h.BaseSequence != 0 {
			return fmt.Errorf("%w: a new epoch %d must start at sequence 0, got %d", ErrOutOfOrderSequence, h.ProducerEpoch, h.BaseSequence)
		}
		return nil
	}
	last := e.lastSeq()
	if last == record.NoSequence {
		return nil
	}
	if h.BaseSequence != record.IncSequence(last, 1) {
		return fmt.Errorf("%w: expected sequence %d, got %d", ErrOutOfOrderSequence, record.IncSequence(last, 1), h.BaseSequence)
	}
	return nil
}

// update records an appended batch.
func (e *producerEntry) update(h *record.Header, now int64) {
	e.LastTimestamp = max(e.LastTimestamp, now)
	if h.ProducerEpoch != e.Epoch {
		e.Epoch = h.ProducerEpoch
		e.Batches = e.Batches[:0]
	}
	if h.BaseSequence == record.NoSequence {
		return // a coordinator's transactional write (offsets): no sequence to track
	}
	e.Batches = append(e.Batches, batchMeta{
		FirstSeq: h.BaseSequence, LastSeq: h.LastSequence(),
		FirstOffset: h.BaseOffset, LastOffset: h.LastOffset(), Timestamp: now,
	})
	if len(e.Batches) > maxCachedBatches {
		e.Batches = append(e.Batches[:0], e.Batches[len(e.Batches)-maxCachedBatches:]...)
	}
}

// Producer state snapshots: <dir>/<20-digit offset>.snapshot holds the
// state of every producer after all batches below that offset, as JSON
// (docs/format/segment.md).
const snapshotSuffix = ".snapshot"

type snapshot struct {
	Producers map[int64]*producerEntry `json:"producers"`
}

func writeSnapshot(dir string, offset int64, producers map[int64]*producerEntry) error {
	// An empty log with no producers needs none: restarts of idle
	// partitions cost no fsync.
	if offset == 0 && len(producers) == 0 {
		return nil
	}
	b, err := json.Marshal(snapshot{Producers: producers})
	if err != nil {
		return err
	}
	return writeSnapshotBytes(dir, offset, b)
}

// writeSnapshotBytes writes an encoded snapshot at offset.
func writeSnapshotBytes(dir string, offset int64, b []byte) error {
	path := filepath.Join(dir, fmt.Sprintf("%020d%s", offset, snapshotSuffix))
	// A snapshot at this log end offset already holds this state (producer
	// state only changes with appends).
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Older snapshots are superseded.
	for _, old := range listSnapshots(dir) {
		if old < offset {
			os.Remove(filepath.Join(dir, fmt.Sprintf("%020d%s", old, snapshotSuffix)))
		}
	}
	return nil
}

func listSnapshots(dir string) []int64 {
	entries, _ := os.ReadDir(dir)
	var offs []int64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, snapshotSuffix) {
			continue
		}
		off, err := strconv.ParseInt(strings.TrimSuffix(name, snapshotSuffix), 10, 64)
		if err == nil {
			offs = append(offs, off)
		}
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	return offs
}

// loadSnapshot returns the newest readable snapshot at or below maxOffset.
func loadSnapshot(dir string, maxOffset int64) (int64, map[int64]*producerEntry, bool) {
	offs := listSnapshots(dir)
	for i := len(offs) - 1; i >= 0; i-- {
		if offs[i] > maxOffset {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d%s", offs[i], snapshotSuffix)))
		if err != nil {
			continue
		}
		var s snapshot
		if json.Unmarshal(b, &s) != nil {
			continue
		}
		if s.Producers == nil {
			s.Producers = map[int64]*producerEntry{}
		}
		return offs[i], s.Producers, true
	}
	return 0, nil, false
}
