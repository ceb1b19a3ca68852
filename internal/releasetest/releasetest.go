// Package releasetest is a source for the tests of sinks that declare
// component.KeepsNoEvents: its batches' strings alias one buffer per batch,
// and the release it hands the engine (component.ReleasingEmitter) fills
// that buffer and the values with garbage at once, as a recycling source's
// next batch would. A sink that read an event after the engine released it
// then writes garbage, and the test comparing its output with the rows as
// emitted (Events) fails.
package releasetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/event"
)

// Source emits Batches batches of Rows snapshot rows (id, name) of
// Schema, whose first column is an int key and second a string.
type Source struct {
	Schema        *event.Schema
	Batches, Rows int
	// Keys, when > 0, makes the rows changes of Keys keys instead of
	// snapshot rows of keys of their own: row i, counted over the
	// batches, has key i % Keys, and its op goes create, update, delete
	// with each round over the keys (round i / Keys); updates and deletes
	// carry a Before image (whose name aliases the batch's text too). Keys
	// then repeat within a batch (Rows > Keys) and across batches, as a
	// change stream's do.
	Keys int
	// Released counts the batches the engine released.
	Released atomic.Int64
}

// Row is the name of row r of batch b (with a non-ASCII character and
// quotes, so encoders escape it).
func (p *Source) Row(b, r int) string { return fmt.Sprintf("batch %d row %d \"é\"", b, r) }

// change returns the op and key of row r of batch b.
func (p *Source) change(b, r int) (event.Op, int64) {
	i := b*p.Rows + r
	if p.Keys <= 0 {
		return event.OpRead, int64(i)
	}
	return [...]event.Op{event.OpCreate, event.OpUpdate, event.OpDelete}[(i/p.Keys)%3], int64(i % p.Keys)
}

// event builds row r of batch b from its images' values, whose names are
// that row's: after (id, name) and before (id, name), used as the op
// needs them.
func (p *Source) event(b, r int, after, before []event.Value) event.Event {
	op, _ := p.change(b, r)
	e := event.Event{Op: op, Schema: p.Schema, Source: event.Source{TsUs: 1000}, TsMs: 2}
	switch op {
	case event.OpUpdate:
		e.Before, e.After = before, after
	case event.OpDelete:
		e.Before = before
	default:
		e.After = after
	}
	return e
}

// Events returns batch b's events as emitted, in memory of their own.
func (p *Source) Events(b int) []event.Event {
	evs := make([]event.Event, p.Rows)
	for r := range p.Rows {
		_, key := p.change(b, r)
		evs[r] = p.event(b, r, []event.Value{event.Int(key), event.String(p.Row(b, r))},
			[]event.Value{event.Int(key), event.String(p.Row(b, r))})
	}
	return evs
}

// Run implements component.Source: every batch goes out with
// component.EmitReleasing and the batch number as its checkpoint.
func (p *Source) Run(ctx context.Context, _ []byte, out component.Emitter) error {
	for b := range p.Batches {
		var text []byte
		for r := range p.Rows {
			text = append(text, p.Row(b, r)...)
		}
		vals := make([]event.Value, 4*p.Rows) // after and before images
		evs := make([]event.Event, p.Rows)
		off := 0
		for r := range p.Rows {
			n := len(p.Row(b, r))
			_, key := p.change(b, r)
			name := unsafe.String(&text[off], n)
			off += n
			v := vals[4*r : 4*r+4 : 4*r+4]
			v[0], v[1], v[2], v[3] = event.Int(key), event.String(name), event.Int(key), event.String(name)
			evs[r] = p.event(b, r, v[0:2:2], v[2:4:4])
		}
		release := func() {
			for i := range text {
				text[i] = '#'
			}
			for i := range vals {
				vals[i] = event.Int(-1)
			}
			p.Released.Add(1)
		}
		if err := component.EmitReleasing(ctx, out, evs, []byte(fmt.Sprint(b)), 0, release); err != nil {
			return err
		}
	}
	return nil
}

// Committed implements component.Source.
func (*Source) Committed(context.Context, []byte) error { return nil }

// Close implements component.Source.
func (*Source) Close() error { return nil }

// Store is a checkpoint store that keeps nothing (engine.Store).
type Store struct{}

// Checkpoint implements engine.Store: there is none.
func (Store) Checkpoint(string) ([]byte, error) { return nil, nil }

// SetCheckpoint implements engine.Store: it is dropped.
func (Store) SetCheckpoint(string, []byte) error { return nil }

// Run runs the engine with a Source of batches×rows rows of schema into
// sink alone (no processor: the engine may release the batches) and
// fails t unless the run ends cleanly with every batch released. The
// caller then compares sink's output with the rows of Events.
func Run(t testing.TB, sink component.Sink, schema *event.Schema, batches, rows int) *Source {
	t.Helper()
	src := &Source{Schema: schema, Batches: batches, Rows: rows}
	RunSource(t, sink, src)
	return src
}

// RunSource is Run with a Source of the caller's (for its Keys).
func RunSource(t testing.TB, sink component.Sink, src *Source) {
	t.Helper()
	RunThrough(t, sink, src, nil)
}

// RunThrough is RunSource with processors between the source and the
// sink, each taking the one before it (the first the source), the sink
// the last: they must let the engine release the batches (stateless, and
// component.KeepsNoEvents).
func RunThrough(t testing.TB, sink component.Sink, src *Source, procs []engine.ProcessorNode) {
	t.Helper()
	batches := src.Batches
	in := "s"
	for i := range procs {
		procs[i].Inputs = []string{in}
		in = procs[i].Name
	}
	p := &engine.Pipeline{
		Sources:    []engine.SourceNode{{Name: "s", Source: src}},
		Processors: procs,
		Sinks:      []engine.SinkNode{{Name: "out", Sink: sink, Inputs: []string{in}}},
		Store:      Store{},
	}
	if err := engine.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if n := src.Released.Load(); n != int64(batches) {
		t.Fatalf("%d batches released, want %d", n, batches)
	}
}
