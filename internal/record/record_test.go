package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

func buildBatch(t testing.TB, codec, n int) []byte {
	t.Helper()
	b := NewBuilder()
	for i := 0; i < n; i++ {
		b.Add(1000+int64(i), []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("value-%d", i)), RecordHeader{Key: "h", Value: []byte{byte(i)}})
	}
	batch, err := b.Build(codec)
	if err != nil {
		t.Fatal(err)
	}
	return batch
}

func TestRoundTripEveryCodec(t *testing.T) {
	for _, codec := range []int{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		t.Run(fmt.Sprint(codec), func(t *testing.T) {
			batch := buildBatch(t, codec, 50)
			h, err := Validate(batch, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if h.Codec() != codec || h.RecordCount != 50 || h.LastOffsetDelta != 49 || h.MaxTimestamp != 1049 {
				t.Fatalf("header %+v", h)
			}
			SetBaseOffset(batch, 100)
			recs, err := Records(batch)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				if r.Offset != 100+int64(i) || r.Timestamp != 1000+int64(i) || string(r.Value) != fmt.Sprintf("value-%d", i) || r.Headers[0].Value[0] != byte(i) {
					t.Fatalf("record %d = %+v", i, r)
				}
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	good := buildBatch(t, CodecNone, 3)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	control := func() []byte {
		b := NewBuilder()
		b.Attributes = AttrControl
		b.Add(1, []byte{0, 0, 0, 0}, nil)
		out, _ := b.Build(CodecNone)
		return out
	}()
	for _, tc := range []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"bad crc", flip(len(good) - 1), 0, ErrCorrupt},
		{"attribute flip breaks crc", flip(22), 0, ErrCorrupt},
		{"truncated", good[:len(good)-1], 0, ErrCorrupt},
		{"short", good[:30], 0, ErrCorrupt},
		{"two batches", append(bytes.Clone(good), good...), 0, ErrInvalidRecord},
		{"too large", good, 20, ErrTooLarge},
		{"magic 1", func() []byte { b := bytes.Clone(good); b[16] = 1; return b }(), 0, ErrUnsupportedMagic},
		{"control batch", control, 0, ErrInvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Validate(tc.in, tc.max); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// baseOffset and leader epoch are outside the CRC.
	b := bytes.Clone(good)
	SetBaseOffset(b, 1<<40)
	SetPartitionLeaderEpoch(b, 7)
	if _, err := Validate(b, 0); err != nil {
		t.Fatalf("patched batch: %v", err)
	}
	SetLogAppendTime(b, 99)
	h, err := Validate(b, 0)
	if err != nil || h.MaxTimestamp != 99 || h.Attributes&AttrLogAppendTime == 0 {
		t.Fatalf("log append time: %+v %v", h, err)
	}
}

func TestIncSequenceWraps(t *testing.T) {
	const max = int32(^uint32(0) >> 1)
	if got := IncSequence(max, 1); got != 0 {
		t.Fatalf("IncSequence(max, 1) = %d", got)
	}
	if got := IncSequence(max-1, 3); got != 1 {
		t.Fatalf("IncSequence(max-1, 3) = %d", got)
	}
	if got := IncSequence(5, 2); got != 7 {
		t.Fatalf("IncSequence(5, 2) = %d", got)
	}
}

// FuzzValidate: arbitrary bytes never panic Validate or Records, and a
// batch that validates decodes into exactly RecordCount records with
// offsets base, base+1, ... whatever its codec. Seeds include the hostile
// cases of TestValidateRecordsStructure; crashers stay in testdata/fuzz.
func FuzzValidate(f *testing.F) {
	for _, codec := range []int{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		f.Add(buildBatch(f, codec, 3))
	}
	f.Add([]byte{})
	r0 := rawRecord(0, 0, []byte("k0"), []byte("v0"))
	r1 := rawRecord(1, 1, nil, []byte("v1"), RecordHeader{Key: "h", Value: []byte("x")})
	good := concat(r0, r1)
	f.Add(rawBatch(spec(2), concat(r0, bytes.Repeat([]byte{0xff}, len(r1)))))
	f.Add(rawBatch(spec(3), good))
	f.Add(rawBatch(spec(1), good))
	f.Add(rawBatch(spec(2), concat(r1, r0)))
	f.Add(rawBatch(spec(2), concat(good, []byte{0})))
	f.Add(rawBatch(func() batchSpec { s := spec(2); s.attrs = 5; return s }(), good))
	f.Add(rawBatch(func() batchSpec { s := spec(2); s.attrs = AttrTransactional; return s }(), good))
	for _, codec := range []int{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		s := spec(3)
		s.attrs = int16(codec)
		f.Add(rawBatch(s, compressed(f, codec, good)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ValidateProduce(context.Background(), b, Rules{MaxBytes: 1 << 20, Compacted: len(b)%2 == 0})
		recs, rerr := Records(b)
		if err != nil {
			return
		}
		if rerr != nil {
			t.Fatalf("valid batch does not decode: %v", rerr)
		}
		if len(recs) != int(h.RecordCount) {
			t.Fatalf("valid batch decoded %d records, header says %d", len(recs), h.RecordCount)
		}
		for i, r := range recs {
			if r.Offset != h.BaseOffset+int64(i) {
				t.Fatalf("record %d has offset %d, base %d", i, r.Offset, h.BaseOffset)
			}
		}
	})
}
