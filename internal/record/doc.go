// Package record owns the Kafka RecordBatch v2 format ("magic 2"): parsing and
// patching of the 61-byte batch header, CRC-32C, validation of batches a
// producer sent, compression codecs, and iteration over the records inside a
// batch (for timestamp lookups, the CLI, and internal topics).
//
// Layout of a batch (big endian), see docs/format/segment.md:
//
//	offset  size  field
//	0       8     baseOffset            patched by the broker on append
//	8       4     batchLength           bytes after this field
//	12      4     partitionLeaderEpoch  patched by the broker on append
//	16      1     magic (2)
//	17      4     crc                   CRC-32C (Castagnoli) of bytes 21..end
//	21      2     attributes            codec bits 0-2, timestamp type bit 3,
//	                                    transactional bit 4, control bit 5
//	23      4     lastOffsetDelta
//	27      8     baseTimestamp
//	35      8     maxTimestamp
//	43      8     producerId
//	51      2     producerEpoch
//	53      4     baseSequence
//	57      4     recordCount
//	61      ...   records (possibly compressed)
//
// baseOffset and partitionLeaderEpoch lie outside the CRC range, so the broker
// stores batches exactly as producers sent them with only those two fields
// rewritten.
//
// Validation of produced batches (ValidateProduce) follows Kafka's
// LogValidator: it streams once through every record, decompressing
// through a fixed 64 KiB window with pooled streaming decoders, so an
// uncompressed batch costs no allocation and a compressed one never holds
// its decompressed records; output beyond DecompressedLimit is a corrupt
// batch. Structural damage is ErrCorrupt (CORRUPT_MESSAGE), rule breaks
// ErrInvalidRecord/ErrInvalidTimestamp, with per-record errors (KIP-467)
// in a *ValidationError.
//
// Broker-side compression (a topic's compression.type, KIP-390) uses the
// same pass: ValidateRecompress feeds the decompressed records section to
// an encoder of the target codec as validation pulls it, then writes the
// header of the new batch (codec bits, length, maxTimestamp, CRC) and
// keeps everything else, so offsets, producer id/epoch/sequence and
// timestamps are the producer's. The encoder's memory and the output (at
// most max.message.bytes, ErrTooLarge beyond it) are charged to the
// decompression budget with the decoder's. Encoders are pooled per codec
// and level; lz4 is our own frame writer (64 KiB blocks, LZ4HC at Kafka's
// search depth) and snappy uses the Java client's xerial framing so it
// can stream.
//
// The one piece of process-wide state is the decompression Budget
// (SetDecompressionBudget, the broker's decompression.buffer.max.bytes):
// every decompression, whether validation, compaction or a reader, first
// takes its working memory from it and waits when it is used up. Pooled
// buffers and decoders above 1 MiB are dropped rather than kept, so memory
// goes back after a spike. Every function is safe for concurrent use.
package record
