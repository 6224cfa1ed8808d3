package record

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// DecompressLimit refuses data that inflates past its limit, with every
// codec, and returns data within it intact.
func TestDecompressLimit(t *testing.T) {
	src := bytes.Repeat([]byte("telemetry "), 10_000) // 100,000 bytes, compresses well
	for _, codec := range allCodecs {
		compressed, err := Compress(codec, src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecompressLimit(context.Background(), codec, compressed, int64(len(src)))
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("codec %d within the limit: %d bytes, %v", codec, len(got), err)
		}
		if _, err := DecompressLimit(context.Background(), codec, compressed, int64(len(src))-1); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("codec %d past the limit: %v, want ErrCorrupt", codec, err)
		}
	}
	if in := DecompressionBudget().InUse(); in != 0 {
		t.Fatalf("%d bytes of the decompression budget still held", in)
	}
}
