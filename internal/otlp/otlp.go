// Package otlp decodes the OpenTelemetry metrics clients push with
// KIP-714 PushTelemetry: an OTLP MetricsData protobuf
// (opentelemetry/proto/metrics/v1/metrics.proto). Only what the broker
// exports is read: resource attributes, metric names, and the data points
// of gauges and sums (attributes and a double or int value). Histograms,
// exponential histograms and summaries are skipped.
//
// Decoding is a single pass over the bytes with bounded output: at most
// Limits.Points points, Limits.PointsPerMetric per metric and
// Limits.Attributes attributes each, strings cut to Limits.StringBytes.
// Malformed input is ErrMalformed, never a panic. The package is pure (no
// I/O, no state) and safe for concurrent use.
package otlp

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrMalformed is returned by Decode for bytes that are not a MetricsData
// protobuf.
var ErrMalformed = errors.New("otlp: malformed metrics data")

// Kind is a metric's type.
type Kind uint8

const (
	Gauge Kind = iota + 1
	Sum
)

// Attribute is one key/value attribute; non-string values are rendered as
// text (ints and doubles in decimal, bools as true/false; arrays, maps
// and bytes as "").
type Attribute struct {
	Key, Value string
}

// Point is one data point of a gauge or a sum.
type Point struct {
	Name       string
	Kind       Kind
	Monotonic  bool // sums only
	Delta      bool // sums only: AGGREGATION_TEMPORALITY_DELTA
	Attributes []Attribute
	Value      float64
}

// Metrics is a decoded MetricsData.
type Metrics struct {
	// Resource is the attributes of the resources, in order (a client
	// sends one resource).
	Resource []Attribute
	Points   []Point
	// Dropped counts points (and metrics of other kinds) past the limits
	// or skipped: histograms, summaries, points with no recorded value.
	Dropped int
}

// Limits bound what Decode returns.
type Limits struct {
	Points          int // points in all
	PointsPerMetric int
	Attributes      int // attributes per point, and of the resource
	StringBytes     int // longer names, keys and values are cut
}

// DefaultLimits suit one client's push.
var DefaultLimits = Limits{Points: 2000, PointsPerMetric: 100, Attributes: 16, StringBytes: 256}

// Field numbers of opentelemetry-proto (common/v1, resource/v1,
// metrics/v1); fixed by the published schema.
const (
	metricsDataResourceMetrics = 1

	resourceMetricsResource     = 1
	resourceMetricsScopeMetrics = 2

	resourceAttributes = 1

	scopeMetricsMetrics = 2

	metricName  = 1
	metricGauge = 5
	metricSum   = 7

	metricHistogram            = 9
	metricExponentialHistogram = 10
	metricSummary              = 11

	gaugeDataPoints = 1

	sumDataPoints  = 1
	sumTemporality = 2
	sumMonotonic   = 3

	pointAsDouble   = 4
	pointAsInt      = 6
	pointAttributes = 7
	pointFlags      = 8

	keyValueKey   = 1
	keyValueValue = 2

	anyString = 1
	anyBool   = 2
	anyInt    = 3
	anyDouble = 4

	temporalityDelta  = 1
	flagNoRecordValue = 1
)

// Decode parses b, an OTLP MetricsData protobuf.
func Decode(b []byte, lim Limits) (Metrics, error) {
	d := decoder{lim: lim}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num == metricsDataResourceMetrics && typ == protowire.BytesType {
			return d.resourceMetrics(v)
		}
		return nil
	})
	if err != nil {
		return Metrics{}, err
	}
	return d.out, nil
}

type decoder struct {
	lim Limits
	out Metrics
}

func (d *decoder) resourceMetrics(b []byte) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case resourceMetricsResource:
			return fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num != resourceAttributes || typ != protowire.BytesType {
					return nil
				}
				if len(d.out.Resource) >= d.lim.Attributes {
					return nil
				}
				a, ok, err := d.keyValue(v)
				if ok {
					d.out.Resource = append(d.out.Resource, a)
				}
				return err
			})
		case resourceMetricsScopeMetrics:
			return fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num == scopeMetricsMetrics && typ == protowire.BytesType {
					return d.metric(v)
				}
				return nil
			})
		}
		return nil
	})
}

func (d *decoder) metric(b []byte) error {
	// The name may follow the data (any field order is valid protobuf), so
	// find it first.
	var name string
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num == metricName && typ == protowire.BytesType {
			name = d.str(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case metricGauge:
			return d.numbers(name, Gauge, v)
		case metricSum:
			return d.numbers(name, Sum, v)
		case metricHistogram, metricExponentialHistogram, metricSummary:
			d.out.Dropped++
		}
		return nil
	})
}

// numbers reads a Gauge or a Sum message.
func (d *decoder) numbers(name string, kind Kind, b []byte) error {
	var monotonic, delta bool
	err := fields(b, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
		switch {
		case kind == Sum && num == sumTemporality && typ == protowire.VarintType:
			delta = x == temporalityDelta
		case kind == Sum && num == sumMonotonic && typ == protowire.VarintType:
			monotonic = x != 0
		}
		return nil
	})
	if err != nil {
		return err
	}
	n := 0
	return fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != gaugeDataPoints || typ != protowire.BytesType { // sumDataPoints is the same field
			return nil
		}
		if n >= d.lim.PointsPerMetric || len(d.out.Points) >= d.lim.Points {
			d.out.Dropped++
			return nil
		}
		p := Point{Name: name, Kind: kind, Monotonic: monotonic, Delta: delta}
		ok, err := d.point(&p, v)
		if err != nil {
			return err
		}
		if !ok {
			d.out.Dropped++
			return nil
		}
		n++
		d.out.Points = append(d.out.Points, p)
		return nil
	})
}

// point reads a NumberDataPoint; ok is false when it records no value.
func (d *decoder) point(p *Point, b []byte) (ok bool, err error) {
	var noRecorded bool
	err = fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == pointAsDouble && typ == protowire.Fixed64Type:
			p.Value = math.Float64frombits(x)
		case num == pointAsInt && typ == protowire.Fixed64Type:
			p.Value = float64(int64(x))
		case num == pointFlags && typ == protowire.VarintType:
			noRecorded = x&flagNoRecordValue != 0
		case num == pointAttributes && typ == protowire.BytesType:
			if len(p.Attributes) >= d.lim.Attributes {
				return nil
			}
			a, ok, err := d.keyValue(v)
			if ok {
				p.Attributes = append(p.Attributes, a)
			}
			return err
		}
		return nil
	})
	// A point without a value field holds 0: protobuf omits zero values
	// (franz-go and the Java client send no field for a zero).
	return !noRecorded, err
}

// keyValue reads a KeyValue; ok is false without a key.
func (d *decoder) keyValue(b []byte) (a Attribute, ok bool, err error) {
	err = fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == keyValueKey && typ == protowire.BytesType:
			a.Key = d.str(v)
		case num == keyValueValue && typ == protowire.BytesType:
			return fields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				switch {
				case num == anyString && typ == protowire.BytesType:
					a.Value = d.str(v)
				case num == anyBool && typ == protowire.VarintType:
					a.Value = strconv.FormatBool(x != 0)
				case num == anyInt && typ == protowire.VarintType:
					a.Value = strconv.FormatInt(int64(x), 10)
				case num == anyDouble && typ == protowire.Fixed64Type:
					a.Value = strconv.FormatFloat(math.Float64frombits(x), 'g', -1, 64)
				}
				return nil
			})
		}
		return nil
	})
	return a, err == nil && a.Key != "", err
}

// str returns v as valid UTF-8 cut to StringBytes (dropping a rune the
// cut split).
func (d *decoder) str(v []byte) string {
	if len(v) > d.lim.StringBytes {
		v = v[:d.lim.StringBytes]
		for range utf8.UTFMax - 1 {
			if r, size := utf8.DecodeLastRune(v); len(v) == 0 || r != utf8.RuneError || size != 1 {
				break
			}
			v = v[:len(v)-1]
		}
	}
	return strings.ToValidUTF8(string(v), "\uFFFD")
}

// fields calls fn for each field of the message b: v holds a bytes
// field's contents, x a varint or fixed field's value (fixed32 widened).
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var x32 uint32
			x32, n = protowire.ConsumeFixed32(b)
			x = uint64(x32)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default: // groups: deprecated, never in OTLP
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
