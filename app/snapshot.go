package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/topology"
)

// ErrNoSnapshotter means the pipeline has no source (or not the one named)
// that takes incremental snapshots.
var ErrNoSnapshotter = errors.New("no source that takes incremental snapshots")

// RequestSnapshot asks a pipeline's source for an incremental snapshot
// (component.Snapshotter). It builds the source from the pipeline file
// without running it: the request is recorded upstream, where the running
// source (in this process or another, or the next run) finds it in its
// stream. source may be empty when exactly one source can take it.
func RequestSnapshot(ctx context.Context, g *topology.Graph, reg component.Registry, source string, req component.SnapshotRequest, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var able []string
	var chosen component.Snapshotter
	var closers []component.Source
	defer func() {
		for _, s := range closers {
			s.Close()
		}
	}()
	for _, n := range g.Sources {
		if source != "" && n.Name != source {
			continue
		}
		f, ok := reg.Sources[n.Type]
		if !ok {
			return fmt.Errorf("source %s: type %q is unknown", n.Name, n.Type)
		}
		s, err := f.New(n.Config, component.Env{Name: n.Name, Pipeline: g.Name, Logger: log.With("source", n.Name),
			Path: "sources." + n.Name, StartRetry: g.Engine.StartRetry})
		if err != nil {
			return fmt.Errorf("source %s: %w", n.Name, err)
		}
		closers = append(closers, s)
		if sn, ok := s.(component.Snapshotter); ok {
			able = append(able, n.Name)
			chosen = sn
		}
	}
	switch {
	case source != "" && len(closers) == 0:
		return fmt.Errorf("pipeline %s has no source %q", g.Name, source)
	case len(able) == 0 && source != "":
		return fmt.Errorf("source %s of pipeline %s: %w (postgres and mysql sources do)", source, g.Name, ErrNoSnapshotter)
	case len(able) == 0:
		return fmt.Errorf("pipeline %s: %w (postgres and mysql sources do)", g.Name, ErrNoSnapshotter)
	case len(able) > 1:
		return fmt.Errorf("pipeline %s has several sources that take incremental snapshots (%s): name one", g.Name, strings.Join(able, ", "))
	}
	return chosen.RequestSnapshot(ctx, req)
}
