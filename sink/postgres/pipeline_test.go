package postgres

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
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

var itemsSchema = sqltest.Schema("items", 1,
	event.Column{Name: "id", Type: event.TypeInt64, Key: true},
	event.Column{Name: "name", Type: event.TypeString, Optional: true},
	event.Column{Name: "qty", Type: event.TypeInt32, Optional: true})

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
	sqltest.Write(t, s, sqltest.Ev('r', itemsSchema, nil, sqltest.Row(sqltest.I(100), sqltest.S("first"), sqltest.I(1)), 0))
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

// waitFor waits until cond holds (30 s at most).
func (g *gatedSink) waitFor(what string, cond func() bool) {
	g.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			g.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// overlap commits what is buffered (Flush) and, while that commit waits at
// the gate, writes evs with WriteBuffered; then it opens the gate and
// returns both results.
func (g *gatedSink) overlap(evs ...event.Event) (flushErr, writeErr error) {
	g.t.Helper()
	ctx := context.Background()
	if _, err := g.gate.Exec(ctx, "SELECT pg_advisory_lock(4242)"); err != nil {
		g.t.Fatal(err)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- g.s.Flush(ctx) }()
	g.waitFor("the commit to wait at the gate", func() bool {
		return g.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND wait_event = 'advisory'`) == 1
	})
	written := make(chan error, 1)
	go func() { written <- g.s.WriteBuffered(ctx, evs) }()
	// The batch's transaction waits on the server for the committing one
	// (a key or the positions row it holds): everything before that ran
	// while the previous transaction committed.
	g.waitFor("the next transaction to wait for the committing one", func() bool {
		select {
		case err := <-written:
			written <- err
			return true
		default:
		}
		return g.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = 'sluice' AND wait_event_type = 'Lock' AND wait_event <> 'advisory'`) == 1
	})
	if _, err := g.gate.Exec(ctx, "SELECT pg_advisory_unlock(4242)"); err != nil {
		g.t.Fatal(err)
	}
	return g.result(flushed, "Flush"), g.result(written, "WriteBuffered")
}

func (g *gatedSink) result(ch chan error, what string) error {
	g.t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(60 * time.Second):
		g.t.Fatalf("%s hangs", what)
		return nil
	}
}

func (g *gatedSink) rows() []string {
	g.t.Helper()
	rows, err := g.conn.Query(context.Background(), `SELECT id || '|' || coalesce(name, 'NULL') || '|' || coalesce(qty::text, 'NULL') FROM items ORDER BY id`)
	if err != nil {
		g.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		g.t.Fatal(err)
	}
	return out
}

func (g *gatedSink) position() string {
	g.t.Helper()
	var s string
	if err := g.conn.QueryRow(context.Background(), `SELECT hi || '.' || lo FROM sluice_positions WHERE sink = 'sink1' AND source = 'src'`).Scan(&s); err != nil {
		g.t.Fatal(err)
	}
	return s
}

func item(op event.Op, id int64, name string, qty int64, seq uint64) event.Event {
	row := sqltest.Row(sqltest.I(id), sqltest.S(name), sqltest.I(qty))
	if op == 'd' {
		return sqltest.Ev(op, itemsSchema, row, nil, seq)
	}
	return sqltest.Ev(op, itemsSchema, nil, row, seq)
}

// TestPipelinedSameKeyConsecutive: each batch is written while the
// previous one's transaction commits, and consecutive batches change the
// same key (insert, update, delete, insert again, a snapshot row's upsert,
// a delete of a row the committing transaction inserted):
// the table ends exactly as if each batch had committed before the next.
func TestPipelinedSameKeyConsecutive(t *testing.T) {
	t.Parallel()
	g := newGatedSink(t)
	ctx := context.Background()
	if err := g.s.WriteBuffered(ctx, []event.Event{item('c', 1, "a", 1, 1), item('c', 2, "x", 2, 2)}); err != nil {
		t.Fatal(err)
	}
	batches := [][]event.Event{
		{item('u', 1, "b", 3, 3)},
		{item('d', 1, "", 0, 4)},
		{item('c', 1, "c", 5, 5), item('u', 2, "y", 6, 6)},
		{item('c', 3, "z", 7, 7)},
		{item('r', 3, "zz", 8, 0), item('r', 2, "yy", 9, 0)},
		{item('c', 4, "w", 10, 8), item('c', 5, "v", 11, 9)},
		// Deletes a row the committing transaction inserted: no snapshot
		// taken before that commit sees it.
		{item('d', 5, "", 0, 10)},
	}
	for i, b := range batches {
		flushErr, writeErr := g.overlap(b...)
		if flushErr != nil || writeErr != nil {
			t.Fatalf("batch %d: Flush = %v, WriteBuffered = %v", i+2, flushErr, writeErr)
		}
	}
	if err := g.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sqltest.Want(t, g.rows(), "1|c|5", "2|yy|9", "3|zz|8", "4|w|10", "100|first|1")
	if got := g.position(); got != "10.10" {
		t.Fatalf("position %s, want 10.10", got)
	}
}

// TestPipelinedCommitLost: the previous transaction's commit fails while
// the next batch is written: that batch fails too (it must not commit
// after a lost one), and writing both again, as the engine does, leaves
// exactly their rows.
func TestPipelinedCommitLost(t *testing.T) {
	t.Parallel()
	g := newGatedSink(t)
	ctx := context.Background()
	b1 := []event.Event{item('c', 1, "boom", 1, 1), item('c', 2, "two", 2, 2)}
	b2 := []event.Event{item('u', 2, "two2", 3, 3), item('c', 3, "three", 4, 4)}
	if err := g.s.WriteBuffered(ctx, b1); err != nil {
		t.Fatal(err)
	}
	flushErr, writeErr := g.overlap(b2...)
	if flushErr == nil || !strings.Contains(flushErr.Error(), "commit lost") {
		t.Fatalf("Flush = %v, want the lost commit", flushErr)
	}
	if writeErr == nil || !strings.Contains(writeErr.Error(), "did not commit") {
		t.Fatalf("WriteBuffered = %v, want it to fail with the previous commit", writeErr)
	}
	sqltest.Want(t, g.rows(), "100|first|1")
	// The engine writes every unacknowledged batch again, in order.
	sqltest.Write(t, g.s, b1...)
	sqltest.Write(t, g.s, b2...)
	sqltest.Want(t, g.rows(), "1|boom|1", "2|two2|3", "3|three|4", "100|first|1")
	if got := g.position(); got != "4.4" {
		t.Fatalf("position %s, want 4.4", got)
	}
	// And the pipeline goes on.
	if err := g.s.WriteBuffered(ctx, []event.Event{item('u', 3, "three2", 5, 5)}); err != nil {
		t.Fatal(err)
	}
	if err := g.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sqltest.Want(t, g.rows(), "1|boom|1", "2|two2|3", "3|three2|5", "100|first|1")
}

// TestPipelinedRejectedWhileCommitting: the server rejects a row of the
// batch written while the previous one commits: the previous one commits,
// the batch fails whole (nothing of it stays), and written again with
// Write it reports exactly the bad event and writes the rest.
func TestPipelinedRejectedWhileCommitting(t *testing.T) {
	t.Parallel()
	g := newGatedSink(t)
	ctx := context.Background()
	b1 := []event.Event{item('c', 1, "one", 1, 1)}
	b2 := []event.Event{item('u', 1, "one2", 2, 2), item('c', 2, "big", 1<<40, 3), item('c', 3, "three", 3, 4)}
	if err := g.s.WriteBuffered(ctx, b1); err != nil {
		t.Fatal(err)
	}
	flushErr, writeErr := g.overlap(b2...)
	if flushErr != nil {
		t.Fatal(flushErr)
	}
	if writeErr == nil || !strings.Contains(writeErr.Error(), "1 event(s) rejected") {
		t.Fatalf("WriteBuffered = %v, want the rejected row", writeErr)
	}
	sqltest.Want(t, g.rows(), "1|one|1", "100|first|1")
	err := g.s.Write(ctx, b2)
	re, ok := err.(component.RecordErrors)
	if !ok || len(re) != 1 || re[0].Index != 1 || !strings.Contains(re[0].Err.Error(), "out of range") {
		t.Fatalf("Write = %v, want one record error for event 1", err)
	}
	sqltest.Want(t, g.rows(), "1|one2|2", "3|three|3", "100|first|1")
	if got := g.position(); got != "2.2" {
		t.Fatalf("position %s, want 2.2 (before the rejected event)", got)
	}
}

// TestPipelinedEvolveCommitsFirst: a batch whose schema adds a column
// (auto_evolve) while the previous batch's transaction is open: the ALTER
// TABLE would wait for that transaction's lock on the table, which only the
// next Flush would release, so the open transaction commits first.
func TestPipelinedEvolveCommitsFirst(t *testing.T) {
	t.Parallel()
	g := newGatedSink(t)
	ctx := context.Background()
	v2 := sqltest.Schema("items", 2, append(append([]event.Column(nil), itemsSchema.Columns...),
		event.Column{Name: "note", Type: event.TypeString, Optional: true})...)
	if err := g.s.WriteBuffered(ctx, []event.Event{item('c', 1, "one", 1, 1)}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- g.s.WriteBuffered(ctx, []event.Event{sqltest.Ev('c', v2, nil,
			sqltest.Row(sqltest.I(2), sqltest.S("two"), sqltest.I(2), sqltest.S("added")), 2)})
	}()
	if err := g.result(done, "WriteBuffered of the evolved schema"); err != nil {
		t.Fatal(err)
	}
	if err := g.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := g.conn.Query(ctx, `SELECT id || '|' || name || '|' || coalesce(note, 'NULL') FROM items ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	sqltest.Want(t, got, "1|one|NULL", "2|two|added", "100|first|NULL")
	if got := g.position(); got != "2.2" {
		t.Fatalf("position %s, want 2.2", got)
	}
}
