package engine

import (
	"context"
	"errors"
	"fmt"
	"github.com/sluice-dev/sluice/format"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// batchSource emits the given batch sizes, ids counting from 1, checkpoint =
// last id, then waits for cancellation.
type batchSource struct {
	schema *event.Schema
	sizes  []int
	pad    int // bytes of padding per event
	// claim, when > 0, is the size per event the source hands the engine
	// with component.EmitSized instead of letting it take event.Size.
	claim int64
}

func (b *batchSource) Run(ctx context.Context, cp []byte, out component.Emitter) error {
	id := int64(0)
	for _, n := range b.sizes {
		evs := make([]event.Event, n)
		for i := range evs {
			id++
			after := []event.Value{event.Int(id), event.Null}
			if b.pad > 0 {
				after[1] = event.String(string(make([]byte, b.pad)))
			}
			evs[i] = event.Event{Op: event.OpCreate, Schema: b.schema, After: after, Source: event.Source{LSN: uint64(id), HasLSN: true}}
		}
		cp := []byte(strconv.FormatInt(id, 10))
		var err error
		if b.claim > 0 {
			err = component.EmitSized(ctx, out, evs, cp, b.claim*int64(n))
		} else {
			err = out.Emit(ctx, evs, cp)
		}
		if err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}
func (b *batchSource) Committed(context.Context, []byte) error { return nil }
func (b *batchSource) Close() error                            { return nil }

// recSink records every write's ids; reject says which ids to reject one by
// one.
type recSink struct {
	mu     sync.Mutex
	writes [][]int64
	reject func(id int64) bool
}

func (r *recSink) Write(_ context.Context, evs []event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []int64
	var rejected component.RecordErrors
	for i, e := range evs {
		id := e.After[0].AsInt()
		if r.reject != nil && r.reject(id) {
			rejected = append(rejected, component.RecordError{Index: i, Err: fmt.Errorf("mapper_parsing_exception: failed to parse field [id] of document %d", id)})
			continue
		}
		ids = append(ids, id)
	}
	r.writes = append(r.writes, ids)
	if rejected != nil {
		return rejected
	}
	return nil
}
func (r *recSink) Close(context.Context) error { return nil }

func (r *recSink) all() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int64
	for _, w := range r.writes {
		out = append(out, w...)
	}
	return out
}

// dlSink keeps dead-letter records.
type dlSink struct {
	mu   sync.Mutex
	recs []event.Event
}

func (d *dlSink) Write(_ context.Context, evs []event.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recs = append(d.recs, evs...)
	return nil
}
func (d *dlSink) Close(context.Context) error { return nil }

func keyed(stream string) *event.Schema {
	s := schema(stream)
	s.Source, s.Namespace, s.Table = "a", "public", "t"
	s.Columns = append(s.Columns, event.Column{Name: "pad", Type: event.TypeString, Optional: true})
	s.Columns[0].Key = true
	s.KeyIdx = []int{0}
	return s
}

func runUntil(t *testing.T, p *Pipeline, cp string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, p) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := p.Store.Checkpoint("a")
		if string(got) == cp {
			break
		}
		select {
		case err := <-done:
			cancel()
			return err
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("timed out waiting for checkpoint %s (at %q)", cp, got)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	return <-done
}

func checkIDs(t *testing.T, got []int64, n int, skip func(int64) bool) {
	t.Helper()
	want := int64(1)
	for _, id := range got {
		for skip != nil && skip(want) {
			want++
		}
		if id != want {
			t.Fatalf("got id %d, want %d (order or loss)", id, want)
		}
		want++
	}
	for skip != nil && skip(want) {
		want++
	}
	if want != int64(n+1) {
		t.Fatalf("got ids up to %d, want %d", want-1, n)
	}
}

func TestBatchLimitsSplitAndCoalesce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch Batch
		sizes []int
		pad   int
		max   int // most events in one write
	}{
		{"one delivery", Batch{}, []int{7}, 0, 7},
		{"events", Batch{MaxEvents: 30}, []int{100, 5, 5, 70}, 0, 30},
		// Each event is 144 + 2×40 + 1000 bytes: 4 fit under 5000.
		{"bytes", Batch{MaxBytes: 5000}, []int{50, 3, 20}, 1000, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recSink{}
			total := 0
			for _, n := range tc.sizes {
				total += n
			}
			obs := &sizeObserver{}
			p := &Pipeline{
				Sources: []SourceNode{{Name: "a", Source: &batchSource{schema: keyed("a.public.t"), sizes: tc.sizes, pad: tc.pad}}},
				Sinks:   []SinkNode{{Name: "s", Sink: sink, Inputs: []string{"a"}, Batch: tc.batch}},
				Store:   &memStore{},
				Options: Options{Observer: obs},
			}
			if err := runUntil(t, p, strconv.Itoa(total)); err != nil {
				t.Fatal(err)
			}
			checkIDs(t, sink.all(), total, nil)
			obs.check(t, len(tc.sizes), len(sink.writes))
			for _, w := range sink.writes {
				if len(w) > tc.max || len(w) == 0 {
					t.Fatalf("a write of %d events; limit %d", len(w), tc.max)
				}
			}
		})
	}
}

// sizeObserver checks the sizes the engine hands its observers, which
// they no longer take themselves: each emitted batch's and each write's
// must be exactly its events' event.Size sum, whether the write is one
// delivery, several coalesced, or a part of a split one.
type sizeObserver struct {
	mu            sync.Mutex
	emits, writes int
	one           int64 // event.Size of every event (batchSource's are alike)
	bad           []string
}

func (o *sizeObserver) ObserveEmit(_ string, evs []event.Event, size int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.emits++
	var want int64
	for i := range evs {
		es := int64(evs[i].Size())
		if o.one == 0 {
			o.one = es
		}
		if es != o.one {
			o.bad = append(o.bad, fmt.Sprintf("an event of %d bytes among events of %d", es, o.one))
		}
		want += es
	}
	if size != want {
		o.bad = append(o.bad, fmt.Sprintf("emit of %d events: size %d, want %d", len(evs), size, want))
	}
}

// ObserveWrite runs after the emits of the events it writes.
func (o *sizeObserver) ObserveWrite(_ string, n int, size int64, _ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writes++
	if want := int64(n) * o.one; err != nil || size != want {
		o.bad = append(o.bad, fmt.Sprintf("write of %d events: size %d, want %d (err %v)", n, size, want, err))
	}
}

func (o *sizeObserver) check(t *testing.T, emits, writes int) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.emits != emits || o.writes != writes || len(o.bad) > 0 {
		t.Fatalf("observed %d emits (want %d), %d writes (want %d); wrong sizes: %q", o.emits, emits, o.writes, writes, o.bad)
	}
}

func TestLingerWaitsForMore(t *testing.T) {
	sink := &recSink{}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: &batchSource{schema: keyed("a.public.t"), sizes: []int{1, 1, 1, 1, 1, 1}}}},
		// The linger is far longer than the test: the first write happens
		// only because it reached max_events.
		Sinks: []SinkNode{{Name: "s", Sink: sink, Inputs: []string{"a"}, Batch: Batch{MaxEvents: 5, Linger: time.Hour}}},
		Store: &memStore{},
		// Room for the 5 one-event batches the write waits for.
		Options: Options{MaxInflight: 6},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, p) }()
	waitFor(t, "the first write", func() bool { return len(sink.all()) > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(sink.writes[0]) != 5 {
		t.Fatalf("first write had %d events; linger should have gathered 5", len(sink.writes[0]))
	}
}

func TestRejectedEventsGoToDeadLetter(t *testing.T) {
	reject := func(id int64) bool { return id%7 == 0 }
	sink, dl := &recSink{reject: reject}, &dlSink{}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: &batchSource{schema: keyed("a.public.t"), sizes: []int{10, 10, 30}}}},
		Sinks:   []SinkNode{{Name: "search", Sink: sink, Inputs: []string{"a"}, DeadLetter: dl}},
		Store:   &memStore{},
		Options: Options{Encoder: debeziumEncoder},
	}
	if err := runUntil(t, p, "50"); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, sink.all(), 50, reject)
	if len(dl.recs) != 7 {
		t.Fatalf("%d dead-letter records, want 7", len(dl.recs))
	}
	r := dl.recs[0]
	if r.Schema.Stream != "a.sluice.dead_letter" || r.Op != event.OpCreate || r.Position != "lsn 0/7" {
		t.Fatalf("record %s at %s", r.Schema.Stream, r.Position)
	}
	var got []string
	for _, v := range r.After {
		got = append(got, v.Text())
	}
	want := []string{"search", "mapper_parsing_exception: failed to parse field [id] of document 7", "lsn 0/7", "a.public.t", "c",
		`{"id":7}`,
		`{"before":null,"after":{"id":7,"pad":null},"source":{"version":"2.7.3.Final","connector":"","name":"a","ts_ms":0,"snapshot":"false","db":"","sequence":null,"ts_us":0,"ts_ns":0,"schema":"public","table":"t"},"transaction":null,"op":"c","ts_ms":0,"ts_us":0,"ts_ns":0}`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("dead-letter record\n got %q\nwant %q", got, want)
	}
}

func TestRejectedEventWithoutDeadLetterStops(t *testing.T) {
	sink := &recSink{reject: func(id int64) bool { return id == 15 || id == 17 }}
	st := &memStore{}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: &batchSource{schema: keyed("a.public.t"), sizes: []int{10, 10, 10}}}},
		Sinks:   []SinkNode{{Name: "search", Sink: sink, Inputs: []string{"a"}, Batch: Batch{MaxEvents: 10}}},
		Store:   st,
	}
	err := Run(context.Background(), p)
	want := "sink search rejected c a.public.t at lsn 0/F (key 15): mapper_parsing_exception: failed to parse field [id] of document 15; 2 event(s) rejected in this write; stopping with the checkpoint before it (hint: fix the cause and restart, or set dead_letter: on the sink to set rejected events aside and go on)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if cp, _ := st.Checkpoint("a"); string(cp) != "10" && cp != nil {
		t.Fatalf("checkpoint moved to %q past the rejected batch", cp)
	}
}

func TestDeadLetterOutOfRangeIndexIsABug(t *testing.T) {
	bad := sinkFunc(func(evs []event.Event) error {
		return component.RecordErrors{{Index: len(evs), Err: errors.New("x")}}
	})
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: &batchSource{schema: keyed("a.public.t"), sizes: []int{3}}}},
		Sinks:   []SinkNode{{Name: "s", Sink: bad, Inputs: []string{"a"}, DeadLetter: &dlSink{}}},
		Store:   &memStore{},
	}
	err := Run(context.Background(), p)
	if err == nil || err.Error() != "sink s: rejected event index 3 out of range (a bug in the sink): 1 event rejected: event 3: x" {
		t.Fatalf("err = %v", err)
	}
}

type sinkFunc func([]event.Event) error

func (f sinkFunc) Write(_ context.Context, evs []event.Event) error { return f(evs) }
func (f sinkFunc) Close(context.Context) error                      { return nil }

// debeziumEncoder is what app passes as Options.Encoder.
func debeziumEncoder() Encoder {
	enc, err := format.New(format.DefaultOptions())
	if err != nil {
		panic(err)
	}
	return enc
}
