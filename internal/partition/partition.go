package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/arus-io/arus/internal/commitlog"
	"github.com/arus-io/arus/internal/config"
	"github.com/arus-io/arus/internal/record"
)

// ErrClosed is returned for operations on a closed (or deleted) partition.
var ErrClosed = errors.New("partition: closed")

// ErrStorage wraps I/O failures of the log: the write may not be durable.
var ErrStorage = errors.New("partition: storage error")

// Config of a partition.
type Config struct {
	Topic     string
	Index     int32
	Dir       string
	TopicConf config.Topic
	Now       func() time.Time
	Logger    *slog.Logger
}

func (c Config) logConfig() commitlog.Config {
	return commitlog.Config{
		SegmentBytes:       c.TopicConf.SegmentBytes,
		SegmentMs:          c.TopicConf.SegmentMs,
		RetentionMs:        retentionMs(c.TopicConf),
		RetentionBytes:     retentionBytes(c.TopicConf),
		IndexIntervalBytes: c.TopicConf.IndexIntervalBytes,
		Now:                c.Now,
	}
}

// Compacted topics without "delete" keep data regardless of retention.
func retentionMs(t config.Topic) int64 {
	if !t.CleanupDelete {
		return -1
	}
	return t.RetentionMs
}

func retentionBytes(t config.Topic) int64 {
	if !t.CleanupDelete {
		return -1
	}
	return t.RetentionBytes
}

// Partition is one partition replica. Safe for concurrent use.
type Partition struct {
	topic  string
	index  int32
	now    func() time.Time
	logger *slog.Logger
	log    *commitlog.Log

	conf atomic.Pointer[config.Topic]
	hw   atomic.Int64 // durable log end offset: what consumers may read

	mu struct {
		sync.Mutex
		producers map[int64]*producerEntry
		closed    bool
	}

	hwMu struct {
		sync.Mutex
		changed chan struct{} // closed and replaced when hw moves
		err     error         // sticky fsync failure
	}

	flushReq chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

// Open opens the partition's log (recovering it if needed), rebuilds the
// idempotent-producer state and starts the flusher.
func Open(cfg Config) (*Partition, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	logger := cfg.Logger.With("topic", cfg.Topic, "partition", cfg.Index)
	l, err := commitlog.Open(cfg.Dir, cfg.logConfig(), logger)
	if err != nil {
		return nil, fmt.Errorf("open %s-%d: %w", cfg.Topic, cfg.Index, err)
	}
	p := &Partition{
		topic: cfg.Topic, index: cfg.Index, now: cfg.Now, logger: logger, log: l,
		flushReq: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	tc := cfg.TopicConf
	p.conf.Store(&tc)
	p.hw.Store(l.LogEndOffset())
	p.hwMu.changed = make(chan struct{})
	if err := p.rebuildProducers(cfg.Dir); err != nil {
		l.Close()
		return nil, err
	}
	go p.flushLoop()
	return p, nil
}

// rebuildProducers loads the newest producer snapshot and replays batch
// headers after it.
func (p *Partition) rebuildProducers(dir string) error {
	leo := p.log.LogEndOffset()
	from, producers, ok := loadSnapshot(dir, leo)
	if !ok || from < p.log.LogStartOffset() {
		from, producers = p.log.LogStartOffset(), map[int64]*producerEntry{}
	}
	err := p.log.ScanBatches(from, func(h record.Header) error {
		if h.ProducerID < 0 || h.BaseOffset < from {
			return nil
		}
		e := producers[h.ProducerID]
		if e == nil {
			e = &producerEntry{Epoch: h.ProducerEpoch}
			producers[h.ProducerID] = e
		}
		e.update(&h, h.MaxTimestamp)
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild producer state of %s-%d: %w", p.topic, p.index, err)
	}
	p.mu.producers = producers
	return nil
}

// Topic returns the topic name.
func (p *Partition) Topic() string { return p.topic }

// Index returns the partition number.
func (p *Partition) Index() int32 { return p.index }

// SetTopicConfig applies changed topic configs.
func (p *Partition) SetTopicConfig(tc config.Topic) {
	p.conf.Store(&tc)
	p.log.SetConfig(Config{TopicConf: tc, Now: p.now}.logConfig())
}

// AppendResult describes an appended (or duplicate) batch.
type AppendResult struct {
	BaseOffset     int64
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
	Duplicate      bool
	// End is the offset after the batch: the high watermark to wait for
	// before acknowledging (see WaitDurable).
	End int64
}

// Append validates one producer batch, checks idempotence and appends it
// to the page cache; a duplicate of a recent batch is not appended again
// and reports the original offsets. Call WaitDurable with res.End before
// acknowledging. Appends to different partitions run concurrently.
func (p *Partition) Append(batch []byte) (AppendResult, error) {
	conf := p.conf.Load()
	res := AppendResult{LogAppendTime: -1}
	h, err := record.Validate(batch, int(conf.MaxMessageBytes))
	if err != nil {
		return res, err
	}
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return res, ErrClosed
	}
	now := p.now().UnixMilli()
	var entry *producerEntry
	if h.ProducerID >= 0 {
		entry = p.mu.producers[h.ProducerID]
		if entry != nil {
			if dup, ok := entry.duplicate(&h); ok {
				p.mu.Unlock()
				res.BaseOffset, res.Duplicate, res.End = dup.FirstOffset, true, dup.LastOffset+1
				res.LogStartOffset = p.log.LogStartOffset()
				return res, nil
			}
		}
		if err := entry.check(&h); err != nil {
			p.mu.Unlock()
			return res, err
		}
	}
	if conf.LogAppendTime {
		record.SetLogAppendTime(batch, now)
		h.MaxTimestamp = now
		res.LogAppendTime = now
	}
	base, err := p.log.Append(batch, &h, 0)
	if err != nil {
		p.mu.Unlock()
		return res, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	if h.ProducerID >= 0 {
		if entry == nil {
			entry = &producerEntry{Epoch: h.ProducerEpoch}
			p.mu.producers[h.ProducerID] = entry
		}
		entry.update(&h, now)
	}
	p.mu.Unlock()
	res.BaseOffset = base
	res.LogStartOffset = p.log.LogStartOffset()
	select {
	case p.flushReq <- struct{}{}:
	default:
	}
	res.End = h.NextOffset()
	return res, nil
}

// WaitDurable blocks until the high watermark reaches end, ctx is done
// (the produce timeout) or the partition closes.
func (p *Partition) WaitDurable(ctx context.Context, end int64) error {
	for {
		ch, err := p.hwChanged()
		if err != nil {
			return err
		}
		if p.hw.Load() >= end {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			if p.hw.Load() >= end {
				return nil
			}
			return ErrClosed
		}
	}
}

func (p *Partition) hwChanged() (<-chan struct{}, error) {
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	return p.hwMu.changed, p.hwMu.err
}

// Changed returns a channel closed the next time the high watermark moves
// (or the partition closes); long-poll fetches wait on it.
func (p *Partition) Changed() <-chan struct{} {
	ch, _ := p.hwChanged()
	return ch
}

func (p *Partition) setHW(hw int64, err error) {
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	if err != nil && p.hwMu.err == nil {
		p.hwMu.err = fmt.Errorf("%w: fsync: %v", ErrStorage, err)
	}
	if hw > p.hw.Load() {
		p.hw.Store(hw)
	}
	close(p.hwMu.changed)
	p.hwMu.changed = make(chan struct{})
}

// flushLoop is the group commit: each fsync covers all appends made before
// it started; appends arriving meanwhile wait for the next round.
func (p *Partition) flushLoop() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			// Make whatever was appended durable before waiters give up.
			synced, err := p.log.Sync()
			p.setHW(synced, err)
			return
		case <-p.flushReq:
		}
		synced, err := p.log.Sync()
		if err != nil {
			p.logger.Error("fsync failed; acknowledgements stop", "err", err)
		}
		p.setHW(synced, err)
	}
}

// HighWatermark is the offset below which records are durable and visible.
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// LogStartOffset is the first offset still in the log.
func (p *Partition) LogStartOffset() int64 { return p.log.LogStartOffset() }

// LogEndOffset is the offset the next record will get.
func (p *Partition) LogEndOffset() int64 { return p.log.LogEndOffset() }

// Read returns whole batches from offset up to the high watermark, at most
// maxBytes unless the first batch alone is larger and minOneBatch is set.
func (p *Partition) Read(offset int64, maxBytes int, minOneBatch bool) ([]byte, error) {
	hw := p.hw.Load()
	if offset > hw && offset <= p.log.LogEndOffset() {
		// Written but not yet durable: nothing to read yet, not out of range.
		return nil, nil
	}
	return p.log.Read(offset, hw, maxBytes, minOneBatch)
}

// OffsetForTimestamp returns the first visible offset with a timestamp >= ts.
func (p *Partition) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	return p.log.OffsetForTimestamp(ts, p.hw.Load())
}

// MaxTimestamp returns the visible record with the largest timestamp.
func (p *Partition) MaxTimestamp() (offset, timestamp int64, found bool, err error) {
	return p.log.MaxTimestamp(p.hw.Load())
}

// EnforceRetention deletes segments past retention.
func (p *Partition) EnforceRetention() (int, error) { return p.log.EnforceRetention() }

// Size is the bytes on disk of the log.
func (p *Partition) Size() int64 { return p.log.Size() }

// Close stops the flusher, writes a producer-state snapshot and closes the
// log cleanly. Idempotent.
func (p *Partition) Close() error { return p.shutdown(false) }

// Delete closes the partition and removes its data.
func (p *Partition) Delete() error { return p.shutdown(true) }

func (p *Partition) shutdown(remove bool) error {
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return nil
	}
	p.mu.closed = true
	producers := p.mu.producers
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	if remove {
		return p.log.Delete()
	}
	snapErr := writeSnapshot(p.log.Dir(), p.log.LogEndOffset(), producers)
	return errors.Join(snapErr, p.log.Close())
}
