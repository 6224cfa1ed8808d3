package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/arus-io/arus/internal/arustest"
)

// createOneTopic creates one topic of n partitions (RF 1) on b and
// returns how long CreateTopics took; it fails the test unless it
// succeeded and every partition is open when the answer arrives.
func createOneTopic(t testing.TB, b *arustest.Broker, name string, n int32) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := kadm.NewClient(newFranz(t, b.Addr()))
	// kadm's default 15 s CreateTopics timeout is too short for 10,000
	// partitions on a loaded machine: the broker answers REQUEST_TIMED_OUT
	// (the create still completes) and the client's retry then gets
	// TOPIC_ALREADY_EXISTS.
	adm.SetTimeoutMillis(int32((110 * time.Second).Milliseconds()))
	start := time.Now()
	resp, err := adm.CreateTopics(ctx, n, 1, nil, name)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if r := resp[name]; r.Err != nil {
		t.Fatalf("create %s: %v (%s)", name, r.Err, r.ErrMessage)
	}
	// CreateTopics answers once this broker applied the topic
	// (WaitApplied): every partition is open already.
	for p := range n {
		if b.Partition(name, p) == nil {
			t.Fatalf("partition %s-%d not open when CreateTopics answered", name, p)
		}
	}
	return took
}

// TestCreateTopicOfTenThousandPartitions: one CreateTopics of a topic with
// 10,000 partitions on a one-node cluster succeeds (it used to time out on
// the quorum's 10 s append timeout, the apply path being quadratic and
// opening partitions itself). The time is logged; BenchmarkCreateTopic
// shows it grows linearly with the partition count.
func TestCreateTopicOfTenThousandPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10,000 partitions")
	}
	b := arustest.StartBroker(t)
	took := createOneTopic(t, b, "ten-thousand", 10000)
	t.Logf("CreateTopics of one topic with 10,000 partitions took %v", took.Round(time.Millisecond))
}

// BenchmarkCreateTopic creates one topic of 1k, 5k and 10k partitions per
// iteration (each on a new one-node broker) and reports the time per
// partition, which stays flat when creation is linear.
func BenchmarkCreateTopic(b *testing.B) {
	for _, n := range []int32{1000, 5000, 10000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			var total time.Duration
			for i := range b.N {
				br := arustest.StartBroker(b)
				total += createOneTopic(b, br, fmt.Sprintf("bench-%d", i), n)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N*int(n)), "µs/partition")
		})
	}
}
