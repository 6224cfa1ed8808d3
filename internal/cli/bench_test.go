package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	// Every bucket's upper bound maps back to it, and the next value
	// starts the next bucket: buckets tile the value range in order.
	for i := range histBuckets - 1 {
		upper := bucketUpper(i)
		if got := bucketOf(upper); got != i {
			t.Fatalf("bucketOf(bucketUpper(%d)=%d) = %d", i, upper, got)
		}
		if got := bucketOf(upper + 1); got != i+1 {
			t.Fatalf("bucketOf(%d) = %d, want %d", upper+1, got, i+1)
		}
	}
	if got := bucketOf(math.MaxInt64); got != histBuckets-1 {
		t.Errorf("bucketOf(MaxInt64) = %d, want %d", got, histBuckets-1)
	}
	if bucketUpper(histBuckets-1) != math.MaxInt64 {
		t.Errorf("last bucket upper = %d", bucketUpper(histBuckets-1))
	}
	if bucketOf(-5) != 0 {
		t.Error("negative values must count as 0")
	}
}

// exactQuantile is the nearest-rank quantile of sorted values: the simple
// implementation the histogram is checked against.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func TestHistogramMatchesSortedSlice(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	for round := range 20 {
		n := 1 + rng.IntN(5000)
		h := newLatencyHistogram()
		values := make([]time.Duration, n)
		for i := range values {
			// Log-uniform from 100ns to ~100s, like real latencies.
			values[i] = time.Duration(math.Exp(rng.Float64()*math.Log(1e9)) * 100)
			h.record(values[i])
		}
		slices.Sort(values)
		for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
			want := exactQuantile(values, q)
			got := h.quantile(q)
			// At most one bucket width (1/histHalf of the value) high, never low.
			if got < want || float64(got-want) > float64(want)/histHalf+1 {
				t.Fatalf("seed %d round %d n %d: quantile(%v) = %v, exact %v", seed, round, n, q, got, want)
			}
		}
		if h.max() != values[n-1] {
			t.Fatalf("max = %v, want %v", h.max(), values[n-1])
		}
	}
}

func TestHistogramSmallValues(t *testing.T) {
	h := newLatencyHistogram()
	if h.quantile(0.5) != 0 || h.max() != 0 {
		t.Fatal("empty histogram must report 0")
	}
	for v := 1; v <= 1000; v++ {
		h.record(time.Duration(v))
	}
	// Values below histLinear are exact.
	for q, want := range map[float64]time.Duration{0.5: 500, 0.99: 990, 0.999: 999, 1: 1000} {
		if got := h.quantile(q); got != want {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
}

func TestRenderProgress(t *testing.T) {
	tests := []struct {
		done, total int64
		want        string
	}{
		{0, 1000, "produce [------------------------------]   0.0%  0/1000 records  0 rec/s  0s"},
		{500, 1000, "produce [###############---------------]  50.0%  500/1000 records  250 rec/s  2s"},
		{1000, 1000, "produce [##############################] 100.0%  1000/1000 records  250 rec/s  2s"},
		{1500, 1000, "produce [##############################] 100.0%  1500/1000 records  250 rec/s  2s"},
	}
	for _, tt := range tests {
		rate := 250.0
		elapsed := 2500 * time.Millisecond
		if tt.done == 0 {
			rate, elapsed = 0, 0
		}
		if got := renderProgress("produce", tt.done, tt.total, elapsed, rate); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

func TestProgressTick(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	var log bytes.Buffer
	p := newProgress(&log, "consume", 100, false)
	p.startTime, p.lastTime = t0, t0
	p.add(40)
	p.tick(t0.Add(2 * time.Second))
	p.add(60)
	p.tick(t0.Add(4 * time.Second))
	want := "" +
		"consume [############------------------]  40.0%  40/100 records  20 rec/s  2s\n" +
		"consume [##############################] 100.0%  100/100 records  30 rec/s  4s\n"
	if log.String() != want {
		t.Errorf("log mode:\ngot  %q\nwant %q", log.String(), want)
	}

	// On a terminal the line is redrawn in place, and blanks out what a
	// longer previous line left behind.
	var term bytes.Buffer
	p = newProgress(&term, "x", 10, true)
	p.startTime, p.lastTime = t0, t0
	p.add(10)
	p.tick(t0.Add(time.Second))
	first := term.String()
	p.tick(t0.Add(2 * time.Second))
	second := strings.TrimPrefix(term.String(), first)
	if !strings.HasPrefix(first, "\r") || !strings.HasPrefix(second, "\r") || strings.Contains(term.String(), "\n") {
		t.Errorf("terminal mode output %q", term.String())
	}
	if len(second) != len(first) {
		t.Errorf("shorter redraw not padded: %q then %q", first, second)
	}
}

func TestProgressStartFinish(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "produce", 3, true)
	p.start(time.Now())
	p.add(3)
	p.finish(time.Now()) // waits for the drawing goroutine
	out := buf.String()
	if !strings.HasSuffix(out, "\n") || !strings.Contains(out, "3/3 records") {
		t.Errorf("final output %q", out)
	}
	if p.count() != 3 {
		t.Errorf("count = %d", p.count())
	}
}

func TestBenchReport(t *testing.T) {
	h := newLatencyHistogram()
	for v := 1; v <= 100; v++ {
		h.record(time.Duration(v) * time.Millisecond)
	}
	opts := benchOptions{topic: "bench", records: 1000, size: 100, acks: "all", compression: "none"}
	r := newBenchReport("produce", opts, 1000, 2*time.Second, h)
	r.Bytes = 100_000
	r.computeRates()
	if r.RecordsPerSec != 500 || r.MBPerSec != 0.05 {
		t.Errorf("rates %v records/s, %v MB/s", r.RecordsPerSec, r.MBPerSec)
	}

	var text bytes.Buffer
	if err := r.write(&text, false); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`bench produce, topic "bench", 100-byte records, acks=all, compression=none`,
		"records:     1000 of 1000\n",
		"throughput:  500 records/s, 0.05 MB/s",
		"p50 50.0ms",
		"max 100ms",
	} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, text.String())
		}
	}

	var js bytes.Buffer
	if err := r.write(&js, true); err != nil {
		t.Fatal(err)
	}
	var decoded map[string]any
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	latency, _ := decoded["latency_ms"].(map[string]any)
	if decoded["records"] != 1000.0 || decoded["records_per_sec"] != 500.0 || latency["p99"] == nil || latency["max"] != 100.0 {
		t.Errorf("json report %s", js.String())
	}
	if strings.Count(js.String(), "\n") != 1 {
		t.Errorf("json report must be one line: %q", js.String())
	}
}

func TestBenchOptionsValidate(t *testing.T) {
	good := benchOptions{topic: "t", records: 10, size: 1, timeout: time.Second}
	if err := good.validate(true); err != nil {
		t.Fatal(err)
	}
	zero := good
	zero.records = 0
	if zero.validate(true) == nil || zero.validate(false) != nil {
		t.Error("--records 0 must be refused by produce and allowed by consume")
	}
	for _, mutate := range []func(*benchOptions){
		func(o *benchOptions) { o.topic = "" },
		func(o *benchOptions) { o.size = -1 },
		func(o *benchOptions) { o.rate = -1 },
		func(o *benchOptions) { o.rate = math.NaN() },
		func(o *benchOptions) { o.timeout = 0 },
	} {
		o := good
		mutate(&o)
		if o.validate(true) == nil {
			t.Errorf("accepted %+v", o)
		}
	}
}
