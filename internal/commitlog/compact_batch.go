package commitlog

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"github.com/arus-io/arus/internal/record"
)

// keyHash is the first 16 bytes of the SHA-256 of a record key. The key map
// of a compaction pass stores these instead of keys, as Kafka's
// SkimpyOffsetMap stores MD5 digests, so its memory does not depend on key
// sizes. Two keys with the same hash would be treated as one key and the
// older record of either would be removed; with 128 bits the chance stays
// below 2^-60 for a billion keys, and SHA-256 keeps producers from
// constructing collisions on purpose.
type keyHash [16]byte

func hashKey(key []byte) keyHash {
	sum := sha256.Sum256(key)
	return keyHash(sum[:16])
}

// offsetMap maps key hashes to the offset of the latest record with that key
// in the part of the log it covers. It holds at most maxKeys keys (about 40
// bytes each in a Go map) unless a single batch has more records.
type offsetMap struct {
	latest  map[keyHash]int64
	maxKeys int
}

// fits reports whether n more keys may be added without exceeding the
// bound. An empty map takes any batch so that a pass always makes progress.
func (m *offsetMap) fits(n int) bool {
	return len(m.latest) == 0 || len(m.latest)+n <= m.maxKeys
}

// rawRecord is one record of a decompressed records section, parsed just
// enough to decide whether it survives and to write it again unchanged.
type rawRecord struct {
	data      []byte // the whole record: length varint and body
	tail      []byte // body after the timestamp delta: offset delta, key, value, headers
	attrs     byte   // record attributes (unused by v2, kept as written)
	timestamp int64  // batch baseTimestamp + timestamp delta
	offset    int64  // batch baseOffset + offset delta
	hasKey    bool
	key       []byte // valid when hasKey
	tombstone bool   // null value
}

// parseRecords splits the uncompressed records section of the batch with
// header h into its h.RecordCount records, appending them to dst. The
// records alias section. Bytes after the last record are ignored, as
// record.Records does.
func parseRecords(h *record.Header, section []byte, dst []rawRecord) ([]rawRecord, error) {
	if h.RecordCount < 0 || int64(h.RecordCount) > int64(len(section)) {
		return dst, fmt.Errorf("%w: record count %d for %d bytes", record.ErrCorrupt, h.RecordCount, len(section))
	}
	for i := int32(0); i < h.RecordCount; i++ {
		length, n := binary.Varint(section)
		if n <= 0 || length < 1 || length > int64(len(section)-n) {
			return dst, fmt.Errorf("%w: record %d of batch %d has length %d, %d bytes left", record.ErrCorrupt, i, h.BaseOffset, length, len(section))
		}
		end := n + int(length)
		r := rawRecord{data: section[:end]}
		body := section[n:end]
		section = section[end:]
		r.attrs = body[0]
		d := body[1:]
		tsDelta, ok := takeVarint(&d)
		r.tail = d
		offDelta, ok2 := takeVarint(&d)
		if !ok || !ok2 || offDelta < 0 || offDelta > int64(h.LastOffsetDelta) {
			return dst, fmt.Errorf("%w: record %d of batch %d has a bad timestamp or offset delta", record.ErrCorrupt, i, h.BaseOffset)
		}
		r.timestamp = h.BaseTimestamp + tsDelta
		r.offset = h.BaseOffset + offDelta
		key, keyOK := takeBytes(&d)
		value, valueOK := takeBytes(&d)
		if !keyOK || !valueOK {
			return dst, fmt.Errorf("%w: record %d of batch %d has a bad key or value length", record.ErrCorrupt, i, h.BaseOffset)
		}
		r.hasKey, r.key = key != nil, key
		r.tombstone = value == nil
		dst = append(dst, r)
	}
	return dst, nil
}

// takeVarint reads a zigzag varint from the front of *b.
func takeVarint(b *[]byte) (int64, bool) {
	v, n := binary.Varint(*b)
	if n <= 0 {
		return 0, false
	}
	*b = (*b)[n:]
	return v, true
}

// takeBytes reads a varint length and that many bytes from the front of *b.
// A length of -1 is null: it returns nil and true. An empty value returns a
// non-nil empty slice.
func takeBytes(b *[]byte) ([]byte, bool) {
	n, ok := takeVarint(b)
	switch {
	case !ok || n < -1 || n > int64(len(*b)):
		return nil, false
	case n == -1:
		return nil, true
	}
	v := (*b)[:n:n]
	*b = (*b)[n:]
	return v, true
}

// offsetRange is an inclusive range of offsets.
type offsetRange struct{ first, last int64 }

// producerScan is what a compaction pass learns from the batch headers of
// the whole log (and the control records): which batch is each
// producer's last, which transactions were aborted, which markers still
// have data of their transaction in the log, and where the first open
// transaction starts. It derives the aborted transactions from the
// markers (the .txnindex lists only those of the part of the log it
// trusts, and this scan reads every header anyway).
type producerScan struct {
	// lastData maps a producer id to the last offset of its last data batch.
	lastData map[int64]int64
	// lastBatch maps a producer id to the last offset of its last batch,
	// data or control.
	lastBatch map[int64]int64
	// aborted maps a producer id to its aborted transactions in offset
	// order: from the first data batch to the ABORT marker.
	aborted map[int64][]offsetRange
	// open maps a producer id to the first offset of its open transaction.
	open map[int64]int64
	// withData holds the offsets of the COMMIT and ABORT markers that
	// some data batch of their transaction still precedes. The others
	// may go once their delete horizon passed (Kafka's
	// CleanedTransactionMetadata).
	withData map[int64]bool
}

func newProducerScan() *producerScan {
	return &producerScan{lastData: map[int64]int64{}, lastBatch: map[int64]int64{}, aborted: map[int64][]offsetRange{},
		open: map[int64]int64{}, withData: map[int64]bool{}}
}

// Control record types (the int16 after the version in a control record's
// key), as Kafka's ControlRecordType.
const (
	controlAbort  = 0
	controlCommit = 1
)

// observe takes the header of the next batch in offset order; b is the
// whole batch and is only read for control batches.
func (p *producerScan) observe(h *record.Header, b []byte) error {
	if h.ProducerID < 0 {
		return nil
	}
	p.lastBatch[h.ProducerID] = h.LastOffset()
	if !h.IsControl() {
		p.lastData[h.ProducerID] = h.LastOffset()
		if _, ok := p.open[h.ProducerID]; h.IsTransactional() && !ok {
			p.open[h.ProducerID] = h.BaseOffset
		}
		return nil
	}
	recs, err := record.Records(b)
	if err != nil {
		return fmt.Errorf("control batch %d: %w", h.BaseOffset, err)
	}
	if len(recs) == 0 {
		return nil // emptied by an earlier pass: markers are kept, so not ours
	}
	if len(recs[0].Key) < 4 {
		return fmt.Errorf("%w: control batch %d has a key of %d bytes", record.ErrCorrupt, h.BaseOffset, len(recs[0].Key))
	}
	first, ok := p.open[h.ProducerID]
	switch binary.BigEndian.Uint16(recs[0].Key[2:]) {
	case controlAbort:
		if ok {
			p.aborted[h.ProducerID] = append(p.aborted[h.ProducerID], offsetRange{first, h.LastOffset()})
		}
	case controlCommit:
	default:
		return nil // not a transaction marker
	}
	if ok {
		p.withData[h.BaseOffset] = true
	}
	delete(p.open, h.ProducerID)
	return nil
}

// hasAborted reports whether the scan saw data of the transaction of
// producer pid aborted by the marker at offset.
func (p *producerScan) hasAborted(pid, offset int64) bool {
	rs := p.aborted[pid]
	i := sort.Search(len(rs), func(i int) bool { return rs[i].last >= offset })
	return i < len(rs) && rs[i].last == offset
}

// firstUnstable is the first offset of the earliest open transaction, or
// math.MaxInt64: nothing at or after it may be cleaned, since its records
// may still be aborted (Kafka bounds cleaning by the last stable offset).
func (p *producerScan) firstUnstable() int64 {
	first := int64(math.MaxInt64)
	for _, o := range p.open {
		first = min(first, o)
	}
	return first
}

// isAborted reports whether the transactional data batch of producer pid
// at offset belongs to an aborted transaction.
func (p *producerScan) isAborted(pid, offset int64) bool {
	rs := p.aborted[pid]
	i := sort.Search(len(rs), func(i int) bool { return rs[i].last >= offset })
	return i < len(rs) && rs[i].first <= offset
}

// batchAction is what the cleaner does with one batch.
type batchAction int

const (
	keepBatch    batchAction = iota // copy unchanged
	rewriteBatch                    // records removed or a delete horizon set: write the kept records again
	emptyBatch                      // no record left, but the producer's last batch: keep only the header
	dropBatch                       // no record left: remove
)

// batchPlan is the decision for one batch.
type batchPlan struct {
	action  batchAction
	kept    []rawRecord // for rewriteBatch
	horizon int64       // delete horizon of the written batch; record.NoTimestamp for none
	removed int         // records removed
	// tombstones is set when kept tombstones (or a marker) wait for horizon.
	tombstones bool
	// txnData is set when records of a transaction are removed: its
	// marker may go in a later pass.
	txnData bool
}

// batchFilter decides which records of a batch survive a pass.
type batchFilter struct {
	keys      *offsetMap
	producers *producerScan
	// mappedTo is the offset after the mapped part of the log: batches at
	// or after it were not mapped and are kept unchanged.
	mappedTo int64
	nowMs    int64
	// newHorizon is the delete horizon given to batches whose tombstones
	// are cleaned for the first time: now + delete.retention.ms.
	newHorizon int64
	scratch    []rawRecord
}

// plan decides the fate of the whole batch b with header h, whose CRC was
// checked. As in Kafka's LogCleaner: a keyed record survives when no later
// record of the mapped range has its key, and a surviving tombstone until
// its batch's delete horizon; records without key survive (the partition
// rejects them on compacted topics, the cleaner does not lose them);
// control batches survive whole; records of aborted transactions go; a
// batch left without records is removed unless it is its producer's last
// data batch, whose header keeps the last sequence and epoch.
func (f *batchFilter) plan(h *record.Header, b []byte) (batchPlan, error) {
	p := batchPlan{action: keepBatch, horizon: record.NoTimestamp}
	if h.Attributes&record.AttrDeleteHorizon != 0 {
		p.horizon = h.BaseTimestamp
	}
	if h.BaseOffset >= f.mappedTo {
		return p, nil
	}
	if h.IsControl() {
		return f.planMarker(h, b, p)
	}
	section, err := record.Decompress(h.Codec(), b[record.HeaderSize:])
	if err != nil {
		return p, fmt.Errorf("batch %d: %w", h.BaseOffset, err)
	}
	recs, err := parseRecords(h, section, f.scratch[:0])
	f.scratch = recs[:0]
	if err != nil {
		return p, err
	}
	aborted := h.IsTransactional() && f.producers.isAborted(h.ProducerID, h.BaseOffset)
	kept := recs[:0] // filters in place: kept[i] is written after recs[i] is read
	for _, r := range recs {
		switch {
		case aborted:
			continue
		case !r.hasKey:
		case f.keys.latest[hashKey(r.key)] > r.offset:
			continue // a later record has the key
		case r.tombstone && p.horizon != record.NoTimestamp && f.nowMs >= p.horizon:
			continue
		}
		if r.tombstone && r.hasKey { // a keyless one is never removed: no horizon
			p.tombstones = true
		}
		kept = append(kept, r)
	}
	p.removed = len(recs) - len(kept)
	p.txnData = h.IsTransactional() && p.removed > 0
	needHorizon := p.tombstones && p.horizon == record.NoTimestamp
	switch {
	case len(kept) > 0 && p.removed == 0 && !needHorizon:
		return p, nil
	case len(kept) > 0:
		if needHorizon {
			p.horizon = f.newHorizon
		}
		p.action, p.kept = rewriteBatch, kept
	case h.ProducerID >= 0 && f.producers.lastData[h.ProducerID] == h.LastOffset():
		if len(recs) > 0 {
			p.action = emptyBatch
		}
	default:
		p.action = dropBatch
	}
	return p, nil
}

// planMarker decides the fate of a control batch as Kafka's cleaner does
// (LogCleaner's checkBatchRetention with CleanedTransactionMetadata): a
// COMMIT or ABORT marker stays while data of its transaction remains in
// the log; once none does, it gets a delete horizon (now +
// delete.retention.ms, KIP-534, like a tombstone) so that consumers past
// it have time to see it, and goes in the first pass after the horizon.
// A control batch left without records (or emptied earlier) is removed,
// except the producer's last batch, whose header keeps its epoch.
func (f *batchFilter) planMarker(h *record.Header, b []byte, p batchPlan) (batchPlan, error) {
	lastOfProducer := f.producers.lastBatch[h.ProducerID] == h.LastOffset()
	if h.RecordCount == 0 {
		if !lastOfProducer {
			p.action = dropBatch
		}
		return p, nil
	}
	typ, ok, err := record.ControlType(b)
	if err != nil {
		return p, fmt.Errorf("control batch %d: %w", h.BaseOffset, err)
	}
	if !ok || typ != controlAbort && typ != controlCommit || f.producers.withData[h.BaseOffset] {
		return p, nil
	}
	if p.horizon != record.NoTimestamp {
		if f.nowMs < p.horizon {
			p.tombstones = true
			return p, nil
		}
		p.removed = int(h.RecordCount)
		p.action = dropBatch
		if lastOfProducer {
			p.action = emptyBatch
		}
		return p, nil
	}
	section, err := record.Decompress(h.Codec(), b[record.HeaderSize:])
	if err != nil {
		return p, fmt.Errorf("batch %d: %w", h.BaseOffset, err)
	}
	recs, err := parseRecords(h, section, f.scratch[:0])
	f.scratch = recs[:0]
	if err != nil {
		return p, err
	}
	p.action, p.kept, p.horizon, p.tombstones = rewriteBatch, recs, f.newHorizon, true
	return p, nil
}

// appendRewritten appends the batch b (header h) rebuilt with the records
// of p.kept, keeping its base offset, last offset delta, leader epoch,
// producer fields and codec, as Kafka's MemoryRecords.filterTo does. With a
// delete horizon the batch gets attribute bit 6 and baseTimestamp = horizon
// (KIP-534), and the records' timestamp deltas are recomputed against it so
// that every record keeps its timestamp. maxTimestamp becomes the largest
// kept timestamp (unchanged for LogAppendTime batches). The CRC is
// recomputed.
func appendRewritten(dst, b []byte, h *record.Header, p *batchPlan) ([]byte, error) {
	baseTS, attrs := h.BaseTimestamp, h.Attributes
	if p.horizon != record.NoTimestamp {
		baseTS, attrs = p.horizon, attrs|record.AttrDeleteHorizon
	}
	maxTS := h.MaxTimestamp
	if h.Attributes&record.AttrLogAppendTime == 0 {
		maxTS = record.NoTimestamp
	}
	var section, body []byte
	for _, r := range p.kept {
		if h.Attributes&record.AttrLogAppendTime == 0 {
			maxTS = max(maxTS, r.timestamp)
		}
		if baseTS == h.BaseTimestamp {
			section = append(section, r.data...)
			continue
		}
		body = append(body[:0], r.attrs)
		body = binary.AppendVarint(body, r.timestamp-baseTS)
		body = append(body, r.tail...)
		section = binary.AppendVarint(section, int64(len(body)))
		section = append(section, body...)
	}
	payload, err := record.Compress(h.Codec(), section)
	if err != nil {
		return dst, fmt.Errorf("batch %d: %w", h.BaseOffset, err)
	}
	start := len(dst)
	dst = append(dst, b[:record.HeaderSize]...)
	dst = append(dst, payload...)
	out := dst[start:]
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-record.LogOverhead))
	binary.BigEndian.PutUint16(out[21:], uint16(attrs))
	binary.BigEndian.PutUint64(out[27:], uint64(baseTS))
	binary.BigEndian.PutUint64(out[35:], uint64(maxTS))
	binary.BigEndian.PutUint32(out[57:], uint32(len(p.kept)))
	binary.BigEndian.PutUint32(out[17:], record.ComputeCRC(out))
	return dst, nil
}

// appendEmptyHeader appends the batch b (header h) without records, as
// Kafka's DefaultRecordBatch.writeEmptyHeader: same offsets, producer
// fields and leader epoch, no compression, no delete horizon, both
// timestamps set to maxTimestamp, record count 0.
func appendEmptyHeader(dst, b []byte, h *record.Header) []byte {
	start := len(dst)
	dst = append(dst, b[:record.HeaderSize]...)
	out := dst[start:]
	attrs := h.Attributes & (record.AttrLogAppendTime | record.AttrTransactional | record.AttrControl)
	binary.BigEndian.PutUint32(out[8:], uint32(record.HeaderSize-record.LogOverhead))
	binary.BigEndian.PutUint16(out[21:], uint16(attrs))
	binary.BigEndian.PutUint64(out[27:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint32(out[57:], 0)
	binary.BigEndian.PutUint32(out[17:], record.ComputeCRC(out))
	return dst
}
