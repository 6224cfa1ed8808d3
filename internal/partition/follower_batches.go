package partition

import (
	"github.com/arus-io/arus/internal/record"
)

// observeBatchesLocked updates the epoch cache and producer state from
// batches a follower appended. It reports whether the epoch cache changed:
// the caller writes its checkpoint after unlocking mu.
func (p *Partition) observeBatchesLocked(batches []byte) (epochsChanged bool, err error) {
	changed := false
	for pos := 0; pos < len(batches); {
		size, err := record.PeekSize(batches[pos:])
		if err != nil {
			return changed, err
		}
		h, err := record.ParseHeader(batches[pos:])
		if err != nil {
			return changed, err
		}
		if h.PartitionLeaderEpoch > p.mu.epochs.latest() {
			p.mu.epochs = p.mu.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset)
			changed = true
		}
		if h.ProducerID >= 0 {
			e := p.mu.producers[h.ProducerID]
			if e == nil {
				e = &producerEntry{Epoch: h.ProducerEpoch}
				p.mu.producers[h.ProducerID] = e
			}
			e.observe(&h, h.MaxTimestamp)
			a, aborted, err := p.mu.txns.observe(&h, batches[pos:pos+size])
			if err != nil {
				return changed, err
			}
			if err := p.indexAbortLocked(a, aborted); err != nil {
				return changed, err
			}
		}
		pos += size
	}
	return changed, nil
}
