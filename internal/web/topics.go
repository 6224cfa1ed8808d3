package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// This file answers the topic pages: list, detail, create, delete and
// config changes.

type topicSummary struct {
	Name              string `json:"name"`
	Internal          bool   `json:"internal"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replicationFactor"`
	UnderReplicated   int    `json:"underReplicated"`
	Offline           int    `json:"offline"`
	Messages          int64  `json:"messages"` // end - start offsets, summed
	EndOffsets        int64  `json:"endOffsets"`
	Size              *int64 `json:"size,omitempty"` // bytes; nil when unknown
	Error             string `json:"error,omitempty"`
}

func (s *Server) listTopics(ctx context.Context, _ *http.Request) (any, error) {
	m, err := s.metadata(ctx)
	if err != nil {
		return nil, err
	}
	offs, err := s.allOffsets(ctx)
	if err != nil {
		return nil, err
	}
	sizes := s.partitionSizes(ctx)
	out := []topicSummary{}
	for _, t := range m.Topics.Sorted() {
		if errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
			continue // deleted a moment ago
		}
		sum := topicSummary{Name: t.Topic, Internal: t.IsInternal || strings.HasPrefix(t.Topic, "__"), Partitions: len(t.Partitions)}
		if t.Err != nil {
			sum.Error = t.Err.Error()
		}
		for _, p := range t.Partitions {
			sum.ReplicationFactor = max(sum.ReplicationFactor, len(p.Replicas))
			if p.Leader < 0 {
				sum.Offline++
			} else if len(p.ISR) < len(p.Replicas) {
				sum.UnderReplicated++
			}
			start, _ := offs.start.Lookup(t.Topic, p.Partition)
			end, ok := offs.end.Lookup(t.Topic, p.Partition)
			if ok && end.Err == nil {
				sum.EndOffsets += end.Offset
				if start.Err == nil {
					sum.Messages += end.Offset - start.Offset
				}
			}
		}
		if sizes != nil {
			var total int64
			for _, sz := range sizes[t.Topic] {
				total += sz
			}
			sum.Size = &total
		}
		out = append(out, sum)
	}
	return map[string]any{"topics": out}, nil
}

type partitionView struct {
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"`
	LeaderEpoch     int32   `json:"leaderEpoch"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	Offline         []int32 `json:"offlineReplicas"`
	UnderReplicated bool    `json:"underReplicated"`
	StartOffset     int64   `json:"startOffset"` // -1: unknown
	EndOffset       int64   `json:"endOffset"`   // -1: unknown
	Size            *int64  `json:"size,omitempty"`
	Error           string  `json:"error,omitempty"`
}

type configView struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"` // nil: sensitive or unset
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive"`
	Default   bool    `json:"default"` // not set on the topic itself
}

type topicView struct {
	Name              string          `json:"name"`
	ID                string          `json:"id"`
	Internal          bool            `json:"internal"`
	ReplicationFactor int             `json:"replicationFactor"`
	Partitions        []partitionView `json:"partitions"`
	Configs           []configView    `json:"configs"`
	ConfigsError      string          `json:"configsError,omitempty"`
	Messages          int64           `json:"messages"`
	Size              *int64          `json:"size,omitempty"`
}

// topicPath returns the {topic} of the URL, checked.
func topicPath(r *http.Request) (string, error) {
	name := r.PathValue("topic")
	if err := checkTopicName(name); err != nil {
		return "", err
	}
	return name, nil
}

// checkTopicName applies Kafka's topic name rules, so a bad name gets a
// clear message before any request goes out.
func checkTopicName(name string) error {
	switch {
	case name == "":
		return badRequest("topic name is empty")
	case name == "." || name == "..":
		return badRequest("topic name cannot be %q", name)
	case len(name) > 249:
		return badRequest("topic name is %d characters long; at most 249 are allowed", len(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return badRequest("topic name %q contains %q: only ASCII letters, digits, '.', '_' and '-' are allowed", name, c)
		}
	}
	return nil
}

func (s *Server) topicMetadata(ctx context.Context, name string) (kadm.TopicDetail, error) {
	m, err := s.metadata(ctx)
	if err != nil {
		return kadm.TopicDetail{}, err
	}
	t, ok := m.Topics[name]
	if !ok {
		return t, notFound("topic %q does not exist", name)
	}
	if t.Err != nil {
		return t, fmt.Errorf("topic %q: %w", name, t.Err)
	}
	return t, nil
}

func (s *Server) getTopic(ctx context.Context, r *http.Request) (any, error) {
	name, err := topicPath(r)
	if err != nil {
		return nil, err
	}
	t, err := s.topicMetadata(ctx, name)
	if err != nil {
		return nil, err
	}
	offs, err := s.allOffsets(ctx)
	if err != nil {
		return nil, err
	}
	sizes := s.partitionSizes(ctx)
	view := topicView{Name: name, ID: topicID(t.ID), Internal: t.IsInternal, Partitions: []partitionView{}, Configs: []configView{}}
	if sizes != nil {
		view.Size = new(int64)
	}
	for _, p := range t.Partitions.Sorted() {
		pv := partitionView{
			Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR), Offline: nonNil(p.OfflineReplicas),
			UnderReplicated: len(p.ISR) < len(p.Replicas), StartOffset: -1, EndOffset: -1,
		}
		if p.Err != nil {
			pv.Error = p.Err.Error()
		}
		view.ReplicationFactor = max(view.ReplicationFactor, len(p.Replicas))
		if o, ok := offs.start.Lookup(name, p.Partition); ok && o.Err == nil {
			pv.StartOffset = o.Offset
		}
		if o, ok := offs.end.Lookup(name, p.Partition); ok && o.Err == nil {
			pv.EndOffset = o.Offset
		}
		if pv.StartOffset >= 0 && pv.EndOffset >= 0 {
			view.Messages += pv.EndOffset - pv.StartOffset
		}
		if sizes != nil {
			sz := sizes[name][p.Partition]
			pv.Size = &sz
			*view.Size += sz
		}
		view.Partitions = append(view.Partitions, pv)
	}
	configs, err := s.topicConfigs(ctx, name)
	if err != nil {
		view.ConfigsError = err.Error()
	} else {
		view.Configs = configs
	}
	return view, nil
}

// topicConfigs describes a topic's configs, cached.
func (s *Server) topicConfigs(ctx context.Context, name string) ([]configView, error) {
	v, _, err := s.cache.get(ctx, "configs/"+name, func(ctx context.Context) (any, error) {
		rcs, err := s.admin.DescribeTopicConfigs(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("describe configs: %w", err)
		}
		rc, err := rcs.On(name, nil)
		if err != nil {
			return nil, fmt.Errorf("describe configs: %w", err)
		}
		if rc.Err != nil {
			return nil, fmt.Errorf("describe configs: %w", kafkaError(rc.Err, rc.ErrMessage))
		}
		out := make([]configView, 0, len(rc.Configs))
		for _, c := range rc.Configs {
			cv := configView{Name: c.Key, Value: c.Value, Source: c.Source.String(), Sensitive: c.Sensitive}
			cv.Default = c.Source.String() != "DYNAMIC_TOPIC_CONFIG"
			if c.Sensitive {
				cv.Value = nil
			}
			out = append(out, cv)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]configView), nil
}

type createTopicRequest struct {
	Name              string            `json:"name"`
	Partitions        int32             `json:"partitions"`        // 0: the broker's num.partitions
	ReplicationFactor int16             `json:"replicationFactor"` // 0: the broker's default.replication.factor
	Configs           map[string]string `json:"configs"`
}

func (s *Server) createTopic(ctx context.Context, r *http.Request) (any, error) {
	var req createTopicRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	req.Name = strings.TrimSpace(req.Name)
	if err := checkTopicName(req.Name); err != nil {
		return nil, err
	}
	if req.Partitions < 0 || req.Partitions > 100_000 {
		return nil, badRequest("partitions must be between 1 and 100000 (or 0 for the broker's default), got %d", req.Partitions)
	}
	if req.ReplicationFactor < 0 {
		return nil, badRequest("replication factor must be positive (or 0 for the broker's default), got %d", req.ReplicationFactor)
	}
	partitions, rf := req.Partitions, req.ReplicationFactor
	if partitions == 0 {
		partitions = -1
	}
	if rf == 0 {
		rf = -1
	}
	configs := map[string]*string{}
	for k, v := range req.Configs {
		if strings.TrimSpace(k) == "" {
			return nil, badRequest("config name is empty")
		}
		v := v
		configs[strings.TrimSpace(k)] = &v
	}
	resp, err := s.admin.CreateTopic(ctx, partitions, rf, configs, req.Name)
	s.cache.invalidate()
	if err != nil {
		return nil, fmt.Errorf("create topic %q: %w", req.Name, err)
	}
	if resp.Err != nil {
		return nil, fmt.Errorf("create topic %q: %w", req.Name, kafkaError(resp.Err, resp.ErrMessage))
	}
	s.waitTopic(ctx, req.Name, true)
	return map[string]any{"name": resp.Topic, "id": topicID(resp.ID), "partitions": resp.NumPartitions, "replicationFactor": resp.ReplicationFactor}, nil
}

func (s *Server) deleteTopic(ctx context.Context, r *http.Request) (any, error) {
	name, err := topicPath(r)
	if err != nil {
		return nil, err
	}
	// The page asks the user to type the name; the API wants it too, so
	// a stray request cannot delete a topic.
	if confirm := r.URL.Query().Get("confirm"); confirm != name {
		return nil, badRequest("to delete topic %q, repeat its name in ?confirm=", name)
	}
	resp, err := s.admin.DeleteTopic(ctx, name)
	s.cache.invalidate()
	if err != nil {
		return nil, fmt.Errorf("delete topic %q: %w", name, err)
	}
	if resp.Err != nil {
		return nil, fmt.Errorf("delete topic %q: %w", name, kafkaError(resp.Err, resp.ErrMessage))
	}
	s.client.PurgeTopicsFromClient(name)
	s.waitTopic(ctx, name, false)
	return map[string]any{"deleted": name}, nil
}

type alterConfigsRequest struct {
	Set    map[string]string `json:"set"`    // name -> new value
	Delete []string          `json:"delete"` // back to the default
}

func (s *Server) alterTopicConfigs(ctx context.Context, r *http.Request) (any, error) {
	name, err := topicPath(r)
	if err != nil {
		return nil, err
	}
	var req alterConfigsRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	var alters []kadm.AlterConfig
	for k, v := range req.Set {
		if strings.TrimSpace(k) == "" {
			return nil, badRequest("config name is empty")
		}
		v := v
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: strings.TrimSpace(k), Value: &v})
	}
	for _, k := range req.Delete {
		if strings.TrimSpace(k) == "" {
			return nil, badRequest("config name is empty")
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: strings.TrimSpace(k)})
	}
	if len(alters) == 0 {
		return nil, badRequest("nothing to change: give \"set\" or \"delete\"")
	}
	sort.Slice(alters, func(i, j int) bool { return alters[i].Name < alters[j].Name })
	resps, err := s.admin.AlterTopicConfigs(ctx, alters, name)
	s.cache.invalidate()
	if err != nil {
		return nil, fmt.Errorf("alter configs of %q: %w", name, err)
	}
	for _, resp := range resps {
		if resp.Err != nil {
			return nil, fmt.Errorf("alter configs of %q: %w", name, kafkaError(resp.Err, resp.ErrMessage))
		}
	}
	return map[string]any{"altered": name, "changes": len(alters)}, nil
}

// waitTopic waits, a few seconds at most, until metadata shows the topic
// (with a leader for every partition) or no longer shows it: a broker's
// metadata may trail the controller's answer, and the page reads the
// topic right after changing it.
func (s *Server) waitTopic(ctx context.Context, name string, exists bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		m, err := s.admin.Metadata(ctx, name)
		if err == nil {
			t, ok := m.Topics[name]
			present := ok && t.Err == nil && len(t.Partitions) > 0
			for _, p := range t.Partitions {
				present = present && p.Leader >= 0
			}
			if present == exists {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	s.cache.invalidate()
}

// topicID prints a topic id as Kafka's tools do: URL-safe base64 without
// padding.
func topicID(id kadm.TopicID) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}
