package record

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// legacyMsg encodes one magic 0/1 message with offset 0.
func legacyMsg(magic int8, attrs int8, ts int64, key, value []byte) []byte {
	var m []byte
	m = append(m, 0, 0, 0, 0, byte(magic), byte(attrs)) // crc patched below
	if magic == 1 {
		m = binary.BigEndian.AppendUint64(m, uint64(ts))
	}
	for _, b := range [][]byte{key, value} {
		if b == nil {
			m = binary.BigEndian.AppendUint32(m, 0xffffffff)
			continue
		}
		m = binary.BigEndian.AppendUint32(m, uint32(len(b)))
		m = append(m, b...)
	}
	binary.BigEndian.PutUint32(m, crc32.ChecksumIEEE(m[4:]))
	out := binary.BigEndian.AppendUint64(nil, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(len(m)))
	return append(out, m...)
}

func TestFromLegacy(t *testing.T) {
	set := append(legacyMsg(1, 0, 1000, []byte("k1"), []byte("v1")), legacyMsg(1, 0, 1005, nil, []byte("v2"))...)
	batch, err := FromLegacy(set)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Validate(batch, 1<<20); err != nil {
		t.Fatalf("converted batch does not validate: %v", err)
	}
	recs, err := Records(batch)
	if err != nil || len(recs) != 2 {
		t.Fatalf("records %v, %v", recs, err)
	}
	if string(recs[0].Key) != "k1" || recs[1].Key != nil || string(recs[1].Value) != "v2" || recs[1].Timestamp != 1005 {
		t.Fatalf("converted records %+v", recs)
	}

	inner := append(legacyMsg(1, 0, 7, nil, []byte("a")), legacyMsg(1, 0, 8, nil, []byte("b"))...)
	gz, err := Compress(CodecGzip, inner)
	if err != nil {
		t.Fatal(err)
	}
	batch, err = FromLegacy(legacyMsg(1, CodecGzip, 8, nil, gz))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := ParseHeader(batch); h.Codec() != CodecGzip || h.RecordCount != 2 {
		t.Fatalf("wrapper converted to codec %d with %d records", h.Codec(), h.RecordCount)
	}

	badCRC := legacyMsg(0, 0, 0, nil, []byte("x"))
	badCRC[len(badCRC)-1] ^= 1
	nested := legacyMsg(1, CodecGzip, 0, nil, mustCompress(t, legacyMsg(1, CodecGzip, 0, nil, gz)))
	for name, tc := range map[string]struct {
		set  []byte
		want error
	}{
		"crc":               {badCRC, ErrCorrupt},
		"truncated":         {set[:len(set)-3], ErrCorrupt},
		"trailing":          {append(append([]byte(nil), set...), 1, 2), ErrCorrupt},
		"nested":            {nested, ErrCorrupt},
		"magic 2":           {legacyMsg(2, 0, 0, nil, nil), ErrCorrupt},
		"empty":             {nil, ErrInvalidRecord},
		"wrapper not alone": {append(legacyMsg(1, CodecGzip, 8, nil, gz), legacyMsg(1, 0, 1, nil, nil)...), ErrInvalidRecord},
		"huge size":         {append(binary.BigEndian.AppendUint32(make([]byte, 8), 0x7fffffff), 1, 2, 3), ErrCorrupt},
	} {
		if _, err := FromLegacy(tc.set); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func mustCompress(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := Compress(CodecGzip, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func FuzzFromLegacy(f *testing.F) {
	f.Add(legacyMsg(1, 0, 1000, []byte("k1"), []byte("v1")))
	f.Add(legacyMsg(0, 0, 0, nil, []byte("v")))
	f.Fuzz(func(t *testing.T, set []byte) {
		batch, err := FromLegacy(set)
		if err != nil {
			return
		}
		if _, err := Validate(batch, 64<<20); err != nil {
			t.Fatalf("converted batch invalid: %v", err)
		}
	})
}
