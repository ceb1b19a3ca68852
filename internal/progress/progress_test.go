package progress

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// sizedRec records how batches arrive: with the source's size or without.
type sizedRec struct {
	sizes []int64 // -1 for a batch that came through Emit
}

func (r *sizedRec) Emit(context.Context, []event.Event, []byte) error {
	r.sizes = append(r.sizes, -1)
	return nil
}

func (r *sizedRec) EmitSized(_ context.Context, _ []event.Event, _ []byte, size int64) error {
	r.sizes = append(r.sizes, size)
	return nil
}

// TestCountingForwardsSizes: the counting wrapper passes a sized batch on
// with its size (the engine's fast path, component.SizedEmitter) and
// counts it like any other.
func TestCountingForwardsSizes(t *testing.T) {
	var tr Tracker
	rec := &sizedRec{}
	out := tr.Counting(rec)
	evs := make([]event.Event, 3)
	if err := component.EmitSized(context.Background(), out, evs, nil, 1234); err != nil {
		t.Fatal(err)
	}
	if err := out.Emit(context.Background(), evs[:2], nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.sizes) != 2 || rec.sizes[0] != 1234 || rec.sizes[1] != -1 {
		t.Fatalf("batches arrived with sizes %v, want [1234 -1]", rec.sizes)
	}
	if got := tr.done.Load(); got != 5 {
		t.Fatalf("counted %d events, want 5", got)
	}
}
