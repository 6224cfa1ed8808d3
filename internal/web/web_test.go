package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/arus-io/arus/internal/arustest"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/web"
)

// console starts a broker and a console reading it through the Kafka
// protocol, served by httptest.
type console struct {
	t      *testing.T
	broker *arustest.Broker
	srv    *httptest.Server
	web    *web.Server
}

func newConsole(t *testing.T, opts ...arustest.Option) *console {
	t.Helper()
	b := arustest.StartBroker(t, opts...)
	w, err := web.New(web.Config{Bootstrap: []string{b.Addr()}, Logger: arustest.Logger(t), MaxRecords: 100, FetchTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(func() {
		srv.Close()
		w.Close()
	})
	return &console{t: t, broker: b, srv: srv, web: w}
}

// do sends a request and decodes the JSON answer into out (if not nil);
// it returns the status and the "error" field of an error answer.
func (c *console) do(method, path string, body any, out any) (int, string) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		c.t.Fatalf("%s %s: content type %q, body %q", method, path, ct, data)
	}
	if resp.StatusCode >= 400 {
		var e struct{ Error string }
		if err := json.Unmarshal(data, &e); err != nil || e.Error == "" {
			c.t.Fatalf("%s %s: %d without a JSON error: %q", method, path, resp.StatusCode, data)
		}
		if strings.Contains(e.Error, "goroutine ") || strings.Contains(e.Error, ".go:") {
			c.t.Fatalf("%s %s: error leaks internals: %q", method, path, e.Error)
		}
		return resp.StatusCode, e.Error
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, ""
}

func (c *console) mustDo(method, path string, body any, out any) {
	c.t.Helper()
	if status, msg := c.do(method, path, body, out); status != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, path, status, msg)
	}
}

func (c *console) kgo(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.broker.Addr())}, opts...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

type topicList struct {
	Topics []struct {
		Name       string
		Partitions int
		Messages   int64
		EndOffsets int64
	}
}

type topicDetail struct {
	Name              string
	ReplicationFactor int
	Partitions        []struct {
		Partition   int32
		Leader      int32
		Replicas    []int32
		ISR         []int32
		StartOffset int64
		EndOffset   int64
	}
	Configs []struct {
		Name    string
		Value   *string
		Default bool
	}
	Messages int64
}

func TestTopicLifecycle(t *testing.T) {
	c := newConsole(t)
	var cluster struct {
		ClusterID        string
		ActiveController int32
		Controllers      []int32
		Brokers          []struct{ ID int32 }
		Health           string
		Topics           int
	}
	c.mustDo("GET", "/api/cluster", nil, &cluster)
	if cluster.ClusterID == "" || len(cluster.Brokers) != 1 || cluster.Brokers[0].ID != 1 || cluster.ActiveController != 1 ||
		cluster.Health != "ok" || len(cluster.Controllers) != 1 {
		t.Fatalf("cluster view: %+v", cluster)
	}

	var created struct {
		Name       string
		Partitions int32
	}
	c.mustDo("POST", "/api/topics", map[string]any{"name": "orders", "partitions": 3, "configs": map[string]string{"retention.ms": "3600000"}}, &created)
	if created.Name != "orders" || created.Partitions != 3 {
		t.Fatalf("created: %+v", created)
	}
	var list topicList
	c.mustDo("GET", "/api/topics", nil, &list)
	if len(list.Topics) != 1 || list.Topics[0].Name != "orders" || list.Topics[0].Partitions != 3 {
		t.Fatalf("topics right after create: %+v", list)
	}
	var td topicDetail
	c.mustDo("GET", "/api/topics/orders", nil, &td)
	if len(td.Partitions) != 3 || td.ReplicationFactor != 1 {
		t.Fatalf("detail: %+v", td)
	}
	for i, p := range td.Partitions {
		if p.Partition != int32(i) || p.Leader != 1 || len(p.ISR) != 1 || p.StartOffset != 0 || p.EndOffset != 0 {
			t.Fatalf("partition %d: %+v", i, p)
		}
	}
	if v := configValue(td, "retention.ms"); v != "3600000" {
		t.Fatalf("retention.ms = %q, want the value given at create", v)
	}

	for _, tc := range []struct {
		body   any
		status int
		want   string
	}{
		{map[string]any{"name": "orders"}, http.StatusConflict, "TOPIC_ALREADY_EXISTS"},
		{map[string]any{"name": "bad name"}, http.StatusBadRequest, "only ASCII letters"},
		{map[string]any{"name": ""}, http.StatusBadRequest, "empty"},
		{map[string]any{"name": "x", "partitions": -2}, http.StatusBadRequest, "partitions"},
		{map[string]any{"name": "x", "partitions": "three"}, http.StatusBadRequest, `"partitions" must be int32`},
		{map[string]any{"name": "x", "colour": "red"}, http.StatusBadRequest, "unknown field"},
		{map[string]any{"name": "x", "configs": map[string]string{"retention.ms": "soon"}}, http.StatusBadRequest, "INVALID_CONFIG"},
	} {
		status, msg := c.do("POST", "/api/topics", tc.body, nil)
		if status != tc.status || !strings.Contains(msg, tc.want) {
			t.Errorf("create %v: %d %q, want %d containing %q", tc.body, status, msg, tc.status, tc.want)
		}
	}

	// Delete needs the name repeated.
	if status, msg := c.do("DELETE", "/api/topics/orders", nil, nil); status != http.StatusBadRequest || !strings.Contains(msg, "confirm") {
		t.Fatalf("delete without confirm: %d %q", status, msg)
	}
	c.mustDo("DELETE", "/api/topics/orders?confirm=orders", nil, nil)
	if status, msg := c.do("GET", "/api/topics/orders", nil, nil); status != http.StatusNotFound {
		t.Fatalf("detail after delete: %d %q", status, msg)
	}
	c.mustDo("GET", "/api/topics", nil, &list)
	if len(list.Topics) != 0 {
		t.Fatalf("topics after delete: %+v", list)
	}
	if status, _ := c.do("DELETE", "/api/topics/orders?confirm=orders", nil, nil); status != http.StatusNotFound {
		t.Fatalf("deleting a missing topic: %d, want 404", status)
	}
}

func configValue(td topicDetail, name string) string {
	for _, c := range td.Configs {
		if c.Name == name && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

func TestAlterTopicConfigs(t *testing.T) {
	c := newConsole(t)
	c.mustDo("POST", "/api/topics", map[string]any{"name": "cfg", "partitions": 1}, nil)
	c.mustDo("PATCH", "/api/topics/cfg/configs", map[string]any{"set": map[string]string{"retention.ms": "1234567", "cleanup.policy": "compact"}}, nil)
	var td topicDetail
	c.mustDo("GET", "/api/topics/cfg", nil, &td)
	if configValue(td, "retention.ms") != "1234567" || configValue(td, "cleanup.policy") != "compact" {
		t.Fatalf("configs after set: %+v", td.Configs)
	}
	// The change is real: another client sees it.
	rcs, err := kadm.NewClient(c.kgo()).DescribeTopicConfigs(context.Background(), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("cfg", nil)
	for _, cf := range rc.Configs {
		if cf.Key == "retention.ms" && (cf.Value == nil || *cf.Value != "1234567") {
			t.Fatalf("kadm sees retention.ms = %v", cf.MaybeValue())
		}
	}
	c.mustDo("PATCH", "/api/topics/cfg/configs", map[string]any{"delete": []string{"retention.ms"}}, nil)
	c.mustDo("GET", "/api/topics/cfg", nil, &td)
	for _, cf := range td.Configs {
		if cf.Name == "retention.ms" && (!cf.Default || cf.Value == nil || *cf.Value == "1234567") {
			t.Fatalf("retention.ms after delete: %+v", cf)
		}
	}
	for _, tc := range []struct {
		path   string
		body   any
		status int
		want   string
	}{
		{"/api/topics/cfg/configs", map[string]any{}, http.StatusBadRequest, "nothing to change"},
		{"/api/topics/cfg/configs", map[string]any{"set": map[string]string{"retention.ms": "never"}}, http.StatusBadRequest, "INVALID_CONFIG"},
		{"/api/topics/nope/configs", map[string]any{"set": map[string]string{"retention.ms": "1"}}, http.StatusNotFound, "UNKNOWN_TOPIC"},
	} {
		status, msg := c.do("PATCH", tc.path, tc.body, nil)
		if status != tc.status || !strings.Contains(msg, tc.want) {
			t.Errorf("PATCH %s %v: %d %q, want %d containing %q", tc.path, tc.body, status, msg, tc.status, tc.want)
		}
	}
}

type browse struct {
	Records []struct {
		Partition int32
		Offset    int64
		Timestamp int64
		Key       []byte
		Value     []byte
		Headers   []struct {
			Key   string
			Value []byte
		}
	}
	Ranges []struct {
		Partition int32
		From, To  int64
	}
	TimedOut bool
}

func TestMessageBrowser(t *testing.T) {
	c := newConsole(t)
	c.mustDo("POST", "/api/topics", map[string]any{"name": "events", "partitions": 2}, nil)
	cl := c.kgo(kgo.DefaultProduceTopic("events"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := time.UnixMilli(1_700_000_000_000)
	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{
			Partition: int32(i % 2), Key: []byte(fmt.Sprintf("k%02d", i)), Value: []byte(fmt.Sprintf(`{"n":%d,"colour":"%s"}`, i, []string{"red", "blue", "green"}[i%3])),
			Timestamp: base.Add(time.Duration(i) * time.Second),
			Headers:   []kgo.RecordHeader{{Key: "trace", Value: []byte(fmt.Sprintf("t-%d", i))}},
		})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// Newest first, one partition: offsets 14..10 of partition 0 (records 28, 26, ...).
	var b browse
	c.mustDo("GET", "/api/topics/events/messages?partition=0&limit=5", nil, &b)
	if len(b.Records) != 5 || b.TimedOut {
		t.Fatalf("newest 5: %+v", b)
	}
	for i, r := range b.Records {
		wantOffset := int64(14 - i)
		n := 2 * wantOffset
		if r.Partition != 0 || r.Offset != wantOffset || string(r.Key) != fmt.Sprintf("k%02d", n) ||
			r.Timestamp != base.Add(time.Duration(n)*time.Second).UnixMilli() ||
			len(r.Headers) != 1 || r.Headers[0].Key != "trace" || string(r.Headers[0].Value) != fmt.Sprintf("t-%d", n) {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	// All partitions: newest by timestamp across both.
	c.mustDo("GET", "/api/topics/events/messages?limit=4", nil, &b)
	if got := keys(b); got != "k29,k28,k27,k26" {
		t.Fatalf("newest 4 over all partitions: %s", got)
	}
	// From an offset: 3 records from offset 4 of partition 1, shown newest first.
	c.mustDo("GET", "/api/topics/events/messages?partition=1&offset=4&limit=3", nil, &b)
	if got := keys(b); got != "k13,k11,k09" {
		t.Fatalf("from offset 4: %s", got)
	}
	// From a timestamp: records at or after +20 s, both partitions.
	ts := base.Add(20 * time.Second).UnixMilli()
	c.mustDo("GET", fmt.Sprintf("/api/topics/events/messages?timestamp=%d&limit=4", ts), nil, &b)
	if got := keys(b); got != "k23,k22,k21,k20" {
		t.Fatalf("from timestamp: %s", got)
	}
	// RFC 3339 timestamps work too.
	c.mustDo("GET", "/api/topics/events/messages?partition=0&limit=2&timestamp="+url.QueryEscape(base.Add(20*time.Second).UTC().Format(time.RFC3339)), nil, &b)
	if got := keys(b); got != "k22,k20" {
		t.Fatalf("from RFC 3339 timestamp: %s", got)
	}
	// A timestamp past the end finds nothing.
	c.mustDo("GET", fmt.Sprintf("/api/topics/events/messages?timestamp=%d", base.Add(time.Hour).UnixMilli()), nil, &b)
	if len(b.Records) != 0 {
		t.Fatalf("after the last timestamp: %s", keys(b))
	}
	// A filter matches values (case-insensitive) and headers.
	c.mustDo("GET", "/api/topics/events/messages?filter=GREEN&limit=3", nil, &b)
	if got := keys(b); got != "k29,k26,k23" {
		t.Fatalf("filter green: %s", got)
	}
	c.mustDo("GET", "/api/topics/events/messages?filter=t-7&limit=10", nil, &b)
	if got := keys(b); got != "k07" {
		t.Fatalf("filter on a header: %s", got)
	}

	for _, tc := range []struct {
		query  string
		status int
		want   string
	}{
		{"limit=0", http.StatusBadRequest, "limit"},
		{"limit=101", http.StatusBadRequest, "1 to 100"},
		{"offset=-1", http.StatusBadRequest, "offset"},
		{"offset=1&timestamp=5", http.StatusBadRequest, "not both"},
		{"timestamp=yesterday", http.StatusBadRequest, "RFC 3339"},
		{"partition=x", http.StatusBadRequest, "partition"},
		{"partition=7", http.StatusNotFound, "no partition 7"},
	} {
		status, msg := c.do("GET", "/api/topics/events/messages?"+tc.query, nil, nil)
		if status != tc.status || !strings.Contains(msg, tc.want) {
			t.Errorf("?%s: %d %q, want %d containing %q", tc.query, status, msg, tc.status, tc.want)
		}
	}
	if status, _ := c.do("GET", "/api/topics/missing/messages", nil, nil); status != http.StatusNotFound {
		t.Errorf("missing topic: %d", status)
	}
}

func keys(b browse) string {
	var ks []string
	for _, r := range b.Records {
		ks = append(ks, string(r.Key))
	}
	return strings.Join(ks, ",")
}

type groupDetail struct {
	Group      string
	State      string
	Members    []struct{ ClientID string }
	Partitions []struct {
		Topic     string
		Partition int32
		Committed int64
		EndOffset int64
		Lag       int64
	}
	TotalLag int64
}

func TestGroupLagAndReset(t *testing.T) {
	c := newConsole(t, arustest.WithGroupSessionTimeouts(time.Second, time.Minute))
	c.mustDo("POST", "/api/topics", map[string]any{"name": "jobs", "partitions": 2}, nil)
	prod := c.kgo(kgo.DefaultProduceTopic("jobs"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Partition: int32(i % 2), Value: []byte("x")})
	}
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A group commits 2 on partition 0 and 5 (the end) on partition 1.
	adm := kadm.NewClient(c.kgo())
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "jobs", Partition: 0, At: 2, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "jobs", Partition: 1, At: 5, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(context.Background(), "workers", offs); err != nil {
		t.Fatal(err)
	}
	var g groupDetail
	c.mustDo("GET", "/api/groups/workers", nil, &g)
	if g.State != "Empty" || len(g.Partitions) != 2 || g.TotalLag != 3 ||
		g.Partitions[0].Committed != 2 || g.Partitions[0].Lag != 3 || g.Partitions[1].Lag != 0 || g.Partitions[1].EndOffset != 5 {
		t.Fatalf("group: %+v", g)
	}
	var groups struct {
		Groups []struct {
			Group string
			State string
			Lag   *int64
		}
	}
	c.mustDo("GET", "/api/groups", nil, &groups)
	if len(groups.Groups) != 1 || groups.Groups[0].Group != "workers" || groups.Groups[0].Lag == nil || *groups.Groups[0].Lag != 3 {
		t.Fatalf("groups: %+v", groups)
	}

	// Reset: earliest, an offset (clamped to the end), a timestamp, latest.
	var reset struct{ Offsets map[string]int64 }
	post := func(body map[string]any) {
		t.Helper()
		reset.Offsets = nil
		c.mustDo("POST", "/api/groups/workers/reset", body, &reset)
	}
	post(map[string]any{"topic": "jobs", "to": "earliest"})
	if reset.Offsets["0"] != 0 || reset.Offsets["1"] != 0 {
		t.Fatalf("reset earliest: %+v", reset)
	}
	c.mustDo("GET", "/api/groups/workers", nil, &g)
	if g.TotalLag != 10 {
		t.Fatalf("lag after reset to earliest: %+v", g)
	}
	post(map[string]any{"topic": "jobs", "partition": 1, "to": "offset", "offset": 99})
	if len(reset.Offsets) != 1 || reset.Offsets["1"] != 5 {
		t.Fatalf("reset to offset 99 of partition 1: %+v", reset)
	}
	post(map[string]any{"topic": "jobs", "to": "timestamp", "timestamp": time.Now().Add(time.Hour).UnixMilli()})
	if reset.Offsets["0"] != 5 || reset.Offsets["1"] != 5 {
		t.Fatalf("reset to a future timestamp: %+v", reset)
	}
	post(map[string]any{"topic": "jobs", "to": "timestamp", "timestamp": 0})
	if reset.Offsets["0"] != 0 || reset.Offsets["1"] != 0 {
		t.Fatalf("reset to timestamp 0: %+v", reset)
	}
	post(map[string]any{"topic": "jobs", "to": "latest"})
	c.mustDo("GET", "/api/groups/workers", nil, &g)
	if g.TotalLag != 0 {
		t.Fatalf("lag after reset to latest: %+v", g)
	}

	for _, tc := range []struct {
		body   any
		status int
		want   string
	}{
		{map[string]any{"topic": "jobs", "to": "middle"}, http.StatusBadRequest, "earliest, latest"},
		{map[string]any{"topic": "jobs", "to": "offset"}, http.StatusBadRequest, "needs \"offset\""},
		{map[string]any{"topic": "jobs", "to": "earliest", "partition": 9}, http.StatusNotFound, "no partition 9"},
		{map[string]any{"topic": "nope", "to": "earliest"}, http.StatusNotFound, "does not exist"},
	} {
		status, msg := c.do("POST", "/api/groups/workers/reset", tc.body, nil)
		if status != tc.status || !strings.Contains(msg, tc.want) {
			t.Errorf("reset %v: %d %q, want %d containing %q", tc.body, status, msg, tc.status, tc.want)
		}
	}

	// With a live member the reset is refused, and the member shows.
	cons := c.kgo(kgo.ConsumerGroup("workers"), kgo.ConsumeTopics("jobs"), kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(500*time.Millisecond))
	pollCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for pollCtx.Err() == nil {
			cons.PollFetches(pollCtx)
		}
	}()
	arustest.Eventually(t, 20*time.Second, "the consumer joins the group", func() bool {
		_, _ = c.do("GET", "/api/groups/workers", nil, &g)
		return g.State == "Stable" && len(g.Members) == 1
	})
	status, msg := c.do("POST", "/api/groups/workers/reset", map[string]any{"topic": "jobs", "to": "earliest"}, nil)
	if status != http.StatusConflict || !strings.Contains(msg, "stop its consumers") {
		t.Fatalf("reset with a member: %d %q", status, msg)
	}
	cancel()
	<-polled
	if status, _ := c.do("GET", "/api/groups/never-seen", nil, nil); status != http.StatusNotFound {
		t.Fatalf("unknown group: %d, want 404", status)
	}
}

func TestThroughputSamples(t *testing.T) {
	c := newConsole(t)
	c.mustDo("POST", "/api/topics", map[string]any{"name": "tp", "partitions": 3}, nil)
	cl := c.kgo(kgo.DefaultProduceTopic("tp"))
	var recs []*kgo.Record
	for range 12 {
		recs = append(recs, &kgo.Record{Value: []byte("v")})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Time   int64
		Topics []struct {
			Topic      string
			EndOffsets int64
		}
	}
	arustest.Eventually(t, 10*time.Second, "end offsets reach 12", func() bool {
		c.mustDo("GET", "/api/throughput", nil, &s)
		return len(s.Topics) == 1 && s.Topics[0].Topic == "tp" && s.Topics[0].EndOffsets == 12
	})
	if s.Time <= 0 || s.Time > time.Now().Add(time.Second).UnixMilli() {
		t.Fatalf("sample time %d", s.Time)
	}
}

func TestRequestGuards(t *testing.T) {
	c := newConsole(t)
	post := func(body, contentType, origin string) (int, string) {
		req, _ := http.NewRequest("POST", c.srv.URL+"/api/topics", strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Error
	}
	if status, msg := post(`{"name":"a"}`, "text/plain", ""); status != http.StatusUnsupportedMediaType || !strings.Contains(msg, "application/json") {
		t.Errorf("text/plain body: %d %q", status, msg)
	}
	if status, msg := post(`{"name":"a"}`, "application/json", "http://evil.example"); status != http.StatusForbidden || !strings.Contains(msg, "cross-origin") {
		t.Errorf("foreign origin: %d %q", status, msg)
	}
	if status, msg := post(`{"name":`, "application/json", ""); status != http.StatusBadRequest || !strings.Contains(msg, "request body") {
		t.Errorf("broken JSON: %d %q", status, msg)
	}
	if status, msg := post(`{"name":"a"} {"name":"b"}`, "application/json", ""); status != http.StatusBadRequest || !strings.Contains(msg, "one JSON object") {
		t.Errorf("two objects: %d %q", status, msg)
	}
	if status, msg := post("", "", ""); status != http.StatusBadRequest || !strings.Contains(msg, "empty") {
		t.Errorf("empty body: %d %q", status, msg)
	}
	// Same origin is fine.
	if status, msg := post(`{"name":"same-origin"}`, "application/json", c.srv.URL); status != http.StatusOK {
		t.Errorf("same origin: %d %q", status, msg)
	}
	if status, msg := c.do("GET", "/api/nothing", nil, nil); status != http.StatusNotFound || !strings.Contains(msg, "no API") {
		t.Errorf("unknown API: %d %q", status, msg)
	}
	if status, msg := c.do("GET", "/api/topics/"+strings.Repeat("x", 250), nil, nil); status != http.StatusBadRequest || !strings.Contains(msg, "249") {
		t.Errorf("long topic name: %d %q", status, msg)
	}
}

func TestStaticAssets(t *testing.T) {
	c := newConsole(t)
	for path, want := range map[string]string{
		"/":                   "text/html",
		"/js/app.js":          "javascript",
		"/js/pages/topics.js": "javascript",
		"/css/app.css":        "text/css",
	} {
		resp, err := http.Get(c.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), want) || len(body) == 0 {
			t.Errorf("GET %s: %d %q (%d bytes), want %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
	resp, err := http.Post(c.srv.URL+"/js/app.js", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to an asset: %d", resp.StatusCode)
	}
}

// The broker serves the console on http.listener, and not when it is off.
func TestBrokerServesConsole(t *testing.T) {
	b := arustest.StartBroker(t, func(c *config.Broker) { c.HTTPListener = "127.0.0.1:0" })
	addr := b.HTTPAddr()
	if addr == nil {
		t.Fatal("no console listener")
	}
	resp, err := http.Get("http://" + addr.String() + "/api/cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cluster struct{ Brokers []struct{ Port int32 } }
	if err := json.NewDecoder(resp.Body).Decode(&cluster); err != nil || resp.StatusCode != http.StatusOK || len(cluster.Brokers) != 1 {
		t.Fatalf("cluster from the broker's console: %d %v %+v", resp.StatusCode, err, cluster)
	}
	off := arustest.StartBroker(t, func(c *config.Broker) { c.HTTPListener = "off" })
	if off.HTTPAddr() != nil {
		t.Fatalf("http.listener=off still serves on %v", off.HTTPAddr())
	}
}
