package record

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Errors returned by Validate, each mapped to its own Kafka error code by
// internal/api. All of them leave the log untouched.
var (
	// ErrInvalidRecord: the batch is well formed but breaks a rule
	// (record count, control batch from a client, several batches, offset
	// deltas, keyless record on a compacted topic).
	ErrInvalidRecord = errors.New("record: invalid record")
	// ErrInvalidTimestamp: a record's timestamp is outside the topic's
	// message.timestamp.before.max.ms/after.max.ms window, or a producer
	// set LogAppendTime.
	ErrInvalidTimestamp = errors.New("record: invalid timestamp")
	// ErrTooLarge: the batch is larger than max.message.bytes.
	ErrTooLarge = errors.New("record: batch larger than max.message.bytes")
	// ErrUnknownCodec: the attributes name a compression codec that does
	// not exist. It is a corruption (errors.Is(err, ErrCorrupt) holds).
	ErrUnknownCodec = fmt.Errorf("%w: unknown compression codec", ErrCorrupt)
)

// RecordError is one rejected record of a batch (KIP-467): its index in
// the batch and why.
type RecordError struct {
	Index   int32
	Message string
}

// ValidationError rejects a batch because of some of its records; Err is
// ErrInvalidRecord or ErrInvalidTimestamp. Records lists every rejected
// record, in order, as Kafka's LogValidator collects them.
type ValidationError struct {
	Err     error
	Records []RecordError
	// Total counts every rejected record; Records keeps the first
	// MaxRecordErrors of them.
	Total int
}

// MaxRecordErrors bounds the record errors kept for one batch. Kafka keeps
// them all, but a small compressed batch can hold millions of keyless
// records and the response would then be hundreds of MB; clients fail the
// whole batch anyway and only use the list for messages.
const MaxRecordErrors = 1000

// Error is Kafka's summary message for the rejection.
func (e *ValidationError) Error() string {
	if e.Err == ErrInvalidTimestamp {
		return "One or more records have been rejected due to invalid timestamp"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "One or more records have been rejected due to %d record errors in total, and only showing the first three errors at most: [", e.Total)
	for i, r := range e.Records[:min(3, len(e.Records))] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "RecordError(batchIndex=%d, message='%s')", r.Index, r.Message)
	}
	b.WriteString("]")
	return b.String()
}

// Unwrap returns ErrInvalidRecord or ErrInvalidTimestamp.
func (e *ValidationError) Unwrap() error { return e.Err }

// Rules are the topic's rules a produced batch must follow, beyond the
// format itself.
type Rules struct {
	// MaxBytes is max.message.bytes; 0 means no limit.
	MaxBytes int
	// MaxDecompressedBytes bounds what a compressed batch may decompress
	// to; 0 means DecompressedLimit(MaxBytes).
	MaxDecompressedBytes int64
	// Compacted: cleanup.policy contains compact; every record needs a key.
	Compacted bool
	// CheckTimestamps enables Kafka's timestamp rules with Now and the
	// two windows below (message.timestamp.type CreateTime, or a
	// producer setting LogAppendTime).
	CheckTimestamps bool
	// LogAppendTime: the topic's message.timestamp.type is LogAppendTime.
	LogAppendTime bool
	// Now is the broker's clock in Unix milliseconds.
	Now int64
	// TimestampBeforeMaxMs and TimestampAfterMaxMs are
	// message.timestamp.before.max.ms and message.timestamp.after.max.ms.
	TimestampBeforeMaxMs, TimestampAfterMaxMs int64
	// Topic and Partition name the partition in messages ("topic-0"), as
	// Kafka does; formatted only when a record is rejected.
	Topic     string
	Partition int32
	// Coordinator: the batch comes from a coordinator of this broker
	// (Kafka's AppendOrigin.COORDINATOR), whose transactional batches
	// carry a producer id without a sequence.
	Coordinator bool
}

// Validate checks the bytes a producer sent for one partition with no
// topic rules beyond maxBytes; see ValidateProduce.
func Validate(b []byte, maxBytes int) (Header, error) {
	return ValidateProduce(context.Background(), b, Rules{MaxBytes: maxBytes})
}

// ValidateProduce checks the bytes a producer sent for one partition
// before any of them is appended, as Kafka's LogValidator does: exactly
// one whole v2 batch, a size within MaxBytes, a correct CRC, a record count
// that matches lastOffsetDelta, no control records, a producer id where
// the transactional bit or a sequence says there is one, and then every
// record, streamed once: each length and varint consistent and inside its
// record, offset deltas 0, 1, 2, ..., exactly recordCount records with
// nothing after them, a compressed section that decompresses with its codec
// within the limit, keys on compacted topics and timestamps within the
// topic's window.
//
// Structural damage is ErrCorrupt; rule breaks are ErrInvalidRecord; keys
// and timestamps are reported per record in a *ValidationError. The
// returned header's MaxTimestamp is the largest record timestamp (Kafka
// overwrites the producer's value with it); compare with the batch's own
// to know whether it must be patched (SetMaxTimestamp). Decompression waits
// for room in the process-wide budget, or for ctx.
func ValidateProduce(ctx context.Context, b []byte, rules Rules) (Header, error) {
	_, h, err := validateProduce(ctx, b, rules, nil)
	return h, err
}

// ValidateRecompress validates b as ValidateProduce does and returns the
// batch to store with the target codec: b itself (maxTimestamp not yet
// patched, see ValidateProduce) when it already has that codec, else a new
// batch, as Kafka's LogValidator rebuilds a batch whose codec differs from
// the topic's compression.type. The new batch keeps the header fields
// (producer id, epoch, base sequence, transactional bit, base timestamp)
// and the records' bytes, whose offset deltas validation has checked are
// 0, 1, 2, ... as Kafka would assign them; it gets the target codec bits,
// the largest record timestamp as maxTimestamp, and a new CRC. The records
// stream once through decompression, validation and the encoder; the
// encoder's memory and the output (at most MaxBytes) are charged to the
// decompression budget with the decoder's. A new batch above MaxBytes is
// ErrTooLarge (Kafka's RecordTooLargeException, checked after the records).
func ValidateRecompress(ctx context.Context, b []byte, rules Rules, target Compression) ([]byte, Header, error) {
	return validateProduce(ctx, b, rules, &target)
}

func validateProduce(ctx context.Context, b []byte, rules Rules, target *Compression) ([]byte, Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, h, err
	}
	size := h.Size()
	switch {
	case size > len(b):
		return nil, h, fmt.Errorf("%w: batch claims %d bytes, %d present", ErrCorrupt, size, len(b))
	case size < len(b):
		return nil, h, fmt.Errorf("%w: produce carries more than one batch (%d of %d bytes in the first)", ErrInvalidRecord, size, len(b))
	}
	if rules.MaxBytes > 0 && size > rules.MaxBytes {
		return nil, h, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, rules.MaxBytes)
	}
	if err := CheckCRC(b); err != nil {
		return nil, h, err
	}
	switch {
	case h.RecordCount <= 0 || h.LastOffsetDelta != h.RecordCount-1:
		return nil, h, fmt.Errorf("%w: record count %d does not match last offset delta %d", ErrInvalidRecord, h.RecordCount, h.LastOffsetDelta)
	case h.IsControl():
		return nil, h, fmt.Errorf("%w: clients may not write control batches", ErrInvalidRecord)
	case h.IsTransactional() && h.ProducerID < 0:
		return nil, h, fmt.Errorf("%w: transactional batch without producer id", ErrInvalidRecord)
	case h.ProducerID >= 0 && h.BaseSequence < 0 && !(rules.Coordinator && h.BaseSequence == NoSequence):
		return nil, h, fmt.Errorf("%w: invalid sequence number %d in batch with producer id %d", ErrInvalidRecord, h.BaseSequence, h.ProducerID)
	}
	limit := rules.MaxDecompressedBytes
	if limit <= 0 {
		limit = DecompressedLimit(rules.MaxBytes)
	}
	extra := int64(0)
	if h.Codec() != CodecNone {
		extra = chunkSize
	}
	var rc *recompressor
	if target != nil && target.Codec != h.Codec() {
		maxOut := rules.MaxBytes
		if maxOut <= 0 {
			maxOut = int(min(limit+limit/8+HeaderSize+64<<10, math.MaxInt32))
		}
		extra += encoderWorkingSet(*target) + int64(maxOut)
		if rc, err = newRecompressor(*target, b, maxOut); err != nil {
			return nil, h, err
		}
		defer rc.abort()
	}
	sec, err := openSection(ctx, h.Codec(), b[HeaderSize:size], limit, extra)
	if err != nil {
		return nil, h, err
	}
	defer sec.close()
	var s stream
	if sec.mem != nil {
		s.buf, s.end = sec.mem, len(sec.mem)
	} else {
		buf := getBuffer(chunkSize)
		defer putBuffer(buf)
		s.src, s.buf, s.limit, s.codec = sec.r, buf, limit, h.Codec()
		if rc != nil {
			s.src = teeReader{r: sec.r, w: rc}
		}
	}
	maxTS, err := walkRecords(&s, &h, &rules)
	if err != nil {
		return nil, h, err
	}
	if !h.IsLogAppendTime() {
		h.MaxTimestamp = maxTS
	}
	if rc == nil {
		return b, h, nil
	}
	if sec.mem != nil {
		_, _ = rc.Write(sec.mem)
	}
	return rc.finish(h)
}

// IsLogAppendTime reports whether the batch carries the LogAppendTime bit.
func (h *Header) IsLogAppendTime() bool { return h.Attributes&AttrLogAppendTime != 0 }

// SetMaxTimestamp patches maxTimestamp and recomputes the CRC, as Kafka
// does when a producer's value is not the largest record timestamp.
func SetMaxTimestamp(batch []byte, ts int64) {
	binary.BigEndian.PutUint64(batch[maxTSOffset:], uint64(ts))
	binary.BigEndian.PutUint32(batch[crcOffset:], ComputeCRC(batch))
}

// walkRecords streams through every record once and returns the largest
// record timestamp. It allocates nothing unless a record is rejected.
func walkRecords(s *stream, h *Header, rules *Rules) (int64, error) {
	var (
		maxTS   = NoTimestamp
		errs    []RecordError
		total   int
		errKind error
		keyMsg  string
	)
	reject := func(kind error, i int32, msg func() string) {
		if errKind == nil || kind == ErrInvalidTimestamp {
			errKind = kind
		}
		total++
		if len(errs) < MaxRecordErrors {
			errs = append(errs, RecordError{Index: i, Message: msg()})
		}
	}
	lat := h.IsLogAppendTime()
	for i := int32(0); i < h.RecordCount; i++ {
		length := s.varint()
		if s.err != nil {
			return 0, s.fail(i, "record length")
		}
		if length < 6 || length > math.MaxInt32 {
			return 0, fmt.Errorf("%w: record %d has length %d", ErrCorrupt, i, length)
		}
		start := s.offset()
		end := start + length
		s.byte() // attributes: unused by v2 records
		tsDelta := s.varint()
		offDelta := s.varint()
		keyLen := s.varint()
		if s.err != nil {
			return 0, s.fail(i, "record fields")
		}
		if keyLen < -1 || s.offset()+max(keyLen, 0) > end {
			return 0, fmt.Errorf("%w: record %d has a key of %d bytes in a record of %d", ErrCorrupt, i, keyLen, length)
		}
		s.skip(max(keyLen, 0))
		valLen := s.varint()
		if s.err != nil {
			return 0, s.fail(i, "record value")
		}
		if valLen < -1 || s.offset()+max(valLen, 0) > end {
			return 0, fmt.Errorf("%w: record %d has a value of %d bytes in a record of %d", ErrCorrupt, i, valLen, length)
		}
		s.skip(max(valLen, 0))
		nh := s.varint()
		if s.err != nil {
			return 0, s.fail(i, "header count")
		}
		if nh < 0 || nh > end-s.offset() {
			return 0, fmt.Errorf("%w: record %d claims %d headers", ErrCorrupt, i, nh)
		}
		for j := int64(0); j < nh; j++ {
			kl := s.varint()
			if s.err != nil {
				return 0, s.fail(i, "header key")
			}
			if kl < 0 || s.offset()+kl > end {
				return 0, fmt.Errorf("%w: record %d header %d has a key of %d bytes", ErrCorrupt, i, j, kl)
			}
			s.skip(kl)
			vl := s.varint()
			if s.err != nil {
				return 0, s.fail(i, "header value")
			}
			if vl < -1 || s.offset()+max(vl, 0) > end {
				return 0, fmt.Errorf("%w: record %d header %d has a value of %d bytes", ErrCorrupt, i, j, vl)
			}
			s.skip(max(vl, 0))
		}
		if s.err != nil {
			return 0, s.fail(i, "record")
		}
		if got := s.offset() - start; got != length {
			return 0, fmt.Errorf("%w: record %d: expected to read %d bytes in record payload, but instead read %d", ErrCorrupt, i, length, got)
		}
		if offDelta != int64(i) {
			return 0, fmt.Errorf("%w: record %d has offset delta %d (must be %d)", ErrInvalidRecord, i, offDelta, i)
		}
		ts := h.BaseTimestamp + tsDelta
		if (tsDelta > 0 && ts < h.BaseTimestamp) || (tsDelta < 0 && ts > h.BaseTimestamp) {
			return 0, fmt.Errorf("%w: record %d timestamp delta %d overflows", ErrCorrupt, i, tsDelta)
		}
		if ts > maxTS {
			maxTS = ts
		}
		if rules.Compacted && keyLen < 0 {
			reject(ErrInvalidRecord, i, func() string {
				if keyMsg == "" {
					keyMsg = fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s-%d", rules.Topic, rules.Partition)
				}
				return keyMsg
			})
			continue
		}
		if rules.CheckTimestamps {
			// Kafka's validateTimestamp: the window applies to CreateTime
			// topics and real timestamps; otherwise a producer may not set
			// LogAppendTime itself.
			if !rules.LogAppendTime && ts != NoTimestamp {
				lo, hi := satSub(rules.Now, rules.TimestampBeforeMaxMs), satAdd(rules.Now, rules.TimestampAfterMaxMs)
				if ts < lo || ts > hi {
					reject(ErrInvalidTimestamp, i, func() string {
						return fmt.Sprintf("Timestamp %d of message with offset %d is out of range. The timestamp should be within [%d, %d]", ts, h.BaseOffset+offDelta, lo, hi)
					})
				}
			} else if lat {
				reject(ErrInvalidTimestamp, i, func() string {
					return "Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime."
				})
			}
		}
	}
	if s.more() {
		return 0, fmt.Errorf("%w: bytes after the %d declared records (incorrect declared batch size)", ErrCorrupt, h.RecordCount)
	}
	if s.err != nil {
		return 0, s.fail(h.RecordCount, "end of batch")
	}
	if errs != nil {
		return 0, &ValidationError{Err: errKind, Records: errs, Total: total}
	}
	return maxTS, nil
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func satSub(a, b int64) int64 {
	if b > 0 && a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// stream reads a records section: from memory (src nil, buf the whole
// section) or through a decoder into a fixed window, counting what the
// decoder produced against limit. The first failure sticks in err.
type stream struct {
	src      io.Reader
	buf      []byte
	pos, end int   // unread bytes are buf[pos:end]
	base     int64 // offset in the section of buf[0]
	pulled   int64 // bytes produced by src so far
	limit    int64
	codec    int
	eof      bool
	err      error
}

func (s *stream) offset() int64 { return s.base + int64(s.pos) }

// fill makes at least k unread bytes available if the section has them.
func (s *stream) fill(k int) bool {
	if s.end-s.pos >= k {
		return true
	}
	if s.src == nil || s.eof || s.err != nil {
		return false
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.base += int64(s.pos)
		s.pos, s.end = 0, n
	}
	for s.end-s.pos < k {
		n, err := s.src.Read(s.buf[s.end:])
		s.end += n
		s.pulled += int64(n)
		if s.pulled > s.limit {
			s.err = fmt.Errorf("%w: batch decompresses to more than %d bytes", ErrCorrupt, s.limit)
			return false
		}
		if err == io.EOF {
			s.eof = true
			break
		}
		if err != nil {
			if errors.Is(err, ErrCorrupt) {
				s.err = err
			} else {
				s.err = fmt.Errorf("%w: %s: %v", ErrCorrupt, codecName(s.codec), err)
			}
			return false
		}
	}
	return s.end-s.pos >= k
}

func (s *stream) byte() byte {
	if !s.fill(1) {
		s.truncated()
		return 0
	}
	c := s.buf[s.pos]
	s.pos++
	return c
}

func (s *stream) varint() int64 {
	if s.err != nil {
		return 0
	}
	// One and two bytes hold almost every field of real records.
	if s.end-s.pos >= 2 {
		c0 := uint64(s.buf[s.pos])
		if c0 < 0x80 {
			s.pos++
			return int64(c0>>1) ^ -int64(c0&1)
		}
		if c1 := uint64(s.buf[s.pos+1]); c1 < 0x80 {
			x := c0&0x7f | c1<<7
			s.pos += 2
			return int64(x>>1) ^ -int64(x&1)
		}
	}
	if s.end-s.pos < binary.MaxVarintLen64 {
		s.fill(binary.MaxVarintLen64)
		if s.err != nil {
			return 0
		}
	}
	v, n := binary.Varint(s.buf[s.pos:s.end])
	if n <= 0 {
		if n == 0 {
			s.truncated()
		} else {
			s.err = fmt.Errorf("%w: varint overflows 64 bits", ErrCorrupt)
		}
		return 0
	}
	s.pos += n
	return v
}

func (s *stream) skip(n int64) {
	for n > 0 && s.err == nil {
		if s.pos == s.end && !s.fill(1) {
			s.truncated()
			return
		}
		take := min(int64(s.end-s.pos), n)
		s.pos += int(take)
		n -= take
	}
}

// more reports whether the section has bytes left; for a compressed one
// it reads the decoder to its end, which also checks its checksums.
func (s *stream) more() bool { return s.fill(1) }

func (s *stream) truncated() {
	if s.err == nil {
		s.err = fmt.Errorf("%w: records section ends early", ErrCorrupt)
	}
}

// fail wraps the sticky error with the index of the record it hit.
func (s *stream) fail(i int32, what string) error {
	return fmt.Errorf("record %d (%s): %w", i, what, s.err)
}
