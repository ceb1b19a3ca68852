// Package progress is the part of component.ProgressReporter that every
// source implements the same way: a phase, the events emitted in it (counted
// by wrapping the Emitter) and an estimated total.
package progress

import (
	"context"
	"sync/atomic"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Phase names as the progress bar shows them.
var (
	Snapshot  = "snapshot"
	Streaming = "streaming"
)

// Tracker is written by a source's Run goroutines and read by the CLI's
// progress bar; the zero Tracker reports the phase "starting".
type Tracker struct {
	phase atomic.Pointer[string]
	done  atomic.Int64 // events emitted in this phase
	total atomic.Int64 // estimated events of the phase; 0 unknown
}

// Enter starts a phase with an estimated total (0 when unknown).
func (t *Tracker) Enter(phase *string, total int64) {
	t.done.Store(0)
	t.total.Store(total)
	t.phase.Store(phase)
}

// Report is the component.Progress to return from Progress.
func (t *Tracker) Report() component.Progress {
	phase := "starting"
	if p := t.phase.Load(); p != nil {
		phase = *p
	}
	return component.Progress{Phase: phase, Done: t.done.Load(), Total: t.total.Load()}
}

// Counting wraps out so that every emitted event counts as done.
func (t *Tracker) Counting(out component.Emitter) component.Emitter {
	return counting{Emitter: out, t: t}
}

type counting struct {
	component.Emitter
	t *Tracker
}

func (c counting) Emit(ctx context.Context, evs []event.Event, cp []byte) error {
	err := c.Emitter.Emit(ctx, evs, cp)
	if err == nil {
		c.t.done.Add(int64(len(evs)))
	}
	return err
}

// EmitSized forwards a sized batch (component.SizedEmitter), so that
// counting does not hide the size the source knows from the engine.
func (c counting) EmitSized(ctx context.Context, evs []event.Event, cp []byte, size int64) error {
	err := component.EmitSized(ctx, c.Emitter, evs, cp, size)
	if err == nil {
		c.t.done.Add(int64(len(evs)))
	}
	return err
}

// EmitReleasing forwards a batch with its release function
// (component.ReleasingEmitter); counting reads only len(evs), which the
// release does not change.
func (c counting) EmitReleasing(ctx context.Context, evs []event.Event, cp []byte, size int64, release func()) error {
	err := component.EmitReleasing(ctx, c.Emitter, evs, cp, size, release)
	if err == nil {
		c.t.done.Add(int64(len(evs)))
	}
	return err
}
