package mysql

import (
	"context"
	"database/sql"

	"github.com/sluice-dev/sluice/component"
)

var _ component.ProgressReporter = (*Source)(nil)

// Progress implements component.ProgressReporter.
func (s *Source) Progress() component.Progress { return s.prog.Report() }

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
