//go:build integration

// Package crash kills a real arus process with SIGKILL while franz-go
// produces to it, restarts it on the same data directory and checks that
// every acknowledged record survived, exactly once, at its acknowledged
// offset and in production order.
//
// cluster_test.go does the same to a 3-node cluster (kill -9 of partition
// leaders and of the active controller) and cuts a leader off with network
// namespaces; README.md describes the suites.
//
// Run with: go test -tags integration -race ./test/crash/
// Set ARUS_CRASH_SEED to replay a run (the seed is logged by every run).
package crash

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// arusBin is the broker binary built once by TestMain.
var arusBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // the tests skip themselves; no build needed
	}
	dir, err := os.MkdirTemp("", "arus-crash-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash: temp dir:", err)
		os.Exit(1)
	}
	bin, err := buildArus(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash: build arus:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	arusBin = bin
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool returns the go command that is running this test, falling back
// to the one on PATH.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// moduleRoot finds the directory holding go.mod: `go env GOMOD` first,
// then walking up from the working directory.
func moduleRoot() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, goTool(), "env", "GOMOD").Output(); err == nil {
		if gomod := strings.TrimSpace(string(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 64 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("go.mod not found above the test directory")
}

func buildArus(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "arus")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "./cmd/arus")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/arus in %s: %v\n%s", root, err, out)
	}
	return bin, nil
}

// poll calls cond every few milliseconds until it returns true, stop is
// closed, or timeout passes. It reports whether cond returned true.
func poll(timeout time.Duration, stop <-chan struct{}, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-deadline.C:
			return cond()
		case <-stop:
			return cond()
		case <-tick.C:
		}
	}
}

// brokerProc is one run of the arus binary.
type brokerProc struct {
	cmd    *exec.Cmd
	addr   string        // 127.0.0.1:port it listens on
	exited chan struct{} // closed when the process has been reaped
	err    error         // cmd.Wait result, valid after exited
}

// broker runs the binary on one data directory across restarts.
type broker struct {
	t       *testing.T
	name    string // "broker", "node 2": how logs name it
	dataDir string
	logPath string
	host    string // listener host
	port    int    // 0 until the first start picked one
	// args is the command line after the binary for a given listener;
	// prefix runs before the binary (ip netns exec NS).
	args   func(listener string) []string
	prefix []string
	starts int
	marker string // the log line that begins the current start
	proc   *brokerProc
}

// newBroker makes a one-node broker: the first start listens on
// 127.0.0.1:0 and later starts reuse the port it got.
func newBroker(t *testing.T) *broker {
	t.Helper()
	tmp := t.TempDir()
	b := &broker{
		t: t, name: "broker", dataDir: filepath.Join(tmp, "data"), logPath: filepath.Join(tmp, "arus.log"),
		host: "127.0.0.1",
	}
	b.args = func(listener string) []string {
		return []string{"--listener", listener, "--data-dir", b.dataDir,
			"--num-partitions", "3", "--auto-create-topics=false", "--log-level", "info", "--http-listener", "off"}
	}
	b.cleanupWithTest()
	return b
}

// cleanupWithTest kills the process at the end of the test (only the one
// we started, by its pid) and prints its log if the test failed.
func (b *broker) cleanupWithTest() {
	b.t.Cleanup(func() {
		b.stopForCleanup()
		if b.t.Failed() || os.Getenv("ARUS_CRASH_LOGS") != "" {
			b.dumpLog()
		}
	})
}

func (b *broker) dumpLog() {
	out, err := os.ReadFile(b.logPath)
	if err != nil {
		b.t.Logf("broker log %s: %v", b.logPath, err)
		return
	}
	const limit = 64 << 10
	if len(out) > limit {
		out = append([]byte("...(truncated)...\n"), out[len(out)-limit:]...)
	}
	b.t.Logf("%s stdout/stderr (%s):\n%s", b.name, b.logPath, out)
}

// start launches the binary and waits until it logged its listener and
// accepts TCP connections.
func (b *broker) start() {
	b.t.Helper()
	b.launch()
	b.awaitListening()
}

// launch starts the process without waiting for it to serve: the nodes of
// a cluster only finish starting once a quorum of them runs.
func (b *broker) launch() {
	t := b.t
	t.Helper()
	if b.proc != nil {
		t.Fatalf("start: %s pid %d still running", b.name, b.proc.cmd.Process.Pid)
	}
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("open %s log: %v", b.name, err)
	}
	b.starts++
	b.marker = fmt.Sprintf("=== arus start #%d ===\n", b.starts)
	if _, err := logf.WriteString(b.marker); err != nil {
		t.Fatalf("write %s log: %v", b.name, err)
	}
	listener := net.JoinHostPort(b.host, strconv.Itoa(b.port))
	argv := append(append(append([]string{}, b.prefix...), arusBin), b.args(listener)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", strings.Join(argv, " "), err)
	}
	logf.Close() // the child has its own descriptor
	p := &brokerProc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	b.proc = p
}

// awaitListening waits for "arus broker started ... listener=HOST:PORT" in
// this start's part of the log and for the listener to accept connections.
func (b *broker) awaitListening() {
	t := b.t
	t.Helper()
	p := b.proc
	cmd := p.cmd
	var addr string
	ok := poll(30*time.Second, p.exited, func() bool {
		addr = listenerFromLog(b.logPath, b.marker)
		return addr != ""
	})
	if !ok {
		select {
		case <-p.exited:
			b.proc = nil
			t.Fatalf("%s start #%d exited before listening: %v", b.name, b.starts, p.err)
		default:
		}
		t.Fatalf("%s start #%d (pid %d) did not log its listener within 30s", b.name, b.starts, cmd.Process.Pid)
	}
	ok = poll(10*time.Second, p.exited, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	if !ok {
		t.Fatalf("%s start #%d (pid %d) does not accept connections on %s", b.name, b.starts, cmd.Process.Pid, addr)
	}
	p.addr = addr
	if b.port == 0 {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("listener %q: %v", addr, err)
		}
		b.port, _ = strconv.Atoi(port)
	}
	t.Logf("%s start #%d: pid %d on %s", b.name, b.starts, cmd.Process.Pid, addr)
}

// listenerFromLog returns the listener address logged after marker, or "".
func listenerFromLog(path, marker string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	i := bytes.LastIndex(data, []byte(marker))
	if i < 0 {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data[i:]))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "arus broker started") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "listener="); ok {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

func (b *broker) addr() string { return b.proc.addr }

// signal sends sig to the broker process we started and waits for it to exit.
func (b *broker) signal(sig syscall.Signal) {
	b.t.Helper()
	b.reap(sig, b.send(sig))
}

// send sends sig to the process we started (by its pid; os.Process uses a
// pidfd, so never a reused pid) without waiting.
func (b *broker) send(sig syscall.Signal) error {
	b.t.Helper()
	if b.proc == nil {
		b.t.Fatalf("signal %v: %s not running", sig, b.name)
	}
	return b.proc.cmd.Process.Signal(sig)
}

// reap waits for the broker to exit after sig was sent with result
// sendErr, and checks how it exited.
func (b *broker) reap(sig syscall.Signal, sendErr error) {
	t := b.t
	t.Helper()
	p := b.proc
	if err := sendErr; err != nil {
		select {
		case <-p.exited:
			t.Fatalf("%s pid %d exited on its own before %v: %v", b.name, p.cmd.Process.Pid, sig, p.err)
		default:
		}
		t.Fatalf("kill -%d %d: %v", sig, p.cmd.Process.Pid, err)
	}
	select {
	case <-p.exited:
	case <-time.After(40 * time.Second):
		t.Fatalf("%s pid %d did not exit within 40s of %v", b.name, p.cmd.Process.Pid, sig)
	}
	b.proc = nil
	if sig == syscall.SIGKILL {
		var ee *exec.ExitError
		if !errors.As(p.err, &ee) {
			t.Fatalf("%s pid %d after SIGKILL: wait = %v", b.name, p.cmd.Process.Pid, p.err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("%s pid %d was not killed by SIGKILL (it exited first?): %v", b.name, p.cmd.Process.Pid, p.err)
		}
	} else if p.err != nil {
		t.Fatalf("%s pid %d after %v: %v", b.name, p.cmd.Process.Pid, sig, p.err)
	}
}

// stopForCleanup kills a still running broker (only the one we started).
func (b *broker) stopForCleanup() {
	p := b.proc
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		b.t.Logf("%s pid %d not reaped within 30s of SIGKILL", b.name, p.cmd.Process.Pid)
	}
	b.proc = nil
}

const (
	topic         = "crash"
	numPartitions = 3
)

// recordValue is the value of the seq-th record of a partition: a header
// naming partition, sequence, round and length, then deterministic
// padding, so any record read back can be checked for corruption.
func recordValue(partition int32, seq, round, size int) []byte {
	head := fmt.Sprintf("p%d-s%08d-r%d-n%d|", partition, seq, round, size)
	v := make([]byte, max(size, len(head)))
	copy(v, head)
	for i := len(head); i < len(v); i++ {
		v[i] = 'a' + byte((seq*31+i)%26)
	}
	return v
}

// parseValue reverses recordValue's header.
func parseValue(v []byte) (partition int32, seq, round, size int, err error) {
	head, _, ok := bytes.Cut(v, []byte("|"))
	if !ok {
		return 0, 0, 0, 0, fmt.Errorf("no header in %.40q", v)
	}
	var p int
	if _, err := fmt.Sscanf(string(head), "p%d-s%d-r%d-n%d", &p, &seq, &round, &size); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("header %q: %v", head, err)
	}
	return int32(p), seq, round, size, nil
}

type ack struct {
	partition int32
	offset    int64
	value     []byte
	at        time.Time // when the acknowledgement arrived (cluster tests)
}

// round is one produce-then-kill cycle.
type round struct {
	name         string
	killAfter    int // SIGKILL once this many records of the round are acknowledged
	perPartition int // records each producer goroutine offers at most
	valueSize    int
	batchMax     int32 // ProducerBatchMaxBytes; 0 = franz-go default
}

// produceAndKill produces to every partition from one goroutine per
// partition (async, with promises), SIGKILLs the broker once killAfter
// records are acknowledged and returns the acknowledged records.
func produceAndKill(t *testing.T, b *broker, r round, roundNo int, nextSeq []int) []ack {
	t.Helper()
	opts := []kgo.Opt{
		kgo.SeedBrokers(b.addr()),
		kgo.RequiredAcks(kgo.AllISRAcks()), // the default; explicit for the reader
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedRecords(4000),
	}
	if r.batchMax > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(r.batchMax))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("producer client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var (
		mu       sync.Mutex
		acks     []ack
		firstErr error
		nAcked   atomic.Int64
		kill     = make(chan struct{})
		killOnce sync.Once
		killErr  error // written before kill is closed
		proc     = b.proc.cmd.Process
		promises sync.WaitGroup
		workers  sync.WaitGroup
	)
	promise := func(rec *kgo.Record, err error) {
		defer promises.Done()
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
			return
		}
		mu.Lock()
		acks = append(acks, ack{partition: rec.Partition, offset: rec.Offset, value: rec.Value})
		mu.Unlock()
		if nAcked.Add(1) >= int64(r.killAfter) {
			// Kill right here, in the client's callback, so the broker
			// dies while the rest of the stream is in flight.
			killOnce.Do(func() {
				killErr = proc.Signal(syscall.SIGKILL) // pidfd-backed: never hits a reused PID
				close(kill)
			})
		}
	}
	start := make([]int, numPartitions)
	copy(start, nextSeq)
	for p := range int32(numPartitions) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range r.perPartition {
				if ctx.Err() != nil {
					return
				}
				seq := start[p] + i
				promises.Add(1)
				cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Value: recordValue(p, seq, roundNo, r.valueSize)}, promise)
			}
		}()
	}
	// Every produced sequence number is used up whether or not it was
	// acknowledged, so the next round's values sort after it.
	for p := range nextSeq {
		nextSeq[p] += r.perPartition
	}

	select {
	case <-kill:
	case <-time.After(30 * time.Second):
		mu.Lock()
		e := firstErr
		mu.Unlock()
		t.Fatalf("round %q: only %d of %d records acknowledged within 30s (first error: %v)", r.name, nAcked.Load(), r.killAfter, e)
	}
	b.reap(syscall.SIGKILL, killErr)
	killedAt := nAcked.Load()

	cancel()
	waitOrFail(t, 30*time.Second, "producer goroutines to stop", workers.Wait)
	closed := make(chan struct{})
	go func() { cl.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatalf("round %q: producer client Close did not return within 30s", r.name)
	}
	waitOrFail(t, 30*time.Second, "every produce promise to be called", promises.Wait)

	mu.Lock()
	defer mu.Unlock()
	t.Logf("round %q: SIGKILL at %d acknowledged, %d when the broker was reaped, %d in total after Close",
		r.name, r.killAfter, killedAt, len(acks))
	return acks
}

func waitOrFail(t *testing.T, timeout time.Duration, what string, wait func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("waited %s for %s", timeout, what)
	}
}

type stored struct {
	offset int64
	value  []byte
}

// readAll consumes every partition of topic (numPartitions of them) from
// its start offset to its end offset and returns the records per
// partition in offset order.
func readAll(t *testing.T, addr, topic string, clientOpts ...kgo.Opt) map[int32][]stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, clientOpts...)...)
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	defer adm.Close()
	admin := kadm.NewClient(adm)
	starts, err := admin.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		t.Fatalf("list start offsets: %v", err)
	}
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	want := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	for p := range int32(numPartitions) {
		s, ok1 := starts.Lookup(topic, p)
		e, ok2 := ends.Lookup(topic, p)
		if !ok1 || !ok2 {
			t.Fatalf("partition %d missing from list offsets (start %v, end %v)", p, ok1, ok2)
		}
		if s.Offset != 0 {
			t.Errorf("partition %d: log start offset %d, want 0 (nothing was deleted)", p, s.Offset)
		}
		want[p] = e.Offset
		from[p] = kgo.NewOffset().AtStart()
	}

	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchMaxWait(100 * time.Millisecond)}, clientOpts...)...)
	if err != nil {
		t.Fatalf("consumer client: %v", err)
	}
	defer cl.Close()
	out := map[int32][]stored{}
	next := map[int32]int64{}
	done := func() bool {
		for p, end := range want {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	for polls := 0; !done(); polls++ {
		if polls > 100000 || ctx.Err() != nil {
			t.Fatalf("consume: stopped after %d polls; read up to %v, end offsets %v", polls, next, want)
		}
		fs := cl.PollFetches(ctx)
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("fetch %s/%d: %v", tp, p, err)
			}
		})
		fs.EachRecord(func(rec *kgo.Record) {
			if rec.Offset >= want[rec.Partition] {
				return // beyond the end offset we read before; nothing produces now, so a bug
			}
			out[rec.Partition] = append(out[rec.Partition], stored{offset: rec.Offset, value: rec.Value})
			next[rec.Partition] = rec.Offset + 1
		})
	}
	return out
}

// verify checks the log of topic against every record acknowledged so
// far and returns what it read.
func verify(t *testing.T, addr, topic string, acked []ack, clientOpts ...kgo.Opt) map[int32][]stored {
	t.Helper()
	logs := readAll(t, addr, topic, clientOpts...)
	seen := map[string]string{} // value header -> where
	total := 0
	for p := range int32(numPartitions) {
		recs := logs[p]
		total += len(recs)
		lastSeq := -1
		for i, r := range recs {
			where := fmt.Sprintf("partition %d offset %d", p, r.offset)
			if r.offset != int64(i) {
				t.Errorf("%s: offsets not contiguous from 0 (record #%d)", where, i)
			}
			if i > 0 && r.offset <= recs[i-1].offset {
				t.Errorf("%s: offset not above the previous %d", where, recs[i-1].offset)
			}
			vp, seq, rnd, size, err := parseValue(r.value)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			head := fmt.Sprintf("p%d-s%d", vp, seq)
			if prev, dup := seen[head]; dup {
				t.Errorf("%s: duplicate of the record at %s (%s)", where, prev, head)
			}
			seen[head] = where
			if vp != p {
				t.Errorf("%s: record produced to partition %d", where, vp)
			}
			if !bytes.Equal(r.value, recordValue(vp, seq, rnd, size)) {
				t.Errorf("%s: value of %s is corrupt (len %d)", where, head, len(r.value))
			}
			if seq <= lastSeq {
				t.Errorf("%s: sequence %d after %d: production order not preserved", where, seq, lastSeq)
			}
			lastSeq = seq
		}
	}
	lost := 0
	for _, a := range acked {
		recs := logs[a.partition]
		if a.offset < 0 || a.offset >= int64(len(recs)) || recs[a.offset].offset != a.offset {
			lost++
			if lost <= 20 {
				t.Errorf("acknowledged record %.24q at partition %d offset %d is missing (partition has %d records)",
					a.value, a.partition, a.offset, len(recs))
			}
			continue
		}
		if got := recs[a.offset].value; !bytes.Equal(got, a.value) {
			t.Errorf("partition %d offset %d: acknowledged %.24q, log has %.24q", a.partition, a.offset, a.value, got)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged records lost", lost, len(acked))
	}
	t.Logf("verified %d acknowledged records; log holds %d records", len(acked), total)
	return logs
}

func createTopic(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, numPartitions, 1, nil, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// seededRand returns a generator seeded from ARUS_CRASH_SEED or the clock;
// the seed is logged, and logged again if the test fails.
func seededRand(t *testing.T) (*rand.Rand, uint64) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ARUS_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ARUS_CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with ARUS_CRASH_SEED=%d)", seed, seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("failed with seed %d (replay with ARUS_CRASH_SEED=%d)", seed, seed)
		}
	})
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed
}

// TestKillRestart SIGKILLs the broker at several points of a produce
// stream on one data directory and checks, after each restart, every
// record acknowledged in any round so far.
func TestKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts and kills a real broker several times; skipped with -short")
	}
	rng, seed := seededRand(t)

	rounds := []round{
		{name: "after-few", killAfter: 1 + rng.IntN(10), perPartition: 2000, valueSize: 64},
		{name: "after-hundreds", killAfter: 100 + rng.IntN(400), perPartition: 4000, valueSize: 100},
		{name: "after-thousands", killAfter: 1500 + rng.IntN(2500), perPartition: 6000, valueSize: 200},
		// ~1 MiB batches of 16 KiB records: several are in flight when
		// the first acknowledgement arrives and the broker dies.
		{name: "large-batch-in-flight", killAfter: 1 + rng.IntN(3), perPartition: 400, valueSize: 16 << 10, batchMax: 1000000},
		{name: "after-tens", killAfter: 10 + rng.IntN(90), perPartition: 2000, valueSize: 1 + rng.IntN(512)},
	}

	b := newBroker(t)
	b.start()
	createTopic(t, b.addr())

	var acked []ack
	nextSeq := make([]int, numPartitions)
	for i, r := range rounds {
		acked = append(acked, produceAndKill(t, b, r, i, nextSeq)...)
		b.start()
		verify(t, b.addr(), topic, acked)
		if t.Failed() {
			t.Fatalf("round %d %q failed (seed %d)", i, r.name, seed)
		}
	}

	// A clean stop and start keeps everything too.
	b.signal(syscall.SIGTERM)
	b.start()
	verify(t, b.addr(), topic, acked)
}
