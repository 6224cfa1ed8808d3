package record

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// typicalBatch is a 16 KiB producer batch of 100-byte values with 8-byte
// keys, the shape of the W1/W2 produce workloads; values are half random
// so compression is realistic.
func typicalBatch(b testing.TB, codec int) ([]byte, int) {
	rng := rand.New(rand.NewPCG(1, 2))
	bl := NewBuilder()
	raw := 0
	for raw < 16<<10 {
		v := make([]byte, 100)
		for i := range v[:50] {
			v[i] = byte(rng.IntN(256))
		}
		k := []byte{byte(bl.Len()), 0, 0, 0, 0, 0, 0, 1}
		bl.Add(1_700_000_000_000+int64(bl.Len()), k, v)
		raw += 100 + 8 + 8
	}
	batch, err := bl.Build(codec)
	if err != nil {
		b.Fatal(err)
	}
	return batch, raw
}

// BenchmarkValidateProduce: MB/s are of uncompressed record bytes. The
// "header+crc" case is what validation cost before records were checked.
func BenchmarkValidateProduce(b *testing.B) {
	b.Run("header+crc", func(b *testing.B) {
		batch, raw := typicalBatch(b, CodecNone)
		b.SetBytes(int64(raw))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseHeader(batch); err != nil {
				b.Fatal(err)
			}
			if err := CheckCRC(batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, codec := range []int{CodecNone, CodecLZ4, CodecZstd, CodecGzip, CodecSnappy} {
		b.Run(codecName(codec), func(b *testing.B) {
			batch, raw := typicalBatch(b, codec)
			rules := Rules{MaxBytes: 1 << 20, Compacted: true, CheckTimestamps: true, Now: 1_700_000_000_000,
				TimestampBeforeMaxMs: 1 << 62, TimestampAfterMaxMs: 3600_000, Topic: "t"}
			b.SetBytes(int64(raw))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ValidateProduce(context.Background(), batch, rules); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecompress is the cost per 16 KiB producer batch of storing it
// with another codec (compression.type): validation, decompression and
// the encoder in one pass. Compare with BenchmarkValidateProduce of the
// source codec, which is what the same batch costs with
// compression.type=producer. MB/s are of uncompressed record bytes.
func BenchmarkRecompress(b *testing.B) {
	for _, c := range []struct {
		from   int
		target Compression
	}{
		{CodecNone, Compression{Codec: CodecZstd, Level: 3}},
		{CodecLZ4, Compression{Codec: CodecZstd, Level: 3}},
		{CodecSnappy, Compression{Codec: CodecZstd, Level: 3}},
		{CodecNone, Compression{Codec: CodecLZ4, Level: 9}},
		{CodecZstd, Compression{Codec: CodecLZ4, Level: 9}},
		{CodecNone, Compression{Codec: CodecGzip, Level: -1}},
		{CodecNone, Compression{Codec: CodecSnappy}},
		{CodecZstd, Compression{Codec: CodecNone}},
	} {
		b.Run(fmt.Sprintf("%s->%s-%d", codecName(c.from), codecName(c.target.Codec), c.target.Level), func(b *testing.B) {
			batch, raw := typicalBatch(b, c.from)
			rules := Rules{MaxBytes: 1 << 20, CheckTimestamps: true, Now: 1_700_000_000_000,
				TimestampBeforeMaxMs: 1 << 62, TimestampAfterMaxMs: 3600_000, Topic: "t"}
			b.SetBytes(int64(raw))
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				var err error
				if out, _, err = ValidateRecompress(context.Background(), batch, rules, c.target); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(out)), "stored-bytes")
			b.ReportMetric(float64(len(batch)), "sent-bytes")
		})
	}
}
