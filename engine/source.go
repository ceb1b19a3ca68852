package engine

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// ticket tracks one emitted batch until every sink has acknowledged it.
type ticket struct {
	src     *sourceRun
	cp      []byte
	pending atomic.Int32
	done    bool // guarded by src.mu
}

// ack records one sink's acknowledgement.
func (t *ticket) ack() {
	if t.pending.Add(-1) == 0 {
		t.src.complete(t)
	}
}

// delivery is a batch on its way to one sink.
type delivery struct {
	events []event.Event
	t      *ticket
	size   int64 // event.Size summed, +1; 0 until the sink runner computes it
}

// sourceRun is the engine's side of one source: its Emitter and its
// checkpointer.
type sourceRun struct {
	r    *run
	node SourceNode

	slots chan struct{} // one token per in-flight batch: the back-pressure

	emitMu  sync.Mutex // serialises Emit so batches enter sinks in order
	routes  map[*event.Schema][]bool
	stopped atomic.Bool

	mu struct {
		sync.Mutex
		window  []*ticket // emitted, in order, not yet released
		durable []byte    // newest checkpoint with everything before it acked
		dirty   bool      // durable changed since last persisted
		empty   *sync.Cond
	}
	wake     chan struct{} // wakes the committer
	finished chan struct{} // closed to make the committer do a last pass and exit

	Events atomic.Int64 // events emitted, for metrics and progress
}

var _ component.Emitter = (*sourceRun)(nil)

func newSourceRun(r *run, n SourceNode, cp []byte) *sourceRun {
	s := &sourceRun{
		r: r, node: n,
		slots:    make(chan struct{}, r.p.Options.MaxInflight),
		routes:   map[*event.Schema][]bool{},
		wake:     make(chan struct{}, 1),
		finished: make(chan struct{}),
	}
	s.mu.empty = sync.NewCond(&s.mu.Mutex)
	s.mu.durable = cp
	return s
}

// Emit implements component.Emitter.
func (s *sourceRun) Emit(ctx context.Context, events []event.Event, cp []byte) error {
	if s.stopped.Load() {
		return component.ErrStopped
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.r.fail:
		return component.ErrStopped
	}
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	if s.stopped.Load() {
		<-s.slots
		return component.ErrStopped
	}
	s.Events.Add(int64(len(events)))
	t := &ticket{src: s, cp: cp}
	per := s.split(events)
	var n int32
	for _, evs := range per {
		if len(evs) > 0 {
			n++
		}
	}
	t.pending.Store(n)
	s.mu.Lock()
	s.mu.window = append(s.mu.window, t)
	s.mu.Unlock()
	if n == 0 {
		s.complete(t)
		return nil
	}
	for i, evs := range per {
		if len(evs) > 0 {
			// The channel holds at most MaxInflight deliveries per source,
			// so this send never blocks.
			s.r.sinks[i].in <- &delivery{events: evs, t: t}
		}
	}
	return nil
}

// split divides events among the sinks; a sink that takes every event
// shares the caller's slice.
func (s *sourceRun) split(events []event.Event) [][]event.Event {
	nsinks := len(s.r.sinks)
	per := make([][]event.Event, nsinks)
	if len(events) == 0 {
		return per
	}
	// Fast path: every event of one schema (the common case).
	first := events[0].Schema
	same := true
	for i := range events {
		if events[i].Schema != first {
			same = false
			break
		}
	}
	if same {
		rt := s.routeOf(first)
		for i := range per {
			if rt[i] {
				per[i] = events
			}
		}
		return per
	}
	all := make([]bool, nsinks)
	for i := range all {
		all[i] = true
	}
	for i := range events {
		rt := s.routeOf(events[i].Schema)
		for j := range all {
			all[j] = all[j] && rt[j]
		}
	}
	for j := range per {
		if all[j] {
			per[j] = events
			continue
		}
		for i := range events {
			if s.routeOf(events[i].Schema)[j] {
				per[j] = append(per[j], events[i])
			}
		}
	}
	return per
}

func (s *sourceRun) routeOf(sc *event.Schema) []bool {
	rt, ok := s.routes[sc]
	if !ok {
		rt = s.r.route(s.node.Name, sc)
		s.routes[sc] = rt
	}
	return rt
}

// complete marks t acknowledged by every sink and releases the window head
// while it is acknowledged, advancing the durable checkpoint.
func (s *sourceRun) complete(t *ticket) {
	s.mu.Lock()
	t.done = true
	released := 0
	for len(s.mu.window) > 0 && s.mu.window[0].done {
		h := s.mu.window[0]
		s.mu.window[0] = nil
		s.mu.window = s.mu.window[1:]
		if h.cp != nil {
			s.mu.durable = h.cp
			s.mu.dirty = true
		}
		released++
	}
	if len(s.mu.window) == 0 {
		s.mu.empty.Broadcast()
	}
	dirty := s.mu.dirty
	s.mu.Unlock()
	for range released {
		<-s.slots
	}
	if dirty {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// stop makes further Emits fail; batches already emitted still drain.
func (s *sourceRun) stop() {
	s.stopped.Store(true)
}

// waitEmpty blocks until every emitted batch is acknowledged, the run
// failed, or stop is closed.
func (s *sourceRun) waitEmpty(stop <-chan struct{}) {
	go func() {
		select {
		case <-s.r.fail:
		case <-stop:
		}
		s.mu.Lock()
		s.mu.empty.Broadcast()
		s.mu.Unlock()
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.mu.window) > 0 {
		select {
		case <-s.r.fail:
			return
		case <-stop:
			return
		default:
		}
		s.mu.empty.Wait()
	}
}

// finish makes the committer persist the last durable checkpoint and exit.
func (s *sourceRun) finish() { close(s.finished) }

// commitLoop persists durable checkpoints and then tells the source.
func (s *sourceRun) commitLoop(ctx context.Context) {
	for {
		select {
		case <-s.wake:
			s.commitOnce(ctx)
		case <-s.finished:
			s.commitOnce(ctx)
			return
		}
	}
}

func (s *sourceRun) commitOnce(ctx context.Context) {
	s.mu.Lock()
	cp, dirty := s.mu.durable, s.mu.dirty
	s.mu.dirty = false
	s.mu.Unlock()
	if !dirty {
		return
	}
	if err := s.r.p.Store.SetCheckpoint(s.node.Name, cp); err != nil {
		s.r.fatal(err)
		return
	}
	if err := s.node.Source.Committed(ctx, cp); err != nil {
		// The checkpoint is persisted; the source will be told again with
		// the next one. Not fatal: upstream merely holds resources longer.
		s.r.log.Warn("source could not release upstream position", "source", s.node.Name, "err", err)
	}
}
