package otlp

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// The builders below write opentelemetry-proto messages field by field,
// independently of the decoder's tables.

func msg(num protowire.Number, parts ...[]byte) []byte {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, body)
}

func str(num protowire.Number, s string) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func varint(num protowire.Number, v uint64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func fixed64(num protowire.Number, v uint64) []byte {
	b := protowire.AppendTag(nil, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

// kv is a KeyValue (field num of its parent) with a string, int, bool or
// float64 value.
func kv(num protowire.Number, key string, value any) []byte {
	var v []byte
	switch x := value.(type) {
	case string:
		v = str(1, x)
	case bool:
		v = varint(2, map[bool]uint64{false: 0, true: 1}[x])
	case int:
		v = varint(3, uint64(int64(x)))
	case float64:
		v = fixed64(4, math.Float64bits(x))
	}
	return msg(num, str(1, key), msg(2, v))
}

func doublePoint(v float64, attrs ...[]byte) []byte {
	parts := append([][]byte{fixed64(3, 1700000000000000000), fixed64(4, math.Float64bits(v))}, attrs...)
	return msg(1, parts...)
}

func intPoint(v int64, attrs ...[]byte) []byte {
	parts := append([][]byte{fixed64(2, 1), fixed64(3, 2), fixed64(6, uint64(v))}, attrs...)
	return msg(1, parts...)
}

// sampleMetricsData is a MetricsData with a resource, two gauges (one
// with per-node points), a cumulative and a delta sum, a histogram and a
// point flagged as having no value.
func sampleMetricsData() []byte {
	resource := msg(1, kv(1, "client_rack", "r1"), kv(1, "group_id", "g"))
	metrics := [][]byte{
		msg(2, str(1, "org.apache.kafka.producer.connection.creation.rate"), msg(5, doublePoint(0.5))),
		// name after the data, per-node points with an int attribute
		msg(2, msg(5, doublePoint(12.5, kv(7, "node_id", 1)), doublePoint(7, kv(7, "node_id", 2))),
			str(1, "org.apache.kafka.producer.node.request.latency.avg")),
		msg(2, str(1, "org.apache.kafka.producer.connection.creation.total"),
			msg(7, intPoint(3), varint(2, 2), varint(3, 1))),
		msg(2, str(1, "app.delta"), msg(7, varint(2, 1), varint(3, 1), intPoint(-4, kv(7, "ok", true), kv(7, "f", 1.5)))),
		msg(2, str(1, "app.histogram"), msg(9, msg(1, fixed64(3, 1)))),
		msg(2, str(1, "app.norecord"), msg(5, msg(1, fixed64(3, 1), varint(8, 1)))),
		msg(2, str(1, "app.zero"), msg(5, msg(1, fixed64(3, 1)))),
	}
	scope := msg(2, append([][]byte{msg(1, str(1, "kgo"), str(2, "v1"))}, metrics...)...)
	return msg(1, resource, scope, str(3, "schema"))
}

func TestDecode(t *testing.T) {
	got, err := Decode(sampleMetricsData(), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	want := Metrics{
		Resource: []Attribute{{"client_rack", "r1"}, {"group_id", "g"}},
		Points: []Point{
			{Name: "org.apache.kafka.producer.connection.creation.rate", Kind: Gauge, Value: 0.5},
			{Name: "org.apache.kafka.producer.node.request.latency.avg", Kind: Gauge, Value: 12.5, Attributes: []Attribute{{"node_id", "1"}}},
			{Name: "org.apache.kafka.producer.node.request.latency.avg", Kind: Gauge, Value: 7, Attributes: []Attribute{{"node_id", "2"}}},
			{Name: "org.apache.kafka.producer.connection.creation.total", Kind: Sum, Monotonic: true, Value: 3},
			{Name: "app.delta", Kind: Sum, Monotonic: true, Delta: true, Value: -4, Attributes: []Attribute{{"ok", "true"}, {"f", "1.5"}}},
			{Name: "app.zero", Kind: Gauge, Value: 0},
		},
		Dropped: 2, // the histogram and the point with no recorded value
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
}

func TestDecodeLimits(t *testing.T) {
	var points [][]byte
	for i := range 10 {
		var attrs [][]byte
		for j := range 5 {
			attrs = append(attrs, kv(7, strings.Repeat("k", 10)+string(rune('a'+j)), "vvvé"+strings.Repeat("v", 20)))
		}
		points = append(points, doublePoint(float64(i), attrs...))
	}
	gauge := msg(5, points...)
	data := msg(1, msg(2, msg(2, str(1, "a"), gauge), msg(2, str(1, "b"), gauge), msg(2, str(1, "c"), gauge)))
	got, err := Decode(data, Limits{Points: 7, PointsPerMetric: 4, Attributes: 2, StringBytes: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Points) != 7 || got.Dropped != 30-7 {
		t.Fatalf("%d points, %d dropped; want 7 and 23", len(got.Points), got.Dropped)
	}
	names := ""
	for _, p := range got.Points {
		names += p.Name
		if len(p.Attributes) != 2 || p.Attributes[0].Key != "kkkk" || p.Attributes[0].Value != "vvv" {
			t.Fatalf("attributes not cut to the limits (a split rune dropped): %+v", p.Attributes)
		}
	}
	if names != "aaaabbb" {
		t.Fatalf("points of metrics %q, want 4 of a and 3 of b", names)
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := sampleMetricsData()
	for _, b := range [][]byte{
		good[:len(good)-3],             // truncated
		{0x0a, 0xff, 0xff, 0xff, 0x7f}, // length past the end
		{0x0b},                         // start group without end
		{0x0a, 3, 0x12, 0x05, 0x00},    // inner length past the end
	} {
		if _, err := Decode(b, DefaultLimits); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%x) = %v, want ErrMalformed", b, err)
		}
	}
	// Invalid UTF-8 in names and values becomes U+FFFD, never an error.
	data := msg(1, msg(2, msg(2, str(1, "bad\xffname"), msg(5, doublePoint(1)))))
	got, err := Decode(data, DefaultLimits)
	if err != nil || len(got.Points) != 1 || got.Points[0].Name != "bad\uFFFDname" {
		t.Fatalf("invalid UTF-8: %+v, %v", got, err)
	}
	if got, err := Decode(nil, DefaultLimits); err != nil || len(got.Points) != 0 {
		t.Fatalf("empty: %+v, %v", got, err)
	}
}
