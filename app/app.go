// Package app wires a loaded pipeline file to the engine: it opens the state
// store, builds every component from the registry, runs the engine and
// closes what it opened. cmd/sluice stays a thin shell around it.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/coordination"
	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/topology"
)

// Run builds and runs the pipeline until ctx is cancelled (graceful drain,
// returns nil) or a component fails.
//
// When progressTo is not nil, sources that report progress get a live line
// there (the CLI passes stderr when it is a terminal).
func Run(ctx context.Context, g *topology.Graph, reg component.Registry, log *slog.Logger, progressTo io.Writer) error {
	if g.Cluster.Coordination.Type != topology.CoordinationNone {
		return runCoordinated(ctx, g, reg, log, progressTo)
	}
	p, err := Build(g, reg, log, nil)
	if err != nil {
		return err
	}
	if progressTo != nil {
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		go progress(pctx, progressTo, p.Progress)
	}
	return p.Run(ctx)
}

// Pipeline is a built pipeline: its store is open and its components
// exist, nothing runs yet.
type Pipeline struct {
	Graph  *topology.Graph
	Runner *engine.Runner
	// Progress lists the sources that report progress, by name.
	Progress []Reporter
	// Sources, Processors and Sinks are the built components by name, for
	// observers that look for optional interfaces (component.Gauger...).
	Sources    map[string]component.Source
	Processors map[string]component.Processor
	Sinks      map[string]component.Sink

	log    *slog.Logger
	closed []closer
	store  *store.DB
}

// Reporter is a named source that reports progress.
type Reporter struct {
	Name string
	component.ProgressReporter
}

// Build opens the pipeline's store and builds every component from the
// registry; observer (may be nil) receives the engine's observations. On
// error nothing stays open.
func Build(g *topology.Graph, reg component.Registry, log *slog.Logger, observer any) (*Pipeline, error) {
	if g.Cluster.Coordination.Type != topology.CoordinationNone {
		return nil, fmt.Errorf("pipeline %s: a pipeline with coordination: is built at each acquisition of its partition: run it with app.Run or app.RunCoordinated", g.Name)
	}
	return build(g, reg, log, observer, nil, nil)
}

// build is Build; with a term (several nodes), checkpoints are the term's
// (fenced by its epoch) and components get its epoch. With a chunk, the
// run reads one snapshot chunk (see chunks.go): no store is opened (the
// node's stream run may hold it), the chunk's source reads the chunk, the
// other sources emit nothing, and the epoch is 0 — several nodes write
// chunks through the same sinks at once, which a sink's one
// highest-epoch fence would refuse; the chunk's lease fences instead.
func build(g *topology.Graph, reg component.Registry, log *slog.Logger, observer any, term *coordination.Term, chunk *chunkRun) (*Pipeline, error) {
	p := &Pipeline{Graph: g, log: log, Sources: map[string]component.Source{}, Processors: map[string]component.Processor{}, Sinks: map[string]component.Sink{}}
	ep := &engine.Pipeline{Options: engineOptions(g.Engine)}
	var st *store.DB
	if chunk == nil {
		var err error
		if st, err = store.Open(g.StateDir, storeOptions(g, log)); err != nil {
			return nil, err
		}
		p.closed = append(p.closed, closer(st.Close))
		ep.Store, p.store = st, st
	} else {
		p.closed = append(p.closed, closer(func() error { return nil })) // closeStore's slot
		ep.Store = chunk.store
	}
	var epoch uint64
	if term != nil {
		ep.Store, epoch = term, term.Epoch()
	}
	ep.Options.Logger = log
	ep.Options.Encoder = deadLetterEncoder
	ep.Options.Observer = observer
	fail := func(err error) (*Pipeline, error) {
		p.Close()
		return nil, err
	}
	env := func(n *topology.Node, kind string) component.Env {
		return component.Env{Name: n.Name, Pipeline: g.Name, StateDir: filepath.Join(g.StateDir, kind, n.Name),
			Logger: log.With(strings.TrimSuffix(kind, "s"), n.Name), Path: kind + "." + n.Name, StartRetry: g.Engine.StartRetry, Epoch: epoch}
	}
	deadLetter := func(n *topology.Node) (component.Sink, error) {
		dc := n.DeadLetter
		if dc == nil {
			return nil, nil
		}
		denv := env(dc, "sinks")
		denv.Path = n.Path() + ".dead_letter"
		dl, err := reg.Sinks[dc.Type].New(dc.Config, denv)
		if err != nil {
			return nil, fmt.Errorf("%s %s: dead_letter: %w", n.Kind, n.Name, err)
		}
		p.closed = append(p.closed, closer(func() error { return dl.Close(context.Background()) }))
		return dl, nil
	}
	for _, c := range g.Sources {
		s, err := reg.Sources[c.Type].New(c.Config, env(c, "sources"))
		if err != nil {
			return fail(fmt.Errorf("source %s: %w", c.Name, err))
		}
		if chunk != nil {
			s = chunk.source(c.Name, s)
		}
		p.closed = append(p.closed, closer(s.Close))
		p.Sources[c.Name] = s
		ep.Sources = append(ep.Sources, engine.SourceNode{Name: c.Name, Source: s, ForeignStreams: c.ForeignStreams})
		if r, ok := s.(component.ProgressReporter); ok {
			p.Progress = append(p.Progress, Reporter{c.Name, r})
		}
	}
	for _, c := range g.Processors {
		penv := env(c, "processors")
		var opState store.OperatorState
		if c.Stateful && (term != nil || st == nil) {
			return fail(statefulRefused(c.Name))
		}
		if c.Stateful {
			var err error
			if opState, err = st.State(c.Name); err != nil {
				return fail(fmt.Errorf("processor %s: %w", c.Name, err))
			}
			penv.State = opState
		}
		pr, err := reg.Processors[c.Type].New(c.Config, penv)
		if err != nil {
			return fail(fmt.Errorf("processor %s: %w", c.Name, err))
		}
		p.closed = append(p.closed, closer(pr.Close))
		p.Processors[c.Name] = pr
		node := engine.ProcessorNode{Name: c.Name, Processor: pr, Inputs: c.Inputs, NamesStreams: c.NamesStreams, State: opState}
		if node.DeadLetter, err = deadLetter(c); err != nil {
			return fail(err)
		}
		ep.Processors = append(ep.Processors, node)
	}
	for _, c := range g.Sinks {
		s, err := reg.Sinks[c.Type].New(c.Config, env(c, "sinks"))
		if err != nil {
			return fail(fmt.Errorf("sink %s: %w", c.Name, err))
		}
		p.closed = append(p.closed, closer(func() error { return s.Close(context.Background()) }))
		p.Sinks[c.Name] = s
		node := engine.SinkNode{Name: c.Name, Sink: s, Inputs: c.Inputs, Batch: c.Batch, Retry: c.Retry}
		if node.DeadLetter, err = deadLetter(c); err != nil {
			return fail(err)
		}
		ep.Sinks = append(ep.Sinks, node)
	}
	p.Runner = engine.New(ep)
	return p, nil
}

// Run runs the built pipeline until ctx is cancelled (graceful drain,
// returns nil) or a component fails, then closes the store. The engine
// closes the components.
func (p *Pipeline) Run(ctx context.Context) error {
	defer p.closeStore()
	g := p.Graph
	p.log.Info("pipeline starting", "name", g.Name, "sources", len(g.Sources), "processors", len(g.Processors), "sinks", len(g.Sinks), "state_dir", g.StateDir)
	err := p.Runner.Run(ctx)
	if err == nil || errors.Is(err, context.Canceled) {
		p.log.Info("pipeline stopped; checkpoint saved")
		return nil
	}
	return err
}

// Checkpoints returns the checkpoints stored so far, by source, while the
// pipeline runs too (the store's reads do not wait for its writes). After
// Run returned the store is closed and this fails.
func (p *Pipeline) Checkpoints() (map[string][]byte, error) {
	if p.store == nil {
		return nil, errors.New("a snapshot chunk's run has no checkpoints of its own (they are the coordination store's)")
	}
	return p.store.Checkpoints()
}

// Close closes what Build opened, for a pipeline that will not Run.
func (p *Pipeline) Close() {
	for i := len(p.closed) - 1; i >= 0; i-- {
		p.closed[i]()
	}
	p.closed = nil
}

// closeStore closes the store only (the first thing Build opened); the
// engine has closed the components.
func (p *Pipeline) closeStore() {
	if len(p.closed) > 0 {
		p.closed[0]()
		p.closed = nil
	}
}

// storeOptions sizes the store: a pipeline without stateful processors
// keeps only checkpoints there and gets a small memtable and cache (a few
// MiB of RSS instead of Pebble's 40); one with operator state gets the
// store's defaults.
func storeOptions(g *topology.Graph, log *slog.Logger) store.Options {
	o := store.Options{LockTimeout: 5 * time.Second, Logger: log}
	for _, p := range g.Processors {
		if p.Stateful {
			return o
		}
	}
	o.MemTableSize, o.CacheSize = 1<<20, 8<<20
	return o
}

func engineOptions(e topology.Engine) engine.Options {
	return engine.Options{MaxInflight: e.MaxInflight, MaxInflightBytes: e.MaxInflightBytes, MaxWriteEvents: e.MaxWriteEvents, DrainTimeout: e.DrainTimeout, StartRetry: e.StartRetry}
}

// deadLetterEncoder encodes rejected events in dead-letter records as
// Debezium envelopes.
func deadLetterEncoder() engine.Encoder {
	enc, err := format.New(format.DefaultOptions())
	if err != nil {
		panic(err) // the default options are valid
	}
	return enc
}

type closer func() error

// statefulRefused is the error for a stateful processor in a coordinated
// pipeline.
func statefulRefused(processor string) error {
	return fmt.Errorf("processor %s: keeps operator state, which is not shared between nodes yet: remove coordination: or run the pipeline on one node", processor)
}
