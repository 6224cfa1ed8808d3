package broker

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/arus-io/arus/internal/metadata"
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

// openNewPartitionsLocked opens, in parallel, the partitions of im hosted
// here that are not open yet: a CreateTopics of thousands of partitions
// must be served within the metadata append timeout, since this runs on
// the apply path. Partitions that fail to open are logged and left out.
func (b *Broker) openNewPartitionsLocked(im *metadata.Image) map[topicPartition]*partition.Partition {
	var cfgs []partition.Config
	for name, t := range im.Topics {
		tc := b.topicConfig(im, name)
		for _, p := range t.Partitions {
			if !containsID(p.Replicas, b.cfg.NodeID) {
				continue
			}
			if _, ok := b.mu.partitions[topicPartition{name, p.Index}]; ok {
				continue
			}
			cfgs = append(cfgs, partition.Config{
				Topic: name, Index: p.Index,
				Dir:       filepath.Join(b.cfg.DataDir, fmt.Sprintf("%s-%d", name, p.Index)),
				TopicConf: tc, Logger: b.logger, ReplicaLagMax: b.opts.timing.ReplicaLagMax,
				Files: b.files, Flushes: b.flushObserver(), RecoveryPointInterval: b.cfg.RecoveryPointCheckpointInterval,
				Role: partition.Role{
					Self: b.cfg.NodeID, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
					Replicas: p.Replicas, ISR: p.ISR,
				},
			})
		}
	}
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
