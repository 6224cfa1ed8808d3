package record

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// rawRecord encodes one record body with its length prefix, without any
// check, so tests can write what a hostile client would.
func rawRecord(tsDelta, offDelta int64, key, value []byte, headers ...RecordHeader) []byte {
	var body []byte
	body = append(body, 0)
	body = binary.AppendVarint(body, tsDelta)
	body = binary.AppendVarint(body, offDelta)
	body = appendVarBytes(body, key)
	body = appendVarBytes(body, value)
	body = binary.AppendVarint(body, int64(len(headers)))
	for _, h := range headers {
		body = appendVarBytes(body, []byte(h.Key))
		body = appendVarBytes(body, h.Value)
	}
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

// batchSpec is the header of a hand-made batch; rawBatch writes the
// section as given (already compressed when attrs name a codec) and
// computes a correct CRC.
type batchSpec struct {
	attrs      int16
	count      int32
	lastDelta  int32
	baseTS     int64
	producerID int64
	seq        int32
}

func rawBatch(s batchSpec, section []byte) []byte {
	out := make([]byte, HeaderSize, HeaderSize+len(section))
	out = append(out, section...)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-LogOverhead))
	binary.BigEndian.PutUint32(out[12:], 0xffffffff)
	out[16] = Magic
	binary.BigEndian.PutUint16(out[21:], uint16(s.attrs))
	binary.BigEndian.PutUint32(out[23:], uint32(s.lastDelta))
	binary.BigEndian.PutUint64(out[27:], uint64(s.baseTS))
	binary.BigEndian.PutUint64(out[35:], uint64(s.baseTS))
	binary.BigEndian.PutUint64(out[43:], uint64(s.producerID))
	binary.BigEndian.PutUint16(out[51:], 0xffff)
	binary.BigEndian.PutUint32(out[53:], uint32(s.seq))
	binary.BigEndian.PutUint32(out[57:], uint32(s.count))
	binary.BigEndian.PutUint32(out[17:], ComputeCRC(out))
	return out
}

func spec(count int32) batchSpec {
	return batchSpec{count: count, lastDelta: count - 1, baseTS: 1000, producerID: -1, seq: -1}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func compressed(t testing.TB, codec int, section []byte) []byte {
	t.Helper()
	out, err := Compress(codec, section)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestValidateRecordsStructure(t *testing.T) {
	r0 := rawRecord(0, 0, []byte("k0"), []byte("v0"))
	r1 := rawRecord(1, 1, []byte("k1"), []byte("v1"), RecordHeader{Key: "h", Value: []byte("x")})
	r2 := rawRecord(2, 2, []byte("k2"), []byte("v2"))
	good := concat(r0, r1, r2)
	// A record whose key length points past its end, with the batch's CRC
	// recomputed: only record-level validation can see it.
	overrun := rawRecord(2, 2, []byte("k2"), []byte("v2"))
	overrun[4] = 0x7e // key length varint: 63
	garbage := concat(r0, r1, bytes.Repeat([]byte{0xff}, len(r2)))
	badHeaderCount := rawRecord(2, 2, []byte("k2"), []byte("v2"))
	badHeaderCount[len(badHeaderCount)-1] = 0x01 // -1 headers
	shortBody := append([]byte{}, r2...)
	shortBody[0] += 2 // claims 1 byte more than its fields use... and beyond the section
	for _, tc := range []struct {
		name  string
		batch []byte
		want  error
	}{
		{"good", rawBatch(spec(3), good), nil},
		{"good gzip", rawBatch(func() batchSpec { s := spec(3); s.attrs = CodecGzip; return s }(), compressed(t, CodecGzip, good)), nil},
		{"garbage record with valid crc", rawBatch(spec(3), garbage), ErrCorrupt},
		{"key overruns record", rawBatch(spec(3), concat(r0, r1, overrun)), ErrCorrupt},
		{"negative header count", rawBatch(spec(3), concat(r0, r1, badHeaderCount)), ErrCorrupt},
		{"record longer than section", rawBatch(spec(3), concat(r0, r1, shortBody)), ErrCorrupt},
		{"fewer records than count", rawBatch(spec(4), good), ErrCorrupt},
		{"trailing bytes after records", rawBatch(spec(3), concat(good, []byte{0, 0})), ErrCorrupt},
		{"more records than count", rawBatch(spec(2), good), ErrCorrupt},
		{"offset delta out of order", rawBatch(spec(3), concat(r0, r2, r1)), ErrInvalidRecord},
		{"count disagrees with last delta", rawBatch(batchSpec{count: 3, lastDelta: 5, producerID: -1, seq: -1}, good), ErrInvalidRecord},
		{"transactional without producer id", rawBatch(func() batchSpec { s := spec(3); s.attrs = AttrTransactional; return s }(), good), ErrInvalidRecord},
		{"producer id without sequence", rawBatch(func() batchSpec { s := spec(3); s.producerID = 7; return s }(), good), ErrInvalidRecord},
		{"unknown codec", rawBatch(func() batchSpec { s := spec(3); s.attrs = 5; return s }(), good), ErrUnknownCodec},
		{"gzip garbage", rawBatch(func() batchSpec { s := spec(3); s.attrs = CodecGzip; return s }(), []byte("not gzip at all")), ErrCorrupt},
		{"zstd truncated", rawBatch(func() batchSpec { s := spec(3); s.attrs = CodecZstd; return s }(), compressed(t, CodecZstd, good)[:12]), ErrCorrupt},
		{"lz4 with fewer records", rawBatch(func() batchSpec { s := spec(4); s.attrs = CodecLZ4; return s }(), compressed(t, CodecLZ4, good)), ErrCorrupt},
		{"snappy with trailing garbage", rawBatch(func() batchSpec { s := spec(3); s.attrs = CodecSnappy; return s }(), compressed(t, CodecSnappy, concat(good, []byte{9}))), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate(tc.batch, 1<<20)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestValidateRecordErrors(t *testing.T) {
	section := concat(
		rawRecord(0, 0, []byte("k"), []byte("v")),
		rawRecord(0, 1, nil, []byte("v")),
		rawRecord(0, 2, []byte("k"), []byte("v")),
		rawRecord(0, 3, nil, nil),
	)
	for _, codec := range []int{CodecNone, CodecZstd} {
		s := spec(4)
		s.attrs = int16(codec)
		payload := section
		if codec != CodecNone {
			payload = compressed(t, codec, section)
		}
		_, err := ValidateProduce(context.Background(), rawBatch(s, payload), Rules{Compacted: true, Topic: "t"})
		var ve *ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("codec %d: err = %v, want a ValidationError of ErrInvalidRecord", codec, err)
		}
		if len(ve.Records) != 2 || ve.Records[0].Index != 1 || ve.Records[1].Index != 3 {
			t.Fatalf("record errors %+v, want indexes 1 and 3", ve.Records)
		}
		if want := "Compacted topic cannot accept message without key in topic partition t-0"; ve.Records[0].Message != want {
			t.Fatalf("message %q", ve.Records[0].Message)
		}
	}

	// A batch of many keyless records keeps MaxRecordErrors of them.
	many := NewBuilder()
	for i := 0; i < 3*MaxRecordErrors; i++ {
		many.Add(0, nil, nil)
	}
	manyBatch, err := many.Build(CodecZstd)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ValidateProduce(context.Background(), manyBatch, Rules{Compacted: true})
	var vm *ValidationError
	if !errors.As(err, &vm) || vm.Total != 3*MaxRecordErrors || len(vm.Records) != MaxRecordErrors {
		t.Fatalf("err = %v, want %d record errors of %d kept", err, MaxRecordErrors, 3*MaxRecordErrors)
	}

	// Timestamps: a window of one hour either side of now.
	now := int64(10_000_000)
	ts := concat(
		rawRecord(0, 0, []byte("k"), nil),
		rawRecord(2*3600_000, 1, []byte("k"), nil), // 2h in the future
	)
	s := spec(2)
	s.baseTS = now
	rules := Rules{CheckTimestamps: true, Now: now, TimestampBeforeMaxMs: 3600_000, TimestampAfterMaxMs: 3600_000}
	_, err = ValidateProduce(context.Background(), rawBatch(s, ts), rules)
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidTimestamp) || len(ve.Records) != 1 || ve.Records[0].Index != 1 {
		t.Fatalf("err = %v (%+v), want INVALID_TIMESTAMP for record 1", err, ve)
	}
	// A producer may not set LogAppendTime on a LogAppendTime topic.
	s.attrs = AttrLogAppendTime
	rules.LogAppendTime = true
	if _, err := ValidateProduce(context.Background(), rawBatch(s, ts), rules); !errors.Is(err, ErrInvalidTimestamp) {
		t.Fatalf("producer LogAppendTime: err = %v", err)
	}
	// In the window: the header's maxTimestamp becomes the largest record's.
	s.attrs = 0
	rules.LogAppendTime = false
	rules.TimestampAfterMaxMs = 3 * 3600_000
	h, err := ValidateProduce(context.Background(), rawBatch(s, ts), rules)
	if err != nil || h.MaxTimestamp != now+2*3600_000 {
		t.Fatalf("h.MaxTimestamp = %d, err = %v", h.MaxTimestamp, err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// bombPrefix starts a records section with one record that claims a value
// of n bytes: the zeros that follow are a well-formed (huge) value.
func bombPrefix(n int64) []byte {
	var body []byte
	body = append(body, 0)
	body = binary.AppendVarint(body, 0)
	body = binary.AppendVarint(body, 0)
	body = binary.AppendVarint(body, -1)
	body = binary.AppendVarint(body, n)
	total := int64(len(body)) + n + 1 // + header count
	return append(binary.AppendVarint(nil, total), body...)
}

// bombs builds, once, a batch per codec whose section decompresses to
// about 1 GiB (256 MiB for gzip and lz4, whose formats cannot compress
// zeros further than about 1000:1 and 250:1) from a few KiB to 1 MiB.
var bombs = sync.OnceValue(func() map[int][]byte {
	out := map[int][]byte{}
	const gib = 1 << 30
	// zstd: the encoder is fast on zeros even under -race.
	var zb bytes.Buffer
	zw, _ := zstd.NewWriter(&zb, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	_, _ = zw.Write(bombPrefix(gib))
	_, _ = io.CopyN(zw, zeroReader{}, gib)
	_ = zw.Close()
	out[CodecZstd] = zb.Bytes()
	// gzip: one member with the prefix, then one 16 MiB member of zeros
	// repeated (readers concatenate members).
	member := func(prefix []byte, n int64) []byte {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		_, _ = w.Write(prefix)
		_, _ = io.CopyN(w, zeroReader{}, n)
		_ = w.Close()
		return b.Bytes()
	}
	const gzTotal = 256 << 20
	gz := member(bombPrefix(gzTotal), 16<<20)
	zeros16 := member(nil, 16<<20)
	for i := 0; i < gzTotal/(16<<20)-1; i++ {
		gz = append(gz, zeros16...)
	}
	out[CodecGzip] = gz
	// lz4: a frame of independent 4 MiB blocks without checksums; the
	// second block (all zeros) is repeated.
	var lb bytes.Buffer
	lw := lz4.NewWriter(&lb)
	_ = lw.Apply(lz4.BlockSizeOption(lz4.Block4Mb), lz4.ChecksumOption(false), lz4.ConcurrencyOption(1))
	first := make([]byte, 8<<20) // two blocks: the prefix and zeros, then zeros
	copy(first, bombPrefix(256<<20))
	_, _ = lw.Write(first) // (lz4.Writer's ReadFrom writes nothing here)
	_ = lw.Close()
	frame := lb.Bytes()
	const hdr = 7 // magic, FLG, BD, HC: no content size, no dictionary
	b1 := 4 + int(binary.LittleEndian.Uint32(frame[hdr:])&0x7fffffff)
	b2 := 4 + int(binary.LittleEndian.Uint32(frame[hdr+b1:])&0x7fffffff)
	lz := append([]byte{}, frame[:hdr+b1+b2]...)
	for i := 0; i < 256/4-2; i++ {
		lz = append(lz, frame[hdr+b1:hdr+b1+b2]...)
	}
	out[CodecLZ4] = append(lz, 0, 0, 0, 0) // end mark
	return out
})

// TestValidateBombs: batches that decompress to hundreds of MiB fail
// CORRUPT_MESSAGE after DecompressedLimit bytes of output, allocating a
// small fraction of the bomb, and give their budget back.
func TestValidateBombs(t *testing.T) {
	for _, codec := range []int{CodecZstd, CodecGzip, CodecLZ4} {
		t.Run(codecName(codec), func(t *testing.T) {
			s := spec(1)
			s.attrs = int16(codec)
			batch := rawBatch(s, bombs()[codec])
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := ValidateProduce(context.Background(), batch, Rules{MaxBytes: 2 << 20})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d compressed bytes: %v; allocated %d KiB", len(batch), err, alloc>>10)
			if alloc > 40<<20 {
				t.Fatalf("validation allocated %d MiB for a bomb of at least 256 MiB", alloc>>20)
			}
			if used := DecompressionBudget().InUse(); used != 0 {
				t.Fatalf("budget still holds %d bytes", used)
			}
		})
	}
}

// TestBudgetBoundsConcurrentValidation: with a small budget, concurrent
// validations of compressed batches wait for each other instead of
// exceeding it, and all finish.
func TestBudgetBoundsConcurrentValidation(t *testing.T) {
	old := DecompressionBudget()
	b := NewBudget(3 << 20)
	SetDecompressionBudget(b)
	t.Cleanup(func() { SetDecompressionBudget(old) })
	s := spec(1)
	s.attrs = CodecZstd
	bomb := rawBatch(s, bombs()[CodecZstd])
	good := buildBatch(t, CodecLZ4, 100)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ValidateProduce(context.Background(), bomb, Rules{}); !errors.Is(err, ErrCorrupt) {
				errs <- fmt.Errorf("bomb: %v", err)
			}
			if _, err := ValidateProduce(context.Background(), good, Rules{}); err != nil {
				errs <- fmt.Errorf("good: %v", err)
			}
			if used := b.InUse(); used > b.Size() {
				errs <- fmt.Errorf("budget holds %d of %d", used, b.Size())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if b.InUse() != 0 {
		t.Fatalf("budget still holds %d bytes", b.InUse())
	}
	// A wait for the budget ends with its context.
	if !b.TryAcquire(b.Size()) {
		t.Fatal("budget not free")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ValidateProduce(ctx, bomb, Rules{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	b.Release(b.Size())
}
