package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// maxDecompressed bounds the size of one decompressed batch so that a
// malicious "zip bomb" cannot exhaust memory.
const maxDecompressed = 256 << 20

// xerialMagic starts snappy data framed the way Java clients (xerial) write it.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

var zstdDecoders = sync.Pool{New: func() any {
	d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxDecompressed))
	return d
}}

// Decompress returns the uncompressed records section of a batch with the given codec.
func Decompress(codec int, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return src, nil
	case CodecGzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
		}
		return readLimited(r, "gzip")
	case CodecSnappy:
		return decodeSnappy(src)
	case CodecLZ4:
		return readLimited(lz4.NewReader(bytes.NewReader(src)), "lz4")
	case CodecZstd:
		d := zstdDecoders.Get().(*zstd.Decoder)
		defer zstdDecoders.Put(d)
		out, err := d.DecodeAll(src, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: unknown compression codec %d", ErrCorrupt, codec)
	}
}

func readLimited(r io.Reader, name string) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	if len(out) > maxDecompressed {
		return nil, fmt.Errorf("%w: %s: decompressed batch over %d bytes", ErrCorrupt, name, maxDecompressed)
	}
	return out, nil
}

// decodeSnappy accepts both raw snappy blocks (librdkafka, franz-go) and the
// xerial framing of Java clients: magic, two int32 versions, then chunks of
// int32 length + snappy block.
func decodeSnappy(src []byte) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return snappyBlock(src)
	}
	src = src[len(xerialMagic)+8:]
	var out []byte
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, fmt.Errorf("%w: snappy: truncated xerial chunk", ErrCorrupt)
		}
		n := int(binary.BigEndian.Uint32(src))
		src = src[4:]
		if n < 0 || n > len(src) {
			return nil, fmt.Errorf("%w: snappy: xerial chunk of %d bytes, %d left", ErrCorrupt, n, len(src))
		}
		chunk, err := snappyBlock(src[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, chunk...)
		if len(out) > maxDecompressed {
			return nil, fmt.Errorf("%w: snappy: decompressed batch over %d bytes", ErrCorrupt, maxDecompressed)
		}
		src = src[n:]
	}
	return out, nil
}

func snappyBlock(src []byte) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil || n > maxDecompressed {
		return nil, fmt.Errorf("%w: snappy: bad block length", ErrCorrupt)
	}
	out, err := s2.Decode(make([]byte, n), src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	return out, nil
}

// Compress compresses the records section with the given codec; used for
// batches the broker writes itself and in tests.
func Compress(codec int, src []byte) ([]byte, error) {
	var buf bytes.Buffer
	switch codec {
	case CodecNone:
		return src, nil
	case CodecGzip:
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case CodecSnappy:
		return s2.EncodeSnappy(nil, src), nil
	case CodecLZ4:
		w := lz4.NewWriter(&buf)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	case CodecZstd:
		e, err := zstd.NewWriter(nil)
		if err != nil {
			return nil, err
		}
		defer e.Close()
		return e.EncodeAll(src, nil), nil
	default:
		return nil, fmt.Errorf("record: unknown compression codec %d", codec)
	}
	return buf.Bytes(), nil
}
