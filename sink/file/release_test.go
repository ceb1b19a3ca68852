package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
)

// poisonSource emits batches of rows whose strings alias one buffer per
// batch, with a release (component.ReleasingEmitter) that fills the buffer
// and the values with garbage, as a recycling source's next batch would.
type poisonSource struct {
	batches, rows int
	released      atomic.Int64
}

func (p *poisonSource) row(b, r int) string { return fmt.Sprintf("batch %d row %d \"é\"", b, r) }

func (p *poisonSource) Run(ctx context.Context, _ []byte, out component.Emitter) error {
	for b := range p.batches {
		var text []byte
		for r := range p.rows {
			text = append(text, p.row(b, r)...)
		}
		vals := make([]event.Value, 2*p.rows)
		evs := make([]event.Event, p.rows)
		off := 0
		for r := range p.rows {
			n := len(p.row(b, r))
			vals[2*r] = event.Int(int64(b*p.rows + r))
			vals[2*r+1] = event.String(unsafe.String(&text[off], n))
			off += n
			evs[r] = event.Event{Op: event.OpRead, Schema: testSchema, After: vals[2*r : 2*r+2 : 2*r+2], Source: event.Source{TsUs: 1000}, TsMs: 2}
		}
		release := func() {
			for i := range text {
				text[i] = '#'
			}
			for i := range vals {
				vals[i] = event.Int(-1)
			}
			p.released.Add(1)
		}
		if err := component.EmitReleasing(ctx, out, evs, []byte(fmt.Sprint(b)), 0, release); err != nil {
			return err
		}
	}
	return nil
}
func (*poisonSource) Committed(context.Context, []byte) error { return nil }
func (*poisonSource) Close() error                            { return nil }

type cpStore struct{}

func (cpStore) Checkpoint(string) ([]byte, error)  { return nil, nil }
func (cpStore) SetCheckpoint(string, []byte) error { return nil }

// TestReleasedBatchesFileBytes: batches released by the engine once the
// file sink acknowledged them are poisoned by their source at once, and
// the file holds exactly the bytes of the rows as emitted: nothing read an
// event after the release. The file sink opts in (KeepsNoEvents), so every
// batch is released.
func TestReleasedBatchesFileBytes(t *testing.T) {
	for _, c := range []struct{ batches, rows int }{{200, 3}, {20, 5000}} { // small batches coalesce; large ones encode in parallel
		t.Run(fmt.Sprintf("%dx%d", c.batches, c.rows), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			cfg := Config{Path: path, Fsync: true, Options: format.DefaultOptions()}
			sink, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			src := &poisonSource{batches: c.batches, rows: c.rows}
			p := &engine.Pipeline{
				Sources: []engine.SourceNode{{Name: "s", Source: src}},
				Sinks:   []engine.SinkNode{{Name: "f", Sink: sink, Inputs: []string{"s"}}},
				Store:   cpStore{},
			}
			if err := engine.Run(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			if n := src.released.Load(); n != int64(c.batches) {
				t.Fatalf("%d batches released, want %d", n, c.batches)
			}
			enc, err := format.NewLineEncoder(cfg.Options, 1)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for b := range c.batches {
				evs := make([]event.Event, c.rows)
				for r := range c.rows {
					evs[r] = event.Event{Op: event.OpRead, Schema: testSchema, After: []event.Value{event.Int(int64(b*c.rows + r)), event.String(src.row(b, r))}, Source: event.Source{TsUs: 1000}, TsMs: 2}
				}
				if err := enc.Encode(evs, func(p []byte) error { want = append(want, p...); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("file (%d bytes) differs from the rows as emitted (%d bytes); first lines:\n%.300s", len(got), len(want), got)
			}
		})
	}
}
