package api

// Decoded client telemetry: each accepted push is decompressed and parsed
// (internal/otlp) into series, the latest value per instance, metric name
// and data point attributes, which the broker's /metrics endpoint exports.
// Gauges are replaced by each push (a gauge missing from a push has no
// value now: clients omit zero gauges); sums are kept across pushes (a
// client omits an unchanged sum), a cumulative sum by its latest value, a
// delta sum added up. At most telemetryMaxSeries series are kept across
// all instances; new series beyond it are dropped and counted.

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/arus-io/arus/internal/otlp"
	"github.com/arus-io/arus/internal/record"
)

const (
	// telemetryMaxSeries bounds the series kept (and exported) across all
	// client instances.
	telemetryMaxSeries = 10_000
	// telemetryMaxDecompressed bounds a push's metrics once decompressed.
	telemetryMaxDecompressed = 16 << 20
	// telemetryMaxAttributesBytes cuts a series' rendered attributes.
	telemetryMaxAttributesBytes = 512
)

// telemetryLimits bound one push's decoded points.
var telemetryLimits = otlp.Limits{Points: 1000, PointsPerMetric: 100, Attributes: 16, StringBytes: 256}

// errTelemetryDecode: a push's metrics are not compressed OTLP MetricsData.
var errTelemetryDecode = errors.New("api: client telemetry is not OTLP metrics data")

// TelemetrySeries is one exported client metric.
type TelemetrySeries struct {
	InstanceID string // Kafka's text form of the client instance id
	ClientID   string
	Name       string // the OTLP metric name
	// Attributes are the data point's attributes as key=value, sorted by
	// key and joined by commas; "" when it has none.
	Attributes string
	Value      float64
}

// TelemetryStats is what the metrics endpoint reports of client telemetry.
type TelemetryStats struct {
	Instances     int    // client instances known (subscribed, not expired)
	Pushes        uint64 // PushTelemetry requests answered without error
	SeriesDropped uint64 // new series refused for telemetryMaxSeries
	Series        []TelemetrySeries
}

type seriesKey struct{ name, attributes string }

type seriesValue struct {
	value float64
	gauge bool
}

// decode decompresses and parses a push's metrics.
func decodeTelemetry(ctx context.Context, compression int8, payload []byte) (otlp.Metrics, error) {
	raw, err := record.DecompressLimit(ctx, int(compression), payload, telemetryMaxDecompressed)
	if err != nil {
		return otlp.Metrics{}, errors.Join(errTelemetryDecode, err)
	}
	m, err := otlp.Decode(raw, telemetryLimits)
	if err != nil {
		return otlp.Metrics{}, errors.Join(errTelemetryDecode, err)
	}
	return m, nil
}

// ingest decodes an accepted push of instance id and merges its points
// into the instance's series. It runs outside the lock: decompression may
// wait for the decompression budget.
func (t *Telemetry) ingest(ctx context.Context, id [16]byte, compression int8, payload []byte, clientID string) error {
	m, err := decodeTelemetry(ctx, compression, payload)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	in, ok := t.mu.instances[id]
	if !ok {
		return nil // evicted meanwhile
	}
	in.clientID = cut(strings.ToValidUTF8(clientID, "\uFFFD"), telemetryLimits.StringBytes)
	if in.series == nil {
		in.series = map[seriesKey]seriesValue{}
	}
	for k, v := range in.series {
		if v.gauge {
			delete(in.series, k)
			t.mu.series--
		}
	}
	for _, p := range m.Points {
		k := seriesKey{p.Name, renderAttributes(p.Attributes)}
		old, exists := in.series[k]
		if !exists {
			if t.mu.series >= telemetryMaxSeries {
				t.mu.seriesDropped++
				continue
			}
			t.mu.series++
		}
		v := seriesValue{value: p.Value, gauge: p.Kind == otlp.Gauge}
		if p.Kind == otlp.Sum && p.Delta && exists && !old.gauge {
			v.value += old.value
		}
		in.series[k] = v
	}
	return nil
}

// pushed counts a push answered without error.
func (t *Telemetry) pushed() {
	t.mu.Lock()
	t.mu.pushes++
	t.mu.Unlock()
}

// Stats returns the client telemetry to export, dropping instances not
// heard from for three push intervals first.
func (t *Telemetry) Stats() TelemetryStats {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, in := range t.mu.instances {
		if now.Sub(in.lastSeen) > 3*in.interval {
			t.dropLocked(id, in)
		}
	}
	s := TelemetryStats{Instances: len(t.mu.instances), Pushes: t.mu.pushes, SeriesDropped: t.mu.seriesDropped,
		Series: make([]TelemetrySeries, 0, t.mu.series)}
	for id, in := range t.mu.instances {
		if len(in.series) == 0 {
			continue
		}
		idText := base64.RawURLEncoding.EncodeToString(id[:])
		for k, v := range in.series {
			s.Series = append(s.Series, TelemetrySeries{InstanceID: idText, ClientID: in.clientID, Name: k.name, Attributes: k.attributes, Value: v.value})
		}
	}
	return s
}

// renderAttributes renders a point's attributes as the attributes label:
// key=value sorted by key, comma-joined, cut to telemetryMaxAttributesBytes.
func renderAttributes(attrs []otlp.Attribute) string {
	if len(attrs) == 0 {
		return ""
	}
	attrs = slices.Clone(attrs)
	slices.SortStableFunc(attrs, func(a, b otlp.Attribute) int { return strings.Compare(a.Key, b.Key) })
	var sb strings.Builder
	for i, a := range attrs {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(a.Key)
		sb.WriteByte('=')
		sb.WriteString(a.Value)
	}
	return cut(sb.String(), telemetryMaxAttributesBytes)
}

// cut shortens valid UTF-8 s to at most n bytes at a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
