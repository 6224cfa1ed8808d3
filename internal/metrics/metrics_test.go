package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func produceResponse(codes ...int16) *kmsg.ProduceResponse {
	resp := kmsg.NewPtrProduceResponse()
	rt := kmsg.NewProduceResponseTopic()
	rt.Topic = "t"
	for i, c := range codes {
		rp := kmsg.NewProduceResponseTopicPartition()
		rp.Partition = int32(i)
		rp.ErrorCode = c
		rt.Partitions = append(rt.Partitions, rp)
	}
	resp.Topics = append(resp.Topics, rt)
	return resp
}

func TestForEachErrorCodeFindsNestedCodes(t *testing.T) {
	var got []int16
	forEachErrorCode(produceResponse(0, kerr.NotLeaderForPartition.Code, 0, kerr.NotLeaderForPartition.Code), func(c int16) { got = append(got, c) })
	if len(got) != 2 || got[0] != kerr.NotLeaderForPartition.Code {
		t.Fatalf("codes %v, want two NOT_LEADER_OR_FOLLOWER", got)
	}
	// Top-level code (Heartbeat) and none at all (ApiVersions with 0).
	hb := kmsg.NewPtrHeartbeatResponse()
	hb.ErrorCode = kerr.RebalanceInProgress.Code
	got = nil
	forEachErrorCode(hb, func(c int16) { got = append(got, c) })
	if len(got) != 1 || got[0] != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat codes %v", got)
	}
	got = nil
	forEachErrorCode(kmsg.NewPtrApiVersionsResponse(), func(c int16) { got = append(got, c) })
	if len(got) != 0 {
		t.Fatalf("api versions codes %v, want none", got)
	}
}

func TestObserveRequestCountsByKeyVersionAndError(t *testing.T) {
	m := New(Options{PerPartition: true})
	now := time.Now()
	times := RequestTimes{Received: now, Started: now, Handled: now.Add(time.Millisecond), Finished: now.Add(3 * time.Millisecond), Sent: now.Add(4 * time.Millisecond)}
	for i := 0; i < 3; i++ {
		m.ObserveRequest(0, 9, produceResponse(0), times)
	}
	m.ObserveRequest(0, 11, produceResponse(kerr.NotLeaderForPartition.Code, 0), times)
	m.ObserveRequest(0, 11, nil, times) // acks=0
	if v := testutil.ToFloat64(m.requests.WithLabelValues("Produce", "9")); v != 3 {
		t.Errorf("Produce v9 requests = %v, want 3", v)
	}
	if v := testutil.ToFloat64(m.requests.WithLabelValues("Produce", "11")); v != 2 {
		t.Errorf("Produce v11 requests = %v, want 2", v)
	}
	if v := testutil.ToFloat64(m.requestErrors.WithLabelValues("Produce", "11", "NOT_LEADER_FOR_PARTITION")); v != 1 {
		t.Errorf("Produce v11 NOT_LEADER errors = %v, want 1", v)
	}
	if n := testutil.CollectAndCount(m.requestErrors); n != 1 {
		t.Errorf("%d error series, want 1", n)
	}
	// Every phase of every request was observed.
	if n := testutil.CollectAndCount(m.requestPhase); n != 4 {
		t.Errorf("%d phase series, want 4 (queue, handler, wait, send)", n)
	}
	// Out-of-range keys and versions are ignored, not a panic.
	m.ObserveRequest(-1, 0, nil, times)
	m.ObserveRequest(500, 0, nil, times)
	m.ObserveRequest(0, 99, nil, times)
	var nilMetrics *Metrics
	nilMetrics.ObserveRequest(0, 9, nil, times)
	nilMetrics.Topic("t").Produced(1, 1)
}

type fakeSource Snapshot

func (f fakeSource) Snapshot(context.Context) Snapshot { return Snapshot(f) }

func TestCollectorPerPartitionSwitch(t *testing.T) {
	snap := Snapshot{
		Partitions: []Partition{
			{Topic: "t", Partition: 0, Leader: true, Replicas: 3, ISR: 2, MinISR: 2, SizeBytes: 100, Segments: 1, LogEnd: 10, HighWater: 10},
			{Topic: "t", Partition: 1, Leader: true, Replicas: 3, ISR: 1, MinISR: 2, SizeBytes: 50, Segments: 2, LogEnd: 4, HighWater: 4},
			{Topic: "t", Partition: 2, Leader: false, Replicas: 3, ISR: 1, MinISR: 2, SizeBytes: 5},
		},
		Groups: []Group{{Group: "g", State: "Stable", Members: 2}},
		Lags:   []Lag{{Group: "g", Topic: "t", Partition: 0, Committed: 7, End: 10}, {Group: "g", Topic: "t", Partition: 1, Committed: 1, End: 4}, {Group: "g", Topic: "t", Partition: 2, Committed: 1, End: -1}},
	}
	for _, perPartition := range []bool{true, false} {
		m := New(Options{PerPartition: perPartition})
		m.SetSource(fakeSource(snap))
		var want string
		if perPartition {
			want = `
# HELP arus_consumer_group_lag Records a group has not consumed: partition high watermark minus committed offset (per partition; arus.metrics.per.partition.enabled).
# TYPE arus_consumer_group_lag gauge
arus_consumer_group_lag{group="g",partition="0",topic="t"} 3
arus_consumer_group_lag{group="g",partition="1",topic="t"} 3
`
		}
		want += `
# HELP arus_consumer_group_lag_sum consumer_group_lag summed over a topic's partitions.
# TYPE arus_consumer_group_lag_sum gauge
arus_consumer_group_lag_sum{group="g",topic="t"} 6
# HELP arus_partitions_under_replicated Partitions this broker leads whose ISR is smaller than their replica set.
# TYPE arus_partitions_under_replicated gauge
arus_partitions_under_replicated 2
# HELP arus_partitions_under_min_isr Partitions this broker leads whose ISR is below min.insync.replicas (acks=all produce fails).
# TYPE arus_partitions_under_min_isr gauge
arus_partitions_under_min_isr 1
# HELP arus_partitions_led Partitions this broker leads.
# TYPE arus_partitions_led gauge
arus_partitions_led 2
# HELP arus_partitions_hosted Partition replicas hosted on this broker (leaders and followers).
# TYPE arus_partitions_hosted gauge
arus_partitions_hosted 3
# HELP arus_topic_log_size_bytes Bytes of the hosted partitions' logs of a topic on this broker.
# TYPE arus_topic_log_size_bytes gauge
arus_topic_log_size_bytes{topic="t"} 155
`
		if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want),
			"arus_consumer_group_lag", "arus_consumer_group_lag_sum", "arus_partitions_under_replicated",
			"arus_partitions_under_min_isr", "arus_partitions_led", "arus_partitions_hosted", "arus_topic_log_size_bytes"); err != nil {
			t.Errorf("per partition %v: %v", perPartition, err)
		}
		n, err := testutil.GatherAndCount(m.Registry, "arus_log_size_bytes")
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 3, false: 0}[perPartition]; n != want {
			t.Errorf("per partition %v: %d arus_log_size_bytes series, want %d", perPartition, n, want)
		}
	}
}

func TestProbes(t *testing.T) {
	m := New(Options{})
	var notReady error = errors.New("starting")
	mux := http.NewServeMux()
	m.Register(mux, func() error { return notReady })
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d, want 200", code)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Errorf("/readyz %d %q, want 503 with the reason", code, body)
	}
	notReady = nil
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz %d once ready, want 200", code)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics %d, want 200 with runtime metrics", code)
	}
}
