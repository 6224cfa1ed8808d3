package record

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// maxDecompressed bounds the size of one decompressed batch read back from
// the log (compaction, readers), where data was validated on the way in.
// Produce validation uses the much smaller DecompressedLimit.
const maxDecompressed = 256 << 20

// maxZstdWindow bounds the window a zstd frame may ask for: 8 MiB, the size
// the zstd format recommends every decoder to support. A batch is at most
// a few MiB, so producers never need more.
const maxZstdWindow = 8 << 20

// maxPooledBuffer: buffers and decoders holding more than this are not put
// back into their pools, so memory is given back after a spike.
const maxPooledBuffer = 1 << 20

// chunkSize is the window through which validation streams decompressed
// records; records larger than it are skipped through, never held whole.
const chunkSize = 64 << 10

// xerialMagic starts snappy data framed the way Java clients (xerial) write it.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// DecompressedLimit is the most a produced batch may decompress to on a
// topic with the given max.message.bytes: 8 times max.message.bytes, at
// least 16 MiB. Kafka has no such limit; the factor leaves room for very
// compressible data from producers that size batches by compressed bytes
// (the Java client's batch.size) while a "bomb" stops after a few MiB.
// Validation streams through the output, so the limit bounds CPU, not memory.
func DecompressedLimit(maxMessageBytes int) int64 {
	return max(8*int64(maxMessageBytes), 16<<20)
}

var (
	zstdDecoders sync.Pool // *zstd.Decoder, streaming, one goroutine
	gzipReaders  sync.Pool // *gzip.Reader
	lz4Readers   sync.Pool // *lz4.Reader
	buffers      sync.Pool // *[]byte
)

func getBuffer(n int) []byte {
	if p, ok := buffers.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]byte, n, max(n, chunkSize))
}

func putBuffer(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBuffer {
		return
	}
	b = b[:0]
	buffers.Put(&b)
}

func newZstdDecoder() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(maxDecompressed))
}

// section is an open decompression of a batch's records section: either
// the whole output in memory (mem, for uncompressed and raw snappy data)
// or a stream (r). charge is the working memory of the decoder, counted
// against the decompression budget by the caller.
type section struct {
	mem    []byte
	r      io.Reader
	charge int64
	close  func()
}

// openSection prepares the decompression of src with codec, bounded to
// limit output bytes where the size is known up front (snappy). It first
// takes the decoder's working memory plus extra from the process-wide
// budget (waiting for ctx), in one step so that no caller holds part of
// the budget while it waits for more; uncompressed src charges only extra
// (a recompression's encoder and output). The caller must call close,
// which gives the budget back.
func openSection(ctx context.Context, codec int, src []byte, limit, extra int64) (section, error) {
	if codec == CodecNone && extra <= 0 {
		return section{mem: src, close: func() {}}, nil
	}
	charge, err := workingSet(codec, src, limit)
	if err != nil {
		return section{}, err
	}
	charge += extra
	budget := DecompressionBudget()
	if err := budget.Acquire(ctx, charge); err != nil {
		return section{}, err
	}
	sec, err := openDecoder(codec, src, limit)
	if err != nil {
		budget.Release(charge)
		return section{}, err
	}
	sec.charge = charge
	inner := sec.close
	sec.close = func() {
		inner()
		budget.Release(charge)
	}
	return sec, nil
}

// workingSet is the memory a decoder of src holds at most, read from the
// frame headers where they say (lz4 block size, zstd window, snappy
// decoded length); a conservative constant where they do not (gzip).
func workingSet(codec int, src []byte, limit int64) (int64, error) {
	switch codec {
	case CodecGzip:
		// flate keeps a 32 KiB window plus its Huffman tables and input buffer.
		return 128 << 10, nil
	case CodecSnappy:
		if bytes.HasPrefix(src, xerialMagic) {
			largest, _, err := xerialSizes(src, limit)
			return int64(largest), err
		}
		n, err := s2.DecodedLen(src)
		if err != nil {
			return 0, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
		}
		if int64(n) > limit {
			return 0, fmt.Errorf("%w: snappy: batch decompresses to %d bytes, limit %d", ErrCorrupt, n, limit)
		}
		return int64(n), nil
	case CodecLZ4:
		return 2*lz4BlockSize(src) + 64<<10, nil
	case CodecZstd:
		window, err := zstdWindow(src)
		// The history holds a window; blocks are at most 128 KiB.
		return int64(window) + 256<<10, err
	case CodecNone:
		return 0, nil
	default:
		return 0, fmt.Errorf("%w %d", ErrUnknownCodec, codec)
	}
}

func zstdWindow(src []byte) (uint64, error) {
	var zh zstd.Header
	if err := zh.Decode(src); err != nil {
		return 0, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
	}
	window := zh.WindowSize
	if zh.SingleSegment {
		window = zh.FrameContentSize
	}
	if window > maxZstdWindow {
		return 0, fmt.Errorf("%w: zstd: window of %d bytes, limit %d", ErrCorrupt, window, maxZstdWindow)
	}
	return window, nil
}

// openDecoder opens the decoder of a section whose working set is charged.
func openDecoder(codec int, src []byte, limit int64) (section, error) {
	switch codec {
	case CodecNone:
		return section{mem: src, close: func() {}}, nil
	case CodecGzip:
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(src))
		} else {
			err = zr.Reset(bytes.NewReader(src))
		}
		if err != nil {
			return section{}, fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
		}
		return section{r: zr, close: func() { gzipReaders.Put(zr) }}, nil
	case CodecSnappy:
		if bytes.HasPrefix(src, xerialMagic) {
			x, err := newXerialReader(src, limit)
			if err != nil {
				return section{}, err
			}
			return section{r: x, close: x.close}, nil
		}
		n, err := s2.DecodedLen(src)
		if err != nil {
			return section{}, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
		}
		if int64(n) > limit {
			return section{}, fmt.Errorf("%w: snappy: batch decompresses to %d bytes, limit %d", ErrCorrupt, n, limit)
		}
		buf := getBuffer(n)
		out, err := s2.Decode(buf, src)
		if err != nil {
			putBuffer(buf)
			return section{}, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
		}
		return section{mem: out, close: func() { putBuffer(buf) }}, nil
	case CodecLZ4:
		block := lz4BlockSize(src)
		lr, _ := lz4Readers.Get().(*lz4.Reader)
		if lr == nil {
			lr = lz4.NewReader(bytes.NewReader(src))
		} else {
			lr.Reset(bytes.NewReader(src))
		}
		return section{r: lr, close: func() {
			lr.Reset(nil)
			if block <= maxPooledBuffer {
				lz4Readers.Put(lr)
			}
		}}, nil
	case CodecZstd:
		window, err := zstdWindow(src)
		if err != nil {
			return section{}, err
		}
		d, _ := zstdDecoders.Get().(*zstd.Decoder)
		if d == nil {
			var err error
			if d, err = newZstdDecoder(); err != nil {
				return section{}, fmt.Errorf("zstd decoder: %w", err)
			}
		}
		if err = d.Reset(bytes.NewReader(src)); err != nil {
			zstdDecoders.Put(d)
			return section{}, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		return section{r: d, close: func() {
			_ = d.Reset(nil)
			if window <= maxPooledBuffer {
				zstdDecoders.Put(d)
			}
		}}, nil
	default:
		return section{}, fmt.Errorf("%w %d", ErrUnknownCodec, codec)
	}
}

// lz4BlockSize reads the block maximum size of an LZ4 frame descriptor
// (4 MiB when the header cannot be read: the reader then fails anyway).
func lz4BlockSize(src []byte) int64 {
	if len(src) < 6 || binary.LittleEndian.Uint32(src) != 0x184D2204 {
		return 4 << 20
	}
	switch (src[5] >> 4) & 0x7 {
	case 4:
		return 64 << 10
	case 5:
		return 256 << 10
	case 6:
		return 1 << 20
	default:
		return 4 << 20
	}
}

// xerialReader streams snappy data in the xerial framing of Java clients:
// magic, two int32 versions, then chunks of int32 length + snappy block.
// Each chunk is decoded into one buffer sized for the largest chunk.
type xerialReader struct {
	src  []byte // chunks left
	buf  []byte // decoded chunk
	out  []byte // unread part of buf
	done bool
}

func newXerialReader(src []byte, limit int64) (*xerialReader, error) {
	largest, chunks, err := xerialSizes(src, limit)
	if err != nil {
		return nil, err
	}
	return &xerialReader{src: chunks, buf: getBuffer(largest)}, nil
}

// xerialSizes checks the chunk framing and returns the largest decoded
// chunk and the chunks.
func xerialSizes(src []byte, limit int64) (largest int, chunks []byte, err error) {
	if len(src) < len(xerialMagic)+8 {
		return 0, nil, fmt.Errorf("%w: snappy: truncated xerial header", ErrCorrupt)
	}
	src = src[len(xerialMagic)+8:]
	total := int64(0)
	for rest := src; len(rest) > 0; {
		if len(rest) < 4 {
			return 0, nil, fmt.Errorf("%w: snappy: truncated xerial chunk", ErrCorrupt)
		}
		n := int64(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
		if n > int64(len(rest)) {
			return 0, nil, fmt.Errorf("%w: snappy: xerial chunk of %d bytes, %d left", ErrCorrupt, n, len(rest))
		}
		d, err := s2.DecodedLen(rest[:n])
		if err != nil {
			return 0, nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
		}
		total += int64(d)
		if total > limit {
			return 0, nil, fmt.Errorf("%w: snappy: batch decompresses to more than %d bytes", ErrCorrupt, limit)
		}
		largest = max(largest, d)
		rest = rest[n:]
	}
	return largest, src, nil
}

func (x *xerialReader) Read(p []byte) (int, error) {
	for len(x.out) == 0 {
		if len(x.src) == 0 {
			return 0, io.EOF
		}
		n := int(binary.BigEndian.Uint32(x.src)) // checked in newXerialReader
		chunk := x.src[4 : 4+n]
		x.src = x.src[4+n:]
		out, err := s2.Decode(x.buf[:cap(x.buf)], chunk)
		if err != nil {
			return 0, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
		}
		x.out = out
	}
	n := copy(p, x.out)
	x.out = x.out[n:]
	return n, nil
}

func (x *xerialReader) close() { putBuffer(x.buf) }

// Decompress returns the uncompressed records section of a batch with the
// given codec (src itself for CodecNone). The output is a fresh slice the
// caller owns; while it is produced, its bytes and the decoder's working
// memory are charged to the process-wide decompression budget, waiting for
// room rather than exceeding it.
func Decompress(codec int, src []byte) ([]byte, error) {
	return DecompressContext(context.Background(), codec, src)
}

// DecompressContext is Decompress with a context for the budget wait.
func DecompressContext(ctx context.Context, codec int, src []byte) ([]byte, error) {
	return DecompressLimit(ctx, codec, src, maxDecompressed)
}

// DecompressLimit is DecompressContext for data that must decompress to
// at most limit bytes (capped at the batch maximum); more is ErrCorrupt.
// Client telemetry uses it: a small payload must not inflate to the
// batch maximum.
func DecompressLimit(ctx context.Context, codec int, src []byte, limit int64) ([]byte, error) {
	if codec == CodecNone {
		if int64(len(src)) > limit {
			return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrCorrupt, len(src), limit)
		}
		return src, nil
	}
	limit = min(max(limit, 1), maxDecompressed)
	sec, err := openSection(ctx, codec, src, limit, 0)
	if err != nil {
		return nil, err
	}
	defer sec.close()
	if sec.mem != nil {
		return bytes.Clone(sec.mem), nil // snappy: decoded whole, charged already
	}
	// Grow the output as bytes arrive, charging the budget in steps. A step
	// that does not fit now releases everything before it waits, so two
	// decompressions never hold part of the budget while waiting for more.
	budget := DecompressionBudget()
	held := int64(0)
	defer func() { budget.Release(held) }()
	want := func(n int64) error {
		if n <= held {
			return nil
		}
		if step := max(n, 2*held) - held; budget.TryAcquire(step) {
			held += step
			return nil
		}
		budget.Release(held)
		held = 0
		if err := budget.Acquire(ctx, n); err != nil {
			return err
		}
		held = n
		return nil
	}
	out := []byte(nil)
	for {
		if len(out) == cap(out) {
			if int64(len(out)) >= limit {
				var one [1]byte
				if n, _ := io.ReadFull(sec.r, one[:]); n > 0 {
					return nil, fmt.Errorf("%w: batch decompresses to more than %d bytes", ErrCorrupt, limit)
				}
				return out, nil
			}
			next := min(max(2*cap(out), 4*len(src), chunkSize), int(limit))
			if err := want(int64(next)); err != nil {
				return nil, err
			}
			grown := make([]byte, len(out), next)
			copy(grown, out)
			out = grown
		}
		n, err := sec.r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			if errors.Is(err, ErrCorrupt) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, codecName(codec), err)
		}
	}
}

func codecName(codec int) string {
	switch codec {
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return "none"
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
