// Package engine runs a pipeline: sources emit batches, the engine routes
// each batch to every sink whose inputs match its streams, sinks write them
// durably, and a per-source checkpointer persists the newest checkpoint below
// which every batch is acknowledged by every sink — then, and only then,
// tells the source (architecture invariant 1).
//
// Concurrency: each source's Run has its own goroutine and calls Emit; each
// sink has one runner goroutine that owns the sink (Write and Close are only
// called there); each source has one committer goroutine that owns the
// store writes and Committed calls for that source. Back-pressure: a source
// may have at most Options.MaxInflight batches not yet acknowledged; Emit
// blocks at the cap. Memory is therefore bounded by MaxInflight × batch size
// per source, whatever the table or transaction size (invariant 3).
//
// Order: a sink receives a source's batches in emission order, so order per
// key (and per source) is kept (invariant 2).
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
	"path"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Checkpoints is where checkpoints are persisted (package state's Store).
type Checkpoints interface {
	Checkpoint(source string) ([]byte, error)
	SetCheckpoint(source string, cp []byte) error
}

// SourceNode is a named source in the graph.
type SourceNode struct {
	Name   string
	Source component.Source
}

// SinkNode is a named sink with its input patterns.
type SinkNode struct {
	Name string
	Sink component.Sink
	// Inputs are patterns: a source name ("shop") selects all its streams; a
	// stream name ("shop.public.product") or a glob ("shop.public.*", "*")
	// selects streams.
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

// Batch tunes a sink's writes. A write holds at most MaxEvents events and
// about MaxBytes bytes of events in memory (event.Event.Size); a delivery
// larger than that is split. After the first delivery arrives the runner
// waits up to Linger for more before writing, trading latency for larger
// writes (bulk APIs and multi-row statements gain from it).
type Batch struct {
	MaxEvents int           `yaml:"max_events"` // default Options.MaxWriteEvents
	MaxBytes  int64         `yaml:"max_bytes"`  // default 64 MiB
	Linger    time.Duration `yaml:"linger"`     // default 0: write what is there
}

// Retry bounds a sink's retry backoff.
type Retry struct {
	Initial time.Duration `yaml:"initial"` // default Options.RetryMin
	Max     time.Duration `yaml:"max"`     // default Options.RetryMax
}

// Options tune the engine.
type Options struct {
	// MaxInflight is the number of batches per source emitted but not yet
	// acknowledged by every sink. Default 8.
	MaxInflight int
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
}

func (o *Options) defaults() {
	if o.MaxInflight <= 0 {
		o.MaxInflight = 8
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

// MatchInput reports whether input pattern p selects stream (of source src).
func MatchInput(p, src, stream string) bool {
	if p == src {
		return true
	}
	if ok, _ := path.Match(p, stream); ok {
		return true
	}
	// "shop*" style globs on the source name select all its streams.
	if !strings.Contains(p, ".") {
		if ok, _ := path.Match(p, src); ok {
			return true
		}
	}
	return false
}

// ValidateInputs checks that every input pattern can select something from
// the named sources: its first dot-separated part must match a source name.
func ValidateInputs(inputs []string, sources []string) error {
	for _, p := range inputs {
		head, _, _ := strings.Cut(p, ".")
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("input %q is not a valid glob: %v", p, err)
		}
		found := false
		for _, s := range sources {
			if ok, _ := path.Match(head, s); ok || p == "*" {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("input %q matches no source (sources: %s)", p, strings.Join(sources, ", "))
		}
	}
	return nil
}

// Pipeline is a graph ready to run.
type Pipeline struct {
	Sources []SourceNode
	Sinks   []SinkNode
	Store   Checkpoints
	Options Options
}

// Run runs p until ctx is cancelled or every source has finished (its Run
// returned nil by itself) — then drains and returns nil — or a component fails (then stops everything, keeps the checkpoint of what is
// durable, and returns the error).
func Run(ctx context.Context, p *Pipeline) error {
	p.Options.defaults()
	r := &run{p: p, log: p.Options.Logger}
	return r.run(ctx)
}

type run struct {
	p   *Pipeline
	log *slog.Logger

	sinks   []*sinkRunner
	sources []*sourceRun

	failOnce sync.Once
	failErr  error
	fail     chan struct{} // closed on the first fatal error
	draining chan struct{} // closed once the sources are stopped: no lingering
}

func (r *run) fatal(err error) {
	r.failOnce.Do(func() {
		r.failErr = err
		close(r.fail)
	})
}

func (r *run) run(ctx context.Context) error {
	r.fail = make(chan struct{})
	r.draining = make(chan struct{})
	opt := r.p.Options

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
	chanCap := opt.MaxInflight * len(r.p.Sources)
	var sinkWG sync.WaitGroup
	for _, n := range r.p.Sinks {
		s := &sinkRunner{node: n, in: make(chan *delivery, chanCap), r: r}
		r.sinks = append(r.sinks, s)
	}
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
	for i, n := range r.p.Sources {
		cp := cps[i]
		s := newSourceRun(r, n, cp)
		r.sources = append(r.sources, s)
		commitWG.Add(1)
		go func() { defer commitWG.Done(); s.commitLoop(sinkCtx) }()
		srcWG.Add(1)
		go func() {
			defer srcWG.Done()
			err := n.Source.Run(srcCtx, cp, s)
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, component.ErrStopped) {
				r.fatal(fmt.Errorf("source %s: %w", n.Name, err))
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
	for _, s := range r.sources {
		s.finish()
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

// closeAll closes every sink and source of the pipeline; nothing runs.
func (r *run) closeAll() []error {
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
	for _, n := range r.p.Sources {
		if err := n.Source.Close(); err != nil {
			errs = append(errs, fmt.Errorf("source %s: close: %w", n.Name, err))
		}
	}
	return errs
}

// route returns, per sink, whether the sink takes events of schema sc.
func (r *run) route(src string, sc *event.Schema) []bool {
	out := make([]bool, len(r.sinks))
	for i, s := range r.sinks {
		for _, p := range s.node.Inputs {
			if MatchInput(p, src, sc.Stream) {
				out[i] = true
				break
			}
		}
	}
	return out
}
