//go:build integration

package crash

// Multi-process cluster tests: three real arus nodes (each broker and
// controller, one Raft quorum for metadata), continuous acks=all load from
// an idempotent franz-go producer that records every acknowledged record,
// and failures injected from outside: kill -9 of a partition leader and of
// the active controller (TestClusterKill), and a network partition that
// isolates a partition leader in its own network namespace
// (TestClusterNetworkPartition). Afterwards every acknowledged record must
// be readable exactly once at its offset, in production order, and the
// replicas of every partition must hold the same bytes.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"
)

// waitFor polls cond until it holds or timeout passes, then fails the test
// with what. It returns how long the wait took.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	if !poll(timeout, nil, cond) {
		t.Fatalf("not within %s: %s", timeout, what)
	}
	return time.Since(start)
}

// ---------------------------------------------------------------------
// Cluster of arus processes

// cluster is three (or more) arus nodes forming one metadata quorum.
type cluster struct {
	t     *testing.T
	ids   []int32
	nodes map[int32]*broker
	topic string

	mu     sync.Mutex
	admins map[int32]*kgo.Client // one client per node, requests go to that node only

	// clientOpts are the TLS and SASL options of the test's admin clients
	// (a secured cluster, secure_test.go); nil for PLAINTEXT.
	clientOpts []kgo.Opt
}

// clusterSpec says where the nodes listen and how they are launched.
type clusterSpec struct {
	hosts  map[int32]string   // listener host per node id
	ports  map[int32]int      // listener port per node id
	inter  map[int32]int      // inter-broker listener port per node id (the voters' addresses)
	prefix map[int32][]string // command prefix per node (ip netns exec NS), or nil
	// secure, when set, runs every listener as SASL_SSL (secure_test.go).
	secure *clusterSecurity
}

// freeLocalPorts reserves n distinct free ports on 127.0.0.1 by binding
// them all at once, then releases them for the nodes to take.
func freeLocalPorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve a port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// localSpec places n nodes on free 127.0.0.1 ports.
func localSpec(t *testing.T, n int) clusterSpec {
	spec := clusterSpec{hosts: map[int32]string{}, ports: map[int32]int{}, inter: map[int32]int{}}
	ports := freeLocalPorts(t, 2*n)
	for i := 0; i < n; i++ {
		id := int32(i + 1)
		spec.hosts[id] = "127.0.0.1"
		spec.ports[id], spec.inter[id] = ports[2*i], ports[2*i+1]
	}
	return spec
}

// newCluster prepares the nodes; startAll runs them. Every node is started
// with the same command line on every start:
//
//	arus serve --node-id N --listener HOST:PORT --inter-broker-listener HOST:PORT2 --data-dir DIR --controller-quorum-voters 1@...,2@...,3@...
func newCluster(t *testing.T, spec clusterSpec, topic string) *cluster {
	t.Helper()
	c := &cluster{t: t, nodes: map[int32]*broker{}, admins: map[int32]*kgo.Client{}, topic: topic}
	if spec.secure != nil {
		c.clientOpts = spec.secure.clientOpts(adminUser)
	}
	for id := range spec.hosts {
		c.ids = append(c.ids, id)
	}
	slices.Sort(c.ids)
	var voters []string
	for _, id := range c.ids {
		voters = append(voters, fmt.Sprintf("%d@%s", id, net.JoinHostPort(spec.hosts[id], strconv.Itoa(spec.inter[id]))))
	}
	for _, id := range c.ids {
		tmp := t.TempDir()
		b := &broker{
			t: t, name: fmt.Sprintf("node %d", id),
			dataDir: filepath.Join(tmp, "data"), logPath: filepath.Join(tmp, "arus.log"),
			host: spec.hosts[id], port: spec.ports[id], prefix: spec.prefix[id],
		}
		var extra []string
		if spec.secure != nil {
			extra = []string{"--config", spec.secure.writeProperties(t, tmp, net.JoinHostPort(spec.hosts[id], strconv.Itoa(spec.ports[id])),
				net.JoinHostPort(spec.hosts[id], strconv.Itoa(spec.inter[id])))}
		}
		b.args = func(listener string) []string {
			return append([]string{"serve", "--node-id", strconv.Itoa(int(id)), "--listener", listener,
				"--inter-broker-listener", net.JoinHostPort(spec.hosts[id], strconv.Itoa(spec.inter[id])),
				"--data-dir", b.dataDir, "--controller-quorum-voters", strings.Join(voters, ","),
				"--num-partitions", "3", "--auto-create-topics=false", "--log-level", "info", "--http-listener", "off"}, extra...)
		}
		b.cleanupWithTest()
		c.nodes[id] = b
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, cl := range c.admins {
			cl.Close()
		}
	})
	t.Logf("cluster: %s", strings.Join(voters, ","))
	return c
}

func (c *cluster) addr(id int32) string {
	b := c.nodes[id]
	return net.JoinHostPort(b.host, strconv.Itoa(b.port))
}

func (c *cluster) addrs() []string {
	var out []string
	for _, id := range c.ids {
		out = append(out, c.addr(id))
	}
	return out
}

func (c *cluster) running(id int32) bool { return c.nodes[id].proc != nil }

// startAll launches every node, then waits until each listens and reports
// all nodes as brokers.
func (c *cluster) startAll() {
	c.t.Helper()
	start := time.Now()
	for _, id := range c.ids {
		c.nodes[id].launch()
	}
	for _, id := range c.ids {
		c.nodes[id].awaitListening()
	}
	waitFor(c.t, 30*time.Second, "metadata from every node lists every broker", func() bool {
		for _, id := range c.ids {
			v, err := c.view(id, false)
			if err != nil || len(v.brokers) != len(c.ids) || v.controller < 0 {
				return false
			}
		}
		return true
	})
	c.t.Logf("cluster of %d nodes up in %s", len(c.ids), time.Since(start).Round(time.Millisecond))
}

// restart starts a stopped node again with the same command and data dir.
func (c *cluster) restart(id int32) {
	c.t.Helper()
	c.nodes[id].start()
}

// admin returns the client whose requests go only to node id.
func (c *cluster) admin(id int32) *kgo.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.admins[id]; ok {
		return cl
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addr(id)), kgo.DialTimeout(time.Second)}, c.clientOpts...)...)
	if err != nil {
		c.t.Fatalf("client for node %d: %v", id, err)
	}
	c.admins[id] = cl
	return cl
}

// view is what one node's Metadata response says about the cluster.
type view struct {
	from       int32
	controller int32
	brokers    []int32
	leader     map[int32]int32
	epoch      map[int32]int32
	isr        map[int32][]int32
}

// view asks node id for metadata (of the topic too if withTopic).
func (c *cluster) view(id int32, withTopic bool) (view, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	if withTopic {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(c.topic)
		req.Topics = append(req.Topics, rt)
	} else {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	seeds := c.admin(id).SeedBrokers()
	if len(seeds) != 1 {
		return view{}, fmt.Errorf("client for node %d has %d seeds", id, len(seeds))
	}
	resp, err := req.RequestWith(ctx, seeds[0])
	if err != nil {
		return view{}, err
	}
	v := view{from: id, controller: resp.ControllerID, leader: map[int32]int32{}, epoch: map[int32]int32{}, isr: map[int32][]int32{}}
	for _, b := range resp.Brokers {
		v.brokers = append(v.brokers, b.NodeID)
	}
	slices.Sort(v.brokers)
	if !withTopic {
		return v, nil
	}
	if len(resp.Topics) != 1 {
		return v, fmt.Errorf("node %d: %d topics in metadata", id, len(resp.Topics))
	}
	rt := resp.Topics[0]
	if rt.ErrorCode != 0 {
		return v, fmt.Errorf("node %d: topic %s: error code %d", id, c.topic, rt.ErrorCode)
	}
	for _, p := range rt.Partitions {
		v.leader[p.Partition] = p.Leader
		v.epoch[p.Partition] = p.LeaderEpoch
		v.isr[p.Partition] = slices.Sorted(slices.Values(p.ISR))
	}
	if len(v.leader) != numPartitions {
		return v, fmt.Errorf("node %d: %d partitions in metadata, want %d", id, len(v.leader), numPartitions)
	}
	return v, nil
}

// liveView asks the running nodes (except those in skip) in turn until one
// answers.
func (c *cluster) liveView(skip ...int32) (view, error) {
	var errs []error
	for _, id := range c.ids {
		if !c.running(id) || slices.Contains(skip, id) {
			continue
		}
		v, err := c.view(id, true)
		if err == nil {
			return v, nil
		}
		errs = append(errs, err)
	}
	return view{}, fmt.Errorf("no node answered: %w", errors.Join(errs...))
}

func (v view) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "from node %d: controller %d, brokers %v", v.from, v.controller, v.brokers)
	for p := range int32(numPartitions) {
		fmt.Fprintf(&b, "; p%d leader %d epoch %d isr %v", p, v.leader[p], v.epoch[p], v.isr[p])
	}
	return b.String()
}

// healthy reports whether every node (of ids) answers metadata saying the
// same controller, all brokers, and every partition led with the full ISR.
func (c *cluster) healthy(ids []int32) (bool, string) {
	var ctl int32 = -2
	for _, id := range ids {
		v, err := c.view(id, true)
		if err != nil {
			return false, err.Error()
		}
		if len(v.brokers) != len(c.ids) {
			return false, v.String()
		}
		if v.controller < 0 || (ctl != -2 && v.controller != ctl) {
			return false, v.String()
		}
		ctl = v.controller
		for p := range int32(numPartitions) {
			if v.leader[p] < 0 || !slices.Equal(v.isr[p], c.ids) {
				return false, v.String()
			}
		}
	}
	return true, ""
}

// waitHealthy waits until every node agrees the cluster is whole and
// returns how long that took.
func (c *cluster) waitHealthy(timeout time.Duration, what string) time.Duration {
	c.t.Helper()
	var last string
	start := time.Now()
	if !poll(timeout, nil, func() bool {
		ok, why := c.healthy(c.ids)
		last = why
		return ok
	}) {
		c.t.Fatalf("%s: not within %s (last metadata: %s)", what, timeout, last)
	}
	return time.Since(start)
}

// createTopic creates the cluster's topic: numPartitions partitions, RF
// 3, min.insync.replicas 2.
func (c *cluster) createTopic() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addrs()...)}, c.clientOpts...)...)
	if err != nil {
		c.t.Fatalf("admin client: %v", err)
	}
	defer cl.Close()
	minISR := "2"
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, numPartitions, int16(len(c.ids)),
		map[string]*string{"min.insync.replicas": &minISR}, c.topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		c.t.Fatalf("create topic %s: %v", c.topic, err)
	}
}

// stopAll sends SIGTERM to every running node at once (a node alone
// cannot finish a controlled shutdown without a quorum) and waits for
// each to exit cleanly.
func (c *cluster) stopAll() {
	c.t.Helper()
	start := time.Now()
	sent := map[int32]error{}
	for _, id := range c.ids {
		if c.running(id) {
			sent[id] = c.nodes[id].send(syscall.SIGTERM)
		}
	}
	for _, id := range c.ids {
		if err, ok := sent[id]; ok {
			c.nodes[id].reap(syscall.SIGTERM, err)
		}
	}
	c.t.Logf("all nodes stopped cleanly (SIGTERM) in %s", time.Since(start).Round(time.Millisecond))
}

// partitionDir is where node id keeps partition p of the topic.
func (c *cluster) partitionDir(id, p int32) string {
	return filepath.Join(c.nodes[id].dataDir, fmt.Sprintf("%s-%d", c.topic, p))
}

// segmentFiles lists a partition directory's .log segments in offset order.
func segmentFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files) // names are 20-digit zero-padded base offsets
	return files, nil
}

func logBytes(dir string) ([]byte, error) {
	files, err := segmentFiles(dir)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, data...)
	}
	return out, nil
}

func logSize(dir string) int64 {
	files, err := segmentFiles(dir)
	if err != nil {
		return -1
	}
	var n int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return -1
		}
		n += st.Size()
	}
	return n
}

// waitReplicasEqualSize waits (bounded) until every partition's log has
// the same size on every node: the followers fetched everything. It only
// logs if they do not; compareReplicas then decides.
func (c *cluster) waitReplicasEqualSize(timeout time.Duration) {
	ok := poll(timeout, nil, func() bool {
		for p := range int32(numPartitions) {
			var size int64 = -2
			for _, id := range c.ids {
				s := logSize(c.partitionDir(id, p))
				if s < 0 || (size != -2 && s != size) {
					return false
				}
				size = s
			}
		}
		return true
	})
	if !ok {
		c.t.Logf("replica logs still differ in size after %s; comparing prefixes", timeout)
	}
}

// batchSpan is one record batch in a log file.
type batchSpan struct {
	pos         int
	length      int
	base, last  int64
	leaderEpoch int32
}

// parseBatches walks the RecordBatch v2 headers of a concatenated log.
func parseBatches(data []byte) ([]batchSpan, error) {
	var out []batchSpan
	for pos := 0; pos < len(data); {
		if len(data)-pos < 61 {
			return out, fmt.Errorf("%d trailing bytes at position %d, less than a batch header", len(data)-pos, pos)
		}
		base := int64(binary.BigEndian.Uint64(data[pos:]))
		blen := int(int32(binary.BigEndian.Uint32(data[pos+8:])))
		if blen < 49 || pos+12+blen > len(data) {
			return out, fmt.Errorf("batch at position %d: length %d does not fit %d bytes", pos, blen, len(data))
		}
		if magic := data[pos+16]; magic != 2 {
			return out, fmt.Errorf("batch at position %d: magic %d", pos, magic)
		}
		b := batchSpan{
			pos: pos, length: 12 + blen, base: base,
			last:        base + int64(int32(binary.BigEndian.Uint32(data[pos+23:]))),
			leaderEpoch: int32(binary.BigEndian.Uint32(data[pos+12:])),
		}
		if n := len(out); n > 0 && b.base <= out[n-1].last {
			return out, fmt.Errorf("batch at position %d: base offset %d not above the previous last offset %d", pos, b.base, out[n-1].last)
		}
		out = append(out, b)
		pos += b.length
	}
	return out, nil
}

// compareReplicas checks, on the data directories of stopped nodes, that
// the replicas of each partition hold the same bytes (a shorter replica
// holds a prefix of the longest), and that every replica that was in the
// ISR at shutdown holds every acknowledged offset.
func (c *cluster) compareReplicas(acked []ack, isr map[int32][]int32) {
	t := c.t
	t.Helper()
	maxAcked := map[int32]int64{}
	for _, a := range acked {
		maxAcked[a.partition] = max(maxAcked[a.partition], a.offset+1)
	}
	for p := range int32(numPartitions) {
		data := map[int32][]byte{}
		var longest int32 = -1
		for _, id := range c.ids {
			b, err := logBytes(c.partitionDir(id, p))
			if err != nil {
				t.Errorf("partition %d on node %d: %v", p, id, err)
				continue
			}
			data[id] = b
			if longest < 0 || len(b) > len(data[longest]) {
				longest = id
			}
		}
		if longest < 0 {
			continue
		}
		ref := data[longest]
		refBatches, err := parseBatches(ref)
		if err != nil {
			t.Errorf("partition %d on node %d: %v", p, longest, err)
		}
		var summary []string
		for _, id := range c.ids {
			b, ok := data[id]
			if !ok {
				continue
			}
			batches, err := parseBatches(b)
			if err != nil {
				t.Errorf("partition %d on node %d: %v", p, id, err)
			}
			var end int64 // next offset after the replica's last batch
			if n := len(batches); n > 0 {
				end = batches[n-1].last + 1
			}
			summary = append(summary, fmt.Sprintf("node %d: %d bytes, %d batches, offsets [0,%d)", id, len(b), len(batches), end))
			if i := firstDiff(b, ref[:len(b)]); i >= 0 {
				where := "?"
				for _, rb := range refBatches {
					if i >= rb.pos && i < rb.pos+rb.length {
						where = fmt.Sprintf("batch [%d,%d] at position %d, byte %d of it", rb.base, rb.last, rb.pos, i-rb.pos)
						break
					}
				}
				t.Errorf("partition %d: node %d's log differs from node %d's at byte %d (%s)", p, id, longest, i, where)
			}
			if slices.Contains(isr[p], id) && end < maxAcked[p] {
				t.Errorf("partition %d: node %d was in the ISR %v at shutdown but its log ends at offset %d; offset %d was acknowledged",
					p, id, isr[p], end, maxAcked[p]-1)
			}
		}
		t.Logf("partition %d replicas: %s", p, strings.Join(summary, "; "))
	}
}

// firstDiff is the index of the first differing byte of equal-length a
// and b, or -1.
func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// ---------------------------------------------------------------------
// Continuous acks=all load

// load is an idempotent acks=all producer writing to every partition at a
// steady rate, remembering every acknowledged record.
type load struct {
	t     *testing.T
	cl    *kgo.Client
	topic string
	opts  loadOpts

	round    atomic.Int64 // written into the values of records produced from now on
	stopCh   chan struct{}
	stopOnce sync.Once
	workers  sync.WaitGroup
	promises sync.WaitGroup

	nAcked   atomic.Int64
	perPart  [numPartitions]atomic.Int64 // acknowledged per partition
	produced atomic.Int64

	mu         sync.Mutex
	acks       []ack
	failed     int
	failedPart [numPartitions]int
	errs       map[string]int
}

type loadOpts struct {
	perSecond    int           // records per second and partition
	maxRecords   int           // per partition
	maxDuration  time.Duration // from the start
	maxInFlight  int           // per partition, unacknowledged
	valueSize    int
	partitions   []int32 // default: all
	seqBase      int     // first sequence number
	roundMarker  int     // initial round written into values
	extraOptions []kgo.Opt
}

func startLoad(t *testing.T, seeds []string, topic string, o loadOpts) *load {
	t.Helper()
	if o.partitions == nil {
		for p := range int32(numPartitions) {
			o.partitions = append(o.partitions, p)
		}
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent: franz-go's default with acks=all
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordDeliveryTimeout(60 * time.Second),
		kgo.MaxBufferedRecords(len(o.partitions)*o.maxInFlight + 100),
	}
	opts = append(opts, o.extraOptions...)
	if path := os.Getenv("ARUS_CRASH_CLIENT_LOG"); path != "" {
		// Debugging aid: the producer's own log (franz-go, debug level).
		f, err := os.Create(path)
		if err != nil {
			t.Fatalf("ARUS_CRASH_CLIENT_LOG: %v", err)
		}
		t.Cleanup(func() { f.Close() })
		opts = append(opts, kgo.WithLogger(kgo.BasicLogger(f, kgo.LogLevelDebug, nil)))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("producer client: %v", err)
	}
	l := &load{t: t, cl: cl, topic: topic, opts: o, stopCh: make(chan struct{}), errs: map[string]int{}}
	l.round.Store(int64(o.roundMarker))
	deadline := time.Now().Add(o.maxDuration)
	for _, p := range o.partitions {
		l.workers.Add(1)
		go l.run(p, deadline)
	}
	t.Cleanup(func() { l.stop() })
	return l
}

func (l *load) run(p int32, deadline time.Time) {
	defer l.workers.Done()
	tick := time.NewTicker(time.Second / time.Duration(l.opts.perSecond))
	defer tick.Stop()
	inFlight := make(chan struct{}, l.opts.maxInFlight)
	for i := range l.opts.maxRecords {
		select {
		case <-l.stopCh:
			return
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return
		}
		select {
		case inFlight <- struct{}{}:
		case <-l.stopCh:
			return
		}
		seq := l.opts.seqBase + i
		l.promises.Add(1)
		l.produced.Add(1)
		rec := &kgo.Record{Topic: l.topic, Partition: p, Value: recordValue(p, seq, int(l.round.Load()), l.opts.valueSize)}
		l.cl.Produce(context.Background(), rec, func(rec *kgo.Record, err error) {
			defer l.promises.Done()
			<-inFlight
			now := time.Now()
			l.mu.Lock()
			defer l.mu.Unlock()
			if err != nil {
				l.failed++
				l.failedPart[rec.Partition]++
				if len(l.errs) < 20 {
					l.errs[err.Error()]++
				}
				return
			}
			l.acks = append(l.acks, ack{partition: rec.Partition, offset: rec.Offset, value: rec.Value, at: now})
			l.nAcked.Add(1)
			l.perPart[rec.Partition].Add(1)
		})
	}
}

// stop ends producing, waits for every outstanding record to be
// acknowledged or failed, and returns the acknowledged ones.
func (l *load) stop() []ack {
	l.stopOnce.Do(func() {
		t := l.t
		close(l.stopCh)
		waitOrFail(t, 30*time.Second, "producer goroutines to stop", l.workers.Wait)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if err := l.cl.Flush(ctx); err != nil {
			t.Errorf("flush producer: %v", err)
		}
		waitOrFail(t, 90*time.Second, "every produce promise to be called", l.promises.Wait)
		closed := make(chan struct{})
		go func() { l.cl.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(30 * time.Second):
			t.Errorf("producer client Close did not return within 30s")
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Logf("load: %d records produced, %d acknowledged, %d failed (per partition %v) %v",
			l.produced.Load(), len(l.acks), l.failed, l.failedPart, l.errs)
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acks)
}

// ackTimes returns the times records of partition p were acknowledged.
func (l *load) ackTimes(p int32) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for _, a := range l.acks {
		if a.partition == p {
			out = append(out, a.at)
		}
	}
	return out
}

// longestStall is the longest time partition p went without an
// acknowledgement between from and to (the client's view of the outage).
func (l *load) longestStall(p int32, from, to time.Time) time.Duration {
	if now := time.Now(); to.After(now) {
		to = now
	}
	prev := from
	var longest time.Duration
	for _, at := range l.ackTimes(p) {
		if at.Before(from) || at.After(to) {
			continue
		}
		longest = max(longest, at.Sub(prev))
		prev = at
	}
	return max(longest, to.Sub(prev))
}

// waitAcks waits until n more records (in total, or of partition p if p
// >= 0) than base are acknowledged.
func (l *load) waitAcks(p int32, base, n int64, timeout time.Duration, what string) {
	l.t.Helper()
	count := func() int64 {
		if p >= 0 {
			return l.perPart[p].Load()
		}
		return l.nAcked.Load()
	}
	if !poll(timeout, nil, func() bool { return count()-base >= n }) {
		l.mu.Lock()
		failed, errs := l.failed, fmt.Sprint(l.errs)
		l.mu.Unlock()
		l.t.Fatalf("%s: only %d of %d acknowledgements within %s (%d records failed: %s)",
			what, count()-base, n, timeout, failed, errs)
	}
}

// ---------------------------------------------------------------------
// kill -9 of a partition leader and of the active controller

type killKind int

const (
	killLeader killKind = iota
	killController
)

func (k killKind) String() string {
	if k == killLeader {
		return "partition leader"
	}
	return "active controller"
}

type killRound struct {
	kind  killKind
	after int64 // SIGKILL once this many records were acknowledged in the round
}

// failover is what one round measured.
type failover struct {
	round        int
	kind         killKind
	victim       int32
	partition    int32 // leader rounds: the partition whose leader was killed
	led          []int32
	newLeader    time.Duration // kill -> Metadata shows new leaders (of every partition the victim led)
	newCtl       time.Duration // controller rounds: kill -> Metadata shows a new ControllerID
	stall        time.Duration // longest gap between acks of a partition the victim led
	restart      time.Duration // restart -> listening
	rejoin       time.Duration // listening -> back in every ISR, as every node reports
	ackedAtKill  int64
	ackedInRound int64
}

func (f failover) String() string {
	s := fmt.Sprintf("round %d: kill -9 %s node %d", f.round, f.kind, f.victim)
	if f.kind == killLeader {
		s += fmt.Sprintf(" (leader of partition %d)", f.partition)
	}
	s += fmt.Sprintf(" after %d acks; ", f.ackedAtKill)
	if f.kind == killController {
		s += fmt.Sprintf("new controller after %s; ", f.newCtl.Round(time.Millisecond))
	}
	if len(f.led) > 0 {
		s += fmt.Sprintf("new leader of %v after %s; longest produce stall %s; ", f.led,
			f.newLeader.Round(time.Millisecond), f.stall.Round(time.Millisecond))
	} else {
		s += "it led no partition; "
	}
	s += fmt.Sprintf("restarted in %s, back in every ISR %s later", f.restart.Round(time.Millisecond), f.rejoin.Round(time.Millisecond))
	return s
}

// runKillRound kills one node mid-stream, measures failover, restarts it
// and waits until it is back in every ISR.
func (c *cluster) runKillRound(l *load, no int, r killRound) failover {
	t := c.t
	t.Helper()
	f := failover{round: no, kind: r.kind, partition: -1}
	before, err := c.liveView()
	if err != nil {
		t.Fatalf("round %d: %v", no, err)
	}
	switch r.kind {
	case killController:
		f.victim = before.controller
	case killLeader:
		// The leader of partition 0, or of the first partition not led by
		// the active controller, so that this round kills a leader only.
		f.partition = 0
		for p := range int32(numPartitions) {
			if before.leader[p] != before.controller {
				f.partition = p
				break
			}
		}
		f.victim = before.leader[f.partition]
	}
	if f.victim < 0 || c.nodes[f.victim] == nil {
		t.Fatalf("round %d: no node to kill (%s)", no, before)
	}
	for p := range int32(numPartitions) {
		if before.leader[p] == f.victim {
			f.led = append(f.led, p)
		}
	}
	t.Logf("round %d: %s; will kill -9 node %d (%s) after %d more acks", no, before, f.victim, r.kind, r.after)

	l.round.Store(int64(no))
	roundBase := l.nAcked.Load()
	l.waitAcks(-1, roundBase, r.after, 60*time.Second, fmt.Sprintf("round %d before the kill", no))
	victim := c.nodes[f.victim]
	killedAt := time.Now()
	victim.reap(syscall.SIGKILL, victim.send(syscall.SIGKILL))
	f.ackedAtKill = l.nAcked.Load() - roundBase

	// Poll the survivors until they report a new controller / new leaders.
	var last string
	ok := poll(60*time.Second, nil, func() bool {
		v, err := c.liveView(f.victim)
		if err != nil {
			last = err.Error()
			return false
		}
		last = v.String()
		now := time.Since(killedAt)
		if r.kind == killController && f.newCtl == 0 && v.controller >= 0 && v.controller != f.victim {
			f.newCtl = now
		}
		moved := true
		for _, p := range f.led {
			if v.leader[p] < 0 || v.leader[p] == f.victim {
				moved = false
			}
		}
		if moved && f.newLeader == 0 {
			f.newLeader = now
		}
		return f.newLeader != 0 && (r.kind != killController || f.newCtl != 0)
	})
	if !ok {
		t.Fatalf("round %d: after kill -9 of node %d (%s) the survivors did not fail over within 60s; last metadata: %s",
			no, f.victim, r.kind, last)
	}
	if len(f.led) == 0 {
		f.newLeader = 0
	}
	t.Logf("round %d: failed over: %s", no, last)

	// Clients continue: every partition the victim led takes writes again.
	for _, p := range f.led {
		l.waitAcks(p, l.perPart[p].Load(), 20, 60*time.Second, fmt.Sprintf("round %d: partition %d after failover", no, p))
	}

	restartAt := time.Now()
	c.restart(f.victim)
	f.restart = time.Since(restartAt)
	f.rejoin = c.waitHealthy(90*time.Second, fmt.Sprintf("round %d: node %d back in every ISR", no, f.victim))
	for _, p := range f.led {
		f.stall = max(f.stall, l.longestStall(p, killedAt.Add(-time.Second), killedAt.Add(f.newLeader+30*time.Second)))
	}
	f.ackedInRound = l.nAcked.Load() - roundBase
	t.Logf("FAILOVER %s", f)
	return f
}

// TestClusterKill runs three arus processes under continuous acks=all load
// and kills, one round at a time, a partition leader or the active
// controller with SIGKILL at a varied point of the stream, measures the
// failover, restarts the node and waits for it to rejoin every ISR.
// Afterwards every acknowledged record must be readable exactly once at
// its offset, in order, and the replicas must hold identical logs.
func TestClusterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test (about 2 minutes); skipped with -short")
	}
	rng, seed := seededRand(t)
	// Kill points: how many acknowledgements into each round the node
	// dies. Each round starts with every node back in every ISR.
	rounds := []killRound{
		{kind: killLeader, after: 300 + rng.Int64N(900)},
		{kind: killController, after: 100 + rng.Int64N(500)},
		{kind: killLeader, after: 1 + rng.Int64N(30)},
		{kind: killController, after: 1000 + rng.Int64N(1500)},
		{kind: killLeader, after: 2000 + rng.Int64N(2000)},
		{kind: killController, after: 1 + rng.Int64N(10)},
	}
	runClusterKill(t, localSpec(t, 3), rounds, seed)
}

// runClusterKill is TestClusterKill's body: a 3-node cluster, the load,
// the kill rounds, then every acknowledged record checked and the
// replicas compared byte for byte.
func runClusterKill(t *testing.T, spec clusterSpec, rounds []killRound, seed uint64) {
	const topic = "cluster"
	c := newCluster(t, spec, topic)
	c.startAll()
	c.createTopic()
	c.waitHealthy(30*time.Second, "topic created with full ISRs on every node")

	var producerOpts []kgo.Opt
	if spec.secure != nil {
		for _, id := range c.ids {
			spec.secure.checkPlainRefused(t, net.JoinHostPort(spec.hosts[id], strconv.Itoa(spec.inter[id])))
		}
		producerOpts = spec.secure.producerSetup(t, c)
	}
	l := startLoad(t, c.addrs(), topic, loadOpts{
		perSecond: 200, maxRecords: 60000, maxDuration: 4 * time.Minute, maxInFlight: 4000, valueSize: 100,
		extraOptions: producerOpts,
	})
	var results []failover
	for i, r := range rounds {
		results = append(results, c.runKillRound(l, i+1, r))
		if t.Failed() {
			t.Fatalf("round %d failed (seed %d)", i+1, seed)
		}
	}

	acked := l.stop()
	if len(acked) == 0 {
		t.Fatal("no record was acknowledged")
	}
	v, err := c.liveView()
	if err != nil {
		t.Fatal(err)
	}
	verify(t, c.addr(v.leader[0]), topic, acked, c.clientOpts...)
	c.waitReplicasEqualSize(20 * time.Second)
	if v, err = c.liveView(); err != nil {
		t.Fatal(err)
	}
	t.Logf("at shutdown: %s", v)
	c.stopAll()
	c.compareReplicas(acked, v.isr)

	for _, f := range results {
		t.Logf("FAILOVER %s", f)
	}
}

// ---------------------------------------------------------------------
// Network partition with network namespaces

// netLab is a bridge in the root namespace with one network namespace per
// node, each joined to the bridge by a veth pair:
//
//	[ns arus-X-1: eth 10.a.b.1] ==veth== [bridge 10.a.b.254] ==veth== [ns arus-X-2: 10.a.b.2] ...
//
// The test process (root namespace) reaches every node through the
// bridge. Setting a node's bridge-side veth down cuts it off from
// everyone, the test process included.
type netLab struct {
	t      *testing.T
	subnet string // "10.a.b."
	bridge string
	ns     map[int32]string // namespace per node
	hostIf map[int32]string // bridge-side veth per node
}

// ipCmd runs ip(8) with args.
func ipCmd(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// newNetLab builds the namespaces, or skips the test saying why it cannot.
func newNetLab(t *testing.T, rng *rand.Rand, ids []int32) *netLab {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("network partition test needs Linux network namespaces")
	}
	if os.Geteuid() != 0 {
		t.Skip("network partition test needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) for ip netns; run the suite as root to include it")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network partition test needs ip(8) from iproute2: not on PATH")
	}
	suffix := fmt.Sprintf("%06x", (uint32(os.Getpid())<<8|uint32(rng.IntN(256)))&0xffffff)
	lab := &netLab{t: t, bridge: "arbr" + suffix, ns: map[int32]string{}, hostIf: map[int32]string{}}
	// A 10.a.b.0/24 that no interface or route here uses yet.
	routes, _ := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	addrs, _ := exec.Command("ip", "-4", "addr").Output()
	for range 50 {
		s := fmt.Sprintf("10.%d.%d.", 200+rng.IntN(50), rng.IntN(256))
		if !bytes.Contains(routes, []byte(s)) && !bytes.Contains(addrs, []byte(s)) {
			lab.subnet = s
			break
		}
	}
	if lab.subnet == "" {
		t.Skip("network partition test: no free 10.x.y.0/24 subnet for the namespaces")
	}
	// Probe: can we create a namespace at all (a container may forbid it)?
	probe := "arus-" + suffix + "-probe"
	if err := ipCmd("netns", "add", probe); err != nil {
		t.Skipf("network partition test: cannot create network namespaces here: %v", err)
	}
	if err := ipCmd("netns", "del", probe); err != nil {
		t.Fatalf("remove probe namespace: %v", err)
	}
	t.Cleanup(lab.teardown) // registered before the nodes: runs after they are killed
	must := func(args ...string) {
		t.Helper()
		if err := ipCmd(args...); err != nil {
			t.Skipf("network partition test: setting up namespaces failed (%v); is bridge/veth support missing?", err)
		}
	}
	must("link", "add", lab.bridge, "type", "bridge")
	must("addr", "add", lab.subnet+"254/24", "dev", lab.bridge)
	must("link", "set", lab.bridge, "up")
	for _, id := range ids {
		ns := fmt.Sprintf("arus-%s-%d", suffix, id)
		hostIf := fmt.Sprintf("arv%s%d", suffix, id)
		nsIf := fmt.Sprintf("arn%s%d", suffix, id)
		must("netns", "add", ns)
		lab.ns[id] = ns
		must("link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
		lab.hostIf[id] = hostIf
		must("link", "set", nsIf, "netns", ns)
		must("link", "set", hostIf, "master", lab.bridge)
		must("link", "set", hostIf, "up")
		must("-n", ns, "link", "set", "lo", "up")
		must("-n", ns, "addr", "add", fmt.Sprintf("%s%d/24", lab.subnet, id), "dev", nsIf)
		must("-n", ns, "link", "set", nsIf, "up")
	}
	t.Logf("netns lab: bridge %s %s0/24, namespaces %v", lab.bridge, lab.subnet, lab.ns)
	return lab
}

func (lab *netLab) teardown() {
	for id, ns := range lab.ns {
		if err := ipCmd("netns", "del", ns); err != nil {
			lab.t.Logf("cleanup: %v", err)
		}
		_ = ipCmd("link", "del", lab.hostIf[id]) // gone with the namespace unless it was never moved
	}
	if err := ipCmd("link", "del", lab.bridge); err != nil {
		lab.t.Logf("cleanup: %v", err)
	}
}

func (lab *netLab) spec(ids []int32) clusterSpec {
	spec := clusterSpec{hosts: map[int32]string{}, ports: map[int32]int{}, inter: map[int32]int{}, prefix: map[int32][]string{}}
	for _, id := range ids {
		spec.hosts[id] = fmt.Sprintf("%s%d", lab.subnet, id)
		spec.ports[id] = 9092 // every node has its own namespace
		spec.inter[id] = 9093
		spec.prefix[id] = []string{"ip", "netns", "exec", lab.ns[id]}
	}
	return spec
}

// setLink cuts (up=false) or restores node id's link to the bridge.
func (lab *netLab) setLink(id int32, up bool) {
	lab.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if err := ipCmd("link", "set", lab.hostIf[id], state); err != nil {
		lab.t.Fatalf("set link of node %d %s: %v", id, state, err)
	}
}

// dialer dials from inside node id's namespace: each dial runs on a
// fresh OS thread that joins the namespace and is thrown away afterwards
// (the goroutine exits while locked to it), so no other goroutine ever
// runs in the namespace. A socket stays in the namespace it was made in.
func (lab *netLab) dialer(id int32) func(ctx context.Context, network, host string) (net.Conn, error) {
	path := "/run/netns/" + lab.ns[id]
	if _, err := os.Stat(path); err != nil {
		path = "/var/run/netns/" + lab.ns[id]
	}
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
			f, err := os.Open(path)
			if err != nil {
				ch <- result{nil, err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- result{nil, fmt.Errorf("setns %s: %w", path, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, host)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// produceHooks counts Produce requests written to brokers and Produce
// responses read back.
type produceHooks struct{ written, read atomic.Int64 }

func (h *produceHooks) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err == nil {
		h.written.Add(1)
	}
}

func (h *produceHooks) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err == nil {
		h.read.Add(1)
	}
}

// TestClusterNetworkPartition runs the three nodes in their own network
// namespaces, cuts a partition leader's link under load, and checks that
// the isolated leader acknowledges no acks=all write (min.insync.replicas
// 2), that the majority elects a new leader and takes writes, and that
// after healing the isolated node truncates what it alone appended and
// rejoins every ISR with logs identical to the others'.
func TestClusterNetworkPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("network partition test (about 1 minute); skipped with -short")
	}
	rng, seed := seededRand(t)
	ids := []int32{1, 2, 3}
	lab := newNetLab(t, rng, ids)
	runClusterNetworkPartition(t, lab, lab.spec(ids), rng, seed)
}

// runClusterNetworkPartition is TestClusterNetworkPartition's body on the
// nodes of spec (placed in lab's namespaces): the load, the cut of a
// partition leader's link, the isolated producer, healing, then every
// acknowledged record checked and the replicas compared byte for byte.
func runClusterNetworkPartition(t *testing.T, lab *netLab, spec clusterSpec, rng *rand.Rand, seed uint64) {
	const topic = "split"
	c := newCluster(t, spec, topic)
	ids := c.ids
	c.startAll()
	c.createTopic()
	c.waitHealthy(30*time.Second, "topic created with full ISRs on every node")

	// A cut link drops packets silently: only timeouts reveal it to the
	// client, so shorten them (defaults: 10 s each).
	producerOpts := []kgo.Opt{kgo.ProduceRequestTimeout(5 * time.Second),
		kgo.RequestTimeoutOverhead(5 * time.Second), kgo.DialTimeout(3 * time.Second)}
	// The isolated producer's options besides its dialer (which must add
	// TLS itself on a secured cluster: franz-go takes a custom dialer or
	// a TLS configuration, not both).
	var isoOpts []kgo.Opt
	isoDial := lab.dialer
	if spec.secure != nil {
		for _, id := range ids {
			spec.secure.checkPlainRefused(t, net.JoinHostPort(spec.hosts[id], strconv.Itoa(spec.inter[id])))
		}
		producerOpts = append(producerOpts, spec.secure.producerSetup(t, c)...)
		isoOpts = append(isoOpts, spec.secure.saslOpt(producerUser))
		isoDial = func(id int32) func(ctx context.Context, network, host string) (net.Conn, error) {
			return spec.secure.tlsDialer(lab.dialer(id))
		}
	}
	l := startLoad(t, c.addrs(), topic, loadOpts{
		perSecond: 200, maxRecords: 40000, maxDuration: 3 * time.Minute, maxInFlight: 4000, valueSize: 100,
		extraOptions: producerOpts,
	})
	l.waitAcks(-1, 0, 300+rng.Int64N(700), 60*time.Second, "acks before the partition")

	before, err := c.liveView()
	if err != nil {
		t.Fatal(err)
	}
	// Isolate the leader of a partition that is not the active controller,
	// so the majority keeps its controller and must fence the lost node.
	var part int32 = -1
	for p := range int32(numPartitions) {
		if before.leader[p] != before.controller {
			part = p
			break
		}
	}
	if part < 0 {
		t.Fatalf("every partition is led by the controller: %s", before)
	}
	victim := before.leader[part]
	var majority []int32
	for _, id := range ids {
		if id != victim {
			majority = append(majority, id)
		}
	}
	t.Logf("isolating node %d, leader of partition %d (%s)", victim, part, before)
	l.round.Store(1)
	cutAt := time.Now()
	lab.setLink(victim, false)

	// A producer that can reach only the isolated node: it dials from
	// inside that node's namespace, where no other node is reachable. It
	// is not idempotent: an idempotent one would first need a producer id
	// from the controller, which the isolated node cannot reach, and would
	// never send a Produce request to the isolated leader.
	const isoRecords = 30
	const isoRound = 99
	var isoHooks produceHooks
	iso, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.addr(victim)),
		kgo.Dialer(isoDial(victim)),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProduceRequestTimeout(5 * time.Second),
		kgo.RecordDeliveryTimeout(15 * time.Second),
		kgo.WithHooks(&isoHooks),
	}, isoOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	var isoClose sync.Once
	closeIso := func() { isoClose.Do(iso.Close) }
	t.Cleanup(closeIso)
	var (
		isoWG   sync.WaitGroup
		isoMu   sync.Mutex
		isoAcks []ack
		isoErrs = map[string]int{}
	)
	for i := range isoRecords {
		isoWG.Add(1)
		iso.Produce(context.Background(), &kgo.Record{Topic: topic, Partition: part,
			Value: recordValue(part, 1_000_000_000+i, isoRound, 100)}, func(rec *kgo.Record, err error) {
			defer isoWG.Done()
			isoMu.Lock()
			defer isoMu.Unlock()
			if err != nil {
				isoErrs[err.Error()]++
				return
			}
			isoAcks = append(isoAcks, ack{partition: rec.Partition, offset: rec.Offset, value: rec.Value, at: time.Now()})
		})
	}

	// The majority side fences the lost node and elects a new leader.
	var newLeader time.Duration
	var last string
	if !poll(60*time.Second, nil, func() bool {
		v, err := c.liveView(victim)
		if err != nil {
			last = err.Error()
			return false
		}
		last = v.String()
		if v.leader[part] >= 0 && v.leader[part] != victim {
			newLeader = time.Since(cutAt)
			return true
		}
		return false
	}) {
		t.Fatalf("majority %v elected no new leader for partition %d within 60s; last metadata: %s", majority, part, last)
	}
	t.Logf("FAILOVER network partition: new leader of partition %d after %s (%s)", part, newLeader.Round(time.Millisecond), last)
	var shrunk time.Duration
	if poll(60*time.Second, nil, func() bool {
		v, err := c.liveView(victim)
		if err != nil {
			return false
		}
		last = v.String()
		for p := range int32(numPartitions) {
			if slices.Contains(v.isr[p], victim) {
				return false
			}
		}
		shrunk = time.Since(cutAt)
		return true
	}) {
		t.Logf("FAILOVER network partition: node %d out of every ISR after %s (%s)", victim, shrunk.Round(time.Millisecond), last)
	} else {
		t.Logf("node %d still in an ISR 60s after the cut: %s", victim, last)
	}
	l.waitAcks(part, l.perPart[part].Load(), 50, 60*time.Second, fmt.Sprintf("majority takes writes to partition %d", part))

	// The isolated leader must not acknowledge anything.
	waitOrFail(t, 60*time.Second, "the isolated producer's records to time out", isoWG.Wait)
	isoMu.Lock()
	if len(isoAcks) > 0 {
		t.Errorf("isolated leader node %d acknowledged %d acks=all writes with min.insync.replicas=2 (first at offset %d)",
			victim, len(isoAcks), isoAcks[0].offset)
	}
	t.Logf("isolated producer: %d of %d records failed: %v; %d Produce requests written to node %d, %d responses read",
		isoRecords-len(isoAcks), isoRecords, isoErrs, isoHooks.written.Load(), victim, isoHooks.read.Load())
	if isoHooks.written.Load() == 0 {
		t.Errorf("the isolated producer never sent a Produce request to node %d: the test proved nothing about acks=all there", victim)
	}
	isoMu.Unlock()
	closeIso() // nothing may retry once the network heals

	healAt := time.Now()
	lab.setLink(victim, true)
	rejoin := c.waitHealthy(90*time.Second, fmt.Sprintf("node %d back in every ISR after healing", victim))
	var stalls []string
	for p := range int32(numPartitions) {
		stalls = append(stalls, fmt.Sprintf("p%d %s", p, l.longestStall(p, cutAt.Add(-time.Second), healAt).Round(time.Millisecond)))
	}
	t.Logf("FAILOVER network partition: cut for %s; healed node %d back in every ISR %s after healing; longest produce stall while cut: %s",
		healAt.Sub(cutAt).Round(time.Millisecond), victim, rejoin.Round(time.Millisecond), strings.Join(stalls, ", "))
	l.waitAcks(-1, l.nAcked.Load(), 200, 60*time.Second, "acks after healing")

	acked := l.stop()
	v, err := c.liveView()
	if err != nil {
		t.Fatal(err)
	}
	logs := verify(t, c.addr(v.leader[0]), topic, acked, c.clientOpts...)
	for p, recs := range logs {
		for _, r := range recs {
			if _, _, rnd, _, err := parseValue(r.value); err == nil && rnd == isoRound {
				t.Errorf("partition %d offset %d: %.24q was written only to the isolated leader and never acknowledged, but survived",
					p, r.offset, r.value)
			}
		}
	}
	c.waitReplicasEqualSize(20 * time.Second)
	if v, err = c.liveView(); err != nil {
		t.Fatal(err)
	}
	t.Logf("at shutdown: %s", v)
	c.stopAll()
	c.compareReplicas(acked, v.isr)
	if t.Failed() {
		t.Logf("failed with seed %d", seed)
	}
}
