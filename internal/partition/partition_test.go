package partition

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/record"
)

func openTest(t *testing.T, dir string, overrides map[string]string) *Partition {
	t.Helper()
	p, err := Open(Config{Topic: "t", Index: 0, Dir: dir, TopicConf: config.ResolveTopic(overrides, nil)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// idBatch builds a batch of n records from producer pid/epoch at seq.
func idBatch(t *testing.T, pid int64, epoch int16, seq int32, n int) []byte {
	t.Helper()
	b := record.NewBuilder()
	b.ProducerID, b.ProducerEpoch, b.BaseSequence = pid, epoch, seq
	for i := 0; i < n; i++ {
		b.Add(int64(1000+i), []byte("k"), []byte("v"))
	}
	batch, err := b.Build(record.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return batch
}

func appendDurable(t *testing.T, p *Partition, batch []byte) (AppendResult, error) {
	t.Helper()
	res, err := p.Append(batch, -1)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return res, p.WaitReplicated(ctx, res.End)
}

func TestIdempotentProducer(t *testing.T) {
	p := openTest(t, t.TempDir(), nil)
	defer p.Close()

	first, err := appendDurable(t, p, idBatch(t, 7, 0, 0, 3))
	if err != nil || first.BaseOffset != 0 {
		t.Fatalf("first: %+v %v", first, err)
	}
	second, err := appendDurable(t, p, idBatch(t, 7, 0, 3, 2))
	if err != nil || second.BaseOffset != 3 {
		t.Fatalf("second: %+v %v", second, err)
	}
	// A retry of the first batch is answered with its original offset and
	// appends nothing.
	dup, err := appendDurable(t, p, idBatch(t, 7, 0, 0, 3))
	if err != nil || !dup.Duplicate || dup.BaseOffset != 0 {
		t.Fatalf("duplicate: %+v %v", dup, err)
	}
	if leo := p.LogEndOffset(); leo != 5 {
		t.Fatalf("LEO %d after duplicate, want 5", leo)
	}
	for _, tc := range []struct {
		name  string
		batch []byte
		want  error
	}{
		{"gap", idBatch(t, 7, 0, 9, 1), ErrOutOfOrderSequence},
		{"stale epoch", idBatch(t, 7, -1+0, 5, 1), nil},
		{"new epoch not at zero", idBatch(t, 7, 1, 5, 1), ErrOutOfOrderSequence},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := appendDurable(t, p, tc.batch)
			if tc.want == nil {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// A new epoch starting at 0 is accepted; the old epoch is then fenced.
	if _, err := appendDurable(t, p, idBatch(t, 7, 1, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := appendDurable(t, p, idBatch(t, 7, 0, 5, 1)); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("old epoch: %v", err)
	}
	if leo := p.LogEndOffset(); leo != 6 {
		t.Fatalf("LEO %d, want 6: rejected batches must append nothing", leo)
	}
}

func TestProducerStateSurvivesRestart(t *testing.T) {
	for _, clean := range []bool{true, false} {
		name := map[bool]string{true: "clean", false: "crash"}[clean]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p := openTest(t, dir, nil)
			for seq := int32(0); seq < 10; seq += 2 {
				if _, err := appendDurable(t, p, idBatch(t, 3, 0, seq, 2)); err != nil {
					t.Fatal(err)
				}
			}
			if clean {
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				// Copy the files while the partition is open: what a kill -9
				// leaves behind (everything acknowledged is fsynced).
				crashDir := t.TempDir()
				copyDir(t, dir, crashDir)
				p.Close()
				dir = crashDir
			}
			p = openTest(t, dir, nil)
			defer p.Close()
			// The last batch is still recognised as a duplicate...
			dup, err := appendDurable(t, p, idBatch(t, 3, 0, 8, 2))
			if err != nil || !dup.Duplicate || dup.BaseOffset != 8 {
				t.Fatalf("duplicate after restart: %+v %v", dup, err)
			}
			// ...and sequences continue.
			if _, err := appendDurable(t, p, idBatch(t, 3, 0, 11, 1)); !errors.Is(err, ErrOutOfOrderSequence) {
				t.Fatalf("gap after restart: %v", err)
			}
			next, err := appendDurable(t, p, idBatch(t, 3, 0, 10, 1))
			if err != nil || next.BaseOffset != 10 {
				t.Fatalf("next after restart: %+v %v", next, err)
			}
		})
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == ".arus-clean-shutdown" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHighWatermarkOnlyCoversDurableData(t *testing.T) {
	p := openTest(t, t.TempDir(), nil)
	defer p.Close()
	changed := p.Changed()
	res, err := p.Append(idBatch(t, -1, -1, -1, 4), -1)
	if err != nil {
		t.Fatal(err)
	}
	// Until the flusher has synced, a reader at the new data sees nothing
	// and no error; afterwards the batch is visible.
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("high watermark did not move")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitReplicated(ctx, res.End); err != nil {
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != 4 {
		t.Fatalf("HW %d, want 4", hw)
	}
	data, err := p.Read(0, 1<<20, true)
	if err != nil || len(data) == 0 {
		t.Fatalf("read: %d bytes, %v", len(data), err)
	}
}

func TestLogAppendTime(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	p, err := Open(Config{Topic: "t", Dir: t.TempDir(), Now: func() time.Time { return now },
		TopicConf: config.ResolveTopic(map[string]string{"message.timestamp.type": "LogAppendTime"}, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := appendDurable(t, p, idBatch(t, -1, -1, -1, 2))
	if err != nil || res.LogAppendTime != now.UnixMilli() {
		t.Fatalf("%+v %v", res, err)
	}
	data, err := p.Read(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := record.Records(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Timestamp != now.UnixMilli() {
			t.Fatalf("record timestamp %d, want log append time %d", r.Timestamp, now.UnixMilli())
		}
	}
}

// TestAppendValidatesRecords: the records of a batch are validated before
// anything is appended (keys on compacted topics, per-record errors), and
// a producer's maxTimestamp that is not its largest record timestamp is
// replaced, as Kafka's LogValidator does, with a CRC that still holds.
func TestAppendValidatesRecords(t *testing.T) {
	p := openTest(t, t.TempDir(), map[string]string{"cleanup.policy": "compact"})
	defer p.Close()
	b := record.NewBuilder()
	b.Add(1000, []byte("k"), []byte("v"))
	b.Add(1001, nil, []byte("keyless"))
	keyless, err := b.Build(record.CodecGzip)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Append(keyless, -1)
	var ve *record.ValidationError
	if !errors.As(err, &ve) || len(ve.Records) != 1 || ve.Records[0].Index != 1 {
		t.Fatalf("keyless record: %v, want a record error for index 1", err)
	}
	if p.LogEndOffset() != 0 {
		t.Fatalf("log end offset %d after a rejected batch", p.LogEndOffset())
	}

	batch := idBatch(t, -1, -1, -1, 3) // timestamps 1000..1002
	record.SetMaxTimestamp(batch, 5)   // a producer's wrong claim, CRC recomputed
	if _, err := appendDurable(t, p, batch); err != nil {
		t.Fatal(err)
	}
	data, err := p.Read(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	h, err := record.Validate(data, 0)
	if err != nil || h.MaxTimestamp != 1002 {
		t.Fatalf("stored batch: maxTimestamp %d, err %v; want 1002 and a valid CRC", h.MaxTimestamp, err)
	}
}

// A topic with compression.type=zstd stores a producer's uncompressed
// batch recompressed; the producer-state entry and duplicate detection use
// the same header fields, so a retried batch is a duplicate with the
// original offsets, a sequence gap still fails, and the stored batch reads
// back as zstd after a restart (producer state rebuilt from the log).
func TestRecompressedIdempotentBatches(t *testing.T) {
	dir := t.TempDir()
	conf := map[string]string{"compression.type": "zstd", "compression.zstd.level": "9", "message.timestamp.type": "LogAppendTime"}
	p := openTest(t, dir, conf)
	first, err := appendDurable(t, p, idBatch(t, 9, 1, 0, 50))
	if err != nil || first.BaseOffset != 0 || first.LogAppendTime < 0 {
		t.Fatalf("first: %+v %v", first, err)
	}
	retry, err := appendDurable(t, p, idBatch(t, 9, 1, 0, 50))
	if err != nil || !retry.Duplicate || retry.BaseOffset != 0 {
		t.Fatalf("retried batch: %+v %v, want a duplicate at offset 0", retry, err)
	}
	if _, err := p.Append(idBatch(t, 9, 1, 60, 1), -1); err == nil {
		t.Fatal("a sequence gap was accepted")
	}
	stored, err := p.Read(0, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	h, err := record.ParseHeader(stored)
	if err != nil || h.Size() != len(stored) {
		t.Fatalf("want exactly one stored batch: %v, %d of %d bytes", err, h.Size(), len(stored))
	}
	if h.Codec() != record.CodecZstd || !h.IsLogAppendTime() || h.MaxTimestamp != first.LogAppendTime || h.ProducerID != 9 || h.BaseSequence != 0 {
		t.Fatalf("stored header %+v", h)
	}
	if err := record.CheckCRC(stored); err != nil {
		t.Fatal(err)
	}
	recs, err := record.Records(stored)
	if err != nil || len(recs) != 50 || string(recs[49].Key) != "k" || recs[49].Offset != 49 {
		t.Fatalf("stored records: %d, %v", len(recs), err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openTest(t, dir, conf)
	defer p.Close()
	again, err := appendDurable(t, p, idBatch(t, 9, 1, 0, 50))
	if err != nil || !again.Duplicate {
		t.Fatalf("retry after restart: %+v %v", again, err)
	}
	// compression.type=producer from now on: the next batch is stored as sent.
	p.SetTopicConfig(config.ResolveTopic(nil, nil))
	next, err := appendDurable(t, p, idBatch(t, 9, 1, 50, 2))
	if err != nil || next.BaseOffset != 50 {
		t.Fatalf("next: %+v %v", next, err)
	}
	stored, err = p.Read(50, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := record.ParseHeader(stored); h.Codec() != record.CodecNone {
		t.Fatalf("with compression.type=producer the batch is stored as codec %d", h.Codec())
	}
}
