package group

import (
	"context"
	"maps"
	"slices"
	"time"
)

// GroupStats is one coordinated group as metrics report it.
type GroupStats struct {
	Group   string
	State   State
	Members int
	// Offsets are the group's committed offsets.
	Offsets []FetchedOffset
}

// Stats returns every group of the loaded shards with its state, member
// count and committed offsets (for metrics). Shards still loading, or
// that do not answer before ctx ends, are left out.
func (c *Coordinator) Stats(ctx context.Context) []GroupStats {
	c.mu.Lock()
	shards := slices.Collect(maps.Values(c.mu.shards))
	c.mu.Unlock()
	var out []GroupStats
	for _, s := range shards {
		if s.failed.Load() || !s.loaded.Load() {
			continue
		}
		ch, reply := replier[[]GroupStats]()
		if err := s.do(ctx, func(time.Time) { reply(s.set.stats()) }); err != nil {
			continue
		}
		if list, err := wait(ctx, s, ch); err == nil {
			out = append(out, list...)
		}
	}
	return out
}

func (s *groupSet) stats() []GroupStats {
	out := make([]GroupStats, 0, len(s.groups))
	for id, g := range s.groups {
		if g.state == StateDead {
			continue
		}
		out = append(out, GroupStats{Group: id, State: g.state, Members: len(g.members), Offsets: g.fetch(nil)})
	}
	return out
}
