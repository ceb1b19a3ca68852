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
	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/metrics"
	"github.com/sluice-dev/sluice/state"
	"github.com/sluice-dev/sluice/topology"
)

// Run builds and runs the pipeline until ctx is cancelled (graceful drain,
// returns nil) or a component fails.
//
// When progressTo is not nil, sources that report progress get a live line
// there (the CLI passes stderr when it is a terminal). mon receives the
// run's metrics and lifecycle state (see Monitor).
func Run(ctx context.Context, g *topology.Graph, reg component.Registry, log *slog.Logger, progressTo io.Writer, mon Monitor) error {
	err := run(ctx, g, reg, log, progressTo, mon)
	if err != nil {
		mon.Status.set(metrics.StateFailed, err)
	} else {
		mon.Status.set(metrics.StateStopped, nil)
	}
	return err
}

func run(ctx context.Context, g *topology.Graph, reg component.Registry, log *slog.Logger, progressTo io.Writer, mon Monitor) error {
	store, err := state.Open(g.StateDir, 5*time.Second)
	if err != nil {
		return err
	}
	defer store.Close()

	ep := &engine.Pipeline{Store: store, Options: engineOptions(g.Engine)}
	ep.Options.Logger = log
	ep.Options.Encoder = deadLetterEncoder
	var built []interface{ close() error }
	cleanup := func() {
		for _, b := range built {
			b.close()
		}
	}
	env := func(n *topology.Node, kind string) component.Env {
		return component.Env{Name: n.Name, Pipeline: g.Name, StateDir: filepath.Join(g.StateDir, kind, n.Name), Logger: log.With(strings.TrimSuffix(kind, "s"), n.Name)}
	}
	deadLetter := func(n *topology.Node) (component.Sink, error) {
		dc := n.DeadLetter
		if dc == nil {
			return nil, nil
		}
		dl, err := reg.Sinks[dc.Type].New(dc.Config, env(dc, "sinks"))
		if err != nil {
			return nil, fmt.Errorf("%s %s: dead_letter: %w", n.Kind, n.Name, err)
		}
		built = append(built, closer(func() error { return dl.Close(context.Background()) }))
		return dl, nil
	}
	for _, c := range g.Sources {
		s, err := reg.Sources[c.Type].New(c.Config, env(c, "sources"))
		if err != nil {
			cleanup()
			return fmt.Errorf("source %s: %w", c.Name, err)
		}
		built = append(built, closer(func() error { return s.Close() }))
		ep.Sources = append(ep.Sources, engine.SourceNode{Name: c.Name, Source: s, ForeignStreams: c.ForeignStreams})
	}
	for _, c := range g.Processors {
		if c.Stateful {
			cleanup()
			return fmt.Errorf("processor %s: stateful processors need the operator-state store, which this build does not have yet", c.Name)
		}
		p, err := reg.Processors[c.Type].New(c.Config, env(c, "processors"))
		if err != nil {
			cleanup()
			return fmt.Errorf("processor %s: %w", c.Name, err)
		}
		built = append(built, closer(func() error { return p.Close() }))
		node := engine.ProcessorNode{Name: c.Name, Processor: p, Inputs: c.Inputs, NamesStreams: c.NamesStreams}
		if node.DeadLetter, err = deadLetter(c); err != nil {
			cleanup()
			return err
		}
		ep.Processors = append(ep.Processors, node)
	}
	for _, c := range g.Sinks {
		s, err := reg.Sinks[c.Type].New(c.Config, env(c, "sinks"))
		if err != nil {
			cleanup()
			return fmt.Errorf("sink %s: %w", c.Name, err)
		}
		built = append(built, closer(func() error { return s.Close(context.Background()) }))
		node := engine.SinkNode{Name: c.Name, Sink: s, Inputs: c.Inputs, Batch: c.Batch, Retry: c.Retry}
		if node.DeadLetter, err = deadLetter(c); err != nil {
			cleanup()
			return err
		}
		ep.Sinks = append(ep.Sinks, node)
	}
	if progressTo != nil {
		var names []string
		var reps []component.ProgressReporter
		for _, n := range ep.Sources {
			if r, ok := n.Source.(component.ProgressReporter); ok {
				names = append(names, n.Name)
				reps = append(reps, r)
			}
		}
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		go progress(pctx, progressTo, names, reps, 500*time.Millisecond)
	}
	mon.watch(ep)
	mon.Status.set(metrics.StateRunning, nil)
	log.Info("pipeline starting", "name", g.Name, "sources", len(ep.Sources), "processors", len(ep.Processors), "sinks", len(ep.Sinks), "state_dir", g.StateDir)
	err = engine.Run(ctx, ep)
	if err == nil || errors.Is(err, context.Canceled) {
		log.Info("pipeline stopped; checkpoint saved")
		return nil
	}
	return err
}

func engineOptions(e topology.Engine) engine.Options {
	return engine.Options{MaxInflight: e.MaxInflight, MaxWriteEvents: e.MaxWriteEvents, DrainTimeout: e.DrainTimeout}
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

func (c closer) close() error { return c() }
