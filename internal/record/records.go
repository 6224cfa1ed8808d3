package record

import (
	"encoding/binary"
	"fmt"
)

// Record is one record of a batch, with absolute offset and timestamp.
// Key and Value are nil for null; slices alias the decoded batch.
type Record struct {
	Offset    int64
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []RecordHeader
}

// RecordHeader is one header of a record.
type RecordHeader struct {
	Key   string
	Value []byte
}

// Records decodes every record of a whole batch (decompressing as needed).
// With LogAppendTime every record takes the batch's maxTimestamp, as Kafka
// clients do.
func Records(batch []byte) ([]Record, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		return nil, err
	}
	if h.Size() > len(batch) {
		return nil, fmt.Errorf("%w: batch claims %d bytes, %d present", ErrCorrupt, h.Size(), len(batch))
	}
	raw, err := Decompress(h.Codec(), batch[HeaderSize:h.Size()])
	if err != nil {
		return nil, err
	}
	if h.RecordCount < 0 || int(h.RecordCount) > len(raw) {
		return nil, fmt.Errorf("%w: record count %d for %d bytes", ErrCorrupt, h.RecordCount, len(raw))
	}
	out := make([]Record, 0, h.RecordCount)
	d := decoder{b: raw}
	for i := int32(0); i < h.RecordCount; i++ {
		length := d.varint()
		if d.err != nil || length < 0 || int(length) > len(d.b) {
			return nil, fmt.Errorf("%w: record %d length %d", ErrCorrupt, i, length)
		}
		rd := decoder{b: d.b[:length]}
		d.b = d.b[length:]
		rd.byte() // attributes, unused in v2
		tsDelta := rd.varint()
		offDelta := rd.varint()
		r := Record{
			Offset:    h.BaseOffset + offDelta,
			Timestamp: h.BaseTimestamp + tsDelta,
			Key:       rd.bytes(),
			Value:     rd.bytes(),
		}
		if h.Attributes&AttrLogAppendTime != 0 {
			r.Timestamp = h.MaxTimestamp
		}
		nh := rd.varint()
		if nh < 0 || int(nh) > len(rd.b) {
			return nil, fmt.Errorf("%w: record %d has %d headers", ErrCorrupt, i, nh)
		}
		for j := int64(0); j < nh; j++ {
			k := rd.bytes()
			v := rd.bytes()
			r.Headers = append(r.Headers, RecordHeader{Key: string(k), Value: v})
		}
		if rd.err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrCorrupt, i, rd.err)
		}
		out = append(out, r)
	}
	return out, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.varint()
	if d.err != nil || n < 0 {
		return nil
	}
	if int(n) > len(d.b) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("truncated record")
	}
}

// Builder writes an uncompressed v2 batch; the broker uses it for the
// batches it writes itself (internal topics, control records) and tests use
// it to make input.
type Builder struct {
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	Attributes    int16
	records       []byte
	count         int32
	baseTS        int64
	maxTS         int64
}

// NewBuilder returns a builder for a batch without producer id.
func NewBuilder() *Builder {
	return &Builder{ProducerID: NoProducerID, ProducerEpoch: -1, BaseSequence: NoSequence}
}

// Add appends a record; key or value nil means null.
func (b *Builder) Add(ts int64, key, value []byte, headers ...RecordHeader) {
	if b.count == 0 {
		b.baseTS, b.maxTS = ts, ts
	}
	if ts > b.maxTS {
		b.maxTS = ts
	}
	var body []byte
	body = append(body, 0)
	body = binary.AppendVarint(body, ts-b.baseTS)
	body = binary.AppendVarint(body, int64(b.count))
	body = appendVarBytes(body, key)
	body = appendVarBytes(body, value)
	body = binary.AppendVarint(body, int64(len(headers)))
	for _, h := range headers {
		body = appendVarBytes(body, []byte(h.Key))
		body = appendVarBytes(body, h.Value)
	}
	b.records = binary.AppendVarint(b.records, int64(len(body)))
	b.records = append(b.records, body...)
	b.count++
}

// Len is the number of records added.
func (b *Builder) Len() int { return int(b.count) }

// Build returns the batch with baseOffset 0 and a valid CRC, compressing
// the records with codec.
func (b *Builder) Build(codec int) ([]byte, error) {
	payload, err := Compress(codec, b.records)
	if err != nil {
		return nil, err
	}
	out := make([]byte, HeaderSize, HeaderSize+len(payload))
	out = append(out, payload...)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-LogOverhead))
	binary.BigEndian.PutUint32(out[12:], 0xffffffff)
	out[16] = Magic
	binary.BigEndian.PutUint16(out[21:], uint16(b.Attributes&^AttrCodecMask|int16(codec)))
	binary.BigEndian.PutUint32(out[23:], uint32(b.count-1))
	binary.BigEndian.PutUint64(out[27:], uint64(b.baseTS))
	binary.BigEndian.PutUint64(out[35:], uint64(b.maxTS))
	binary.BigEndian.PutUint64(out[43:], uint64(b.ProducerID))
	binary.BigEndian.PutUint16(out[51:], uint16(b.ProducerEpoch))
	binary.BigEndian.PutUint32(out[53:], uint32(b.BaseSequence))
	binary.BigEndian.PutUint32(out[57:], uint32(b.count))
	binary.BigEndian.PutUint32(out[17:], ComputeCRC(out))
	return out, nil
}

func appendVarBytes(dst, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(v)))
	return append(dst, v...)
}
