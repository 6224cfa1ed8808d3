//go:build integration

// Package compat drives arus with external Kafka clients. This file uses
// kcat (librdkafka) as shipped by Debian: `apt-get install -y kcat`.
//
// Run with: go test -tags integration -race ./test/compat/
package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/arus-io/arus/internal/api"
	"hash/crc32"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
)

const numPartitions = 3

// kcatTimeout bounds every kcat run; a healthy one takes well under a second.
const kcatTimeout = 30 * time.Second

// kcatBin returns the kcat binary or skips the test.
func kcatBin(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"kcat", "kafkacat"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("kcat not found on PATH; install it with `apt-get install -y kcat` (CI does) to run the librdkafka compatibility tests")
	return ""
}

// protocolErrors are librdkafka log lines that only a broker bug causes.
// kcat logs them and keeps retrying, so the run is stopped at once.
var protocolErrors = []string{"PROTOERR", "Protocol parse failure", "invalid MessageSetSize", "Malformed"}

// watchWriter collects kcat's stderr and cancels the run on the first
// protocol error.
type watchWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	hit    string
	cancel context.CancelFunc
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.hit == "" {
		for _, pat := range protocolErrors {
			if bytes.Contains(w.buf.Bytes(), []byte(pat)) {
				w.hit = pat
				w.cancel()
				break
			}
		}
	}
	return len(p), nil
}

func (w *watchWriter) result() (string, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.hit
}

// kcat runs kcat with args and stdin against the broker and returns its
// stdout; any failure, timeout or protocol error fails the test.
func kcat(t *testing.T, addr, stdin string, args ...string) string {
	t.Helper()
	out, err := kcatErr(t, addr, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kcatErr(t *testing.T, addr, stdin string, args ...string) (string, error) {
	t.Helper()
	bin := kcatBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), kcatTimeout)
	defer cancel()
	full := append([]string{"-b", addr}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = strings.NewReader(stdin)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr := &watchWriter{cancel: cancel}
	cmd.Stderr = stderr
	start := time.Now()
	err := cmd.Run()
	errText, hit := stderr.result()
	show := "kcat " + strings.Join(full, " ")
	switch {
	case hit != "":
		return stdout.String(), fmt.Errorf("%s: librdkafka reported a protocol error (%q) after %s; this is a broker bug\nstderr:\n%s\nstdout:\n%s",
			show, hit, time.Since(start).Round(time.Millisecond), tail(errText), tail(stdout.String()))
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return stdout.String(), fmt.Errorf("%s: still running after %s, killed\nstderr:\n%s\nstdout:\n%s",
			show, kcatTimeout, tail(errText), tail(stdout.String()))
	case err != nil:
		return stdout.String(), fmt.Errorf("%s: %v\nstderr:\n%s\nstdout:\n%s", show, err, tail(errText), tail(stdout.String()))
	}
	return stdout.String(), nil
}

func tail(s string) string {
	const limit = 8 << 10
	if len(s) > limit {
		return "...(truncated)...\n" + s[len(s)-limit:]
	}
	return s
}

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// consumed is one message as printed by kcat -f '%p %o %k %s\n'.
type consumed struct {
	partition int32
	offset    int64
	key       string
	value     string
}

// consumeAll reads every partition of topic from the beginning to the end.
func consumeAll(t *testing.T, addr, topic string, extra ...string) []consumed {
	t.Helper()
	args := append([]string{"-C", "-t", topic, "-o", "beginning", "-e", "-f", `%p %o %k %s\n`}, extra...)
	var out []consumed
	for _, l := range lines(kcat(t, addr, "", args...)) {
		f := strings.SplitN(l, " ", 4)
		if len(f) != 4 {
			t.Fatalf("kcat -C: unexpected line %q", l)
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("kcat -C: unexpected line %q", l)
		}
		out = append(out, consumed{partition: int32(p), offset: o, key: f[2], value: f[3]})
	}
	return out
}

// librdkafkaPartition is librdkafka's default partitioner
// (consistent_random) for a non-empty key: CRC-32 (IEEE) of the key
// modulo the partition count.
func librdkafkaPartition(key string, partitions int) int32 {
	return int32(crc32.ChecksumIEEE([]byte(key)) % uint32(partitions))
}

type kcatMetadata struct {
	ControllerID int32 `json:"controllerid"`
	Brokers      []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string `json:"topic"`
		Error      string `json:"error"`
		Partitions []struct {
			Partition int32  `json:"partition"`
			Leader    int32  `json:"leader"`
			Error     string `json:"error"`
			Replicas  []struct {
				ID int32 `json:"id"`
			} `json:"replicas"`
			ISRs []struct {
				ID int32 `json:"id"`
			} `json:"isrs"`
		} `json:"partitions"`
	} `json:"topics"`
}

func metadataJSON(t *testing.T, addr string, args ...string) kcatMetadata {
	t.Helper()
	out := kcat(t, addr, "", append([]string{"-L", "-J"}, args...)...)
	var md kcatMetadata
	if err := json.Unmarshal([]byte(out), &md); err != nil {
		t.Fatalf("kcat -L -J: %v\n%s", err, out)
	}
	return md
}

func startBroker(t *testing.T) string {
	t.Helper()
	kcatBin(t) // skip before starting anything
	return arustest.StartBroker(t, arustest.WithNumPartitions(numPartitions)).Addr()
}

// TestKcatMetadata: kcat -L lists the broker as controller, and the topic
// once something was produced to it (auto-created with 3 partitions).
func TestKcatMetadata(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)

	text := kcat(t, addr, "", "-L")
	for _, want := range []string{"1 brokers:", "broker 1 at " + addr + " (controller)"} {
		if !strings.Contains(text, want) {
			t.Errorf("kcat -L output lacks %q:\n%s", want, text)
		}
	}
	md := metadataJSON(t, addr)
	if len(md.Brokers) != 1 || md.Brokers[0].ID != 1 || md.Brokers[0].Name != addr {
		t.Errorf("kcat -L -J brokers = %+v, want one broker id 1 at %s", md.Brokers, addr)
	}
	if md.ControllerID != 1 {
		t.Errorf("kcat -L -J controllerid = %d, want 1", md.ControllerID)
	}

	const topic = "metadata-topic"
	kcat(t, addr, "k1:v1\nk2:v2\nk3:v3\n", "-P", "-t", topic, "-K:")

	text = kcat(t, addr, "", "-L", "-t", topic)
	if want := fmt.Sprintf("topic %q with %d partitions:", topic, numPartitions); !strings.Contains(text, want) {
		t.Errorf("kcat -L -t %s output lacks %q:\n%s", topic, want, text)
	}
	md = metadataJSON(t, addr)
	var found bool
	for _, tp := range md.Topics {
		if tp.Topic != topic {
			continue
		}
		found = true
		if tp.Error != "" {
			t.Errorf("topic %s: error %q", topic, tp.Error)
		}
		if len(tp.Partitions) != numPartitions {
			t.Errorf("topic %s: %d partitions, want %d", topic, len(tp.Partitions), numPartitions)
		}
		seen := map[int32]bool{}
		for _, p := range tp.Partitions {
			seen[p.Partition] = true
			if p.Error != "" || p.Leader != 1 || len(p.Replicas) != 1 || p.Replicas[0].ID != 1 || len(p.ISRs) != 1 || p.ISRs[0].ID != 1 {
				t.Errorf("topic %s partition %+v: want leader 1, replicas [1], isrs [1], no error", topic, p)
			}
		}
		for p := range int32(numPartitions) {
			if !seen[p] {
				t.Errorf("topic %s: partition %d missing", topic, p)
			}
		}
	}
	if !found {
		t.Errorf("kcat -L -J after producing: topic %s not listed: %+v", topic, md.Topics)
	}
}

// keyedInput is 30 "key:value" lines over 5 keys, values numbered in
// production order and long enough to compress.
func keyedInput(tag string) []string {
	var in []string
	for i := range 30 {
		in = append(in, fmt.Sprintf("key%d:value-%s-%02d-%s", i%5, tag, i, strings.Repeat("x", 48)))
	}
	return in
}

// codecIDs are the RecordBatch attribute values (bits 0-2) per codec.
var codecIDs = map[string]uint8{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// TestKcatKeyedProduceConsume produces keyed lines with each compression
// codec and reads them back with kcat (text and JSON) and franz-go.
func TestKcatKeyedProduceConsume(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			topic := "keyed-" + codec
			in := keyedInput(codec)
			args := []string{"-P", "-t", topic, "-K:"}
			if codec != "none" {
				args = append(args, "-z", codec)
			}
			kcat(t, addr, strings.Join(in, "\n")+"\n", args...)

			got := consumeAll(t, addr, topic)
			checkKeyed(t, in, got)
			checkJSONConsume(t, addr, topic, got)
			if _, _, ok := api.VersionRange(10); codec == "lz4" && !ok {
				t.Skip("librdkafka sends lz4 only to brokers that advertise FindCoordinator; served with consumer groups")
			}
			checkStoredCodec(t, addr, topic, len(in), codecIDs[codec])
		})
	}
}

// checkKeyed compares what kcat read with what it produced: the same
// multiset of lines, per-key order, one partition per key (librdkafka's
// CRC-32 partition), offsets contiguous from 0 per partition.
func checkKeyed(t *testing.T, in []string, got []consumed) {
	t.Helper()
	var gotLines []string
	for _, c := range got {
		gotLines = append(gotLines, c.key+":"+c.value)
	}
	want := slices.Clone(in)
	sort.Strings(want)
	sortedGot := slices.Clone(gotLines)
	sort.Strings(sortedGot)
	if !slices.Equal(want, sortedGot) {
		t.Errorf("consumed lines differ from produced ones\nproduced (sorted): %q\nconsumed (sorted): %q", want, sortedGot)
	}

	wantPerKey := map[string][]string{}
	for _, l := range in {
		k, v, _ := strings.Cut(l, ":")
		wantPerKey[k] = append(wantPerKey[k], v)
	}
	gotPerKey := map[string][]string{}
	keyPartition := map[string]int32{}
	nextOffset := map[int32]int64{}
	for _, c := range got {
		gotPerKey[c.key] = append(gotPerKey[c.key], c.value)
		if p, ok := keyPartition[c.key]; ok && p != c.partition {
			t.Errorf("key %s in partitions %d and %d", c.key, p, c.partition)
		}
		keyPartition[c.key] = c.partition
		if want := librdkafkaPartition(c.key, numPartitions); c.partition != want {
			t.Errorf("key %s in partition %d; librdkafka's consistent_random partitioner (CRC-32 %% %d) gives %d",
				c.key, c.partition, numPartitions, want)
		}
		if c.offset != nextOffset[c.partition] {
			t.Errorf("partition %d: offset %d, want %d (contiguous from 0, in order)", c.partition, c.offset, nextOffset[c.partition])
		}
		nextOffset[c.partition] = c.offset + 1
	}
	for k, vs := range wantPerKey {
		if !slices.Equal(vs, gotPerKey[k]) {
			t.Errorf("key %s: values in order %q, want %q", k, gotPerKey[k], vs)
		}
	}
}

type jsonMessage struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	TSType    string  `json:"tstype"`
	TS        int64   `json:"ts"`
	Key       *string `json:"key"`
	Payload   *string `json:"payload"`
}

// checkJSONConsume reads the topic again with -J and compares.
func checkJSONConsume(t *testing.T, addr, topic string, want []consumed) {
	t.Helper()
	out := kcat(t, addr, "", "-C", "-t", topic, "-o", "beginning", "-e", "-J")
	var got []consumed
	for _, l := range lines(out) {
		var m jsonMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("kcat -C -J line %q: %v", l, err)
		}
		if m.Topic != topic || m.Key == nil || m.Payload == nil || m.TSType != "create" {
			t.Errorf("kcat -C -J: unexpected message %s", l)
			continue
		}
		got = append(got, consumed{partition: m.Partition, offset: m.Offset, key: *m.Key, value: *m.Payload})
	}
	byPos := func(a, b consumed) int {
		if a.partition != b.partition {
			return int(a.partition - b.partition)
		}
		return int(a.offset - b.offset)
	}
	slices.SortFunc(got, byPos)
	w := slices.Clone(want)
	slices.SortFunc(w, byPos)
	if !slices.Equal(got, w) {
		t.Errorf("kcat -J read %+v, kcat -f read %+v", got, w)
	}
}

// checkStoredCodec reads the topic with franz-go and checks that the
// batches kept the producer's codec (compression.type=producer).
func checkStoredCodec(t *testing.T, addr, topic string, n int, codec uint8) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	from := map[int32]kgo.Offset{}
	for p := range int32(numPartitions) {
		from[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("franz-go client: %v", err)
	}
	defer cl.Close()
	seen := 0
	stored := map[uint8]int{} // codec -> records
	for polls := 0; seen < n; polls++ {
		if polls > 1000 || ctx.Err() != nil {
			t.Fatalf("franz-go read %d of %d records of %s", seen, n, topic)
		}
		fs := cl.PollFetches(ctx)
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("franz-go fetch %s/%d: %v", tp, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			stored[r.Attrs.CompressionType()]++
		})
	}
	if len(stored) == 1 && stored[codec] == n {
		return
	}
	msg := fmt.Sprintf("%s: records stored per codec %v, want all %d with codec %d (kcat -z; compression.type=producer keeps it)", topic, stored, n, codec)
	if codec == codecIDs["lz4"] && stored[0] == n {
		// librdkafka falls back to no compression when it thinks the
		// broker lacks LZ4 (log line "Broker does not support
		// compression type lz4: not compressing batch").
		msg += "; librdkafka enables LZ4 only if ApiVersions lists FindCoordinator v0 " +
			"(RD_KAFKA_FEATURE_LZ4 in librdkafka src/rdkafka_feature.c); arus must advertise FindCoordinator for librdkafka to send lz4"
	}
	t.Error(msg)
}

// TestKcatAcks: producing with explicit acks settings succeeds and every
// message is readable afterwards.
func TestKcatAcks(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	for _, acks := range []string{"all", "-1", "1"} {
		t.Run("acks="+acks, func(t *testing.T) {
			topic := "acks-" + strings.ReplaceAll(acks, "-", "minus")
			var in []string
			for i := range 10 {
				in = append(in, fmt.Sprintf("k%d:acks-%s-%d", i%3, acks, i))
			}
			kcat(t, addr, strings.Join(in, "\n")+"\n", "-P", "-t", topic, "-K:", "-X", "acks="+acks)
			checkKeyed(t, in, consumeAll(t, addr, topic))
		})
	}
}

// TestKcatOffsets: absolute, relative (-o -N), end and -c reads.
func TestKcatOffsets(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	const topic = "offsets"
	counts := map[int32]int{0: 10, 1: 4, 2: 3}
	for p := range int32(numPartitions) {
		var in []string
		for i := range counts[p] {
			in = append(in, fmt.Sprintf("p%d-v%d", p, i))
		}
		kcat(t, addr, strings.Join(in, "\n")+"\n", "-P", "-t", topic, "-p", strconv.Itoa(int(p)))
	}

	read := func(t *testing.T, args ...string) []string {
		t.Helper()
		base := []string{"-C", "-t", topic, "-f", `%p %o %s\n`}
		got := lines(kcat(t, addr, "", append(base, args...)...))
		sort.Strings(got)
		return got
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"relative -2 one partition", []string{"-p", "0", "-o", "-2", "-e"},
			[]string{"0 8 p0-v8", "0 9 p0-v9"}},
		{"relative -2 all partitions", []string{"-o", "-2", "-e"},
			[]string{"0 8 p0-v8", "0 9 p0-v9", "1 2 p1-v2", "1 3 p1-v3", "2 1 p2-v1", "2 2 p2-v2"}},
		{"absolute 7", []string{"-p", "0", "-o", "7", "-e"},
			[]string{"0 7 p0-v7", "0 8 p0-v8", "0 9 p0-v9"}},
		{"beginning with count", []string{"-p", "1", "-o", "beginning", "-c", "2"},
			[]string{"1 0 p1-v0", "1 1 p1-v1"}},
		{"end", []string{"-o", "end", "-e"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := read(t, c.args...); !slices.Equal(got, c.want) {
				t.Errorf("kcat -C %s: got %q, want %q", strings.Join(c.args, " "), got, c.want)
			}
		})
	}

	// The end offsets kcat starts -o -2 from are the ones ListOffsets gives.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	for p, n := range counts {
		if o, _ := ends.Lookup(topic, p); o.Offset != int64(n) {
			t.Errorf("partition %d: end offset %d, want %d", p, o.Offset, n)
		}
	}
}

// TestKcatHeadersAndTimestamps: headers set with -H come back with %h,
// and message timestamps are the producer's create time.
func TestKcatHeadersAndTimestamps(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	const topic = "headers"
	before := time.Now().Add(-time.Second).UnixMilli()
	kcat(t, addr, "k1:v1\nk2:v2\n", "-P", "-t", topic, "-p", "0", "-K:", "-H", "h1=a", "-H", "h2=bc")
	after := time.Now().Add(time.Second).UnixMilli()

	got := lines(kcat(t, addr, "", "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", `%k %s %h %T\n`))
	if len(got) != 2 {
		t.Fatalf("kcat -C read %d messages, want 2: %q", len(got), got)
	}
	for i, l := range got {
		f := strings.Fields(l)
		wantKV := fmt.Sprintf("k%d v%d", i+1, i+1)
		if len(f) != 4 || f[0]+" "+f[1] != wantKV || f[2] != "h1=a,h2=bc" {
			t.Errorf("message %d: %q, want %q with headers h1=a,h2=bc", i, l, wantKV)
			continue
		}
		ts, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil || ts < before || ts > after {
			t.Errorf("message %d: timestamp %q, want create time in [%d, %d]", i, f[3], before, after)
		}
	}
}
