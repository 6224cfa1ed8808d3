package txn

// The pure core of the transaction coordinator: the transactions of one
// __transaction_state partition and Kafka's state machine over them
// (TransactionCoordinator and TransactionMetadata):
//
//	Empty ──AddPartitions──▶ Ongoing ──EndTxn──▶ PrepareCommit ──markers──▶ CompleteCommit
//	                            │        └─────▶ PrepareAbort  ──markers──▶ CompleteAbort
//	                            └─timeout or a new InitProducerId: epoch bump, PrepareAbort
//
// Every transition is written to the partition and applied only once it
// is durable; while a write or a round of markers is in flight the id is
// busy and its requests get CONCURRENT_TRANSACTIONS, as in Kafka. No
// goroutines, clock or I/O here: the shard passes the time and performs
// the writes and marker rounds the store interface asks for.

import (
	"math"
	"slices"
	"strings"
	"time"
)

// store performs the I/O the state machine asks for; its callbacks run on
// the shard goroutine.
type store interface {
	// write makes m durable (nil m: a tombstone for id) and then calls done.
	write(id string, m *Metadata, done func(now time.Time, err error))
	// sendMarkers writes the markers ending m's transaction to all its
	// partitions, retrying until they are written or the shard stops, and
	// then calls done.
	sendMarkers(m Metadata, commit bool, done func(now time.Time))
}

// settings are the coordinator's configs.
type settings struct {
	maxTimeout   time.Duration // transaction.max.timeout.ms
	idExpiration time.Duration // transactional.id.expiration.ms
}

type entry struct {
	meta Metadata
	busy bool // a write or a marker round is in flight
}

// txnSet is the transactions of one partition.
type txnSet struct {
	cfg   settings
	store store
	txns  map[string]*entry
}

func newTxnSet(cfg settings, s store) *txnSet {
	return &txnSet{cfg: cfg, store: s, txns: map[string]*entry{}}
}

// InitRequest is an InitProducerId with a transactional id.
type InitRequest struct {
	ID      string
	Timeout time.Duration
	// ProducerID and ProducerEpoch are the producer's current ones (v3+,
	// KIP-360) or -1.
	ProducerID    int64
	ProducerEpoch int16
	// FreshProducerID is a newly allocated producer id, used when the id is
	// new or its epochs are exhausted.
	FreshProducerID int64
}

// InitResult is the answer to an InitProducerId.
type InitResult struct {
	ProducerID    int64
	ProducerEpoch int16
	Err           error
}

// maxEpoch is the last usable epoch: Kafka bumps to a new producer id
// before the epoch reaches Short.MaxValue.
const maxEpoch = math.MaxInt16 - 1

func (s *txnSet) initProducerID(now time.Time, req InitRequest, reply func(InitResult)) {
	fail := func(err error) { reply(InitResult{ProducerID: -1, ProducerEpoch: -1, Err: err}) }
	if req.Timeout <= 0 || req.Timeout > s.cfg.maxTimeout {
		fail(ErrInvalidTransactionTimeout)
		return
	}
	e := s.txns[req.ID]
	if e == nil {
		m := Metadata{ID: req.ID, ProducerID: req.FreshProducerID, LastProducerID: -1, LastEpoch: -1,
			Timeout: req.Timeout, State: StateEmpty, Update: now}
		e = &entry{meta: Metadata{ID: req.ID, ProducerID: -1, ProducerEpoch: -1, LastProducerID: -1, LastEpoch: -1, State: StateDead}}
		s.txns[req.ID] = e
		s.transition(e, m, func(err error) {
			if err != nil {
				if e.meta.State == StateDead {
					delete(s.txns, req.ID)
				}
				fail(err)
				return
			}
			reply(InitResult{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch})
		})
		return
	}
	if e.busy {
		fail(ErrConcurrentTransactions)
		return
	}
	cur := &e.meta
	if req.ProducerID >= 0 {
		switch {
		case req.ProducerID == cur.ProducerID && req.ProducerEpoch == cur.ProducerEpoch:
		case req.ProducerID == cur.ProducerID && req.ProducerEpoch == cur.LastEpoch,
			req.ProducerID == cur.LastProducerID && cur.State == StateEmpty:
			// A retry of the bump that produced the current epoch.
			reply(InitResult{ProducerID: cur.ProducerID, ProducerEpoch: cur.ProducerEpoch})
			return
		default:
			fail(ErrProducerFenced)
			return
		}
	}
	switch cur.State {
	case StatePrepareCommit, StatePrepareAbort, StatePrepareEpochFence:
		fail(ErrConcurrentTransactions)
		return
	case StateOngoing:
		// A new producer instance: fence the old one (epoch bump) and
		// abort its transaction; the client retries until it completes.
		s.abort(now, e, true)
		fail(ErrConcurrentTransactions)
		return
	}
	m := cur.clone()
	m.LastProducerID, m.LastEpoch = -1, cur.ProducerEpoch
	if cur.ProducerEpoch >= maxEpoch {
		m.LastProducerID, m.ProducerID, m.ProducerEpoch, m.LastEpoch = cur.ProducerID, req.FreshProducerID, 0, -1
	} else {
		m.ProducerEpoch++
	}
	m.Timeout, m.State, m.Partitions, m.Start, m.Update = req.Timeout, StateEmpty, nil, time.Time{}, now
	s.transition(e, m, func(err error) {
		if err != nil {
			fail(err)
			return
		}
		reply(InitResult{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch})
	})
}

// transition writes m and applies it once durable; done gets the write's
// error. The id is busy meanwhile.
func (s *txnSet) transition(e *entry, m Metadata, done func(error)) {
	e.busy = true
	s.store.write(m.ID, &m, func(_ time.Time, err error) {
		e.busy = false
		if err == nil {
			e.meta = m
		}
		done(err)
	})
}

// checkProducer validates the producer of a request against the id's.
func (s *txnSet) checkProducer(id string, pid int64, epoch int16) (*entry, error) {
	e := s.txns[id]
	switch {
	case e == nil || e.meta.State == StateDead:
		return nil, ErrInvalidProducerIDMapping
	case e.meta.HasNextProducerID && e.meta.NextProducerID == pid && epoch == 0:
		// The producer id a prepared transaction moves to (epoch
		// exhausted at EndTxn v5): usable once it completes.
		return nil, ErrConcurrentTransactions
	case e.meta.ProducerID != pid:
		return nil, ErrInvalidProducerIDMapping
	case e.meta.ProducerEpoch != epoch:
		return nil, ErrProducerFenced
	case e.busy:
		return nil, ErrConcurrentTransactions
	}
	return e, nil
}

// addPartitions adds partitions to the producer's transaction, starting
// it if none is open.
func (s *txnSet) addPartitions(now time.Time, id string, pid int64, epoch int16, tps []TopicPartition, reply func(error)) {
	e, err := s.checkProducer(id, pid, epoch)
	if err != nil {
		reply(err)
		return
	}
	switch e.meta.State {
	case StatePrepareCommit, StatePrepareAbort, StatePrepareEpochFence:
		reply(ErrConcurrentTransactions)
		return
	case StateOngoing:
		if !slices.ContainsFunc(tps, func(tp TopicPartition) bool { return !e.meta.has(tp) }) {
			e.meta.Update = now
			reply(nil) // nothing new: no write (Kafka does the same)
			return
		}
	}
	m := e.meta.clone()
	if m.State != StateOngoing {
		m.Partitions, m.Start = nil, now
	}
	m.State, m.Update = StateOngoing, now
	m.addPartitions(tps)
	s.transition(e, m, reply)
}

// verifyPartitions answers a KIP-890 verification: each partition must be
// in the producer's ongoing transaction. As in Kafka's
// handleVerifyPartitionsInTransaction, a write in flight does not matter
// (partitions join the transaction once their write is durable, and the
// append has its own guard), but a transaction being ended is
// CONCURRENT_TRANSACTIONS.
func (s *txnSet) verifyPartitions(id string, pid int64, epoch int16, tps []TopicPartition) []error {
	errs := make([]error, len(tps))
	e := s.txns[id]
	var err error
	switch {
	case e == nil || e.meta.State == StateDead || e.meta.ProducerID != pid:
		err = ErrInvalidProducerIDMapping
	case e.meta.ProducerEpoch != epoch:
		err = ErrProducerFenced
	case e.meta.State == StatePrepareCommit || e.meta.State == StatePrepareAbort:
		err = ErrConcurrentTransactions
	}
	for i, tp := range tps {
		switch {
		case err != nil:
			errs[i] = err
		case e.meta.State != StateOngoing || !e.meta.has(tp):
			errs[i] = ErrTransactionAbortable
		}
	}
	return errs
}

// EndRequest is an EndTxn.
type EndRequest struct {
	ID            string
	ProducerID    int64
	ProducerEpoch int16
	Commit        bool
	// EpochBump is set for clients of transaction version 2 (EndTxn v5+,
	// KIP-890 part 2): the epoch is bumped at every end, the markers carry
	// the new epoch and the client gets it back.
	EpochBump bool
	// FreshProducerID is a newly allocated producer id for an EpochBump
	// end whose epoch is exhausted; -1 when none was allocated.
	FreshProducerID int64
}

// EndResult is the answer to an EndTxn: the producer id and epoch to
// use next (EpochBump only, else -1).
type EndResult struct {
	ProducerID    int64
	ProducerEpoch int16
	Err           error
}

// endTxn commits or aborts the producer's transaction: the answer comes
// once PrepareCommit/PrepareAbort is durable; the markers follow.
func (s *txnSet) endTxn(now time.Time, req EndRequest, reply func(EndResult)) {
	if req.EpochBump {
		s.endTxnBump(now, req, reply)
		return
	}
	id, pid, epoch, commit := req.ID, req.ProducerID, req.ProducerEpoch, req.Commit
	done := func(err error) { reply(EndResult{ProducerID: -1, ProducerEpoch: -1, Err: err}) }
	e := s.txns[id]
	if e != nil && !e.busy && e.meta.ProducerID == pid && epoch == e.meta.LastEpoch && e.meta.ProducerEpoch == epoch+1 &&
		((commit && e.meta.State == StateCompleteCommit) || (!commit && e.meta.State == StateCompleteAbort)) {
		done(nil) // a retry after an epoch bump of the same outcome
		return
	}
	e, err := s.checkProducer(id, pid, epoch)
	if err != nil {
		done(err)
		return
	}
	switch st := e.meta.State; {
	case st == StateOngoing:
	case st == StatePrepareCommit && commit, st == StatePrepareAbort && !commit:
		done(ErrConcurrentTransactions)
		return
	case st == StateCompleteCommit && commit, st == StateCompleteAbort && !commit:
		done(nil) // a retry: already done
		return
	default:
		done(ErrInvalidTxnState)
		return
	}
	m := e.meta.clone()
	// An EndTxn below v5 is transaction version 0 whatever the producer
	// used before (Kafka's transactionVersionForEndTxn): its markers
	// carry the data's epoch, no bump. (A restarted client may end its
	// first transaction before it learned the cluster's features.)
	m.State, m.Update, m.ClientVersion = StatePrepareAbort, now, 0
	if commit {
		m.State = StatePrepareCommit
	}
	s.transition(e, m, func(err error) {
		done(err)
		if err == nil {
			s.complete(e, commit)
		}
	})
}

// endTxnBump is EndTxn for transaction version 2 (Kafka's
// TransactionCoordinator.endTransaction with a client of TV_2): the
// prepared state carries the bumped epoch (or, when the epoch is
// exhausted, the next producer id), so the markers fence every write of
// the finished transaction that arrives late. A retry is recognised by
// the epoch one below the current one; the same epoch is a new end, and
// an abort with nothing ongoing is allowed (it only bumps the epoch).
func (s *txnSet) endTxnBump(now time.Time, req EndRequest, reply func(EndResult)) {
	fail := func(err error) { reply(EndResult{ProducerID: -1, ProducerEpoch: -1, Err: err}) }
	e := s.txns[req.ID]
	if e == nil || e.meta.State == StateDead {
		fail(ErrInvalidProducerIDMapping)
		return
	}
	cur := &e.meta
	v2 := cur.ClientVersion >= 2
	retryBump := v2 && cur.ProducerID == req.ProducerID && req.ProducerEpoch < math.MaxInt16 && cur.ProducerEpoch == req.ProducerEpoch+1
	retryOverflow := v2 && cur.LastProducerID >= 0 && cur.LastProducerID == req.ProducerID && req.ProducerEpoch >= maxEpoch && cur.ProducerEpoch == 0
	if cur.HasNextProducerID && cur.NextProducerID == req.ProducerID && req.ProducerEpoch == 0 {
		fail(ErrConcurrentTransactions) // the new producer id, before the move to it completes
		return
	}
	if cur.ProducerID != req.ProducerID && !retryOverflow {
		fail(ErrInvalidProducerIDMapping)
		return
	}
	current := cur.ProducerID == req.ProducerID && cur.ProducerEpoch == req.ProducerEpoch
	var valid bool
	switch cur.State {
	case StatePrepareCommit, StatePrepareAbort:
		// The current (bumped) epoch is the client's next transaction,
		// which must wait for this one to complete (KAFKA-18660: do not
		// fence the producer for it).
		valid = retryBump || current
	case StateCompleteCommit, StateCompleteAbort:
		valid = retryBump || retryOverflow || current
	default:
		valid = current
	}
	if !valid {
		fail(ErrProducerFenced)
		return
	}
	if e.busy {
		fail(ErrConcurrentTransactions)
		return
	}
	sameOutcome := (req.Commit && (cur.State == StatePrepareCommit || cur.State == StateCompleteCommit)) ||
		(!req.Commit && (cur.State == StatePrepareAbort || cur.State == StateCompleteAbort))
	switch cur.State {
	case StatePrepareCommit, StatePrepareAbort:
		if sameOutcome || current {
			fail(ErrConcurrentTransactions)
		} else {
			fail(ErrInvalidTxnState)
		}
		return
	case StateCompleteCommit, StateCompleteAbort:
		if !current {
			if sameOutcome {
				reply(EndResult{ProducerID: cur.ProducerID, ProducerEpoch: cur.ProducerEpoch}) // a retry: already done
			} else {
				fail(ErrInvalidTxnState)
			}
			return
		}
	}
	m := cur.clone()
	m.LastEpoch, m.ClientVersion, m.NextProducerID, m.HasNextProducerID, m.Update = cur.ProducerEpoch, 2, 0, false, now
	if cur.ProducerEpoch >= maxEpoch {
		if req.FreshProducerID < 0 {
			fail(ErrCoordinatorNotAvailable)
			return
		}
		m.NextProducerID, m.HasNextProducerID = req.FreshProducerID, true
	}
	m.ProducerEpoch = cur.ProducerEpoch + 1
	next := EndResult{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch}
	if m.HasNextProducerID {
		next = EndResult{ProducerID: m.NextProducerID, ProducerEpoch: 0}
	}
	if cur.State != StateOngoing {
		// Nothing ongoing: only an abort, which only bumps the epoch.
		if req.Commit {
			fail(ErrInvalidTxnState)
			return
		}
		m.State, m.Partitions, m.Start = StateCompleteAbort, nil, time.Time{}
		m.moveToNextProducerID()
		s.transition(e, m, func(err error) {
			if err != nil {
				fail(err)
				return
			}
			reply(next)
		})
		return
	}
	m.State = StatePrepareAbort
	if req.Commit {
		m.State = StatePrepareCommit
	}
	s.transition(e, m, func(err error) {
		if err != nil {
			fail(err)
			return
		}
		reply(next)
		s.complete(e, req.Commit)
	})
}

// abort ends e's ongoing transaction without its producer (timeout, or a
// new producer instance); bump fences the old producer.
func (s *txnSet) abort(now time.Time, e *entry, bump bool) {
	m := e.meta.clone()
	if bump && m.ProducerEpoch < maxEpoch {
		m.LastEpoch = m.ProducerEpoch
		m.ProducerEpoch++
	}
	m.State, m.Update = StatePrepareAbort, now
	s.transition(e, m, func(err error) {
		if err == nil {
			s.complete(e, false)
		}
	})
}

// moveToNextProducerID makes a completing transaction's next producer id
// (epoch exhausted) the current one, at epoch 0.
func (m *Metadata) moveToNextProducerID() {
	if !m.HasNextProducerID {
		return
	}
	m.LastProducerID, m.ProducerID, m.ProducerEpoch, m.LastEpoch = m.ProducerID, m.NextProducerID, 0, -1
	m.NextProducerID, m.HasNextProducerID = 0, false
}

// complete sends the markers of a prepared transaction and then writes
// its completion.
func (s *txnSet) complete(e *entry, commit bool) {
	e.busy = true
	s.store.sendMarkers(e.meta.clone(), commit, func(now time.Time) {
		e.busy = false
		m := e.meta.clone()
		m.State, m.Partitions, m.Update = StateCompleteAbort, nil, now
		if commit {
			m.State = StateCompleteCommit
		}
		m.moveToNextProducerID()
		s.transition(e, m, func(error) {})
	})
}

// resume continues what a previous coordinator left: prepared
// transactions get their markers (after a load).
func (s *txnSet) resume() (resumed []string) {
	for id, e := range s.txns {
		switch e.meta.State {
		case StatePrepareCommit:
			s.complete(e, true)
		case StatePrepareAbort:
			s.complete(e, false)
		default:
			continue
		}
		resumed = append(resumed, id)
	}
	return resumed
}

// tick aborts transactions past their timeout and forgets ids that have
// been idle past transactional.id.expiration.ms.
func (s *txnSet) tick(now time.Time) (aborted, expired int) {
	for id, e := range s.txns {
		if e.busy {
			continue
		}
		switch e.meta.State {
		case StateOngoing:
			if !now.Before(e.meta.Start.Add(e.meta.Timeout)) {
				s.abort(now, e, true)
				aborted++
			}
		case StateEmpty, StateCompleteCommit, StateCompleteAbort:
			if !now.Before(e.meta.Update.Add(s.cfg.idExpiration)) {
				e.busy = true
				s.store.write(id, nil, func(_ time.Time, err error) {
					e.busy = false
					if err == nil && s.txns[id] == e {
						delete(s.txns, id)
					}
				})
				expired++
			}
		}
	}
	return aborted, expired
}

// nextDeadline is the earliest transaction timeout, or zero.
func (s *txnSet) nextDeadline() time.Time {
	var next time.Time
	for _, e := range s.txns {
		if e.meta.State == StateOngoing && !e.busy {
			if d := e.meta.Start.Add(e.meta.Timeout); next.IsZero() || d.Before(next) {
				next = d
			}
		}
	}
	return next
}

func (s *txnSet) describe(id string) (Metadata, error) {
	e := s.txns[id]
	if e == nil || e.meta.State == StateDead {
		return Metadata{ID: id}, ErrTransactionalIDNotFound
	}
	return e.meta.clone(), nil
}

// Filter selects transactions for ListTransactions.
type Filter struct {
	States      []string // Kafka's state names; empty: all
	ProducerIDs []int64  // empty: all
	// MinDuration keeps transactions running longer than this (v1+);
	// negative: all.
	MinDuration time.Duration
}

func (s *txnSet) list(now time.Time, f Filter) []Metadata {
	var out []Metadata
	for _, e := range s.txns {
		m := &e.meta
		if m.State == StateDead {
			continue
		}
		if len(f.States) > 0 && !slices.ContainsFunc(f.States, func(st string) bool { return strings.EqualFold(st, m.State.String()) }) {
			continue
		}
		if len(f.ProducerIDs) > 0 && !slices.Contains(f.ProducerIDs, m.ProducerID) {
			continue
		}
		if f.MinDuration >= 0 {
			// Kafka's rule: a transaction without a start counts as
			// started at -1 ms, so only running ones can be filtered out.
			start := int64(-1)
			if !m.Start.IsZero() {
				start = m.Start.UnixMilli()
			}
			if now.UnixMilli()-start <= f.MinDuration.Milliseconds() {
				continue
			}
		}
		out = append(out, m.clone())
	}
	return out
}

// markerVersion is the transaction version the markers of m's prepared
// transaction carry (WriteTxnMarkers v2): 2 when the client ends its
// transactions with an epoch bump (EndTxn v5) and this end bumped, so
// the markers' epoch is newer than the transaction's data; 0 otherwise.
func (m *Metadata) markerVersion() int8 {
	if m.ClientVersion >= 2 && m.LastEpoch >= 0 && m.ProducerEpoch == m.LastEpoch+1 {
		return 2
	}
	return 0
}
