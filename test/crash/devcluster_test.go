//go:build integration

package crash

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// devRun is one `arus dev cluster` process and what it printed.
type devRun struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  []string
	done chan struct{}
}

func startDev(t *testing.T, args ...string) *devRun {
	t.Helper()
	d := &devRun{cmd: exec.Command(arusBin, append([]string{"dev", "cluster"}, args...)...), done: make(chan struct{})}
	pr, pw := io.Pipe()
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.mu.Lock()
			d.out = append(d.out, sc.Text())
			d.mu.Unlock()
		}
	}()
	go func() {
		_ = d.cmd.Wait()
		pw.Close()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.stop(t)
	})
	return d
}

// stop sends SIGINT (Ctrl-C) and waits for the command and its nodes.
func (d *devRun) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Errorf("arus dev cluster did not stop within 60 s of SIGINT")
	}
}

var startedRE = regexp.MustCompile(`node (\d+) started \(pid (\d+)\)`)

// pids returns the pid of every node this run started.
func (d *devRun) pids() map[int32]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[int32]int{}
	for _, l := range d.out {
		if m := startedRE.FindStringSubmatch(l); m != nil {
			id, _ := strconv.Atoi(m[1])
			pid, _ := strconv.Atoi(m[2])
			out[int32(id)] = pid
		}
	}
	return out
}

// freeRun finds n consecutive free loopback ports.
func freeRun(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 30000 + rand.IntN(25000)
		var ls []net.Listener
		ok := true
		for i := 0; i < n; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free ports")
	return 0
}

// TestDevCluster runs `arus dev cluster --nodes 3`, kills a node, starts
// it again with a second `arus dev cluster`, and stops everything with Ctrl-C.
func TestDevCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	base := freeRun(t, 3)
	dir := t.TempDir()
	args := []string{"--nodes", "3", "--base-port", strconv.Itoa(base), "--data-dir", dir}
	first := startDev(t, args...)
	addrs := []string{}
	for i := 0; i < 3; i++ {
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", base+i))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	waitFor(t, 60*time.Second, "three brokers in metadata", func() bool {
		m, err := adm.Metadata(ctx)
		return err == nil && len(m.Brokers) == 3
	})
	if _, err := adm.CreateTopic(ctx, 3, 3, nil, "dev"); err != nil {
		t.Fatal(err)
	}
	produced := 0
	for i := 0; i < 60; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dev", Key: []byte(strconv.Itoa(i % 7)), Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		produced++
	}
	pid := first.pids()[2]
	if pid == 0 {
		t.Fatalf("no pid printed for node 2: %v", first.out)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "node 2 leads nothing after kill -9", func() bool {
		m, err := adm.Metadata(ctx, "dev")
		if err != nil {
			return false
		}
		for _, p := range m.Topics["dev"].Partitions {
			if p.Leader == 2 || p.Leader < 0 {
				return false
			}
		}
		return true
	})
	// The same command again starts only the missing node.
	second := startDev(t, args...)
	waitFor(t, 30*time.Second, "second run starts node 2 only", func() bool {
		p := second.pids()
		return len(p) == 1 && p[2] != 0
	})
	waitFor(t, 90*time.Second, "node 2 back in every ISR", func() bool {
		m, err := adm.Metadata(ctx, "dev")
		if err != nil {
			return false
		}
		for _, p := range m.Topics["dev"].Partitions {
			if len(p.ISR) != 3 {
				return false
			}
		}
		return true
	})
	// Everything produced is readable.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("dev"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := 0
	for got < produced {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", got, produced)
		}
		got += fs.NumRecords()
	}
	second.stop(t)
	first.stop(t)
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Ctrl-C", a)
		}
	}
}
