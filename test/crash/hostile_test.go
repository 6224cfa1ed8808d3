//go:build integration

package crash

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// procStatus reads a "Name: value kB" field of /proc/<pid>/status in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read status of %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parse %s %q: %v", field, rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("%s not in /proc/%d/status", field, pid)
	return 0
}

// cpuTime is the user plus system CPU time the process has used.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("read stat of %d: %v", pid, err)
	}
	// Fields after the command name (which may hold spaces) start at ")".
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// zstdBomb is a v2 batch with one declared record whose records section
// decompresses to size zero bytes: a few KiB on the wire.
func zstdBomb(t *testing.T, size int) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	var payload bytes.Buffer
	enc.Reset(&payload)
	zeros := make([]byte, 1<<20)
	for written := 0; written < size; written += len(zeros) {
		if _, err := enc.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 61, 61+payload.Len())
	b = append(b, payload.Bytes()...)
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	b[16] = 2                                      // magic
	binary.BigEndian.PutUint16(b[21:], 4)          // zstd
	binary.BigEndian.PutUint64(b[43:], ^uint64(0)) // no producer id
	binary.BigEndian.PutUint16(b[51:], 0xffff)     // no epoch
	binary.BigEndian.PutUint32(b[53:], 0xffffffff) // no sequence
	binary.BigEndian.PutUint32(b[57:], 1)          // one record
	crc := crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(b[17:], crc)
	return b
}

// TestHostileClientsBoundedResources runs a real arus process and, at the
// same time, sends it decompression bombs, requests with huge tag counts,
// frames that claim 100 MiB and never arrive, and hundreds of idle
// connections (issue 7). The broker's peak RSS and CPU time stay within
// generous bounds, every bomb gets its error or a closed connection, and
// afterwards a well-behaved client still produces and reads back every
// acknowledged record.
func TestHostileClientsBoundedResources(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: runs the arus binary")
	}
	b := newBroker(t)
	b.start()
	pid := b.proc.cmd.Process.Pid
	addr := b.addr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	created, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "safe")
	if err != nil {
		t.Fatal(err)
	}
	produce := func(prefix string, n int) []string {
		var values []string
		var recs []*kgo.Record
		for i := 0; i < n; i++ {
			v := fmt.Sprintf("%s-%d", prefix, i)
			values = append(values, v)
			recs = append(recs, &kgo.Record{Topic: "safe", Partition: int32(i % 3), Value: []byte(v)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", prefix, err)
		}
		return values
	}
	before := produce("before", 300)

	const bombSize = 200 << 20
	bomb := zstdBomb(t, bombSize)
	t.Logf("zstd bomb: %d bytes decompressing to %d MiB", len(bomb), bombSize>>20)
	rssBefore := procStatus(t, pid, "VmRSS")
	cpuBefore := cpuTime(t, pid)

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	// Decompression bombs, eight at once.
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bc, err := kgo.NewClient(kgo.SeedBrokers(addr))
			if err != nil {
				errs <- err
				return
			}
			defer bc.Close()
			req := kmsg.NewPtrProduceRequest()
			req.Acks, req.TimeoutMillis = -1, 10000
			req.Topics = []kmsg.ProduceRequestTopic{{Topic: "safe", TopicID: created.ID, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: int32(i % 3), Records: bomb}}}}
			resp, err := req.RequestWith(ctx, bc)
			if err != nil {
				return // the broker may close the connection instead
			}
			if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.CorruptMessage.Code && code != kerr.InvalidRecord.Code {
				errs <- fmt.Errorf("bomb answered %v, want CORRUPT_MESSAGE or INVALID_RECORD", kerr.ErrorForCode(code))
			}
		}()
	}
	// Huge tag counts: each used to cost tens of seconds of CPU.
	tagBomb := func() []byte {
		meta := kmsg.NewPtrMetadataRequest()
		meta.Version = 12
		f := rawFrame(meta, 1)
		f = append(f[:len(f)-1], 0xff, 0xff, 0xff, 0xff, 0x0f)
		binary.BigEndian.PutUint32(f, uint32(len(f)-4))
		return f
	}()
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write(tagBomb); err != nil {
				errs <- err
				return
			}
			if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
				errs <- fmt.Errorf("tag bomb: read %d bytes, %v; want the connection closed", n, err)
			}
		}()
	}
	// Frames that claim 100 MiB and send ten bytes, and idle connections.
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 300; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		held = append(held, c)
		if i < 8 {
			if _, err := c.Write(append(binary.BigEndian.AppendUint32(nil, 100<<20), make([]byte, 10)...)); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	peak := procStatus(t, pid, "VmHWM")
	cpu := cpuTime(t, pid) - cpuBefore
	t.Logf("RSS before %d MiB, peak %d MiB; CPU for the attack %v", rssBefore>>20, peak>>20, cpu)
	// Without bounds the bombs alone would take 8 x 200 MiB.
	if limit := rssBefore + 400<<20; peak > limit {
		t.Errorf("peak RSS %d MiB, want under %d MiB", peak>>20, limit>>20)
	}
	if cpu > 20*time.Second {
		t.Errorf("the attack cost %v of CPU", cpu)
	}

	// A well-behaved client still works and sees everything acknowledged.
	after := produce("after", 300)
	want := map[string]bool{}
	for _, v := range append(before, after...) {
		want[v] = true
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("safe"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for len(want) > 0 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d acknowledged records not read back: %v", len(want), ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if !want[string(r.Value)] {
				t.Fatalf("unexpected record %q at %d/%d", r.Value, r.Partition, r.Offset)
			}
			delete(want, string(r.Value))
		})
	}
}
