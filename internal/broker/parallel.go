package broker

import (
	"fmt"
	"sync"

	"github.com/arus-io/arus/internal/partition"
)

// closeWorkers bounds how many partitions close at once. Closing is
// mostly fsyncs (producer snapshot, checkpoints, the active segment), which
// the file system batches well when several wait together: with 10,000
// partitions a sequential close would outlast the shutdown timeout.
const closeWorkers = 16

// closePartitions closes every partition with closeWorkers goroutines and
// returns their errors.
func closePartitions(parts map[topicPartition]*partition.Partition) []error {
	type job struct {
		tp topicPartition
		p  *partition.Partition
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range min(closeWorkers, len(parts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := j.p.Close(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("close %s-%d: %w", j.tp.topic, j.tp.index, err))
					mu.Unlock()
				}
			}
		}()
	}
	for tp, p := range parts {
		jobs <- job{tp, p}
	}
	close(jobs)
	wg.Wait()
	return errs
}

// openWorkers bounds how many partitions open at once; opening is mostly
// file creation and fsyncs of new directories.
const openWorkers = 8

// openPartitions opens the partitions of cfgs in parallel, without the
// broker's lock: a CreateTopics of thousands of partitions takes a while
// and produce and fetch must not wait for it. Partitions that fail to open
// are logged and left out.
func (b *Broker) openPartitions(cfgs []partition.Config) map[topicPartition]*partition.Partition {
	opened := make(map[topicPartition]*partition.Partition, len(cfgs))
	if len(cfgs) == 0 {
		return opened
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	jobs := make(chan partition.Config)
	for range min(openWorkers, len(cfgs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cfg := range jobs {
				part, err := partition.Open(cfg)
				if err != nil {
					b.logger.Error("cannot open partition; it stays offline", "topic", cfg.Topic, "partition", cfg.Index, "err", err)
					continue
				}
				mu.Lock()
				opened[topicPartition{cfg.Topic, cfg.Index}] = part
				mu.Unlock()
			}
		}()
	}
	for _, cfg := range cfgs {
		jobs <- cfg
	}
	close(jobs)
	wg.Wait()
	return opened
}
