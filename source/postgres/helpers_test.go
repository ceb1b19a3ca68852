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
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	return &testEnv{t: t, dsn: dsn, conn: pgtest.Connect(t, dsn)}
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

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SLUICE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
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
	src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(te.t)})
	if err != nil {
		te.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src, out: out, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx, cp, out) }()
	te.t.Cleanup(func() { r.stop(te.t) })
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
