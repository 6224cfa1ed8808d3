package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fullFrame encodes req as a client would: size, header v1/v2, body.
func fullFrame(req kmsg.Request, correlationID int32) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, uint16(req.Key()))
	body = binary.BigEndian.AppendUint16(body, uint16(req.GetVersion()))
	body = binary.BigEndian.AppendUint32(body, uint32(correlationID))
	body = binary.BigEndian.AppendUint16(body, 4)
	body = append(body, "test"...)
	if req.IsFlexible() {
		body = append(body, 0)
	}
	body = req.AppendTo(body)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func TestReadFrameLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"negative", []byte{0xff, 0xff, 0xff, 0xff}, ErrNegativeSize},
		{"oversized", binary.BigEndian.AppendUint32(nil, 1<<30), ErrFrameTooLarge},
		{"too small for a header", append(binary.BigEndian.AppendUint32(nil, 3), 1, 2, 3), ErrMalformed},
		{"truncated", append(binary.BigEndian.AppendUint32(nil, 100), make([]byte, 10)...), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readFrame(bytes.NewReader(tc.in), 1<<20)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 12
	topic := "orders"
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: &topic}}
	frame := fullFrame(meta, 7)[4:]
	h, req, err := parseRequest(frame)
	if err != nil {
		t.Fatal(err)
	}
	if h.correlationID != 7 || h.version != 12 || *h.clientID != "test" {
		t.Fatalf("header = %+v", h)
	}
	if got := req.(*kmsg.MetadataRequest); len(got.Topics) != 1 || *got.Topics[0].Topic != "orders" {
		t.Fatalf("body = %+v", got)
	}

	t.Run("unknown key", func(t *testing.T) {
		f := append([]byte(nil), frame...)
		binary.BigEndian.PutUint16(f, 999)
		if _, _, err := parseRequest(f); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unsupported version", func(t *testing.T) {
		f := append([]byte(nil), frame...)
		binary.BigEndian.PutUint16(f[2:], 99)
		if _, _, err := parseRequest(f); !errors.Is(err, ErrBadVersion) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("truncated body", func(t *testing.T) {
		if _, _, err := parseRequest(frame[:len(frame)-3]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v", err)
		}
	})
}

// FuzzParseRequest feeds arbitrary frames to the header and body decoder:
// it must return an error or a request, never panic.
func FuzzParseRequest(f *testing.F) {
	seeds := []kmsg.Request{kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrMetadataRequest(), kmsg.NewPtrProduceRequest(), kmsg.NewPtrFetchRequest(), kmsg.NewPtrCreateTopicsRequest()}
	for _, r := range seeds {
		for _, v := range []int16{0, 3, 4, 9, 12} {
			if v > r.MaxVersion() {
				continue
			}
			r.SetVersion(v)
			f.Add(fullFrame(r, 1)[4:])
		}
	}
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, frame []byte) {
		_, _, _ = parseRequest(frame)
	})
}

// FuzzReadFrame checks the framing against arbitrary byte streams,
// including split deliveries of several frames.
func FuzzReadFrame(f *testing.F) {
	f.Add(fullFrame(kmsg.NewPtrApiVersionsRequest(), 1))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 9, 0, 1})
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bytes.NewReader(stream)
		for i := 0; i < 100; i++ {
			buf, err := readFrame(r, 1<<16)
			if err != nil {
				return
			}
			if len(*buf) > 1<<16 {
				t.Fatalf("frame of %d bytes passed a 64 KiB limit", len(*buf))
			}
			_, _, _ = parseRequest(*buf)
			putBuf(buf)
		}
	})
}
