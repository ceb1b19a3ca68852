package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"unsafe"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// relSource emits, per id received on next, one batch of one event whose
// After is [id, "row-<id>"], with a release function (EmitReleasing). The
// string aliases a byte buffer and the event's values a slab of the
// source, and release poisons both (fills the bytes with '#', the values
// with another id), so that a reader after the release sees garbage.
type relSource struct {
	schema  *event.Schema
	next    chan int64
	emitted chan int64

	mu       sync.Mutex
	released []int64
}

func (s *relSource) Run(ctx context.Context, _ []byte, out component.Emitter) error {
	for {
		select {
		case id := <-s.next:
			buf := []byte("row-" + strconv.FormatInt(id, 10))
			vals := []event.Value{event.Int(id), event.String(unsafe.String(&buf[0], len(buf)))}
			evs := []event.Event{{Op: event.OpCreate, Schema: s.schema, After: vals}}
			release := func() {
				for i := range buf {
					buf[i] = '#'
				}
				vals[0] = event.Int(-1)
				evs[0].After = nil
				s.mu.Lock()
				s.released = append(s.released, id)
				s.mu.Unlock()
			}
			if err := component.EmitReleasing(ctx, out, evs, []byte(strconv.FormatInt(id, 10)), 0, release); err != nil {
				return err
			}
			s.emitted <- id
		case <-ctx.Done():
			return nil
		}
	}
}
func (s *relSource) Committed(context.Context, []byte) error { return nil }
func (s *relSource) Close() error                            { return nil }

func (s *relSource) releasedIDs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.released)
}

// relSink is a sink that declares KeepsNoEvents (unless keeps is set) and
// records, at each Write, a copy of what it read: "<id>:<text>". A gate,
// when set, holds each Write until a token (its result) comes.
type relSink struct {
	keeps bool
	gate  chan error

	mu  sync.Mutex
	got []string
}

func (k *relSink) KeepsNoEvents() bool { return !k.keeps }

func (k *relSink) read(evs []event.Event) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range evs {
		if len(e.After) != 2 {
			k.got = append(k.got, "released!")
			continue
		}
		k.got = append(k.got, fmt.Sprintf("%d:%s", e.After[0].AsInt(), e.After[1].Str))
	}
}

func (k *relSink) Write(ctx context.Context, evs []event.Event) error {
	if k.gate != nil {
		select {
		case err := <-k.gate:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	k.read(evs)
	return nil
}
func (k *relSink) Close(context.Context) error { return nil }

func (k *relSink) lines() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.got)
}

// relFlushSink is a relSink that is a FlushingSink: WriteBuffered reads
// the events, and Flush waits for a token on the flushSink's gate.
type relFlushSink struct {
	relSink
	fs flushSink
}

func (k *relFlushSink) WriteBuffered(_ context.Context, evs []event.Event) error {
	k.read(evs)
	return nil
}
func (k *relFlushSink) Flush(ctx context.Context) error { return k.fs.Flush(ctx) }

// runRelease runs a relSource into sinks (with the processors procs) and
// returns the source, the store and a stop function that checks Run's
// result. The sinks take the last processor's outputs.
func runRelease(t *testing.T, procs []ProcessorNode, sinks ...component.Sink) (*relSource, *memStore, func()) {
	t.Helper()
	src := &relSource{schema: schema("a.public.t"), next: make(chan int64), emitted: make(chan int64, 10)}
	st := &memStore{}
	p := &Pipeline{
		Sources:    []SourceNode{{Name: "a", Source: src}},
		Processors: procs,
		Store:      st,
		Options:    Options{MaxInflight: 6},
	}
	in := "a"
	if len(procs) > 0 {
		in = procs[len(procs)-1].Name
	}
	for i, s := range sinks {
		p.Sinks = append(p.Sinks, SinkNode{Name: "s" + strconv.Itoa(i), Sink: s, Inputs: []string{in}})
	}
	return src, st, runInBackground(t, p)
}

// twoGatedBatches emits batches 1 and 2 into a run whose sink slow holds
// each write until its gate opens: batch 1 must not be released before
// the gate opened (nor once written has returned, when set), then each
// batch is released once, after its checkpoint. It stops the run.
func twoGatedBatches(t *testing.T, src *relSource, st *memStore, slow *relSink, stop func(), written func()) {
	t.Helper()
	src.next <- 1
	<-src.emitted
	if written != nil {
		written()
	}
	if got := src.releasedIDs(); len(got) != 0 {
		t.Fatalf("released %v while the slow sink had not written the batch", got)
	}
	slow.gate <- nil
	waitFor(t, "checkpoint 1", func() bool { return checkpoint(st) == "1" })
	waitFor(t, "the release", func() bool { return len(src.releasedIDs()) == 1 })
	src.next <- 2
	<-src.emitted
	slow.gate <- nil
	waitFor(t, "checkpoint 2", func() bool { return checkpoint(st) == "2" })
	stop()
	if got, want := src.releasedIDs(), []int64{1, 2}; !slices.Equal(got, want) {
		t.Fatalf("released %v, want %v (each once)", got, want)
	}
}

// A batch fanned out to two sinks is released once, only after the
// second (slower) sink acknowledged it, and neither sink read a poisoned
// value.
func TestReleaseAfterLastSinkAck(t *testing.T) {
	fast := &relSink{}
	slow := &relSink{gate: make(chan error)}
	src, st, stop := runRelease(t, nil, fast, slow)
	twoGatedBatches(t, src, st, slow, stop, func() {
		waitFor(t, "the fast sink's write", func() bool { return len(fast.lines()) == 1 })
	})
	want := []string{"1:row-1", "2:row-2"}
	for _, s := range []*relSink{fast, slow} {
		if got := s.lines(); !slices.Equal(got, want) {
			t.Fatalf("sink read %q, want %q", got, want)
		}
	}
}

// With a sink that does not declare KeepsNoEvents (or declares false), or
// with a processor, nothing is ever released.
func TestReleaseNeverWithoutProof(t *testing.T) {
	cases := map[string]struct {
		procs   []ProcessorNode
		sinks   func() []component.Sink
		derives bool // the sink reads a relProc's outputs
	}{
		"a sink without KeepsNoEvents": {sinks: func() []component.Sink { return []component.Sink{&relSink{}, &memSink{}} }},
		"a sink that keeps events":     {sinks: func() []component.Sink { return []component.Sink{&relSink{keeps: true}} }},
		"a processor without KeepsNoEvents": {
			procs: []ProcessorNode{{Name: "p", Processor: &keepProc{}, Inputs: []string{"a"}}},
			sinks: func() []component.Sink { return []component.Sink{&relSink{}} },
		},
		"a processor that keeps events": {
			procs:   []ProcessorNode{{Name: "p", Processor: &relProc{keeps: true}, Inputs: []string{"a"}}},
			sinks:   func() []component.Sink { return []component.Sink{&relSink{}} },
			derives: true,
		},
		"a processor that keeps nothing, before another that does not say": {
			procs: []ProcessorNode{
				{Name: "p", Processor: &relProc{}, Inputs: []string{"a"}},
				{Name: "q", Processor: &keepProc{}, Inputs: []string{"p"}},
			},
			sinks:   func() []component.Sink { return []component.Sink{&relSink{}} },
			derives: true,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			sinks := c.sinks()
			src, st, stop := runRelease(t, c.procs, sinks...)
			for id := int64(1); id <= 3; id++ {
				src.next <- id
				<-src.emitted
			}
			waitFor(t, "checkpoint 3", func() bool { return checkpoint(st) == "3" })
			stop()
			if got := src.releasedIDs(); len(got) != 0 {
				t.Fatalf("released %v", got)
			}
			want := []string{"1:row-1", "2:row-2", "3:row-3"}
			if c.derives {
				want = []string{"1:row-1", "101:row-1", "2:row-2", "102:row-2", "3:row-3", "103:row-3"}
			}
			if got := sinks[0].(*relSink).lines(); !slices.Equal(got, want) {
				t.Fatalf("sink read %q, want %q", got, want)
			}
		})
	}
}

// A FlushingSink: a batch is released only after the Flush that covers it;
// after a failed Flush the engine writes the unacknowledged batches again
// and they are intact (not released), then released once.
func TestReleaseFlushingSinkFailedFlush(t *testing.T) {
	sink := &relFlushSink{fs: flushSink{entered: make(chan struct{}, 10), gate: make(chan error)}}
	src, st, stop := runRelease(t, nil, sink)

	src.next <- 1
	<-src.emitted
	<-sink.fs.entered // batch 1 written, its Flush held
	src.next <- 2
	<-src.emitted
	waitFor(t, "batch 2 written", func() bool { return len(sink.lines()) == 2 })
	if got := src.releasedIDs(); len(got) != 0 {
		t.Fatalf("released %v before any Flush returned", got)
	}
	sink.fs.gate <- errors.New("fsync: input/output error")
	waitFor(t, "checkpoint 2", func() bool { return checkpoint(st) == "2" })
	waitFor(t, "the releases", func() bool { return len(src.releasedIDs()) == 2 })
	stop()
	// WriteBuffered read 1 and 2; the rewrite after the failed Flush (a
	// Write) read them again, intact.
	if got, want := sink.lines(), []string{"1:row-1", "2:row-2", "1:row-1", "2:row-2"}; !slices.Equal(got, want) {
		t.Fatalf("sink read %q, want %q", got, want)
	}
	if got, want := src.releasedIDs(), []int64{1, 2}; !slices.Equal(got, want) {
		t.Fatalf("released %v, want %v", got, want)
	}
}

// A batch whose write fails for good is never acknowledged, so never
// released.
func TestReleaseNeverAfterFailedWrite(t *testing.T) {
	sink := &relSink{gate: make(chan error, 1)}
	src := &relSource{schema: schema("a.public.t"), next: make(chan int64), emitted: make(chan int64, 10)}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		Sinks:   []SinkNode{{Name: "s", Sink: sink, Inputs: []string{"a"}}},
		Store:   &memStore{},
	}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), p) }()
	sink.gate <- component.Permanent(errors.New("disk on fire"))
	src.next <- 1
	if err := <-done; err == nil || !errors.Is(err, err) || err.Error() != "sink s: disk on fire" {
		t.Fatalf("Run returned %v, want the sink's error", err)
	}
	if got := src.releasedIDs(); len(got) != 0 {
		t.Fatalf("released %v after a failed write", got)
	}
}

// relProc passes each input on and derives one more event from it, id+100
// with the input's string (the derived image shares the input's text, as
// a map's copied column does). It declares KeepsNoEvents unless keeps is
// set.
type relProc struct{ keeps bool }

func (p *relProc) KeepsNoEvents() bool { return !p.keeps }
func (p *relProc) Process(_ context.Context, in, out []event.Event) ([]event.Event, error) {
	for _, e := range in {
		d := e
		d.After = []event.Value{event.Int(e.After[0].AsInt() + 100), e.After[1]}
		out = append(out, e, d)
	}
	return out, nil
}
func (p *relProc) Close() error { return nil }

// A batch that passed through stateless processors that keep nothing is
// released once, only after the sink acknowledged the processors' outputs
// (the inputs and the events derived from them, which share their text),
// and the sink read every one intact.
func TestReleaseThroughProcessorsThatKeepNothing(t *testing.T) {
	slow := &relSink{gate: make(chan error)}
	procs := []ProcessorNode{
		{Name: "p", Processor: &relProc{}, Inputs: []string{"a"}},
		{Name: "q", Processor: &relProc{}, Inputs: []string{"p"}},
	}
	src, st, stop := runRelease(t, procs, slow)
	if !canRelease(&Pipeline{Processors: procs, Sinks: []SinkNode{{Sink: slow}}}) {
		t.Fatal("canRelease is false for stateless processors that keep nothing")
	}
	twoGatedBatches(t, src, st, slow, stop, nil)
	want := []string{"1:row-1", "101:row-1", "101:row-1", "201:row-1", "2:row-2", "102:row-2", "102:row-2", "202:row-2"}
	if got := slow.lines(); !slices.Equal(got, want) {
		t.Fatalf("sink read %q, want %q", got, want)
	}
}

// A stateful processor keeps values in its state: no release, even when
// it declares KeepsNoEvents.
func TestCanReleaseStatefulProcessor(t *testing.T) {
	sinks := []SinkNode{{Sink: &relSink{}}}
	if !canRelease(&Pipeline{Processors: []ProcessorNode{{Processor: &relProc{}}}, Sinks: sinks}) {
		t.Fatal("canRelease is false for a stateless processor that keeps nothing")
	}
	if canRelease(&Pipeline{Processors: []ProcessorNode{{Processor: &relProc{}, State: &countState{}}}, Sinks: sinks}) {
		t.Fatal("canRelease is true with a stateful processor")
	}
}
