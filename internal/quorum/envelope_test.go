package quorum

import (
	"bytes"
	"errors"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func TestProposalRoundTrip(t *testing.T) {
	for _, recs := range [][][]byte{
		{},
		{{}},
		{[]byte("a")},
		{[]byte("one"), {}, []byte("three")},
	} {
		id, got, err := decodeProposal(encodeProposal(42, recs))
		if err != nil || id != 42 || len(got) != len(recs) {
			t.Fatalf("decode(encode(%q)) = %d, %q, %v", recs, id, got, err)
		}
		for i := range recs {
			if !bytes.Equal(got[i], recs[i]) {
				t.Fatalf("record %d: %q, want %q", i, got[i], recs[i])
			}
		}
	}
}

func TestProposalRejectsDamage(t *testing.T) {
	good := encodeProposal(7, [][]byte{[]byte("abc"), []byte("de")})
	for name, data := range map[string][]byte{
		"short":       good[:5],
		"version":     append([]byte{9}, good[1:]...),
		"cut record":  good[:len(good)-1],
		"trailing":    append(bytes.Clone(good), 0),
		"huge count":  append(append(bytes.Clone(good[:9]), 0xff, 0xff, 0xff, 0xff), good[13:]...),
		"huge length": append(bytes.Clone(good[:13]), 0xff, 0xff, 0xff, 0xff),
	} {
		if _, _, err := decodeProposal(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestSnapshotEnvelope(t *testing.T) {
	next, state, err := decodeSnapshot(encodeSnapshot(1234, []byte("state")))
	if err != nil || next != 1234 || string(state) != "state" {
		t.Fatalf("round trip: %d %q %v", next, state, err)
	}
	if _, _, err := decodeSnapshot([]byte{1, 2}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short snapshot: %v", err)
	}
}

func FuzzDecodeProposal(f *testing.F) {
	f.Add(encodeProposal(1, nil))
	f.Add(encodeProposal(2, [][]byte{[]byte("x"), {}}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		id, recs, err := decodeProposal(data)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes.
		if again := encodeProposal(id, recs); !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs: %x vs %x", again, data)
		}
	})
}

// FuzzWALReplay feeds arbitrary bytes to the write-ahead log replay, split
// into frames the way load does: it must never panic, and the entries it
// keeps are consecutive.
func FuzzWALReplay(f *testing.F) {
	var seed []byte
	seed, _ = appendWALRecord(seed, walEntry, entry(1, 1, "a"))
	seed, _ = appendWALRecord(seed, walHardState, hardState(1, 1, 1))
	seed = appendFrame(seed, walBaseRecord(5, 2))
	seed, _ = appendWALRecord(seed, walEntry, entry(6, 2, "b"))
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &walContents{}
		for pos := 0; pos < len(data); {
			payload, size, err := nextFrame(data[pos:], maxWALRecord)
			if err != nil {
				break
			}
			if err := w.apply(payload); err != nil {
				break
			}
			pos += size
		}
		for i, e := range w.entries {
			if e.GetIndex() != w.baseIndex+uint64(i)+1 {
				t.Fatalf("entry %d has index %d after base %d", i, e.GetIndex(), w.baseIndex)
			}
		}
	})
}

// FuzzTransportFrame checks that the transport's frame reader survives
// arbitrary input (split deliveries included, through bytes.Reader).
func FuzzTransportFrame(f *testing.F) {
	m := &pb.Message{Type: pb.MsgHeartbeat.Enum(), To: new(uint64(2)), From: new(uint64(1)), Term: new(uint64(3))}
	b, _ := proto.Marshal(m)
	f.Add(appendFrame(nil, b))
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			payload, err := readFrame(r, 1<<20)
			if err != nil {
				return
			}
			_ = proto.Unmarshal(payload, &pb.Message{})
		}
	})
}
