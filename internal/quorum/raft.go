package quorum

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// ErrNotLeader is matched (errors.Is) by the NotLeaderError that Append
// returns on a node that is not the Raft leader.
var ErrNotLeader = errors.New("quorum: not the leader")

// NotLeaderError is returned by Append on a node that is not the leader.
// The caller forwards the records to LeaderID, or retries later when it
// is 0 (no leader known, an election is under way).
type NotLeaderError struct {
	LeaderID uint64
}

func (e NotLeaderError) Error() string {
	if e.LeaderID == 0 {
		return "quorum: not the leader (no leader known)"
	}
	return fmt.Sprintf("quorum: not the leader (leader is node %d)", e.LeaderID)
}

func (e NotLeaderError) Unwrap() error { return ErrNotLeader }

// ErrLeadershipLost is returned by Append when this node stopped being
// the leader (or started a new term) before the records were applied.
// They may or may not be committed by the next leader: a caller that
// retries must tolerate finding them applied already.
var ErrLeadershipLost = errors.New("quorum: leadership lost before the records were committed")

// StateMachine is the state that committed records build, for example the
// controller's metadata image. The Raft goroutine calls its methods one at
// a time, never concurrently, so they need no locking against each other;
// none may call back into the Raft or block on anything an Append caller
// may hold while it waits (that would deadlock).
type StateMachine interface {
	// Apply is called for each committed record in offset order, without
	// gaps: from 0, or from the next offset of the last Restore. The record
	// is owned by the state machine. Apply has no error: a record that the
	// state machine rejects is rejected on every node alike.
	Apply(offset int64, record []byte)
	// Snapshot returns the state as of the last record passed to Apply.
	Snapshot() ([]byte, error)
	// Restore replaces the state with one returned by Snapshot, on this or
	// another node. The next Apply has offset nextOffset. An error stops
	// the Raft: the state is unknown.
	Restore(snapshot []byte, nextOffset int64) error
}

// BatchApplier is implemented by state machines that apply the records of
// one proposal together (so no reader sees half of it); ApplyBatch then
// replaces Apply for committed proposals.
type BatchApplier interface {
	ApplyBatch(first int64, records [][]byte)
}

// Raft is one voter of the replicated metadata log. Append commits
// records through the Raft leader; every node applies committed records to
// its StateMachine in the same order with the same offsets.
//
// One goroutine (run) owns the raft.RawNode, the storage and the state
// machine; Append and the transport talk to it over channels.
type Raft struct {
	cfg       Config
	logger    *slog.Logger
	sm        StateMachine
	storage   *fileStorage
	node      *raft.RawNode
	transport *transport

	propc chan *proposal
	recvc chan *pb.Message
	stopc chan struct{} // closed by Shutdown
	// done is closed when the Ready loop has exited and failed every
	// waiter; stopped when the transport and storage are closed too.
	done     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
	// err is why the loop stopped when it was not Shutdown; written before
	// done is closed. closeErr is from closing the files; written before
	// stopped is closed.
	err      error
	closeErr error

	leader    atomic.Uint64
	isLeader  atomic.Bool
	applied   atomic.Int64  // next record offset, published after Apply
	proposals atomic.Uint64 // last proposal id; random start per process
	// stats mirror run's term, commit and applied index for metrics.
	stats struct{ term, commit, applied atomic.Uint64 }

	// Owned by run.
	waiters       map[uint64]*proposal
	nextOffset    int64  // offset of the next applied record
	appliedIndex  uint64 // last Raft index applied to the state machine
	snapshotIndex uint64 // index of the last snapshot taken or installed
	confState     *pb.ConfState
	term          uint64
}

// proposal is one Append waiting to be applied.
type proposal struct {
	id   uint64
	data []byte
	term uint64 // set by run when proposed
	done chan proposalResult
}

type proposalResult struct {
	offset int64
	err    error
}

// StartRaft opens the Raft directory, restores the state machine from the
// snapshot and the locally committed entries, and starts the transport and
// the Ready loop. When it returns, sm reflects every record this node knew
// to be committed; more arrive through sm.Apply. A one-voter quorum elects
// itself at once.
func StartRaft(cfg Config, sm StateMachine) (r *Raft, err error) {
	if cfg.Listener != nil {
		defer func() {
			if err != nil {
				cfg.Listener.Close()
			}
		}()
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.Voters = maps.Clone(cfg.Voters)
	voters := make([]uint64, 0, len(cfg.Voters))
	for id := range cfg.Voters {
		voters = append(voters, id)
	}
	slices.Sort(voters)
	bootstrap := &pb.ConfState{Voters: voters, AutoLeave: new(false)}
	logger := cfg.Logger.With("raft_node", cfg.NodeID)
	st, err := openStorage(cfg.Dir, bootstrap, logger)
	if err != nil {
		return nil, err
	}
	r = &Raft{
		cfg:     cfg,
		logger:  logger,
		sm:      sm,
		storage: st,
		propc:   make(chan *proposal, 256),
		recvc:   make(chan *pb.Message, 1024),
		stopc:   make(chan struct{}),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
		waiters: map[uint64]*proposal{},
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	r.proposals.Store(binary.BigEndian.Uint64(seed[:]) >> 1)

	if err := r.recover(voters); err != nil {
		st.close()
		return nil, err
	}
	hs, _, _ := st.InitialState()
	r.term = hs.GetTerm()
	node, err := raft.NewRawNode(&raft.Config{
		ID:                        cfg.NodeID,
		ElectionTick:              cfg.ElectionTicks,
		HeartbeatTick:             cfg.HeartbeatTicks,
		Storage:                   st,
		Applied:                   r.appliedIndex,
		MaxSizePerMsg:             1 << 20,
		MaxCommittedSizePerReady:  4 << 20,
		MaxUncommittedEntriesSize: 64 << 20,
		MaxInflightMsgs:           256,
		CheckQuorum:               true,
		PreVote:                   true,
		// Followers answer NotLeaderError so the caller forwards; Raft's
		// own forwarding would hide who committed what.
		DisableProposalForwarding: true,
		Logger:                    raftLogger{r.logger},
	})
	if err != nil {
		st.close()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	r.node = node

	ln := cfg.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", cfg.Voters[cfg.NodeID])
		if err != nil {
			st.close()
			return nil, fmt.Errorf("raft listener: %w", err)
		}
	}
	r.transport = newTransport(cfg.NodeID, ln, cfg.Voters, r.recvc, cfg.MaxMessageBytes, cfg.Clock, logger, cfg.ClusterID)
	r.transport.dialer = cfg.Dial

	if len(voters) == 1 {
		// Nobody else can win: skip the election timeout and return as
		// the leader, with every entry of earlier terms applied.
		err := node.Campaign()
		if err == nil {
			err = r.handleReadies()
		}
		if err != nil {
			ln.Close()
			st.close()
			return nil, fmt.Errorf("campaign: %w", err)
		}
	}
	r.transport.start()
	ticker := cfg.Clock.NewTicker(cfg.TickInterval)
	go r.run(ticker)
	return r, nil
}

// recover restores the state machine from the snapshot on disk and applies
// the entries after it up to the persisted commit index.
func (r *Raft) recover(voters []uint64) error {
	snap, err := r.storage.Snapshot()
	if err != nil {
		return err
	}
	r.confState = proto.Clone(pb.EnsureConfState(snap.GetMetadata().GetConfState())).(*pb.ConfState)
	if !slices.Equal(slices.Sorted(slices.Values(r.confState.GetVoters())), voters) {
		return fmt.Errorf("quorum: %s was formed with voters %v, configured %v; membership changes are not supported", r.cfg.Dir, r.confState.GetVoters(), voters)
	}
	if idx := snap.GetMetadata().GetIndex(); idx > 0 {
		if err := r.restore(snap); err != nil {
			return err
		}
	}
	hs, _, err := r.storage.InitialState()
	if err != nil {
		return err
	}
	for r.appliedIndex < hs.GetCommit() {
		ents, err := r.storage.Entries(r.appliedIndex+1, hs.GetCommit()+1, 4<<20)
		if err != nil {
			return fmt.Errorf("replay raft log: %w", err)
		}
		for _, e := range ents {
			if e.GetType() != pb.EntryNormal {
				// Raft must see membership changes itself: leave this
				// entry and the rest to the Ready loop.
				return nil
			}
			r.applyEntry(e)
		}
	}
	r.logger.Info("raft log recovered", "snapshot_index", r.snapshotIndex,
		"applied_index", r.appliedIndex, "next_offset", r.nextOffset, "term", hs.GetTerm())
	return nil
}

// restore installs a snapshot into the state machine.
func (r *Raft) restore(snap *pb.Snapshot) error {
	next, state, err := decodeSnapshot(snap.GetData())
	if err != nil {
		return fmt.Errorf("raft snapshot at index %d: %w", snap.GetMetadata().GetIndex(), err)
	}
	if err := r.sm.Restore(state, next); err != nil {
		return fmt.Errorf("restore state machine from raft snapshot at index %d: %w", snap.GetMetadata().GetIndex(), err)
	}
	r.nextOffset = next
	r.applied.Store(next)
	r.appliedIndex = snap.GetMetadata().GetIndex()
	r.snapshotIndex = r.appliedIndex
	r.confState = proto.Clone(pb.EnsureConfState(snap.GetMetadata().GetConfState())).(*pb.ConfState)
	return nil
}

// Addr returns the address the transport listens on.
func (r *Raft) Addr() net.Addr { return r.transport.listener.Addr() }

// LeaderID returns the current leader's id as this node knows it; 0 when
// no leader is known.
func (r *Raft) LeaderID() uint64 { return r.leader.Load() }

// IsLeader reports whether this node is the leader.
func (r *Raft) IsLeader() bool { return r.isLeader.Load() }

// Applied returns the offset the next applied record will get: every
// record before it has been passed to the state machine on this node.
func (r *Raft) Applied() int64 { return r.applied.Load() }

// Status is the quorum's state as of the last Ready handled, for metrics.
type Status struct {
	Term, CommitIndex, AppliedIndex uint64
	Leader                          bool
}

// Status returns the term, commit and applied index and whether this
// voter leads.
func (r *Raft) Status() Status {
	return Status{Term: r.stats.term.Load(), CommitIndex: r.stats.commit.Load(), AppliedIndex: r.stats.applied.Load(),
		Leader: r.isLeader.Load()}
}

// Append commits records as one Raft entry and returns the offset of the
// first once a majority has it and this node has applied it (so the state
// machine already reflects it). It waits at most Config.AppendTimeout.
// It has the signature of controller.Log.
func (r *Raft) Append(records ...[]byte) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.AppendTimeout)
	defer cancel()
	return r.AppendContext(ctx, records...)
}

// AppendContext is Append bounded by ctx. Errors: NotLeaderError on a
// follower, ErrLeadershipLost, ErrClosed after Shutdown, the error that
// stopped the Raft, or ctx's error; after the last three the records may
// still be committed.
func (r *Raft) AppendContext(ctx context.Context, records ...[]byte) (int64, error) {
	size := 0
	for _, rec := range records {
		if len(rec) > maxRecord {
			return 0, fmt.Errorf("quorum: record of %d bytes exceeds %d", len(rec), maxRecord)
		}
		size += 4 + len(rec)
	}
	if size > r.cfg.MaxMessageBytes/2 {
		return 0, fmt.Errorf("quorum: %d bytes of records exceed the proposal limit of %d", size, r.cfg.MaxMessageBytes/2)
	}
	if !r.isLeader.Load() {
		return 0, NotLeaderError{LeaderID: r.leader.Load()}
	}
	if len(records) == 0 {
		return r.applied.Load(), nil
	}
	id := r.proposals.Add(1)
	p := &proposal{id: id, data: encodeProposal(id, records), done: make(chan proposalResult, 1)}
	select {
	case r.propc <- p:
	case <-ctx.Done():
		return 0, fmt.Errorf("quorum: append: %w", ctx.Err())
	case <-r.done:
		return 0, r.stopErr()
	}
	select {
	case res := <-p.done:
		return res.offset, res.err
	case <-ctx.Done():
	case <-r.done:
	}
	// A result that arrived together with the cancellation wins.
	select {
	case res := <-p.done:
		return res.offset, res.err
	default:
	}
	if ctx.Err() != nil {
		return 0, fmt.Errorf("quorum: append: %w", ctx.Err())
	}
	return 0, r.stopErr()
}

// stopErr is the error for calls after the loop ended.
func (r *Raft) stopErr() error {
	<-r.done
	if r.err != nil {
		return r.err
	}
	return ErrClosed
}

// Shutdown stops the Raft: pending Appends fail with ErrClosed, the
// transport and the files are closed. It returns when every goroutine has
// exited (or ctx ends first), with the error that stopped the Raft
// earlier, if any. Idempotent.
func (r *Raft) Shutdown(ctx context.Context) error {
	r.stopOnce.Do(func() { close(r.stopc) })
	select {
	case <-r.stopped:
		return errors.Join(r.err, r.closeErr)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the Ready loop: it feeds ticks, messages and proposals to the
// RawNode and handles every Ready: persist, send, apply, advance.
func (r *Raft) run(ticker Ticker) {
	err := r.loop(ticker)
	ticker.Stop()
	if err != nil {
		r.logger.Error("raft stopped", "err", err)
		r.err = fmt.Errorf("quorum: raft stopped: %w", err)
	}
	r.isLeader.Store(false)
	r.leader.Store(0)
	r.failWaiters(func(*proposal) bool { return true }, ErrClosed)
	close(r.done)
	r.transport.close()
	r.closeErr = r.storage.close()
	close(r.stopped)
}

func (r *Raft) loop(ticker Ticker) error {
	for {
		if err := r.handleReadies(); err != nil {
			return err
		}
		select {
		case <-r.stopc:
			return nil
		case <-ticker.C():
			r.node.Tick()
		case m := <-r.recvc:
			r.step(m)
		case p := <-r.propc:
			r.propose(p)
		case <-r.transport.reportc:
			r.report()
		}
		// Take whatever else is waiting, so that one Ready (and one fsync)
		// covers a burst of proposals and messages.
		for range 256 {
			select {
			case m := <-r.recvc:
				r.step(m)
				continue
			case p := <-r.propc:
				r.propose(p)
				continue
			default:
			}
			break
		}
	}
}

func (r *Raft) step(m *pb.Message) {
	if _, ok := r.cfg.Voters[m.GetFrom()]; !ok {
		r.logger.Warn("raft message from unknown node dropped", "from", m.GetFrom(), "type", m.GetType())
		return
	}
	if err := r.node.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
		r.logger.Debug("raft step", "type", m.GetType(), "from", m.GetFrom(), "err", err)
	}
}

func (r *Raft) propose(p *proposal) {
	st := r.node.BasicStatus()
	if st.RaftState != raft.StateLeader {
		p.done <- proposalResult{err: NotLeaderError{LeaderID: st.Lead}}
		return
	}
	if err := r.node.Propose(p.data); err != nil {
		if errors.Is(err, raft.ErrProposalDropped) {
			// A leadership transfer or a full uncommitted log.
			p.done <- proposalResult{err: fmt.Errorf("quorum: proposal dropped by raft: %w", ErrLeadershipLost)}
			return
		}
		p.done <- proposalResult{err: fmt.Errorf("quorum: propose: %w", err)}
		return
	}
	p.term = st.HardState.GetTerm()
	r.waiters[p.id] = p
}

func (r *Raft) report() {
	unreachable, snapshots := r.transport.takeReports()
	for _, id := range unreachable {
		r.node.ReportUnreachable(id)
	}
	for id, status := range snapshots {
		r.node.ReportSnapshot(id, status)
	}
}

func (r *Raft) handleReadies() error {
	for r.node.HasReady() {
		if err := r.handleReady(r.node.Ready()); err != nil {
			return err
		}
	}
	return nil
}

// handleReady persists, then sends, then applies, then advances: the
// order Ready's contract requires when storage writes are synchronous.
func (r *Raft) handleReady(rd raft.Ready) error {
	if rd.SoftState != nil {
		lead := rd.SoftState.Lead
		leading := rd.SoftState.RaftState == raft.StateLeader
		if r.isLeader.Load() != leading || r.leader.Load() != lead {
			r.logger.Info("raft leadership", "leader", lead, "state", rd.SoftState.RaftState.String())
		}
		r.leader.Store(lead)
		r.isLeader.Store(leading)
		if !leading {
			r.failWaiters(func(*proposal) bool { return true }, ErrLeadershipLost)
		}
	}
	if rd.HardState != nil && rd.HardState.GetTerm() != r.term {
		r.term = rd.HardState.GetTerm()
		r.failWaiters(func(p *proposal) bool { return p.term < r.term }, ErrLeadershipLost)
	}
	hasSnap := !raft.IsEmptySnap(rd.Snapshot)
	if hasSnap {
		if err := r.storage.applySnapshot(rd.Snapshot); err != nil {
			return err
		}
	}
	if err := r.storage.save(rd.HardState, rd.Entries, rd.MustSync); err != nil {
		return err
	}
	if rd.HardState != nil {
		r.stats.term.Store(rd.HardState.GetTerm())
		r.stats.commit.Store(rd.HardState.GetCommit())
	}
	r.transport.send(rd.Messages)
	if hasSnap {
		if err := r.restore(rd.Snapshot); err != nil {
			return err
		}
		r.logger.Info("raft snapshot installed", "index", r.appliedIndex, "next_offset", r.nextOffset)
	}
	for _, e := range rd.CommittedEntries {
		r.applyEntry(e)
	}
	r.stats.applied.Store(r.appliedIndex)
	if err := r.maybeSnapshot(); err != nil {
		return err
	}
	r.node.Advance(rd)
	return nil
}

// applyEntry passes an entry's records to the state machine and completes
// its proposal when this node made it.
func (r *Raft) applyEntry(e *pb.Entry) {
	if e.GetIndex() <= r.appliedIndex {
		return
	}
	r.appliedIndex = e.GetIndex()
	switch e.GetType() {
	case pb.EntryNormal:
		if len(e.GetData()) == 0 {
			return // a new leader's empty entry
		}
		id, records, err := decodeProposal(e.GetData())
		if err != nil {
			// Every node skips the same bytes, so the state stays identical.
			r.logger.Error("skipping undecodable raft entry", "index", e.GetIndex(), "err", err)
			return
		}
		first := r.nextOffset
		if ba, ok := r.sm.(BatchApplier); ok {
			ba.ApplyBatch(first, records)
			r.nextOffset += int64(len(records))
		} else {
			for _, rec := range records {
				r.sm.Apply(r.nextOffset, rec)
				r.nextOffset++
			}
		}
		r.applied.Store(r.nextOffset)
		if p, ok := r.waiters[id]; ok {
			delete(r.waiters, id)
			p.done <- proposalResult{offset: first}
		}
	case pb.EntryConfChange, pb.EntryConfChangeV2:
		// Membership is static and nothing proposes changes yet, but raft
		// requires every committed change to be applied.
		var cc pb.ConfChangeI
		if e.GetType() == pb.EntryConfChange {
			c := &pb.ConfChange{}
			if err := proto.Unmarshal(e.GetData(), c); err != nil {
				r.logger.Error("skipping undecodable raft conf change", "index", e.GetIndex(), "err", err)
				return
			}
			cc = c
		} else {
			c := &pb.ConfChangeV2{}
			if err := proto.Unmarshal(e.GetData(), c); err != nil {
				r.logger.Error("skipping undecodable raft conf change", "index", e.GetIndex(), "err", err)
				return
			}
			cc = c
		}
		r.confState = r.node.ApplyConfChange(cc)
	}
}

// maybeSnapshot snapshots the state machine and compacts the log once
// SnapshotEntries entries were applied since the last snapshot. A failed
// Snapshot call is logged and retried after the next entry; a failure to
// write the snapshot stops the Raft.
func (r *Raft) maybeSnapshot() error {
	if r.appliedIndex-r.snapshotIndex < r.cfg.SnapshotEntries {
		return nil
	}
	state, err := r.sm.Snapshot()
	if err != nil {
		r.logger.Error("state machine snapshot failed", "index", r.appliedIndex, "err", err)
		return nil
	}
	if err := r.storage.createSnapshot(r.appliedIndex, r.confState, encodeSnapshot(r.nextOffset, state), r.cfg.CatchUpEntries); err != nil {
		return err
	}
	r.snapshotIndex = r.appliedIndex
	first, _ := r.storage.FirstIndex()
	r.logger.Debug("raft snapshot taken", "index", r.appliedIndex, "next_offset", r.nextOffset, "first_index", first)
	return nil
}

// failWaiters completes the matching waiters with err.
func (r *Raft) failWaiters(match func(*proposal) bool, err error) {
	for id, p := range r.waiters {
		if match(p) {
			delete(r.waiters, id)
			p.done <- proposalResult{err: err}
		}
	}
}
