package postgres

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// gatedSink is a pipelined sink into a new database whose table items has
// a deferred trigger that holds every commit writing to it while the test
// holds the gate (advisory lock 4242), so that the next batch is written,
// deterministically, while the previous transaction commits. A row named
// "boom" fails the first commit that meets it (a sequence, which a
// rollback does not reset), like a commit lost once.
type gatedSink struct {
	t    *testing.T
	s    *sqlsink.Pipelined
	conn *pgx.Conn // the test's queries
	gate *pgx.Conn // holds the gate
}

// TestPipelined runs sqlsink.Pipelined's cases (sqltest.RunPipelined)
// against PostgreSQL, its commits held at the server: a deferred trigger
// waits for an advisory lock the test holds.
func TestPipelined(t *testing.T) {
	sqltest.RunPipelined(t, sqltest.PipelineHarness{
		Open:       func(t *testing.T) sqltest.Gated { return newGatedSink(t) },
		OutOfRange: "out of range",
	})
}

func newGatedSink(t *testing.T) *gatedSink {
	dsn := pgtest.NewDatabase(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate, cfg.AutoEvolve, cfg.DSN = true, true, dsn
	s, err := New(Config{Config: cfg, Schema: "public"}, component.Env{Name: "sink1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	s.SetLimits(1000, 1) // every insert and upsert group is a COPY
	g := &gatedSink{t: t, s: s, conn: pgtest.Connect(t, dsn), gate: pgtest.Connect(t, dsn)}
	// The table and the positions table exist before the gate: DDL
	// would wait for the sink's commits (see Pipelined).
	sqltest.Write(t, s, sqltest.Ev('r', sqltest.ItemsSchema, nil, sqltest.Row(sqltest.I(100), sqltest.S("first"), sqltest.I(1)), 0))
	g.exec(`CREATE SEQUENCE boom_seq`)
	g.exec(`CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_advisory_lock_shared(4242);
		PERFORM pg_advisory_unlock_shared(4242);
		IF TG_OP <> 'DELETE' AND NEW.name = 'boom' AND nextval('boom_seq') = 1 THEN
			RAISE EXCEPTION 'commit lost';
		END IF;
		RETURN NULL;
	END $$`)
	g.exec(`CREATE CONSTRAINT TRIGGER gate AFTER INSERT OR UPDATE OR DELETE ON items
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gate()`)
	return g
}

func (g *gatedSink) exec(q string) {
	g.t.Helper()
	if _, err := g.conn.Exec(context.Background(), q); err != nil {
		g.t.Fatalf("%s: %v", q, err)
	}
}

// count returns the result of a count query.
func (g *gatedSink) count(q string) int {
	g.t.Helper()
	var n int
	if err := g.conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		g.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (g *gatedSink) Sink() *sqlsink.Pipelined { return g.s }

// Hold implements sqltest.Gated: the test takes the advisory lock the
// trigger waits for. lose is the trigger's business: it fails the first
// commit holding a row named "boom".
func (g *gatedSink) Hold(t *testing.T, lose bool) {
	t.Helper()
	if _, err := g.gate.Exec(context.Background(), "SELECT pg_advisory_lock(4242)"); err != nil {
		t.Fatal(err)
	}
}

// Held implements sqltest.Gated.
func (g *gatedSink) Held(t *testing.T) bool {
	return g.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND wait_event_type = 'Lock' AND wait_event = 'advisory'`) == 1
}

// NextWaits implements sqltest.Gated.
func (g *gatedSink) NextWaits(t *testing.T) bool {
	return g.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND application_name = 'sluice' AND wait_event_type = 'Lock' AND wait_event <> 'advisory'`) == 1
}

// Release implements sqltest.Gated.
func (g *gatedSink) Release(t *testing.T) {
	t.Helper()
	if _, err := g.gate.Exec(context.Background(), "SELECT pg_advisory_unlock(4242)"); err != nil {
		t.Fatal(err)
	}
}

// Sessions implements sqltest.Gated.
func (g *gatedSink) Sessions(t *testing.T) string {
	rows, err := g.conn.Query(context.Background(), `SELECT pid || ' | ' || coalesce(application_name, '') || ' | ' || coalesce(state, '')
		|| ' | ' || coalesce(wait_event_type || ':' || wait_event, '') || ' | ' || left(query, 100)
		FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return err.Error()
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err.Error()
	}
	return "  " + strings.Join(out, "\n  ")
}

// Rows implements sqltest.Gated.
func (g *gatedSink) Rows(t *testing.T, cols ...string) []string {
	t.Helper()
	if len(cols) == 0 {
		cols = []string{"id", "name", "qty"}
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = "coalesce(" + sqlsink.QuotePG(c) + "::text, 'NULL')"
	}
	rows, err := g.conn.Query(context.Background(), "SELECT "+strings.Join(sel, " || '|' || ")+" FROM items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Position implements sqltest.Gated.
func (g *gatedSink) Position(t *testing.T) string {
	t.Helper()
	var s string
	if err := g.conn.QueryRow(context.Background(), `SELECT hi || '.' || lo FROM sluice_positions WHERE sink = 'sink1' AND source = 'src'`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
