package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// commitGate holds the commits of a test's sink. While it is shut, a
// Commit waits before it reaches the server, its transaction still open
// and holding its row locks, as a commit in flight holds them; the test
// opens it once the next transaction waits for those locks. A server-side
// gate (BACKUP STAGE BLOCK_COMMIT, which holds commits and lets DML run)
// would hold every commit of the shared test server, other tests' too.
type commitGate struct {
	mu      sync.Mutex
	held    chan struct{} // not nil while shut; closed to open
	lose    bool          // the next Commit let through rolls back and fails
	waiting int           // Commits waiting at the gate
}

func (g *commitGate) shut(lose bool) {
	g.mu.Lock()
	g.held, g.lose = make(chan struct{}), lose
	g.mu.Unlock()
}

func (g *commitGate) open() {
	g.mu.Lock()
	close(g.held)
	g.held, g.waiting = nil, 0
	g.mu.Unlock()
}

func (g *commitGate) holds() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting > 0
}

// pass waits while the gate is shut and reports whether the commit is to
// be lost.
func (g *commitGate) pass() (lose bool) {
	g.mu.Lock()
	held := g.held
	if held != nil {
		g.waiting++
	}
	g.mu.Unlock()
	if held != nil {
		<-held
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	lose, g.lose = g.lose, false
	return lose
}

// gatedDialect is the sink's dialect with its transactions' commits held
// by a gate.
type gatedDialect struct {
	*dialect
	g *commitGate
}

func (d *gatedDialect) Begin(ctx context.Context) (sqlsink.Tx, error) {
	tx, err := d.dialect.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &gatedTx{myTx: tx.(*myTx), g: d.g}, nil
}

// gatedTx is a transaction of the MySQL dialect (every optional method,
// LOAD DATA's included) whose Commit passes the gate first.
type gatedTx struct {
	*myTx
	g *commitGate
}

func (t *gatedTx) Commit(ctx context.Context) error {
	if t.g.pass() {
		_ = t.myTx.Rollback(ctx)
		return errors.New("commit lost")
	}
	return t.myTx.Commit(ctx)
}

// gatedSink is a pipelined sink into a new database whose commits wait at
// a gate while the test holds it, so that the next batch is written,
// deterministically, while the previous transaction commits.
type gatedSink struct {
	t    *testing.T
	s    *sqlsink.Pipelined
	g    *commitGate
	db   *sql.DB // the test's queries
	name string  // the database
}

// TestPipelined runs sqlsink.Pipelined's cases (sqltest.RunPipelined)
// against MariaDB, every insert tried as a LOAD DATA first, its commits
// held at the client (commitGate).
func TestPipelined(t *testing.T) {
	sqltest.RunPipelined(t, sqltest.PipelineHarness{
		Open:       func(t *testing.T) sqltest.Gated { return newGatedSink(t) },
		OutOfRange: "Out of range value for column 'qty'",
	})
}

func newGatedSink(t *testing.T) *gatedSink {
	dsn := newDatabase(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate, cfg.AutoEvolve, cfg.DSN = true, true, dsn
	c := Config{Config: cfg}
	if errs := c.Validate(); len(errs) > 0 {
		t.Fatalf("config: %v", errs)
	}
	d, err := newDialect(c)
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedSink{t: t, g: &commitGate{}}
	g.s = sqlsink.NewPipelined(c.Config, &gatedDialect{dialect: d, g: g.g}, component.Env{Name: "sink1", Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { g.s.Close(context.Background()) })
	g.s.SetLimits(1000, 1) // every insert and upsert group is a LOAD DATA first
	if g.db, err = sql.Open("mysql", dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.db.Close() })
	if err := g.db.QueryRow("SELECT DATABASE()").Scan(&g.name); err != nil {
		t.Fatal(err)
	}
	// The table and the positions table exist before the gate: DDL
	// commits the open transaction first (see sqlsink.Pipelined).
	sqltest.Write(t, g.s, sqltest.Ev('r', sqltest.ItemsSchema, nil, sqltest.Row(sqltest.I(100), sqltest.S("first"), sqltest.I(1)), 0))
	return g
}

// Sessions implements sqltest.Gated.
func (g *gatedSink) Sessions(t *testing.T) string {
	r, err := g.db.Query(`SELECT id, COALESCE(db, ''), command, COALESCE(state, ''), COALESCE(LEFT(info, 100), '') FROM information_schema.processlist`)
	if err != nil {
		return err.Error()
	}
	defer r.Close()
	var b strings.Builder
	for r.Next() {
		var c [5]string
		if err := r.Scan(&c[0], &c[1], &c[2], &c[3], &c[4]); err != nil {
			return b.String() + err.Error()
		}
		fmt.Fprintf(&b, "  %s\n", strings.Join(c[:], " | "))
	}
	return b.String()
}

// lockWaits counts the transactions of the test's database that wait for
// a row lock on the server. It reads SHOW ENGINE INNODB STATUS:
// information_schema.innodb_trx is a cache that InnoDB refreshes only
// once it has not been read for 100 ms, which polling (this test's and the
// parallel tests') would keep from ever happening.
func (g *gatedSink) lockWaits() int {
	g.t.Helper()
	ours := map[string]bool{}
	r, err := g.db.Query(`SELECT id FROM information_schema.processlist WHERE db = ?`, g.name)
	if err != nil {
		g.t.Fatal(err)
	}
	for r.Next() {
		var id string
		if err := r.Scan(&id); err != nil {
			g.t.Fatal(err)
		}
		ours[id] = true
	}
	if err := r.Close(); err != nil {
		g.t.Fatal(err)
	}
	var typ, name, status string
	if err := g.db.QueryRow("SHOW ENGINE INNODB STATUS").Scan(&typ, &name, &status); err != nil {
		g.t.Fatal(err)
	}
	n := 0
	for _, trx := range strings.Split(status, "---TRANSACTION ")[1:] {
		if !strings.Contains(trx, "\nLOCK WAIT ") {
			continue
		}
		if m := threadID.FindStringSubmatch(trx); m != nil && ours[m[1]] {
			n++
		}
	}
	return n
}

var threadID = regexp.MustCompile(`(?:MariaDB|MySQL) thread id (\d+),`)

func (g *gatedSink) Sink() *sqlsink.Pipelined { return g.s }

// Hold implements sqltest.Gated: the commit waits at the gate, and with
// lose it rolls back and fails once let go.
func (g *gatedSink) Hold(t *testing.T, lose bool) { g.g.shut(lose) }

// Held implements sqltest.Gated.
func (g *gatedSink) Held(t *testing.T) bool { return g.g.holds() }

// NextWaits implements sqltest.Gated.
func (g *gatedSink) NextWaits(t *testing.T) bool { return g.lockWaits() == 1 }

// Release implements sqltest.Gated.
func (g *gatedSink) Release(t *testing.T) { g.g.open() }

// Rows implements sqltest.Gated.
func (g *gatedSink) Rows(t *testing.T, cols ...string) []string {
	t.Helper()
	if len(cols) == 0 {
		cols = []string{"id", "name", "qty"}
	}
	return rows(t, g.db, "items", cols...)
}

// Position implements sqltest.Gated.
func (g *gatedSink) Position(t *testing.T) string {
	t.Helper()
	var s string
	if err := g.db.QueryRow(`SELECT CONCAT(hi, '.', lo) FROM sluice_positions WHERE sink = 'sink1' AND source = 'src'`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
