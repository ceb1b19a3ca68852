package sourcetest

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// TestEmitter: the window holds Emit until Release, a cancelled context
// ends the wait, Take forgets what it returns, CountOnly keeps numbers.
func TestEmitter(t *testing.T) {
	e := NewEmitter()
	e.SetWindow(1)
	ctx := context.Background()
	one := []event.Event{{Op: event.OpCreate}}
	if err := e.Emit(ctx, one, []byte("1")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Emit(ctx, one, nil) }()
	select {
	case err := <-done:
		t.Fatalf("Emit returned %v with the window full", err)
	case <-time.After(50 * time.Millisecond): // it would have returned by now
	}
	e.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { done <- e.Emit(cctx, one, nil) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Emit with a cancelled context: %v", err)
	}
	if n, m := e.Count(), e.MaxHeld(); n != 2 || m != 1 {
		t.Fatalf("count %d, max held %d; want 2 and 1", n, m)
	}
	evs, cp := e.Take()
	if len(evs) != 2 || string(cp) != "1" || len(e.Events()) != 0 || e.Count() != 2 {
		t.Fatalf("Take: %d events, checkpoint %q; then %d events, count %d", len(evs), cp, len(e.Events()), e.Count())
	}
	actx, stop := context.WithCancel(ctx)
	defer stop()
	e.Acknowledge(actx)
	e.CountOnly()
	for range 3 {
		if err := e.Emit(ctx, one, []byte("2")); err != nil {
			t.Fatal(err)
		}
	}
	if bs := e.Batches(); len(e.Events()) != 0 || len(bs) != 3 || bs[2].N != 1 || bs[2].Events != nil || string(e.Checkpoint()) != "2" {
		t.Fatalf("after CountOnly: %d events, batches %+v, checkpoint %q", len(e.Events()), bs, e.Checkpoint())
	}
}

// TestPaceAgainst: a batch holding a matching event is taken only once the
// workload's progress advanced by step since the previous one; other
// batches pass at once; a cancelled context ends the wait.
func TestPaceAgainst(t *testing.T) {
	e := NewEmitter()
	var ops, calls atomic.Int64
	progress := func() int64 { calls.Add(1); return ops.Load() }
	e.PaceAgainst(progress, 3, func(ev event.Event) bool { return ev.Source.Snapshot == event.SnapshotIncremental })
	ctx := context.Background()
	read := []event.Event{{Op: event.OpRead, Source: event.Source{Snapshot: event.SnapshotIncremental}}}
	change := []event.Event{{Op: event.OpUpdate}}
	emit := func(evs []event.Event) chan error {
		done := make(chan error, 1)
		go func() { done <- e.Emit(ctx, evs, nil) }()
		return done
	}
	// waiting returns once the read is seen waiting: a waiting batch asks
	// progress again and again, while one let through asks it twice and
	// returns (the test then fails).
	waiting := func(read chan error, ops int) {
		t.Helper()
		for n := calls.Load(); calls.Load() < n+3; runtime.Gosched() {
			select {
			case err := <-read:
				t.Fatalf("the read was taken after %d operations, want 3 (%v)", ops, err)
			default:
			}
		}
	}
	// The first read waits for 3 operations since PaceAgainst: the emitter
	// takes it at 3, never before (the count is raised one by one, checked
	// in between; a change emitted meanwhile passes).
	first := emit(read)
	for i := range 3 {
		waiting(first, i)
		if err := <-emit(change); err != nil {
			t.Fatal(err)
		}
		if got := countReads(e); got != 0 {
			t.Fatalf("the read was taken after %d operations, want 3", i)
		}
		ops.Add(1)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if got := countReads(e); got != 1 {
		t.Fatalf("%d reads taken after 3 operations, want 1", got)
	}
	// The next read waits for 3 more; a cancelled context ends its wait.
	cctx, cancel := context.WithCancel(ctx)
	next := make(chan error, 1)
	go func() { next <- e.Emit(cctx, read, nil) }()
	ops.Add(2)
	waiting(next, 2)
	cancel()
	if err := <-next; !errors.Is(err, context.Canceled) {
		t.Fatalf("Emit with a cancelled context: %v", err)
	}
	if got := countReads(e); got != 1 {
		t.Fatalf("%d reads taken, want 1", got)
	}
}

func countReads(e *Emitter) int {
	n := 0
	for _, ev := range e.Events() {
		if ev.Op == event.OpRead {
			n++
		}
	}
	return n
}
