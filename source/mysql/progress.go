package mysql

import (
	"context"
	"database/sql"
	"sync/atomic"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// progress is what Progress reports; written by Run, read by the CLI.
type progress struct {
	phase atomic.Pointer[string]
	done  atomic.Int64 // events emitted in this phase
	total atomic.Int64 // estimated snapshot rows (information_schema.TABLES); 0 unknown
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

// estimateRows sums InnoDB's row estimates of the tables still to be read;
// a failure only costs the progress bar its total.
func estimateRows(ctx context.Context, db *sql.DB, tables []*tableState) int64 {
	var n int64
	for _, t := range tables {
		var rows sql.NullInt64
		if db.QueryRowContext(ctx, `SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
			t.ref.db, t.ref.name).Scan(&rows) == nil {
			n += rows.Int64
		}
	}
	return n
}
