package sqltest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sinktest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

// Conformance runs the sink suite (internal/sinktest) against the SQL sink
// that h opens, in each mode that keeps a table in the source's state:
// upsert (the default) and insert, where a replay that was not skipped
// would be a duplicate key. A table is a last-state destination that
// rejects single rows (a value too long for its column). The cases
// particular to SQL tables (modes, positions, type mapping, DDL) are Run's.
func Conformance(t *testing.T, h Harness) {
	for _, mode := range []string{sqlsink.ModeUpsert, sqlsink.ModeInsert} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			sinktest.Run(t, sinktest.Harness{
				Caps: sinktest.Caps{RecordErrors: true, Secret: true},
				Setup: func(t *testing.T) sinktest.Target {
					db := h.Open(t)
					if db.New == nil || db.Addr == "" {
						t.Fatal("sqltest: the DB needs New and Addr for the sink suite")
					}
					return &sqlTarget{db: db, mode: mode}
				},
				// One character more than varchar(VLength) holds.
				Poison: func(e *event.Event) {
					e.After[1] = event.String(strings.Repeat("x", sinktest.VLength+1))
				},
			})
		})
	}
}

type sqlTarget struct {
	db   *DB
	mode string
}

func (s *sqlTarget) Addr() string { return s.db.Addr }

func (s *sqlTarget) Sink(t *testing.T, p sinktest.Params) (component.Sink, error) {
	cfg := cfgWith(func(c *sqlsink.Config) { c.Mode = s.mode })
	return s.db.New(t, cfg, p)
}

// Read returns the rows of the suite's table (none when it does not exist
// yet).
func (s *sqlTarget) Read(t *testing.T) []sinktest.Record {
	if !s.db.Exists(t, sinktest.Table) {
		return nil
	}
	var out []sinktest.Record
	for _, r := range s.db.Rows(t, sinktest.Table, "id", "v") {
		id, v, _ := strings.Cut(r, "|")
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			t.Fatalf("row %q: %v", r, err)
		}
		out = append(out, sinktest.Record{ID: n, V: v})
	}
	return out
}
