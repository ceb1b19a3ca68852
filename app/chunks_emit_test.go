package app

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// sizedRec records how batches arrive: with the source's size or without.
type sizedRec struct{ sizes []int64 } // -1 for a batch that came through Emit

func (r *sizedRec) Emit(context.Context, []event.Event, []byte) error {
	r.sizes = append(r.sizes, -1)
	return nil
}

func (r *sizedRec) EmitSized(_ context.Context, _ []event.Event, _ []byte, size int64) error {
	r.sizes = append(r.sizes, size)
	return nil
}

// TestCountingEmitterForwardsSizes: a chunk's counting emitter passes a
// sized batch on with its size (component.SizedEmitter) and counts it.
func TestCountingEmitterForwardsSizes(t *testing.T) {
	rec := &sizedRec{}
	var n atomic.Int64
	out := countingEmitter{out: rec, n: &n}
	evs := make([]event.Event, 3)
	if err := component.EmitSized(context.Background(), out, evs, nil, 777); err != nil {
		t.Fatal(err)
	}
	if err := out.Emit(context.Background(), evs[:1], nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.sizes) != 2 || rec.sizes[0] != 777 || rec.sizes[1] != -1 || n.Load() != 4 {
		t.Fatalf("batches arrived with sizes %v and %d events counted, want [777 -1] and 4", rec.sizes, n.Load())
	}
}
