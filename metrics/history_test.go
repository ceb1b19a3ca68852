package metrics

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// progressSource is a component.ProgressReporter whose progress the test
// sets.
type progressSource struct {
	mu sync.Mutex
	p  component.Progress
}

func (s *progressSource) Progress() component.Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

func (s *progressSource) set(p component.Progress) {
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
}

func TestHistoryRatesAndBound(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	p.Watch("pg", nil)
	p.WatchSink("out")
	h := m.NewHistory(time.Second, 3)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 5 {
		p.ObserveEmit("pg", batch(10*(i+1)), int64(10*(i+1))*195) // 10, 20, 30, 40, 50
		p.ObserveWrite("out", 4, 0, time.Millisecond, nil)
		h.Sample(t0.Add(time.Duration(2*i) * time.Second))
	}
	got, ok := h.Of("shop")
	if !ok {
		t.Fatal("no history for shop")
	}
	if len(got.Samples) != 3 {
		t.Fatalf("%d samples, want the last 3", len(got.Samples))
	}
	for i, s := range got.Samples {
		// Samples 2, 3, 4: totals 60, 100, 150; 30, 40, 50 events in 2 s.
		wantAt := t0.Add(time.Duration(2*(i+2)) * time.Second)
		wantEvents := []float64{60, 100, 150}[i]
		wantRate := float64(10*(i+3)) / 2
		src := s.Sources["pg"]
		if !s.At.Equal(wantAt) || src.Events != wantEvents || src.EventsPerSecond != wantRate {
			t.Errorf("sample %d: at %v, %v events at %v/s; want at %v, %v at %v/s", i, s.At, src.Events, src.EventsPerSecond, wantAt, wantEvents, wantRate)
		}
		if snk := s.Sinks["out"]; snk.Written != float64(4*(i+3)) || snk.WrittenPerSecond != 2 {
			t.Errorf("sample %d: sink %+v, want %d written at 2/s", i, snk, 4*(i+3))
		}
	}
	if got.IntervalSeconds != 1 {
		t.Errorf("interval %v, want 1", got.IntervalSeconds)
	}
	if _, ok := h.Of("other"); ok {
		t.Error("a history for a pipeline without metrics")
	}

	// A removed pipeline is forgotten at the next sample.
	m.Remove("shop")
	h.Sample(t0.Add(time.Minute))
	h.mu.Lock()
	n := len(h.mu.pipes)
	h.mu.Unlock()
	if n != 0 {
		t.Errorf("%d pipelines kept after Remove, want 0", n)
	}
}

// TestHistoryStreams: events are counted per stream (their schema's
// Stream), in runs and across batches; the rates are per sample; the
// streams of a source are bounded.
func TestHistoryStreams(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	a := &event.Schema{Stream: "pg.public.a"}
	a2 := &event.Schema{Stream: "pg.public.a", Version: 2} // a schema change: the same stream
	b := &event.Schema{Stream: "pg.public.b"}
	evs := func(schemas ...*event.Schema) []event.Event {
		out := make([]event.Event, len(schemas))
		for i, s := range schemas {
			out[i].Schema = s
		}
		return out
	}
	h := m.NewHistory(time.Second, 10)
	t0 := time.Now()
	p.ObserveEmit("pg", evs(a, a, b, a2, a), 0)
	h.Sample(t0)
	p.ObserveEmit("pg", evs(b, b, b, b), 0)
	p.ObserveEmit("pg", evs(a, a), 0)
	h.Sample(t0.Add(2 * time.Second))
	got, _ := h.Of("shop")
	want := []map[string]StreamPoint{
		{"pg.public.a": {Events: 4}, "pg.public.b": {Events: 1}},
		{"pg.public.a": {Events: 6, EventsPerSecond: 1}, "pg.public.b": {Events: 5, EventsPerSecond: 2}},
	}
	for i, w := range want {
		if g := got.Samples[i].Sources["pg"].Streams; !maps.Equal(g, w) {
			t.Errorf("sample %d: streams %v, want %v", i, g, w)
		}
	}

	var many []event.Event
	for i := range maxStreams + 10 {
		many = append(many, evs(&event.Schema{Stream: fmt.Sprintf("gen.s%03d", i)})...)
	}
	p.ObserveEmit("gen", many, 0)
	h.Sample(t0.Add(4 * time.Second))
	got, _ = h.Of("shop")
	last := got.Samples[len(got.Samples)-1].Sources["gen"].Streams
	if _, ok := last[fmt.Sprintf("gen.s%03d", maxStreams-1)]; len(last) != maxStreams || !ok {
		t.Errorf("%d streams kept (the last kept present: %v), want the first %d by name", len(last), ok, maxStreams)
	}
}

func TestHistorySnapshotEstimate(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	src := &progressSource{}
	p.Watch("pg", src)
	h := m.NewHistory(time.Second, 100)
	src.set(component.Progress{Phase: "snapshot", Done: 5, Total: 50})
	got, _ := h.Of("shop")
	if sp := got.Snapshots["pg"]; sp.RowsRead != 5 || sp.RowsEstimated != 50 || sp.RowsPerSecond != 0 || sp.ETASeconds != nil {
		t.Errorf("before any sample: %+v (eta %v), want 5 of 50, no rate, no estimate", sp, deref(sp.ETASeconds))
	}
	now := time.Now()
	// A first snapshot of 50 rows, then a second that starts over: the
	// rate counts only the second one's samples, of the last 30 s.
	src.set(component.Progress{Phase: "snapshot", Done: 50, Total: 50})
	h.Sample(now.Add(-50 * time.Second))
	src.set(component.Progress{Phase: "snapshot", Done: 0, Total: 1000})
	h.Sample(now.Add(-40 * time.Second)) // older than the window
	src.set(component.Progress{Phase: "snapshot", Done: 100, Total: 1000})
	h.Sample(now.Add(-20 * time.Second))
	src.set(component.Progress{Phase: "snapshot", Done: 200, Total: 1000})
	h.Sample(now.Add(-10 * time.Second))
	src.set(component.Progress{Phase: "snapshot", Done: 300, Total: 1000})
	got, _ = h.Of("shop")
	sp, ok := got.Snapshots["pg"]
	if !ok {
		t.Fatalf("no snapshot progress: %+v", got)
	}
	// 200 rows in ~20 s: 10 rows/s, 700 left: ~70 s.
	if sp.RowsRead != 300 || sp.RowsEstimated != 1000 || sp.RowsPerSecond < 9.9 || sp.RowsPerSecond > 10 || sp.ETASeconds == nil || *sp.ETASeconds < 70 || *sp.ETASeconds > 70.8 {
		t.Errorf("snapshot progress %+v (eta %v), want 300 of 1000 at ~10 rows/s, ~70 s left", sp, deref(sp.ETASeconds))
	}
	if s := got.Samples[len(got.Samples)-1].Sources["pg"]; s.Phase != "snapshot" || s.SnapshotDone != 200 || s.SnapshotTotal != 1000 {
		t.Errorf("last sample %+v, want snapshot 200 of 1000", s)
	}

	// An unknown total: no estimate.
	src.set(component.Progress{Phase: "snapshot", Done: 300, Total: 0})
	got, _ = h.Of("shop")
	if sp := got.Snapshots["pg"]; sp.ETASeconds != nil {
		t.Errorf("estimate %v with an unknown total", *sp.ETASeconds)
	}
	// Streaming: no snapshot.
	src.set(component.Progress{Phase: "streaming"})
	got, _ = h.Of("shop")
	if len(got.Snapshots) != 0 {
		t.Errorf("snapshots %+v while streaming", got.Snapshots)
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func TestHistoryErrors(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m.SetStatusSource(statuses{{Name: "shop", State: StateFailed, Error: "sink out: disk full", Since: since}})
	h := m.NewHistory(time.Second, 10)
	for i := range maxErrors + 5 {
		p.ObserveRetry("out", i+1, fmt.Errorf("write %d: connection refused", i+1))
	}
	p.ObserveRetry("out", 99, nil) // no error: nothing to show
	h.Sample(time.Now())
	h.Sample(time.Now()) // the same failure is recorded once
	got, _ := h.Of("shop")
	if len(got.Errors) != maxErrors {
		t.Fatalf("%d errors, want the last %d", len(got.Errors), maxErrors)
	}
	// The failure, seen at the sample after the retries, drops the oldest
	// retry and sorts first by its time.
	first, last := got.Errors[0], got.Errors[len(got.Errors)-1]
	if first.Kind != "failed" || first.Message != "sink out: disk full" || !first.At.Equal(since) {
		t.Errorf("first error %+v, want the failure at %v", first, since)
	}
	if last.Kind != "retry" || last.Node != "out" || last.Attempt != maxErrors+5 || last.Message != fmt.Sprintf("write %d: connection refused", maxErrors+5) {
		t.Errorf("last error %+v, want the last retry", last)
	}
	if got.Errors[1].Attempt != 7 {
		t.Errorf("second error %+v, want retry 7 (the oldest 6 dropped)", got.Errors[1])
	}
}

// countingGauger is a component.Gauger that counts its calls.
type countingGauger struct{ calls atomic.Int32 }

func (g *countingGauger) Gauges() []component.Gauge {
	g.calls.Add(1)
	return []component.Gauge{{Name: "sluice_postgres_slot_retained_wal_bytes", Help: "h", Value: 4096}}
}

// TestHistoryGauges: the sources' own gauges are sampled only while the
// history is read: an unwatched console queries no database.
func TestHistoryGauges(t *testing.T) {
	m := New()
	p := m.Pipeline("shop")
	g := &countingGauger{}
	p.Watch("pg", g)
	h := m.NewHistory(time.Second, 10)
	now := time.Now()
	h.Sample(now)
	if n := g.calls.Load(); n != 0 {
		t.Fatalf("%d gauge reads before anyone read the history", n)
	}
	h.Of("shop")
	h.Sample(now.Add(time.Second))
	got, _ := h.Of("shop")
	if n := g.calls.Load(); n != 1 {
		t.Fatalf("%d gauge reads, want 1", n)
	}
	if g0, g1 := got.Samples[0].Sources["pg"].Gauges, got.Samples[1].Sources["pg"].Gauges; g0 != nil || !maps.Equal(g1, map[string]float64{"sluice_postgres_slot_retained_wal_bytes": 4096}) {
		t.Errorf("gauges %v then %v, want none then the slot's", g0, g1)
	}
	h.Sample(now.Add(time.Second + gaugesWhileRead))
	if n := g.calls.Load(); n != 1 {
		t.Errorf("%d gauge reads a minute after the last read, want still 1", n)
	}
}
