package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// fakeEmitter collects batches. With window > 0 it holds at most window
// batches: Emit blocks until the test (or autoCommit) releases them, like
// the engine's in-flight cap.
type fakeEmitter struct {
	mu       sync.Mutex
	cond     *sync.Cond
	events   []event.Event
	batches  []emitted
	held     int // batches emitted and not yet released
	maxHeld  int // max events held at once
	heldEvts int
	window   int
	keep     bool // keep events (false: count only)
	count    int
	lastCP   []byte
	stopped  bool
	waiting  int // Emit calls blocked by window
	onEmit   func(e *fakeEmitter, evs []event.Event, cp []byte) error
}

type emitted struct {
	n  int
	cp []byte
}

func newEmitter() *fakeEmitter {
	e := &fakeEmitter{keep: true}
	e.cond = sync.NewCond(&e.mu)
	return e
}

func (e *fakeEmitter) Emit(ctx context.Context, evs []event.Event, cp []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.window > 0 && e.held >= e.window {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.waiting++
		e.cond.Wait()
		e.waiting--
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if e.onEmit != nil {
		if err := e.onEmit(e, evs, cp); err != nil {
			return err
		}
	}
	if e.keep {
		e.events = append(e.events, evs...)
	}
	e.count += len(evs)
	e.batches = append(e.batches, emitted{n: len(evs), cp: cp})
	e.held++
	e.heldEvts += len(evs)
	if e.heldEvts > e.maxHeld {
		e.maxHeld = e.heldEvts
	}
	if cp != nil {
		e.lastCP = cp
	}
	e.cond.Broadcast()
	return nil
}

// release marks every held batch as written.
func (e *fakeEmitter) release() {
	e.mu.Lock()
	e.held, e.heldEvts = 0, 0
	e.cond.Broadcast()
	e.mu.Unlock()
}

// wakeOnCancel unblocks Emit waiters when ctx ends.
func (e *fakeEmitter) wakeOnCancel(ctx context.Context) {
	context.AfterFunc(ctx, func() {
		e.mu.Lock()
		e.cond.Broadcast()
		e.mu.Unlock()
	})
}

func (e *fakeEmitter) snapshotEvents() []event.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]event.Event(nil), e.events...)
}

func (e *fakeEmitter) checkpoint() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastCP
}

// waitFor waits until cond (called with e.mu held) holds for the emitter's state or fails the test.
func (e *fakeEmitter) waitFor(t testing.TB, what string, timeout time.Duration, cond func(evs []event.Event) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		e.mu.Lock()
		ok := cond(e.events)
		e.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.mu.Lock()
			n := len(e.events)
			e.mu.Unlock()
			t.Fatalf("timed out waiting for %s (%d events)", what, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCP waits for the first checkpoint (the end of the snapshot).
func (e *fakeEmitter) waitCP(t testing.TB) {
	t.Helper()
	e.waitFor(t, "a checkpoint", 15*time.Second, func([]event.Event) bool { return e.lastCP != nil })
}

// testEnv is a database of its own on the test server.
type testEnv struct {
	t    testing.TB
	dsn  string // go-sql-driver DSN of the test database
	db   *sql.DB
	name string
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	base := svctest.Need(t, svctest.MariaDB)
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
	out    *fakeEmitter
	cancel context.CancelFunc
	done   chan error
}

func (te *testEnv) start(cfg *Config, cp []byte, out *fakeEmitter) *running {
	te.t.Helper()
	src, err := New(cfg, component.Env{Name: "my", Pipeline: "p", Logger: testLogger(te.t)})
	if err != nil {
		te.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out.wakeOnCancel(ctx)
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
