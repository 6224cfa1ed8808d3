package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseTopicConfigs(t *testing.T) {
	cfg, err := parseTopicConfigs([]string{"cleanup.policy=compact", "retention.ms=1000", "retention.ms=2000", "x="})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cleanup.policy": "compact", "retention.ms": "2000", "x": ""}
	if len(cfg) != len(want) {
		t.Fatalf("got %d configs, want %d", len(cfg), len(want))
	}
	for k, v := range want {
		if cfg[k] == nil || *cfg[k] != v {
			t.Errorf("config %s = %v, want %q", k, cfg[k], v)
		}
	}
	if cfg, err := parseTopicConfigs(nil); cfg != nil || err != nil {
		t.Errorf("no configs: got %v, %v", cfg, err)
	}
	if _, err := parseTopicConfigs([]string{"novalue"}); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("bad config: error %v", err)
	}
}

func testTopicDetail(name string, partitions, rf int, internal bool) kadm.TopicDetail {
	d := kadm.TopicDetail{Topic: name, IsInternal: internal, Partitions: kadm.PartitionDetails{}}
	for p := range partitions {
		var replicas []int32
		for r := range rf {
			replicas = append(replicas, int32(r+1))
		}
		d.Partitions[int32(p)] = kadm.PartitionDetail{Topic: name, Partition: int32(p), Leader: 1, Replicas: replicas, ISR: replicas}
	}
	return d
}

func TestWriteTopicList(t *testing.T) {
	topics := kadm.TopicDetails{
		"orders":             testTopicDetail("orders", 6, 3, false),
		"__consumer_offsets": testTopicDetail("__consumer_offsets", 50, 3, true),
		"audit":              testTopicDetail("audit", 1, 1, false),
	}
	var buf bytes.Buffer
	if err := writeTopicList(&buf, topics, false); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"NAME    PARTITIONS  REPLICATION-FACTOR\n" +
		"audit   1           1\n" +
		"orders  6           3\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}

	buf.Reset()
	if err := writeTopicList(&buf, topics, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "__consumer_offsets  50") {
		t.Errorf("--all output lacks the internal topic:\n%s", buf.String())
	}
}

func TestTopicDescriptionWrite(t *testing.T) {
	detail := testTopicDetail("orders", 2, 2, false)
	p1 := detail.Partitions[1]
	p1.Leader, p1.ISR = -1, []int32{2}
	detail.Partitions[1] = p1
	value := func(s string) *string { return &s }
	desc := topicDescription{
		Detail: detail,
		Starts: kadm.ListedOffsets{"orders": {0: {Offset: 0}, 1: {Offset: 5}}},
		Ends:   kadm.ListedOffsets{"orders": {0: {Offset: 10}, 1: {Offset: 7}}},
		Configs: []kadm.Config{
			{Key: "segment.bytes", Value: value("1073741824"), Source: kmsg.ConfigSourceDefaultConfig},
			{Key: "retention.ms", Value: value("1000"), Source: kmsg.ConfigSourceDynamicTopicConfig},
			{Key: "cleanup.policy", Value: value("compact"), Source: kmsg.ConfigSourceStaticBrokerConfig},
			{Key: "sasl.secret", Sensitive: true, Source: kmsg.ConfigSourceDynamicTopicConfig},
		},
	}
	var buf bytes.Buffer
	if err := desc.write(&buf); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"Topic: orders\tPartitions: 2\tReplication factor: 2\n" +
		"PARTITION  LEADER  REPLICAS  ISR    LOG-START  LOG-END\n" +
		"0          1       [1,2]     [1,2]  0          10\n" +
		"1          none    [1,2]     [2]    5          7\n" +
		"Configs (non-default):\n" +
		"  cleanup.policy=compact\t(static broker config)\n" +
		"  retention.ms=1000\t(set on topic)\n" +
		"  sasl.secret=(sensitive)\t(set on topic)\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}

	// Offsets and configs the broker could not give are reported, not fatal.
	desc = topicDescription{Detail: detail, OffsetsErr: errors.New("boom"), ConfigsErr: errors.New("unsupported")}
	buf.Reset()
	if err := desc.write(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"(offsets unavailable: boom)", "Configs: unavailable: unsupported", "0          1       [1,2]     [1,2]  ?          ?"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, buf.String())
		}
	}
}

func TestKafkaError(t *testing.T) {
	base := errors.New("INVALID_CONFIG: bad config")
	if got := kafkaError(base, "").Error(); got != base.Error() {
		t.Errorf("no message: got %q", got)
	}
	got := kafkaError(base, "retention.ms must be a number")
	if !errors.Is(got, base) || !strings.Contains(got.Error(), "broker says: retention.ms must be a number") {
		t.Errorf("got %q", got)
	}
}

func TestTopicNotFound(t *testing.T) {
	err := topicNotFound("x")
	if err.Error() != `topic "x" does not exist` || !errors.Is(err, errTopicNotFound) {
		t.Errorf("got %q", err)
	}
}
