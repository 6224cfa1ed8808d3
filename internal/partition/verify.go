package partition

// KIP-890 part 1 on the partition side (Kafka's VerificationGuard): before
// a transactional batch may open a transaction on this partition, the
// broker asks the transaction coordinator whether the partition is in the
// producer's ongoing transaction. The verification starts here
// (StartTxnVerification), which hands out a guard; the append then
// presents it (AppendVerified). A marker for the producer written in
// between (its transaction ended) or a newer verification invalidates the
// guard, so a verification answered for a transaction that has since
// finished cannot let a late write open a new, hanging one.

import (
	"fmt"
	"time"

	"github.com/arus-io/arus/internal/record"
)

// verification is one producer's verification in progress.
type verification struct {
	guard uint64
	epoch int16
	at    int64 // ms, when it started
}

// StartTxnVerification reports whether a transactional batch of producer
// id pid at epoch needs the coordinator's verification before it is
// appended here, and if so returns the guard to append it with. No
// verification is needed (guard 0) while the producer has a transaction
// open here at that epoch; one already in progress at that epoch is shared.
func (p *Partition) StartTxnVerification(pid int64, epoch int16) (guard uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.mu.closed:
		return 0, ErrClosed
	case !p.mu.role.IsLeader():
		return 0, ErrNotLeader
	}
	if p.hasOngoingTxnLocked(pid, epoch) {
		return 0, nil
	}
	if v, ok := p.mu.verifying[pid]; ok && v.epoch == epoch {
		// Concurrent requests of the producer share one verification, as
		// Kafka's maybeCreateVerificationStateEntry reuses its entry.
		return v.guard, nil
	}
	if p.mu.verifying == nil {
		p.mu.verifying = map[int64]verification{}
	}
	p.mu.lastGuard++
	p.mu.verifying[pid] = verification{guard: p.mu.lastGuard, epoch: epoch, at: p.now().UnixMilli()}
	return p.mu.lastGuard, nil
}

func (p *Partition) hasOngoingTxnLocked(pid int64, epoch int16) bool {
	_, open := p.mu.txns.open[pid]
	e := p.mu.producers[pid]
	return open && e != nil && e.Epoch == epoch
}

// checkVerificationLocked refuses a transactional batch that would open a
// transaction here without a current verification.
func (p *Partition) checkVerificationLocked(h *record.Header, guard uint64) error {
	if !h.IsTransactional() || h.IsControl() || p.hasOngoingTxnLocked(h.ProducerID, h.ProducerEpoch) {
		return nil
	}
	if v, ok := p.mu.verifying[h.ProducerID]; !ok || v.guard != guard || v.epoch != h.ProducerEpoch {
		return fmt.Errorf("%w: producer %d epoch %d has no current verification", ErrInvalidTxnState, h.ProducerID, h.ProducerEpoch)
	}
	return nil
}

// ExpireProducers forgets the producers that have written nothing here
// for expiration (producer.id.expiration.ms) and have no open
// transaction, as Kafka's ProducerStateManager.removeExpiredProducers
// does; it returns how many. A later batch of an expired producer is
// accepted with any sequence, as for any producer this partition does not
// know.
func (p *Partition) ExpireProducers(now time.Time, expiration time.Duration) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	nowMs := now.UnixMilli()
	n := 0
	for pid, e := range p.mu.producers {
		if _, open := p.mu.txns.open[pid]; open {
			continue
		}
		if e.LastTimestamp == 0 {
			// From a snapshot older than LastTimestamp: count from now.
			e.LastTimestamp = nowMs
			continue
		}
		if nowMs-e.LastTimestamp >= expiration.Milliseconds() {
			delete(p.mu.producers, pid)
			delete(p.mu.verifying, pid)
			n++
		}
	}
	for pid, v := range p.mu.verifying {
		if nowMs-v.at >= expiration.Milliseconds() {
			delete(p.mu.verifying, pid) // a verification whose batch never came
		}
	}
	return n
}
