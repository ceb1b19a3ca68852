package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// testEnv is a database of its own on the test server.
type testEnv struct {
	t    testing.TB
	dsn  string // go-sql-driver DSN of the test database
	db   *sql.DB
	name string
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	return newTestEnvAt(t, svctest.Need(t, svctest.MariaDB))
}

// newTestEnvAt is newTestEnv on the server of base, a DSN.
func newTestEnvAt(t testing.TB, base string) *testEnv {
	t.Helper()
	dc, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", dc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("sl_%s_%d", strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())), rand.IntN(1e6))
	if len(name) > 64 {
		name = name[len(name)-64:]
	}
	if _, err := admin.Exec("CREATE DATABASE " + quoteIdent(name)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + quoteIdent(name))
		admin.Close()
	})
	dc.DBName = name
	dc.MultiStatements = true
	dc.Params = map[string]string{"time_zone": "'+00:00'"}
	db, err := sql.Open("mysql", dc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	return &testEnv{t: t, dsn: dc.FormatDSN(), db: db, name: name}
}

func (te *testEnv) exec(q string, args ...any) {
	te.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := te.db.ExecContext(ctx, q, args...); err != nil {
		te.t.Fatalf("%s: %v", firstLine(q), err)
	}
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
	for _, t := range tables {
		c.Tables = append(c.Tables, te.name+"."+t)
	}
	c.HeartbeatInterval = time.Second
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
	return te.startWith(cfg, cp, out, nil)
}

// startWith is start with set, when not nil, called on the new Source
// before Run (to set test hooks).
func (te *testEnv) startWith(cfg *Config, cp []byte, out *sourcetest.Emitter, set func(*Source)) *running {
	te.t.Helper()
	src, err := New(cfg, component.Env{Name: "my", Pipeline: "p", Logger: testLogger(te.t)})
	if err != nil {
		te.t.Fatal(err)
	}
	if set != nil {
		set(src)
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

// count returns a waitFor condition: at least n events.
func count(n int) func([]event.Event) bool {
	return func(evs []event.Event) bool { return len(evs) >= n }
}

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }
