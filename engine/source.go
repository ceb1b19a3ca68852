package engine

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// ticket tracks one emitted batch until every sink has acknowledged every
// event derived from it.
type ticket struct {
	src     *sourceRun
	cp      []byte
	epoch   uint64
	newest  int64 // source commit time (ms) of the batch's last event
	size    int64 // event.Size of the batch's events, summed: its share of MaxInflightBytes
	pending atomic.Int32
	done    bool // guarded by src.mu
	// release is the source's release function (component.ReleasingEmitter),
	// set only when the run can release batches (Runner.releases); called
	// by the last ack, once.
	release func()
}

// ack records one acknowledgement (a sink's, or the end of processing).
// The last one releases the batch's memory to its source: pending reaches
// 0 once, after every delivery of the batch was acknowledged and emit is
// done with it (see "Releasing batches" in the package doc).
func (t *ticket) ack() {
	if t.pending.Add(-1) == 0 {
		if rel := t.release; rel != nil {
			t.release = nil
			rel()
		}
		t.src.complete(t)
	}
}

// delivery is a batch on its way to one sink.
type delivery struct {
	events []event.Event
	t      *ticket
	size   int64 // event.Size summed, +1; 0 until the sink runner computes it
}

// released is a ticket released from a stateful group's source window,
// kept until a commit covers it.
type released struct {
	epoch uint64
	cp    []byte
}

// sourceRun is the engine's side of one source: its Emitter and its window
// of batches not yet acknowledged.
type sourceRun struct {
	r     *Runner
	node  SourceNode
	prod  *producer
	group *group

	slots chan struct{} // one token per in-flight batch: the back-pressure

	stopped atomic.Bool

	mu struct {
		sync.Mutex
		window  []*ticket // emitted, in order, not yet released
		durable []byte    // newest checkpoint with everything before it acked
		dirty   bool      // durable (or released) changed since last persisted
		// released holds, in stateful groups, the tickets released since
		// the last commit: the committer picks a cut among them.
		released []released
		newest   int64 // newest source time released, for lag
		empty    *sync.Cond
		// bytes is the size of the tickets in window: the back-pressure
		// by bytes (Options.MaxInflightBytes). freed, when not nil, is
		// closed (and cleared) when bytes goes down, for Emits waiting.
		bytes int64
		freed chan struct{}
	}

	Events atomic.Int64 // events emitted, for metrics and progress
}

var _ component.Emitter = (*sourceRun)(nil)

func newSourceRun(r *Runner, n SourceNode) *sourceRun {
	s := &sourceRun{r: r, node: n, slots: make(chan struct{}, r.p.Options.MaxInflight)}
	s.mu.empty = sync.NewCond(&s.mu.Mutex)
	return s
}

var (
	_ component.SizedEmitter     = (*sourceRun)(nil)
	_ component.ReleasingEmitter = (*sourceRun)(nil)
)

// Emit implements component.Emitter.
func (s *sourceRun) Emit(ctx context.Context, events []event.Event, cp []byte) error {
	return s.emit(ctx, events, cp, -1, nil)
}

// EmitSized implements component.SizedEmitter: size is eventsSize(events),
// taken by the source.
func (s *sourceRun) EmitSized(ctx context.Context, events []event.Event, cp []byte, size int64) error {
	return s.emit(ctx, events, cp, size, nil)
}

// EmitReleasing implements component.ReleasingEmitter: release is kept
// with the batch's ticket when the run can release batches
// (Runner.releases), else dropped.
func (s *sourceRun) EmitReleasing(ctx context.Context, events []event.Event, cp []byte, size int64, release func()) error {
	if size <= 0 {
		size = -1
	}
	if !s.r.releases {
		release = nil
	}
	return s.emit(ctx, events, cp, size, release)
}

// emit is Emit with the batch's size, or -1 when the source did not give
// it, and its release function (nil: none).
func (s *sourceRun) emit(ctx context.Context, events []event.Event, cp []byte, size int64, release func()) error {
	if s.stopped.Load() {
		return component.ErrStopped
	}
	if err := s.r.gate.wait(ctx, s.r.fail); err != nil {
		return err
	}
	// The size is taken once here (or by the source), for the byte cap
	// and for the sinks' batching (delivery.size), rather than by each
	// sink runner again.
	if size < 0 {
		size = eventsSize(events)
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.r.fail:
		return component.ErrStopped
	}
	if err := s.reserve(ctx, size); err != nil {
		<-s.slots
		return err
	}
	g := s.group
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.stopped.Load() {
		s.unreserve(size)
		<-s.slots
		return component.ErrStopped
	}
	s.Events.Add(int64(len(events)))
	if o := s.r.obs.emit; o != nil {
		o.ObserveEmit(s.node.Name, events, size)
	}
	t := &ticket{src: s, cp: cp, size: size, release: release}
	if len(events) > 0 {
		t.newest = events[len(events)-1].Source.TsMs()
	}
	// The ticket enters the window with its epoch before processing, held
	// by one pending count until its deliveries are out, so the committer
	// never sees an epoch whose ticket it does not know.
	t.pending.Store(1)
	s.mu.Lock()
	t.epoch = g.nextEpoch.Add(1) - 1
	s.mu.window = append(s.mu.window, t)
	s.mu.Unlock()
	for _, p := range g.stateful {
		p.node.State.Begin(t.epoch)
	}
	per, err := g.dispatch(ctx, s.prod, events)
	if err != nil {
		// The batch is never acknowledged: the checkpoint stays before it.
		s.r.fatal(err)
		return component.ErrStopped
	}
	var n int32
	for _, evs := range per {
		if len(evs) > 0 {
			n++
		}
	}
	t.pending.Add(n)
	for i, evs := range per {
		if len(evs) > 0 {
			// The channel holds at most MaxInflight deliveries per source,
			// so this send never blocks.
			d := &delivery{events: evs, t: t}
			if len(evs) == len(events) && &evs[0] == &events[0] {
				d.size = size + 1 // see deliverySize
			}
			s.r.sinks[i].in <- d
		}
	}
	t.ack() // processing done
	return nil
}

// reserve waits until size more bytes fit in the window
// (Options.MaxInflightBytes) and counts them. A batch that alone exceeds
// the cap is taken once the window is empty, so no batch waits forever.
func (s *sourceRun) reserve(ctx context.Context, size int64) error {
	limit := s.r.p.Options.MaxInflightBytes
	for {
		s.mu.Lock()
		if s.mu.bytes == 0 || s.mu.bytes+size <= limit {
			s.mu.bytes += size
			s.mu.Unlock()
			return nil
		}
		if s.mu.freed == nil {
			s.mu.freed = make(chan struct{})
		}
		freed := s.mu.freed
		s.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.r.fail:
			return component.ErrStopped
		}
	}
}

// unreserve gives back bytes reserved for a batch that never entered the
// window.
func (s *sourceRun) unreserve(size int64) {
	s.mu.Lock()
	s.mu.bytes -= size
	if s.mu.freed != nil {
		close(s.mu.freed)
		s.mu.freed = nil
	}
	s.mu.Unlock()
}

// complete marks t acknowledged by every sink and releases the window head
// while it is acknowledged, advancing the durable checkpoint.
func (s *sourceRun) complete(t *ticket) {
	stateful := len(s.group.stateful) > 0
	s.mu.Lock()
	t.done = true
	n := 0
	for len(s.mu.window) > 0 && s.mu.window[0].done {
		h := s.mu.window[0]
		s.mu.window[0] = nil
		s.mu.window = s.mu.window[1:]
		switch {
		case stateful:
			s.mu.released = append(s.mu.released, released{epoch: h.epoch, cp: h.cp})
			s.mu.dirty = true
		case h.cp != nil:
			s.mu.durable = h.cp
			s.mu.dirty = true
		}
		s.mu.newest = max(s.mu.newest, h.newest)
		s.mu.bytes -= h.size
		n++
	}
	if n > 0 && s.mu.freed != nil {
		close(s.mu.freed)
		s.mu.freed = nil
	}
	if len(s.mu.window) == 0 {
		s.mu.empty.Broadcast()
	}
	dirty := s.mu.dirty
	s.mu.Unlock()
	for range n {
		<-s.slots
	}
	if dirty {
		s.group.wakeUp()
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

// gate holds sources while the pipeline is paused.
type gate struct {
	mu     sync.Mutex
	open   chan struct{} // closed while not paused
	closed bool          // the run is stopping: never hold again
}

func (g *gate) init() {
	g.open = make(chan struct{})
	close(g.open)
}

func (g *gate) set(pause bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	isPaused := !isClosed(g.open)
	switch {
	case pause && !isPaused && !g.closed:
		g.open = make(chan struct{})
	case !pause && isPaused:
		close(g.open)
	}
}

func (g *gate) paused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !isClosed(g.open)
}

// close opens the gate for good (the run is stopping).
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if !isClosed(g.open) {
		close(g.open)
	}
}

func (g *gate) wait(ctx context.Context, fail <-chan struct{}) error {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	default:
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-fail:
		return component.ErrStopped
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
