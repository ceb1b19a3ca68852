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
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// commitGate holds the commits of a test's sink. While it is shut, a
// Commit waits before it reaches the server, its transaction still open
// and holding its row locks, as a commit in flight holds them; the test
// opens it once the next transaction waits for those locks. A server-side
// gate (BACKUP STAGE BLOCK_COMMIT) would hold every commit of the shared
// test server, other tests' too.
type commitGate struct {
	mu      sync.Mutex
	held    chan struct{} // not nil while shut; closed to open
	lose    bool          // the next Commit rolls back and fails
	waiting chan struct{} // a Commit waits at the gate
}

func (g *commitGate) shut() {
	g.mu.Lock()
	g.held = make(chan struct{})
	g.mu.Unlock()
}

func (g *commitGate) open() {
	g.mu.Lock()
	close(g.held)
	g.held = nil
	g.mu.Unlock()
}

// pass waits while the gate is shut and reports whether the commit is to
// be lost.
func (g *commitGate) pass() (lose bool) {
	g.mu.Lock()
	held := g.held
	g.mu.Unlock()
	if held != nil {
		g.waiting <- struct{}{}
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

var itemsSchema = sqltest.Schema("items", 1,
	event.Column{Name: "id", Type: event.TypeInt64, Key: true},
	event.Column{Name: "name", Type: event.TypeString, Optional: true},
	event.Column{Name: "qty", Type: event.TypeInt32, Optional: true})

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
	g := &gatedSink{t: t, g: &commitGate{waiting: make(chan struct{}, 1)}}
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
	sqltest.Write(t, g.s, sqltest.Ev('r', itemsSchema, nil, sqltest.Row(sqltest.I(100), sqltest.S("first"), sqltest.I(1)), 0))
	return g
}

// waitFor waits until cond holds (30 s at most).
func (g *gatedSink) waitFor(what string, cond func() bool) {
	g.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			g.t.Fatalf("timed out waiting for %s; the server's sessions:\n%s", what, g.sessions())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sessions lists the server's sessions and transactions, for a failure.
func (g *gatedSink) sessions() string {
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, COALESCE(db, ''), command, COALESCE(state, ''), COALESCE(LEFT(info, 100), '') FROM information_schema.processlist`,
	} {
		r, err := g.db.Query(q)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", q, err)
			continue
		}
		for r.Next() {
			var c [5]string
			if err := r.Scan(&c[0], &c[1], &c[2], &c[3], &c[4]); err != nil {
				fmt.Fprintf(&b, "%v\n", err)
				break
			}
			fmt.Fprintf(&b, "  %s\n", strings.Join(c[:], " | "))
		}
		r.Close()
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

// overlap commits what is buffered (Flush) and, while that commit waits at
// the gate, writes evs with WriteBuffered; then it opens the gate and
// returns both results. lose makes the commit fail (rolled back).
func (g *gatedSink) overlap(lose bool, evs ...event.Event) (flushErr, writeErr error) {
	g.t.Helper()
	ctx := context.Background()
	g.g.mu.Lock()
	g.g.lose = lose
	g.g.mu.Unlock()
	g.g.shut()
	flushed := make(chan error, 1)
	go func() { flushed <- g.s.Flush(ctx) }()
	select {
	case <-g.g.waiting:
	case <-time.After(30 * time.Second):
		g.t.Fatal("timed out waiting for the commit to wait at the gate")
	}
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
		return g.lockWaits() == 1
	})
	g.g.open()
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

func (g *gatedSink) rows(cols ...string) []string {
	g.t.Helper()
	if len(cols) == 0 {
		cols = []string{"id", "name", "qty"}
	}
	return rows(g.t, g.db, "items", cols...)
}

func (g *gatedSink) position() string {
	g.t.Helper()
	var s string
	if err := g.db.QueryRow(`SELECT CONCAT(hi, '.', lo) FROM sluice_positions WHERE sink = 'sink1' AND source = 'src'`).Scan(&s); err != nil {
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
// a delete of a row the committing transaction inserted), every insert
// and upsert tried as a LOAD DATA first: the table ends exactly as if each
// batch had committed before the next.
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
		// Deletes a row the committing transaction inserted: no
		// snapshot taken before that commit sees it.
		{item('d', 5, "", 0, 10)},
	}
	for i, b := range batches {
		flushErr, writeErr := g.overlap(false, b...)
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
	b1 := []event.Event{item('c', 1, "one", 1, 1), item('c', 2, "two", 2, 2)}
	b2 := []event.Event{item('u', 2, "two2", 3, 3), item('c', 3, "three", 4, 4)}
	if err := g.s.WriteBuffered(ctx, b1); err != nil {
		t.Fatal(err)
	}
	flushErr, writeErr := g.overlap(true, b2...)
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
	sqltest.Want(t, g.rows(), "1|one|1", "2|two2|3", "3|three|4", "100|first|1")
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
	sqltest.Want(t, g.rows(), "1|one|1", "2|two2|3", "3|three2|5", "100|first|1")
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
	flushErr, writeErr := g.overlap(false, b2...)
	if flushErr != nil {
		t.Fatal(flushErr)
	}
	if writeErr == nil || !strings.Contains(writeErr.Error(), "1 event(s) rejected") {
		t.Fatalf("WriteBuffered = %v, want the rejected row", writeErr)
	}
	sqltest.Want(t, g.rows(), "1|one|1", "100|first|1")
	err := g.s.Write(ctx, b2)
	re, ok := err.(component.RecordErrors)
	if !ok || len(re) != 1 || re[0].Index != 1 || !strings.Contains(re[0].Err.Error(), "Out of range value for column 'qty'") {
		t.Fatalf("Write = %v, want one record error for event 1", err)
	}
	sqltest.Want(t, g.rows(), "1|one2|2", "3|three|3", "100|first|1")
	if got := g.position(); got != "2.2" {
		t.Fatalf("position %s, want 2.2 (before the rejected event)", got)
	}
}

// TestPipelinedEvolveCommitsFirst: a batch whose schema adds a column
// (auto_evolve) while the previous batch's transaction is open: the ALTER
// TABLE would wait for that transaction's metadata lock on the table,
// which only the next Flush would release, so the open transaction
// commits first.
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
	sqltest.Want(t, g.rows("id", "name", "note"), "1|one|NULL", "2|two|added", "100|first|NULL")
	if got := g.position(); got != "2.2" {
		t.Fatalf("position %s, want 2.2", got)
	}
}
