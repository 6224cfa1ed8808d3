package broker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/arus-io/arus/internal/metadata"
)

// imageWithTopic returns base plus topic name with n partitions led by
// broker 1, applied as one batch at offset.
func imageWithTopic(t *testing.T, base *metadata.Image, offset int64, name string, id byte, n int) (*metadata.Image, *metadata.Delta) {
	t.Helper()
	b := metadata.NewBuilder(base)
	tid := [16]byte{id}
	if err := b.Apply(offset, metadata.Record{Topic: &metadata.TopicRecord{Name: name, ID: tid}}); err != nil {
		t.Fatal(err)
	}
	for p := range n {
		rec := metadata.Record{Partition: &metadata.PartitionRecord{TopicID: tid, Partition: int32(p), Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}}
		if err := b.Apply(offset, rec); err != nil {
			t.Fatal(err)
		}
	}
	return b.Build()
}

func runPublisher(t *testing.T, p *publisher) {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.run(stop)
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

// TestPublisherOrder: the coordinator step never sees a partition the
// replica step has not opened, and handlers (Image) see an image only
// after both steps applied it.
func TestPublisherOrder(t *testing.T) {
	var mu sync.Mutex
	opened := map[string]int{} // topic -> partitions "opened"
	var p *publisher
	replicaStep := func(im *metadata.Image, d *metadata.Delta) {
		if p.Image().Offset >= im.Offset {
			t.Errorf("image %d published before the replica manager applied it", im.Offset)
		}
		mu.Lock()
		defer mu.Unlock()
		for name, ps := range d.Partitions {
			opened[name] += len(ps)
		}
	}
	var coordinated []int64
	coordinatorStep := func(im *metadata.Image, _ *metadata.Delta) {
		mu.Lock()
		defer mu.Unlock()
		for name, topic := range im.Topics {
			if opened[name] < len(topic.Partitions) {
				t.Errorf("coordinator saw %d partitions of %s, replica manager opened %d", len(topic.Partitions), name, opened[name])
			}
		}
		if p.Image().Offset >= im.Offset {
			t.Errorf("image %d published before the coordinators applied it", im.Offset)
		}
		coordinated = append(coordinated, im.Offset)
	}
	p = newPublisher(metadata.Empty(), replicaStep, coordinatorStep)
	runPublisher(t, p)

	im1, d1 := imageWithTopic(t, metadata.Empty(), 0, "a", 1, 3)
	im2, d2 := imageWithTopic(t, im1, 1, "b", 2, 5)
	p.offer(im1, d1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitApplied(ctx, 0); err != nil {
		t.Fatal(err)
	}
	p.offer(im2, d2)
	if err := p.WaitApplied(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := p.Image(); got != im2 {
		t.Fatalf("published image at offset %d, want %d", got.Offset, im2.Offset)
	}
	mu.Lock()
	defer mu.Unlock()
	if opened["a"] != 3 || opened["b"] != 5 {
		t.Fatalf("replica manager opened %v", opened)
	}
}

// TestPublisherCoalesces: offers never block while a step is busy, and the
// publisher then applies the newest image once with the merged delta.
func TestPublisherCoalesces(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var calls []*metadata.Delta
	step := func(im *metadata.Image, d *metadata.Delta) {
		mu.Lock()
		calls = append(calls, d)
		first := len(calls) == 1
		mu.Unlock()
		if first {
			close(started)
			<-release // hold the publisher on the first image
		}
	}
	p := newPublisher(metadata.Empty(), step)
	runPublisher(t, p)
	im, d := imageWithTopic(t, metadata.Empty(), 0, "t0", 1, 1)
	p.offer(im, d)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the publisher did not take the first image")
	}
	// The first image is being applied; these offers return at once.
	for i := 1; i <= 20; i++ {
		im, d = imageWithTopic(t, im, int64(i), "t"+string(rune('a'+i)), byte(i+1), 2)
		p.offer(im, d)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitApplied(ctx, 20); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 {
		t.Fatalf("%d applications, want 2 (the first, then the 20 coalesced)", len(calls))
	}
	if got := calls[1].PartitionCount(); got != 40 {
		t.Fatalf("coalesced delta names %d partitions, want 40", got)
	}
}

func TestWaitApplied(t *testing.T) {
	p := newPublisher(metadata.Empty(), func(*metadata.Image, *metadata.Delta) {})
	runPublisher(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.WaitApplied(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitApplied before anything was published: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- p.WaitApplied(ctx, 1)
	}()
	im, d := imageWithTopic(t, metadata.Empty(), 0, "a", 1, 1)
	p.offer(im, d)
	im, d = imageWithTopic(t, im, 1, "b", 2, 1)
	p.offer(im, d)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitApplied did not return after offset 1 was published")
	}
	if p.Image().Offset < 1 {
		t.Fatalf("published offset %d", p.Image().Offset)
	}
}
