package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/store"
)

// keepProc keeps the events whose id satisfies keep, and rejects those
// whose id satisfies reject one by one.
type keepProc struct {
	keep, reject func(int64) bool
	calls        int
}

func (k *keepProc) Process(_ context.Context, in, out []event.Event) ([]event.Event, error) {
	k.calls++
	var rejected component.RecordErrors
	for i, e := range in {
		id := e.After[0].AsInt()
		switch {
		case k.reject != nil && k.reject(id):
			rejected = append(rejected, component.RecordError{Index: i, Err: fmt.Errorf("cannot evaluate id %d", id)})
		case k.keep == nil || k.keep(id):
			out = append(out, e)
		}
	}
	if rejected != nil {
		return out, rejected
	}
	return out, nil
}
func (k *keepProc) Close() error { return nil }

// renameProc moves every event to stream "<prefix><table>".
type renameProc struct {
	prefix  string
	schemas map[*event.Schema]*event.Schema
}

func (r *renameProc) Process(_ context.Context, in, out []event.Event) ([]event.Event, error) {
	if r.schemas == nil {
		r.schemas = map[*event.Schema]*event.Schema{}
	}
	for _, e := range in {
		sc := r.schemas[e.Schema]
		if sc == nil {
			c := *e.Schema
			c.Stream = r.prefix + e.Schema.Table
			sc = &c
			r.schemas[e.Schema] = sc
		}
		e.Schema = sc
		out = append(out, e)
	}
	return out, nil
}
func (r *renameProc) Close() error { return nil }

func ids(evs []int64) string {
	var b strings.Builder
	for i, id := range evs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

func TestProcessorsRouteByNameAndNamedStreams(t *testing.T) {
	even := func(id int64) bool { return id%2 == 0 }
	raw, glob, evens, renamed, both := &recSink{}, &recSink{}, &recSink{}, &recSink{}, &recSink{}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: &batchSource{schema: keyed("a.public.t"), sizes: []int{3, 4, 3}}}},
		Processors: []ProcessorNode{
			// Listed before its input: the engine runs processors in order.
			{Name: "topics", Processor: &renameProc{prefix: "out_"}, Inputs: []string{"even"}, NamesStreams: true},
			{Name: "even", Processor: &keepProc{keep: even}, Inputs: []string{"a"}},
		},
		Sinks: []SinkNode{
			{Name: "raw", Sink: raw, Inputs: []string{"a"}},
			{Name: "glob", Sink: glob, Inputs: []string{"a.public.*"}}, // not the filter's copy
			{Name: "evens", Sink: evens, Inputs: []string{"even"}},
			{Name: "renamed", Sink: renamed, Inputs: []string{"out_*"}},
			{Name: "both", Sink: both, Inputs: []string{"a", "topics"}},
		},
		Store: &memStore{},
	}
	if err := runUntil(t, p, "10"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		s    *recSink
		want string
	}{
		{"raw", raw, "1,2,3,4,5,6,7,8,9,10"},
		{"glob", glob, "1,2,3,4,5,6,7,8,9,10"},
		{"evens", evens, "2,4,6,8,10"},
		{"renamed", renamed, "2,4,6,8,10"},
		{"both", both, "1,2,3,2,4,5,6,7,4,6,8,9,10,8,10"},
	} {
		if got := ids(c.s.all()); got != c.want {
			t.Errorf("sink %s got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestProcessorRejectsToDeadLetterOrStops(t *testing.T) {
	seven := func(id int64) bool { return id == 7 || id == 14 }
	out, dl := &recSink{}, &dlSink{}
	p := &Pipeline{
		Sources:    []SourceNode{{Name: "a", Source: &batchSource{schema: keyed("a.public.t"), sizes: []int{10, 10}}}},
		Processors: []ProcessorNode{{Name: "f", Processor: &keepProc{reject: seven}, Inputs: []string{"a"}, DeadLetter: dl}},
		Sinks:      []SinkNode{{Name: "out", Sink: out, Inputs: []string{"f"}}},
		Store:      &memStore{},
		Options:    Options{Encoder: debeziumEncoder},
	}
	if err := runUntil(t, p, "20"); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, out.all(), 20, seven)
	var got []string
	for _, r := range dl.recs {
		got = append(got, r.After[0].Text()+": "+r.After[1].Text()+" at "+r.After[2].Text())
	}
	want := []string{"f: cannot evaluate id 7 at lsn 0/7", "f: cannot evaluate id 14 at lsn 0/E"}
	if !slices.Equal(got, want) {
		t.Fatalf("dead letters %q, want %q", got, want)
	}

	// Without a dead letter the pipeline stops before the batch.
	st := &memStore{}
	p = &Pipeline{
		Sources:    []SourceNode{{Name: "a", Source: &batchSource{schema: keyed("a.public.t"), sizes: []int{5, 5}}}},
		Processors: []ProcessorNode{{Name: "f", Processor: &keepProc{reject: seven}, Inputs: []string{"a"}}},
		Sinks:      []SinkNode{{Name: "out", Sink: &recSink{}, Inputs: []string{"f"}}},
		Store:      st,
	}
	err := Run(context.Background(), p)
	wantErr := "processor f rejected c a.public.t at lsn 0/7 (key 7): cannot evaluate id 7; 1 event(s) rejected in this batch; stopping with the checkpoint before it (hint: fix the cause and restart, or set dead_letter: on the processor to set rejected events aside and go on)"
	if err == nil || err.Error() != wantErr {
		t.Fatalf("got %v\nwant %s", err, wantErr)
	}
	// The checkpoint never covers the rejected batch (ids 6..10). Whether
	// it covers the batch before it (ids 1..5, checkpoint "5") depends on
	// whether that batch's write finished before the failure stopped the
	// sinks: a failed run does not drain (Runner.Run), so both are right.
	if cp, _ := st.Checkpoint("a"); string(cp) != "5" && len(cp) != 0 {
		t.Fatalf("checkpoint %q, want 5 or none", cp)
	}
}

// scriptSource emits the batches the test sends it; a batch's checkpoint
// "" means none (the batch ends inside a transaction).
type scriptSource struct {
	schema    *event.Schema
	batches   chan scriptBatch
	emitted   chan struct{} // one token per batch, once Emit returned
	committed chan string
}

// emit hands the source a batch and waits until it is emitted.
func (s *scriptSource) emit(ids []int64, cp string) {
	s.batches <- scriptBatch{ids, cp}
	<-s.emitted
}

type scriptBatch struct {
	ids []int64
	cp  string
}

func (s *scriptSource) Run(ctx context.Context, _ []byte, out component.Emitter) error {
	for {
		select {
		case b := <-s.batches:
			evs := make([]event.Event, len(b.ids))
			for i, id := range b.ids {
				evs[i] = event.Event{Op: event.OpCreate, Schema: s.schema, After: []event.Value{event.Int(id), event.Null}}
			}
			var cp []byte
			if b.cp != "" {
				cp = []byte(b.cp)
			}
			if err := out.Emit(ctx, evs, cp); err != nil {
				return err
			}
			s.emitted <- struct{}{}
		case <-ctx.Done():
			return nil
		}
	}
}
func (s *scriptSource) Committed(_ context.Context, cp []byte) error {
	s.committed <- string(cp)
	return nil
}
func (s *scriptSource) Close() error { return nil }

// countState is an in-memory OperatorState that records its epochs.
type countState struct {
	mu     sync.Mutex
	epoch  uint64
	byEp   map[uint64]int // changes per epoch
	kv     map[string][]byte
	commit uint64
}

func (c *countState) Get(k []byte) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.kv[string(k)]
	return v, ok, nil
}
func (c *countState) Set(k, v []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kv[string(k)] = append([]byte(nil), v...)
	c.byEp[c.epoch]++
	return nil
}
func (c *countState) Delete(k []byte) error                             { return errors.ErrUnsupported }
func (c *countState) DeleteRange(a, b []byte) error                     { return errors.ErrUnsupported }
func (c *countState) Begin(e uint64)                                    { c.mu.Lock(); c.epoch = e; c.mu.Unlock() }
func (c *countState) Committed() uint64                                 { return c.commit }
func (c *countState) Scan(a, b []byte, fn func(k, v []byte) bool) error { return errors.ErrUnsupported }

// countProc counts its inputs in its state under key "n".
type countProc struct{ st *countState }

func (c *countProc) Process(_ context.Context, in, out []event.Event) ([]event.Event, error) {
	v, _, _ := c.st.Get([]byte("n"))
	n, _ := strconv.Atoi(string(v))
	n += len(in)
	_ = c.st.Set([]byte("n"), []byte(strconv.Itoa(n)))
	return append(out, in...), nil
}
func (c *countProc) Close() error { return nil }

// commitStore records commits.
type commitStore struct {
	memStore
	mu      sync.Mutex
	commits []store.Commit
}

func (s *commitStore) Commit(c store.Commit) error {
	s.mu.Lock()
	s.commits = append(s.commits, c)
	s.mu.Unlock()
	for k, v := range c.Checkpoints {
		_ = s.SetCheckpoint(k, v)
	}
	return nil
}

func TestStatefulGroupCommitsConsistentCuts(t *testing.T) {
	st := &countState{byEp: map[uint64]int{}, kv: map[string][]byte{}, commit: 41}
	a := &scriptSource{schema: keyed("a.public.t"), batches: make(chan scriptBatch), emitted: make(chan struct{}), committed: make(chan string, 10)}
	b := &scriptSource{schema: keyed("b.public.t"), batches: make(chan scriptBatch), emitted: make(chan struct{}), committed: make(chan string, 10)}
	gate := make(chan struct{}, 100)
	out := &memSink{gate: gate}
	cs := &commitStore{}
	p := &Pipeline{
		Sources:    []SourceNode{{Name: "a", Source: a}, {Name: "b", Source: b}},
		Processors: []ProcessorNode{{Name: "count", Processor: &countProc{st: st}, Inputs: []string{"a", "b"}, State: st}},
		Sinks:      []SinkNode{{Name: "out", Sink: out, Inputs: []string{"count"}}},
		Store:      cs,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, p) }()

	// Epochs start after the state's committed one: 42, 43, ...
	a.emit([]int64{1}, "a1") // 42 clean
	b.emit([]int64{2}, "")   // 43 b inside a transaction
	a.emit([]int64{3}, "a2") // 44
	gate <- struct{}{}
	gate <- struct{}{}
	gate <- struct{}{}
	// Only the cut at 42 is clean: at 43 and 44, b is inside its transaction.
	if got := <-a.committed; got != "a1" {
		t.Fatalf("a committed %s, want a1", got)
	}
	b.emit([]int64{4}, "b1") // 45: b's transaction ends
	gate <- struct{}{}
	if got := <-a.committed; got != "a2" {
		t.Fatalf("a committed %s, want a2", got)
	}
	if got := <-b.committed; got != "b1" {
		t.Fatalf("b committed %s, want b1", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var got []string
	for _, c := range cs.commits {
		var cps []string
		for _, k := range []string{"a", "b"} {
			if v, ok := c.Checkpoints[k]; ok {
				cps = append(cps, k+"="+string(v))
			}
		}
		got = append(got, fmt.Sprintf("epoch %d %v %s", c.Epoch, c.Processors, strings.Join(cps, " ")))
	}
	want := []string{"epoch 42 [count] a=a1", "epoch 45 [count] a=a2 b=b1"}
	if !slices.Equal(got, want) {
		t.Fatalf("commits %q, want %q", got, want)
	}
	if st.byEp[42] != 1 || st.byEp[43] != 1 || st.byEp[44] != 1 || st.byEp[45] != 1 {
		t.Fatalf("state changes per epoch: %v", st.byEp)
	}
	if v, _, _ := st.Get([]byte("n")); string(v) != "4" {
		t.Fatalf("count %s", v)
	}
}

func TestPauseHoldsSources(t *testing.T) {
	src := &countSource{schema: schema("a.public.t"), n: 1000, committed: make(chan string, 1000)}
	sink := &memSink{}
	p := &Pipeline{Sources: []SourceNode{{Name: "a", Source: src}}, Sinks: []SinkNode{{Name: "s", Sink: sink, Inputs: []string{"a"}}}, Store: &memStore{}}
	r := New(p)
	r.Pause()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	// Nothing passes the gate while paused: the source is blocked in its
	// first Emit, which the sink never sees.
	waitFor(t, "the source to start", func() bool { return r.Paused() })
	select {
	case err := <-done:
		t.Fatalf("run ended while paused: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if n := sink.count(); n != 0 {
		t.Fatalf("sink got %d events while paused", n)
	}
	r.Resume()
	waitFor(t, "every event", func() bool { return sink.count() == 1000 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// bufProc passes every event on and records the array of each out slice
// it was given; after its third batch it closes third.
type bufProc struct {
	mu     sync.Mutex
	arrays []*event.Event
	third  chan struct{}
}

func newBufProc() *bufProc { return &bufProc{third: make(chan struct{})} }

func (b *bufProc) Process(_ context.Context, in, out []event.Event) ([]event.Event, error) {
	b.mu.Lock()
	b.arrays = append(b.arrays, &out[:1][0])
	if len(b.arrays) == 3 {
		close(b.third)
	}
	b.mu.Unlock()
	return append(out, in...), nil
}
func (b *bufProc) Close() error { return nil }

// distinct counts the different arrays bufProc was given.
func (b *bufProc) distinct() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[*event.Event]bool{}
	for _, a := range b.arrays {
		seen[a] = true
	}
	return len(seen)
}

// heldSink writes nothing until gate is closed, so the engine has
// processed later batches while it holds the first: it reads any reuse of
// an array it was handed.
type heldSink struct {
	gate chan struct{}
	recSink
}

func (g *heldSink) Write(ctx context.Context, evs []event.Event) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.recSink.Write(ctx, evs)
}

// TestProcessorOutputBuffersReused checks that a processor's output that
// only other processors read is built, batch after batch, in the same
// array, and that an output a sink takes never is, even while the sink
// has not written it yet.
func TestProcessorOutputBuffersReused(t *testing.T) {
	// first → second → sink: first's output reaches only second.
	first, second := newBufProc(), newBufProc()
	sink := &heldSink{gate: second.third}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: &batchSource{schema: keyed("a.public.t"), sizes: []int{3, 4, 3}}}},
		Processors: []ProcessorNode{
			{Name: "first", Processor: first, Inputs: []string{"a"}},
			{Name: "second", Processor: second, Inputs: []string{"first"}},
		},
		Sinks: []SinkNode{{Name: "out", Sink: sink, Inputs: []string{"second"}}},
		Store: &memStore{},
	}
	if err := runUntil(t, p, "10"); err != nil {
		t.Fatal(err)
	}
	if got := ids(sink.all()); got != "1,2,3,4,5,6,7,8,9,10" {
		t.Errorf("sink got %s", got)
	}
	// The second batch (4 events) outgrows the first's array of 3.
	if n := first.distinct(); n != 2 {
		t.Errorf("first was given %d arrays for 3 batches, want 2 (the second's reused for the third)", n)
	}
	if n := second.distinct(); n != 3 {
		t.Errorf("second, whose output the sink takes, was given %d arrays for 3 batches, want 3", n)
	}

	// A sink on first too: first's output must not be reused.
	first, second = newBufProc(), newBufProc()
	sink, direct := &heldSink{gate: second.third}, &heldSink{gate: second.third}
	p = &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: &batchSource{schema: keyed("a.public.t"), sizes: []int{4, 3, 3}}}},
		Processors: []ProcessorNode{
			{Name: "first", Processor: first, Inputs: []string{"a"}},
			{Name: "second", Processor: second, Inputs: []string{"first"}},
		},
		Sinks: []SinkNode{
			{Name: "out", Sink: sink, Inputs: []string{"second"}},
			{Name: "direct", Sink: direct, Inputs: []string{"first"}},
		},
		Store: &memStore{},
	}
	if err := runUntil(t, p, "10"); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*heldSink{"out": sink, "direct": direct} {
		if got := ids(s.all()); got != "1,2,3,4,5,6,7,8,9,10" {
			t.Errorf("sink %s got %s", name, got)
		}
	}
	if n := first.distinct(); n != 3 {
		t.Errorf("first, whose output a sink takes, was given %d arrays for 3 batches, want 3", n)
	}
}

// passProc breaks Processor's contract: it returns its input.
type passProc struct{}

func (passProc) Process(_ context.Context, in, _ []event.Event) ([]event.Event, error) {
	return in, nil
}
func (passProc) Close() error { return nil }

// TestProcessorOutputReturnedAsIsNotReused checks that an output a sink
// receives through a processor that returns its input as it is (against
// the contract) is not reused either.
func TestProcessorOutputReturnedAsIsNotReused(t *testing.T) {
	first := newBufProc()
	sink := &heldSink{gate: first.third}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: &batchSource{schema: keyed("a.public.t"), sizes: []int{4, 3, 3}}}},
		Processors: []ProcessorNode{
			{Name: "first", Processor: first, Inputs: []string{"a"}},
			{Name: "pass", Processor: passProc{}, Inputs: []string{"first"}},
		},
		Sinks: []SinkNode{{Name: "out", Sink: sink, Inputs: []string{"pass"}}},
		Store: &memStore{},
	}
	if err := runUntil(t, p, "10"); err != nil {
		t.Fatal(err)
	}
	if got := ids(sink.all()); got != "1,2,3,4,5,6,7,8,9,10" {
		t.Errorf("sink got %s", got)
	}
	if n := first.distinct(); n != 3 {
		t.Errorf("first, whose output reached a sink as it was, was given %d arrays for 3 batches, want 3", n)
	}
}
