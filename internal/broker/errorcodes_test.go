package broker_test

// Exact error codes of the admin and offset APIs (issue 12 item 5),
// with raw kmsg requests where clients would not send the input.

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/arus-io/arus/internal/arustest"
)

func TestAdminErrorCodesLikeKafka(t *testing.T) {
	b := arustest.StartBroker(t)
	ctx := testContext(t)
	cl := newFranz(t, b.Addr())
	createTopic(t, ctx, b.Addr(), "exists", 2, nil)

	t.Run("CreateTopics", func(t *testing.T) {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 5000
		add := func(name string, partitions int32, rf int16, configs map[string]*string) {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
			for k, v := range configs {
				c := kmsg.NewCreateTopicsRequestTopicConfig()
				c.Name, c.Value = k, v
				rt.Configs = append(rt.Configs, c)
			}
			req.Topics = append(req.Topics, rt)
		}
		add("dup", 1, 1, nil)
		add("fine", 1, 1, nil)
		add("dup", 1, 1, nil)
		add("rf-and-parts-zero", 0, 0, nil)
		add("parts-zero", 0, 1, nil)
		add("rf-minus-two", 1, -2, nil)
		add("rf-too-big", 1, 3, nil)
		add("bad/name", 1, 1, nil)
		add("exists", 1, 1, nil)
		add("null-config", 1, 1, map[string]*string{"retention.ms": nil})
		add("unknown-config", 1, 1, map[string]*string{"no.such.config": ptr("1")})
		add("__cluster_metadata", 1, 1, nil)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int16{}
		for _, rt := range resp.Topics {
			if _, twice := got[rt.Topic]; twice {
				t.Errorf("%s answered twice", rt.Topic)
			}
			got[rt.Topic] = rt.ErrorCode
		}
		for name, want := range map[string]*kerr.Error{
			"dup":                kerr.InvalidRequest,           // ControllerApis.createTopics: "Duplicate topic name."
			"rf-and-parts-zero":  kerr.InvalidReplicationFactor, // ReplicationControlManager.createTopic checks rf first
			"parts-zero":         kerr.InvalidPartitions,
			"rf-minus-two":       kerr.InvalidReplicationFactor,
			"rf-too-big":         kerr.InvalidReplicationFactor,
			"bad/name":           kerr.InvalidTopicException,
			"exists":             kerr.TopicAlreadyExists,
			"null-config":        kerr.InvalidConfig, // computeConfigChanges: "Null value not supported for topic configs"
			"unknown-config":     kerr.InvalidConfig,
			"__cluster_metadata": kerr.InvalidRequest,
		} {
			if code, ok := got[name]; !ok || code != want.Code {
				t.Errorf("%s: %v, want %v", name, kerr.ErrorForCode(code), want)
			}
		}
		if got["fine"] != 0 {
			t.Errorf("fine: %v", kerr.ErrorForCode(got["fine"]))
		}
		im := b.Controller().Image()
		if im.Topics["dup"] != nil || im.Topics["fine"] == nil {
			t.Errorf("a duplicated name must not be created, the others must")
		}

		// validateOnly creates nothing.
		vreq := kmsg.NewPtrCreateTopicsRequest()
		vreq.ValidateOnly = true
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "validated", 1, 1
		vreq.Topics = append(vreq.Topics, rt)
		vresp, err := vreq.RequestWith(ctx, cl)
		if err != nil || vresp.Topics[0].ErrorCode != 0 || b.Controller().Image().Topics["validated"] != nil {
			t.Errorf("validate only: %v %+v", err, vresp)
		}
	})

	t.Run("DeleteTopics", func(t *testing.T) {
		createTopic(t, ctx, b.Addr(), "twice", 1, nil)
		req := kmsg.NewPtrDeleteTopicsRequest()
		for _, n := range []string{"twice", "missing", "twice"} {
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = ptr(n)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Topics) != 2 {
			t.Fatalf("delete: %v %+v", err, resp)
		}
		// ControllerApis.deleteTopics.
		for _, rt := range resp.Topics {
			want := map[string]int16{"twice": kerr.InvalidRequest.Code, "missing": kerr.UnknownTopicOrPartition.Code}[*rt.Topic]
			if rt.ErrorCode != want {
				t.Errorf("%s: %v", *rt.Topic, kerr.ErrorForCode(rt.ErrorCode))
			}
		}
		if b.Controller().Image().Topics["twice"] == nil {
			t.Error("a topic named twice must not be deleted")
		}
		v6 := kmsg.NewPtrDeleteTopicsRequest()
		both, unknownID, neither := kmsg.NewDeleteTopicsRequestTopic(), kmsg.NewDeleteTopicsRequestTopic(), kmsg.NewDeleteTopicsRequestTopic()
		both.Topic, both.TopicID = ptr("twice"), b.Controller().Image().Topics["twice"].ID
		unknownID.TopicID = [16]byte{9, 9, 9}
		v6.Topics = append(v6.Topics, both, unknownID, neither)
		resp, err = v6.RequestWith(ctx, cl)
		if err != nil || len(resp.Topics) != 3 {
			t.Fatalf("delete v6: %v %+v", err, resp)
		}
		for i, want := range []*kerr.Error{kerr.InvalidRequest, kerr.UnknownTopicID, kerr.InvalidRequest} {
			if resp.Topics[i].ErrorCode != want.Code {
				t.Errorf("v6 entry %d: %v, want %v", i, kerr.ErrorForCode(resp.Topics[i].ErrorCode), want)
			}
		}
	})

	t.Run("CreatePartitions", func(t *testing.T) {
		req := kmsg.NewPtrCreatePartitionsRequest()
		for _, tc := range []struct {
			topic string
			count int32
		}{{"exists", 1}, {"exists", 2}, {"missing", 3}, {"fine", 3}, {"fine", 4}} {
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = tc.topic, tc.count
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Topics) != 3 {
			t.Fatalf("create partitions: %v %+v", err, resp)
		}
		for _, rt := range resp.Topics {
			want := map[string]int16{"exists": kerr.InvalidRequest.Code, "missing": kerr.UnknownTopicOrPartition.Code, "fine": kerr.InvalidRequest.Code}[rt.Topic]
			if rt.ErrorCode != want {
				t.Errorf("%s: %v", rt.Topic, kerr.ErrorForCode(rt.ErrorCode))
			}
		}
		for count, want := range map[int32]*kerr.Error{1: kerr.InvalidPartitions, 2: kerr.InvalidPartitions} {
			one := kmsg.NewPtrCreatePartitionsRequest()
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = "exists", count
			one.Topics = append(one.Topics, rt)
			resp, err := one.RequestWith(ctx, cl)
			if err != nil || resp.Topics[0].ErrorCode != want.Code {
				t.Errorf("count %d of 2: %v %+v", count, err, resp)
			}
		}
		if n := len(b.Controller().Image().Topics["fine"].Partitions); n != 1 {
			t.Errorf("fine has %d partitions after failed requests", n)
		}
	})

	t.Run("ListOffsets", func(t *testing.T) {
		// kgo sends the newest version both sides know: pin v6 (Kafka 2.8).
		old := newFranz(t, b.Addr(), kgo.MaxVersions(kversion.V2_8_0()))
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "exists"
		for _, p := range []struct {
			partition int32
			ts        int64
		}{{0, -1}, {0, -2}, {1, -3}} {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p.partition, p.ts
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, old)
		if err != nil || resp.Version != 6 || len(resp.Topics[0].Partitions) != 2 {
			t.Fatalf("list offsets: %v %+v", err, resp)
		}
		// ReplicaManager.fetchOffset: duplicates INVALID_REQUEST; -3
		// (MAX_TIMESTAMP) needs v7.
		for _, rp := range resp.Topics[0].Partitions {
			want := map[int32]int16{0: kerr.InvalidRequest.Code, 1: kerr.UnsupportedVersion.Code}[rp.Partition]
			if rp.ErrorCode != want {
				t.Errorf("partition %d: %v", rp.Partition, kerr.ErrorForCode(rp.ErrorCode))
			}
		}
		req.Topics[0].Partitions = req.Topics[0].Partitions[2:]
		req.Topics[0].Partitions[0].Timestamp = -7 // not a special timestamp
		resp, err = req.RequestWith(ctx, cl)
		if err != nil || resp.Topics[0].Partitions[0].ErrorCode != kerr.UnsupportedVersion.Code {
			t.Errorf("timestamp -7: %v %+v", err, resp)
		}
	})
}
