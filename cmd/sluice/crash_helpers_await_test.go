package main

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

// TestCloseAndAwaitSeesAbandonedCommit: a client that sent COMMIT and gave
// up (as the crash workload does when its context is cancelled) can have
// its transaction committed by the server later. closeAndAwait must not
// return before that commit is visible: the crash tests' final marker
// relies on it being the last transaction. A deferred trigger makes the
// COMMIT take a second, deterministically.
func TestCloseAndAwaitSeesAbandonedCommit(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE t (id int PRIMARY KEY)`,
		`CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$`,
		`CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON t DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow()`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn := pgtest.Connect(t, dsn)
	if _, err := conn.Exec(ctx, `BEGIN; INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	// Send COMMIT without waiting for its answer, then give up on it.
	fe := conn.PgConn().Frontend()
	fe.Send(&pgproto3.Query{String: "COMMIT"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	closeAndAwait(t, conn, dsn)
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("rows committed when closeAndAwait returned: %d, want 1", n)
	}
}

// TestStopRightAfterStart: stop and stopRun send SIGTERM only once the run
// catches it. A run stopped the moment it started (its condition already
// held, or nothing to wait for) must drain and exit 0, not die by the
// signal's default action in the Go runtime's start.
func TestStopRightAfterStart(t *testing.T) {
	for i := range 3 {
		dir := t.TempDir()
		p := writePipeline(t, dir, genPipeline(dir, 1000000, 100))
		cmd, stderr := runSluice(t, dir, p)
		stop(t, cmd, stderr)
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("run %d (runSluice): exit %d\n%s", i, code, stderr)
		}
		stopRun(t, startSluice(t, dir, p), dir)
	}
}
