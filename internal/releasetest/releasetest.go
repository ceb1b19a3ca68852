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
	// Released counts the batches the engine released.
	Released atomic.Int64
}

// Row is the name of row r of batch b (with a non-ASCII character and
// quotes, so encoders escape it).
func (p *Source) Row(b, r int) string { return fmt.Sprintf("batch %d row %d \"é\"", b, r) }

func (p *Source) event(b, r int, after []event.Value) event.Event {
	return event.Event{Op: event.OpRead, Schema: p.Schema, After: after, Source: event.Source{TsUs: 1000}, TsMs: 2}
}

// Events returns batch b's events as emitted, in memory of their own.
func (p *Source) Events(b int) []event.Event {
	evs := make([]event.Event, p.Rows)
	for r := range p.Rows {
		evs[r] = p.event(b, r, []event.Value{event.Int(int64(b*p.Rows + r)), event.String(p.Row(b, r))})
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
		vals := make([]event.Value, 2*p.Rows)
		evs := make([]event.Event, p.Rows)
		off := 0
		for r := range p.Rows {
			n := len(p.Row(b, r))
			vals[2*r] = event.Int(int64(b*p.Rows + r))
			vals[2*r+1] = event.String(unsafe.String(&text[off], n))
			off += n
			evs[r] = p.event(b, r, vals[2*r:2*r+2:2*r+2])
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
// sink alone (no processor, so the engine may release the batches) and
// fails t unless the run ends cleanly with every batch released. The
// caller then compares sink's output with the rows of Events.
func Run(t testing.TB, sink component.Sink, schema *event.Schema, batches, rows int) *Source {
	t.Helper()
	src := &Source{Schema: schema, Batches: batches, Rows: rows}
	p := &engine.Pipeline{
		Sources: []engine.SourceNode{{Name: "s", Source: src}},
		Sinks:   []engine.SinkNode{{Name: "out", Sink: sink, Inputs: []string{"s"}}},
		Store:   Store{},
	}
	if err := engine.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if n := src.Released.Load(); n != int64(batches) {
		t.Fatalf("%d batches released, want %d", n, batches)
	}
	return src
}
