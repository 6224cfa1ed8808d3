package partition

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/arustest/errorfs"
	"github.com/arus-io/arus/internal/config"
)

// TestGroupCommitFsyncFailureFailsEveryWaiter: when the flusher's fsync
// fails, every producer waiting on it (acks=1 and acks=all) gets
// ErrStorage, the high watermark stays where the last good fsync left it,
// later appends are refused, and a reopen on a healthy disk recovers every
// acknowledged batch.
func TestGroupCommitFsyncFailureFailsEveryWaiter(t *testing.T) {
	dir := t.TempDir()
	fs := errorfs.New()
	cfg := Config{Topic: "t", Dir: dir, TopicConf: config.ResolveTopic(nil, nil), FS: fs}
	p, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	acked, err := appendDurable(t, p, idBatch(t, -1, -1, -1, 3))
	if err != nil {
		t.Fatal(err)
	}
	hw := p.HighWatermark()
	if hw != acked.End {
		t.Fatalf("HW %d, acknowledged end %d", hw, acked.End)
	}

	fs.Inject(errorfs.Rule{Ops: errorfs.OpSync, Err: syscall.EIO})
	const waiters = 8
	errs := make(chan error, waiters)
	started := 0
	for i := range waiters {
		res, err := p.Append(idBatch(t, -1, -1, -1, 2), 1)
		// The flusher runs meanwhile: once its fsync failed, appends are
		// refused too. The first one is always accepted.
		if err != nil {
			if i == 0 || !errors.Is(err, ErrStorage) {
				t.Fatalf("append %d: %v", i, err)
			}
			continue
		}
		started++
		go func(acks int, end int64) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if acks == 1 {
				errs <- p.WaitDurable(ctx, end)
			} else {
				errs <- p.WaitReplicated(ctx, end)
			}
		}(i%2, res.End)
	}
	for range started {
		if err := <-errs; !errors.Is(err, ErrStorage) {
			t.Fatalf("waiter: %v, want ErrStorage", err)
		}
	}
	if got := p.HighWatermark(); got != hw {
		t.Fatalf("HW moved from %d to %d after a failed fsync", hw, got)
	}
	// What was durable stays acknowledged; nothing new is.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitDurable(ctx, acked.End); err != nil {
		t.Fatalf("wait for durable data: %v", err)
	}
	fs.Reset()
	if _, err := p.Append(idBatch(t, -1, -1, -1, 1), 1); !errors.Is(err, ErrStorage) {
		t.Fatalf("append after failed fsync: %v, want ErrStorage", err)
	}
	if err := p.Close(); err == nil {
		t.Fatal("close of a failed partition reported success")
	}

	q, err := Open(cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer q.Close()
	if q.LogEndOffset() < acked.End || q.HighWatermark() < acked.End {
		t.Fatalf("reopened with LEO %d, HW %d; %d were acknowledged", q.LogEndOffset(), q.HighWatermark(), acked.End)
	}
	b, err := q.Read(0, 1<<20, true)
	if err != nil || len(b) == 0 {
		t.Fatalf("read after reopen: %d bytes, %v", len(b), err)
	}
	if _, err := appendDurable(t, q, idBatch(t, -1, -1, -1, 1)); err != nil {
		t.Fatalf("append after reopen: %v", err)
	}
}

// TestRecoveryPointCheckpointed: the flusher writes the recovery point
// every RecoveryPointInterval, so it follows acknowledged appends.
func TestRecoveryPointCheckpointed(t *testing.T) {
	dir := t.TempDir()
	p, err := Open(Config{Topic: "t", Dir: dir, TopicConf: config.ResolveTopic(nil, nil), RecoveryPointInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := appendDurable(t, p, idBatch(t, -1, -1, -1, 3))
	if err != nil {
		t.Fatal(err)
	}
	if p.RecoveryPoint() != res.End {
		t.Fatalf("recovery point %d, acknowledged end %d", p.RecoveryPoint(), res.End)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, ".arus-recovery-point"))
		if f := strings.Fields(string(b)); err == nil && len(f) == 5 && f[3] == "3" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recovery point file %q (%v), want offset 3", b, err)
		}
		select {
		case <-p.Appended():
		case <-time.After(10 * time.Millisecond):
		}
	}
}
