package engine

import (
	"context"
	"strconv"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// emitSignal tells the test that a batch entered the window.
type emitSignal chan struct{}

func (e emitSignal) ObserveEmit(string, []event.Event, int64) {
	select {
	case e <- struct{}{}:
	default:
	}
}

// TestInflightBytesBoundsTheWindow: with a sink that does not write, a
// source may have no more bytes in flight than MaxInflightBytes, however
// many batches MaxInflight would allow; a batch larger than the cap alone
// still goes through once the window is empty, and everything arrives in
// order with the final checkpoint.
func TestInflightBytesBoundsTheWindow(t *testing.T) {
	src := &batchSource{schema: keyed("a.public.t"), sizes: []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5}}
	ev := event.Event{After: []event.Value{event.Int(1), event.Null}}
	one := int64(ev.Size()) // every event of src has this size
	slow := &memSink{gate: make(chan struct{})}
	st := &memStore{}
	emitted := make(emitSignal, 1)
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		Sinks:   []SinkNode{{Name: "slow", Sink: slow, Inputs: []string{"*"}}},
		Store:   st,
		Options: Options{MaxInflight: 8, MaxInflightBytes: 3 * one, Observer: emitted},
	}
	r := New(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-emitted // r.sources is set before any source runs
	s := r.sources[0]
	window := func() (batches int, bytes int64, waiting bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.mu.window), s.mu.bytes, s.mu.freed != nil
	}
	waitFor(t, "an Emit waiting for bytes with 3 batches in flight", func() bool {
		n, b, w := window()
		return n == 3 && b == 3*one && w
	})
	close(slow.gate)
	want := strconv.Itoa(15)
	waitFor(t, "checkpoint "+want, func() bool { cp, _ := st.Checkpoint("a"); return string(cp) == want })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	slow.mu.Lock()
	got := slow.got
	slow.mu.Unlock()
	if len(got) != 15 {
		t.Fatalf("sink got %d events, want 15", len(got))
	}
	for i, id := range got {
		if id != int64(i+1) {
			t.Fatalf("event %d has id %d: order broken (%v)", i, id, got)
		}
	}
	if n, b, _ := window(); n != 0 || b != 0 {
		t.Fatalf("window after the run: %d batches, %d bytes; want none", n, b)
	}
}

// TestEmitSizedSizesTheWindow: a batch emitted with its size
// (component.SizedEmitter) takes that size in the window, not event.Size
// taken again: the byte cap counts the claimed sizes.
func TestEmitSizedSizesTheWindow(t *testing.T) {
	ev := event.Event{After: []event.Value{event.Int(1), event.Null}}
	one := int64(ev.Size())
	claim := 10 * one // what the source says each event weighs
	src := &batchSource{schema: keyed("a.public.t"), sizes: []int{1, 1, 1, 1, 1, 1}, claim: claim}
	slow := &memSink{gate: make(chan struct{})}
	st := &memStore{}
	emitted := make(emitSignal, 1)
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		Sinks:   []SinkNode{{Name: "slow", Sink: slow, Inputs: []string{"*"}}},
		Store:   st,
		Options: Options{MaxInflight: 8, MaxInflightBytes: 2 * claim, Observer: emitted},
	}
	r := New(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-emitted
	s := r.sources[0]
	window := func() (batches int, bytes int64, waiting bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.mu.window), s.mu.bytes, s.mu.freed != nil
	}
	waitFor(t, "an Emit waiting for bytes with 2 batches of the claimed size in flight", func() bool {
		n, b, w := window()
		return n == 2 && b == 2*claim && w
	})
	close(slow.gate)
	waitFor(t, "checkpoint 6", func() bool { cp, _ := st.Checkpoint("a"); return string(cp) == "6" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	slow.mu.Lock()
	got := slow.got
	slow.mu.Unlock()
	if len(got) != 6 {
		t.Fatalf("sink got %d events, want 6", len(got))
	}
	if n, b, _ := window(); n != 0 || b != 0 {
		t.Fatalf("window after the run: %d batches, %d bytes; want none", n, b)
	}
}
