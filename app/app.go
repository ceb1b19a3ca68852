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
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/engine"
	"github.com/sluice-dev/sluice/state"
)

// Run builds and runs the pipeline until ctx is cancelled (graceful drain,
// returns nil) or a component fails.
//
// When progressTo is not nil, sources that report progress get a live line
// there (the CLI passes stderr when it is a terminal).
func Run(ctx context.Context, p *config.Pipeline, reg component.Registry, log *slog.Logger, progressTo io.Writer) error {
	store, err := state.Open(p.StateDir, 5*time.Second)
	if err != nil {
		return err
	}
	defer store.Close()

	ep := &engine.Pipeline{Store: store, Options: p.Engine.Options()}
	ep.Options.Logger = log
	var built []interface{ close() error }
	cleanup := func() {
		for _, b := range built {
			b.close()
		}
	}
	for _, c := range p.Sources {
		f := reg.Sources[c.Type]
		env := component.Env{Name: c.Name, Pipeline: p.Name, StateDir: filepath.Join(p.StateDir, "sources", c.Name), Logger: log.With("source", c.Name), Path: "sources." + c.Name, StartRetry: p.Engine.StartRetry}
		s, err := f.New(c.Config, env)
		if err != nil {
			cleanup()
			return fmt.Errorf("source %s: %w", c.Name, err)
		}
		built = append(built, closer(func() error { return s.Close() }))
		ep.Sources = append(ep.Sources, engine.SourceNode{Name: c.Name, Source: s})
	}
	for _, c := range p.Sinks {
		f := reg.Sinks[c.Type]
		env := component.Env{Name: c.Name, Pipeline: p.Name, StateDir: filepath.Join(p.StateDir, "sinks", c.Name), Logger: log.With("sink", c.Name), Path: "sinks." + c.Name, StartRetry: p.Engine.StartRetry}
		s, err := f.New(c.Config, env)
		if err != nil {
			cleanup()
			return fmt.Errorf("sink %s: %w", c.Name, err)
		}
		built = append(built, closer(func() error { return s.Close(context.Background()) }))
		node := engine.SinkNode{Name: c.Name, Sink: s, Inputs: c.Inputs, Batch: c.Batch, Retry: c.Retry}
		if dc := c.DeadLetter; dc != nil {
			env := component.Env{Name: dc.Name, Pipeline: p.Name, StateDir: filepath.Join(p.StateDir, "sinks", dc.Name), Logger: log.With("sink", dc.Name), Path: "sinks." + c.Name + ".dead_letter", StartRetry: p.Engine.StartRetry}
			dl, err := reg.Sinks[dc.Type].New(dc.Config, env)
			if err != nil {
				cleanup()
				return fmt.Errorf("sink %s: dead_letter: %w", c.Name, err)
			}
			built = append(built, closer(func() error { return dl.Close(context.Background()) }))
			node.DeadLetter = dl
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
	log.Info("pipeline starting", "name", p.Name, "sources", len(ep.Sources), "sinks", len(ep.Sinks), "state_dir", p.StateDir)
	err = engine.Run(ctx, ep)
	if err == nil || errors.Is(err, context.Canceled) {
		log.Info("pipeline stopped; checkpoint saved")
		return nil
	}
	return err
}

type closer func() error

func (c closer) close() error { return c() }
