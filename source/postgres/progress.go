package postgres

import (
	"context"

	"github.com/sluice-dev/sluice/component"
)

var _ component.ProgressReporter = (*Source)(nil)

// Progress implements component.ProgressReporter.
func (s *Source) Progress() component.Progress { return s.prog.Report() }

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
