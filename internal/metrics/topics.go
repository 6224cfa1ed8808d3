package metrics

import "github.com/prometheus/client_golang/prometheus"

// TopicMetrics are one topic's traffic counters, resolved once per topic.
// A nil *TopicMetrics records nothing.
type TopicMetrics struct {
	bytesIn, recordsIn, bytesOut, recordsOut prometheus.Counter
}

// Topic returns the counters of topic, creating them on first use. The
// lookup is a map read under a read lock: call it once per topic of a
// request, not per partition.
func (m *Metrics) Topic(name string) *TopicMetrics {
	if m == nil || name == "" {
		return nil
	}
	m.topics.RLock()
	t := m.topics.byName[name]
	m.topics.RUnlock()
	if t != nil {
		return t
	}
	m.topics.Lock()
	defer m.topics.Unlock()
	if t = m.topics.byName[name]; t == nil {
		t = &TopicMetrics{
			bytesIn: m.bytesIn.WithLabelValues(name), recordsIn: m.recordsIn.WithLabelValues(name),
			bytesOut: m.bytesOut.WithLabelValues(name), recordsOut: m.recordsOut.WithLabelValues(name),
		}
		m.topics.byName[name] = t
	}
	return t
}

// ForgetTopic drops a deleted topic's series.
func (m *Metrics) ForgetTopic(name string) {
	if m == nil {
		return
	}
	m.topics.Lock()
	defer m.topics.Unlock()
	if _, ok := m.topics.byName[name]; !ok {
		return
	}
	delete(m.topics.byName, name)
	for _, v := range []*prometheus.CounterVec{m.bytesIn, m.recordsIn, m.bytesOut, m.recordsOut} {
		v.DeleteLabelValues(name)
	}
}

// Topics returns the names of the topics with counters (for ForgetTopic
// after deletions).
func (m *Metrics) Topics() []string {
	if m == nil {
		return nil
	}
	m.topics.RLock()
	defer m.topics.RUnlock()
	out := make([]string, 0, len(m.topics.byName))
	for name := range m.topics.byName {
		out = append(out, name)
	}
	return out
}

// Produced counts an appended batch.
func (t *TopicMetrics) Produced(bytes, records int64) {
	if t == nil {
		return
	}
	t.bytesIn.Add(float64(bytes))
	t.recordsIn.Add(float64(records))
}

// Fetched counts record batches sent to a consumer.
func (t *TopicMetrics) Fetched(bytes, records int64) {
	if t == nil || bytes == 0 {
		return
	}
	t.bytesOut.Add(float64(bytes))
	t.recordsOut.Add(float64(records))
}
