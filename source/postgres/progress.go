package postgres

import (
	"context"
	"sync/atomic"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// progress is what Progress reports; written by Run's goroutines, read by
// the CLI's progress bar.
type progress struct {
	phase atomic.Pointer[string]
	done  atomic.Int64 // events emitted in this phase
	total atomic.Int64 // estimated snapshot rows (pg_class.reltuples); 0 unknown
}

// Phase names as the progress bar shows them.
var (
	progSnapshot  = "snapshot"
	progStreaming = "streaming"
)

func (p *progress) enter(phase *string, total int64) {
	p.done.Store(0)
	p.total.Store(total)
	p.phase.Store(phase)
}

var _ component.ProgressReporter = (*Source)(nil)

// Progress implements component.ProgressReporter.
func (s *Source) Progress() component.Progress {
	phase := "starting"
	if p := s.prog.phase.Load(); p != nil {
		phase = *p
	}
	return component.Progress{Phase: phase, Done: s.prog.done.Load(), Total: s.prog.total.Load()}
}

// countingEmitter counts what the source emits, for Progress.
type countingEmitter struct {
	component.Emitter
	p *progress
}

func (c countingEmitter) Emit(ctx context.Context, evs []event.Event, cp []byte) error {
	err := c.Emitter.Emit(ctx, evs, cp)
	if err == nil {
		c.p.done.Add(int64(len(evs)))
	}
	return err
}

// estimateRows sums the planner's row estimates of the tables still to be
// read; a failure only costs the progress bar its total.
func (s *Source) estimateRows(ctx context.Context, tables []*capturedTable) int64 {
	conn, err := s.connect(ctx)
	if err != nil {
		return 0
	}
	defer conn.Close(context.Background())
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.info.ref.quoted()
	}
	var n int64
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(greatest(reltuples, 0)), 0)::bigint FROM pg_class
		WHERE oid = ANY($1::text[]::regclass[])`, names).Scan(&n)
	if err != nil {
		return 0
	}
	return n
}
