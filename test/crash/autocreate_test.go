//go:build integration

package crash

// Auto topic creation in a cluster of three arus processes: producers that
// know only one node write to topics that do not exist yet, through each
// node in turn, starting right after the processes were launched (before
// the quorum has a leader and before every broker registered). Two of the
// three nodes are not the active controller and forward the create, as
// Kafka's AutoTopicCreationManager does. default.replication.factor is 3,
// so no topic can be placed until all three brokers registered: clients
// must get a retriable answer meanwhile, never a failed create.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// autoCreateTopicsPerClient is how many new topics each client writes to
// through each node.
const autoCreateTopicsPerClient = 20

func TestClusterAutoCreate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three arus processes")
	}
	props := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(props, []byte("default.replication.factor=3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, localSpec(t, 3), "unused")
	for _, id := range c.ids {
		b := c.nodes[id]
		base := b.args
		b.args = func(listener string) []string {
			return append(base(listener), "--auto-create-topics=true", "--config", props)
		}
	}
	kcat, _ := exec.LookPath("kcat")
	if kcat == "" {
		kcat, _ = exec.LookPath("kafkacat")
	}
	if kcat == "" {
		t.Log("kcat not found on PATH (scripts/install-test-deps.sh installs it): librdkafka part skipped")
	}

	start := time.Now()
	for _, id := range c.ids {
		c.nodes[id].launch() // do not wait: the clients start at once
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	want := map[string][]string{}
	for _, id := range c.ids {
		addr := c.addr(id)
		var franzTopics, saramaTopics, kcatTopics []string
		for k := range autoCreateTopicsPerClient {
			franzTopics = append(franzTopics, fmt.Sprintf("franz-n%d-%d", id, k))
			saramaTopics = append(saramaTopics, fmt.Sprintf("sarama-n%d-%d", id, k))
			kcatTopics = append(kcatTopics, fmt.Sprintf("kcat-n%d-%d", id, k))
		}
		began := time.Now()
		addAll(want, produceFranzTo(t, ctx, addr, franzTopics))
		franzTook := time.Since(began)
		began = time.Now()
		addAll(want, produceSaramaTo(t, addr, saramaTopics))
		saramaTook := time.Since(began)
		began = time.Now()
		if kcat != "" {
			addAll(want, produceKcatTo(t, kcat, addr, kcatTopics))
		}
		t.Logf("through node %d (%s after launch): franz-go %s, sarama %s, kcat %s for %d new topics each",
			id, began.Sub(start).Round(time.Millisecond), franzTook.Round(time.Millisecond),
			saramaTook.Round(time.Millisecond), time.Since(began).Round(time.Millisecond), autoCreateTopicsPerClient)
	}

	// Every acknowledged record is there once.
	var topics []string
	total := 0
	for topic, values := range want {
		topics = append(topics, topic)
		total += len(values)
	}
	sort.Strings(topics)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string][]string{}
	for n := 0; n < total; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read back %d of %d records: %v", n, total, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Topic] = append(got[r.Topic], string(r.Value))
			n++
		})
	}
	// Exactly the acknowledged records (a topic has several partitions,
	// so the order across them is not defined).
	for _, topic := range topics {
		sort.Strings(got[topic])
		if fmt.Sprint(got[topic]) != fmt.Sprint(want[topic]) {
			t.Errorf("%s: read back %q, want %q", topic, got[topic], want[topic])
		}
	}
}

func addAll(dst, src map[string][]string) {
	for k, v := range src {
		dst[k] = v
	}
}

// recordsFor returns the 3 values written to topic, in order.
func recordsFor(topic string) []string {
	return []string{topic + "-0", topic + "-1", topic + "-2"}
}

// produceFranzTo writes 3 records to each topic through addr only (one
// record per topic per round keeps each topic's order), acks=all.
func produceFranzTo(t *testing.T, ctx context.Context, addr string, topics []string) map[string][]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(2*time.Minute), kgo.RetryTimeout(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := map[string][]string{}
	for j := range 3 {
		var round []*kgo.Record
		for _, topic := range topics {
			v := recordsFor(topic)[j]
			want[topic] = append(want[topic], v)
			round = append(round, &kgo.Record{Topic: topic, Value: []byte(v)})
		}
		if err := cl.ProduceSync(ctx, round...).FirstErr(); err != nil {
			t.Fatalf("franz-go through %s: %v", addr, err)
		}
	}
	return want
}

// produceSaramaTo writes 3 records to each topic through addr only.
func produceSaramaTo(t *testing.T, addr string, topics []string) map[string][]string {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Metadata.AllowAutoTopicCreation = true
	cfg.Metadata.Retry.Max, cfg.Metadata.Retry.Backoff = 1000, 50*time.Millisecond
	cfg.Producer.Retry.Max, cfg.Producer.Retry.Backoff = 1000, 50*time.Millisecond
	var p sarama.SyncProducer
	var err error
	waitFor(t, time.Minute, "sarama connects to "+addr, func() bool {
		p, err = sarama.NewSyncProducer([]string{addr}, cfg)
		return err == nil
	})
	defer p.Close()
	want := map[string][]string{}
	var msgs []*sarama.ProducerMessage
	for _, topic := range topics {
		want[topic] = recordsFor(topic)
		for _, v := range want[topic] {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(v)})
		}
	}
	if err := p.SendMessages(msgs); err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			t.Fatalf("sarama through %s: %d errors, first: %v", addr, len(perrs), perrs[0].Err)
		}
		t.Fatalf("sarama through %s: %v", addr, err)
	}
	return want
}

// produceKcatTo runs one kcat (librdkafka) producer per topic through addr
// only, acks=all, to partition 0 (so the order is kept); kcat exits 0 only
// when every message was delivered.
func produceKcatTo(t *testing.T, kcat, addr string, topics []string) map[string][]string {
	t.Helper()
	want := map[string][]string{}
	for _, topic := range topics {
		want[topic] = recordsFor(topic)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, kcat, "-b", addr, "-P", "-t", topic, "-p", "0",
			"-X", "request.required.acks=all", "-X", "message.timeout.ms=50000")
		cmd.WaitDelay = 5 * time.Second
		cmd.Stdin = strings.NewReader(strings.Join(want[topic], "\n") + "\n")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		if err != nil || strings.Contains(stderr.String(), "Delivery failed") {
			t.Fatalf("kcat to %s through %s: %v\n%s", topic, addr, err, stderr.String())
		}
	}
	return want
}
