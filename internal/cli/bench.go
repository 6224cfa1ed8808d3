package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// benchOptions are the parsed flags of `arus bench produce|consume`.
type benchOptions struct {
	topic             string
	records           int64
	size              int
	partitions        int32
	replicationFactor int16
	acks              string
	compression       string
	rate              float64 // records per second; 0: unlimited
	timeout           time.Duration
	json              bool
}

func newBenchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure produce and consume throughput and latency",
		Long: `Load-test a cluster with a single franz-go client and report throughput
(records/s, MB/s with MB = 10^6 bytes) and latency percentiles.

Both subcommands create the topic if it does not exist, show progress on
standard error, and stop after --records records or --timeout, whichever
comes first. The report goes to standard output, as JSON with --json.

Examples:
  arus bench produce --topic bench --records 1000000 --size 100 --partitions 6
  arus bench consume --topic bench --records 1000000
  arus bench produce --rate 10000 --records 200000 --size 1024 --json`,
	}
	addClientFlags(cmd)
	cmd.AddCommand(newBenchProduceCommand(), newBenchConsumeCommand())
	return cmd
}

// addBenchFlags adds the flags both bench subcommands share.
func addBenchFlags(cmd *cobra.Command, opts *benchOptions, recordsHelp string) {
	flags := cmd.Flags()
	flags.StringVarP(&opts.topic, "topic", "t", "arus-bench", "topic to use; created if missing")
	flags.Int64VarP(&opts.records, "records", "n", 1_000_000, recordsHelp)
	flags.Int32VarP(&opts.partitions, "partitions", "p", 6, "partitions of the topic if it has to be created")
	flags.Int16VarP(&opts.replicationFactor, "replication-factor", "r", -1, "replication factor of the topic if it has to be created (-1: broker default)")
	flags.DurationVar(&opts.timeout, "timeout", 10*time.Minute, "stop after this long even if not all records are done")
	flags.BoolVar(&opts.json, "json", false, "print the report as one JSON object")
}

func newBenchProduceCommand() *cobra.Command {
	var opts benchOptions
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Produce records as fast as possible (or at --rate) and report",
		Long: `Produce --records records of --size random bytes without keys, spread over
the topic's partitions, and report throughput and latency.

Latency is measured per record from the client's Produce call to its
acknowledgement, so it includes time spent in the client's buffer. With
--rate the records are sent on a fixed schedule instead of as fast as
possible.

Examples:
  arus bench produce --records 1000000 --size 100
  arus bench produce --topic t1 --acks 1 --compression lz4 --records 500000
  arus bench produce --rate 5000 --timeout 1m --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchProduce(cmd, opts)
		},
	}
	addBenchFlags(cmd, &opts, "records to produce")
	flags := cmd.Flags()
	flags.IntVarP(&opts.size, "size", "s", 100, "value size of each record in bytes")
	flags.StringVar(&opts.acks, "acks", "all", "acknowledgements to wait for: all, 1 or 0")
	flags.StringVarP(&opts.compression, "compression", "z", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	flags.Float64Var(&opts.rate, "rate", 0, "records per second to send (0: as fast as possible)")
	return cmd
}

func newBenchConsumeCommand() *cobra.Command {
	var opts benchOptions
	cmd := &cobra.Command{
		Use:   "consume",
		Short: "Consume records from the start of a topic and report",
		Long: `Consume the topic from the beginning of every partition until --records
records were read, and report throughput and end-to-end latency.

End-to-end latency is the time a record was read minus its timestamp. It
is meaningful when the consumer runs while a producer writes (for example
next to 'arus bench produce'); for records written earlier it mostly shows
their age. With --records 0 the command reads the records that exist when
it starts.

Examples:
  arus bench consume --topic bench --records 1000000
  arus bench consume --topic bench --records 0 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchConsume(cmd, opts)
		},
	}
	addBenchFlags(cmd, &opts, "records to consume (0: those present at start)")
	return cmd
}

func (o benchOptions) validate(produce bool) error {
	switch {
	case o.topic == "":
		return errors.New("--topic must not be empty")
	case produce && o.records <= 0:
		return fmt.Errorf("invalid --records %d: must be 1 or more", o.records)
	case o.records < 0:
		return fmt.Errorf("invalid --records %d: must be 0 or more", o.records)
	case o.size < 0:
		return fmt.Errorf("invalid --size %d: must be 0 or more", o.size)
	case o.rate < 0 || math.IsNaN(o.rate) || math.IsInf(o.rate, 0):
		return fmt.Errorf("invalid --rate %v: must be 0 (unlimited) or more", o.rate)
	case o.timeout <= 0:
		return fmt.Errorf("invalid --timeout %v: must be positive", o.timeout)
	}
	return nil
}

// ensureTopic creates topic if it does not exist and says so on w.
func ensureTopic(ctx context.Context, adm *kadm.Client, w io.Writer, topic string, partitions int32, replicationFactor int16) error {
	_, err := lookupTopic(ctx, adm, topic)
	if !errors.Is(err, errTopicNotFound) {
		return err
	}
	resp, err := adm.CreateTopic(ctx, partitions, replicationFactor, nil, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %q: %w", topic, kafkaError(err, resp.ErrMessage))
	}
	if err == nil {
		fmt.Fprintf(w, "created topic %q with %d partitions\n", topic, partitions)
	}
	return nil
}

func runBenchProduce(cmd *cobra.Command, opts benchOptions) error {
	if err := opts.validate(true); err != nil {
		return err
	}
	clientOpts, err := producerOptions(opts.acks, opts.compression)
	if err != nil {
		return err
	}
	cl, err := newClient(cmd, clientOpts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(commandContext(cmd), opts.timeout)
	defer cancel()
	if err := ensureTopic(ctx, kadm.NewClient(cl), errWriter(cmd), opts.topic, opts.partitions, opts.replicationFactor); err != nil {
		return err
	}

	// One value shared by every record: the client does not modify it.
	// Random bytes, so compression measures its cost and not a best case.
	value := make([]byte, opts.size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range value {
		value[i] = byte(rng.Uint32())
	}

	var (
		latencies = newLatencyHistogram()
		failed    atomic.Int64
		errMu     sync.Mutex
		firstErr  error // guarded by errMu
	)
	bar := newProgress(errWriter(cmd), "produce", opts.records, isTerminal(errWriter(cmd)))
	start := time.Now()
	bar.start(start)

	var interval time.Duration
	if opts.rate > 0 {
		interval = time.Duration(float64(time.Second) / opts.rate)
	}
	var timer *time.Timer
	for i := int64(0); i < opts.records && ctx.Err() == nil; i++ {
		if interval > 0 {
			if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-ctx.Done():
					continue
				case <-timer.C:
				}
			}
		}
		sent := time.Now()
		cl.Produce(ctx, &kgo.Record{Topic: opts.topic, Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				return
			}
			latencies.record(time.Since(sent))
			bar.add(1)
		})
	}
	if err := cl.Flush(ctx); err != nil {
		// Out of time: drop what is still buffered so the report below
		// counts only acknowledged records.
		cl.AbortBufferedRecords(context.Background())
	}
	end := time.Now()
	bar.finish(end)

	timedOut := ctx.Err() != nil
	report := newBenchReport("produce", opts, bar.count(), end.Sub(start), latencies)
	report.Bytes = report.Records * int64(opts.size)
	report.computeRates()
	report.Failed = failed.Load()
	report.TimedOut = timedOut
	if err := report.write(cmd.OutOrStdout(), opts.json); err != nil {
		return err
	}

	errMu.Lock()
	defer errMu.Unlock()
	switch {
	case timedOut:
		return fmt.Errorf("bench stopped early: %d of %d records acknowledged: %w",
			report.Records, opts.records, context.Cause(ctx))
	case firstErr != nil:
		return fmt.Errorf("%d records failed, first error: %w", report.Failed, firstErr)
	}
	return nil
}

func runBenchConsume(cmd *cobra.Command, opts benchOptions) error {
	if err := opts.validate(false); err != nil {
		return err
	}
	adminClient, err := newClient(cmd)
	if err != nil {
		return err
	}
	defer adminClient.Close()
	ctx, cancel := context.WithTimeout(commandContext(cmd), opts.timeout)
	defer cancel()
	adm := kadm.NewClient(adminClient)
	if err := ensureTopic(ctx, adm, errWriter(cmd), opts.topic, opts.partitions, opts.replicationFactor); err != nil {
		return err
	}
	total := opts.records
	if total == 0 {
		if total, err = countRecords(ctx, adm, opts.topic); err != nil {
			return err
		}
		if total == 0 {
			return fmt.Errorf("topic %q is empty: produce to it first, or give --records N to wait for N records", opts.topic)
		}
	}

	cl, err := newClient(cmd, kgo.ConsumeTopics(opts.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()

	latencies := newLatencyHistogram()
	bar := newProgress(errWriter(cmd), "consume", total, isTerminal(errWriter(cmd)))
	start := time.Now()
	bar.start(start)
	var (
		consumed int64
		bytes    int64
		fetchErr error
	)
	for consumed < total && fetchErr == nil {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fetchErr = fetchesError(fetches)
		now := time.Now()
		n := int64(0)
		for iter := fetches.RecordIter(); !iter.Done() && consumed+n < total; {
			r := iter.Next()
			bytes += int64(len(r.Key) + len(r.Value))
			latencies.record(now.Sub(r.Timestamp))
			n++
		}
		consumed += n
		bar.add(n)
	}
	end := time.Now()
	bar.finish(end)

	opts.records = total
	report := newBenchReport("consume", opts, consumed, end.Sub(start), latencies)
	report.Bytes = bytes
	report.computeRates()
	report.TimedOut = ctx.Err() != nil
	if err := report.write(cmd.OutOrStdout(), opts.json); err != nil {
		return err
	}
	switch {
	case fetchErr != nil:
		return fetchErr
	case report.TimedOut:
		return fmt.Errorf("bench stopped early: %d of %d records consumed: %w", consumed, total, context.Cause(ctx))
	}
	return nil
}

// countRecords returns the sum over partitions of end minus start offset.
func countRecords(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("list start offsets of topic %q: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("list end offsets of topic %q: %w", topic, err)
	}
	startOf, err := listedOffsetsOf(starts, topic, -1)
	if err != nil {
		return 0, fmt.Errorf("list start offsets of topic %q: %w", topic, err)
	}
	endOf, err := listedOffsetsOf(ends, topic, -1)
	if err != nil {
		return 0, fmt.Errorf("list end offsets of topic %q: %w", topic, err)
	}
	var total int64
	for p, end := range endOf {
		total += max(0, end-startOf[p])
	}
	return total, nil
}

// benchReport is the result of one bench run. Its JSON form is a
// user-facing format: add fields, never rename or remove them.
type benchReport struct {
	Mode          string         `json:"mode"`
	Topic         string         `json:"topic"`
	TargetRecords int64          `json:"target_records"`
	Records       int64          `json:"records"`
	Failed        int64          `json:"failed"`
	Bytes         int64          `json:"bytes"`
	RecordSize    int            `json:"record_size,omitempty"`
	Acks          string         `json:"acks,omitempty"`
	Compression   string         `json:"compression,omitempty"`
	Seconds       float64        `json:"seconds"`
	RecordsPerSec float64        `json:"records_per_sec"`
	MBPerSec      float64        `json:"mb_per_sec"`
	Latency       latencySummary `json:"latency_ms"`
	TimedOut      bool           `json:"timed_out"`
}

// latencySummary holds percentiles in milliseconds.
type latencySummary struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

func newBenchReport(mode string, opts benchOptions, records int64, elapsed time.Duration, h *latencyHistogram) benchReport {
	r := benchReport{
		Mode:          mode,
		Topic:         opts.topic,
		TargetRecords: opts.records,
		Records:       records,
		Seconds:       elapsed.Seconds(),
		Latency: latencySummary{
			P50:  durationMillis(h.quantile(0.50)),
			P99:  durationMillis(h.quantile(0.99)),
			P999: durationMillis(h.quantile(0.999)),
			Max:  durationMillis(h.max()),
		},
	}
	if mode == "produce" {
		r.RecordSize, r.Acks, r.Compression = opts.size, opts.acks, opts.compression
	}
	return r
}

// computeRates fills the per-second fields from Records, Bytes, Seconds.
func (r *benchReport) computeRates() {
	if r.Seconds <= 0 {
		return
	}
	r.RecordsPerSec = float64(r.Records) / r.Seconds
	r.MBPerSec = float64(r.Bytes) / 1e6 / r.Seconds
}

func durationMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// write prints the report as text, or as one JSON line.
func (r benchReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "bench %s, topic %q", r.Mode, r.Topic)
	if r.Mode == "produce" {
		fmt.Fprintf(&b, ", %d-byte records, acks=%s, compression=%s", r.RecordSize, r.Acks, r.Compression)
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "records:     %d of %d", r.Records, r.TargetRecords)
	if r.Failed > 0 {
		fmt.Fprintf(&b, " (%d failed)", r.Failed)
	}
	if r.TimedOut {
		b.WriteString(" (stopped by --timeout)")
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "duration:    %.2fs\n", r.Seconds)
	fmt.Fprintf(&b, "throughput:  %.0f records/s, %.2f MB/s\n", r.RecordsPerSec, r.MBPerSec)
	fmt.Fprintf(&b, "latency:     p50 %s  p99 %s  p99.9 %s  max %s\n",
		formatMillis(r.Latency.P50), formatMillis(r.Latency.P99),
		formatMillis(r.Latency.P999), formatMillis(r.Latency.Max))
	_, err := io.WriteString(w, b.String())
	return err
}

// formatMillis prints a millisecond value with about three significant
// digits.
func formatMillis(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0fms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.2fms", ms)
}

// Latency histogram: log-linear buckets in nanoseconds, as in HDR
// histograms. Values below histLinear get a bucket each; above, each power
// of two is split into histHalf buckets, so a bucket's width is at most
// 1/histHalf (about 0.2%) of its values. Memory is fixed (~225 KiB) however
// many values are recorded, unlike a sorted slice of all samples.
const (
	histSubBits = 10
	histLinear  = 1 << histSubBits // values [0, histLinear) are exact
	histHalf    = histLinear / 2   // buckets per power of two above histLinear
	histBuckets = histLinear + (63-histSubBits)*histHalf
)

// latencyHistogram records durations from many goroutines (produce
// promises) and answers quantiles.
type latencyHistogram struct {
	mu struct {
		sync.Mutex
		counts []uint64 // len histBuckets; counts[bucketOf(v)]
		total  uint64
		max    time.Duration
	}
}

func newLatencyHistogram() *latencyHistogram {
	h := &latencyHistogram{}
	h.mu.counts = make([]uint64, histBuckets)
	return h
}

// bucketOf returns the bucket index of v nanoseconds; negative values
// (clock skew between producer and consumer) count as 0.
func bucketOf(v int64) int {
	if v < histLinear {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - histSubBits // >= 1
	top := int(v >> shift)                       // in [histHalf, histLinear)
	return histLinear + (shift-1)*histHalf + top - histHalf
}

// bucketUpper returns the largest value that falls in bucket i.
func bucketUpper(i int) int64 {
	if i < histLinear {
		return int64(i)
	}
	j := i - histLinear
	shift := uint(j/histHalf + 1)
	top := uint64(j%histHalf + histHalf)
	upper := (top+1)<<shift - 1
	if upper > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(upper)
}

func (h *latencyHistogram) record(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.counts[bucketOf(int64(d))]++
	h.mu.total++
	h.mu.max = max(h.mu.max, d)
}

// quantile returns the value at quantile q in [0, 1] by nearest rank,
// rounded up to its bucket's upper bound (at most ~0.2% high) and never
// above the largest recorded value. It is 0 when nothing was recorded.
func (h *latencyHistogram) quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.mu.total)))
	rank = min(max(rank, 1), h.mu.total)
	var seen uint64
	for i, c := range h.mu.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketUpper(i)), h.mu.max)
		}
	}
	return h.mu.max
}

func (h *latencyHistogram) max() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.max
}

// progress draws a progress bar for a bench run on a writer (stderr). On a
// terminal it redraws one line about five times a second; otherwise it
// prints a line every few seconds so logs stay readable. Workers call add
// from any goroutine; start and finish are called by the command.
type progress struct {
	out         io.Writer
	label       string
	total       int64
	interactive bool
	interval    time.Duration
	done        atomic.Int64

	stop   chan struct{}
	exited chan struct{}

	// Touched only by the drawing goroutine, or by finish after it exited.
	startTime time.Time
	lastTime  time.Time
	lastDone  int64
	lastWidth int // length of the last interactive line, to blank it out
}

const (
	progressInteractiveInterval = 200 * time.Millisecond
	progressLogInterval         = 5 * time.Second
	progressBarWidth            = 30
)

func newProgress(out io.Writer, label string, total int64, interactive bool) *progress {
	interval := progressLogInterval
	if interactive {
		interval = progressInteractiveInterval
	}
	return &progress{out: out, label: label, total: total, interactive: interactive, interval: interval}
}

// add counts n more records done.
func (p *progress) add(n int64) { p.done.Add(n) }

// count returns the records done so far.
func (p *progress) count() int64 { return p.done.Load() }

// start begins drawing; finish must be called to stop it.
func (p *progress) start(now time.Time) {
	p.startTime, p.lastTime = now, now
	p.stop = make(chan struct{})
	p.exited = make(chan struct{})
	go func() {
		defer close(p.exited)
		ticker := time.NewTicker(p.interval)
		defer ticker.Stop()
		for {
			select {
			case <-p.stop:
				return
			case t := <-ticker.C:
				p.tick(t)
			}
		}
	}()
}

// finish stops the drawing goroutine, waits for it, and draws the final
// state on its own line.
func (p *progress) finish(now time.Time) {
	if p.stop != nil {
		close(p.stop)
		<-p.exited
		p.stop = nil
	}
	p.tick(now)
	if p.interactive {
		fmt.Fprintln(p.out)
	}
}

// tick draws the current state; the rate is over the time since the
// previous tick.
func (p *progress) tick(now time.Time) {
	done := p.done.Load()
	var rate float64
	if dt := now.Sub(p.lastTime).Seconds(); dt > 0 {
		rate = float64(done-p.lastDone) / dt
	}
	p.lastTime, p.lastDone = now, done
	line := renderProgress(p.label, done, p.total, now.Sub(p.startTime), rate)
	if !p.interactive {
		fmt.Fprintln(p.out, line)
		return
	}
	pad := max(p.lastWidth-len(line), 0)
	p.lastWidth = len(line)
	fmt.Fprintf(p.out, "\r%s%s", line, strings.Repeat(" ", pad))
}

// renderProgress returns one progress line, for example
//
//	produce [###############---------------]  50.0%  500/1000 records  1234 rec/s  2s
func renderProgress(label string, done, total int64, elapsed time.Duration, rate float64) string {
	fraction := 1.0
	if total > 0 {
		fraction = min(max(float64(done)/float64(total), 0), 1)
	}
	filled := int(fraction * progressBarWidth)
	bar := strings.Repeat("#", filled) + strings.Repeat("-", progressBarWidth-filled)
	return fmt.Sprintf("%s [%s] %5.1f%%  %d/%d records  %.0f rec/s  %s",
		label, bar, fraction*100, done, total, rate, elapsed.Truncate(time.Second))
}

// isTerminal reports whether w is a terminal, where a redrawn line works.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
