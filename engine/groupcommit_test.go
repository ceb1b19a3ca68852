package engine

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// stepSource emits one batch of one event (checkpoint = its id) per value
// received on next, and reports each Emit's return on emitted.
type stepSource struct {
	schema  *event.Schema
	next    chan int64
	emitted chan int64
}

func (s *stepSource) Run(ctx context.Context, _ []byte, out component.Emitter) error {
	for {
		select {
		case id := <-s.next:
			ev := []event.Event{{Op: event.OpCreate, Schema: s.schema, After: []event.Value{event.Int(id)}}}
			if err := out.Emit(ctx, ev, []byte(strconv.FormatInt(id, 10))); err != nil {
				return err
			}
			s.emitted <- id
		case <-ctx.Done():
			return nil
		}
	}
}
func (s *stepSource) Committed(context.Context, []byte) error { return nil }
func (s *stepSource) Close() error                            { return nil }

// gateSink records the ids of each write; every write first signals
// entered, then waits for a token on gate.
type gateSink struct {
	entered chan struct{}
	gate    chan struct{}
	mu      sync.Mutex
	writes  [][]int64
}

func (g *gateSink) Write(ctx context.Context, evs []event.Event) error {
	g.entered <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	ids := make([]int64, len(evs))
	for i := range evs {
		ids[i] = evs[i].After[0].AsInt()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writes = append(g.writes, ids)
	return nil
}
func (g *gateSink) Close(context.Context) error { return nil }

// Group commit: the batches a source emits while the sink's write (and its
// fsync) is in flight make the next write together, within the sink's batch
// limits, so the write rate follows the load; the checkpoint follows the
// writes that hold it.
func TestBatchesCoalesceWhileSinkWrites(t *testing.T) {
	for _, tc := range []struct {
		name   string
		batch  Batch
		writes [][]int64
	}{
		{"unbounded", Batch{}, [][]int64{{1}, {2, 3, 4, 5, 6}}},
		{"max_events", Batch{MaxEvents: 3}, [][]int64{{1}, {2, 3, 4}, {5, 6}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &stepSource{schema: schema("a.public.t"), next: make(chan int64), emitted: make(chan int64, 10)}
			sink := &gateSink{entered: make(chan struct{}, 10), gate: make(chan struct{})}
			st := &memStore{}
			p := &Pipeline{
				Sources: []SourceNode{{Name: "a", Source: src}},
				Sinks:   []SinkNode{{Name: "s", Sink: sink, Inputs: []string{"a"}, Batch: tc.batch}},
				Store:   st,
				// Six batches in flight at once: one written, five queued.
				Options: Options{MaxInflight: 6},
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Run(ctx, p) }()

			src.next <- 1
			<-src.emitted
			<-sink.entered // the first write is in flight, holding batch 1
			for id := int64(2); id <= 6; id++ {
				src.next <- id
				<-src.emitted // queued for the sink while it writes
			}
			// Every write is still held at the gate, so nothing is durable:
			// no checkpoint may have been committed yet.
			st.mu.Lock()
			early := slices.Clone(st.log)
			st.mu.Unlock()
			if len(early) > 0 {
				t.Fatalf("checkpoints %q committed before any write returned", early)
			}
			close(sink.gate)
			waitFor(t, "checkpoint 6", func() bool { cp, _ := st.Checkpoint("a"); return string(cp) == "6" })
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if !slices.EqualFunc(sink.writes, tc.writes, slices.Equal) {
				t.Fatalf("writes %v, want %v", sink.writes, tc.writes)
			}
			st.mu.Lock()
			defer st.mu.Unlock()
			// Once the writes return, the committer may see the second
			// write's deliveries acknowledged one by one, so any of 1..6
			// may be committed on the way, but only in increasing order.
			for i, c := range st.log {
				n, err := strconv.Atoi(strings.TrimPrefix(c, "a="))
				if err != nil || n < 1 || n > 6 || i > 0 && c <= st.log[i-1] {
					t.Fatalf("checkpoints %q: %q is not one of a=1..a=6, or is out of order", st.log, c)
				}
			}
		})
	}
}

// gateStore is a checkpoint store whose SetCheckpoint reports each call on
// entered and then waits for a token on release (nil: returns at once).
type gateStore struct {
	memStore
	entered chan string
	release chan struct{}
}

func (g *gateStore) SetCheckpoint(s string, cp []byte) error {
	g.entered <- s + "=" + string(cp)
	if g.release != nil {
		<-g.release
	}
	return g.memStore.SetCheckpoint(s, cp)
}

// pendingCheckpoint is the newest checkpoint of r's first source with
// every batch before it acknowledged (what the next commit stores).
func pendingCheckpoint(r *Runner) string {
	s := r.sources[0]
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.mu.durable)
}

func expectEntered(t *testing.T, st *gateStore, want string) {
	t.Helper()
	select {
	case got := <-st.entered:
		if got != want {
			t.Fatalf("checkpoint write %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no checkpoint write; want %q", want)
	}
}

// Group commit of checkpoints: the acknowledgements that arrive while a
// checkpoint write is in flight make one more write, of the newest
// checkpoint, not one write each; and nothing is written before the
// batches it covers are acknowledged.
func TestCheckpointWritesCoalesceWhileOneIsInFlight(t *testing.T) {
	src := &stepSource{schema: schema("a.public.t"), next: make(chan int64), emitted: make(chan int64, 10)}
	sink := &gateSink{entered: make(chan struct{}, 10), gate: make(chan struct{})}
	st := &gateStore{entered: make(chan string, 10), release: make(chan struct{})}
	p := &Pipeline{
		Sources: []SourceNode{{Name: "a", Source: src}},
		// One write per batch, so each batch is acknowledged on its own.
		Sinks:   []SinkNode{{Name: "s", Sink: sink, Inputs: []string{"a"}, Batch: Batch{MaxEvents: 1}}},
		Store:   st,
		Options: Options{MaxInflight: 8},
	}
	r := New(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	src.next <- 1
	<-src.emitted
	<-sink.entered
	select {
	case cp := <-st.entered:
		t.Fatalf("checkpoint %q written while its batch was still being written", cp)
	default:
	}
	sink.gate <- struct{}{}
	expectEntered(t, st, "a=1") // held in flight
	for id := int64(2); id <= 6; id++ {
		src.next <- id
		<-src.emitted
		<-sink.entered
		sink.gate <- struct{}{}
	}
	waitFor(t, "batches 2..6 acknowledged", func() bool { return pendingCheckpoint(r) == "6" })
	st.release <- struct{}{} // "a=1" returns
	expectEntered(t, st, "a=6")
	st.release <- struct{}{}
	cancel()
	close(st.release) // the final commit, if any, returns at once
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if want := []string{"a=1", "a=6"}; !slices.Equal(st.log, want) {
		t.Fatalf("checkpoint writes %q, want %q", st.log, want)
	}
}
