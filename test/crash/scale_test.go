//go:build integration

package crash

// Scale measurements of issue 11 on a real three-node cluster. They take
// minutes and much of the machine, so they run only with ARUS_SCALE=1 (and
// the integration tag); they log figures and assert only correctness
// (every partition led, every topic in the Metadata answer), never timing.
//
//	ARUS_SCALE=1 go test -tags integration -count=1 -v -timeout 60m -run 'TestScale' ./test/crash

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// pollEvery is poll with a coarser tick, for conditions that cost a large
// Metadata request each.
func pollEvery(timeout, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
}

func requireScale(t *testing.T) {
	t.Helper()
	if os.Getenv("ARUS_SCALE") == "" || testing.Short() {
		t.Skip("scale measurement; set ARUS_SCALE=1 to run it")
	}
}

// scaleCluster starts three nodes that accept any number of partitions.
func scaleCluster(t *testing.T, topic string) *cluster {
	t.Helper()
	c := newCluster(t, localSpec(t, 3), topic)
	for _, id := range c.ids {
		b := c.nodes[id]
		args := b.args
		b.args = func(listener string) []string {
			return append(args(listener), "--override", "arus.max.partitions.per.broker=-1")
		}
	}
	c.startAll()
	return c
}

// metadataAll asks node id for every topic (a null topic list) and returns
// the response and how long it took.
func metadataAll(ctx context.Context, c *cluster, id int32) (*kmsg.MetadataResponse, time.Duration, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = nil // all topics
	seeds := c.admin(id).SeedBrokers()
	start := time.Now()
	resp, err := req.RequestWith(ctx, seeds[0])
	return resp, time.Since(start), err
}

// leaders counts, over the topics of resp with the given prefix, the
// partitions led by each broker; -1 counts partitions without a leader.
func leaders(resp *kmsg.MetadataResponse, prefix string) (map[int32]int, int) {
	out := map[int32]int{}
	n := 0
	for _, rt := range resp.Topics {
		if rt.Topic == nil || len(*rt.Topic) < len(prefix) || (*rt.Topic)[:len(prefix)] != prefix {
			continue
		}
		for _, p := range rt.Partitions {
			n++
			if p.ErrorCode != 0 {
				out[-1]++
				continue
			}
			out[p.Leader]++
		}
	}
	return out, n
}

// createTopics creates topics named prefix-0000.. of parts partitions and
// RF rf, in requests of perRequest topics, and returns how long it took
// until all answered.
func createTopics(t *testing.T, c *cluster, prefix string, topics, parts, rf, perRequest int) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.RequestTimeoutOverhead(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32((10 * time.Minute).Milliseconds()))
	start := time.Now()
	for first := 0; first < topics; first += perRequest {
		var names []string
		for i := first; i < min(first+perRequest, topics); i++ {
			names = append(names, fmt.Sprintf("%s-%04d", prefix, i))
		}
		resp, err := adm.CreateTopics(ctx, int32(parts), int16(rf), nil, names...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("create topics %s..: %v", names[0], err)
		}
		// Per-request times show whether creation stays linear as the
		// cluster grows.
		if done := first + len(names); done == len(names) || done*10/topics != first*10/topics {
			t.Logf("%d of %d topics created after %s", done, topics, time.Since(start).Round(time.Millisecond))
		}
	}
	return time.Since(start)
}

// waitAllLed waits until node id's Metadata shows want partitions of the
// prefix's topics, each with a leader, and returns the answer.
func waitAllLed(t *testing.T, c *cluster, id int32, prefix string, want int, timeout time.Duration) *kmsg.MetadataResponse {
	t.Helper()
	var last *kmsg.MetadataResponse
	var why string
	if !pollEvery(timeout, time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		resp, _, err := metadataAll(ctx, c, id)
		if err != nil {
			why = err.Error()
			return false
		}
		by, n := leaders(resp, prefix)
		last = resp
		why = fmt.Sprintf("%d partitions, leaders %v", n, by)
		return n == want && by[-1] == 0
	}) {
		t.Fatalf("node %d: not every partition led within %s: %s", id, timeout, why)
	}
	return last
}

// TestScaleControlledShutdown: a broker leading ARUS_SCALE_LEADERS
// (default 3,000) partitions of RF 3 gets SIGTERM; the test logs how long
// until the other nodes' Metadata shows none of them led by it (the
// controlled shutdown moved leadership) and until the process exited.
func TestScaleControlledShutdown(t *testing.T) {
	requireScale(t)
	perBroker := envInt(t, "ARUS_SCALE_LEADERS", 3000)
	const prefix = "cs"
	c := scaleCluster(t, prefix)
	const parts = 100
	topics := (3*perBroker + parts - 1) / parts
	took := createTopics(t, c, prefix, topics, parts, 3, 10)
	t.Logf("created %d topics x %d partitions (RF 3) in %s", topics, parts, took.Round(time.Millisecond))
	ctl := waitAllLed(t, c, 1, prefix, topics*parts, 20*time.Minute).ControllerID
	// A broker that is not the active controller: the measurement is the
	// leadership handover, not a controller election.
	victim := int32(1)
	for victim == ctl {
		victim++
	}
	observer := int32(1)
	for observer == victim {
		observer++
	}
	var before map[int32]int
	if !pollEvery(10*time.Minute, time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		resp, _, err := metadataAll(ctx, c, observer)
		if err != nil {
			return false
		}
		before, _ = leaders(resp, prefix)
		return before[victim] >= perBroker*9/10
	}) {
		t.Fatalf("leaders not balanced over the three brokers: %v", before)
	}
	t.Logf("leaders before: %v; SIGTERM to node %d (controller %d)", before, victim, ctl)
	start := time.Now()
	sendErr := c.nodes[victim].send(syscall.SIGTERM)
	var after map[int32]int
	if !pollEvery(5*time.Minute, 50*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		resp, _, err := metadataAll(ctx, c, observer)
		if err != nil {
			return false
		}
		after, _ = leaders(resp, prefix)
		return after[victim] == 0
	}) {
		t.Fatalf("partitions still led by the stopped broker: %v", after)
	}
	moved := time.Since(start)
	c.nodes[victim].reap(syscall.SIGTERM, sendErr)
	exited := time.Since(start)
	t.Logf("controlled shutdown of node %d with %d leaders: leadership moved in %s (seen by node %d; leaders now %v), process exited after %s",
		victim, before[victim], moved.Round(time.Millisecond), observer, after, exited.Round(time.Millisecond))
}

// TestScaleManyPartitions: ARUS_SCALE_TOPICS (default 1,000) topics of
// ARUS_SCALE_PARTITIONS (default 100) partitions, RF ARUS_SCALE_RF
// (default 3), on three nodes: the time to create them all, to see every
// partition led, and the latency of Metadata for all topics (median and
// maximum of ARUS_SCALE_METADATA_RUNS, default 10).
func TestScaleManyPartitions(t *testing.T) {
	requireScale(t)
	topics := envInt(t, "ARUS_SCALE_TOPICS", 1000)
	parts := envInt(t, "ARUS_SCALE_PARTITIONS", 100)
	rf := envInt(t, "ARUS_SCALE_RF", 3)
	runs := envInt(t, "ARUS_SCALE_METADATA_RUNS", 10)
	const prefix = "many"
	c := scaleCluster(t, prefix)
	start := time.Now()
	took := createTopics(t, c, prefix, topics, parts, rf, 10)
	t.Logf("CreateTopics of %d topics x %d partitions (RF %d) answered in %s", topics, parts, rf, took.Round(time.Millisecond))
	for _, id := range c.ids {
		waitAllLed(t, c, id, prefix, topics*parts, 30*time.Minute)
	}
	t.Logf("every node's Metadata shows all %d partitions led %s after the first CreateTopics", topics*parts, time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var lat []time.Duration
	var size int
	for i := range runs {
		id := c.ids[i%len(c.ids)]
		resp, d, err := metadataAll(ctx, c, id)
		if err != nil {
			t.Fatalf("metadata from node %d: %v", id, err)
		}
		if got := len(resp.Topics); got < topics {
			t.Fatalf("metadata from node %d lists %d topics, want %d", id, got, topics)
		}
		size = len(resp.AppendTo(nil))
		lat = append(lat, d)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("Metadata for all %d topics (%d partitions, %d-byte response): median %s, max %s over %d requests",
		topics, topics*parts, size, lat[len(lat)/2].Round(time.Millisecond), slices.Max(lat).Round(time.Millisecond), runs)
}
