package commitlog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/arus-io/arus/internal/record"
)

func BenchmarkAppend(b *testing.B) {
	l := openLog(b, b.TempDir(), Config{})
	batch, h := makeBatch(b, make([]int64, 10)...)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		hh := h
		if _, err := l.Append(batch, &hh, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadTail(b *testing.B) {
	l := openLog(b, b.TempDir(), Config{})
	batch, h := makeBatch(b, make([]int64, 10)...)
	for i := 0; i < 10000; i++ {
		hh := h
		if _, err := l.Append(bytes.Clone(batch), &hh, 1); err != nil {
			b.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Read(leo-500, leo, 1<<20, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReopenAfterCrash opens 100 logs of 10 MiB each (one active
// segment, 1 KiB batches) with 8 workers, as the broker does at start,
// after a crash that followed a checkpoint of their recovery points
// (only the files' tails past the point are rescanned), after a crash
// without recovery points (each active segment is rescanned), and after a
// clean shutdown (nothing is rescanned). The files are whole, so each
// iteration finds the same state.
func BenchmarkReopenAfterCrash(b *testing.B) {
	const logs, perLog, workers = 100, 10 << 20, 8
	root := b.TempDir()
	cfg := Config{Files: NewFileCache(256)}
	value := bytes.Repeat([]byte("v"), 900)
	dirs := make([]string, logs)
	for i := range dirs {
		dirs[i] = filepath.Join(root, fmt.Sprintf("t-%d", i))
		l, err := Open(dirs[i], cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		for l.Size() < perLog {
			rb := record.NewBuilder()
			rb.Add(1, []byte("key"), value)
			batch, err := rb.Build(record.CodecNone)
			if err != nil {
				b.Fatal(err)
			}
			h, _ := record.ParseHeader(batch)
			if _, err := l.Append(batch, &h, 1); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := l.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := l.CheckpointRecoveryPoint(); err != nil {
			b.Fatal(err)
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
	saved := make([][]byte, logs)
	for i, dir := range dirs {
		var err error
		if saved[i], err = os.ReadFile(filepath.Join(dir, recoveryPointFile)); err != nil {
			b.Fatal(err)
		}
	}
	openAll := func(b *testing.B) []*Log {
		out := make([]*Log, logs)
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Go(func() {
				for i := range next {
					l, err := Open(dirs[i], cfg, nil)
					if err != nil {
						b.Error(err)
						continue
					}
					out[i] = l
				}
			})
		}
		for i := range dirs {
			next <- i
		}
		close(next)
		wg.Wait()
		return out
	}
	for _, mode := range []string{"recovery-point", "full-rescan", "clean"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(logs * perLog)
			for b.Loop() {
				b.StopTimer()
				for i, dir := range dirs {
					if mode != "clean" {
						_ = os.Remove(filepath.Join(dir, cleanShutdownFile))
					}
					rp := filepath.Join(dir, recoveryPointFile)
					if mode == "full-rescan" {
						_ = os.Remove(rp)
					} else if err := os.WriteFile(rp, saved[i], 0o644); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				opened := openAll(b)
				b.StopTimer()
				for _, l := range opened {
					if l != nil {
						_ = l.Close()
					}
				}
				b.StartTimer()
			}
		})
	}
}
