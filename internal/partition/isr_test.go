package partition

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// A transcript drives a tracker through steps at explicit times (seconds
// after the leadership started) and checks its decisions after each.
type isrStep struct {
	desc string
	run  func(t *testing.T, tr *tracker, t0 time.Time)
}

func at(sec float64, t0 time.Time) time.Time {
	return t0.Add(time.Duration(sec * float64(time.Second)))
}

// fetch: follower id fetches from offset while the leader's log ends at leo.
func fetch(sec float64, id int32, offset, leo int64) isrStep {
	return isrStep{fmt.Sprintf("t=%v fetch %d offset=%d leo=%d", sec, id, offset, leo), func(t *testing.T, tr *tracker, t0 time.Time) {
		if !tr.fetched(id, offset, leo, at(sec, t0)) {
			t.Fatalf("replica %d unknown", id)
		}
	}}
}

// role: the controller committed a new replica set and ISR.
func role(sec float64, replicas, isr []int32) isrStep {
	return isrStep{fmt.Sprintf("t=%v role replicas=%v isr=%v", sec, replicas, isr), func(t *testing.T, tr *tracker, t0 time.Time) {
		tr.setRole(Role{Self: tr.self, Leader: tr.self, Replicas: replicas, ISR: isr}, at(sec, t0))
	}}
}

// hw: with the leader durable to durable, the ISR allows want (-1: the
// high watermark may not move).
func hw(durable int64, minISR int, want int64) isrStep {
	return isrStep{fmt.Sprintf("hw durable=%d min-isr=%d -> %d", durable, minISR, want), func(t *testing.T, tr *tracker, _ time.Time) {
		got, ok := tr.highWatermark(durable, minISR)
		if !ok {
			got = -1
		}
		if got != want {
			t.Fatalf("high watermark %d, want %d", got, want)
		}
	}}
}

// propose: at sec with high watermark hwm and a 10 s lag limit the
// leader proposes want (nil: no change).
func propose(sec float64, hwm int64, want []int32) isrStep {
	return isrStep{fmt.Sprintf("t=%v propose hw=%d -> %v", sec, hwm, want), func(t *testing.T, tr *tracker, t0 time.Time) {
		got, changed := tr.proposeISR(at(sec, t0), hwm, 10*time.Second)
		if !changed {
			got = nil
		}
		if !slices.Equal(got, want) {
			t.Fatalf("proposed %v, want %v", got, want)
		}
	}}
}

func TestTracker(t *testing.T) {
	r3 := []int32{1, 2, 3}
	tests := []struct {
		name       string
		replicas   []int32
		isr        []int32
		epochStart int64
		steps      []isrStep
	}{
		{name: "shrink: an ISR member not caught up for replica.lag.time.max.ms leaves", replicas: r3, isr: r3, steps: []isrStep{
			propose(10, 0, nil), // everyone gets a full lag period from the leadership's start
			fetch(5, 2, 10, 10),
			fetch(5, 3, 5, 10),
			propose(10, 5, nil),
			propose(10.5, 5, []int32{1, 2}),
			propose(15, 5, []int32{1, 2}),
			propose(15.5, 5, []int32{1}),
		}},
		{name: "shrink: caught up as of the previous fetch when it reached that fetch's log end", replicas: r3, isr: r3, steps: []isrStep{
			fetch(1, 2, 0, 10),  // behind
			fetch(8, 2, 10, 20), // reached the end of t=1: caught up as of t=1
			fetch(8, 3, 20, 20),
			propose(11, 10, nil),
			propose(11.5, 10, []int32{1, 3}),
			fetch(12, 2, 20, 20), // caught up now, but the leader already proposed; the next review keeps it
			propose(12, 10, nil),
		}},
		{name: "expand: a follower joins once it reached the high watermark", replicas: r3, isr: []int32{1, 2}, steps: []isrStep{
			fetch(1, 2, 10, 10),
			fetch(1, 3, 8, 10),
			propose(2, 10, nil),
			fetch(2, 3, 10, 12),
			propose(3, 10, []int32{1, 2, 3}),
		}},
		{name: "expand: not before the current leader epoch's start", replicas: r3, isr: []int32{1, 2}, epochStart: 12, steps: []isrStep{
			fetch(1, 3, 10, 14),
			propose(2, 10, nil),
			fetch(2, 3, 12, 14),
			propose(3, 10, []int32{1, 2, 3}),
		}},
		{name: "expand: not a follower that is lagging anyway", replicas: r3, isr: []int32{1, 2}, steps: []isrStep{
			fetch(1, 3, 10, 20),
			fetch(5, 2, 20, 20),
			propose(11, 10, nil), // 3 reached the HW, but was not caught up for 11 s
		}},
		{name: "high watermark: the smallest log end over the ISR, the leader's durable end included", replicas: r3, isr: r3, steps: []isrStep{
			hw(10, 1, -1), // no follower fetched yet in this leadership
			fetch(1, 2, 7, 10),
			hw(10, 1, -1),
			fetch(1, 3, 5, 10),
			hw(10, 1, 5),
			hw(4, 1, 4),
			fetch(2, 3, 10, 10),
			hw(10, 1, 7),
		}},
		{name: "high watermark: only while the ISR has min.insync.replicas members", replicas: r3, isr: r3, steps: []isrStep{
			fetch(1, 2, 7, 10),
			fetch(1, 3, 5, 10),
			hw(10, 3, 5),
			role(2, r3, []int32{1, 2}),
			hw(10, 3, -1),
			hw(10, 2, 7), // the lagging replica left: the HW moves past it
			role(3, r3, []int32{1}),
			hw(10, 2, -1),
			hw(10, 1, 10),
		}},
		{name: "high watermark: a single replica ignores min.insync.replicas", replicas: []int32{1}, isr: []int32{1}, steps: []isrStep{
			hw(10, 2, 10),
			propose(100, 10, nil),
		}},
		{name: "reassignment: new replicas start a lag period, removed ones are forgotten", replicas: r3, isr: r3, steps: []isrStep{
			fetch(1, 2, 10, 10),
			fetch(1, 3, 10, 10),
			role(5, []int32{1, 2, 4}, []int32{1, 2}),
			hw(10, 1, 10),
			propose(5, 10, nil), // 4 has not fetched yet
			fetch(5, 4, 10, 10),
			propose(6, 10, []int32{1, 2, 4}),
			propose(11.5, 10, []int32{1, 4}), // 2 last caught up at t=1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.UnixMilli(1_700_000_000_000)
			tr := newTracker(Role{Self: 1, Leader: 1, Replicas: tt.replicas, ISR: tt.isr}, tt.epochStart, t0)
			for i, s := range tt.steps {
				t.Logf("%d: %s", i, s.desc)
				s.run(t, tr, t0)
			}
		})
	}
}

// TestTrackerLeaderChange: a new leadership forgets what the previous one
// knew: followers must fetch again before the high watermark moves, and
// each gets a full lag period from the new leadership's start.
func TestTrackerLeaderChange(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	r := Role{Self: 1, Leader: 1, LeaderEpoch: 4, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}
	tr := newTracker(r, 0, t0)
	tr.fetched(2, 10, 10, t0)
	tr.fetched(3, 10, 10, t0)
	if hw, ok := tr.highWatermark(10, 2); !ok || hw != 10 {
		t.Fatalf("hw %d %v", hw, ok)
	}
	// Leadership moves away and back (epoch 6) 60 s later.
	later := t0.Add(60 * time.Second)
	r.LeaderEpoch = 6
	tr = newTracker(r, 10, later)
	if _, ok := tr.highWatermark(10, 2); ok {
		t.Fatal("high watermark allowed before the followers fetched from the new leader")
	}
	if isr, changed := tr.proposeISR(later.Add(9*time.Second), 10, 10*time.Second); changed {
		t.Fatalf("proposed %v within the new leadership's first lag period", isr)
	}
	if tr.fetched(7, 0, 10, later) {
		t.Fatal("fetch from a non-replica accepted")
	}
}

// A follower the leader proposed to add to the ISR counts for the high
// watermark at once (KIP-497's maximal ISR): the controller may make it
// leader the moment the expansion commits (a reassignment completes in the
// same step), so the old leader must not acknowledge what it lacks. The
// committed role then decides.
func TestProposedExpansionBoundsHighWatermark(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tr := newTracker(Role{Self: 1, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1}}, 0, t0)
	tr.fetched(2, 5, 5, t0.Add(time.Second)) // caught up with the leader's log end 5
	if hw, ok := tr.highWatermark(10, 1); !ok || hw != 10 {
		t.Fatalf("before the proposal: hw %d %v, want 10 (ISR [1])", hw, ok)
	}
	isr, changed := tr.proposeISR(t0.Add(time.Second), 5, 10*time.Second)
	if !changed || !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("proposal %v %v, want [1 2]", isr, changed)
	}
	if hw, ok := tr.highWatermark(10, 1); !ok || hw != 5 {
		t.Fatalf("with the expansion pending: hw %d %v, want 5 (follower 2's log end)", hw, ok)
	}
	// The controller refused it: the committed ISR is [1] again.
	tr.setRole(Role{Self: 1, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1}}, t0.Add(2*time.Second))
	if hw, ok := tr.highWatermark(10, 1); !ok || hw != 10 {
		t.Fatalf("after the committed role: hw %d %v, want 10", hw, ok)
	}
}
