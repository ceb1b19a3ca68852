package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// TestCopyRejectsUnencodableRows: in a COPY-sized group, rows whose values
// PostgreSQL cannot hold (a NUL byte in text) are rejected while the group
// is encoded, with the same message as on the VALUES path, and every other
// row is written through COPY.
func TestCopyRejectsUnencodableRows(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	s := db.Sink(t, cfg)
	sc := sqltest.Schema("enc", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "name", Type: event.TypeString, Optional: true})
	var evs []event.Event
	var want []string
	for i := 1; i <= 300; i++ {
		name := fmt.Sprintf("n\t%d\\", i)
		if i == 10 || i == 250 {
			name = "bad\x00"
		} else {
			want = append(want, fmt.Sprintf("%d|%s", i, name))
		}
		evs = append(evs, sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(int64(i)), sqltest.S(name)), 0))
	}
	err := s.Write(context.Background(), evs)
	var re component.RecordErrors
	if !errors.As(err, &re) || len(re) != 2 {
		t.Fatalf("Write = %v, want two record errors", err)
	}
	for n, i := range []int{9, 249} {
		msg := fmt.Sprintf(`table enc key (id=%d) (upsert): column "name": text contains a NUL byte, which PostgreSQL text cannot hold`, i+1)
		if re[n].Index != i || re[n].Err.Error() != msg {
			t.Errorf("record error %d: %d %q, want %d %q", n, re[n].Index, re[n].Err, i, msg)
		}
	}
	sqltest.Want(t, db.Rows(t, "enc", "id", "name"), want...)
}

// TestCopySoftDelete: with delete_mode soft, rows written through COPY
// carry the soft-delete column: false for rows written, true for a row
// created then deleted in the same batch.
func TestCopySoftDelete(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	cfg.DeleteMode = sqlsink.DeleteSoft
	s := db.Sink(t, cfg)
	sc := sqltest.Schema("soft", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "name", Type: event.TypeString, Optional: true})
	var evs []event.Event
	var want []string
	for i := 1; i <= 250; i++ {
		row := sqltest.Row(sqltest.I(int64(i)), sqltest.S(fmt.Sprint("n", i)))
		evs = append(evs, sqltest.Ev('c', sc, nil, row, uint64(i)))
		deleted := "false"
		if i == 5 {
			evs = append(evs, sqltest.Ev('d', sc, row, nil, 1000))
			deleted = "true"
		}
		want = append(want, fmt.Sprintf("%d|n%d|%s", i, i, deleted))
	}
	sqltest.Write(t, s, evs...)
	sqltest.Want(t, db.Rows(t, "soft", "id", "name", "__deleted"), want...)
}

// bigRows returns n snapshot rows of ~120 bytes (so that a group spans
// many of the stream's 64 KiB chunks), named by name(i).
func bigRows(sc *event.Schema, n int, name func(int) string) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(int64(i+1)), sqltest.S(name(i+1)),
			sqltest.S(fmt.Sprintf("%0100d", i))), 0)
	}
	return evs
}

func bigSchema(table string) *event.Schema {
	return sqltest.Schema(table, 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "name", Type: event.TypeString, TypeName: "varchar", Length: 12, Optional: true},
		event.Column{Name: "pad", Type: event.TypeString, Optional: true})
}

// TestCopyStreamIsolatesBadRows: a group streamed in many chunks, with rows
// that cannot be encoded (never sent) and rows the server rejects (too
// long for varchar(12)) at the start, middle and end: exactly the bad
// rows are reported, with the server's message, and every other row is
// written.
func TestCopyStreamIsolatesBadRows(t *testing.T) {
	t.Parallel()
	s, conn := autoSink(t)
	sc := bigSchema("stream_bad")
	sqltest.Write(t, s, bigRows(sc, 1, func(int) string { return "x" })...) // create the table
	if _, err := conn.Exec(context.Background(), "TRUNCATE stream_bad"); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	bad := map[int]string{
		1: "far too long!", 2: "nul\x00", 2400: "nul\x00", 2401: "far too long!", 4999: "far too long!", 5000: "nul\x00",
	}
	evs := bigRows(sc, n, func(i int) string {
		if v, ok := bad[i]; ok {
			return v
		}
		return fmt.Sprint("n", i)
	})
	err := s.Write(context.Background(), evs)
	var re component.RecordErrors
	if !errors.As(err, &re) {
		t.Fatalf("Write = %v, want record errors", err)
	}
	var got []string
	for _, r := range re {
		got = append(got, fmt.Sprintf("%d: %v", r.Index, r.Err))
	}
	nul := `column "name": text contains a NUL byte, which PostgreSQL text cannot hold`
	long := `ERROR: value too long for type character varying(12) (SQLSTATE 22001)`
	want := []string{
		"0: table stream_bad key (id=1) (upsert): " + long,
		"1: table stream_bad key (id=2) (upsert): " + nul,
		"2399: table stream_bad key (id=2400) (upsert): " + nul,
		"2400: table stream_bad key (id=2401) (upsert): " + long,
		"4998: table stream_bad key (id=4999) (upsert): " + long,
		"4999: table stream_bad key (id=5000) (upsert): " + nul,
	}
	sqltest.Want(t, got, want...)
	var count, sum int64
	if err := conn.QueryRow(context.Background(), "SELECT count(*), sum(id) FROM stream_bad WHERE name = 'n' || id").Scan(&count, &sum); err != nil {
		t.Fatal(err)
	}
	if count != n-6 || sum != n*(n+1)/2-(1+2+2400+2401+4999+5000) {
		t.Errorf("%d rows with id sum %d, want %d and %d", count, sum, n-6, n*(n+1)/2-(1+2+2400+2401+4999+5000))
	}
}

// TestCopyStreamConflict: a second snapshot of the same keys meets them
// while the optimistic COPY is still streaming; the group is then written
// again, whole, through the staging table, and every row holds the new
// values.
func TestCopyStreamConflict(t *testing.T) {
	t.Parallel()
	s, conn := autoSink(t)
	sc := bigSchema("stream_conflict")
	const n = 5000
	sqltest.Write(t, s, bigRows(sc, n, func(i int) string { return fmt.Sprint("a", i) })...)
	sqltest.Write(t, s, bigRows(sc, n, func(i int) string { return fmt.Sprint("b", i) })...)
	var count int64
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM stream_conflict WHERE name = 'b' || id AND pad = lpad((id-1)::text, 100, '0')").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Errorf("%d rows hold the second snapshot's values, want %d", count, n)
	}
}

// autoSink returns a sink with auto_create into a new database, and a
// connection to that database.
func autoSink(t *testing.T) (component.Sink, *pgx.Conn) {
	dsn := pgtest.NewDatabase(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate, cfg.DSN = true, dsn
	s, err := New(Config{Config: cfg, Schema: "public"}, component.Env{Name: "s", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s, pgtest.Connect(t, dsn)
}

// TestCopyStreamKilled: the server connection dies while a group is being
// streamed and the stream is stalled (the COPY waits for a lock, so the
// encoder waits for the COPY). The Write fails with a plain (retryable)
// error instead of hanging, nothing of the batch is committed, and the
// retried Write writes every row.
func TestCopyStreamKilled(t *testing.T) {
	t.Parallel()
	s, conn := autoSink(t)
	ctx := context.Background()
	sc := bigSchema("stream_kill")
	sqltest.Write(t, s, bigRows(sc, 1, func(int) string { return "first" })...)
	const n = 20000
	evs := bigRows(sc, n, func(i int) string { return fmt.Sprint("n", i) })

	locker := pgtest.Connect(t, conn.Config().ConnString())
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE stream_kill IN SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Write(ctx, evs) }()
	var pid int32
	deadline := time.Now().Add(30 * time.Second)
	for pid == 0 {
		err := conn.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
			AND query LIKE 'COPY %stream_kill%' AND wait_event_type = 'Lock'`).Scan(&pid)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if pid == 0 && time.Now().After(deadline) {
			t.Fatal("the sink's COPY never waited for the lock")
		}
	}
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var re component.RecordErrors
		if err == nil || errors.As(err, &re) || component.IsPermanent(err) {
			t.Fatalf("Write = %v, want a retryable error", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Write hangs after its connection died mid-COPY")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var count int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM stream_kill").Scan(&count); err != nil || count != 1 {
		t.Fatalf("after the failed Write: %d rows (%v), want the first one only", count, err)
	}
	sqltest.Write(t, s, evs...)
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM stream_kill WHERE name = 'n' || id").Scan(&count); err != nil || count != n {
		t.Fatalf("after the retry: %d rows (%v), want %d", count, err, n)
	}
}
