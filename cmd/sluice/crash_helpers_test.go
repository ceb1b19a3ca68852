package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// What the crash tests share. A crash test seeds PostgreSQL with the crash
// tables (newCrashDB), runs sluice on them (crashPipeline), SIGKILLs it at
// random moments during the snapshot (killDuringSnapshot) and while a
// workload commits (killDuringWorkload), lets a last run catch up to a
// marker committed after the workload (commitMarker, finalRun; runUntil
// fails at once when a run stops by itself), and then compares the sink
// with the tables (checkReplay for Debezium envelopes).
// The kill moments are random on purpose, not synchronisation; every wait
// for the sink is a condition with a deadline. Every run of startSluice
// appends its stderr to the test directory's stderr.log.

// newCrashDB creates a database of its own holding the crash tables: acct,
// item (whose big column is stored out of line, TOAST), link (a two-column
// key) and marker. It fills acct with seedRows rows, item and link with
// seedRows/3 each, and returns the database's DSN, a connection, and the
// number of rows seeded.
func newCrashDB(t *testing.T, seedRows int) (dsn string, db *pgx.Conn, total int) {
	t.Helper()
	dsn = pgtest.NewDatabase(t)
	db = pgtest.Connect(t, dsn)
	for _, q := range []string{
		`CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL, note text)`,
		`CREATE TABLE item (id int PRIMARY KEY, name text, big text)`,
		`ALTER TABLE item ALTER COLUMN big SET STORAGE EXTERNAL`,
		`CREATE TABLE link (a int, b int, val text, PRIMARY KEY (a, b))`,
		`CREATE TABLE marker (id int PRIMARY KEY)`,
		fmt.Sprintf(`INSERT INTO acct SELECT g, g*10, 'n'||g FROM generate_series(1,%d) g`, seedRows),
		fmt.Sprintf(`INSERT INTO item SELECT g, 'item '||g, CASE WHEN g %% 50 = 0 THEN repeat(md5(g::text), 200) END FROM generate_series(1,%d) g`, seedRows/3),
		fmt.Sprintf(`INSERT INTO link SELECT g %% 100, g, 'v'||g FROM generate_series(1,%d) g`, seedRows/3),
	} {
		if _, err := db.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return dsn, db, seedRows + 2*(seedRows/3)
}

// commitMarker commits the marker row; once it is in the sink, a run has
// caught up with everything committed before it.
func commitMarker(t *testing.T, db *pgx.Conn) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO marker VALUES (1)`); err != nil {
		t.Fatal(err)
	}
}

// crashPipeline is the pipeline of the PostgreSQL crash tests: the postgres
// source named source reads every table of ${CRASH_DSN} in small snapshot
// chunks and batches, on a replication slot of its own, into the sink
// "out", whose settings are sink (lines indented by four spaces).
func crashPipeline(dir, source, sink string) string {
	return fmt.Sprintf(`state_dir: %[1]s/state
sources:
  %[2]s:
    type: postgres
    dsn: ${CRASH_DSN}
    tables: [public.*]
    snapshot_chunk_rows: 500
    batch_size: 256
    heartbeat_interval: 1s
    slot: %[3]s
sinks:
  out:
    inputs: [%[2]s]
%[4]s
engine:
  max_inflight: 8
`, dir, source, uniqueSlot(), strings.TrimSuffix(sink, "\n"))
}

// startSluice starts `sluice run pipeline` with env added to its
// environment and its stderr appended to dir/stderr.log. A run still going
// when the test ends is killed.
func startSluice(t *testing.T, dir, pipeline string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "run", pipeline)
	cmd.Env = append(os.Environ(), env...)
	path := filepath.Join(dir, "stderr.log")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the process has its own copy once started
	cmd.Stderr = f
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	off := fi.Size()
	logged.Store(cmd, func() bool {
		b, _ := os.ReadFile(path)
		return int64(len(b)) > off && hasLogRecord(b[off:])
	})
	t.Cleanup(func() { kill(cmd) })
	return cmd
}

// logged holds, for each run of startSluice and runSluice, a report of
// whether the run has logged a record yet (*exec.Cmd to func() bool).
var logged sync.Map

// logRecord matches the start of a slog record, text or JSON.
var logRecord = regexp.MustCompile(`(?m)^(time=|\{"time":)`)

// hasLogRecord reports whether stderr b holds a log record. sluice run and
// serve create their logger, install their SIGINT/SIGTERM handler, and only
// then log anything: a run that logged catches SIGTERM.
func hasLogRecord(b []byte) bool { return logRecord.Match(b) }

// awaitSignalHandler waits until a run of startSluice or runSluice has
// logged a record, which sluice does only once it catches SIGTERM: a
// SIGTERM sent before that (a run whose condition already held when it
// started, or one still in the Go runtime's start on a loaded machine)
// takes the default action and the run dies by the signal instead of
// draining. It returns early if the run exits; it kills the run and fails
// the test, with tail's text, when no record comes within a minute. A run
// started otherwise is not waited for: its caller waits for a line of its
// own (such as the HTTP address it serves).
func awaitSignalHandler(t *testing.T, cmd *exec.Cmd, tail func() string) {
	t.Helper()
	f, ok := logged.Load(cmd)
	if !ok {
		return
	}
	ready := f.(func() bool)
	exited := make(chan struct{})
	go func() { waitRun(cmd); close(exited) }()
	deadline := time.Now().Add(time.Minute)
	for !ready() {
		select {
		case <-exited:
			return
		default:
		}
		if time.Now().After(deadline) {
			kill(cmd)
			t.Fatalf("the run logged nothing within a minute, so it may not catch SIGTERM yet; stderr (tail):\n%s", tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runSluice starts `sluice run pipeline` with env added to its environment
// and its stderr kept in memory, for a test that does not kill it: read the
// buffer only once the run has been waited for. A run still going when the
// test ends is killed.
func runSluice(t *testing.T, dir, pipeline string, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	return runSluiceArgs(t, []string{pipeline}, env...)
}

// runSluiceArgs is runSluice with the arguments of `sluice run` given.
func runSluiceArgs(t *testing.T, args []string, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	w := &recordWatch{logged: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(&stderr, w)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logged.Store(cmd, func() bool {
		select {
		case <-w.logged:
			return true
		default:
			return false
		}
	})
	t.Cleanup(func() { kill(cmd) })
	return cmd, &stderr
}

// recordWatch closes logged once the stderr written to it holds a log
// record (hasLogRecord). Only exec's copying goroutine writes to it.
type recordWatch struct {
	seen   []byte // the stderr before the first record
	logged chan struct{}
}

func (w *recordWatch) Write(p []byte) (int, error) {
	select {
	case <-w.logged:
		return len(p), nil
	default:
	}
	w.seen = append(w.seen, p...)
	if hasLogRecord(w.seen) {
		close(w.logged)
		w.seen = nil
	}
	return len(p), nil
}

// stop stops a run of runSluice with SIGTERM, once it catches it, and
// fails the test, with the run's stderr, unless it exits cleanly.
func stop(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) {
	t.Helper()
	awaitSignalHandler(t, cmd, stderr.String) // read only once kill reaped the run
	cmd.Process.Signal(syscall.SIGTERM)
	if err := waitRun(cmd); err != nil {
		t.Fatalf("sluice: %v\n%s", err, stderr)
	}
}

// kill SIGKILLs a run and reaps it; a run already reaped is left alone.
func kill(cmd *exec.Cmd) {
	cmd.Process.Kill()
	waitRun(cmd)
}

// waits holds each run's one Wait (*exec.Cmd to func() error).
var waits sync.Map

// waitRun waits for a run and returns its exit error: the same, from
// one exec.Cmd.Wait, for every caller. Two Waits on one Cmd at once are a
// data race, and a test often waits for a run in a goroutine while its
// cleanup (kill) reaps it, when the test fails before the run ends.
func waitRun(cmd *exec.Cmd) error {
	f, _ := waits.LoadOrStore(cmd, sync.OnceValue(cmd.Wait))
	return f.(func() error)()
}

// stderrTail is the end of the runs' stderr.log in dir.
func stderrTail(dir string) string {
	log, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
	if len(log) > 4000 {
		log = log[len(log)-4000:]
	}
	return string(log)
}

// waitFor waits up to d for cond; on timeout it fails the test with the
// tail of the runs' stderr.log in dir.
func waitFor(t *testing.T, d time.Duration, what, dir string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (see %s/stderr.log); sluice stderr (tail):\n%s", what, dir, stderrTail(dir))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopWhen waits up to d for cond (what the run must reach, such as a
// marker row in the sink), then stops the run (stopRun). A timeout fails
// the test with the tail of the runs' stderr.log.
func stopWhen(t *testing.T, cmd *exec.Cmd, dir string, d time.Duration, what string, cond func() bool) {
	t.Helper()
	waitFor(t, d, what, dir, cond)
	stopRun(t, cmd, dir)
}

// stopRun stops a run with SIGTERM, once it catches it
// (awaitSignalHandler), and fails the test, with the tail of the runs'
// stderr.log in dir, unless it exits cleanly.
func stopRun(t *testing.T, cmd *exec.Cmd, dir string) {
	t.Helper()
	awaitSignalHandler(t, cmd, func() string { return stderrTail(dir) })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := waitRun(cmd); err != nil {
		t.Fatalf("sluice exit after SIGTERM: %v (see %s/stderr.log); sluice stderr (tail):\n%s", err, dir, stderrTail(dir))
	}
}

// crashRun starts, kills and restarts one pipeline.
type crashRun struct {
	t        *testing.T
	dir      string // the test's directory, with stderr.log
	pipeline string
	env      []string // added to each run's environment
	rng      *rand.Rand
}

func newCrashRun(t *testing.T, dir, pipeline string, env ...string) *crashRun {
	return &crashRun{t: t, dir: dir, pipeline: pipeline, env: env,
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))}
}

func (r *crashRun) start() *exec.Cmd {
	r.t.Helper()
	return startSluice(r.t, r.dir, r.pipeline, r.env...)
}

// pause sleeps until a random moment between lo and lo+spread from now.
func (r *crashRun) pause(lo, spread time.Duration) {
	time.Sleep(lo + time.Duration(r.rng.Int64N(int64(spread))))
}

// randomMoment is a kill moment: a random one between lo and lo+spread
// after it is called.
func (r *crashRun) randomMoment(lo, spread time.Duration) func() {
	return func() { r.pause(lo, spread) }
}

// lineWatch counts the lines of a file that only grows, reading only what
// was appended since its last count: cheap enough to poll every few
// milliseconds.
type lineWatch struct {
	path string
	off  int64
	n    int
	buf  []byte
}

func (w *lineWatch) count() int {
	f, err := os.Open(w.path)
	if err != nil {
		return w.n
	}
	defer f.Close()
	if w.buf == nil {
		w.buf = make([]byte, 64<<10)
	}
	for {
		k, err := f.ReadAt(w.buf, w.off)
		w.n += bytes.Count(w.buf[:k], []byte("\n"))
		w.off += int64(k)
		if err != nil || k == 0 {
			return w.n
		}
	}
}

// snapshotKills says how a crash test kills sluice during the snapshot.
type snapshotKills struct {
	kills int // kills that must land before the snapshot is complete
	tries int // runs at the most
	// gate is the proxy the runs reach the source database through.
	gate *snapshotGate
	// left says how many rows the snapshot has left at least: the rows
	// minus those in the sink (re-deliveries may be counted too).
	left func() int
	// done reports whether the snapshot is complete in the sink. It is
	// asked before each run starts and again right before its kill.
	done func() bool
	// progress, if not nil, says how far the snapshot got, for the log.
	progress func() string
}

// snapshotGate is a proxy (svctest.Proxy) between sluice and the source
// database that each run of killDuringSnapshot holds at a random byte of
// the snapshot: the run is killed while it waits there, so the snapshot
// cannot have been completed by then however late the test itself gets to
// run. (Kill moments timed from outside failed on a loaded machine: the
// whole snapshot of a run was in the sink before the test looked again.)
type snapshotGate struct {
	px *svctest.Proxy
	// bytes is what the snapshot of all rows takes on the wire at least:
	// a COPY ... TO STDOUT of each table, 5 bytes of message header and
	// the row's text per row, as sluice's snapshot reads them.
	bytes int64
	rows  int
}

// newSnapshotGate measures the snapshot of tables at dsn (a postgres://
// URL), starts the proxy and returns it with the DSN that goes through it.
func newSnapshotGate(t *testing.T, dsn string, tables ...string) (*snapshotGate, string) {
	t.Helper()
	conn := pgtest.Connect(t, dsn)
	g := &snapshotGate{}
	for _, tb := range tables {
		var w countingWriter
		tag, err := conn.PgConn().CopyTo(context.Background(), &w, "COPY "+tb+" TO STDOUT")
		if err != nil {
			t.Fatalf("measure %s: %v", tb, err)
		}
		g.bytes += w.n + 5*tag.RowsAffected()
		g.rows += int(tag.RowsAffected())
	}
	conn.Close(context.Background())
	_, target := viaProxy(t, dsn, "x")
	g.px = svctest.NewProxy(t, target)
	proxied, _ := viaProxy(t, dsn, g.px.Addr())
	return g, proxied
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(b []byte) (int, error) {
	w.n += int64(len(b))
	return len(b), nil
}

// hold sets the gate for a run of a snapshot that has left rows left at
// least: it holds the run's replies at a random byte within the first
// half of what left rows take on average. A run from the start of the
// snapshot (left is every row) is therefore certainly held before its
// end; later runs nearly always are, and one that is not completes the
// snapshot, which ends the kills.
//
// The hold comes after 32 KiB at least, past the connections' start-up
// (authentication, the catalog's queries), so a run is held in its
// snapshot, not before it (a snapshot of a few rows left may end first).
func (g *snapshotGate) hold(rng *rand.Rand, left int) {
	half := g.bytes * int64(left) / int64(max(g.rows, 1)) / 2
	g.px.HoldAfter(max(half/8+rng.Int64N(max(half-half/8, 1)), 32<<10))
}

// await waits for a run to reach its hold (or, if it never does, to
// complete the snapshot: done), and then up to 5 s for the sink to show
// that the run wrote something (wrote): what the run read before the hold
// is on its way to the sink, unless the source holds an unfinished batch.
func (g *snapshotGate) await(t *testing.T, dir string, done, wrote func() bool) {
	t.Helper()
	waitFor(t, 2*time.Minute, "a run to reach its hold in the snapshot", dir, func() bool {
		return g.px.Held() || done()
	})
	for deadline := time.Now().Add(5 * time.Second); !wrote() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// killDuringSnapshot starts runs one after another, each SIGKILLed while
// the gate holds it (once it wrote something, after a random pause),
// until s.kills of them were killed before the snapshot was complete, the
// snapshot is complete, or s.tries runs were made. It logs
// how many kills landed during the snapshot and fails the test when none
// did.
func (r *crashRun) killDuringSnapshot(s snapshotKills) {
	r.t.Helper()
	during := 0
	for i := 0; i < s.tries && during < s.kills && !s.done(); i++ {
		left := s.left()
		s.gate.hold(r.rng, left)
		cmd := r.start()
		s.gate.await(r.t, r.dir, s.done, func() bool { return s.left() < left })
		r.pause(0, 300*time.Millisecond)
		landed := !s.done()
		kill(cmd)
		s.gate.px.Release()
		if landed {
			during++
		}
	}
	if s.progress != nil {
		r.t.Logf("%d kills landed during the snapshot (%s)", during, s.progress())
	} else {
		r.t.Logf("%d kills landed during the snapshot", during)
	}
	if during == 0 {
		r.t.Fatalf("no kill landed during the snapshot; the test proves nothing (see %s/stderr.log)", r.dir)
	}
}

// killDuringWorkload runs work, until its context is cancelled, while kills
// runs of sluice are each SIGKILLed at their moment. The first run is
// running if it is not nil; the others are started here. It returns once
// work has returned.
func (r *crashRun) killDuringWorkload(running *exec.Cmd, kills int, moment func(), work func(context.Context)) {
	r.t.Helper()
	ctx, stopWork := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWork()
	wg.Add(1)
	go func() {
		defer wg.Done()
		work(ctx)
	}()
	cmd := running
	for i := 0; i < kills; i++ {
		if cmd == nil {
			cmd = r.start()
		}
		moment()
		kill(cmd)
		cmd = nil
	}
}

// finalRun starts the last run, which must catch up to what the test
// committed last: it waits up to d for reached, then stops the run with
// SIGTERM, and fails the test on a timeout or an unclean exit.
func (r *crashRun) finalRun(d time.Duration, what string, reached func() bool) {
	r.t.Helper()
	stopWhen(r.t, r.start(), r.dir, d, "the final run to reach "+what, reached)
}

// runUntil starts a run, waits up to d for reached, then stops it with
// SIGTERM; a run that exits by itself before (a sink that stopped the
// pipeline) fails the test at once, with the tail of stderr.log.
func (r *crashRun) runUntil(d time.Duration, what string, reached func() bool) {
	r.t.Helper()
	cmd := r.start()
	exited := make(chan error, 1)
	go func() { exited <- waitRun(cmd) }()
	deadline := time.Now().Add(d)
	for !reached() {
		select {
		case err := <-exited:
			r.t.Fatalf("sluice exited (%v) before %s; stderr (tail):\n%s", err, what, stderrTail(r.dir))
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			r.t.Fatalf("timed out waiting for %s; stderr (tail):\n%s", what, stderrTail(r.dir))
		}
		time.Sleep(50 * time.Millisecond)
	}
	awaitSignalHandler(r.t, cmd, func() string { return stderrTail(r.dir) })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		r.t.Fatalf("sluice exit after SIGTERM: %v; stderr (tail):\n%s", err, stderrTail(r.dir))
	}
}

// crashTables are the crash tables the workload changes, with the query
// that reads each for tableRows.
var crashTables = []struct{ table, q string }{
	{"acct", `SELECT id, balance, note FROM acct`},
	{"item", `SELECT id, name, big FROM item`},
	{"link", `SELECT a, b, val FROM link`},
}

// checkReplay replays the Debezium envelopes in path and fails the test
// unless the last image of every key equals its row in the crash tables,
// with no key more or less; where names the output in messages. It returns
// the number of envelopes.
func checkReplay(t *testing.T, db *pgx.Conn, path, where string) int {
	t.Helper()
	got, lines := replay(t, path)
	for _, tc := range crashTables {
		want := tableRows(t, db, tc.q)
		g := got[tc.table]
		if len(g) != len(want) {
			t.Errorf("%s: %s has %d keys, table has %d", tc.table, where, len(g), len(want))
		}
		n := 0
		for k, w := range want {
			if gv, ok := g[k]; !ok || gv != w {
				if n++; n <= 5 {
					t.Errorf("%s key %s: %s %.200q, table %.200q", tc.table, k, where, gv, w)
				}
			}
		}
		for k := range g {
			if _, ok := want[k]; !ok {
				if n++; n <= 5 {
					t.Errorf("%s key %s in %s but not in table", tc.table, k, where)
				}
			}
		}
	}
	return lines
}

const unavailable = "__debezium_unavailable_value"

type crashRow map[string]any

// workload runs random transactions until ctx is cancelled.
// closeAndAwait closes conn and waits until its server backend has exited.
// A Commit cut short by a cancelled context returns at once, but the COMMIT
// already sent may still be executed by the server afterwards: until the
// backend is gone, a transaction of conn can commit after whatever the test
// does next (a marker meant to be the last transaction, say).
func closeAndAwait(t *testing.T, conn *pgx.Conn, dsn string) {
	pid := conn.PgConn().PID()
	conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("connect to wait for backend %d: %v", pid, err)
		return
	}
	defer admin.Close(context.Background())
	for {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&n); err != nil {
			t.Errorf("backend %d of the workload did not exit within 30 s: %v", pid, err)
			return
		}
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func workload(ctx context.Context, t *testing.T, dsn string, seedRows int, txs *atomic.Int64) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("workload connect: %v", err)
		return
	}
	defer closeAndAwait(t, conn, dsn)
	rng := rand.New(rand.NewPCG(42, uint64(time.Now().UnixNano())))
	next := seedRows + 1
	for ctx.Err() == nil {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return
		}
		n := 1 + rng.IntN(20)
		for i := 0; i < n; i++ {
			id := 1 + rng.IntN(seedRows)
			var q string
			var args []any
			switch rng.IntN(10) {
			case 0:
				q, args = `INSERT INTO acct VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET balance = excluded.balance`, []any{next, rng.IntN(1000), "new"}
				next++
			case 1:
				q, args = `DELETE FROM acct WHERE id = $1`, []any{id}
			case 2: // delete then re-insert the same key
				if _, err := tx.Exec(ctx, `DELETE FROM item WHERE id = $1`, id/3+1); err != nil {
					break
				}
				q, args = `INSERT INTO item VALUES ($1, 'again', NULL) ON CONFLICT (id) DO NOTHING`, []any{id/3 + 1}
			case 3: // primary-key update
				q, args = `UPDATE acct SET id = $2 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM acct WHERE id = $2)`, []any{id, next}
				next++
			case 4: // TOAST-sized value
				q, args = `UPDATE item SET big = repeat(md5(random()::text), 150) WHERE id = $1`, []any{id/3 + 1}
			case 5: // leaves a TOASTed column unchanged
				q, args = `UPDATE item SET name = 'renamed ' || $2::text WHERE id = $1`, []any{id/3 + 1, rng.IntN(1e6)}
			case 6:
				q, args = `UPDATE link SET val = $3 WHERE a = $1 AND b = $2`, []any{id % 100, id, strconv.Itoa(rng.IntN(1e6))}
			case 7:
				q, args = `UPDATE link SET b = b + 1000000 WHERE a = $1 AND b = $2`, []any{id % 100, id}
			default:
				q, args = `UPDATE acct SET balance = balance + 1, note = $2 WHERE id = $1`, []any{id, fmt.Sprintf("tx%d", rng.IntN(1e6))}
			}
			if q == "" {
				continue
			}
			if _, err := tx.Exec(ctx, q, args...); err != nil {
				tx.Rollback(context.Background())
				tx = nil
				break
			}
		}
		if tx != nil {
			if tx.Commit(ctx) == nil {
				txs.Add(1)
			}
		}
	}
}

// replay applies the output's events in order and returns the last image
// per key, per table, as "col=value|..." strings.
func replay(t *testing.T, path string) (map[string]map[string]string, int) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	state := map[string]map[string]crashRow{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	lines := 0
	for sc.Scan() {
		lines++
		var ev struct {
			Before crashRow `json:"before"`
			After  crashRow `json:"after"`
			Op     string   `json:"op"`
			Source struct {
				Table string `json:"table"`
				LSN   *int64 `json:"lsn"`
			} `json:"source"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		if ev.Source.LSN == nil && ev.Op != "r" {
			t.Fatalf("line %d: a change without its source position", lines)
		}
		tbl := state[ev.Source.Table]
		if tbl == nil {
			tbl = map[string]crashRow{}
			state[ev.Source.Table] = tbl
		}
		switch ev.Op {
		case "r", "c":
			tbl[rowKey(ev.Source.Table, ev.After)] = ev.After
		case "u":
			k := rowKey(ev.Source.Table, ev.After)
			if ev.Before != nil {
				if old := rowKey(ev.Source.Table, ev.Before); old != k {
					delete(tbl, old)
				}
			}
			prev := tbl[k]
			for c, v := range ev.After {
				if v == unavailable {
					ev.After[c] = prev[c]
				}
			}
			tbl[k] = ev.After
		case "d":
			delete(tbl, rowKey(ev.Source.Table, ev.Before))
		case "t":
			state[ev.Source.Table] = map[string]crashRow{}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for tbl, rows := range state {
		out[tbl] = map[string]string{}
		for k, r := range rows {
			out[tbl][k] = rowString(r)
		}
	}
	return out, lines
}

func rowKey(table string, r crashRow) string {
	if table == "link" {
		return norm(r["a"]) + "/" + norm(r["b"])
	}
	return norm(r["id"])
}

// norm prints JSON numbers and database integers alike.
func norm(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int32:
		return strconv.Itoa(int(x))
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return fmt.Sprint(v)
}

func rowString(r crashRow) string {
	cols := make([]string, 0, len(r))
	for c, v := range r {
		cols = append(cols, c+"="+norm(v))
	}
	sort.Strings(cols)
	return strings.Join(cols, "|")
}

func tableRows(t *testing.T, db *pgx.Conn, q string) map[string]string {
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	fields := rows.FieldDescriptions()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		r := crashRow{}
		for i, f := range fields {
			r[f.Name] = vals[i]
		}
		table := "acct"
		if _, ok := r["a"]; ok {
			table = "link"
		}
		out[rowKey(table, r)] = rowString(r)
	}
	return out
}
