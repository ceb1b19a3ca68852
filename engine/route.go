package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/topology"
)

// A producer is a node whose events are routed onward: a source or a
// processor. Its route cache belongs to its group and is only touched with
// the group's mutex held.
type producer struct {
	node   *topology.Node
	order  int // -1 for sources; the processor's index in run order
	group  *group
	routes map[*event.Schema]*route
}

// route lists the consumers of one (producer, schema): processors by
// run-order index and sinks by index.
type route struct {
	procs []int
	sinks []int
}

// procRunner is the engine's side of one processor.
type procRunner struct {
	r    *Runner
	node ProcessorNode
	prod *producer
	dl   *deadLetters
}

// build turns the pipeline's node lists into runners: processors in run
// order, producers with their route caches, and groups.
func (r *Runner) build() error {
	g := &topology.Graph{}
	srcNodes := make([]*topology.Node, len(r.p.Sources))
	for i, n := range r.p.Sources {
		srcNodes[i] = &topology.Node{Kind: topology.KindSource, Name: n.Name, ForeignStreams: n.ForeignStreams}
		g.Sources = append(g.Sources, srcNodes[i])
	}
	byName := map[*topology.Node]int{}
	for i, n := range r.p.Processors {
		tn := &topology.Node{Kind: topology.KindProcessor, Name: n.Name, Inputs: n.Inputs, NamesStreams: n.NamesStreams}
		g.Processors = append(g.Processors, tn)
		byName[tn] = i
	}
	order, err := g.Order()
	if err != nil {
		return err
	}
	for j, tn := range order {
		n := r.p.Processors[byName[tn]]
		p := &procRunner{r: r, node: n}
		p.prod = &producer{node: tn, order: j, routes: map[*event.Schema]*route{}}
		if n.DeadLetter != nil {
			p.dl = newDeadLetters(r.p.Options.Encoder)
		}
		if n.State != nil {
			if _, ok := r.p.Store.(Committer); !ok {
				return fmt.Errorf("processor %s keeps state, but the store cannot commit state with checkpoints", n.Name)
			}
		}
		r.procs = append(r.procs, p)
	}
	for _, n := range r.p.Sinks {
		s := &sinkRunner{node: n, r: r, in: make(chan *delivery, r.p.Options.MaxInflight*max(1, len(r.p.Sources)))}
		if n.DeadLetter != nil {
			s.dl = newDeadLetters(r.p.Options.Encoder)
		}
		r.sinks = append(r.sinks, s)
	}
	for i, n := range r.p.Sources {
		s := newSourceRun(r, n)
		s.prod = &producer{node: srcNodes[i], order: -1, routes: map[*event.Schema]*route{}}
		r.sources = append(r.sources, s)
	}
	r.groupNodes()
	r.releases = canRelease(r.p)
	return nil
}

// canRelease reports whether the engine may release a source's batches
// (component.ReleasingEmitter) once every sink acknowledged them: only
// when nothing but the processors, inside the emit, and the sinks read an
// event after it is emitted. Every processor must be stateless (a stateful
// one keeps values in its state) and declare component.KeepsNoEvents (its
// derived events may share its inputs' images, which is safe: they are
// delivered under the same ticket; but a cache keyed by a value's string
// would outlive the batch). Every sink must declare that it keeps nothing
// of an event after the write that received it (component.KeepsNoEvents).
// Dead-letter sinks need not: a dead-letter record holds copies (see
// deadLetters.wrap), written before the processor's Process or the sink's
// write returns.
func canRelease(p *Pipeline) bool {
	for _, n := range p.Processors {
		if n.State != nil {
			return false
		}
		k, ok := n.Processor.(component.KeepsNoEvents)
		if !ok || !k.KeepsNoEvents() {
			return false
		}
	}
	for _, n := range p.Sinks {
		k, ok := n.Sink.(component.KeepsNoEvents)
		if !ok || !k.KeepsNoEvents() {
			return false
		}
	}
	return true
}

// groupNodes puts sources that feed a common processor (directly or through
// other processors) into one group: the group's batches are processed one
// at a time, and with stateful processors its checkpoints are committed
// together with their state. A source without processors is a group alone.
func (r *Runner) groupNodes() {
	ns := len(r.sources)
	parent := make([]int, ns+len(r.procs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) { parent[find(a)] = find(b) }
	for j, p := range r.procs {
		for _, in := range p.node.Inputs {
			for i, s := range r.sources {
				if topology.MaySelect(in, s.prod.node) {
					union(ns+j, i)
				}
			}
			for k, q := range r.procs[:j] {
				if in == q.node.Name || (q.node.NamesStreams && topology.MaySelect(in, q.prod.node)) {
					union(ns+j, ns+k)
				}
			}
		}
	}
	byRoot := map[int]*group{}
	for i, s := range r.sources {
		root := find(i)
		g := byRoot[root]
		if g == nil {
			g = newGroup(r)
			byRoot[root] = g
			r.groups = append(r.groups, g)
		}
		g.sources = append(g.sources, s)
		s.group, s.prod.group = g, g
	}
	for j, p := range r.procs {
		g := byRoot[find(ns+j)]
		if g == nil {
			continue // fed by no source: it never runs
		}
		p.prod.group = g
		if p.node.State != nil {
			g.stateful = append(g.stateful, p)
		}
	}
}

// routeOf returns the consumers of events of schema sc from p. The group's
// mutex is held.
func (r *Runner) routeOf(p *producer, sc *event.Schema) *route {
	if rt, ok := p.routes[sc]; ok {
		return rt
	}
	rt := &route{}
	for j := p.order + 1; j < len(r.procs); j++ {
		for _, in := range r.procs[j].node.Inputs {
			if topology.Selects(in, p.node, sc.Stream, true) {
				rt.procs = append(rt.procs, j)
				break
			}
		}
	}
	for k, s := range r.sinks {
		for _, in := range s.node.Inputs {
			if topology.Selects(in, p.node, sc.Stream, true) {
				rt.sinks = append(rt.sinks, k)
				break
			}
		}
	}
	p.routes[sc] = rt
	return rt
}

// dispatch runs a source's batch through the processors and returns, per
// sink, the events it takes (nil for none). The group's mutex is held.
func (g *group) dispatch(ctx context.Context, from *producer, events []event.Event) ([][]event.Event, error) {
	r := g.r
	per := make([][]event.Event, len(r.sinks))
	if len(r.procs) == 0 {
		r.distribute(from, events, nil, per)
		return per, nil
	}
	pend := g.pend
	r.distribute(from, events, pend, per)
	// A processor's output that reaches only other processors is read by
	// them within this call (a processor keeps neither its input nor its
	// output slice), so its buffer serves the processor's next batch: an
	// allocation of a batch of events (150 bytes each) fewer, and less for
	// the collector to scan. An output a sink takes lives until the sink
	// has written it, and is left to the collector.
	recycle := false
	for j, p := range r.procs {
		in := pend[j]
		if len(in) == 0 {
			continue
		}
		pend[j] = nil
		buf := g.spare[j]
		g.spare[j] = nil
		if cap(buf) < len(in) || cap(buf) > 4*len(in)+64 {
			buf = make([]event.Event, 0, len(in)) // nor keep a large batch's array for small ones
		}
		out, err := p.process(ctx, in, buf)
		if err != nil {
			clear(pend)
			return nil, err
		}
		if len(out) == 0 {
			g.spare[j] = buf
			continue
		}
		for k := range per {
			g.sinkLens[k] = len(per[k])
		}
		r.distribute(p.prod, out, pend, per)
		if &out[:1][0] != &buf[:1][0] {
			continue // grown past buf (or not built on it): left to the collector
		}
		taken := false
		for k := range per {
			taken = taken || len(per[k]) != g.sinkLens[k]
		}
		if !taken {
			g.spare[j], recycle = out, true
		}
	}
	if recycle {
		// Every processor has run: drop the spare outputs' references to
		// this batch's images before they wait for the next one. A spare
		// that a sink's events lie in after all (a processor that broke
		// its contract by returning its input, which was a spare) is left
		// to the collector.
		for j, out := range g.spare {
			for k := range per {
				if len(out) > 0 && len(per[k]) > 0 && within(per[k], out) {
					out, g.spare[j] = nil, nil
					break
				}
			}
			clear(out)
			if out != nil {
				g.spare[j] = out[:0]
			}
		}
	}
	return per, nil
}

// within reports whether s starts in the array of a.
func within(s, a []event.Event) bool {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(a)))
	return p >= lo && p < lo+uintptr(cap(a))*unsafe.Sizeof(event.Event{})
}

// distribute appends events from p to the inputs of the processors (pend)
// and sinks (per) that take them, in order. A consumer that takes every
// event of a batch it has nothing else for shares the batch's slice.
func (r *Runner) distribute(p *producer, events []event.Event, pend, per [][]event.Event) {
	if len(events) == 0 {
		return
	}
	first := events[0].Schema
	same := true
	for i := range events {
		if events[i].Schema != first {
			same = false
			break
		}
	}
	if same {
		rt := r.routeOf(p, first)
		for _, j := range rt.procs {
			pend[j] = appendAll(pend[j], events)
		}
		for _, k := range rt.sinks {
			per[k] = appendAll(per[k], events)
		}
		return
	}
	// Mixed schemas: consumers that take every event share the slice, the
	// others get their events one by one.
	cntP, cntS := make([]int, len(r.procs)), make([]int, len(r.sinks))
	var lastSc *event.Schema
	var rt *route
	for i := range events {
		if events[i].Schema != lastSc {
			lastSc, rt = events[i].Schema, r.routeOf(p, events[i].Schema)
		}
		for _, j := range rt.procs {
			cntP[j]++
		}
		for _, k := range rt.sinks {
			cntS[k]++
		}
	}
	n := len(events)
	for j, c := range cntP {
		if c == n {
			pend[j] = appendAll(pend[j], events)
		}
	}
	for k, c := range cntS {
		if c == n {
			per[k] = appendAll(per[k], events)
		}
	}
	// Cap slices that may be shared so that append copies them.
	for j, c := range cntP {
		if c > 0 && c != n {
			pend[j] = pend[j][:len(pend[j]):len(pend[j])]
		}
	}
	for k, c := range cntS {
		if c > 0 && c != n {
			per[k] = per[k][:len(per[k]):len(per[k])]
		}
	}
	lastSc = nil
	for i := range events {
		if events[i].Schema != lastSc {
			lastSc, rt = events[i].Schema, r.routeOf(p, events[i].Schema)
		}
		for _, j := range rt.procs {
			if cntP[j] != n {
				pend[j] = append(pend[j], events[i])
			}
		}
		for _, k := range rt.sinks {
			if cntS[k] != n {
				per[k] = append(per[k], events[i])
			}
		}
	}
}

// appendAll appends src to dst, sharing src when dst is empty; a shared
// slice is never appended to in place (its spare capacity is not ours).
func appendAll(dst, src []event.Event) []event.Event {
	if len(dst) == 0 {
		return src
	}
	return append(dst[:len(dst):len(dst)], src...)
}

// process runs the processor on one input batch, appending its output to
// buf[:0]. Inputs it rejects one by one go to its dead letter, or fail the
// pipeline when it has none.
func (p *procRunner) process(ctx context.Context, in, buf []event.Event) ([]event.Event, error) {
	name := p.node.Name
	start := time.Now()
	out, err := p.node.Processor.Process(ctx, in, buf[:0])
	if o := p.r.obs.process; o != nil {
		o.ObserveProcess(name, len(in), len(out), time.Since(start))
	}
	if err == nil {
		return out, nil
	}
	var rejected component.RecordErrors
	if !errors.As(err, &rejected) {
		return nil, fmt.Errorf("processor %s: %w", name, err)
	}
	for _, re := range rejected {
		if re.Index < 0 || re.Index >= len(in) {
			return nil, fmt.Errorf("processor %s: rejected input index %d out of range (a bug in the processor): %w", name, re.Index, err)
		}
	}
	if o := p.r.obs.rejected; o != nil {
		o.ObserveRejected(name, len(rejected), p.node.DeadLetter != nil)
	}
	if p.node.DeadLetter == nil {
		re := rejected[0]
		e := &in[re.Index]
		return nil, fmt.Errorf("processor %s rejected %s (key %s): %v; %d event(s) rejected in this batch; stopping with the checkpoint before it (hint: fix the cause and restart, or set dead_letter: on the processor to set rejected events aside and go on)",
			name, e.String(), keyText(e), re.Err, len(rejected))
	}
	dl := make([]event.Event, len(rejected))
	for i, re := range rejected {
		dl[i] = p.dl.wrap(name, &in[re.Index], re.Err)
	}
	retry := Retry{Initial: p.r.p.Options.RetryMin, Max: p.r.p.Options.RetryMax}
	if err := retryLoop(ctx, p.r, retry, name+" dead_letter", func() error { return p.node.DeadLetter.Write(ctx, dl) }); err != nil {
		return nil, fmt.Errorf("processor %s dead_letter: %w", name, err)
	}
	p.r.log.Warn("inputs rejected by the processor were written to its dead letter", "processor", name, "count", len(rejected), "first", in[rejected[0].Index].String(), "err", rejected[0].Err)
	return out, nil
}
