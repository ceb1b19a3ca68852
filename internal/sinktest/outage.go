package sinktest

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// outageHold is how long the outage case keeps the destination cut off.
// Short on purpose: the sinks' long outages (minutes, $SLUICE_OUTAGE) are
// their own tests; this one checks the retry path of every sink.
const outageHold = 2 * time.Second

// outage runs the sink in a pipeline (engine.Run, with its retries) that
// reaches the destination through a proxy, cuts the proxy for outageHold
// while the source keeps emitting, restores it, and checks that every
// change arrives: exactly once in a last-state or exactly-once
// destination, in order after the replays in one that writes replays
// again. The source waits before the cut until everything it emitted is
// durable, so the in-flight window is empty when the cut lands and the
// source can always emit a full window during the outage — a condition,
// not a race with the sink's speed.
func (s *suite) outage(t *testing.T) {
	d := s.setup(t)
	addr := d.tg.Addr()
	if addr == "" {
		t.Skip("the sink uses no network (Target.Addr is empty): nothing to cut")
	}
	proxy := svctest.NewProxy(t, addr)
	d.p.Via = proxy.Addr()
	m := newModel()
	rng := rand.New(rand.NewPCG(7, 8))
	const total, before, window = 24, 6, 4
	batches := make([][]event.Event, total)
	for i := range batches {
		batches[i] = m.random(rng, 4, 12)
	}
	src := &gatedSource{batches: batches, gate: before, opened: make(chan struct{})}
	store := &memStore{}
	sink := d.sink()
	d.cur = nil // the engine closes it
	p := &engine.Pipeline{
		Sources: []engine.SourceNode{{Name: SourceName, Source: src}},
		Sinks:   []engine.SinkNode{{Name: "sink1", Sink: sink, Inputs: []string{SourceName}}},
		Store:   store,
		Options: engine.Options{MaxInflight: window, RetryMin: 20 * time.Millisecond, RetryMax: 250 * time.Millisecond,
			DrainTimeout: 20 * time.Second, Logger: d.logs.Logger()},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx, p) }()

	wait(t, done, "the first batches to be durable", func() bool { return store.get() == before })
	proxy.Cut()
	cut := time.Now()
	src.open()
	wait(t, done, "the source to emit a window of batches while the destination is cut off (it was empty at the cut)",
		func() bool { return src.emitted() >= before+window })
	moved := func() bool { return !s.h.Caps.Spool && store.get() != before }
	wait(t, done, "a Write to fail, or to wait, while the destination is cut off",
		func() bool { return d.w.hit(cut, outageHold) || moved() })
	if moved() {
		t.Errorf("the checkpoint moved from batch %d to %d while the destination was cut off: a Write returned before its events were durable there", before, store.get())
	}
	if rest := outageHold - time.Since(cut); rest > 0 {
		time.Sleep(rest) // the outage itself, not a wait for a condition
	}
	proxy.Restore()
	t.Logf("cut off for %v; %d batches emitted meanwhile", time.Since(cut).Round(time.Millisecond), src.emitted()-before)
	wait(t, done, "every batch to be durable after the outage", func() bool { return store.get() == total })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("engine.Run: %v", err)
		}
	case <-time.After(waitTimeout()):
		t.Fatalf("engine.Run did not return within %v of its context being cancelled", waitTimeout())
	}
	calls, fails := d.w.count()
	t.Logf("%d Writes, %d failed and were retried", calls, fails)
	s.verify(t, "after the outage", m, d.tg.Read(t), d.w.events())
}

// wait polls cond until it holds; it fails the test at the deadline, or
// at once when the pipeline stops.
func wait(t *testing.T, done chan error, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout())
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("the pipeline stopped while waiting for %s: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout(), what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gatedSource emits its batches in order, each with its number as the
// checkpoint; it stops after gate batches until open is called.
type gatedSource struct {
	batches [][]event.Event
	gate    int
	opened  chan struct{}
	once    sync.Once
	mu      sync.Mutex
	n       int // batches emitted
}

func (g *gatedSource) open() { g.once.Do(func() { close(g.opened) }) }

func (g *gatedSource) emitted() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

func (g *gatedSource) Run(ctx context.Context, cp []byte, out component.Emitter) error {
	for i, b := range g.batches {
		if i == g.gate {
			select {
			case <-g.opened:
			case <-ctx.Done():
				return nil
			}
		}
		if err := out.Emit(ctx, b, []byte(strconv.Itoa(i+1))); err != nil {
			return nil
		}
		g.mu.Lock()
		g.n = i + 1
		g.mu.Unlock()
	}
	<-ctx.Done()
	return nil
}

func (g *gatedSource) Committed(context.Context, []byte) error { return nil }
func (g *gatedSource) Close() error                            { return nil }

// memStore is the pipeline's checkpoint store.
type memStore struct {
	mu sync.Mutex
	cp []byte
}

func (m *memStore) Checkpoint(string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cp, nil
}

func (m *memStore) SetCheckpoint(_ string, cp []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cp = cp
	return nil
}

// get is the number of the newest durable batch.
func (m *memStore) get() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, _ := strconv.Atoi(string(m.cp))
	return n
}
