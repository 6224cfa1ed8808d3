package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestEveryMetricDocumented checks docs/metrics.md names every arus_
// metric this package can export, and the Grafana dashboard uses only
// documented ones.
func TestEveryMetricDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	dashboard, err := os.ReadFile("../../docs/grafana/arus.json")
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{PerPartition: true})
	m.SetSource(fakeSource(Snapshot{
		Partitions:            []Partition{{Topic: "t", Leader: true, Replicas: 1, ISR: 1}},
		BrokerMetadataOffsets: map[int32]int64{1: 0},
		Raft:                  &Raft{},
		Listeners:             []Listener{{Name: "client"}},
		Groups:                []Group{{Group: "g", State: "Stable"}},
		Lags:                  []Lag{{Group: "g", Topic: "t", Committed: 0, End: 1}},
		ClientTelemetry:       ClientTelemetry{Series: []ClientSeries{{InstanceID: "i", ClientID: "c", Name: "n", Value: 1}}},
	}))
	now := time.Now()
	m.ObserveRequest(0, 9, produceResponse(kerr.NotLeaderForPartition.Code), RequestTimes{now, now, now, now, now})
	m.Topic("t").Produced(1, 1)
	m.ObserveFlush(time.Millisecond, 1)
	m.ISRChanged(true, true)
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "arus_") {
			continue
		}
		exported[name] = true
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("%s is not documented in docs/metrics.md", name)
		}
	}
	if len(exported) < 40 {
		t.Errorf("only %d arus metrics exported; the fake snapshot misses some", len(exported))
	}
	used := regexp.MustCompile(`arus_[a-z_]+`).FindAllString(string(dashboard), -1)
	for _, name := range used {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if !exported[base] && !exported[name] {
			t.Errorf("the dashboard uses %s, which arus does not export", name)
		}
	}
}
