package broker_test

// Config surface as Kafka 3.9/4.x clients see it (issue 12 item 4):
// DescribeConfigs sources, synonyms, types, documentation and read-only
// flags as Kafka's ConfigHelper gives them; deprecated topic configs
// accepted; broker configs changed at runtime through AlterConfigs and
// IncrementalAlterConfigs as Kafka's ConfigAdminManager and
// DynamicBrokerConfig allow.

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/arustest"
)

// kafkaTopicConfigNames are the topic configs Kafka 3.9's DescribeConfigs
// returns for a topic (LogConfig's ConfigDef).
var kafkaTopicConfigNames = []string{
	"cleanup.policy", "compression.gzip.level", "compression.lz4.level", "compression.type", "compression.zstd.level",
	"delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms", "follower.replication.throttled.replicas",
	"index.interval.bytes", "leader.replication.throttled.replicas", "local.retention.bytes", "local.retention.ms",
	"max.compaction.lag.ms", "max.message.bytes", "message.downconversion.enable", "message.format.version",
	"message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.difference.max.ms",
	"message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
	"remote.log.copy.disable", "remote.log.delete.on.disable", "remote.storage.enable", "retention.bytes", "retention.ms",
	"segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms", "unclean.leader.election.enable",
}

func describeRaw(t *testing.T, ctx context.Context, cl *kgo.Client, typ kmsg.ConfigResourceType, name string, names []string) kmsg.DescribeConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms, req.IncludeDocumentation = true, true
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName, r.ConfigNames = typ, name, names
	req.Resources = append(req.Resources, r)
	var resp *kmsg.DescribeConfigsResponse
	var err error
	if id, perr := strconv.Atoi(name); typ == kmsg.ConfigResourceTypeBroker && perr == nil {
		// Broker resources go to that broker; an unknown id to any.
		if id > 3 {
			id = 1
		}
		resp, err = req.RequestWith(ctx, cl.Broker(id))
	} else {
		resp, err = req.RequestWith(ctx, cl)
	}
	if err != nil || len(resp.Resources) != 1 {
		t.Fatalf("describe configs %d %q: %v %+v", typ, name, err, resp)
	}
	return resp.Resources[0]
}

func TestDescribeTopicConfigsLikeKafka(t *testing.T) {
	b := arustest.StartBroker(t, arustest.WithTopicDefault("retention.bytes", "1000000"))
	ctx := testContext(t)
	cl := newFranz(t, b.Addr())
	adm := kadm.NewClient(cl)
	// Deprecated topic configs Kafka 3.x still takes are accepted (and
	// ignored with a log line), like LogConfig with inter.broker.protocol
	// >= 3.0 (LogConfig.MessageFormatVersion.topicWarningMessage).
	created, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
		"retention.ms": ptr("3600000"), "message.format.version": ptr("2.8"), "message.downconversion.enable": ptr("false"),
	}, "surface")
	if err != nil || created.Err != nil {
		t.Fatalf("create with deprecated configs: %v %+v", err, created)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "surface")
	if err != nil || rcs[0].Err != nil {
		t.Fatalf("describe: %v %+v", err, rcs)
	}
	got := map[string]kadm.Config{}
	var names []string
	for _, c := range rcs[0].Configs {
		got[c.Key] = c
		names = append(names, c.Key)
	}
	slices.Sort(names)
	if !slices.Equal(names, kafkaTopicConfigNames) {
		t.Fatalf("described topic configs\n got %v\nwant %v", names, kafkaTopicConfigNames)
	}
	syn := func(name string) string {
		var out []string
		for _, s := range got[name].Synonyms {
			v := "<nil>"
			if s.Value != nil {
				v = *s.Value
			}
			out = append(out, s.Key+"="+v+"/"+s.Source.String())
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name, value string
		source      kmsg.ConfigSource
		synonyms    string
	}{
		// ConfigHelper.createTopicConfigEntry: the topic's override, then
		// the broker synonyms (configSynonyms drops entries before the
		// first synonym, log.retention.ms, which has no default).
		{"retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig, "retention.ms=3600000/DYNAMIC_TOPIC_CONFIG"},
		{"retention.bytes", "1000000", kmsg.ConfigSourceStaticBrokerConfig, "log.retention.bytes=1000000/STATIC_BROKER_CONFIG,log.retention.bytes=-1/DEFAULT_CONFIG"},
		{"segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig, "log.segment.bytes=1073741824/DEFAULT_CONFIG"},
		{"segment.ms", "604800000", kmsg.ConfigSourceDefaultConfig, ""},
		{"message.format.version", "2.8", kmsg.ConfigSourceDynamicTopicConfig, "message.format.version=2.8/DYNAMIC_TOPIC_CONFIG,log.message.format.version=3.0-IV1/DEFAULT_CONFIG"},
		{"remote.storage.enable", "false", kmsg.ConfigSourceDefaultConfig, ""},
		{"local.retention.ms", "-2", kmsg.ConfigSourceDefaultConfig, "log.local.retention.ms=-2/DEFAULT_CONFIG"},
	} {
		c := got[tc.name]
		if c.MaybeValue() != tc.value || c.Source != tc.source || syn(tc.name) != tc.synonyms {
			t.Errorf("%s = %q %v [%s], want %q %v [%s]", tc.name, c.MaybeValue(), c.Source, syn(tc.name), tc.value, tc.source, tc.synonyms)
		}
	}

	// v4 with documentation: every entry has a doc and Kafka's type, and
	// topic configs are never read only (ConfigHelper sets readOnly false).
	raw := describeRaw(t, ctx, cl, kmsg.ConfigResourceTypeTopic, "surface", []string{})
	if len(raw.Configs) != len(kafkaTopicConfigNames) {
		t.Fatalf("an empty ConfigNames list must mean every config (ConfigHelper), got %d", len(raw.Configs))
	}
	types := map[string]kmsg.ConfigType{"retention.ms": kmsg.ConfigTypeLong, "cleanup.policy": kmsg.ConfigTypeList,
		"preallocate": kmsg.ConfigTypeBoolean, "min.cleanable.dirty.ratio": kmsg.ConfigTypeDouble, "segment.bytes": kmsg.ConfigTypeInt,
		"message.timestamp.type": kmsg.ConfigTypeString}
	for _, c := range raw.Configs {
		if c.Documentation == nil || *c.Documentation == "" || c.ReadOnly || c.IsSensitive {
			t.Errorf("%s: doc %v read-only %v sensitive %v", c.Name, c.Documentation, c.ReadOnly, c.IsSensitive)
		}
		if want, ok := types[c.Name]; ok && c.ConfigType != want {
			t.Errorf("%s type %v, want %v", c.Name, c.ConfigType, want)
		}
	}

	// Changes: deprecated accepted, tiered storage refused (LogConfig.validate:
	// INVALID_CONFIG when the broker has no remote storage system).
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "message.timestamp.difference.max.ms", Value: ptr("60000")}}, "surface")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("deprecated alter: %v %+v", err, rs)
	}
	rs, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "remote.storage.enable", Value: ptr("true")}}, "surface")
	if !errors.Is(rs[0].Err, kerr.InvalidConfig) {
		t.Fatalf("remote.storage.enable=true: %+v", rs[0])
	}

	// ConfigHelper: Topic.validate before the lookup.
	if r := describeRaw(t, ctx, cl, kmsg.ConfigResourceTypeTopic, "bad/name", nil); r.ErrorCode != kerr.InvalidTopicException.Code {
		t.Errorf("invalid topic name: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := describeRaw(t, ctx, cl, kmsg.ConfigResourceTypeTopic, "nope", nil); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown topic: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := describeRaw(t, ctx, cl, kmsg.ConfigResourceTypeBroker, "7", nil); r.ErrorCode != kerr.InvalidRequest.Code ||
		r.ErrorMessage == nil || *r.ErrorMessage != "Unexpected broker id, expected 1 or empty string, but received 7" {
		t.Errorf("other broker: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}

	// sarama asks with synonyms and documentation too.
	sadm := newSaramaAdmin(t, b.Addr())
	results, err := sadm.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.BrokerResource, Name: "1"}},
		sarama.DescribeConfigsOptions{IncludeSynonyms: true, IncludeDocumentation: true})
	if err != nil || len(results) != 1 || results[0].ErrorCode != 0 {
		t.Fatalf("sarama describe broker: %v %+v", err, results)
	}
	entries := map[string]*sarama.ConfigEntry{}
	for i := range results[0].Configs {
		entries[results[0].Configs[i].Name] = &results[0].Configs[i]
	}
	for _, tc := range []struct {
		name, value string
		readOnly    bool
		source      sarama.ConfigSource
	}{
		{"node.id", "1", true, sarama.SourceStaticBroker},
		{"num.partitions", "1", true, sarama.SourceDefault},
		{"log.retention.bytes", "1000000", false, sarama.SourceStaticBroker},
		{"log.retention.hours", "168", true, sarama.SourceDefault},
		{"message.max.bytes", "1048588", false, sarama.SourceDefault},
	} {
		e := entries[tc.name]
		if e == nil || e.Value != tc.value || e.ReadOnly != tc.readOnly || e.Source != tc.source || e.Documentation == nil {
			t.Errorf("broker %s: %+v, want %q read-only %v %v", tc.name, e, tc.value, tc.readOnly, tc.source)
		}
	}
}

// TestBrokerConfigsAtRuntime changes broker configs through a node that
// is not the active controller (it checks, then forwards, as Kafka's
// ConfigAdminManager.preprocess and KIP-590 forwarding do) and checks
// every node applies them.
func TestBrokerConfigsAtRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node quorum test")
	}
	c := arustest.StartQuorumCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var active int32
	arustest.Eventually(t, 20*time.Second, "an active controller", func() bool {
		active = c.ActiveController()
		return active > 0
	})
	other := active%3 + 1
	third := other%3 + 1
	arustest.Eventually(t, 20*time.Second, "all brokers registered", func() bool {
		for id := int32(1); id <= 3; id++ {
			if len(c.Broker(id).Controller().Image().Brokers) != 3 {
				return false
			}
		}
		return true
	})
	cl := newFranz(t, c.Broker(other).Addr(), kgo.ProducerBatchMaxBytes(4<<20), kgo.MaxBufferedBytes(16<<20),
		kgo.RecordRetries(2), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	adm := kadm.NewClient(cl)
	createTopic(t, ctx, c.Broker(other).Addr(), "rt", 1, nil)
	big := &kgo.Record{Topic: "rt", Value: make([]byte, 1_500_000)}
	if err := cl.ProduceSync(ctx, big).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("1.5 MB record before raising message.max.bytes: %v, want MESSAGE_TOO_LARGE", err)
	}

	// Cluster-wide (resource ""), incremental.
	rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{
		{Name: "message.max.bytes", Value: ptr("3000000")}, {Name: "log.retention.ms", Value: ptr("3600000")},
	})
	if err != nil || len(rs) != 1 || rs[0].Err != nil {
		t.Fatalf("alter cluster-wide broker configs: %v %+v", err, rs)
	}
	// Per broker (legacy AlterConfigs replaces that broker's set).
	rs, err = adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{{Name: "log.segment.bytes", Value: ptr("50000000")}}, other)
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter broker %d configs: %v %+v", other, err, rs)
	}
	arustest.Eventually(t, 20*time.Second, "every node has the broker configs", func() bool {
		for id := int32(1); id <= 3; id++ {
			im := c.Broker(id).Controller().Image()
			if im.BrokerConfigs[""]["message.max.bytes"] != "3000000" || im.BrokerConfigs[strconv.Itoa(int(other))]["log.segment.bytes"] != "50000000" {
				return false
			}
		}
		return true
	})
	arustest.Eventually(t, 20*time.Second, "the leader accepts a 1.5 MB batch", func() bool {
		return cl.ProduceSync(ctx, big).FirstErr() == nil
	})

	// The topic's configs show where the values come from.
	r := describeRaw(t, ctx, cl, kmsg.ConfigResourceTypeTopic, "rt", []string{"retention.ms", "max.message.bytes"})
	for _, cfg := range r.Configs {
		if cfg.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig || len(cfg.ConfigSynonyms) == 0 ||
			cfg.ConfigSynonyms[0].Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
			t.Errorf("%s: %v %+v", cfg.Name, cfg.Source, cfg.ConfigSynonyms)
		}
	}
	rb := describeRaw(t, ctx, cl, kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(other)), []string{"log.segment.bytes", "log.retention.ms"})
	for _, cfg := range rb.Configs {
		want := map[string]kmsg.ConfigSource{"log.segment.bytes": kmsg.ConfigSourceDynamicBrokerConfig, "log.retention.ms": kmsg.ConfigSourceDynamicDefaultBrokerConfig}[cfg.Name]
		if cfg.Source != want || cfg.ReadOnly {
			t.Errorf("broker %s: %v read-only %v", cfg.Name, cfg.Source, cfg.ReadOnly)
		}
	}
	if rd := describeRaw(t, ctx, cl, kmsg.ConfigResourceTypeBroker, "", nil); len(rd.Configs) != 2 {
		t.Errorf("cluster-wide describe shows only what was set there: %+v", rd.Configs)
	}

	// Kafka's answers for what cannot change (DynamicBrokerConfig.validateConfigs
	// through ConfigAdminManager: INVALID_REQUEST).
	rs, _ = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "num.partitions", Value: ptr("3")}, {Name: "log.retention.hours", Value: ptr("1")}}, other)
	if !errors.Is(rs[0].Err, kerr.InvalidRequest) || rs[0].ErrMessage != "Cannot update these configs dynamically: Set(log.retention.hours, num.partitions)" {
		t.Errorf("static configs: %+v", rs[0])
	}
	rs, _ = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: ptr("soon")}})
	if !errors.Is(rs[0].Err, kerr.InvalidRequest) {
		t.Errorf("bad value: %+v", rs[0])
	}
	// The receiving broker checks the name is its own
	// (ConfigAdminManager.validateResourceNameIsCurrentNodeId).
	ireq := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(third))
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name, cfg.Value = "log.retention.ms", ptr("1")
	res.Configs = append(res.Configs, cfg)
	dup := res
	dup.ResourceName = ""
	dup.Configs = append(dup.Configs, cfg)
	ireq.Resources = append(ireq.Resources, res, dup)
	iresp, err := ireq.RequestWith(ctx, cl.Broker(int(other)))
	if err != nil || len(iresp.Resources) != 2 {
		t.Fatalf("incremental alter: %v %+v", err, iresp)
	}
	want := "Unexpected broker id, expected " + strconv.Itoa(int(other)) + ", but received " + strconv.Itoa(int(third))
	if r := iresp.Resources[0]; r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil || *r.ErrorMessage != want {
		t.Errorf("other broker's resource: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}
	if r := iresp.Resources[1]; r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil || *r.ErrorMessage != "Error due to duplicate config keys" {
		t.Errorf("duplicate keys: %v %v", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}

	// DELETE returns to the default; sarama's incremental alter works too.
	sadm := newSaramaAdmin(t, c.Broker(other).Addr())
	if err := sadm.IncrementalAlterConfig(sarama.BrokerResource, "", map[string]sarama.IncrementalAlterConfigsEntry{
		"log.retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationDelete},
	}, false); err != nil {
		t.Fatalf("sarama delete: %v", err)
	}
	arustest.Eventually(t, 20*time.Second, "log.retention.ms deleted everywhere", func() bool {
		for id := int32(1); id <= 3; id++ {
			if _, ok := c.Broker(id).Controller().Image().BrokerConfigs[""]["log.retention.ms"]; ok {
				return false
			}
		}
		return true
	})
}
