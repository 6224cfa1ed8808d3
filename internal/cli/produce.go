package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceOptions are the parsed flags of `arus produce`.
type produceOptions struct {
	keySeparator string
	headers      []string
	acks         string
	partition    int32 // -1: let the partitioner choose
	compression  string
}

func newProduceCommand() *cobra.Command {
	var opts produceOptions
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records to a topic, one per line of standard input",
		Long: `Read standard input and produce one record per line to TOPIC. The line
ending is not part of the record.

With --key-separator, each line is split at the first occurrence of the
separator into key and value; a line without the separator is sent with no
key. Keyed records are partitioned by Kafka's murmur2 hash of the key, so they
land in the same partition a Java client would choose. Records without a key
are spread over the partitions in batches. --partition sends everything to
one partition instead.

When input ends, all records are flushed and a summary is printed on
standard error. The command fails if any record could not be produced.

Examples:
  echo hello | arus produce greetings
  printf 'user1:login\nuser2:logout\n' | arus produce events --key-separator :
  arus produce events --header source=import --acks 1 --compression zstd < events.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProduce(cmd, args[0], opts)
		},
	}
	addClientFlags(cmd)
	flags := cmd.Flags()
	flags.StringVarP(&opts.keySeparator, "key-separator", "K", "", "split each line into key and value at the first occurrence of this string")
	flags.StringArrayVarP(&opts.headers, "header", "H", nil, "record header key=value added to every record (repeatable)")
	flags.StringVar(&opts.acks, "acks", "all", "acknowledgements to wait for: all, 1 or 0")
	flags.Int32VarP(&opts.partition, "partition", "p", -1, "produce every record to this partition (-1: choose by key)")
	flags.StringVarP(&opts.compression, "compression", "z", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	return cmd
}

func runProduce(cmd *cobra.Command, topic string, opts produceOptions) error {
	headers, err := parseHeaders(opts.headers)
	if err != nil {
		return err
	}
	clientOpts, err := producerOptions(opts.acks, opts.compression)
	if err != nil {
		return err
	}
	if opts.partition < -1 {
		return fmt.Errorf("invalid --partition %d: must be 0 or more", opts.partition)
	}
	if opts.partition >= 0 {
		clientOpts = append(clientOpts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}

	cl, err := newClient(cmd, clientOpts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx := commandContext(cmd)

	// Check the topic first: without this, producing to a missing topic
	// surfaces only after the client has exhausted its retries.
	detail, err := lookupTopic(ctx, kadm.NewClient(cl), topic)
	if err != nil {
		return err
	}
	if n := int32(len(detail.Partitions)); opts.partition >= n {
		return fmt.Errorf("invalid --partition %d: topic %q has %d partitions (0-%d)", opts.partition, topic, n, n-1)
	}

	var (
		produced atomic.Int64
		failed   atomic.Int64
		errMu    sync.Mutex
		firstErr error // guarded by errMu
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			errMu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			errMu.Unlock()
			return
		}
		produced.Add(1)
	}

	reader := bufio.NewReader(cmd.InOrStdin())
	var readErr error
	for {
		line, err := readLine(reader)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("read input: %w", err)
			break
		}
		r := newLineRecord(topic, line, opts.keySeparator, headers)
		if opts.partition >= 0 {
			r.Partition = opts.partition
		}
		cl.Produce(ctx, r, promise)
	}
	flushErr := cl.Flush(ctx)

	fmt.Fprintf(errWriter(cmd), "produced %d records to topic %q", produced.Load(), topic)
	if n := failed.Load(); n > 0 {
		fmt.Fprintf(errWriter(cmd), ", %d failed", n)
	}
	fmt.Fprintln(errWriter(cmd))

	switch {
	case readErr != nil:
		return readErr
	case flushErr != nil:
		return fmt.Errorf("flush: %w", flushErr)
	case failed.Load() > 0:
		errMu.Lock()
		defer errMu.Unlock()
		return fmt.Errorf("%d of %d records failed, first error: %w",
			failed.Load(), failed.Load()+produced.Load(), firstErr)
	}
	return nil
}

// producerOptions builds the client options shared by produce and bench
// produce from the --acks and --compression flags.
func producerOptions(acks, compression string) ([]kgo.Opt, error) {
	opts, err := parseAcks(acks)
	if err != nil {
		return nil, err
	}
	codec, err := parseCompression(compression)
	if err != nil {
		return nil, err
	}
	return append(opts,
		kgo.ProducerBatchCompression(codec),
		// Nil hasher: Kafka's murmur2, so keyed records go where Java
		// clients put them.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	), nil
}

// readLine returns the next line of r without its "\n" or "\r\n" ending. A
// last line without a line ending is returned; io.EOF comes only after it.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if len(line) == 0 && err != nil {
		return nil, err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, nil
}

// splitKeyValue splits line at the first separator. With an empty separator
// or no separator in the line, the whole line is the value and key is nil.
func splitKeyValue(line []byte, separator string) (key, value []byte) {
	if separator == "" {
		return nil, line
	}
	k, v, ok := bytes.Cut(line, []byte(separator))
	if !ok {
		return nil, line
	}
	return k, v
}

// newLineRecord builds the record for one input line. headers are shared by
// all records; the client does not modify them.
func newLineRecord(topic string, line []byte, separator string, headers []kgo.RecordHeader) *kgo.Record {
	key, value := splitKeyValue(line, separator)
	return &kgo.Record{Topic: topic, Key: key, Value: value, Headers: headers}
}

// parseHeaders parses repeated --header key=value flags, keeping their order
// and duplicates, as Kafka headers allow both.
func parseHeaders(pairs []string) ([]kgo.RecordHeader, error) {
	var headers []kgo.RecordHeader
	for _, pair := range pairs {
		key, value, err := parseKeyValue("header", pair)
		if err != nil {
			return nil, err
		}
		headers = append(headers, kgo.RecordHeader{Key: key, Value: []byte(value)})
	}
	return headers, nil
}
