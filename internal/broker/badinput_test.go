package broker_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/record"
)

// rawRequest encodes one request frame the way a client does.
func rawRequest(req kmsg.Request, correlationID int32) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, uint16(req.Key()))
	body = binary.BigEndian.AppendUint16(body, uint16(req.GetVersion()))
	body = binary.BigEndian.AppendUint32(body, uint32(correlationID))
	body = binary.BigEndian.AppendUint16(body, 3)
	body = append(body, "raw"...)
	if req.IsFlexible() {
		body = append(body, 0)
	}
	body = req.AppendTo(body)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// readResponse reads one response frame and returns the bytes after the
// correlation id.
func readResponse(t *testing.T, c net.Conn, wantCorrelation int32) []byte {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("read response size: %v", err)
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read response: %v", err)
	}
	if got := int32(binary.BigEndian.Uint32(buf)); got != wantCorrelation {
		t.Fatalf("correlation id %d, want %d", got, wantCorrelation)
	}
	return buf[4:]
}

// expectClosed asserts the broker closes the connection.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	var b [1]byte
	_, err := c.Read(b[:])
	if err == nil {
		t.Fatal("connection still open, want it closed by the broker")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("broker did not close the connection")
	}
}

// healthy checks that a fresh client still works against the broker.
func healthy(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
	if _, err := c.Write(rawRequest(req, 42)); err != nil {
		t.Fatal(err)
	}
	body := readResponse(t, c, 42)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 3
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decode ApiVersions: %v", err)
	}
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions error %d with %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
}

func TestBadFramesCloseOnlyTheirConnection(t *testing.T) {
	b := arustest.StartBroker(t)
	bystander := dial(t, b.Addr())

	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 9
	good := rawRequest(meta, 1)

	unknownKey := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(unknownKey[4:], 999)
	badVersion := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(unknownKey[6:], 9)
	binary.BigEndian.PutUint16(badVersion[6:], 77)
	garbageBody := append([]byte(nil), good[:4+8+2+3]...)
	garbageBody = append(garbageBody, 0xff, 0xff, 0xff, 0x7f, 1, 2)
	binary.BigEndian.PutUint32(garbageBody, uint32(len(garbageBody)-4))

	for _, tc := range []struct {
		name  string
		bytes []byte
		half  bool // close the write side after sending (truncated frame)
	}{
		{"negative size", []byte{0x80, 0, 0, 0}, false},
		{"oversized size", binary.BigEndian.AppendUint32(nil, 200<<20), false},
		{"truncated frame", good[:len(good)-5], true},
		{"unknown api key", unknownKey, false},
		{"unsupported version", badVersion, false},
		{"malformed body", garbageBody, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, b.Addr())
			if _, err := c.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			if tc.half {
				_ = c.(*net.TCPConn).CloseWrite()
			}
			expectClosed(t, c)
			healthy(t, b.Addr())
		})
	}

	// The connection opened before all of that still works.
	if _, err := bystander.Write(good); err != nil {
		t.Fatal(err)
	}
	readResponse(t, bystander, 1)
}

func TestApiVersionsUnsupportedVersionAnswersV0(t *testing.T) {
	b := arustest.StartBroker(t)
	c := dial(t, b.Addr())
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	frame := rawRequest(req, 5)
	binary.BigEndian.PutUint16(frame[6:], 99) // a future version
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(readResponse(t, c, 5)); err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error code %d, want UNSUPPORTED_VERSION", resp.ErrorCode)
	}
	var produce *kmsg.ApiVersionsResponseApiKey
	for i := range resp.ApiKeys {
		if resp.ApiKeys[i].ApiKey == 0 {
			produce = &resp.ApiKeys[i]
		}
	}
	if produce == nil || produce.MinVersion != 0 || produce.MaxVersion < 9 {
		t.Fatalf("Produce range %+v, want from v0 (librdkafka compression) up to at least v9", produce)
	}
	// The connection stays usable.
	healthy(t, b.Addr())
}

func TestCorruptBatchAppendsNothing(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	created, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": ptr("2000")}, "crc")
	if err != nil {
		t.Fatal(err)
	}
	build := func(value []byte) []byte {
		bb := record.NewBuilder()
		bb.Add(time.Now().UnixMilli(), []byte("k"), value)
		batch, err := bb.Build(record.CodecNone)
		if err != nil {
			t.Fatal(err)
		}
		return batch
	}
	produce := func(batch []byte) int16 {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 5000
		req.Topics = []kmsg.ProduceRequestTopic{{Topic: "crc", TopicID: created.ID, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}}}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}

	corrupt := build([]byte("hello"))
	corrupt[len(corrupt)-1] ^= 0xff
	if code := produce(corrupt); code != kerr.CorruptMessage.Code {
		t.Fatalf("corrupt batch: error %d, want CORRUPT_MESSAGE", code)
	}
	if code := produce(build(make([]byte, 5000))); code != kerr.MessageTooLarge.Code {
		t.Fatalf("large batch: error %d, want MESSAGE_TOO_LARGE", code)
	}
	truncated := build([]byte("hello"))
	if code := produce(truncated[:len(truncated)-2]); code != kerr.CorruptMessage.Code {
		t.Fatalf("truncated batch: error %d, want CORRUPT_MESSAGE", code)
	}
	if code := produce(append(build([]byte("a")), build([]byte("b"))...)); code != kerr.InvalidRecord.Code {
		t.Fatalf("two batches: error %d, want INVALID_RECORD", code)
	}
	offsets, err := kadm.NewClient(cl).ListEndOffsets(ctx, "crc")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offsets.Lookup("crc", 0); o.Offset != 0 {
		t.Fatalf("end offset %d after rejected batches, want 0", o.Offset)
	}
	if code := produce(build([]byte("fine"))); code != 0 {
		t.Fatalf("valid batch after rejects: error %d", code)
	}
}

func ptr[T any](v T) *T { return &v }

// Requests whose counts claim more than the frame holds are refused before
// kmsg decodes them (issue 7): a flexible request with a tag count of
// 2^32-1 used to keep a core busy for tens of seconds; each of these closes
// its connection at once and the broker keeps serving everyone else.
func TestHostileCountsCloseTheirConnection(t *testing.T) {
	b := arustest.StartBroker(t)
	bystander := dial(t, b.Addr())

	frame := func(req kmsg.Request, patch func(body []byte) []byte) []byte {
		f := rawRequest(req, 7)
		f = patch(f)
		binary.BigEndian.PutUint32(f, uint32(len(f)-4))
		return f
	}
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 12
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 15
	fetch.ReplicaState.ID, fetch.ReplicaState.Epoch = 1, 1
	produce := kmsg.NewPtrProduceRequest()
	produce.Version = 9

	for _, tc := range []struct {
		name  string
		bytes []byte
	}{
		{"huge top-level tag count", frame(meta, func(f []byte) []byte {
			return append(f[:len(f)-1], 0xff, 0xff, 0xff, 0xff, 0x0f)
		})},
		{"huge tag count inside a tagged struct", frame(fetch, func(f []byte) []byte {
			f[len(f)-1] = 0x7f
			return f
		})},
		{"array count beyond the frame", frame(produce, func(f []byte) []byte {
			// transactional id, acks, timeout, then the topics count.
			return append(f[:len(f)-2], 0xff, 0xff, 0xff, 0x7f, 0)
		})},
		{"trailing bytes", frame(meta, func(f []byte) []byte { return append(f, 0) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, b.Addr())
			if _, err := c.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, c)
			healthy(t, b.Addr())
		})
	}
	meta.Version = 9
	if _, err := bystander.Write(rawRequest(meta, 1)); err != nil {
		t.Fatal(err)
	}
	readResponse(t, bystander, 1)
}
