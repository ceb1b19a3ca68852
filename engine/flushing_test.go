package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// flushSink is a component.FlushingSink that logs every call ("wb [ids]",
// "w [ids]", "flush") and holds each Flush until a token (its result) comes
// on gate; failWB makes the WriteBuffered of the given first id fail once.
type flushSink struct {
	mu      sync.Mutex
	log     []string
	entered chan struct{} // one per Flush, when it starts
	gate    chan error
	failWB  int64
}

func (f *flushSink) record(kind string, evs []event.Event) {
	ids := make([]int64, len(evs))
	for i := range evs {
		ids[i] = evs[i].After[0].AsInt()
	}
	f.mu.Lock()
	f.log = append(f.log, fmt.Sprintf("%s %v", kind, ids))
	f.mu.Unlock()
}

func (f *flushSink) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func (f *flushSink) Write(_ context.Context, evs []event.Event) error {
	f.record("w", evs)
	return nil
}

func (f *flushSink) WriteBuffered(_ context.Context, evs []event.Event) error {
	if f.failWB != 0 && evs[0].After[0].AsInt() == f.failWB {
		f.failWB = 0
		f.record("wb-failed", evs)
		return errors.New("disk full")
	}
	f.record("wb", evs)
	return nil
}

func (f *flushSink) Flush(ctx context.Context) error {
	f.mu.Lock()
	f.log = append(f.log, "flush")
	f.mu.Unlock()
	f.entered <- struct{}{}
	select {
	case err := <-f.gate:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *flushSink) Close(context.Context) error { return nil }

// runFlushing starts a pipeline of a stepSource into sink and returns the
// source, the store and a stop function that checks Run's result.
func runFlushing(t *testing.T, sink *flushSink) (*stepSource, *memStore, func()) {
	t.Helper()
	src := &stepSource{schema: schema("a.public.t"), next: make(chan int64), emitted: make(chan int64, 10)}
	st := &memStore{}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		Sinks:   []SinkNode{{Name: "s", Sink: sink, Inputs: []string{"a"}}},
		Store:   st,
		Options: Options{MaxInflight: 6},
	}
	return src, st, runInBackground(t, p)
}

func checkpoint(st *memStore) string {
	cp, _ := st.Checkpoint("a")
	return string(cp)
}

// A FlushingSink gets the next batch while the previous one's Flush is in
// flight, and a batch is acknowledged only after a Flush that covers it.
func TestFlushingSinkWritesWhileFlushing(t *testing.T) {
	sink := &flushSink{entered: make(chan struct{}, 10), gate: make(chan error)}
	src, st, stop := runFlushing(t, sink)

	src.next <- 1
	<-src.emitted
	<-sink.entered // batch 1 written, its Flush held
	src.next <- 2
	<-src.emitted
	src.next <- 3
	<-src.emitted
	waitFor(t, "batches 2 and 3 written while the first Flush is held", func() bool {
		return slices.Equal(sink.calls(), []string{"wb [1]", "flush", "wb [2 3]"}) ||
			slices.Equal(sink.calls(), []string{"wb [1]", "flush", "wb [2]", "wb [3]"})
	})
	if cp := checkpoint(st); cp != "" {
		t.Fatalf("checkpoint %q committed before any Flush returned", cp)
	}
	sink.gate <- nil // the first Flush covers batch 1 only
	<-sink.entered   // the second covers what was written meanwhile
	waitFor(t, "checkpoint 1", func() bool { return checkpoint(st) == "1" })
	if cp := checkpoint(st); cp != "1" {
		t.Fatalf("checkpoint %q while the Flush of batches 2 and 3 is held, want 1", cp)
	}
	sink.gate <- nil
	waitFor(t, "checkpoint 3", func() bool { return checkpoint(st) == "3" })
	stop()
	for _, c := range sink.calls() {
		if c[0] == 'w' && c[1] == ' ' {
			t.Fatalf("calls %q: a plain Write without any failure", sink.calls())
		}
	}
}

// A failed Flush: everything not yet acknowledged is written again with
// Write, in order, and then acknowledged.
func TestFlushingSinkFailedFlushWritesAgain(t *testing.T) {
	sink := &flushSink{entered: make(chan struct{}, 10), gate: make(chan error)}
	src, st, stop := runFlushing(t, sink)

	src.next <- 1
	<-src.emitted
	<-sink.entered
	src.next <- 2
	<-src.emitted
	waitFor(t, "batch 2 written", func() bool { return len(sink.calls()) == 3 })
	sink.gate <- errors.New("fsync: input/output error")
	waitFor(t, "checkpoint 2", func() bool { return checkpoint(st) == "2" })
	stop()
	want := []string{"wb [1]", "flush", "wb [2]", "w [1 2]"}
	if got := sink.calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !slices.Equal(st.log, []string{"a=2"}) && !slices.Equal(st.log, []string{"a=1", "a=2"}) {
		t.Fatalf("checkpoints %q, want a=2 after the rewrite", st.log)
	}
}

// A failed WriteBuffered: the Flush in flight is settled first (its batch
// acknowledged), then the failed batch is written again with Write.
func TestFlushingSinkFailedWriteBufferedWritesAgain(t *testing.T) {
	sink := &flushSink{entered: make(chan struct{}, 10), gate: make(chan error), failWB: 2}
	src, st, stop := runFlushing(t, sink)

	src.next <- 1
	<-src.emitted
	<-sink.entered
	src.next <- 2
	<-src.emitted
	waitFor(t, "the failed WriteBuffered", func() bool { return len(sink.calls()) == 3 })
	if cp := checkpoint(st); cp != "" {
		t.Fatalf("checkpoint %q before the Flush returned", cp)
	}
	sink.gate <- nil
	waitFor(t, "checkpoint 2", func() bool { return checkpoint(st) == "2" })
	stop()
	want := []string{"wb [1]", "flush", "wb-failed [2]", "w [2]"}
	if got := sink.calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

// runInBackground runs p until the returned stop is called, which cancels
// the run and fails t unless it ended cleanly.
func runInBackground(t *testing.T, p *Pipeline) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, p) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
