package replica

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/partition"
)

// A fetch response for a partition closed while the fetch was in flight
// (its topic deleted, the replica moved) is dropped without an error log:
// Kafka's fetcher manager removes such partitions before their logs go, so
// deleting a replicated topic logs nothing. franz-go's kgo suite deletes
// dozens of replicated topics and used to leave one ERROR per partition.
func TestApplyToClosedPartitionIsNotAnError(t *testing.T) {
	p, err := partition.Open(partition.Config{Topic: "t", Dir: t.TempDir(), TopicConf: config.ResolveTopic(nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	f := &fetcher{logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	rp := kmsg.NewFetchResponseTopicPartition()
	if f.apply(Followed{Topic: "t", Partition: p}, partition.FetchPosition{}, &rp) {
		t.Fatal("apply to a closed partition reported progress")
	}
	out := logs.String()
	if strings.Contains(out, "level=ERROR") || !strings.Contains(out, "partition: closed") {
		t.Fatalf("want one debug line about the closed partition, got:\n%s", out)
	}
}
