package sourcetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Emitter is a component.Emitter for a source's own tests (the suite
// drives sources with its own recorder): it records every batch and the
// newest checkpoint, can hold batches as the engine's in-flight window
// does, and waits for conditions. The zero value is not usable; call
// NewEmitter. It is safe for concurrent use.
type Emitter struct {
	mu      sync.Mutex
	cond    *sync.Cond
	keep    bool
	events  []event.Event
	batches []Emitted
	count   int    // events emitted
	lastCP  []byte // the newest non-nil checkpoint
	window  int    // batches held at most (0: no limit)
	held    int    // batches emitted and not released
	heldEvs int    // their events
	maxHeld int    // the most events held at once
	waiting int    // Emit calls blocked by the window or a hold
	hold    bool   // Emit blocks until Release or Unhold
	// holdAfter, when set, sets hold once a batch it is true for is
	// recorded (then it is cleared).
	holdAfter func(evs []event.Event) bool
	onEmit    func(count int, evs []event.Event, cp []byte) error
	pace      func(ctx context.Context, evs []event.Event) // runs unlocked, before Emit waits
}

// Emitted is one batch an Emitter accepted.
type Emitted struct {
	N          int           // events in the batch
	Checkpoint []byte        // nil: the batch does not move the checkpoint
	Events     []event.Event // nil after CountOnly
}

var _ component.Emitter = (*Emitter)(nil)

// NewEmitter returns an Emitter that keeps every event and holds nothing.
func NewEmitter() *Emitter {
	e := &Emitter{keep: true}
	e.cond = sync.NewCond(&e.mu)
	return e
}

// CountOnly stops keeping events (large or long tests): only their number
// and the batches' sizes and checkpoints are recorded.
func (e *Emitter) CountOnly() {
	e.mu.Lock()
	e.keep = false
	e.mu.Unlock()
}

// SetWindow makes Emit block while n batches are held (not released), as
// the engine's in-flight cap does; 0 removes the limit.
func (e *Emitter) SetWindow(n int) {
	e.mu.Lock()
	e.window = n
	e.cond.Broadcast()
	e.mu.Unlock()
}

// OnEmit sets a function called for every batch before it is recorded,
// with the number of events recorded before it; an error refuses the
// batch (Emit returns it). It runs with the Emitter locked: it must not
// call the Emitter's methods.
func (e *Emitter) OnEmit(f func(count int, evs []event.Event, cp []byte) error) {
	e.mu.Lock()
	e.onEmit = f
	e.mu.Unlock()
}

// Pace sets a function every Emit calls first, without the Emitter
// locked, with Emit's context and batch: it may block, as a slow engine
// does, to let something else happen before the batch is taken (a test's
// concurrent workload make progress between a snapshot's batches, however
// fast the snapshot is). It must return once ctx is done.
func (e *Emitter) Pace(f func(ctx context.Context, evs []event.Event)) {
	e.mu.Lock()
	e.pace = f
	e.mu.Unlock()
}

// PaceAgainst paces the batches holding an event match is true for (a
// snapshot's reads) against a concurrent workload whose operations
// progress counts: each such batch waits until progress has advanced by
// step since the previous one went through (for the first, since
// PaceAgainst was called). A snapshot then overlaps at least step
// operations per batch, however fast it is next to its workload on a
// loaded machine. A batch waits a minute at the most: a workload that
// stopped fails its test by itself.
func (e *Emitter) PaceAgainst(progress func() int64, step int64, match func(event.Event) bool) {
	var mu sync.Mutex
	last := progress()
	e.Pace(func(ctx context.Context, evs []event.Event) {
		if !slices.ContainsFunc(evs, match) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		deadline := time.Now().Add(time.Minute)
		for progress() < last+step && ctx.Err() == nil && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		last = progress()
	})
}

// Emit implements component.Emitter.
func (e *Emitter) Emit(ctx context.Context, evs []event.Event, cp []byte) error {
	e.mu.Lock()
	pace := e.pace
	e.mu.Unlock()
	if pace != nil {
		pace(ctx, evs)
	}
	stop := context.AfterFunc(ctx, func() {
		e.mu.Lock()
		e.cond.Broadcast()
		e.mu.Unlock()
	})
	defer stop()
	e.mu.Lock()
	defer e.mu.Unlock()
	for (e.hold || e.window > 0 && e.held >= e.window) && ctx.Err() == nil {
		e.waiting++
		e.cond.Wait()
		e.waiting--
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.onEmit != nil {
		if err := e.onEmit(e.count, evs, cp); err != nil {
			return err
		}
	}
	b := Emitted{N: len(evs), Checkpoint: cp}
	if e.keep {
		e.events = append(e.events, evs...)
		b.Events = evs
	}
	e.batches = append(e.batches, b)
	e.count += len(evs)
	e.held++
	e.heldEvs += len(evs)
	e.maxHeld = max(e.maxHeld, e.heldEvs)
	if cp != nil {
		e.lastCP = cp
	}
	if e.holdAfter != nil && e.holdAfter(evs) {
		e.hold, e.holdAfter = true, nil
	}
	e.cond.Broadcast()
	return nil
}

// Hold makes the next Emit block (the source then holds a batch it cannot
// hand over) until Release or Unhold.
func (e *Emitter) Hold() {
	e.mu.Lock()
	e.hold = true
	e.mu.Unlock()
}

// HoldAfter lets a held Emit through and holds again once a batch for
// which f is true has been emitted: the Emit after it blocks. f runs with
// the Emitter locked.
func (e *Emitter) HoldAfter(f func(evs []event.Event) bool) {
	e.mu.Lock()
	e.hold, e.holdAfter = false, f
	e.cond.Broadcast()
	e.mu.Unlock()
}

// Holding reports whether Emit is held (by Hold, or by HoldAfter's batch).
func (e *Emitter) Holding() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hold
}

// Unhold ends Hold and HoldAfter.
func (e *Emitter) Unhold() {
	e.mu.Lock()
	e.hold, e.holdAfter = false, nil
	e.cond.Broadcast()
	e.mu.Unlock()
}

// Release marks every held batch as written, and ends a Hold.
func (e *Emitter) Release() {
	e.mu.Lock()
	e.held, e.heldEvs, e.hold = 0, 0, false
	e.cond.Broadcast()
	e.mu.Unlock()
}

// Acknowledge releases held batches as soon as there are any, as the
// engine does when its sinks keep up, until ctx ends.
func (e *Emitter) Acknowledge(ctx context.Context) {
	context.AfterFunc(ctx, func() {
		e.mu.Lock()
		e.cond.Broadcast()
		e.mu.Unlock()
	})
	go func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for ctx.Err() == nil {
			for e.held == 0 && ctx.Err() == nil {
				e.cond.Wait()
			}
			e.held, e.heldEvs = 0, 0
			e.cond.Broadcast()
		}
	}()
}

// Events returns the events emitted so far.
func (e *Emitter) Events() []event.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]event.Event(nil), e.events...)
}

// Batches returns the batches emitted so far.
func (e *Emitter) Batches() []Emitted {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Emitted(nil), e.batches...)
}

// Take returns the events emitted since the last Take and the newest
// checkpoint among their batches (nil when none had one), and forgets
// them.
func (e *Emitter) Take() ([]event.Event, []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	evs := e.events
	var cp []byte
	for _, b := range e.batches {
		if b.Checkpoint != nil {
			cp = b.Checkpoint
		}
	}
	e.events, e.batches = nil, nil
	return evs, cp
}

// Count is the number of events emitted.
func (e *Emitter) Count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count
}

// MaxHeld is the most events held at once (emitted and not released).
func (e *Emitter) MaxHeld() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.maxHeld
}

// Waiting is the number of Emit calls blocked by the window or a hold:
// the source holds a batch it cannot hand over.
func (e *Emitter) Waiting() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.waiting
}

// Checkpoint is the newest non-nil checkpoint emitted.
func (e *Emitter) Checkpoint() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastCP
}

// WaitFor polls cond with the events emitted so far until it holds, and
// fails the test after timeout. cond may call the Emitter's methods.
func (e *Emitter) WaitFor(t testing.TB, what string, timeout time.Duration, cond func(evs []event.Event) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		e.mu.Lock()
		evs := e.events[:len(e.events):len(e.events)] // appends never touch these elements
		e.mu.Unlock()
		if cond(evs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (%d events emitted)", timeout, what, e.Count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitCheckpoint waits for the first checkpoint (a snapshot's end, or a
// source's start position).
func (e *Emitter) WaitCheckpoint(t testing.TB) {
	t.Helper()
	e.WaitFor(t, "a checkpoint", 15*time.Second, func([]event.Event) bool { return e.Checkpoint() != nil })
}

// WaitEvents waits until n events were emitted and returns them with the
// newest checkpoint.
func (e *Emitter) WaitEvents(t testing.TB, n int, timeout time.Duration) ([]event.Event, []byte) {
	t.Helper()
	e.WaitFor(t, "events", timeout, func(evs []event.Event) bool { return len(evs) >= n })
	return e.Events(), e.Checkpoint()
}
