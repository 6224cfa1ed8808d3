package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file reads the cluster (cached; see cache.go) and answers the
// overview page.

// metadata is every topic's metadata, cached.
func (s *Server) metadata(ctx context.Context) (kadm.Metadata, error) {
	v, _, err := s.cache.get(ctx, "metadata", func(ctx context.Context) (any, error) {
		m, err := s.admin.Metadata(ctx)
		if err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		return m, nil
	})
	if err != nil {
		return kadm.Metadata{}, err
	}
	return v.(kadm.Metadata), nil
}

// offsets are the start and end offsets of every partition of every
// topic, read at a moment (at).
type offsets struct {
	start, end kadm.ListedOffsets
	at         time.Time
}

// allOffsets lists start and end offsets of every topic, cached.
func (s *Server) allOffsets(ctx context.Context) (offsets, error) {
	v, at, err := s.cache.get(ctx, "offsets", func(ctx context.Context) (any, error) {
		m, err := s.metadata(ctx)
		if err != nil {
			return nil, err
		}
		names := m.Topics.Names()
		if len(names) == 0 {
			return offsets{start: kadm.ListedOffsets{}, end: kadm.ListedOffsets{}}, nil
		}
		start, err := s.admin.ListStartOffsets(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("list start offsets: %w", err)
		}
		end, err := s.admin.ListEndOffsets(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("list end offsets: %w", err)
		}
		return offsets{start: start, end: end}, nil
	})
	if err != nil {
		return offsets{}, err
	}
	o := v.(offsets)
	o.at = at
	return o, nil
}

// partitionSizes maps topic and partition to the largest replica's size
// in bytes, from DescribeLogDirs; nil when the cluster does not answer it
// (sizes are then left out of the pages).
func (s *Server) partitionSizes(ctx context.Context) map[string]map[int32]int64 {
	v, _, err := s.cache.get(ctx, "logdirs", func(ctx context.Context) (any, error) {
		// A cluster without DescribeLogDirs answers "no sizes", cached
		// like an answer, so pages do not ask again on every refresh.
		var none map[string]map[int32]int64
		dirs, err := s.admin.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			return none, nil
		}
		sizes := map[string]map[int32]int64{}
		described := false
		dirs.Each(func(d kadm.DescribedLogDir) {
			if d.Err != nil {
				return
			}
			described = true
			d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
				if p.IsFuture {
					return
				}
				if sizes[p.Topic] == nil {
					sizes[p.Topic] = map[int32]int64{}
				}
				sizes[p.Topic][p.Partition] = max(sizes[p.Topic][p.Partition], p.Size)
			})
		})
		if !described {
			return none, nil
		}
		return sizes, nil
	})
	sizes, _ := v.(map[string]map[int32]int64)
	if err != nil {
		return nil
	}
	return sizes
}

type brokerView struct {
	ID         int32  `json:"id"`
	Host       string `json:"host"`
	Port       int32  `json:"port"`
	Rack       string `json:"rack,omitempty"`
	Fenced     *bool  `json:"fenced,omitempty"` // nil: the cluster does not say
	Controller bool   `json:"controller"`       // a voter of the metadata quorum
	Active     bool   `json:"activeController"` // the quorum's leader
	Partitions int    `json:"leaderOf"`         // partitions it leads
	Replicas   int    `json:"replicas"`         // replicas it hosts
}

type partitionRef struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"`
	Replicas  []int32 `json:"replicas"`
	ISR       []int32 `json:"isr"`
}

type clusterView struct {
	ClusterID        string         `json:"clusterId"`
	ActiveController int32          `json:"activeController"` // -1: unknown
	Controllers      []int32        `json:"controllers"`      // nil: the cluster does not say (no DescribeQuorum)
	Brokers          []brokerView   `json:"brokers"`
	Health           string         `json:"health"` // ok, degraded, offline
	Problems         []string       `json:"problems"`
	Topics           int            `json:"topics"`
	Partitions       int            `json:"partitions"`
	UnderReplicated  []partitionRef `json:"underReplicated"`
	Offline          []partitionRef `json:"offline"`
	Bootstrap        []string       `json:"bootstrap"`
}

// quorum is what DescribeQuorum says; ok is false when the cluster does
// not answer it.
type quorum struct {
	leader int32
	voters []int32
	ok     bool
}

func (s *Server) quorum(ctx context.Context) quorum {
	v, _, _ := s.cache.get(ctx, "quorum", func(ctx context.Context) (any, error) {
		req := kmsg.NewPtrDescribeQuorumRequest()
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic = "__cluster_metadata"
		rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, s.client)
		if err != nil || resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 ||
			resp.Topics[0].Partitions[0].ErrorCode != 0 {
			return quorum{leader: -1}, nil
		}
		p := resp.Topics[0].Partitions[0]
		q := quorum{leader: p.LeaderID, ok: true}
		for _, v := range p.CurrentVoters {
			q.voters = append(q.voters, v.ReplicaID)
		}
		sort.Slice(q.voters, func(i, j int) bool { return q.voters[i] < q.voters[j] })
		return q, nil
	})
	q, _ := v.(quorum)
	return q
}

// describeCluster is DescribeCluster (with fenced brokers, v2), cached.
func (s *Server) describeCluster(ctx context.Context) (*kmsg.DescribeClusterResponse, error) {
	v, _, err := s.cache.get(ctx, "describe-cluster", func(ctx context.Context) (any, error) {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeFencedBrokers = true
		resp, err := req.RequestWith(ctx, s.client)
		if err != nil {
			return nil, fmt.Errorf("describe cluster: %w", err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			msg := ""
			if resp.ErrorMessage != nil {
				msg = *resp.ErrorMessage
			}
			return nil, fmt.Errorf("describe cluster: %w", kafkaError(err, msg))
		}
		return resp, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*kmsg.DescribeClusterResponse), nil
}

func (s *Server) getCluster(ctx context.Context, _ *http.Request) (any, error) {
	m, err := s.metadata(ctx)
	if err != nil {
		return nil, err
	}
	view := clusterView{
		ClusterID: m.Cluster, ActiveController: m.Controller, Bootstrap: s.cfg.Bootstrap,
		Problems: []string{}, UnderReplicated: []partitionRef{}, Offline: []partitionRef{}, Brokers: []brokerView{},
	}
	byID := map[int32]*brokerView{}
	if dc, err := s.describeCluster(ctx); err == nil {
		for _, b := range dc.Brokers {
			bv := brokerView{ID: b.NodeID, Host: b.Host, Port: b.Port}
			if b.Rack != nil {
				bv.Rack = *b.Rack
			}
			if dc.Version >= 2 {
				fenced := b.IsFenced
				bv.Fenced = &fenced
			}
			view.Brokers = append(view.Brokers, bv)
		}
		view.ActiveController = dc.ControllerID
	} else {
		for _, b := range m.Brokers {
			bv := brokerView{ID: b.NodeID, Host: b.Host, Port: b.Port}
			if b.Rack != nil {
				bv.Rack = *b.Rack
			}
			view.Brokers = append(view.Brokers, bv)
		}
	}
	if q := s.quorum(ctx); q.ok {
		view.Controllers = q.voters
		view.ActiveController = q.leader
	}
	sort.Slice(view.Brokers, func(i, j int) bool { return view.Brokers[i].ID < view.Brokers[j].ID })
	for i := range view.Brokers {
		b := &view.Brokers[i]
		byID[b.ID] = b
		b.Active = b.ID == view.ActiveController
		for _, c := range view.Controllers {
			b.Controller = b.Controller || c == b.ID
		}
		if b.Fenced != nil && *b.Fenced {
			view.Problems = append(view.Problems, fmt.Sprintf("broker %d is fenced", b.ID))
		}
	}
	for _, t := range m.Topics.Sorted() {
		if t.Err != nil {
			continue
		}
		view.Topics++
		for _, p := range t.Partitions.Sorted() {
			view.Partitions++
			ref := partitionRef{Topic: t.Topic, Partition: p.Partition, Leader: p.Leader, Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR)}
			if b := byID[p.Leader]; b != nil {
				b.Partitions++
			}
			for _, r := range p.Replicas {
				if b := byID[r]; b != nil {
					b.Replicas++
				}
			}
			switch {
			case p.Leader < 0:
				view.Offline = append(view.Offline, ref)
			case len(p.ISR) < len(p.Replicas):
				view.UnderReplicated = append(view.UnderReplicated, ref)
			}
		}
	}
	view.Health = "ok"
	if len(view.UnderReplicated) > 0 {
		view.Problems = append(view.Problems, fmt.Sprintf("%d under-replicated partition(s)", len(view.UnderReplicated)))
	}
	if len(view.Problems) > 0 {
		view.Health = "degraded"
	}
	if len(view.Offline) > 0 {
		view.Health = "offline"
		view.Problems = append(view.Problems, fmt.Sprintf("%d offline partition(s) without a leader", len(view.Offline)))
	}
	if view.ActiveController < 0 {
		view.Problems = append(view.Problems, "no active controller known")
	}
	return view, nil
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}
