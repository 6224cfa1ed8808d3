package guard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/api"
)

// served lists every key and version arus serves, from api's table.
func served(t testing.TB) []layoutKey {
	t.Helper()
	var out []layoutKey
	for key := int16(0); key < 100; key++ {
		lo, hi, ok := api.VersionRange(key)
		if !ok {
			continue
		}
		for v := lo; v <= hi; v++ {
			out = append(out, layoutKey{key, v})
		}
	}
	if len(out) < 50 {
		t.Fatalf("only %d key/versions served", len(out))
	}
	return out
}

// lengthAt is the position and encoding of one count or length in a body
// built by builder, so tests can corrupt exactly that field.
type lengthAt struct {
	offset int
	width  int // 2 or 4 for classic lengths, 0 for a uvarint
	tags   bool
}

// builder encodes a random value of a layout, recording where every count
// and length went.
type builder struct {
	rng     *rand.Rand
	buf     []byte
	lengths []lengthAt
}

func (b *builder) structure(n *node) {
	for _, f := range n.fields {
		b.field(f, n.flexible)
	}
	if n.flexible {
		b.lengths = append(b.lengths, lengthAt{offset: len(b.buf), tags: true})
		// Sometimes an unknown tag, which kmsg keeps opaque.
		if b.rng.IntN(4) == 0 {
			b.buf = append(b.buf, 1, 90, 2, 'x', 'y')
		} else {
			b.buf = append(b.buf, 0)
		}
	}
}

func (b *builder) length(n int, flexible, int16Len bool) {
	switch {
	case flexible:
		b.lengths = append(b.lengths, lengthAt{offset: len(b.buf)})
		b.buf = binary.AppendUvarint(b.buf, uint64(n+1))
	case int16Len:
		b.lengths = append(b.lengths, lengthAt{offset: len(b.buf), width: 2})
		b.buf = binary.BigEndian.AppendUint16(b.buf, uint16(int16(n)))
	default:
		b.lengths = append(b.lengths, lengthAt{offset: len(b.buf), width: 4})
		b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(int32(n)))
	}
}

func (b *builder) random(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(b.rng.IntN(256))
	}
	return out
}

func (b *builder) field(f *node, flexible bool) {
	switch f.kind {
	case kindBool:
		b.buf = append(b.buf, byte(b.rng.IntN(2)))
	case kindInt8:
		b.buf = append(b.buf, b.random(1)...)
	case kindInt16, kindUint16:
		b.buf = append(b.buf, b.random(2)...)
	case kindInt32, kindUint32:
		b.buf = append(b.buf, b.random(4)...)
	case kindInt64:
		b.buf = append(b.buf, b.random(8)...)
	case kindFloat64:
		b.buf = binary.BigEndian.AppendUint64(b.buf, uint64(b.rng.IntN(1000)))
	case kindUUID:
		b.buf = append(b.buf, b.random(16)...)
	case kindString, kindNullableString, kindBytes, kindNullableBytes:
		nullable := f.kind == kindNullableString || f.kind == kindNullableBytes
		if nullable && b.rng.IntN(3) == 0 {
			b.length(-1, flexible, f.kind == kindNullableString)
			return
		}
		n := b.rng.IntN(4)
		b.length(n, flexible, f.kind == kindString || f.kind == kindNullableString)
		for i := 0; i < n; i++ {
			b.buf = append(b.buf, byte('a'+b.rng.IntN(26)))
		}
	case kindArray, kindNullableArray:
		if f.kind == kindNullableArray && b.rng.IntN(3) == 0 {
			b.length(-1, flexible, false)
			return
		}
		n := b.rng.IntN(3)
		b.length(n, flexible, false)
		for i := 0; i < n; i++ {
			b.field(f.elem, flexible)
		}
	case kindStruct:
		b.structure(f)
	case kindNullableStruct:
		if b.rng.IntN(3) == 0 {
			b.buf = append(b.buf, 0xff) // null
			return
		}
		b.buf = append(b.buf, 1)
		b.structure(f.fields[0])
	}
}

func build(t testing.TB, k layoutKey, seed uint64) ([]byte, []lengthAt) {
	t.Helper()
	root, err := layoutFor(k.key, k.version)
	if err != nil {
		t.Fatalf("%s v%d: %v", kmsg.NameForKey(k.key), k.version, err)
	}
	b := builder{rng: rand.New(rand.NewPCG(seed, uint64(k.key)<<16|uint64(k.version)))}
	b.structure(root)
	return b.buf, b.lengths
}

// The derived layout is kmsg's: for every key and version served, the
// default request encodes the same way, and random bodies built from the
// layout decode with kmsg and re-encode to the same bytes, so every field,
// its type, order and version range are right.
func TestLayoutMatchesKmsg(t *testing.T) {
	for _, k := range served(t) {
		name := kmsg.NameForKey(k.key)
		for seed := uint64(0); seed < 40; seed++ {
			body, _ := build(t, k, seed)
			if err := Check(k.key, k.version, body); err != nil {
				t.Fatalf("%s v%d seed %d: guard refuses a body built from its own layout: %v", name, k.version, seed, err)
			}
			req := kmsg.RequestForKey(k.key)
			req.SetVersion(k.version)
			if err := req.ReadFrom(body); err != nil {
				t.Fatalf("%s v%d seed %d: kmsg cannot decode a body the layout built: %v\n% x", name, k.version, seed, err, body)
			}
			if again := req.AppendTo(nil); !bytes.Equal(again, body) {
				t.Fatalf("%s v%d seed %d: kmsg re-encodes differently\nlayout: % x\nkmsg:   % x", name, k.version, seed, body, again)
			}
		}
		// kmsg's own encoding of a default request passes the guard.
		req := kmsg.RequestForKey(k.key)
		req.SetVersion(k.version)
		if err := Check(k.key, k.version, req.AppendTo(nil)); err != nil {
			t.Fatalf("%s v%d: default request refused: %v", name, k.version, err)
		}
	}
}

// Tagged fields that hold structs are walked inside: Fetch v15+ carries
// ReplicaState as tag 1, and a huge tag count inside it is refused.
func TestTaggedStructWalked(t *testing.T) {
	root, err := layoutFor(1, 15)
	if err != nil {
		t.Fatal(err)
	}
	rs := root.tagged[1]
	if rs == nil || rs.kind != kindStruct || len(rs.fields) != 2 {
		t.Fatalf("Fetch v15 ReplicaState not found as tagged struct 1: %+v", root.tagged)
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version = 15
	req.ReplicaState.ID = 3
	req.ReplicaState.Epoch = 7
	body := req.AppendTo(nil)
	if err := Check(1, 15, body); err != nil {
		t.Fatalf("valid Fetch v15 with ReplicaState refused: %v", err)
	}
	// ReplicaState's own tag count is the byte before the outer section's
	// end: ... 01 (tag) 0d (size 13) [id 4][epoch 8][tags 00]
	evil := append([]byte(nil), body...)
	evil[len(evil)-1] = 0x7f // inner tag count 127 with no bytes left
	if err := Check(1, 15, evil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("huge tag count inside ReplicaState accepted: %v", err)
	}
}

// hostile returns the mutations of one length field: huge, negative and
// (where not nullable) null.
func hostile(body []byte, l lengthAt) [][]byte {
	var out [][]byte
	patch := func(v []byte) {
		b := append([]byte(nil), body[:l.offset]...)
		b = append(b, v...)
		_, n := uvarint(body[l.offset:])
		width := l.width
		if width == 0 {
			width = n
		}
		b = append(b, body[l.offset+width:]...)
		out = append(out, b)
	}
	switch l.width {
	case 2:
		patch([]byte{0x7f, 0xff})
		patch([]byte{0xff, 0xfe}) // -2
	case 4:
		patch([]byte{0x7f, 0xff, 0xff, 0xff})
		patch([]byte{0x80, 0, 0, 0})
		patch([]byte{0xff, 0xff, 0xff, 0xfe}) // -2
	default:
		patch([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}) // uint32 max
		patch([]byte{0xff, 0xff, 0xff, 0x7f})       // 2^28-1
		patch([]byte{0xff, 0xff, 0xff, 0xff, 0xff}) // too long
	}
	return out
}

// Every count and length of every served request, set to a huge or negative
// value, is refused before decoding; so is every truncation and trailing
// garbage. Each case costs microseconds.
func TestHostileBodies(t *testing.T) {
	var cases, slowest int
	var slowestTime time.Duration
	for _, k := range served(t) {
		name := kmsg.NameForKey(k.key)
		for seed := uint64(0); seed < 4; seed++ {
			body, lengths := build(t, k, seed)
			for _, l := range lengths {
				for _, evil := range hostile(body, l) {
					start := time.Now()
					err := Check(k.key, k.version, evil)
					if d := time.Since(start); d > slowestTime {
						slowestTime, slowest = d, cases
					}
					cases++
					if err == nil {
						// A mutated length can still describe a valid
						// body only if it was a nullable field set to
						// null; kmsg must then decode it.
						req := kmsg.RequestForKey(k.key)
						req.SetVersion(k.version)
						if derr := req.ReadFrom(evil); derr != nil {
							t.Fatalf("%s v%d: mutated length at %d accepted by guard but kmsg fails: %v", name, k.version, l.offset, derr)
						}
						continue
					}
					if !errors.Is(err, ErrMalformed) {
						t.Fatalf("%s v%d: %v is not ErrMalformed", name, k.version, err)
					}
				}
			}
			for cut := 0; cut < len(body); cut++ {
				cases++
				if err := Check(k.key, k.version, body[:cut]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("%s v%d: body cut at %d of %d accepted: %v", name, k.version, cut, len(body), err)
				}
			}
			cases++
			if err := Check(k.key, k.version, append(append([]byte(nil), body...), 0)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s v%d: trailing byte accepted: %v", name, k.version, err)
			}
		}
	}
	t.Logf("%d hostile cases, slowest %v (case %d)", cases, slowestTime, slowest)
}

// The attack that motivated the guard: a flexible request whose top-level
// tag count is 2^32-1 with nothing after it. kmsg loops over every count;
// the guard refuses it at once.
func TestHugeTagCount(t *testing.T) {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	body := req.AppendTo(nil)
	body = append(body[:len(body)-1], 0xff, 0xff, 0xff, 0xff, 0x0f)
	err := Check(3, 12, body)
	var me *MalformedError
	if !errors.As(err, &me) {
		t.Fatalf("huge tag count accepted: %v", err)
	}
	t.Log(err)
}

// Arrays whose elements are large in memory but small on the wire are
// bounded by the allocation budget as well as by the bytes left: a Produce
// v9 topic is 3 bytes on the wire at least (empty name, no partitions, no
// tags) and 64 in memory.
func TestAllocationBudget(t *testing.T) {
	const n = 1 << 20
	body := []byte{0, 0xff, 0xff, 0, 0, 0, 0, 0} // no transactional id, acks, timeout
	body[0] = 0                                  // compact null transactional id
	body = binary.AppendUvarint(body[:7], n+1)
	for i := 0; i < n; i++ {
		body = append(body, 1, 1, 0)
	}
	body = append(body, 0) // tags
	err := Check(0, 9, body)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("a body that decodes to ~%d MiB accepted (%d bytes): %v", n*64>>20, len(body), err)
	}
	t.Log(err)
	// The same shape with a few topics is fine.
	small := append(binary.AppendUvarint(body[:7:7], 4), 1, 1, 0, 1, 1, 0, 1, 1, 0, 0)
	if err := Check(0, 9, small); err != nil {
		t.Fatalf("small Produce refused: %v", err)
	}
}

func BenchmarkCheckProduce(b *testing.B) {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 11
	req.Acks = -1
	for i := 0; i < 3; i++ {
		topic := kmsg.NewProduceRequestTopic()
		topic.Topic = "orders"
		for p := int32(0); p < 6; p++ {
			part := kmsg.NewProduceRequestTopicPartition()
			part.Partition = p
			part.Records = make([]byte, 16<<10)
			topic.Partitions = append(topic.Partitions, part)
		}
		req.Topics = append(req.Topics, topic)
	}
	body := req.AppendTo(nil)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Check(0, 11, body); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCheck: the guard never panics, and a body it accepts decodes with
// kmsg. Seeds are valid bodies of every served key and version and their
// hostile mutations.
func FuzzCheck(f *testing.F) {
	keys := served(f)
	for i, k := range keys {
		body, lengths := build(f, k, uint64(i))
		f.Add(uint16(i), body)
		for _, l := range lengths[:min(len(lengths), 3)] {
			for _, evil := range hostile(body, l) {
				f.Add(uint16(i), evil)
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint16, body []byte) {
		k := keys[int(which)%len(keys)]
		if err := Check(k.key, k.version, body); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%v is not ErrMalformed", err)
			}
			return
		}
		req := kmsg.RequestForKey(k.key)
		req.SetVersion(k.version)
		if err := req.ReadFrom(body); err != nil {
			t.Fatalf("%s v%d: guard accepted a body kmsg cannot decode: %v\n% x", kmsg.NameForKey(k.key), k.version, err, body)
		}
	})
}
