package api

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/controller"
	"github.com/arus-io/arus/internal/ctrlchan"
)

// fakeController is the active controller on another node, as the
// Forward hook of a broker whose own controller is not active sees it:
// every CreateTopics is counted and answered from codes (or blocks until
// release is closed).
type fakeController struct {
	mu      sync.Mutex
	creates map[string]int   // CreateTopics received per topic
	codes   map[string]int16 // the answer per topic; 0 when absent
	release chan struct{}    // closed: answer; nil: answer at once
}

func (f *fakeController) forward(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	cr := req.(*kmsg.CreateTopicsRequest)
	f.mu.Lock()
	release := f.release
	for _, t := range cr.Topics {
		f.creates[t.Topic]++
	}
	f.mu.Unlock()
	if release != nil {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := kmsg.NewPtrCreateTopicsResponse()
	for _, t := range cr.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic, rt.ErrorCode = t.Topic, f.codes[t.Topic]
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func (f *fakeController) count(topic string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates[topic]
}

// newForwardingHandlers returns handlers of a broker whose controller is
// not the active one (an observer), so auto-creates go through its Remote channel.
func newForwardingHandlers(t *testing.T, fake *fakeController) *Handlers {
	t.Helper()
	cfg := config.Broker{NodeID: 2, Listener: "127.0.0.1:0", DataDir: t.TempDir()}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctrl := controller.NewStateMachine(controller.Defaults{NumPartitions: 1, DefaultReplicationFactor: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctrl.SetLog(&controller.ObserverLog{})
	h := New(Deps{Broker: &cfg, Controller: ctrl, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Channel: ctrlchan.NewRemote(fake.forward, ctrl.Image)},
		func() (string, int32) { return "127.0.0.1", 9092 })
	t.Cleanup(h.Close)
	return h
}

// metadataFor asks for one topic with Metadata v12, auto-create allowed.
func metadataFor(h *Handlers, topic string) kmsg.MetadataResponseTopic {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.AllowAutoTopicCreation = true
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = &topic
	req.Topics = append(req.Topics, rt)
	out := h.Serve(context.Background(), &Request{Version: 12, Body: req})
	return out.Response.(*kmsg.MetadataResponse).Topics[0]
}

// TestAutoCreateAnswersAndDedupes follows Kafka's AutoTopicCreationManager
// (an in-flight set, so one create per topic at a time) and
// KafkaApis.handleTopicMetadataRequest, which answers a topic it has just
// asked to create with LEADER_NOT_AVAILABLE and no partitions (the
// createTopicsInZk path maps TOPIC_ALREADY_EXISTS and its timeout to it;
// the client retries). A topic being created is never answered
// UNKNOWN_TOPIC_OR_PARTITION.
func TestAutoCreateAnswersAndDedupes(t *testing.T) {
	fake := &fakeController{creates: map[string]int{}, codes: map[string]int16{}, release: make(chan struct{})}
	h := newForwardingHandlers(t, fake)

	// While the create is in flight, every Metadata answers
	// LEADER_NOT_AVAILABLE, and no second create is sent.
	for i := 0; i < 5; i++ {
		mt := metadataFor(h, "new")
		if mt.ErrorCode != kerr.LeaderNotAvailable.Code || len(mt.Partitions) != 0 {
			t.Fatalf("request %d for a topic being created: code %v, %d partitions", i, kerr.ErrorForCode(mt.ErrorCode), len(mt.Partitions))
		}
	}
	close(fake.release)
	h.autoCreate.wg.Wait() // the create finished
	// Created on the controller but not yet in this node's image: still
	// LEADER_NOT_AVAILABLE, still no new create.
	for i := 0; i < 5; i++ {
		if mt := metadataFor(h, "new"); mt.ErrorCode != kerr.LeaderNotAvailable.Code {
			t.Fatalf("created topic not yet here: %v", kerr.ErrorForCode(mt.ErrorCode))
		}
	}
	if n := fake.count("new"); n != 1 {
		t.Fatalf("%d creates of one topic, want 1", n)
	}
	// Once the topic reached this node's image (a Metadata request saw
	// it), a later ask after its deletion creates it again at once.
	h.autoCreate.arrived([]string{"new"})
	if mt := metadataFor(h, "new"); mt.ErrorCode != kerr.LeaderNotAvailable.Code {
		t.Fatalf("deleted topic asked for again: %v", kerr.ErrorForCode(mt.ErrorCode))
	}
	h.autoCreate.wg.Wait()
	if n := fake.count("new"); n != 2 {
		t.Fatalf("%d creates after the topic arrived and went, want 2", n)
	}
}

// TestAutoCreateRetriesUntilPlaceable: right after a cluster starts, the
// controller cannot place a topic yet (fewer live brokers than
// default.replication.factor: INVALID_REPLICATION_FACTOR); that is not a
// failed create. The client keeps getting LEADER_NOT_AVAILABLE and every
// retry asks the controller again, so the topic is created as soon as the
// brokers are there. A definitive failure is reported once, then retried.
func TestAutoCreateRetriesUntilPlaceable(t *testing.T) {
	fake := &fakeController{creates: map[string]int{}, codes: map[string]int16{
		"early": kerr.InvalidReplicationFactor.Code, "clash": kerr.InvalidTopicException.Code,
	}}
	h := newForwardingHandlers(t, fake)
	for i := 1; i <= 3; i++ {
		if mt := metadataFor(h, "early"); mt.ErrorCode != kerr.LeaderNotAvailable.Code {
			t.Fatalf("try %d: %v, want LEADER_NOT_AVAILABLE", i, kerr.ErrorForCode(mt.ErrorCode))
		}
		h.autoCreate.wg.Wait() // the create was answered
		if n := fake.count("early"); n != i {
			t.Fatalf("try %d: %d creates sent, want one per retry", i, n)
		}
	}
	// Now the brokers are there: the next retry creates it.
	fake.mu.Lock()
	fake.codes["early"] = 0
	fake.mu.Unlock()
	metadataFor(h, "early")
	h.autoCreate.wg.Wait()
	if n := fake.count("early"); n != 4 {
		t.Fatalf("%d creates, want 4", n)
	}
	h.autoCreate.mu.Lock()
	_, created := h.autoCreate.mu.created["early"]
	h.autoCreate.mu.Unlock()
	if !created {
		t.Fatal("successful create not remembered while the image catches up")
	}

	// A name the controller refuses: LEADER_NOT_AVAILABLE while it runs,
	// then the error once, then a new try.
	if mt := metadataFor(h, "clash"); mt.ErrorCode != kerr.LeaderNotAvailable.Code {
		t.Fatalf("first ask: %v", kerr.ErrorForCode(mt.ErrorCode))
	}
	h.autoCreate.wg.Wait() // refused
	if mt := metadataFor(h, "clash"); mt.ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("after a refused create: %v, want INVALID_TOPIC_EXCEPTION", kerr.ErrorForCode(mt.ErrorCode))
	}
	if mt := metadataFor(h, "clash"); mt.ErrorCode != kerr.LeaderNotAvailable.Code {
		t.Fatalf("retry after the reported failure: %v", kerr.ErrorForCode(mt.ErrorCode))
	}
	h.autoCreate.wg.Wait()
	if n := fake.count("clash"); n != 2 {
		t.Fatalf("%d creates of the refused topic, want 2", n)
	}
}

// TestAutoCreateOffWhenNotAllowed: v4+ without AllowAutoTopicCreation (and
// auto.create.topics.enable=false for every version) answers
// UNKNOWN_TOPIC_OR_PARTITION and creates nothing.
func TestAutoCreateOffWhenNotAllowed(t *testing.T) {
	fake := &fakeController{creates: map[string]int{}, codes: map[string]int16{}}
	h := newForwardingHandlers(t, fake)
	topic := "unasked"
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = &topic
	req.Topics = append(req.Topics, rt)
	resp := h.Serve(context.Background(), &Request{Version: 12, Body: req}).Response.(*kmsg.MetadataResponse)
	if code := resp.Topics[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("v12 without AllowAutoTopicCreation: %v", kerr.ErrorForCode(code))
	}
	off := false
	h.deps.Broker.AutoCreateTopics = &off
	if mt := metadataFor(h, topic); mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("auto.create.topics.enable=false: %v", kerr.ErrorForCode(mt.ErrorCode))
	}
	if n := fake.count(topic); n != 0 {
		t.Fatalf("%d creates sent", n)
	}
}
