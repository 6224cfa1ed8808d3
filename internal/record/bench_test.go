package record

import (
	"context"
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
