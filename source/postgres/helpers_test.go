package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// testEnv sets up a database with tables and a source config.
type testEnv struct {
	t    testing.TB
	dsn  string
	conn *pgx.Conn
	// logged: the server's activity was logged for a failure.
	logged bool
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	te := &testEnv{t: t, dsn: dsn, conn: pgtest.Connect(t, dsn)}
	database := te.database()
	t.Cleanup(func() {
		if t.Failed() && !te.logged {
			logActivity(t, dsn, database)
		}
	})
	return te
}

func (te *testEnv) exec(sql string, args ...any) {
	te.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := te.conn.Exec(ctx, sql, args...); err != nil {
		te.t.Fatalf("%s: %v", firstLine(sql), err)
	}
}

func (te *testEnv) database() string {
	return te.conn.Config().Database
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (te *testEnv) config(tables ...string) *Config {
	c := DefaultConfig()
	c.DSN = te.dsn
	c.Tables = tables
	c.HeartbeatInterval = 0
	c.StatusInterval = 50 * time.Millisecond
	// Slots are cluster-wide: name them after the test's own database.
	c.Slot = "s_" + te.database()
	if len(c.Slot) > 63 {
		c.Slot = c.Slot[:63]
	}
	return c
}

// testLogger is a source's logger: with SLUICE_TEST_LOG on stderr;
// otherwise kept and, if the test fails, logged at its end (the last
// 16 KiB), so that a failure in CI shows what the source did.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SLUICE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	logs := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			logs.mu.Lock()
			b := logs.b.Bytes()
			if len(b) > 16<<10 {
				b = b[len(b)-16<<10:]
			}
			t.Logf("the source's log (tail):\n%s", b)
			logs.mu.Unlock()
		}
	})
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logActivity logs, for a failed test, the server's sessions that hold a
// transaction or wait (a transaction open anywhere on the server holds up
// the creation of every logical slot) and the test database's slots.
func logActivity(t testing.TB, dsn, database string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Logf("server activity: connect: %v", err)
		return
	}
	defer conn.Close(context.Background())
	for _, q := range []struct{ what, sql string }{
		{"sessions in a transaction or waiting", `SELECT concat_ws(' ', pid, datname, application_name, backend_type, state,
				'xid=' || backend_xid, 'xmin=' || backend_xmin, 'xact_age=' || (now() - xact_start)::text,
				'wait=' || wait_event_type || '/' || wait_event, 'query=' || left(query, 200))
			FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND (xact_start IS NOT NULL OR wait_event_type IN ('Lock', 'IPC'))
			ORDER BY xact_start NULLS LAST`},
		{"slots of the test's database", `SELECT concat_ws(' ', slot_name, 'active=' || active, 'active_pid=' || active_pid,
				'restart_lsn=' || restart_lsn, 'confirmed_flush_lsn=' || confirmed_flush_lsn, 'wal_status=' || wal_status,
				'current=' || pg_current_wal_lsn())
			FROM pg_replication_slots WHERE database = $1`},
	} {
		var args []any
		if strings.Contains(q.sql, "$1") {
			args = append(args, database)
		}
		rows, err := conn.Query(ctx, q.sql, args...)
		if err != nil {
			t.Logf("server activity: %s: %v", q.what, err)
			continue
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Logf("server activity: %s: %v", q.what, err)
			continue
		}
		t.Logf("%s (%d):\n%s", q.what, len(lines), strings.Join(lines, "\n"))
	}
}

// running is a source running in the background.
type running struct {
	src    *Source
	out    *sourcetest.Emitter
	cancel context.CancelFunc
	done   chan error
}

func (te *testEnv) start(cfg *Config, cp []byte, out *sourcetest.Emitter) *running {
	te.t.Helper()
	return te.startWith(cfg, cp, out, nil)
}

// startWith is start with set, when not nil, called on the new Source
// before Run (to set test hooks).
func (te *testEnv) startWith(cfg *Config, cp []byte, out *sourcetest.Emitter, set func(*Source)) *running {
	te.t.Helper()
	src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(te.t)})
	if err != nil {
		te.t.Fatal(err)
	}
	if set != nil {
		set(src)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src, out: out, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx, cp, out) }()
	te.t.Cleanup(func() {
		// Before the stop, the server as the test left it.
		if te.t.Failed() && !te.logged {
			te.logged = true
			logActivity(te.t, te.dsn, te.database())
		}
		r.stop(te.t)
	})
	return r
}

// stop cancels Run, waits for it and closes the source.
func (r *running) stop(t testing.TB) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("Run did not return after cancel")
	}
	if err := r.src.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// rowText renders an image for comparisons: col=value, ...
func rowText(sch *event.Schema, vals []event.Value) string {
	if vals == nil {
		return "<nil>"
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = sch.Columns[i].Name + "=" + v.Text()
	}
	return strings.Join(parts, " ")
}

// describe renders events as "op table row" lines.
func describe(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		img := e.After
		if img == nil {
			img = e.Before
		}
		out[i] = fmt.Sprintf("%s %s %s", e.Op, e.Schema.Table, rowText(e.Schema, img))
	}
	return out
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}
