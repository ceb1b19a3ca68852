package sourcetest

import (
	"context"
	"errors"
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
