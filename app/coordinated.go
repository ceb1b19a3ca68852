package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/coordination"
	"github.com/sluice-dev/sluice/internal/transient"
	"github.com/sluice-dev/sluice/store"
	"github.com/sluice-dev/sluice/store/pgleases"
	"github.com/sluice-dev/sluice/topology"
)

// runCoordinated is RunCoordinated with progress bars on progressTo (nil:
// none).
func runCoordinated(ctx context.Context, g *topology.Graph, reg component.Registry, log *slog.Logger, progressTo io.Writer) error {
	var h Hooks
	if progressTo != nil {
		bars := NewProgress(progressTo)
		defer bars.Close()
		h.Started, h.Ended = bars.Add, bars.Remove
	}
	return RunCoordinated(ctx, g, reg, log, h)
}

// Hooks are called around each run of a coordinated pipeline (one per term
// of its stream partition): Observe (may be nil) gives the engine's
// observer, Started is called once the run is built and before it runs,
// Ended after it ended. They run on the pipeline's goroutine. They are
// called for each snapshot chunk run too (from the chunks' goroutine: a
// chunk run ends before the term's run that follows the snapshot starts),
// whose source reports the rows it read; and, for a pipeline with a
// source that can share its snapshot (a component.Chunker), Observe once
// with a Pipeline holding only the Graph: an observer that is a
// ChunkObserver gets the chunks' states and runs.
type Hooks struct {
	Observe func(p *Pipeline) any
	Started func(p *Pipeline)
	Ended   func(p *Pipeline)
}

// RunCoordinated runs g as one of several nodes sharing it through the
// coordination store (g.Cluster.Coordination, package coordination): it
// waits for the pipeline's stream partition, runs the pipeline while it
// holds it, and when it loses it (the store was unreachable until its stop
// deadline, another node took it, or a sink saw a later epoch) aborts
// every write and waits for the partition again. A stop (ctx) drains as
// usual and releases the partition, so another node takes over at once;
// it then returns nil, like Run.
//
// Meanwhile the node reads chunks of the sources' shared snapshot while
// any are left (chunks.go); the holder of the stream partition plans them
// before its first run and runs the pipeline only once every chunk is
// done.
func RunCoordinated(ctx context.Context, g *topology.Graph, reg component.Registry, log *slog.Logger, h Hooks) error {
	// Refused before anything starts: neither a term's run nor a chunk's
	// can keep operator state, and the leader would otherwise wait for
	// chunks that fail.
	for _, c := range g.Processors {
		if c.Stateful {
			return statefulRefused(c.Name)
		}
	}
	co := g.Cluster.Coordination
	node := g.Cluster.NodeID
	if node == "" {
		node = topology.DefaultNodeID()
	}
	ns := co.Namespace
	if ns == "" {
		ns = g.Name
	}
	log = log.With("node", node)
	env := component.Env{Name: "coordination", Pipeline: g.Name, Logger: log, Path: "coordination", StartRetry: g.Engine.StartRetry}
	st, err := component.Connect(ctx, env, "connect", transient.Postgres, func(ctx context.Context) (*pgleases.Store, error) {
		return pgleases.Open(ctx, co.DSN, pgleases.Options{Table: co.Table})
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("coordination: %w", err)
	}
	defer st.Close()
	leases := st.Leases(ns)
	key := coordination.StreamKey(g.Name)
	opt := coordination.Options{Lease: co.Lease, Renew: co.Renew, Logger: log}
	// A node that starts reads the chunks that failed again: it was
	// started after their cause was fixed (or to see them fail again).
	if err := reopenFailedChunks(ctx, leases, g.Name, log); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("coordination: reopen failed snapshot chunks: %w", err)
	}
	// Every node reads snapshot chunks while they last, the stream
	// partition's holder too. A failed chunk stops the node (failed is
	// its error): the snapshot cannot complete, so neither can the
	// pipeline.
	failed, fail := context.WithCancelCause(context.Background())
	defer fail(nil)
	tctx, stopTerm := context.WithCancel(ctx)
	defer stopTerm()
	context.AfterFunc(failed, stopTerm)
	cctx, stopChunks := context.WithCancel(ctx)
	chunksDone := make(chan struct{})
	defer func() { stopChunks(); <-chunksDone }()
	go func() {
		defer close(chunksDone)
		if err := runChunks(cctx, g, reg, log, h, leases, node, opt); err != nil {
			fail(err)
		}
	}()
	failedErr := func() error {
		if failed.Err() != nil {
			return context.Cause(failed)
		}
		return nil
	}
	for {
		term, err := coordination.Acquire(tctx, leases, key, node, opt)
		if err != nil {
			if ferr := failedErr(); ferr != nil {
				return ferr
			}
			if ctx.Err() != nil {
				log.Info("stopped while waiting for the stream partition")
				return nil
			}
			return fmt.Errorf("coordination: %w", err)
		}
		err = runTerm(tctx, g, reg, log, h, term, leases, opt)
		if ferr := failedErr(); ferr != nil && ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), co.Renew)
			_ = term.Release(rctx)
			cancel()
			return ferr
		}
		if lost := term.Err(); lost != nil && ctx.Err() == nil {
			log.Warn("stopped writing after losing the stream partition; waiting to take it again", "err", err)
			continue
		}
		if errors.Is(err, component.ErrFenced) && ctx.Err() == nil {
			// A sink saw a later epoch before this node's renewal did:
			// another node holds the partition.
			log.Warn("a sink refused a write of this epoch: another node took the pipeline over; waiting to take it again", "err", err)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), co.Renew)
			_ = term.Release(rctx)
			cancel()
			continue
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), co.Renew)
		if rerr := term.Release(rctx); rerr != nil {
			log.Warn("coordination: could not release the stream partition; another node takes it when the lease expires", "err", rerr)
		}
		cancel()
		return err
	}
}

// runTerm builds and runs the pipeline for one term; losing the term
// aborts the run.
func runTerm(ctx context.Context, g *topology.Graph, reg component.Registry, log *slog.Logger, h Hooks, term *coordination.Term,
	leases store.Leases, opt coordination.Options) error {
	if err := waitForChunks(ctx, g, reg, log, term, leases, opt); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting: a clean stop
		}
		return err
	}
	p, err := build(g, reg, log.With("epoch", term.Epoch()), nil, term, nil)
	if err != nil {
		return err
	}
	if h.Observe != nil {
		p.Runner.Observe(h.Observe(p))
	}
	if h.Started != nil {
		h.Started(p)
	}
	if h.Ended != nil {
		defer h.Ended(p)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-term.Lost():
			p.Runner.Abort(term.Err())
		case <-done:
		}
	}()
	err = p.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
