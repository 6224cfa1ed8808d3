package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

var allCodecs = []int{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

// recompressInput is an idempotent, transactional batch with keys, null
// keys and values, headers and out-of-order timestamps, so every field the
// stored batch must keep is present.
func recompressInput(t *testing.T, codec, n int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	b := NewBuilder()
	b.ProducerID, b.ProducerEpoch, b.BaseSequence = 4242, 3, 1000
	b.Attributes = AttrTransactional
	for i := range n {
		var key []byte
		if i%5 != 0 {
			key = fmt.Appendf(nil, "key-%d", i)
		}
		var value []byte
		if i%7 != 0 {
			value = make([]byte, 20+rng.IntN(200))
			for j := range value[:len(value)/2] {
				value[j] = byte(rng.IntN(256))
			}
		}
		ts := 1_700_000_000_000 + int64(rng.IntN(10_000)) - 5_000
		b.Add(ts, key, value, RecordHeader{Key: "h", Value: []byte{byte(i)}}, RecordHeader{Key: "null"})
	}
	batch, err := b.Build(codec)
	if err != nil {
		t.Fatal(err)
	}
	return batch
}

func TestValidateRecompressEveryCodecPair(t *testing.T) {
	for _, from := range allCodecs {
		for _, to := range allCodecs {
			t.Run(codecName(from)+"->"+codecName(to), func(t *testing.T) {
				in := recompressInput(t, from, 300)
				want, err := Records(in)
				if err != nil {
					t.Fatal(err)
				}
				inHeader, _ := ParseHeader(in)
				orig := bytes.Clone(in)
				out, h, err := ValidateRecompress(context.Background(), in, Rules{MaxBytes: 1 << 20}, Compression{Codec: to, Level: -1})
				if err != nil {
					t.Fatal(err)
				}
				if from == to {
					if &out[0] != &in[0] {
						t.Fatal("same codec: the batch must be stored as sent, not rebuilt")
					}
					return
				}
				if !bytes.Equal(in, orig) {
					t.Fatal("the produced batch was modified")
				}
				if err := CheckCRC(out); err != nil {
					t.Fatal(err)
				}
				parsed, err := ParseHeader(out)
				if err != nil {
					t.Fatal(err)
				}
				if parsed != h {
					t.Fatalf("returned header %+v, stored header %+v", h, parsed)
				}
				if h.Codec() != to || h.Size() != len(out) {
					t.Fatalf("codec %d size %d, want codec %d size %d", h.Codec(), h.Size(), to, len(out))
				}
				if h.ProducerID != 4242 || h.ProducerEpoch != 3 || h.BaseSequence != 1000 || !h.IsTransactional() ||
					h.RecordCount != 300 || h.LastOffsetDelta != 299 || h.BaseTimestamp != inHeader.BaseTimestamp {
					t.Fatalf("header fields not kept: %+v", h)
				}
				maxTS := int64(-1)
				for _, r := range want {
					maxTS = max(maxTS, r.Timestamp)
				}
				if h.MaxTimestamp != maxTS {
					t.Fatalf("maxTimestamp %d, want the largest record timestamp %d", h.MaxTimestamp, maxTS)
				}
				got, err := Records(out)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatal("records differ after recompression")
				}
				if _, err := ValidateProduce(context.Background(), out, Rules{MaxBytes: 1 << 20}); err != nil {
					t.Fatalf("the stored batch does not validate: %v", err)
				}
				if n := DecompressionBudget().InUse(); n != 0 {
					t.Fatalf("%d bytes of the decompression budget still held", n)
				}
			})
		}
	}
}

// Every level Kafka accepts (KIP-390 ranges) gives a batch that decodes.
func TestValidateRecompressLevels(t *testing.T) {
	for _, c := range []Compression{
		{CodecGzip, -1}, {CodecGzip, 1}, {CodecGzip, 9},
		{CodecLZ4, 1}, {CodecLZ4, 9}, {CodecLZ4, 17},
		{CodecZstd, -131072}, {CodecZstd, -1}, {CodecZstd, 3}, {CodecZstd, 9}, {CodecZstd, 22},
	} {
		t.Run(fmt.Sprintf("%s-%d", codecName(c.Codec), c.Level), func(t *testing.T) {
			in := recompressInput(t, CodecNone, 100)
			want, _ := Records(in)
			out, h, err := ValidateRecompress(context.Background(), in, Rules{MaxBytes: 1 << 20}, c)
			if err != nil {
				t.Fatal(err)
			}
			if h.Codec() != c.Codec || len(out) >= len(in) {
				t.Fatalf("codec %d, %d bytes from %d", h.Codec(), len(out), len(in))
			}
			got, err := Records(out)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("records differ: %v", err)
			}
		})
	}
}

// A batch that is within max.message.bytes as sent but not after
// recompression is MESSAGE_TOO_LARGE (Kafka's UnifiedLog re-checks sizes
// after LogValidator rebuilt a batch: RecordTooLargeException); a record
// error in the same batch wins, as Kafka validates records first.
func TestValidateRecompressTooLarge(t *testing.T) {
	b := NewBuilder()
	for i := range 200 {
		b.Add(1_700_000_000_000, fmt.Appendf(nil, "k%d", i), bytes.Repeat([]byte{'a'}, 1000))
	}
	in, err := b.Build(CodecZstd)
	if err != nil {
		t.Fatal(err)
	}
	rules := Rules{MaxBytes: 64 << 10}
	if _, err := ValidateProduce(context.Background(), in, rules); err != nil {
		t.Fatalf("as sent the batch (%d bytes) is valid: %v", len(in), err)
	}
	_, _, err = ValidateRecompress(context.Background(), in, rules, Compression{Codec: CodecNone})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if n := DecompressionBudget().InUse(); n != 0 {
		t.Fatalf("%d bytes of the decompression budget still held", n)
	}

	b = NewBuilder()
	for range 200 {
		b.Add(1_700_000_000_000, nil, bytes.Repeat([]byte{'a'}, 1000))
	}
	in, _ = b.Build(CodecLZ4)
	rules.Compacted = true
	_, _, err = ValidateRecompress(context.Background(), in, rules, Compression{Codec: CodecNone})
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidRecord) || ve.Total != 200 {
		t.Fatalf("got %v, want the 200 keyless-record errors", err)
	}
}

// A batch that fails validation is not recompressed into anything and
// gives its budget back.
func TestValidateRecompressCorrupt(t *testing.T) {
	in := recompressInput(t, CodecLZ4, 50)
	in[len(in)-3] ^= 0xff
	SetMaxTimestamp(in, 0) // recompute the CRC over the damage
	_, _, err := ValidateRecompress(context.Background(), in, Rules{MaxBytes: 1 << 20}, Compression{Codec: CodecZstd, Level: 3})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
	if n := DecompressionBudget().InUse(); n != 0 {
		t.Fatalf("%d bytes of the decompression budget still held", n)
	}
}

// Recompression waits for the decompression budget like validation: with
// the budget held, it blocks until its context ends.
func TestValidateRecompressWaitsForBudget(t *testing.T) {
	old := DecompressionBudget()
	b := NewBudget(4 << 20)
	SetDecompressionBudget(b)
	t.Cleanup(func() { SetDecompressionBudget(old) })
	if err := b.Acquire(context.Background(), 4<<20); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := recompressInput(t, CodecNone, 10)
	if _, _, err := ValidateRecompress(ctx, in, Rules{MaxBytes: 1 << 20}, Compression{Codec: CodecZstd, Level: 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the context's error while the budget is used up", err)
	}
	b.Release(4 << 20)
	if _, _, err := ValidateRecompress(context.Background(), in, Rules{MaxBytes: 1 << 20}, Compression{Codec: CodecZstd, Level: 3}); err != nil {
		t.Fatal(err)
	}
	if n := b.InUse(); n != 0 {
		t.Fatalf("%d bytes still held", n)
	}
}

// xxh32 is the reference xxHash32 for inputs below 16 bytes, written out
// here to check the header checksum byte baked into lz4FrameHeader.
func xxh32(b []byte) uint32 {
	const p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
	rotl := func(x uint32, r uint) uint32 { return x<<r | x>>(32-r) }
	h := uint32(p5) + uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		h += (uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24) * p3
		h = rotl(h, 17) * p4
	}
	for _, c := range b {
		h += uint32(c) * p5
		h = rotl(h, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return h
}

func TestLZ4FrameHeader(t *testing.T) {
	if got := byte(xxh32(lz4FrameHeader[4:6]) >> 8); got != lz4FrameHeader[6] {
		t.Fatalf("header checksum byte %#x, xxHash32 gives %#x", lz4FrameHeader[6], got)
	}
	// Incompressible input is stored in raw blocks, and readers take it.
	rng := rand.New(rand.NewPCG(1, 1))
	b := NewBuilder()
	for range 100 {
		v := make([]byte, 1000)
		for i := range v {
			v[i] = byte(rng.IntN(256))
		}
		b.Add(1, []byte("k"), v)
	}
	in, _ := b.Build(CodecNone)
	want, _ := Records(in)
	out, _, err := ValidateRecompress(context.Background(), in, Rules{MaxBytes: 1 << 20}, Compression{Codec: CodecLZ4, Level: 9})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Records(out)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("raw lz4 blocks: %v", err)
	}
}
