// Package engine runs a pipeline: sources emit batches, the engine routes
// each batch to every sink whose inputs match its streams, sinks write them
// durably, and a per-source checkpointer persists the newest checkpoint below
// which every batch is acknowledged by every sink — then, and only then,
// tells the source (architecture invariant 1).
//
// Concurrency: each source's Run has its own goroutine; it calls Emit from
// there or from goroutines of its own, one Emit at a time (sql_poll emits a
// page while it reads the next, the PostgreSQL snapshot's table readers
// under an emit lock); each sink has one runner goroutine that owns the sink
// (Write and Close are only called there; a component.FlushingSink's Flush
// runs on a goroutine of its own while the runner writes the next batches,
// and its deliveries are acknowledged after the Flush that covers them);
// each source has one committer
// goroutine that owns the store writes and Committed calls for that
// source. Back-pressure: a source may have at most Options.MaxInflight
// batches, and at most Options.MaxInflightBytes bytes of events
// (event.Size), not yet acknowledged; Emit blocks at either cap. (A source
// that knows a batch's size hands it over with component.EmitSized;
// otherwise Emit takes it, once, for the cap and the sinks' batching.) A
// batch larger than the byte cap is still taken when nothing else is in
// flight, so a source never stalls.
// Memory is therefore bounded by min(MaxInflight × batch size,
// MaxInflightBytes + one batch) per source, whatever the table, the row or
// the transaction size (invariant 3): a row count alone does not bound
// memory when rows are 10 kB TOASTed values, or when a backlog after a sink
// outage fills every batch.
//
// Memory: the window is most of a pipeline's live heap, and GOGC alone lets
// the heap grow to twice the live heap before a GC. While runners run, the
// Go runtime therefore has a soft memory limit (debug.SetMemoryLimit): the
// memory the process held when the first runner started, plus
// MaxInflightBytes per source of every running runner, so the GC runs when
// the heap reaches what the windows need rather than when it has doubled.
// GOGC stays the fallback: after each GC, a live heap above three quarters
// of the limit (a processor's in-memory state, rows that fill the byte
// cap) lifts the limit, so the GC never collects back to back against it,
// and the limit returns once the live heap is below half of it. A
// GOMEMLIMIT in the environment is the operator's: the engine then sets
// nothing. The limit ends with the last runner (memlimit.go).
//
// Order: a sink receives a source's batches in emission order, so order per
// key (and per source) is kept (invariant 2).
//
// Releasing batches: a source may hand a batch with a release function
// (component.ReleasingEmitter), to recycle the batch's memory (the
// PostgreSQL snapshot's event slices, value slabs and COPY text) instead of
// allocating afresh for every batch. The engine keeps it on the batch's
// ticket and calls it from the ticket's last ack, exactly once, or never.
// It is kept only when the run can prove that nothing reads an event once
// every sink acknowledged it (canRelease, fixed when the run is built):
//   - every processor is stateless (no ProcessorNode.State) and declares
//     component.KeepsNoEvents: nothing of its inputs or outputs is kept
//     once the Process that received them returned. Its outputs may share
//     its inputs' images: they are the batch's own deliveries, under the
//     batch's ticket, so the sinks' acknowledgements cover them too;
//   - every sink declares component.KeepsNoEvents: nothing of an event is
//     kept once the Write or WriteBuffered that received it returned.
//
// Then the readers of a batch's events are: the emit call (the
// EmitObserver, which keeps nothing, the routing, and the processors,
// which run inside the emit: see group.dispatch; a processor's dead letter
// is written before the emit returns, with copies), and each sink runner
// that received a delivery, up to the acknowledgement of that delivery.
// The ticket's pending count holds one for emit and one per delivery, so
// it reaches 0 once, after emit is done and after the last sink's
// acknowledgement; the atomic decrement orders every reader before
// the release (the race detector sees the same edge). A sink runner
// acknowledges a delivery only after the write that covers it is durable
// (after the Flush that covers it, for a FlushingSink), and drops its
// references before (the write buffer is cleared after each write; an
// acknowledged delivery is removed from the lists a failed Flush
// re-writes). The deliveries a failed Flush or WriteBuffered writes again
// are unacknowledged, so their ticket is still pending and their memory
// intact. A dead-letter record is made of copies (deadLetters.wrap) and
// written before the sink's write returns. A batch whose ticket never
// completes (a failed write, a stop before the drain ended, a failed
// dispatch) is never released: its memory is the garbage collector's.
// Released memory is outside the window's byte count (a source should keep
// a bounded free list), and release runs on a sink runner's goroutine, so
// it must not block.
//
// Start: a sink that reaches a server (component.Connector) connects in its
// runner before its first write, retried as Options.StartRetry says, while
// the sources start and fill their windows; sources wait for their servers
// in Run, through the same component.Connect. A stop while a sink still
// waits for its server ends the run at once and cleanly (nothing was
// written to it, so there is nothing to drain); a permanent connect error
// stops the pipeline like a failed write.
//
// Shutdown is two-staged: when the run context is cancelled the sources stop,
// the sinks drain what is in flight within Options.DrainTimeout, the final
// checkpoint is persisted and committed; past the deadline the sinks are
// cancelled and the checkpoint stays at the last durable position.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/topology"
)

// Checkpoints is where checkpoints are persisted (package store).
type Checkpoints interface {
	Checkpoint(source string) ([]byte, error)
	SetCheckpoint(source string, cp []byte) error
}

// Committer is implemented by stores that commit operator state together
// with checkpoints (store.DB). A pipeline with stateful processors needs
// one.
type Committer interface {
	Commit(c store.Commit) error
}

// SourceNode is a named source in the graph.
type SourceNode struct {
	Name   string
	Source component.Source
	// ForeignStreams: the source's streams keep upstream names.
	ForeignStreams bool
}

// ProcessorNode is a named processor with its input patterns (see package
// topology for how patterns select events).
type ProcessorNode struct {
	Name      string
	Processor component.Processor
	Inputs    []string
	// NamesStreams: the processor's outputs are streams of its own naming,
	// which globs of later nodes may select.
	NamesStreams bool
	// State is the processor's operator state, nil when it keeps none.
	State store.OperatorState
	// DeadLetter receives the inputs the processor rejects one by one
	// (component.RecordErrors); nil: a rejected input stops the pipeline.
	// It is written from the processor's goroutine, before the batch's
	// derived events are delivered.
	DeadLetter component.Sink
}

// SinkNode is a named sink with its input patterns.
type SinkNode struct {
	Name string
	Sink component.Sink
	// Inputs are patterns (see package topology): a source or processor
	// name selects everything it emits; a stream name
	// ("shop.public.product") or a glob ("shop.public.*", "*") selects
	// streams.
	Inputs []string
	// Batch tunes how deliveries are coalesced into writes; zero fields
	// take the engine's defaults.
	Batch Batch
	// Retry bounds the backoff between retries of a failed Write; zero
	// fields take the engine's RetryMin and RetryMax.
	Retry Retry
	// DeadLetter receives the events the sink rejects one by one
	// (component.RecordErrors), each wrapped as a dead-letter record with
	// the error and the source position (see DeadLetterSchema). When nil, a
	// rejected event stops the pipeline with the checkpoint intact. The
	// engine owns it like the sink: Write and Close are called from the
	// sink's runner only.
	DeadLetter component.Sink
}

// Batch tunes a sink's writes; see topology.Batch.
type Batch = topology.Batch

// Retry bounds a sink's retry backoff; see topology.Retry.
type Retry = topology.Retry

// Options tune the engine.
type Options struct {
	// MaxInflight is the number of batches per source emitted but not yet
	// acknowledged by every sink. Default DefaultMaxInflight.
	MaxInflight int
	// MaxInflightBytes caps the bytes (event.Size summed) of those
	// batches. Default DefaultMaxInflightBytes.
	MaxInflightBytes int64
	// MaxWriteEvents caps how many events a sink runner coalesces into one
	// Write. Default 16384.
	MaxWriteEvents int
	// DrainTimeout bounds the graceful drain at shutdown. Default 30s.
	DrainTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between retries of a failed
	// Write. Defaults 100ms and 30s.
	RetryMin, RetryMax time.Duration
	// StartRetry is how a sink's Connect (component.Connector) is retried
	// before its first write.
	StartRetry component.StartRetry
	Logger     *slog.Logger
	// Encoder encodes rejected events into dead-letter records (the
	// Debezium envelope, from package format); required when any node has
	// a dead letter.
	Encoder func() Encoder
	// Observer receives the engine's observations; it may implement any of
	// the interfaces in hooks.go (found by type assertion). Nil: none.
	Observer any
}

// DefaultMaxInflight is Options.MaxInflight's default: 4 batches. A source
// fills one while a sink writes the others (coalesced into one write), so
// 4 keep the benchmark's snapshot and drain at full speed, as 8 did
// (docs/performance.md, "The engine's window"), with half the batches,
// and half the heap they take, in flight.
const DefaultMaxInflight = 4

// DefaultMaxInflightBytes is Options.MaxInflightBytes's default: 32 MiB of
// event.Size, six times what 4 batches of 2048 rows of 180 bytes (the
// benchmark's table) hold, so ordinary rows keep their 4-batch pipeline,
// while wide rows get fewer batches in flight instead of hundreds of MB.
// It is also each source's share of the memory limit (see "Memory" in the
// package doc).
const DefaultMaxInflightBytes = 32 << 20

// Encoder is the part of format.Encoder the dead-letter records need.
type Encoder interface {
	AppendValue(dst []byte, e *event.Event) (out []byte, ok bool, err error)
	AppendKey(dst []byte, e *event.Event) []byte
}

func (o *Options) defaults() {
	if o.MaxInflight <= 0 {
		o.MaxInflight = DefaultMaxInflight
	}
	if o.MaxInflightBytes <= 0 {
		o.MaxInflightBytes = DefaultMaxInflightBytes
	}
	if o.MaxWriteEvents <= 0 {
		o.MaxWriteEvents = 16384
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// MatchInput reports whether input pattern p selects stream of source src
// (topology.Selects for a source).
func MatchInput(p, src, stream string) bool {
	return topology.Selects(p, &topology.Node{Kind: topology.KindSource, Name: src}, stream, true)
}

// Pipeline is a graph ready to run.
type Pipeline struct {
	Sources    []SourceNode
	Processors []ProcessorNode
	Sinks      []SinkNode
	Store      Checkpoints
	Options    Options
}

// Run runs p until ctx is cancelled or every source has finished (its Run
// returned nil by itself) — then drains and returns nil — or a component
// fails (then stops everything, keeps the checkpoint of what is durable,
// and returns the error).
func Run(ctx context.Context, p *Pipeline) error {
	return New(p).Run(ctx)
}

// Runner runs one pipeline once; Pause and Resume may be called from any
// goroutine while it runs.
type Runner struct {
	p    *Pipeline
	log  *slog.Logger
	obs  observers
	gate gate

	sinks   []*sinkRunner
	procs   []*procRunner // in run order
	sources []*sourceRun
	groups  []*group
	// releases: batches may be released to their sources once every sink
	// acknowledged them (see "Releasing batches" in the package doc); set
	// by build.
	releases bool

	failOnce sync.Once
	failErr  error
	fail     chan struct{} // closed on the first fatal error
	draining chan struct{} // closed once the sources are stopped: no lingering
}

// New prepares p to run.
func New(p *Pipeline) *Runner {
	p.Options.defaults()
	r := &Runner{p: p, log: p.Options.Logger, fail: make(chan struct{}), draining: make(chan struct{})}
	r.obs = findObservers(p.Options.Observer)
	r.gate.init()
	return r
}

// Observe sets the observer (see Options.Observer); call it before Run.
func (r *Runner) Observe(o any) {
	r.p.Options.Observer = o
	r.obs = findObservers(o)
}

// Pause makes the sources wait at their next emit; what is in flight still
// drains into the sinks and is committed.
func (r *Runner) Pause() { r.gate.set(true) }

// Resume lets paused sources go on.
func (r *Runner) Resume() { r.gate.set(false) }

// Paused reports whether the runner is paused.
func (r *Runner) Paused() bool { return r.gate.paused() }

// Abort stops the run as a failed component would: the sources stop, the
// sinks' writes are cancelled without a drain, the checkpoint stays at the
// last durable position, and Run returns err. A node that lost its
// coordination lease calls it (package coordination).
func (r *Runner) Abort(err error) { r.fatal(err) }

func (r *Runner) fatal(err error) {
	r.failOnce.Do(func() {
		r.failErr = err
		close(r.fail)
	})
}

// Run runs the pipeline; see the package function Run. It may be called once.
func (r *Runner) Run(ctx context.Context) error {
	opt := r.p.Options
	if err := r.build(); err != nil {
		return errors.Join(append([]error{err}, r.closeAll()...)...)
	}
	// The GC paces to the windows, not to twice the live heap (memlimit.go).
	defer holdMemoryLimit(windowBudget(&opt, len(r.sources)))()

	// Sinks get their own context: they keep draining after the sources stop.
	sinkCtx, cancelSinks := context.WithCancel(context.Background())
	defer cancelSinks()
	// A sink that has not connected yet stops waiting for its server at
	// shutdown or when something else failed: there is nothing to drain.
	startCtx, cancelStart := context.WithCancel(ctx)
	defer cancelStart()
	go func() {
		select {
		case <-r.fail:
			cancelStart()
		case <-startCtx.Done():
		}
	}()
	var sinkWG sync.WaitGroup
	for _, s := range r.sinks {
		sinkWG.Add(1)
		go func() { defer sinkWG.Done(); s.loop(sinkCtx, startCtx) }()
	}

	srcCtx, cancelSources := context.WithCancel(ctx)
	defer cancelSources()
	var srcWG, commitWG sync.WaitGroup
	// Read every checkpoint before starting anything, so a failure here
	// leaves nothing running.
	cps := make([][]byte, len(r.p.Sources))
	for i, n := range r.p.Sources {
		cp, err := r.p.Store.Checkpoint(n.Name)
		if err != nil {
			cancelSinks()
			cancelStart()
			for _, s := range r.sinks {
				close(s.in)
			}
			sinkWG.Wait()
			return errors.Join(append([]error{err}, r.closeAll()...)...)
		}
		cps[i] = cp
	}
	for i, s := range r.sources {
		s.mu.durable = cps[i]
	}
	for _, g := range r.groups {
		g.start()
		commitWG.Add(1)
		go func() { defer commitWG.Done(); g.commitLoop(sinkCtx) }()
	}
	for i, s := range r.sources {
		cp := cps[i]
		srcWG.Add(1)
		go func() {
			defer srcWG.Done()
			err := s.node.Source.Run(srcCtx, cp, s)
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, component.ErrStopped) {
				r.fatal(fmt.Errorf("source %s: %w", s.node.Name, err))
			}
		}()
	}

	allFinished := make(chan struct{})
	go func() { srcWG.Wait(); close(allFinished) }()
	select {
	case <-ctx.Done():
		r.log.Info("stopping: draining in-flight batches", "timeout", opt.DrainTimeout)
	case <-allFinished:
		r.log.Info("every source has finished; draining")
	case <-r.fail:
		// The error itself is returned to the caller, who reports it.
		r.log.Warn("a component failed; stopping and draining what is in flight")
	}
	cancelSources()
	for _, s := range r.sources {
		s.stop()
	}
	r.gate.close()
	srcWG.Wait()
	close(r.draining)

	// Drain: wait until every source's window is empty, or the deadline.
	drained := make(chan struct{})
	stopWaiting := make(chan struct{})
	defer close(stopWaiting)
	go func() {
		for _, s := range r.sources {
			s.waitEmpty(stopWaiting)
		}
		close(drained)
	}()
	timer := time.NewTimer(opt.DrainTimeout)
	defer timer.Stop()
	var drainErr error
	select {
	case <-drained:
	case <-timer.C:
		drainErr = fmt.Errorf("drain did not finish within %s; the checkpoint stays at the last durable position", opt.DrainTimeout)
	case <-r.fail:
		// A sink failed while draining; stop waiting.
	}
	// Final commit of whatever is durable, then stop the committers.
	for _, g := range r.groups {
		g.finish()
	}
	commitWG.Wait()
	cancelSinks()
	cancelStart()
	for _, s := range r.sinks {
		close(s.in)
	}
	sinkWG.Wait()

	var errs []error
	switch {
	case errors.Is(r.failErr, errNotConnected):
		// Stopped while a sink waited for its server: a clean stop.
		r.log.Info("stopped before every sink connected; nothing was written to it and the checkpoint is unchanged", "err", r.failErr)
	case r.failErr != nil:
		errs = append(errs, r.failErr)
	}
	if drainErr != nil {
		errs = append(errs, drainErr)
	}
	errs = append(errs, r.closeAll()...)
	return errors.Join(errs...)
}

// closeAll closes every sink, processor and source of the pipeline; nothing
// runs.
func (r *Runner) closeAll() []error {
	var errs []error
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range r.p.Sinks {
		if err := n.Sink.Close(closeCtx); err != nil {
			errs = append(errs, fmt.Errorf("sink %s: close: %w", n.Name, err))
		}
		if n.DeadLetter != nil {
			if err := n.DeadLetter.Close(closeCtx); err != nil {
				errs = append(errs, fmt.Errorf("sink %s: dead_letter: close: %w", n.Name, err))
			}
		}
	}
	for _, n := range r.p.Processors {
		if err := n.Processor.Close(); err != nil {
			errs = append(errs, fmt.Errorf("processor %s: close: %w", n.Name, err))
		}
		if n.DeadLetter != nil {
			if err := n.DeadLetter.Close(closeCtx); err != nil {
				errs = append(errs, fmt.Errorf("processor %s: dead_letter: close: %w", n.Name, err))
			}
		}
	}
	for _, n := range r.p.Sources {
		if err := n.Source.Close(); err != nil {
			errs = append(errs, fmt.Errorf("source %s: close: %w", n.Name, err))
		}
	}
	return errs
}
