package metrics

import (
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxAPIKey and maxAPIVersion bound the per-key and per-version arrays;
// requests beyond them (none that the server accepts) are not counted.
const (
	maxAPIKey     = 127
	maxAPIVersion = 31
)

// apiSlot holds the resolved instruments of one API key, created on the
// key's first request.
type apiSlot struct {
	p atomic.Pointer[apiMetrics]
}

type apiMetrics struct {
	name                              string
	queue, handler, wait, send, total prometheus.Observer
	versions                          [maxAPIVersion + 1]atomic.Pointer[versionMetrics]
	errors                            sync.Map // errorKey -> prometheus.Counter
	requestsVec, errorsVec            *prometheus.CounterVec
}

type versionMetrics struct {
	requests prometheus.Counter
}

type errorKey struct{ version, code int16 }

// RequestTimes are the moments of one request's life on a connection.
type RequestTimes struct {
	Received time.Time // its last byte was read
	Started  time.Time // its handler was called
	Handled  time.Time // its handler returned
	Finished time.Time // the writer had its final outcome (after Outcome.Wait)
	Sent     time.Time // its response was written (or dropped: acks=0)
}

func (m *Metrics) api(key int16) *apiMetrics {
	if key < 0 || key > maxAPIKey {
		return nil
	}
	slot := &m.apis[key]
	if a := slot.p.Load(); a != nil {
		return a
	}
	name := kmsg.NameForKey(key)
	a := &apiMetrics{
		name:        name,
		queue:       m.requestPhase.WithLabelValues(name, "queue"),
		handler:     m.requestPhase.WithLabelValues(name, "handler"),
		wait:        m.requestPhase.WithLabelValues(name, "wait"),
		send:        m.requestPhase.WithLabelValues(name, "send"),
		total:       m.requestDuration.WithLabelValues(name),
		requestsVec: m.requests,
		errorsVec:   m.requestErrors,
	}
	if slot.p.CompareAndSwap(nil, a) {
		return a
	}
	return slot.p.Load()
}

func (a *apiMetrics) version(v int16) *versionMetrics {
	if vm := a.versions[v].Load(); vm != nil {
		return vm
	}
	vm := &versionMetrics{requests: a.requestsVec.WithLabelValues(a.name, strconv.Itoa(int(v)))}
	if a.versions[v].CompareAndSwap(nil, vm) {
		return vm
	}
	return a.versions[v].Load()
}

// countError is on the error path only: a sync.Map lookup by a small
// struct, then the child counter.
func (a *apiMetrics) countError(version, code int16) {
	k := errorKey{version, code}
	if c, ok := a.errors.Load(k); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	name := "CODE_" + strconv.Itoa(int(code))
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok && e.Code == code {
		name = e.Message
	}
	c, _ := a.errors.LoadOrStore(k, a.errorsVec.WithLabelValues(a.name, strconv.Itoa(int(version)), name))
	c.(prometheus.Counter).Inc()
}

// ObserveRequest records one request: it counts it by key and version,
// counts the error codes its response carries, and observes its phases.
// resp may be nil (acks=0 produce, a closed connection).
func (m *Metrics) ObserveRequest(key, version int16, resp kmsg.Response, t RequestTimes) {
	if m == nil {
		return
	}
	a := m.api(key)
	if a == nil || version < 0 || version > maxAPIVersion {
		return
	}
	a.version(version).requests.Inc()
	a.queue.Observe(t.Started.Sub(t.Received).Seconds())
	a.handler.Observe(t.Handled.Sub(t.Started).Seconds())
	a.wait.Observe(t.Finished.Sub(t.Handled).Seconds())
	a.send.Observe(t.Sent.Sub(t.Finished).Seconds())
	a.total.Observe(t.Sent.Sub(t.Received).Seconds())
	if resp != nil {
		forEachErrorCode(resp, func(code int16) { a.countError(version, code) })
	}
}

// forEachErrorCode calls fn with every non-zero ErrorCode field in resp,
// at any depth (the response's own, per topic, per partition, per group).
// The fields to visit are found once per response type by reflection and
// cached; a response of a known shape then costs a walk over its slices.
func forEachErrorCode(resp kmsg.Response, fn func(int16)) {
	v := reflect.ValueOf(resp)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	v = v.Elem()
	p := planFor(v.Type())
	if p.empty() {
		return
	}
	p.walk(v, fn)
}

// errorPlan lists, for one struct type, the ErrorCode fields and the
// fields (structs, slices of structs) that may hold more.
type errorPlan struct {
	codes  []int
	nested []nestedPlan
}

type nestedPlan struct {
	field int
	slice bool
	plan  *errorPlan
}

func (p *errorPlan) empty() bool { return len(p.codes) == 0 && len(p.nested) == 0 }

var errorPlans sync.Map // reflect.Type -> *errorPlan

func planFor(t reflect.Type) *errorPlan {
	if p, ok := errorPlans.Load(t); ok {
		return p.(*errorPlan)
	}
	p := buildPlan(t, 0)
	errorPlans.Store(t, p)
	return p
}

func buildPlan(t reflect.Type, depth int) *errorPlan {
	p := &errorPlan{}
	if t.Kind() != reflect.Struct || depth > 8 {
		return p
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		switch {
		case f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16:
			p.codes = append(p.codes, i)
		case f.Type.Kind() == reflect.Struct:
			if sub := buildPlan(f.Type, depth+1); !sub.empty() {
				p.nested = append(p.nested, nestedPlan{field: i, plan: sub})
			}
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			if sub := buildPlan(f.Type.Elem(), depth+1); !sub.empty() {
				p.nested = append(p.nested, nestedPlan{field: i, slice: true, plan: sub})
			}
		}
	}
	return p
}

func (p *errorPlan) walk(v reflect.Value, fn func(int16)) {
	for _, i := range p.codes {
		if c := int16(v.Field(i).Int()); c != 0 {
			fn(c)
		}
	}
	for _, n := range p.nested {
		f := v.Field(n.field)
		if !n.slice {
			n.plan.walk(f, fn)
			continue
		}
		for j := 0; j < f.Len(); j++ {
			n.plan.walk(f.Index(j), fn)
		}
	}
}
