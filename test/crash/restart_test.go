//go:build integration

package crash

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// TestRestartManyPartitions measures how long a broker holding many
// partitions takes to serve again (every partition answers ListOffsets
// with its end offset) after kill -9 once every partition checkpointed its
// recovery point, after kill -9 without recovery points (each active
// segment rescanned), and after a clean stop. It checks that no
// acknowledged record is lost and logs the times; it asserts no timing.
// ARUS_RESTART_PARTITIONS (default 1000) and ARUS_RESTART_KIB (KiB per
// partition, default 256) scale it.
func TestRestartManyPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real broker with many partitions; skipped with -short")
	}
	parts := envInt(t, "ARUS_RESTART_PARTITIONS", 1000)
	kib := envInt(t, "ARUS_RESTART_KIB", 256)
	const valueSize = 16 << 10
	perPartition := max(1, kib<<10/valueSize)
	const name = "restart"

	b := newBroker(t)
	props := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(props, []byte("log.flush.offset.checkpoint.interval.ms=500\narus.max.partitions.per.broker=-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := b.args
	b.args = func(listener string) []string { return append(args(listener), "--config", props) }
	b.start()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, int32(parts), 1, nil, name)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	value := bytes.Repeat([]byte("r"), valueSize)
	produced := time.Now()
	for i := range perPartition {
		for p := range parts {
			cl.Produce(ctx, &kgo.Record{Topic: name, Partition: int32(p), Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce %d to partition %d: %v", i, p, err)
				}
			})
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("produced %d MiB to %d partitions in %v", parts*perPartition*valueSize>>20, parts, time.Since(produced).Round(time.Millisecond))

	// Every partition's recovery point reaches its end within a few intervals.
	checkpointed := func() bool {
		for p := range parts {
			raw, err := os.ReadFile(filepath.Join(b.dataDir, fmt.Sprintf("%s-%d", name, p), ".arus-recovery-point"))
			if f := strings.Fields(string(raw)); err != nil || len(f) != 5 || f[3] != strconv.Itoa(perPartition) {
				return false
			}
		}
		return true
	}
	if !poll(60*time.Second, b.proc.exited, checkpointed) {
		t.Fatal("recovery points did not reach the log ends within 60s")
	}

	serving := func(what string) time.Duration {
		t.Helper()
		start := time.Now()
		b.start()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		ok := poll(120*time.Second, b.proc.exited, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ends, err := adm.ListEndOffsets(ctx, name)
			if err != nil || ends.Error() != nil {
				return false
			}
			n := 0
			ends.Each(func(o kadm.ListedOffset) {
				if o.Offset == int64(perPartition) {
					n++
				}
			})
			return n == parts
		})
		if !ok {
			t.Fatalf("%s: not every partition served its %d records within 120s", what, perPartition)
		}
		d := time.Since(start)
		t.Logf("%s: %d partitions, %d MiB, serving again after %v", what, parts, parts*perPartition*valueSize>>20, d.Round(time.Millisecond))
		return d
	}

	b.signal(syscall.SIGKILL)
	serving("kill -9 with recovery points")
	b.signal(syscall.SIGKILL)
	for p := range parts {
		if err := os.Remove(filepath.Join(b.dataDir, fmt.Sprintf("%s-%d", name, p), ".arus-recovery-point")); err != nil {
			t.Fatal(err)
		}
	}
	serving("kill -9 without recovery points (full rescan of active segments)")
	b.signal(syscall.SIGTERM)
	serving("clean stop")
}
