package broker_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

// scrape fetches /metrics from addr and parses it with Prometheus's text
// parser.
func scrape(t *testing.T, addr string) scraped {
	t.Helper()
	resp, err := httpClient.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: status %d", addr, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics of %s: %v", addr, err)
	}
	return families
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

type scraped map[string]*dto.MetricFamily

// sum adds the values of the series of family name whose labels include
// every pair in labels ("name", "value", ...); -1 when there is none.
func (s scraped) sum(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return -1
	}
	total, found := 0.0, false
	for _, m := range f.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	if !found {
		return -1
	}
	return total
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		ok := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func status(addr, path string) int {
	resp, err := httpClient.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestMetricsUnderLoad(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithHTTP(), arustest.WithAutoCreate(false))
	addr := b.HTTPAddr().String()
	if code := status(addr, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d", code)
	}
	arustest.Eventually(t, 10*time.Second, "/readyz 200", func() bool { return status(addr, "/readyz") == http.StatusOK })
	// The web console shares the listener: its page and its API.
	for _, path := range []string{"/", "/api/cluster"} {
		if code := status(addr, path); code != http.StatusOK {
			t.Fatalf("console %s on the metrics listener: %d", path, code)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "m"); err != nil {
		t.Fatal(err)
	}
	before := scrape(t, addr)
	producesBefore := max(before.sum("arus_requests_total", "api", "Produce"), 0)

	// 12 records to partition 0, 8 to partition 1, one Produce request each.
	var bytesIn int
	for i := 0; i < 20; i++ {
		r := &kgo.Record{Topic: "m", Partition: int32(min(i/12, 1)), Value: []byte(fmt.Sprintf("value-%02d", i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// One ListOffsets naming a partition that does not exist: one error.
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "m"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition, lp.Timestamp = 99, -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	// Straight to the broker: kgo would answer it itself, unsent.
	if _, err := cl.SeedBrokers()[0].Request(ctx, lo); err != nil {
		t.Fatal(err)
	}
	// Committed offsets 5 and 2: lag 7 and 6.
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "m", Partition: 0, At: 5, LeaderEpoch: -1})
	offsets.Add(kadm.Offset{Topic: "m", Partition: 1, At: 2, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(ctx, "lagging", offsets); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	// Consume everything once.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("m"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	for consumed := 0; consumed < 20; {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		consumed += fs.NumRecords()
	}

	s := scrape(t, addr)
	if got := s.sum("arus_requests_total", "api", "Produce") - producesBefore; got != 20 {
		t.Errorf("Produce requests rose by %v, want 20", got)
	}
	if got := s.sum("arus_request_errors_total", "api", "ListOffsets", "error", kerr.UnknownTopicOrPartition.Message); got != 1 {
		t.Errorf("ListOffsets UNKNOWN_TOPIC_OR_PARTITION errors = %v, want 1", got)
	}
	if got := s.sum("arus_request_errors_total", "api", "Produce"); got != -1 {
		t.Errorf("Produce errors = %v, want none", got)
	}
	if got := s.sum("arus_request_duration_seconds", "api", "Produce"); got < 20 {
		t.Errorf("Produce latency observations = %v, want at least 20", got)
	}
	for _, phase := range []string{"queue", "handler", "wait", "send"} {
		if got := s.sum("arus_request_phase_seconds", "api", "Produce", "phase", phase); got < 20 {
			t.Errorf("Produce %s phase observations = %v, want at least 20", phase, got)
		}
	}
	if got := s.sum("arus_topic_records_in_total", "topic", "m"); got != 20 {
		t.Errorf("records in = %v, want 20", got)
	}
	bytesIn = int(s.sum("arus_topic_bytes_in_total", "topic", "m"))
	if bytesIn <= 20*8 {
		t.Errorf("bytes in = %d, want more than the values' 160 bytes", bytesIn)
	}
	arustest.Eventually(t, 10*time.Second, "records out counted", func() bool {
		s = scrape(t, addr)
		return s.sum("arus_topic_records_out_total", "topic", "m") == 20
	})
	if got := s.sum("arus_topic_bytes_out_total", "topic", "m"); int(got) != bytesIn {
		t.Errorf("bytes out = %v, want the %d bytes produced (each batch fetched once)", got, bytesIn)
	}
	// Single replica: every acknowledged produce was fsynced first.
	if got := s.sum("arus_log_flush_duration_seconds"); got < 1 {
		t.Errorf("fsync observations = %v", got)
	}
	if got := s.sum("arus_log_flush_batches"); got < 1 {
		t.Errorf("group commit observations = %v", got)
	}

	// Lag = high watermark - committed.
	for _, c := range []struct {
		partition   string
		lag, commit float64
	}{{"0", 7, 5}, {"1", 6, 2}} {
		if got := s.sum("arus_consumer_group_lag", "group", "lagging", "topic", "m", "partition", c.partition); got != c.lag {
			t.Errorf("lag of partition %s = %v, want %v", c.partition, got, c.lag)
		}
		if got := s.sum("arus_consumer_group_committed_offset", "group", "lagging", "topic", "m", "partition", c.partition); got != c.commit {
			t.Errorf("committed offset of partition %s = %v, want %v", c.partition, got, c.commit)
		}
	}
	if got := s.sum("arus_consumer_group_lag_sum", "group", "lagging", "topic", "m"); got != 13 {
		t.Errorf("lag sum = %v, want 13", got)
	}
	if got := s.sum("arus_consumer_groups", "state", "Empty"); got < 1 {
		t.Errorf("groups in state Empty = %v", got)
	}
	// Partition state.
	if got := s.sum("arus_log_end_offset", "topic", "m", "partition", "0"); got != 12 {
		t.Errorf("log end offset of m-0 = %v, want 12", got)
	}
	if got := s.sum("arus_high_watermark", "topic", "m", "partition", "1"); got != 8 {
		t.Errorf("high watermark of m-1 = %v, want 8", got)
	}
	if got := s.sum("arus_log_segments", "topic", "m"); got != 2 {
		t.Errorf("segments of m = %v, want 2 (one per partition)", got)
	}
	if got := s.sum("arus_log_size_bytes", "topic", "m"); int(got) != bytesIn {
		t.Errorf("log size of m = %v, want %d", got, bytesIn)
	}
	if led, hosted := s.sum("arus_partitions_led"), s.sum("arus_partitions_hosted"); led < 2 || led != hosted {
		t.Errorf("led %v, hosted %v: a single broker leads all it hosts", led, hosted)
	}
	for _, name := range []string{"arus_partitions_under_replicated", "arus_partitions_under_min_isr", "arus_partitions_offline"} {
		if got := s.sum(name); got != 0 {
			t.Errorf("%s = %v, want 0", name, got)
		}
	}
	if got := s.sum("arus_controller_active"); got != 1 {
		t.Errorf("controller_active = %v, want 1", got)
	}
	if got := s.sum("arus_raft_term"); got < 1 {
		t.Errorf("raft_term = %v", got)
	}
	if got := s.sum("arus_metadata_broker_lag", "broker", "1"); got != 0 {
		t.Errorf("metadata lag of broker 1 = %v, want 0", got)
	}
	if got := s.sum("arus_connections", "listener", "client"); got < 2 {
		t.Errorf("client connections = %v, want at least the 2 clients", got)
	}
	if got := s.sum("arus_decompression_budget_bytes"); got <= 0 {
		t.Errorf("decompression budget = %v", got)
	}
	if got := s.sum("arus_segment_file_cache_capacity"); got <= 0 {
		t.Errorf("file cache capacity = %v", got)
	}
}

func TestMetricsPerPartitionOff(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithHTTP(), arustest.WithMetricsPerPartition(false))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("off"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "off"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := cl.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "off", Partition: 0, At: 1, LeaderEpoch: -1})
	if resp, err := kadm.NewClient(cl).CommitOffsets(ctx, "g", offsets); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	s := scrape(t, b.HTTPAddr().String())
	for _, name := range []string{"arus_consumer_group_lag", "arus_consumer_group_committed_offset", "arus_log_size_bytes", "arus_log_end_offset"} {
		if s[name] != nil {
			t.Errorf("%s exported with arus.metrics.per.partition.enabled=false", name)
		}
	}
	if got := s.sum("arus_consumer_group_lag_sum", "group", "g", "topic", "off"); got != 3 {
		t.Errorf("lag sum = %v, want 3", got)
	}
	if got := s.sum("arus_topic_log_size_bytes", "topic", "off"); got <= 0 {
		t.Errorf("topic log size = %v", got)
	}
}

func TestMetricsUnderReplicatedFollowsFollower(t *testing.T) {
	c := arustest.StartQuorumCluster(t, 3, arustest.WithHTTP())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	arustest.Eventually(t, 30*time.Second, "topic created", func() bool {
		_, err := adm.CreateTopic(ctx, 1, 3, nil, "urp")
		return err == nil || err == kerr.TopicAlreadyExists
	})
	leaderAndISR := func() (int32, []int32) {
		for _, id := range []int32{1, 2, 3} {
			if b := c.Broker(id); b != nil {
				if top, ok := b.Controller().Image().Topics["urp"]; ok {
					p := top.Partitions[0]
					return p.Leader, p.ISR
				}
			}
		}
		return -1, nil
	}
	arustest.Eventually(t, 30*time.Second, "ISR of urp-0 has 3 replicas", func() bool {
		_, isr := leaderAndISR()
		return len(isr) == 3
	})
	leader, _ := leaderAndISR()
	leaderHTTP := c.HTTPAddr(leader)
	under := func() float64 {
		return scrape(t, leaderHTTP).sum("arus_partition_under_replicated", "topic", "urp", "partition", "0")
	}
	// The controller's image can show the ISR before the leader's publisher
	// has applied it and exported the partition's series: wait for the
	// leader's own view.
	arustest.Eventually(t, 30*time.Second, "leader exports urp-0 as fully replicated", func() bool {
		return under() == 0
	})
	// Kill a follower, preferably not the active controller (fewer moving parts).
	follower := int32(-1)
	for _, id := range []int32{1, 2, 3} {
		if id != leader && (follower < 0 || c.ActiveController() == follower) {
			follower = id
		}
	}
	c.Crash(follower)
	arustest.Eventually(t, 30*time.Second, "leader reports urp-0 under-replicated", func() bool {
		if l, _ := leaderAndISR(); l != leader {
			t.Fatalf("leadership moved from %d to %d", leader, l)
		}
		return under() == 1
	})
	if got := scrape(t, leaderHTTP).sum("arus_partitions_under_replicated"); got != 1 {
		t.Errorf("partitions_under_replicated = %v, want 1", got)
	}
	c.Start(follower)
	arustest.Eventually(t, 60*time.Second, "follower back in the ISR: under-replicated 0", func() bool {
		return under() == 0
	})
	s := scrape(t, leaderHTTP)
	if got := s.sum("arus_partitions_under_replicated"); got != 0 {
		t.Errorf("partitions_under_replicated = %v after the follower returned", got)
	}
	if got := s.sum("arus_isr_expands_total"); got < 1 {
		t.Errorf("isr_expands_total = %v, want at least the returning follower", got)
	}
	// Exactly one active controller, every voter with a Raft term.
	active := 0.0
	for _, id := range []int32{1, 2, 3} {
		s := scrape(t, c.HTTPAddr(id))
		active += s.sum("arus_controller_active")
		if s.sum("arus_raft_term") < 1 {
			t.Errorf("node %d: no raft term", id)
		}
	}
	if active != 1 {
		t.Errorf("%v nodes report controller_active, want 1", active)
	}
}

func TestReadyz(t *testing.T) {
	c := arustest.StartQuorumCluster(t, 3, arustest.WithHTTP())
	ids := []int32{1, 2, 3}
	arustest.Eventually(t, 30*time.Second, "every node ready", func() bool {
		return !slices.ContainsFunc(ids, func(id int32) bool { return status(c.HTTPAddr(id), "/readyz") != http.StatusOK })
	})

	// Without a quorum the node is alive but not ready: no heartbeat is
	// acknowledged.
	c.Crash(2)
	c.Crash(3)
	arustest.Eventually(t, 20*time.Second, "/readyz 503 on node 1 without a quorum", func() bool {
		return status(c.HTTPAddr(1), "/readyz") == http.StatusServiceUnavailable
	})
	if code := status(c.HTTPAddr(1), "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d without a quorum, want 200", code)
	}
	// Shutting down: Ready (what /readyz reports) fails from the first
	// moment of the shutdown, and the HTTP listener closes last.
	b1 := c.Broker(1)
	c.Crash(1)
	if err := b1.Ready(); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("Ready after shutdown = %v, want shutting down", err)
	}
	if code := status(c.HTTPAddr(1), "/healthz"); code != 0 {
		t.Errorf("/healthz answered %d after shutdown; the listener should be closed", code)
	}

	// Starting without a quorum: alive, not ready.
	started := make(chan int32, 2)
	var wg sync.WaitGroup
	start := func(id int32) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Start(id)
			started <- id
		}()
	}
	start(1)
	arustest.Eventually(t, 20*time.Second, "/healthz 200 while starting", func() bool {
		return status(c.HTTPAddr(1), "/healthz") == http.StatusOK
	})
	for i := 0; i < 3; i++ {
		if code := status(c.HTTPAddr(1), "/readyz"); code != http.StatusServiceUnavailable {
			t.Errorf("/readyz %d without a metadata quorum, want 503", code)
		}
	}
	start(2)
	defer wg.Wait()
	for i := 0; i < 2; i++ {
		select {
		case <-started:
		case <-time.After(90 * time.Second):
			t.Fatal("nodes did not start once a quorum was possible")
		}
	}
	for _, id := range []int32{1, 2} {
		arustest.Eventually(t, 30*time.Second, "node "+strconv.Itoa(int(id))+" ready", func() bool {
			return status(c.HTTPAddr(id), "/readyz") == http.StatusOK
		})
	}
}
