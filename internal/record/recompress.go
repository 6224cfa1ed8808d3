package record

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression is the codec and level the broker stores a topic's batches
// with (Kafka's compression.type other than "producer", and
// compression.gzip.level, compression.lz4.level, compression.zstd.level,
// KIP-390). Levels use Kafka's ranges; each codec maps them to the nearest
// level its Go encoder has.
type Compression struct {
	Codec int // CodecNone, CodecGzip, CodecSnappy, CodecLZ4 or CodecZstd
	// Level of the codec: gzip -1 (default) or 1-9, lz4 1-17, zstd
	// -131072..22. Ignored for none and snappy.
	Level int
}

// zstdEncoderWindow is the window of the zstd frames the broker writes: a batch
// is at most max.message.bytes (1 MiB by default), so a larger window
// rarely finds more, and every decoder (ours allows 8 MiB) accepts it.
const zstdEncoderWindow = 1 << 20

// xerialBlock is the uncompressed size of one snappy chunk, as the Java
// client's SnappyOutputStream writes them.
const xerialBlock = 32 << 10

// encoderWorkingSet is the memory an encoder of c holds while it runs,
// charged to the decompression budget beside the output.
func encoderWorkingSet(c Compression) int64 {
	switch c.Codec {
	case CodecGzip:
		return 1 << 20 // flate's compressor state and window
	case CodecSnappy:
		return 2*xerialBlock + 64<<10
	case CodecLZ4:
		return 1<<20 + 256<<10 // 64 KiB blocks plus the HC hash and chain tables
	case CodecZstd:
		return 2*zstdEncoderWindow + 2<<20 // history plus match tables
	}
	return 0
}

// encoders pools the encoders of each codec and level; they keep fixed
// tables, so pooling them is what makes a recompression cheap.
var (
	zstdEncoders [4]sync.Pool  // by zstd.EncoderLevel-1
	gzipEncoders [11]sync.Pool // by level+1 (-1..9)
	lz4Pool      sync.Pool     // *lz4FrameWriter
	xerialPool   sync.Pool     // *xerialWriter
)

// encoder compresses a records section into w.
type encoder interface {
	io.Writer
	// Close flushes the frame to its writer and returns the encoder to
	// its pool; no call may follow.
	Close() error
	// Release returns an encoder that will not be closed to its pool.
	Release()
}

func newEncoder(c Compression, w io.Writer) (encoder, error) {
	switch c.Codec {
	case CodecNone:
		return plainEncoder{w}, nil
	case CodecGzip:
		level := c.Level
		if level < 1 || level > 9 {
			level = gzip.DefaultCompression
		}
		pool := &gzipEncoders[level+1]
		zw, _ := pool.Get().(*gzip.Writer)
		if zw == nil {
			var err error
			if zw, err = gzip.NewWriterLevel(w, level); err != nil {
				return nil, err
			}
		} else {
			zw.Reset(w)
		}
		return &pooledEncoder{Writer: zw, close: zw.Close, release: func() { zw.Reset(io.Discard); pool.Put(zw) }}, nil
	case CodecSnappy:
		x, _ := xerialPool.Get().(*xerialWriter)
		if x == nil {
			x = &xerialWriter{buf: make([]byte, 0, xerialBlock), enc: make([]byte, s2.MaxEncodedLen(xerialBlock))}
		}
		x.reset(w)
		return x, nil
	case CodecLZ4:
		x, _ := lz4Pool.Get().(*lz4FrameWriter)
		if x == nil {
			x = &lz4FrameWriter{buf: make([]byte, 0, lz4Block), enc: make([]byte, lz4.CompressBlockBound(lz4Block))}
		}
		x.reset(w, c.Level)
		return x, nil
	case CodecZstd:
		level := zstd.EncoderLevelFromZstd(c.Level)
		pool := &zstdEncoders[level-1]
		zw, _ := pool.Get().(*zstd.Encoder)
		if zw == nil {
			var err error
			zw, err = zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(level),
				zstd.WithWindowSize(zstdEncoderWindow), zstd.WithLowerEncoderMem(true))
			if err != nil {
				return nil, err
			}
		} else {
			zw.Reset(w)
		}
		return &pooledEncoder{Writer: zw, close: zw.Close, release: func() { zw.Reset(nil); pool.Put(zw) }}, nil
	}
	return nil, fmt.Errorf("%w %d", ErrUnknownCodec, c.Codec)
}

type plainEncoder struct{ io.Writer }

func (plainEncoder) Close() error { return nil }
func (plainEncoder) Release()     {}

type pooledEncoder struct {
	io.Writer
	close   func() error
	release func()
}

func (e *pooledEncoder) Close() error {
	err := e.close()
	e.release()
	return err
}

func (e *pooledEncoder) Release() {
	_ = e.close()
	e.release()
}

// xerialWriter writes snappy in the xerial framing the Java client uses
// (and every client reads): magic, two int32 versions, then chunks of an
// int32 length and a snappy block of at most 32 KiB of input. It streams,
// unlike a raw snappy block, which needs all its input at once.
type xerialWriter struct {
	w      io.Writer
	buf    []byte // pending input, < xerialBlock
	enc    []byte // scratch for one encoded chunk
	header bool
	err    error
}

func (x *xerialWriter) reset(w io.Writer) {
	x.w, x.buf, x.header, x.err = w, x.buf[:0], false, nil
}

func (x *xerialWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && x.err == nil {
		take := min(len(p), xerialBlock-len(x.buf))
		x.buf = append(x.buf, p[:take]...)
		p = p[take:]
		if len(x.buf) == xerialBlock {
			x.flush()
		}
	}
	return n, x.err
}

func (x *xerialWriter) flush() {
	if x.err != nil {
		return
	}
	if !x.header {
		var h [16]byte
		copy(h[:], xerialMagic)
		binary.BigEndian.PutUint32(h[8:], 1)  // version
		binary.BigEndian.PutUint32(h[12:], 1) // compatible version
		_, x.err = x.w.Write(h[:])
		x.header = true
	}
	if len(x.buf) == 0 || x.err != nil {
		return
	}
	block := s2.EncodeSnappy(x.enc, x.buf) // x.enc holds MaxEncodedLen: no allocation
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(block)))
	if _, x.err = x.w.Write(n[:]); x.err == nil {
		_, x.err = x.w.Write(block)
	}
	x.buf = x.buf[:0]
}

func (x *xerialWriter) Close() error {
	x.flush()
	err := x.err
	x.Release()
	return err
}

func (x *xerialWriter) Release() {
	x.w = nil
	xerialPool.Put(x)
}

// lz4Block is the block size of the LZ4 frames the broker writes: 64 KiB,
// as Kafka's KafkaLZ4BlockOutputStream writes them.
const lz4Block = 64 << 10

// lz4FrameHeader is the frame header of every LZ4 frame the broker writes:
// magic, FLG 0x60 (version 1, independent blocks, no checksums, no content
// size), BD 0x40 (64 KiB blocks) and the header checksum, byte 1 of
// xxHash32(FLG, BD) (checked by every reader; see TestLZ4FrameHeader).
var lz4FrameHeader = [7]byte{0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82}

// lz4FrameWriter writes an LZ4 frame of 64 KiB blocks compressed with
// LZ4HC at Kafka's compression.lz4.level. Kafka's levels are the reference
// LZ4HC's, which tries 2^(level-1) matches per position (level 9, the
// default, tries 256); the Go encoder takes that search depth directly.
// Its own Writer only offers depths of 512 and more, about 15 times slower
// than Kafka's default for the same ratio on producer batches.
type lz4FrameWriter struct {
	w      io.Writer
	hc     lz4.CompressorHC
	buf    []byte // pending input, < lz4Block
	enc    []byte // one compressed block
	header bool
	err    error
}

func (x *lz4FrameWriter) reset(w io.Writer, level int) {
	level = min(max(level, 1), 17)
	x.w, x.buf, x.header, x.err = w, x.buf[:0], false, nil
	x.hc.Level = lz4.CompressionLevel(1) << (level - 1)
}

func (x *lz4FrameWriter) write(p []byte) {
	if x.err == nil {
		_, x.err = x.w.Write(p)
	}
}

func (x *lz4FrameWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && x.err == nil {
		take := min(len(p), lz4Block-len(x.buf))
		x.buf = append(x.buf, p[:take]...)
		p = p[take:]
		if len(x.buf) == lz4Block {
			x.flush()
		}
	}
	return n, x.err
}

func (x *lz4FrameWriter) flush() {
	if !x.header {
		x.write(lz4FrameHeader[:])
		x.header = true
	}
	if len(x.buf) == 0 || x.err != nil {
		return
	}
	var size [4]byte
	n, err := x.hc.CompressBlock(x.buf, x.enc)
	if err != nil || n == 0 || n >= len(x.buf) {
		// Incompressible: stored as is, flagged by the size's high bit.
		binary.LittleEndian.PutUint32(size[:], uint32(len(x.buf))|1<<31)
		x.write(size[:])
		x.write(x.buf)
	} else {
		binary.LittleEndian.PutUint32(size[:], uint32(n))
		x.write(size[:])
		x.write(x.enc[:n])
	}
	x.buf = x.buf[:0]
}

func (x *lz4FrameWriter) Close() error {
	x.flush()
	x.write([]byte{0, 0, 0, 0}) // end mark
	err := x.err
	x.Release()
	return err
}

func (x *lz4FrameWriter) Release() {
	x.w = nil
	lz4Pool.Put(x)
}

// cappedBuffer collects an encoder's output after a batch header, up to
// max bytes in all; beyond that it drops the output and remembers that the
// batch is too large, so validation still runs to its end and a record
// error wins over the size, as in Kafka (sizes are checked after records).
type cappedBuffer struct {
	b    []byte
	max  int
	over bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.over || len(c.b)+len(p) > c.max {
		c.over = true
		return len(p), nil
	}
	c.b = append(c.b, p...)
	return len(p), nil
}

// recompressor turns the records section streamed through validation into
// the stored batch with the target codec.
type recompressor struct {
	target Compression
	out    cappedBuffer
	enc    encoder
	err    error // an encoder failure, sticky
}

// newRecompressor prepares a batch of at most maxSize bytes; the header
// is copied from src and patched by finish.
func newRecompressor(target Compression, src []byte, maxSize int) (*recompressor, error) {
	r := &recompressor{target: target}
	// A first guess for the output: the size the batch came in, which a
	// same-ratio codec about keeps; append grows it when not.
	r.out = cappedBuffer{b: make([]byte, HeaderSize, min(max(len(src), 4<<10), maxSize)), max: maxSize}
	copy(r.out.b, src[:HeaderSize])
	enc, err := newEncoder(target, &r.out)
	if err != nil {
		return nil, err
	}
	r.enc = enc
	return r, nil
}

// Write feeds decompressed records bytes, in order.
func (r *recompressor) Write(p []byte) (int, error) {
	if r.err == nil && !r.out.over {
		_, r.err = r.enc.Write(p)
	}
	return len(p), nil
}

// abort gives the encoder back without finishing the batch.
func (r *recompressor) abort() {
	if r.enc != nil {
		r.enc.Release()
		r.enc = nil
	}
}

// finish flushes the encoder and completes the header of the new batch
// from h (the validated header of the produced batch): the codec bits,
// batchLength, maxTimestamp and the CRC. It returns the batch and its
// header, or ErrTooLarge when the batch is above maxSize.
func (r *recompressor) finish(h Header) ([]byte, Header, error) {
	enc := r.enc
	r.enc = nil
	if err := enc.Close(); err != nil && r.err == nil {
		r.err = err
	}
	if r.err != nil {
		return nil, h, fmt.Errorf("record: %s encoder: %w", codecName(r.target.Codec), r.err)
	}
	if r.out.over {
		return nil, h, fmt.Errorf("%w: more than %d bytes after recompression with %s", ErrTooLarge, r.out.max, codecName(r.target.Codec))
	}
	b := r.out.b
	h.Attributes = h.Attributes&^AttrCodecMask | int16(r.target.Codec)
	h.BatchLength = int32(len(b) - LogOverhead)
	binary.BigEndian.PutUint32(b[8:], uint32(h.BatchLength))
	binary.BigEndian.PutUint16(b[attributesOffset:], uint16(h.Attributes))
	binary.BigEndian.PutUint64(b[maxTSOffset:], uint64(h.MaxTimestamp))
	h.CRC = ComputeCRC(b)
	binary.BigEndian.PutUint32(b[crcOffset:], h.CRC)
	return b, h, nil
}

// teeReader passes what a decoder produces to the recompressor as the
// validation stream pulls it.
type teeReader struct {
	r io.Reader
	w *recompressor
}

func (t teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		_, _ = t.w.Write(p[:n])
	}
	return n, err
}
