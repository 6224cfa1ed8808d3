package metrics

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkRequestInstrumentation is what one produce request costs the
// connection and the handler with metrics on: the five clock reads, the
// request's counter and phase histograms, the walk of its response for
// error codes, and the topic's bytes and records counters.
func BenchmarkRequestInstrumentation(b *testing.B) {
	m := New(Options{PerPartition: true})
	resp := produceResponse(0)
	b.ReportAllocs()
	for b.Loop() {
		var t RequestTimes
		t.Received = time.Now()
		t.Started = time.Now()
		m.Topic("orders").Produced(1024, 10)
		t.Handled = time.Now()
		t.Finished = time.Now()
		t.Sent = time.Now()
		m.ObserveRequest(0, 11, resp, t)
	}
}

// BenchmarkRequestInstrumentationParallel is the same from many
// connections at once (shared counters and histograms).
func BenchmarkRequestInstrumentationParallel(b *testing.B) {
	m := New(Options{PerPartition: true})
	resp := produceResponse(0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var t RequestTimes
			t.Received = time.Now()
			t.Started = time.Now()
			m.Topic("orders").Produced(1024, 10)
			t.Handled = time.Now()
			t.Finished = time.Now()
			t.Sent = time.Now()
			m.ObserveRequest(0, 11, resp, t)
		}
	})
}

// BenchmarkErrorWalkFetch100 is the error-code walk of a fetch response
// with 100 partitions (the cost grows with partitions in a response).
func BenchmarkErrorWalkFetch100(b *testing.B) {
	resp := kmsg.NewPtrFetchResponse()
	rt := kmsg.NewFetchResponseTopic()
	for i := 0; i < 100; i++ {
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition = int32(i)
		rt.Partitions = append(rt.Partitions, rp)
	}
	resp.Topics = append(resp.Topics, rt)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		forEachErrorCode(resp, func(int16) { n++ })
	}
	if n != 0 {
		b.Fatal("no error codes expected")
	}
}
