package cli

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeOptions are the parsed flags of `arus consume`.
type consumeOptions struct {
	from        string
	partition   int32 // -1: all partitions
	maxMessages int64 // 0: no limit
	exitAtEnd   bool
	format      string
	group       string
}

func newConsumeCommand() *cobra.Command {
	var opts consumeOptions
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print the records of a topic",
		Long: `Read records from TOPIC and print one line per record on standard output.

--from picks where to start in every partition: "beginning" (the default),
"end" (only records produced from now on), an offset, or an RFC3339 time
(the first record whose timestamp is at or after it).

By default the command keeps waiting for new records until interrupted.
--exit-at-end (-e) stops once every partition has been read up to the end
offset it had when the command started; --max-messages stops after N records.

--format text prints partition, offset, timestamp, key and headers, with the
value last. Keys and values that are not printable UTF-8 are quoted Go-style.
--format json prints one JSON object per line with topic, partition, offset,
timestamp (RFC3339 with nanoseconds), key, value and headers; key or value
bytes that are not valid UTF-8 are base64 encoded and marked with
key_encoding/value_encoding "base64".

With --group the records are read as a member of consumer group G: its
committed offsets win over --from, and the offsets of printed records are
committed. With --group, --exit-at-end assumes this consumer is assigned
every partition.

Examples:
  arus consume orders --exit-at-end
  arus consume orders --from end
  arus consume orders --from 2026-11-21T10:00:00Z --format json | jq .value
  arus consume orders --partition 2 --from 1500 --max-messages 10
  arus consume orders --group audit`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConsume(cmd, args[0], opts)
		},
	}
	addClientFlags(cmd)
	flags := cmd.Flags()
	flags.StringVarP(&opts.from, "from", "f", "beginning", "where to start: beginning, end, an offset, or an RFC3339 time")
	flags.Int32VarP(&opts.partition, "partition", "p", -1, "read only this partition (-1: all)")
	flags.Int64VarP(&opts.maxMessages, "max-messages", "n", 0, "stop after this many records (0: no limit)")
	flags.BoolVarP(&opts.exitAtEnd, "exit-at-end", "e", false, "stop at the end offsets that existed when the command started")
	flags.StringVarP(&opts.format, "format", "o", "text", "output format: text or json")
	flags.StringVarP(&opts.group, "group", "g", "", "consume as a member of this consumer group and commit offsets")
	return cmd
}

// fromKind says which kind of --from value was given.
type fromKind int

const (
	fromBeginning fromKind = iota
	fromEnd
	fromOffset
	fromTime
)

// fromSpec is a parsed --from value.
type fromSpec struct {
	kind   fromKind
	offset int64 // fromOffset: the exact offset
	millis int64 // fromTime: Unix milliseconds
}

// parseFrom parses --from: beginning, end, a non-negative offset, or an
// RFC3339 time.
func parseFrom(s string) (fromSpec, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "beginning", "earliest", "start", "":
		return fromSpec{kind: fromBeginning}, nil
	case "end", "latest":
		return fromSpec{kind: fromEnd}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return fromSpec{}, fmt.Errorf("invalid --from %q: an offset must be 0 or more", s)
		}
		return fromSpec{kind: fromOffset, offset: n}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return fromSpec{kind: fromTime, millis: t.UnixMilli()}, nil
	}
	return fromSpec{}, fmt.Errorf("invalid --from %q: want beginning, end, an offset, or an RFC3339 time such as 2026-11-21T10:00:00Z", s)
}

// kgoOffset returns the franz-go offset to start at.
func (f fromSpec) kgoOffset() kgo.Offset {
	switch f.kind {
	case fromEnd:
		return kgo.NewOffset().AtEnd()
	case fromOffset:
		return kgo.NewOffset().At(f.offset)
	case fromTime:
		return kgo.NewOffset().AfterMilli(f.millis)
	}
	return kgo.NewOffset().AtStart()
}

// recordFormatter writes one record to w.
type recordFormatter func(w io.Writer, r *kgo.Record) error

func parseFormat(s string) (recordFormatter, error) {
	switch strings.ToLower(s) {
	case "text":
		return writeTextRecord, nil
	case "json":
		return writeJSONRecord, nil
	}
	return nil, fmt.Errorf("invalid --format %q: want text or json", s)
}

func runConsume(cmd *cobra.Command, topic string, opts consumeOptions) error {
	from, err := parseFrom(opts.from)
	if err != nil {
		return err
	}
	format, err := parseFormat(opts.format)
	if err != nil {
		return err
	}
	if opts.partition < -1 {
		return fmt.Errorf("invalid --partition %d: must be 0 or more", opts.partition)
	}
	if opts.maxMessages < 0 {
		return fmt.Errorf("invalid --max-messages %d: must be 0 or more", opts.maxMessages)
	}
	if opts.group != "" && opts.partition >= 0 {
		return errors.New("--group and --partition cannot be used together: a group assigns partitions itself")
	}

	// Connect without consuming first, to check the topic and list offsets
	// before fetching starts.
	admClient, err := newClient(cmd)
	if err != nil {
		return err
	}
	defer admClient.Close()
	ctx := commandContext(cmd)
	adm := kadm.NewClient(admClient)
	detail, err := lookupTopic(ctx, adm, topic)
	if err != nil {
		return err
	}
	if n := int32(len(detail.Partitions)); opts.partition >= n {
		return fmt.Errorf("invalid --partition %d: topic %q has %d partitions (0-%d)", opts.partition, topic, n, n-1)
	}

	var tracker *endTracker
	if opts.exitAtEnd {
		tracker, err = newEndTracker(ctx, adm, topic, opts.partition, from, opts.group)
		if err != nil {
			return err
		}
	}

	// Control records (transaction markers) are kept so that the end
	// tracker sees every offset up to the end; they are not printed.
	clientOpts := []kgo.Opt{kgo.KeepControlRecords()}
	switch {
	case opts.group != "":
		clientOpts = append(clientOpts,
			kgo.ConsumerGroup(opts.group),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(from.kgoOffset()),
			kgo.DisableAutoCommit())
	case opts.partition >= 0:
		clientOpts = append(clientOpts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			topic: {opts.partition: from.kgoOffset()},
		}))
	default:
		clientOpts = append(clientOpts,
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(from.kgoOffset()))
	}
	cl, err := newClient(cmd, clientOpts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	out := bufio.NewWriter(cmd.OutOrStdout())
	printed, err := consumeLoop(ctx, cl, out, format, tracker, opts)
	if flushErr := out.Flush(); err == nil && flushErr != nil {
		err = fmt.Errorf("write output: %w", flushErr)
	}
	fmt.Fprintf(errWriter(cmd), "consumed %d records from topic %q\n", printed, topic)
	return err
}

// consumeLoop prints records until a stop condition holds or ctx ends, and
// returns how many it printed. Ending ctx (Ctrl+C) is a normal stop.
func consumeLoop(ctx context.Context, cl *kgo.Client, out *bufio.Writer, format recordFormatter,
	tracker *endTracker, opts consumeOptions,
) (int64, error) {
	var printed int64
	limitReached := func() bool { return opts.maxMessages > 0 && printed >= opts.maxMessages }
	for {
		if (tracker != nil && tracker.done()) || limitReached() {
			return printed, nil
		}
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return printed, nil
		}
		if err := fetchesError(fetches); err != nil {
			return printed, err
		}
		var processed []*kgo.Record
		for iter := fetches.RecordIter(); !iter.Done() && !limitReached(); {
			r := iter.Next()
			processed = append(processed, r)
			if tracker != nil {
				tracker.observe(r.Partition, r.Offset)
			}
			if r.Attrs.IsControl() {
				continue
			}
			if err := format(out, r); err != nil {
				return printed, fmt.Errorf("write output: %w", err)
			}
			printed++
		}
		if err := out.Flush(); err != nil {
			return printed, fmt.Errorf("write output: %w", err)
		}
		if opts.group != "" && len(processed) > 0 {
			// Commit even when ctx was just cancelled, so that what was
			// printed is not printed again by the next run.
			commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), connectTimeout)
			err := cl.CommitRecords(commitCtx, processed...)
			cancel()
			if err != nil {
				return printed, fmt.Errorf("commit offsets for group %q: %w", opts.group, err)
			}
		}
	}
}

// fetchesError returns the first error in fetches that is not the end of
// the caller's context.
func fetchesError(fetches kgo.Fetches) error {
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
			continue
		}
		if fe.Topic == "" {
			return fmt.Errorf("consume: %w", fe.Err)
		}
		return fmt.Errorf("consume topic %q partition %d: %w", fe.Topic, fe.Partition, fe.Err)
	}
	return nil
}

// endTracker decides when --exit-at-end is satisfied: every tracked
// partition has been read up to the end offset it had at start. Only the
// consume loop goroutine uses it.
type endTracker struct {
	ends      map[int32]int64 // partition -> end offset at start (exclusive)
	remaining map[int32]bool  // partitions not yet read to their end
}

// newEndTrackerAt returns a tracker for partitions with the given start
// positions and end offsets. Partitions already at or past their end are
// done from the beginning.
func newEndTrackerAt(starts, ends map[int32]int64) *endTracker {
	t := &endTracker{ends: ends, remaining: make(map[int32]bool)}
	for p, end := range ends {
		if start, ok := starts[p]; !ok || start < end {
			t.remaining[p] = true
		}
	}
	return t
}

// observe records that the record at offset of partition was read.
func (t *endTracker) observe(partition int32, offset int64) {
	if end, ok := t.ends[partition]; ok && offset+1 >= end {
		delete(t.remaining, partition)
	}
}

func (t *endTracker) done() bool { return len(t.remaining) == 0 }

// newEndTracker lists the end offsets of topic (or of one partition) and the
// offsets consuming will start from, and returns a tracker for them.
func newEndTracker(ctx context.Context, adm *kadm.Client, topic string, partition int32, from fromSpec, group string) (*endTracker, error) {
	endOffsets, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of topic %q: %w", topic, err)
	}
	ends, err := listedOffsetsOf(endOffsets, topic, partition)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of topic %q: %w", topic, err)
	}

	var starts map[int32]int64
	switch from.kind {
	case fromEnd:
		starts = maps.Clone(ends)
	case fromBeginning, fromOffset:
		listed, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("list start offsets of topic %q: %w", topic, err)
		}
		if starts, err = listedOffsetsOf(listed, topic, partition); err != nil {
			return nil, fmt.Errorf("list start offsets of topic %q: %w", topic, err)
		}
		if from.kind == fromOffset {
			// The client clamps an exact offset into [log start, end].
			for p, start := range starts {
				starts[p] = min(max(start, from.offset), ends[p])
			}
		}
	case fromTime:
		listed, err := adm.ListOffsetsAfterMilli(ctx, from.millis, topic)
		if err != nil {
			return nil, fmt.Errorf("list offsets of topic %q after %s: %w", topic, time.UnixMilli(from.millis).UTC().Format(time.RFC3339), err)
		}
		if starts, err = listedOffsetsOf(listed, topic, partition); err != nil {
			return nil, fmt.Errorf("list offsets of topic %q by time: %w", topic, err)
		}
	}

	if group != "" {
		// Committed offsets take precedence over --from. A broker without
		// group support fails here; the consumer will report that too, so
		// keep the --from positions.
		if committed, err := adm.FetchOffsetsForTopics(ctx, group, topic); err == nil {
			for p := range ends {
				if o, ok := committed.Lookup(topic, p); ok && o.Err == nil && o.At >= 0 {
					starts[p] = o.At
				}
			}
		}
	}
	return newEndTrackerAt(starts, ends), nil
}

// listedOffsetsOf extracts the offsets of topic's partitions (or only of
// partition, if it is not -1) from a ListOffsets result.
func listedOffsetsOf(listed kadm.ListedOffsets, topic string, partition int32) (map[int32]int64, error) {
	offsets := make(map[int32]int64)
	for p, o := range listed[topic] {
		if partition >= 0 && p != partition {
			continue
		}
		if o.Err != nil {
			return nil, fmt.Errorf("partition %d: %w", p, o.Err)
		}
		offsets[p] = o.Offset
	}
	return offsets, nil
}

// textTimeLayout is RFC3339 with milliseconds, the precision of Kafka
// timestamps.
const textTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// writeTextRecord writes r as one human-readable line:
//
//	partition=0 offset=12 timestamp=2026-11-21T10:00:00.123Z key=user1 headers=k=v,k2=v2 value=hello
//
// A null key prints as key=<null>; headers appear only when present.
func writeTextRecord(w io.Writer, r *kgo.Record) error {
	var b strings.Builder
	b.WriteString("partition=")
	b.WriteString(strconv.Itoa(int(r.Partition)))
	b.WriteString(" offset=")
	b.WriteString(strconv.FormatInt(r.Offset, 10))
	b.WriteString(" timestamp=")
	b.WriteString(r.Timestamp.UTC().Format(textTimeLayout))
	b.WriteString(" key=")
	if r.Key == nil {
		b.WriteString("<null>")
	} else {
		b.WriteString(textField(r.Key, true))
	}
	if len(r.Headers) > 0 {
		b.WriteString(" headers=")
		for i, h := range r.Headers {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(textField([]byte(h.Key), true))
			b.WriteByte('=')
			b.WriteString(textField(h.Value, true))
		}
	}
	b.WriteString(" value=")
	b.WriteString(textField(r.Value, false))
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// textField returns b as is when it prints cleanly on one line, else
// quoted. Fields before the value (inField) are also quoted when they hold
// spaces, commas or '=', which would make the line ambiguous.
func textField(b []byte, inField bool) string {
	if !utf8.Valid(b) {
		return strconv.Quote(string(b))
	}
	s := string(b)
	for _, c := range s {
		if !unicode.IsPrint(c) && c != ' ' && c != '\t' {
			return strconv.Quote(s)
		}
		if inField && (c == ' ' || c == '\t' || c == ',' || c == '=' || c == '"') {
			return strconv.Quote(s)
		}
	}
	return s
}

// jsonRecord is the --format json shape of a record. It is a user-facing
// format: add fields, never rename or remove them.
type jsonRecord struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Timestamp     string       `json:"timestamp"`
	Key           *string      `json:"key"`
	KeyEncoding   string       `json:"key_encoding,omitempty"`
	Value         *string      `json:"value"`
	ValueEncoding string       `json:"value_encoding,omitempty"`
	Headers       []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
}

// jsonBytes converts record bytes to a JSON string: nil stays null, valid
// UTF-8 is kept as text, anything else is base64 with encoding "base64".
func jsonBytes(b []byte) (value *string, encoding string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

func newJSONRecord(r *kgo.Record) jsonRecord {
	j := jsonRecord{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UTC().Format(time.RFC3339Nano),
		Headers:   make([]jsonHeader, 0, len(r.Headers)),
	}
	j.Key, j.KeyEncoding = jsonBytes(r.Key)
	j.Value, j.ValueEncoding = jsonBytes(r.Value)
	for _, h := range r.Headers {
		jh := jsonHeader{Key: h.Key}
		jh.Value, jh.ValueEncoding = jsonBytes(h.Value)
		j.Headers = append(j.Headers, jh)
	}
	return j
}

// writeJSONRecord writes r as one JSON object followed by a newline.
func writeJSONRecord(w io.Writer, r *kgo.Record) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(newJSONRecord(r))
}
