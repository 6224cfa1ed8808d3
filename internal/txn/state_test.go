package txn

import (
	"errors"
	"math"
	"testing"
	"time"
)

// fakeStore records writes and marker rounds; the test completes them.
type fakeStore struct {
	writes  []fakeWrite
	markers []fakeMarkers
	log     []*Metadata // every write made durable, in order (nil: tombstone)
	sent    []Metadata  // every marker round, in order
}

type fakeWrite struct {
	id   string
	m    *Metadata
	done func(time.Time, error)
}

type fakeMarkers struct {
	m      Metadata
	commit bool
	done   func(time.Time)
}

func (f *fakeStore) write(id string, m *Metadata, done func(time.Time, error)) {
	f.writes = append(f.writes, fakeWrite{id, m, done})
}

func (f *fakeStore) sendMarkers(m Metadata, commit bool, done func(time.Time)) {
	f.markers = append(f.markers, fakeMarkers{m, commit, done})
	f.sent = append(f.sent, m)
}

// settle completes every pending write (with err) and marker round until
// nothing is pending.
func (f *fakeStore) settle(now time.Time, err error) {
	for len(f.writes)+len(f.markers) > 0 {
		ws, ms := f.writes, f.markers
		f.writes, f.markers = nil, nil
		for _, w := range ws {
			if err == nil {
				f.log = append(f.log, w.m)
			}
			w.done(now, err)
		}
		for _, m := range ms {
			m.done(now)
		}
	}
}

type harness struct {
	t     *testing.T
	now   time.Time
	store *fakeStore
	set   *txnSet
	nextP int64
}

func newHarness(t *testing.T) *harness {
	st := &fakeStore{}
	return &harness{t: t, now: time.Unix(1000, 0), store: st, nextP: 100,
		set: newTxnSet(settings{maxTimeout: time.Minute, idExpiration: time.Hour}, st)}
}

func (h *harness) init(id string, pid int64, epoch int16) InitResult {
	h.t.Helper()
	var got *InitResult
	h.nextP++
	h.set.initProducerID(h.now, InitRequest{ID: id, Timeout: 10 * time.Second, ProducerID: pid, ProducerEpoch: epoch,
		FreshProducerID: h.nextP}, func(r InitResult) { got = &r })
	h.store.settle(h.now, nil)
	if got == nil {
		h.t.Fatal("no InitProducerId answer")
	}
	return *got
}

func (h *harness) add(id string, pid int64, epoch int16, tps ...TopicPartition) error {
	h.t.Helper()
	var got error
	answered := false
	h.set.addPartitions(h.now, id, pid, epoch, tps, func(err error) { got, answered = err, true })
	h.store.settle(h.now, nil)
	if !answered {
		h.t.Fatal("no AddPartitionsToTxn answer")
	}
	return got
}

func (h *harness) end(id string, pid int64, epoch int16, commit bool) error {
	h.t.Helper()
	var got error
	answered := false
	h.set.endTxn(h.now, EndRequest{ID: id, ProducerID: pid, ProducerEpoch: epoch, Commit: commit, FreshProducerID: -1},
		func(r EndResult) { got, answered = r.Err, true })
	h.store.settle(h.now, nil)
	if !answered {
		h.t.Fatal("no EndTxn answer")
	}
	return got
}

func (h *harness) state(id string) State { return h.set.txns[id].meta.State }

func TestStateMachineCommitAndAbort(t *testing.T) {
	h := newHarness(t)
	r := h.init("a", -1, -1)
	if r.Err != nil || r.ProducerID != 101 || r.ProducerEpoch != 0 || h.state("a") != StateEmpty {
		t.Fatalf("init: %+v state %v", r, h.state("a"))
	}
	tp := TopicPartition{"t", 0}
	if err := h.end("a", 101, 0, true); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("end of an empty transaction: %v", err)
	}
	if err := h.add("a", 101, 0, tp); err != nil || h.state("a") != StateOngoing {
		t.Fatalf("add: %v %v", err, h.state("a"))
	}
	writes := len(h.store.log)
	if err := h.add("a", 101, 0, tp); err != nil || len(h.store.log) != writes {
		t.Fatalf("adding a partition twice wrote again: %v", err)
	}
	if err := h.add("a", 999, 0, tp); !errors.Is(err, ErrInvalidProducerIDMapping) {
		t.Fatalf("wrong producer id: %v", err)
	}
	if err := h.add("a", 101, 3, tp); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("wrong epoch: %v", err)
	}
	// EndTxn answers once PrepareCommit is durable; markers, then
	// CompleteCommit follow.
	var answered bool
	h.set.endTxn(h.now, EndRequest{ID: "a", ProducerID: 101, ProducerEpoch: 0, Commit: true, FreshProducerID: -1},
		func(r EndResult) { answered = r.Err == nil })
	if answered || h.state("a") != StateOngoing {
		t.Fatal("answered before the prepare was durable")
	}
	h.store.writes[0].done(h.now, nil)
	h.store.log = append(h.store.log, h.store.writes[0].m)
	h.store.writes = nil
	if !answered || h.state("a") != StatePrepareCommit || len(h.store.markers) != 1 || !h.store.markers[0].commit {
		t.Fatalf("after prepare: answered %v state %v markers %d", answered, h.state("a"), len(h.store.markers))
	}
	if err := h.add("a", 101, 0, tp); !errors.Is(err, ErrConcurrentTransactions) {
		t.Fatalf("add while completing: %v", err)
	}
	h.store.settle(h.now, nil)
	if h.state("a") != StateCompleteCommit || len(h.set.txns["a"].meta.Partitions) != 0 {
		t.Fatalf("after markers: %v", h.set.txns["a"].meta)
	}
	if err := h.end("a", 101, 0, true); err != nil {
		t.Fatalf("retried commit: %v", err)
	}
	if err := h.end("a", 101, 0, false); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("abort after commit: %v", err)
	}
	// The next transaction aborts.
	if err := h.add("a", 101, 0, tp, TopicPartition{"u", 1}); err != nil {
		t.Fatal(err)
	}
	if err := h.end("a", 101, 0, false); err != nil || h.state("a") != StateCompleteAbort {
		t.Fatalf("abort: %v %v", err, h.state("a"))
	}
	// Durable states in order: Empty, Ongoing, PrepareCommit, CompleteCommit, Ongoing, PrepareAbort, CompleteAbort.
	var states []State
	for _, m := range h.store.log {
		states = append(states, m.State)
	}
	want := []State{StateEmpty, StateOngoing, StatePrepareCommit, StateCompleteCommit, StateOngoing, StatePrepareAbort, StateCompleteAbort}
	if len(states) != len(want) {
		t.Fatalf("states %v, want %v", states, want)
	}
	for i := range want {
		if states[i] != want[i] {
			t.Fatalf("states %v, want %v", states, want)
		}
	}
}

func TestStateMachineFencingAndTimeouts(t *testing.T) {
	h := newHarness(t)
	h.init("a", -1, -1)
	tp := TopicPartition{"t", 0}
	if err := h.add("a", 101, 0, tp); err != nil {
		t.Fatal(err)
	}
	// A new producer instance: the open transaction is aborted with a
	// bumped epoch; the client retries and gets the epoch after it.
	if r := h.init("a", -1, -1); !errors.Is(r.Err, ErrConcurrentTransactions) {
		t.Fatalf("init during a transaction: %+v", r)
	}
	if h.state("a") != StateCompleteAbort || h.set.txns["a"].meta.ProducerEpoch != 1 {
		t.Fatalf("after fencing: %+v", h.set.txns["a"].meta)
	}
	r := h.init("a", -1, -1)
	if r.Err != nil || r.ProducerID != 101 || r.ProducerEpoch != 2 {
		t.Fatalf("init after the abort: %+v", r)
	}
	if err := h.end("a", 101, 0, true); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("zombie commit: %v", err)
	}
	// Timeout: the coordinator aborts and bumps the epoch.
	if err := h.add("a", 101, 2, tp); err != nil {
		t.Fatal(err)
	}
	h.now = h.now.Add(9 * time.Second)
	if aborted, _ := h.set.tick(h.now); aborted != 0 {
		t.Fatal("aborted before the timeout")
	}
	h.now = h.now.Add(2 * time.Second)
	if aborted, _ := h.set.tick(h.now); aborted != 1 {
		t.Fatal("not aborted after the timeout")
	}
	h.store.settle(h.now, nil)
	if m := h.set.txns["a"].meta; m.State != StateCompleteAbort || m.ProducerEpoch != 3 {
		t.Fatalf("after the timeout: %+v", m)
	}
	if err := h.end("a", 101, 2, true); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("commit after the timeout: %v", err)
	}
	// Expiry of an idle id.
	h.now = h.now.Add(2 * time.Hour)
	if _, expired := h.set.tick(h.now); expired != 1 {
		t.Fatal("idle id not expired")
	}
	h.store.settle(h.now, nil)
	if _, ok := h.set.txns["a"]; ok || h.store.log[len(h.store.log)-1] != nil {
		t.Fatal("expired id kept or no tombstone written")
	}
	// Timeouts are checked against transaction.max.timeout.ms.
	var got InitResult
	h.set.initProducerID(h.now, InitRequest{ID: "b", Timeout: 2 * time.Minute, ProducerID: -1, ProducerEpoch: -1}, func(r InitResult) { got = r })
	if !errors.Is(got.Err, ErrInvalidTransactionTimeout) {
		t.Fatalf("timeout above the max: %+v", got)
	}
}

func TestStateMachineEpochExhaustionAndResume(t *testing.T) {
	h := newHarness(t)
	h.init("a", -1, -1)
	h.set.txns["a"].meta.ProducerEpoch = maxEpoch
	r := h.init("a", 101, maxEpoch)
	if r.Err != nil || r.ProducerID == 101 || r.ProducerEpoch != 0 {
		t.Fatalf("exhausted epoch: %+v", r)
	}
	// A loaded PrepareCommit is completed.
	h.set.txns["b"] = &entry{meta: Metadata{ID: "b", ProducerID: 7, State: StatePrepareCommit, Partitions: []TopicPartition{{"t", 0}}}}
	if ids := h.set.resume(); len(ids) != 1 || ids[0] != "b" || len(h.store.markers) != 1 || !h.store.markers[0].commit {
		t.Fatalf("resume: %v, %d marker rounds", ids, len(h.store.markers))
	}
	h.store.settle(h.now, nil)
	if h.state("b") != StateCompleteCommit {
		t.Fatalf("resumed: %v", h.state("b"))
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	m := &Metadata{ID: "x", ProducerID: 5, ProducerEpoch: 2, Timeout: time.Minute, State: StateOngoing,
		Partitions: []TopicPartition{{"a", 1}, {"a", 2}, {"b", 0}}, Start: time.UnixMilli(1000), Update: time.UnixMilli(2000)}
	id, got, err := decodeRecord(stateKey("x"), stateValue(m))
	if err != nil || id != "x" || got.ProducerID != 5 || got.ProducerEpoch != 2 || got.State != StateOngoing ||
		len(got.Partitions) != 3 || got.Partitions[2] != (TopicPartition{"b", 0}) || !got.Start.Equal(m.Start) || got.Timeout != time.Minute {
		t.Fatalf("round trip: %v %+v %v", id, got, err)
	}
	if id, got, err := decodeRecord(stateKey("x"), nil); err != nil || id != "x" || got != nil {
		t.Fatalf("tombstone: %v %v %v", id, got, err)
	}
}

// endV2 sends an EndTxn of transaction version 2 and settles every write
// and marker round.
func (h *harness) endV2(id string, pid int64, epoch int16, commit bool, fresh int64) EndResult {
	h.t.Helper()
	var got *EndResult
	h.set.endTxn(h.now, EndRequest{ID: id, ProducerID: pid, ProducerEpoch: epoch, Commit: commit, EpochBump: true,
		FreshProducerID: fresh}, func(r EndResult) { got = &r })
	h.store.settle(h.now, nil)
	if got == nil {
		h.t.Fatal("no EndTxn answer")
	}
	return *got
}

// TestStateMachineEpochBumpV2: EndTxn v5 (KIP-890 part 2) prepares with
// the bumped epoch (the markers carry it), answers it, recognises a retry
// by the epoch below, allows an empty abort (a bump only) but not an
// empty commit, and fences older epochs.
func TestStateMachineEpochBumpV2(t *testing.T) {
	h := newHarness(t)
	r := h.init("a", -1, -1)
	pid := r.ProducerID
	tp := TopicPartition{"t", 0}
	if err := h.add("a", pid, 0, tp); err != nil {
		t.Fatal(err)
	}
	// The prepare is durable with epoch 1 before the answer; the markers
	// go out with epoch 1.
	var got *EndResult
	h.set.endTxn(h.now, EndRequest{ID: "a", ProducerID: pid, ProducerEpoch: 0, Commit: true, EpochBump: true, FreshProducerID: -1},
		func(r EndResult) { got = &r })
	if got != nil || len(h.store.writes) != 1 || h.store.writes[0].m.State != StatePrepareCommit || h.store.writes[0].m.ProducerEpoch != 1 {
		t.Fatalf("prepare: answered %v, writes %+v", got, h.store.writes)
	}
	w := h.store.writes[0]
	h.store.writes = nil
	h.store.log = append(h.store.log, w.m)
	w.done(h.now, nil)
	if got == nil || got.Err != nil || got.ProducerID != pid || got.ProducerEpoch != 1 {
		t.Fatalf("answer: %+v", got)
	}
	if len(h.store.markers) != 1 || h.store.markers[0].m.ProducerEpoch != 1 || h.store.markers[0].m.ClientVersion != 2 {
		t.Fatalf("markers: %+v", h.store.markers)
	}
	// The next transaction's add, and an EndTxn at the new epoch, wait
	// for this one to complete; they are not fenced.
	var addErr, endErr error
	h.set.addPartitions(h.now, "a", pid, 1, []TopicPartition{tp}, func(err error) { addErr = err })
	h.set.endTxn(h.now, EndRequest{ID: "a", ProducerID: pid, ProducerEpoch: 1, Commit: true, EpochBump: true, FreshProducerID: -1},
		func(r EndResult) { endErr = r.Err })
	if !errors.Is(addErr, ErrConcurrentTransactions) || !errors.Is(endErr, ErrConcurrentTransactions) {
		t.Fatalf("add and end at the new epoch while completing: %v, %v", addErr, endErr)
	}
	h.store.settle(h.now, nil)
	if h.state("a") != StateCompleteCommit {
		t.Fatalf("state %v", h.state("a"))
	}
	// A retry with the old epoch gets the same answer; the other outcome
	// is refused; two epochs back is fenced.
	if r := h.endV2("a", pid, 0, true, -1); r.Err != nil || r.ProducerEpoch != 1 {
		t.Fatalf("retry: %+v", r)
	}
	if r := h.endV2("a", pid, 0, false, -1); !errors.Is(r.Err, ErrInvalidTxnState) {
		t.Fatalf("retry with the other outcome: %+v", r)
	}
	// Nothing ongoing at epoch 1: a commit is refused, an abort bumps.
	if r := h.endV2("a", pid, 1, true, -1); !errors.Is(r.Err, ErrInvalidTxnState) {
		t.Fatalf("empty commit: %+v", r)
	}
	if r := h.endV2("a", pid, 1, false, -1); r.Err != nil || r.ProducerEpoch != 2 || h.state("a") != StateCompleteAbort {
		t.Fatalf("empty abort: %+v %v", r, h.state("a"))
	}
	if r := h.endV2("a", pid, 0, true, -1); !errors.Is(r.Err, ErrProducerFenced) {
		t.Fatalf("end two epochs back: %+v", r)
	}
	if err := h.add("a", pid, 1, tp); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("late add of a finished epoch: %v", err)
	}
	if errs := h.set.verifyPartitions("a", pid, 1, []TopicPartition{tp}); !errors.Is(errs[0], ErrProducerFenced) {
		t.Fatalf("late verification of a finished epoch: %v", errs)
	}
	// The next transaction at epoch 2 aborts and bumps to 3.
	if err := h.add("a", pid, 2, tp); err != nil {
		t.Fatal(err)
	}
	if errs := h.set.verifyPartitions("a", pid, 2, []TopicPartition{tp, {"t", 9}}); errs[0] != nil || !errors.Is(errs[1], ErrTransactionAbortable) {
		t.Fatalf("verification: %v", errs)
	}
	if r := h.endV2("a", pid, 2, false, -1); r.Err != nil || r.ProducerEpoch != 3 || h.state("a") != StateCompleteAbort {
		t.Fatalf("abort: %+v", r)
	}
	// The transaction version is durable (value version 1).
	last := h.store.log[len(h.store.log)-1]
	if _, m, err := decodeRecord(stateKey("a"), stateValue(last)); err != nil || m.ClientVersion != 2 || m.ProducerEpoch != 3 {
		t.Fatalf("durable state: %+v %v", m, err)
	}
}

// TestStateMachineEpochExhaustionV2: an EndTxn v5 at the last epoch
// prepares with epoch Short.MaxValue and moves the id to the new producer
// id at epoch 0 when it completes; the client is told the new id at once,
// may use it only after the completion, and a retry with the old id and
// epoch gets the same answer.
func TestStateMachineEpochExhaustionV2(t *testing.T) {
	h := newHarness(t)
	pid := h.init("a", -1, -1).ProducerID
	h.set.txns["a"].meta.ProducerEpoch = maxEpoch
	tp := TopicPartition{"t", 0}
	if err := h.add("a", pid, maxEpoch, tp); err != nil {
		t.Fatal(err)
	}
	if r := h.endV2("a", pid, maxEpoch, true, -1); !errors.Is(r.Err, ErrCoordinatorNotAvailable) {
		t.Fatalf("exhausted without a fresh id: %+v", r)
	}
	var got *EndResult
	h.set.endTxn(h.now, EndRequest{ID: "a", ProducerID: pid, ProducerEpoch: maxEpoch, Commit: true, EpochBump: true, FreshProducerID: 500},
		func(r EndResult) { got = &r })
	w := h.store.writes[0]
	h.store.writes = nil
	w.done(h.now, nil)
	if got == nil || got.Err != nil || got.ProducerID != 500 || got.ProducerEpoch != 0 {
		t.Fatalf("answer: %+v", got)
	}
	if m := h.store.markers[0].m; m.ProducerID != pid || m.ProducerEpoch != math.MaxInt16 {
		t.Fatalf("markers at %d/%d, want %d/%d", m.ProducerID, m.ProducerEpoch, pid, math.MaxInt16)
	}
	if _, m, err := decodeRecord(stateKey("a"), stateValue(w.m)); err != nil || !m.HasNextProducerID || m.NextProducerID != 500 {
		t.Fatalf("durable prepare: %+v %v", m, err)
	}
	var addErr, endErr error
	h.set.addPartitions(h.now, "a", 500, 0, []TopicPartition{tp}, func(err error) { addErr = err })
	h.set.endTxn(h.now, EndRequest{ID: "a", ProducerID: 500, ProducerEpoch: 0, EpochBump: true, FreshProducerID: -1},
		func(r EndResult) { endErr = r.Err })
	if !errors.Is(addErr, ErrConcurrentTransactions) || !errors.Is(endErr, ErrConcurrentTransactions) {
		t.Fatalf("add and end on the new id before the completion: %v, %v", addErr, endErr)
	}
	h.store.settle(h.now, nil)
	m := h.set.txns["a"].meta
	if m.State != StateCompleteCommit || m.ProducerID != 500 || m.ProducerEpoch != 0 || m.LastProducerID != pid || m.HasNextProducerID {
		t.Fatalf("after completion: %+v", m)
	}
	if r := h.endV2("a", pid, maxEpoch, true, -1); r.Err != nil || r.ProducerID != 500 || r.ProducerEpoch != 0 {
		t.Fatalf("retry across the new id: %+v", r)
	}
	if err := h.add("a", 500, 0, tp); err != nil {
		t.Fatalf("next transaction on the new id: %v", err)
	}
}

// TestVerifyPartitions: the answers of a KIP-890 part 1 verification.
func TestVerifyPartitions(t *testing.T) {
	h := newHarness(t)
	pid := h.init("a", -1, -1).ProducerID
	in, out := TopicPartition{"t", 0}, TopicPartition{"t", 1}
	if errs := h.set.verifyPartitions("a", pid, 0, []TopicPartition{in}); !errors.Is(errs[0], ErrTransactionAbortable) {
		t.Fatalf("no transaction: %v", errs)
	}
	if err := h.add("a", pid, 0, in); err != nil {
		t.Fatal(err)
	}
	// A write of the id in flight (adding another partition) does not
	// stop the verification of one already added.
	h.set.addPartitions(h.now, "a", pid, 0, []TopicPartition{out}, func(error) {})
	errs := h.set.verifyPartitions("a", pid, 0, []TopicPartition{in, out})
	if errs[0] != nil || !errors.Is(errs[1], ErrTransactionAbortable) {
		t.Fatalf("during a write: %v", errs)
	}
	h.store.settle(h.now, nil)
	for _, c := range []struct {
		id    string
		pid   int64
		epoch int16
		want  error
	}{
		{"a", pid, 0, nil},
		{"a", pid + 1, 0, ErrInvalidProducerIDMapping},
		{"a", pid, 1, ErrProducerFenced},
		{"nope", pid, 0, ErrInvalidProducerIDMapping},
	} {
		if errs := h.set.verifyPartitions(c.id, c.pid, c.epoch, []TopicPartition{out}); !errors.Is(errs[0], c.want) {
			t.Errorf("%+v: %v", c, errs[0])
		}
	}
	// Being ended: CONCURRENT_TRANSACTIONS until the markers are written.
	h.set.endTxn(h.now, EndRequest{ID: "a", ProducerID: pid, ProducerEpoch: 0, Commit: true, FreshProducerID: -1}, func(EndResult) {})
	w := h.store.writes[0]
	h.store.writes = nil
	w.done(h.now, nil)
	if errs := h.set.verifyPartitions("a", pid, 0, []TopicPartition{in}); !errors.Is(errs[0], ErrConcurrentTransactions) {
		t.Fatalf("while committing: %v", errs)
	}
	h.store.settle(h.now, nil)
	if errs := h.set.verifyPartitions("a", pid, 0, []TopicPartition{in}); !errors.Is(errs[0], ErrTransactionAbortable) {
		t.Fatalf("after the commit (a late write): %v", errs)
	}
}

// TestMarkerVersionFollowsEachEnd: a producer that ended with EndTxn v5
// (transaction version 2) and then, as a new instance, ends with EndTxn
// v4 (a client that had not yet learned the cluster's features) gets
// markers of transaction version 0 at its data's epoch; a partition
// would refuse a version-2 marker at that epoch as not newer than the
// data (found by test/crash TestKillMidTransaction).
func TestMarkerVersionFollowsEachEnd(t *testing.T) {
	h := newHarness(t)
	tp := TopicPartition{"t", 0}
	r := h.init("a", -1, -1)
	if err := h.add("a", r.ProducerID, r.ProducerEpoch, tp); err != nil {
		t.Fatal(err)
	}
	h.store.sent = nil
	h.set.endTxn(h.now, EndRequest{ID: "a", ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch, Commit: true,
		EpochBump: true, FreshProducerID: -1}, func(EndResult) {})
	h.store.settle(h.now, nil)
	sent := h.store.sent
	if len(sent) != 1 || sent[0].markerVersion() != 2 || sent[0].ProducerEpoch != r.ProducerEpoch+1 {
		t.Fatalf("EndTxn v5 markers: %+v", sent)
	}

	// A new instance: InitProducerId bumps the epoch; its first end is v4.
	r2 := h.init("a", -1, -1)
	if err := h.add("a", r2.ProducerID, r2.ProducerEpoch, tp); err != nil {
		t.Fatal(err)
	}
	h.store.sent = nil
	h.set.endTxn(h.now, EndRequest{ID: "a", ProducerID: r2.ProducerID, ProducerEpoch: r2.ProducerEpoch, Commit: true,
		FreshProducerID: -1}, func(EndResult) {})
	h.store.settle(h.now, nil)
	sent = h.store.sent
	if len(sent) != 1 || sent[0].markerVersion() != 0 || sent[0].ProducerEpoch != r2.ProducerEpoch {
		t.Fatalf("EndTxn v4 markers after a v5 end: version %d epoch %d (data epoch %d)", sent[0].markerVersion(), sent[0].ProducerEpoch, r2.ProducerEpoch)
	}
	if h.state("a") != StateCompleteCommit {
		t.Fatalf("state %v", h.state("a"))
	}
}
