package record

import (
	"encoding/binary"
	"fmt"
)

// Control records (transaction markers), as Kafka's ControlRecordType and
// EndTransactionMarker: a control batch (AttrControl and AttrTransactional
// set, the producer's id and epoch, no sequence) holding one record whose
// key is int16 version (0) + int16 type and whose value is int16 version
// (0) + int32 coordinator epoch. These encodings are on disk and on the
// wire and must never change.
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// BuildMarker returns a COMMIT or ABORT control batch of producer pid at
// epoch, written by the transaction coordinator of coordinatorEpoch.
func BuildMarker(pid int64, epoch int16, coordinatorEpoch int32, commit bool, ts int64) []byte {
	typ := ControlAbort
	if commit {
		typ = ControlCommit
	}
	key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), uint16(typ))
	value := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, 0), uint32(coordinatorEpoch))
	b := &Builder{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: NoSequence, Attributes: AttrControl | AttrTransactional}
	b.Add(ts, key, value)
	batch, _ := b.Build(CodecNone) // uncompressed: cannot fail
	return batch
}

// ControlType returns the type of the control batch (ControlAbort,
// ControlCommit, or another type Kafka may define); ok is false for a
// control batch without records (emptied by compaction).
func ControlType(batch []byte) (typ int16, ok bool, err error) {
	recs, err := Records(batch)
	if err != nil {
		return 0, false, err
	}
	if len(recs) == 0 {
		return 0, false, nil
	}
	if len(recs[0].Key) < 4 {
		return 0, false, fmt.Errorf("%w: control record key of %d bytes", ErrCorrupt, len(recs[0].Key))
	}
	return int16(binary.BigEndian.Uint16(recs[0].Key[2:])), true, nil
}
