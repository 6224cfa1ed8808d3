package partition

import (
	"slices"
	"time"
)

// tracker is a leader's replication core: what it knows of each follower,
// and from that the high watermark and the ISR it wants. It is pure (no
// clock, no disk, no lock, no goroutine), driven with explicit times like
// etcd-io/raft's tracker and quorum packages, so its decisions are tested
// as transcripts (isr_test.go). Partition keeps one under its mutex while
// it leads and does the I/O around it.
//
// Kafka's rules (Partition.scala, ReplicaManager): a follower is caught up
// when a fetch reached the leader's log end, or reached the log end the
// leader had at its previous fetch (then it counts as caught up as of that
// previous fetch); an ISR member not caught up for longer than
// replica.lag.time.max.ms leaves the ISR; a follower that reached the high
// watermark and the current leader epoch's start joins it. The high
// watermark is the smallest log end over the ISR (the leader's own
// counted once durable), moves only while the ISR has min.insync.replicas
// members, and never goes back.
type tracker struct {
	self     int32
	replicas []int32
	isr      []int32
	// pending are followers this leader proposed to add to the ISR whose
	// change is not committed yet. They count for the high watermark at
	// once (Kafka's "maximal ISR", KIP-497): the controller may elect a
	// new ISR member as leader the moment the expansion commits (a
	// reassignment completes in the same step), so nothing this leader
	// acknowledges meanwhile may be missing on it.
	pending []int32
	// epochStart is the first offset of the current leader epoch: a
	// follower joins the ISR only once it has everything of this epoch's
	// start, so a new leader's ISR never takes a replica that could still
	// diverge (KIP-101).
	epochStart int64
	followers  map[int32]*followerState
}

// followerState is what a leader knows of one follower.
type followerState struct {
	leo                  int64 // -1 until its first fetch
	lastFetch            time.Time
	lastCaughtUp         time.Time
	leaderLEOAtLastFetch int64
	logStart             int64 // from its fetches (LogStartOffset); -1 until then
}

// newTracker starts a leadership at now: every follower gets a full lag
// period before it can leave the ISR.
func newTracker(r Role, epochStart int64, now time.Time) *tracker {
	t := &tracker{self: r.Self, epochStart: epochStart, followers: map[int32]*followerState{}}
	t.setRole(r, now)
	return t
}

// setRole takes a new replica set and ISR of the same leadership (an ISR
// change committed, a reassignment): new followers start a lag period at
// now, removed ones are forgotten.
func (t *tracker) setRole(r Role, now time.Time) {
	t.replicas, t.isr = slices.Clone(r.Replicas), slices.Clone(r.ISR)
	t.pending = nil // the committed ISR decided the proposal
	for _, id := range r.Replicas {
		if _, ok := t.followers[id]; !ok && id != t.self {
			t.followers[id] = &followerState{leo: -1, lastCaughtUp: now, logStart: -1}
		}
	}
	for id := range t.followers {
		if !slices.Contains(r.Replicas, id) {
			delete(t.followers, id)
		}
	}
}

// fetched records a follower's fetch from fetchOffset (its log end) when
// the leader's log ends at leaderLEO. It reports false for a replica the
// tracker does not know.
func (t *tracker) fetched(id int32, fetchOffset, leaderLEO int64, now time.Time) bool {
	f := t.followers[id]
	if f == nil {
		return false
	}
	if fetchOffset >= leaderLEO {
		f.lastCaughtUp = now
	} else if fetchOffset >= f.leaderLEOAtLastFetch && !f.lastFetch.IsZero() && f.lastFetch.After(f.lastCaughtUp) {
		f.lastCaughtUp = f.lastFetch
	}
	f.leo, f.lastFetch, f.leaderLEOAtLastFetch = fetchOffset, now, leaderLEO
	return true
}

// highWatermark is the high watermark the ISR allows: the smallest log
// end over the ISR, the leader's own being durable (its fsynced end). ok
// is false when it may not move: the ISR of a replicated partition has
// fewer than minISR members, or an ISR follower has not fetched in this
// leadership yet. The caller keeps the larger of this and the current
// high watermark.
func (t *tracker) highWatermark(durable int64, minISR int) (hw int64, ok bool) {
	if len(t.isr) < minISR && len(t.replicas) > 1 {
		return 0, false
	}
	hw = durable
	for _, id := range append(slices.Clone(t.isr), t.pending...) {
		if id == t.self {
			continue
		}
		f := t.followers[id]
		if f == nil || f.leo < 0 {
			return 0, false
		}
		hw = min(hw, f.leo)
	}
	return hw, true
}

// proposeISR returns the ISR the leader wants at now with high watermark
// hw: members not caught up within lagMax leave, followers caught up to hw
// and the epoch start (and within lagMax) join; the leader always stays.
// ok is false when nothing should change. Followers it adds count for the
// high watermark from now on, until the next committed role (pending).
func (t *tracker) proposeISR(now time.Time, hw int64, lagMax time.Duration) (isr []int32, ok bool) {
	isr = []int32{}
	changed := false
	for _, id := range t.replicas {
		if id == t.self {
			isr = append(isr, id)
			continue
		}
		f := t.followers[id]
		in := slices.Contains(t.isr, id)
		switch {
		case in && f != nil && now.Sub(f.lastCaughtUp) > lagMax:
			changed = true // lagging: shrink
		case in:
			isr = append(isr, id)
		case f != nil && f.leo >= hw && f.leo >= t.epochStart && now.Sub(f.lastCaughtUp) <= lagMax:
			isr = append(isr, id) // caught up: expand
			changed = true
			if !slices.Contains(t.pending, id) {
				t.pending = append(t.pending, id)
			}
		}
	}
	return isr, changed
}
