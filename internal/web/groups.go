package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// This file answers the consumer group pages: list, detail with lag per
// partition, and offset resets of empty groups.

// maxGroupsWithLag: the group list computes each group's lag only when
// there are at most this many groups (lag costs a few requests per group).
const maxGroupsWithLag = 200

type groupSummary struct {
	Group        string   `json:"group"`
	State        string   `json:"state"`
	ProtocolType string   `json:"protocolType"`
	Protocol     string   `json:"protocol"`
	Coordinator  int32    `json:"coordinator"`
	Members      int      `json:"members"`
	Lag          *int64   `json:"lag,omitempty"` // nil: not computed
	Topics       []string `json:"topics"`
	Error        string   `json:"error,omitempty"`
}

func (s *Server) listGroups(ctx context.Context, _ *http.Request) (any, error) {
	v, at, err := s.cache.get(ctx, "groups", func(ctx context.Context) (any, error) {
		listed, err := s.admin.ListGroups(ctx)
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		out := []groupSummary{}
		names := listed.Groups()
		sort.Strings(names)
		var lags kadm.DescribedGroupLags
		if len(names) > 0 && len(names) <= maxGroupsWithLag {
			lags, err = s.admin.Lag(ctx, names...)
			if err != nil {
				lags = nil // the list still shows the groups
			}
		}
		for _, name := range names {
			l := listed[name]
			gs := groupSummary{Group: name, State: l.State, ProtocolType: l.ProtocolType, Coordinator: l.Coordinator, Topics: []string{}}
			if gl, ok := lags[name]; ok {
				if err := gl.Error(); err != nil {
					gs.Error = err.Error()
				} else {
					total := gl.Lag.Total()
					gs.Lag = &total
				}
				gs.State, gs.Protocol, gs.Members = gl.State, gl.Protocol, len(gl.Members)
				for t := range gl.Lag {
					gs.Topics = append(gs.Topics, t)
				}
				sort.Strings(gs.Topics)
			}
			out = append(out, gs)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"groups": v, "time": at.UnixMilli()}, nil
}

type memberView struct {
	MemberID    string           `json:"memberId"`
	InstanceID  string           `json:"instanceId,omitempty"`
	ClientID    string           `json:"clientId"`
	ClientHost  string           `json:"clientHost"`
	Assignments []assignmentView `json:"assignments"`
}

type assignmentView struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

type groupPartitionView struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"` // -1: none
	Start     int64  `json:"startOffset"`
	End       int64  `json:"endOffset"`
	Lag       int64  `json:"lag"` // -1: unknown
	MemberID  string `json:"memberId,omitempty"`
	ClientID  string `json:"clientId,omitempty"`
	Error     string `json:"error,omitempty"`
}

type groupView struct {
	Group        string               `json:"group"`
	State        string               `json:"state"`
	ProtocolType string               `json:"protocolType"`
	Protocol     string               `json:"protocol"`
	Coordinator  int32                `json:"coordinator"`
	Members      []memberView         `json:"members"`
	Partitions   []groupPartitionView `json:"partitions"`
	TotalLag     int64                `json:"totalLag"`
	Time         int64                `json:"time"` // ms: when the offsets were read
}

func groupPath(r *http.Request) (string, error) {
	g := r.PathValue("group")
	if g == "" {
		return "", badRequest("group id is empty")
	}
	return g, nil
}

func (s *Server) getGroup(ctx context.Context, r *http.Request) (any, error) {
	group, err := groupPath(r)
	if err != nil {
		return nil, err
	}
	v, at, err := s.cache.get(ctx, "group/"+group, func(ctx context.Context) (any, error) {
		return s.loadGroup(ctx, group)
	})
	if err != nil {
		return nil, err
	}
	gv := v.(groupView)
	gv.Time = at.UnixMilli()
	return gv, nil
}

func (s *Server) loadGroup(ctx context.Context, group string) (groupView, error) {
	lags, err := s.admin.Lag(ctx, group)
	if err != nil {
		return groupView{}, fmt.Errorf("group %q: %w", group, err)
	}
	gl, ok := lags[group]
	if !ok {
		return groupView{}, notFound("group %q does not exist", group)
	}
	if gl.DescribeErr != nil {
		if errors.Is(gl.DescribeErr, kerr.GroupIDNotFound) {
			return groupView{}, notFound("group %q does not exist", group)
		}
		return groupView{}, fmt.Errorf("describe group %q: %w", group, gl.DescribeErr)
	}
	if gl.FetchErr != nil {
		return groupView{}, fmt.Errorf("committed offsets of group %q: %w", group, gl.FetchErr)
	}
	if gl.State == "Dead" && len(gl.Lag) == 0 {
		return groupView{}, notFound("group %q does not exist", group)
	}
	gv := groupView{
		Group: group, State: gl.State, ProtocolType: gl.ProtocolType, Protocol: gl.Protocol,
		Coordinator: gl.Coordinator.NodeID, Members: []memberView{}, Partitions: []groupPartitionView{},
	}
	for _, m := range gl.Members {
		mv := memberView{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assignments: []assignmentView{}}
		if m.InstanceID != nil {
			mv.InstanceID = *m.InstanceID
		}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				ps := append([]int32(nil), t.Partitions...)
				sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
				mv.Assignments = append(mv.Assignments, assignmentView{Topic: t.Topic, Partitions: ps})
			}
			sort.Slice(mv.Assignments, func(i, j int) bool { return mv.Assignments[i].Topic < mv.Assignments[j].Topic })
		}
		gv.Members = append(gv.Members, mv)
	}
	for _, l := range gl.Lag.Sorted() {
		pv := groupPartitionView{Topic: l.Topic, Partition: l.Partition, Committed: l.Commit.At, Start: -1, End: -1, Lag: l.Lag}
		if l.Start.Err == nil {
			pv.Start = l.Start.Offset
		}
		if l.End.Err == nil {
			pv.End = l.End.Offset
		}
		if l.Member != nil {
			pv.MemberID, pv.ClientID = l.Member.MemberID, l.Member.ClientID
		}
		if l.Err != nil {
			pv.Error = l.Err.Error()
		}
		if pv.Lag > 0 {
			gv.TotalLag += pv.Lag
		}
		gv.Partitions = append(gv.Partitions, pv)
	}
	return gv, nil
}

type resetRequest struct {
	Topic     string `json:"topic"`
	Partition *int32 `json:"partition"` // nil: every partition of the topic
	To        string `json:"to"`        // earliest, latest, offset, timestamp
	Offset    *int64 `json:"offset"`    // with to=offset
	Timestamp *int64 `json:"timestamp"` // ms, with to=timestamp
}

// resetGroupOffsets commits new offsets for a group without members, as
// kafka-consumer-groups.sh --reset-offsets --execute does.
func (s *Server) resetGroupOffsets(ctx context.Context, r *http.Request) (any, error) {
	group, err := groupPath(r)
	if err != nil {
		return nil, err
	}
	var req resetRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	if err := checkTopicName(req.Topic); err != nil {
		return nil, err
	}
	switch req.To {
	case "earliest", "latest":
	case "offset":
		if req.Offset == nil || *req.Offset < 0 {
			return nil, badRequest("to=offset needs \"offset\" >= 0")
		}
	case "timestamp":
		if req.Timestamp == nil || *req.Timestamp < 0 {
			return nil, badRequest("to=timestamp needs \"timestamp\" in milliseconds since 1970")
		}
	default:
		return nil, badRequest("\"to\" must be earliest, latest, offset or timestamp, got %q", req.To)
	}
	described, err := s.admin.DescribeGroups(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("describe group %q: %w", group, err)
	}
	if d, ok := described[group]; ok && d.Err == nil {
		if st := d.State; st != "Empty" && st != "Dead" && st != "" {
			return nil, conflict("group %q is %s with %d member(s): stop its consumers before resetting offsets", group, st, len(d.Members))
		}
	}
	t, err := s.topicMetadata(ctx, req.Topic)
	if err != nil {
		return nil, err
	}
	var parts []int32
	if req.Partition != nil {
		if _, ok := t.Partitions[*req.Partition]; !ok {
			return nil, notFound("topic %q has no partition %d", req.Topic, *req.Partition)
		}
		parts = []int32{*req.Partition}
	} else {
		for _, p := range t.Partitions.Sorted() {
			parts = append(parts, p.Partition)
		}
	}
	starts, err := s.admin.ListStartOffsets(ctx, req.Topic)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := s.admin.ListEndOffsets(ctx, req.Topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	var byTime kadm.ListedOffsets
	if req.To == "timestamp" {
		if byTime, err = s.admin.ListOffsetsAfterMilli(ctx, *req.Timestamp, req.Topic); err != nil {
			return nil, fmt.Errorf("list offsets by time: %w", err)
		}
	}
	offsets := kadm.Offsets{}
	result := map[int32]int64{}
	for _, p := range parts {
		so, ok1 := starts.Lookup(req.Topic, p)
		eo, ok2 := ends.Lookup(req.Topic, p)
		if !ok1 || !ok2 || so.Err != nil || eo.Err != nil {
			return nil, fmt.Errorf("offsets of %s/%d: %w", req.Topic, p, orMissing(errors.Join(so.Err, eo.Err)))
		}
		var at int64
		switch req.To {
		case "earliest":
			at = so.Offset
		case "latest":
			at = eo.Offset
		case "offset":
			at = min(max(*req.Offset, so.Offset), eo.Offset)
		case "timestamp":
			at = eo.Offset
			if o, ok := byTime.Lookup(req.Topic, p); ok && o.Err == nil && o.Offset >= 0 {
				at = min(max(o.Offset, so.Offset), eo.Offset)
			}
		}
		offsets.Add(kadm.Offset{Topic: req.Topic, Partition: p, At: at, LeaderEpoch: -1})
		result[p] = at
	}
	resps, err := s.admin.CommitOffsets(ctx, group, offsets)
	s.cache.invalidate()
	if err != nil {
		return nil, fmt.Errorf("commit offsets of group %q: %w", group, err)
	}
	if err := resps.Error(); err != nil {
		if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress) {
			return nil, conflict("group %q has active members: stop its consumers before resetting offsets (%v)", group, err)
		}
		return nil, fmt.Errorf("commit offsets of group %q: %w", group, err)
	}
	return map[string]any{"group": group, "topic": req.Topic, "offsets": result}, nil
}

type throughputSample struct {
	Topic      string `json:"topic"`
	EndOffsets int64  `json:"endOffsets"` // summed over partitions
	Partitions int    `json:"partitions"`
}

// throughput gives each topic's summed end offsets at a moment; the page
// turns two samples into records per second.
func (s *Server) throughput(ctx context.Context, r *http.Request) (any, error) {
	internal := r.URL.Query().Get("internal") == "true"
	m, err := s.metadata(ctx)
	if err != nil {
		return nil, err
	}
	offs, err := s.allOffsets(ctx)
	if err != nil {
		return nil, err
	}
	out := []throughputSample{}
	for _, t := range m.Topics.Sorted() {
		if t.Err != nil || (!internal && (t.IsInternal || strings.HasPrefix(t.Topic, "__"))) {
			continue
		}
		ts := throughputSample{Topic: t.Topic, Partitions: len(t.Partitions)}
		for _, p := range t.Partitions {
			if o, ok := offs.end.Lookup(t.Topic, p.Partition); ok && o.Err == nil {
				ts.EndOffsets += o.Offset
			}
		}
		out = append(out, ts)
	}
	at := offs.at
	if at.IsZero() {
		at = time.Now()
	}
	return map[string]any{"time": at.UnixMilli(), "topics": out}, nil
}
