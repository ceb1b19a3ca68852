package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// signalDDL is the signal table as Debezium's documentation creates it.
const signalDDL = `CREATE TABLE debezium_signal (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL)`

// waitSlot waits until the source streams from its slot: changes from
// then on are decoded (a slot being created may not have reached its
// consistent point yet).
func (te *testEnv) waitSlot(slot string) {
	te.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var n int
		if err := te.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots r
			JOIN pg_stat_replication s ON s.pid = r.active_pid
			WHERE r.slot_name = $1 AND s.state IN ('streaming', 'catchup')`, slot).Scan(&n); err != nil {
			te.t.Fatal(err)
		}
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			te.t.Fatalf("slot %s was not created", slot)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fold applies events in order to a map of row images by key text, as a
// sink keeping the last image per key does.
func fold(evs []event.Event, table string) map[string]string {
	m := map[string]string{}
	for _, e := range evs {
		if e.Schema.Table != table {
			continue
		}
		img := e.After
		if img == nil {
			img = e.Before
		}
		var k []string
		for _, i := range e.Schema.KeyIdx {
			k = append(k, img[i].Text())
		}
		key := strings.Join(k, ",")
		switch e.Op {
		case event.OpDelete:
			delete(m, key)
		case event.OpTruncate:
			clear(m)
		default:
			m[key] = rowText(e.Schema, e.After)
		}
	}
	return m
}

// foldVersioned applies events as an externally versioned index does
// (OpenSearch's version_type=external): an event whose event.Version is
// not above the stored one for its key, a delete's included, is rejected.
func foldVersioned(t *testing.T, evs []event.Event, table string) map[string]string {
	t.Helper()
	type doc struct {
		v     int64
		img   string
		alive bool
	}
	m := map[string]*doc{}
	for _, e := range evs {
		if e.Schema.Table != table {
			continue
		}
		img := e.After
		if img == nil {
			img = e.Before
		}
		var k []string
		for _, i := range e.Schema.KeyIdx {
			k = append(k, img[i].Text())
		}
		key := strings.Join(k, ",")
		v, ok := e.Version()
		if !ok {
			t.Fatalf("%s: no version", e.String())
		}
		if e.Op == event.OpUpdate && e.Before != nil {
			// A key change deletes the old key's document.
			var ok []string
			for _, i := range e.Schema.KeyIdx {
				ok = append(ok, e.Before[i].Text())
			}
			if old := strings.Join(ok, ","); old != key {
				if d := m[old]; d == nil || v > d.v {
					m[old] = &doc{v: v}
				}
			}
		}
		if d := m[key]; d != nil && v <= d.v {
			continue
		}
		if e.Op == event.OpDelete {
			m[key] = &doc{v: v}
		} else {
			m[key] = &doc{v: v, img: rowText(e.Schema, e.After), alive: true}
		}
	}
	out := map[string]string{}
	for k, d := range m {
		if d.alive {
			out[k] = d.img
		}
	}
	return out
}

// sameRows fails the test where got differs from want, naming the sink.
func sameRows(t *testing.T, sink string, got, want map[string]string) {
	t.Helper()
	n := 0
	for k, w := range want {
		if got[k] != w {
			if n++; n <= 10 {
				t.Errorf("%s: key %s: events give %q, the table has %q", sink, k, got[k], w)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			if n++; n <= 10 {
				t.Errorf("%s: key %s: events give %q, the table has no such row", sink, k, g)
			}
		}
	}
}

// tableRows reads a table as fold renders it (key columns first in kcols).
func (te *testEnv) tableRows(sql string, kcols int) map[string]string {
	te.t.Helper()
	rows, err := te.conn.Query(context.Background(), sql)
	if err != nil {
		te.t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]string{}
	fields := rows.FieldDescriptions()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			te.t.Fatal(err)
		}
		var k, parts []string
		for i, v := range vals {
			s := "NULL"
			if v != nil {
				s = fmt.Sprint(v)
			}
			if i < kcols {
				k = append(k, s)
			}
			parts = append(parts, fields[i].Name+"="+s)
		}
		m[strings.Join(k, ",")] = strings.Join(parts, " ")
	}
	if err := rows.Err(); err != nil {
		te.t.Fatal(err)
	}
	return m
}

func incrDone(cp []byte) bool { return cp != nil && !bytes.Contains(cp, []byte(`"incremental"`)) }

func countOp(evs []event.Event, op event.Op, mark event.SnapshotMark) int {
	n := 0
	for _, e := range evs {
		if e.Op == op && e.Source.Snapshot == mark {
			n++
		}
	}
	return n
}

// TestIncrementalSnapshotConcurrent re-reads a table through Debezium's
// signal row while a workload inserts, updates and deletes the rows being
// read: the events, applied in order, must give exactly the final table.
// A snapshot row read before a change in its window and emitted after it
// would leave a stale image behind.
func TestIncrementalSnapshotConcurrent(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	rowsN := 3000
	if v, _ := strconv.Atoi(os.Getenv("SLUICE_INCR_ROWS")); v > 0 {
		rowsN = v
	}
	te.exec(signalDDL)
	te.exec(`CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)`)
	te.exec(fmt.Sprintf(`INSERT INTO t SELECT g, 0 FROM generate_series(1, %d) g`, rowsN))
	cfg := te.config("public.t")
	cfg.Snapshot = SnapshotNever // every existing row comes from the incremental snapshot
	cfg.SignalDataCollection = "public.debezium_signal"
	cfg.SnapshotChunkRows = 100
	cfg.BatchSize = 64
	out := sourcetest.NewEmitter()
	te.start(cfg, nil, out)
	te.waitSlot(cfg.Slot)

	// The workload runs from before the signal until the snapshot is done.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var ops atomic.Int64 // operations committed
	go func() {
		defer wg.Done()
		conn := pgtest.Connect(t, te.dsn)
		rng := rand.New(rand.NewPCG(1, 2))
		for ctx.Err() == nil {
			id := 1 + rng.IntN(rowsN+rowsN/10)
			var sql string
			switch rng.IntN(4) {
			case 0:
				sql = fmt.Sprintf(`DELETE FROM t WHERE id = %d`, id)
			case 1:
				sql = fmt.Sprintf(`INSERT INTO t VALUES (%d, %d) ON CONFLICT (id) DO UPDATE SET v = t.v + 1000`, id, ops.Load())
			default:
				sql = fmt.Sprintf(`UPDATE t SET v = v + 1 WHERE id = %d`, id)
			}
			// Not ctx: a statement cut short by stop() may still commit on
			// the server after the closing insert below, and its event
			// would then come after the one the test waits for.
			if _, err := conn.Exec(context.Background(), sql); err != nil {
				t.Errorf("workload: %v", err)
				return
			}
			ops.Add(1)
		}
	}()
	// However fast the snapshot runs next to the workload on a loaded
	// machine, each of its batches waits for 3 more operations: at least
	// 3 per batch run while the rows are read.
	out.PaceAgainst(ops.Load, 3, func(e event.Event) bool { return e.Source.Snapshot == event.SnapshotIncremental })
	te.exec(`INSERT INTO debezium_signal (id, type, data) VALUES ('ad-hoc-1', 'execute-snapshot', '{"data-collections": ["public.t"], "type":"incremental"}')`)
	out.WaitFor(t, "the incremental snapshot to end", 60*time.Second, func(evs []event.Event) bool {
		return countOp(evs, event.OpRead, event.SnapshotIncremental) > 0 && incrDone(out.Checkpoint())
	})
	stop()
	wg.Wait()
	te.exec(`INSERT INTO t VALUES (-1, -1)`)
	out.WaitFor(t, "the last insert", 15*time.Second, func(evs []event.Event) bool {
		return slices.ContainsFunc(evs, func(e event.Event) bool { return e.After != nil && e.After[0].Text() == "-1" })
	})
	evs := out.Events()
	want := te.tableRows(`SELECT id, v FROM t`, 1)
	sameRows(t, "in order", fold(evs, "t"), want)
	sameRows(t, "externally versioned", foldVersioned(t, evs, "t"), want)
	reads := countOp(evs, event.OpRead, event.SnapshotIncremental)
	t.Logf("%d workload operations, %d incremental reads of %d rows, %d events", ops.Load(), reads, rowsN, len(evs))
	if got := ops.Load(); got < 100 {
		t.Errorf("only %d workload operations ran during the snapshot", got)
	}
	// No signal row (nor a watermark) became an event.
	for _, e := range evs {
		if e.Schema.Table != "t" {
			t.Fatalf("event of table %s", e.Schema.Table)
		}
	}
}

// TestIncrementalSnapshotConditions: additional-conditions restrict the
// rows read, with single and composite keys, as verify --repair uses them.
func TestIncrementalSnapshotConditions(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(signalDDL)
	te.exec(`CREATE TABLE a (id int PRIMARY KEY, v text)`)
	te.exec(`INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 20) g`)
	te.exec(`CREATE TABLE b (x int, y text, v text, PRIMARY KEY (x, y))`)
	te.exec(`INSERT INTO b SELECT g % 3, 'y' || g, 'b' || g FROM generate_series(1, 12) g`)
	cfg := te.config("public.a", "public.b")
	cfg.Snapshot = SnapshotNever
	cfg.SignalDataCollection = "public.debezium_signal"
	cfg.SnapshotChunkRows = 2
	out := sourcetest.NewEmitter()
	te.start(cfg, nil, out)
	te.waitSlot(cfg.Slot)
	te.exec(`INSERT INTO debezium_signal (id, type, data) VALUES ('repair-1', 'execute-snapshot',
		'{"data-collections": ["public.a", "public.b"], "type": "incremental",
		  "additional-conditions": [{"data-collection": "public.a", "filter": "id IN (1,5,9)"},
		                            {"data-collection": "public.b", "filter": "(x, y) IN ((1, ''y1''), (2, ''y5''), (0, ''y12''))"}]}')`)
	out.WaitFor(t, "the incremental snapshot", 15*time.Second, func(evs []event.Event) bool {
		return len(evs) >= 6 && incrDone(out.Checkpoint())
	})
	var got []string
	for _, e := range out.Events() {
		got = append(got, fmt.Sprintf("%s %s %s %s", e.Op, e.Source.Snapshot, e.Schema.Table, rowText(e.Schema, e.After)))
	}
	want := []string{
		"r incremental a id=1 v=a1",
		"r incremental a id=5 v=a5",
		"r incremental a id=9 v=a9",
		"r incremental b x=0 y=y12 v=b12",
		"r incremental b x=1 y=y1 v=b1",
		"r incremental b x=2 y=y5 v=b5",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
}

// TestIncrementalSnapshotResume stops the source after the first chunk of
// an incremental snapshot and restarts it from the checkpoint: the table is
// read on from the chunk after the checkpointed key, every row once more
// at most per chunk, and nothing is missing.
func TestIncrementalSnapshotResume(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE t (id int PRIMARY KEY, v int)`)
	te.exec(`INSERT INTO t SELECT g, g FROM generate_series(1, 50) g`)
	cfg := te.config("public.t")
	cfg.Snapshot = SnapshotNever
	cfg.SnapshotChunkRows = 10
	out := sourcetest.NewEmitter()
	// Hold the source after the first chunk's rows.
	out.HoldAfter(func(evs []event.Event) bool { return len(evs) > 0 && evs[0].Op == event.OpRead })
	r := te.start(cfg, nil, out)
	te.waitSlot(cfg.Slot)
	if err := r.src.Signal(context.Background(), Signal{Type: "execute-snapshot", Data: json.RawMessage(`{"data-collections":["public.t"]}`)}); err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "the first chunk", 15*time.Second, func(evs []event.Event) bool { return len(evs) >= 10 })
	cp := out.Checkpoint()
	if !bytes.Contains(cp, []byte(`"incremental":{"tables":[{"table":"public.t","last_key":["10"]}]}`)) {
		t.Fatalf("checkpoint after the first chunk: %s", cp)
	}
	r.stop(t)
	first := out.Events()

	out2 := sourcetest.NewEmitter()
	te.start(cfg, cp, out2)
	out2.WaitFor(t, "the rest", 15*time.Second, func(evs []event.Event) bool { return incrDone(out2.Checkpoint()) })
	var ids []string
	for _, e := range out2.Events() {
		ids = append(ids, e.After[0].Text())
	}
	if len(ids) != 40 || ids[0] != "11" || ids[39] != "50" {
		t.Fatalf("after the restart read %d rows %v, want 11..50", len(ids), ids)
	}
	got := fold(append(first, out2.Events()...), "t")
	if len(got) != 50 {
		t.Fatalf("%d rows in all, want 50", len(got))
	}
}

// TestIncrementalSnapshotAddedTable: a table added to tables after the
// first snapshot gets its existing rows by an incremental snapshot.
func TestIncrementalSnapshotAddedTable(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE a (id int PRIMARY KEY)`)
	te.exec(`CREATE TABLE b (id int PRIMARY KEY, v text)`)
	te.exec(`INSERT INTO a VALUES (1)`)
	te.exec(`INSERT INTO b VALUES (1, 'x'), (2, 'y'), (3, 'z')`)
	cfg := te.config("public.a")
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	cp := out.Checkpoint()
	r.stop(t)

	cfg.Tables = []string{"public.a", "public.b"}
	out2 := sourcetest.NewEmitter()
	te.start(cfg, cp, out2)
	out2.WaitFor(t, "table b's rows", 15*time.Second, func(evs []event.Event) bool { return len(evs) >= 3 && incrDone(out2.Checkpoint()) })
	var got []string
	for _, e := range out2.Events() {
		got = append(got, fmt.Sprintf("%s %s %s %s", e.Op, e.Source.Snapshot, e.Schema.Table, rowText(e.Schema, e.After)))
	}
	want := []string{"r incremental b id=1 v=x", "r incremental b id=2 v=y", "r incremental b id=3 v=z"}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
}

// TestIncrementalSnapshotStop: stop-snapshot ends a running incremental
// snapshot; its progress leaves the checkpoint.
func TestIncrementalSnapshotStop(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(signalDDL)
	te.exec(`CREATE TABLE t (id int PRIMARY KEY)`)
	te.exec(`INSERT INTO t SELECT g FROM generate_series(1, 100) g`)
	cfg := te.config("public.t")
	cfg.Snapshot = SnapshotNever
	cfg.SignalDataCollection = "public.debezium_signal"
	cfg.SnapshotChunkRows = 10
	out := sourcetest.NewEmitter()
	out.HoldAfter(func(evs []event.Event) bool { return len(evs) > 0 && evs[0].Op == event.OpRead })
	te.start(cfg, nil, out)
	te.waitSlot(cfg.Slot)
	te.exec(`INSERT INTO debezium_signal (id, type, data) VALUES ('s1', 'execute-snapshot', '{"data-collections": ["public.t"], "type":"incremental"}')`)
	out.WaitFor(t, "the first chunk", 15*time.Second, func(evs []event.Event) bool { return len(evs) >= 10 })
	te.exec(`INSERT INTO debezium_signal (id, type, data) VALUES ('s2', 'stop-snapshot', '{"data-collections": ["public.t"], "type":"incremental"}')`)
	te.exec(`INSERT INTO t VALUES (1000)`)
	out.Unhold()
	out.WaitFor(t, "the insert after the stop", 15*time.Second, func(evs []event.Event) bool {
		return slices.ContainsFunc(evs, func(e event.Event) bool { return e.Op == event.OpCreate })
	})
	evs := out.Events()
	if !incrDone(out.Checkpoint()) {
		t.Fatalf("checkpoint after stop-snapshot: %s", out.Checkpoint())
	}
	// At most the chunk in flight when the stop came is emitted after it.
	if n := countOp(evs, event.OpRead, event.SnapshotIncremental); n < 10 || n > 20 {
		t.Fatalf("%d rows read, want 10 to 20", n)
	}
}

// TestIncrementalSnapshotWindow changes rows of every chunk after the
// chunk's select and before its high watermark, deterministically: the
// select saw the old rows, so emitting them would undo the changes.
func TestIncrementalSnapshotWindow(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE t (id int PRIMARY KEY, v text)`)
	te.exec(`INSERT INTO t SELECT g, 'old' FROM generate_series(1, 30) g`)
	cfg := te.config("public.t")
	cfg.Snapshot = SnapshotNever
	cfg.SnapshotChunkRows = 10
	out := sourcetest.NewEmitter()
	src, err := New(cfg, component.Env{Name: "pg", Pipeline: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	hookConn := pgtest.Connect(t, te.dsn)
	src.chunkReadHook = func(table string, lastKey []string) {
		// The chunk's last row is updated, the one before it deleted,
		// and a row after it (read by the next chunk) updated too.
		if len(lastKey) == 0 {
			return // the empty chunk at the end
		}
		last, _ := strconv.Atoi(lastKey[0])
		if _, err := hookConn.Exec(context.Background(), fmt.Sprintf(`BEGIN; UPDATE t SET v = 'new' WHERE id = %d OR id = %d; DELETE FROM t WHERE id = %d; COMMIT`, last, last+1, last-1)); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, nil, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		src.Close()
	})
	te.waitSlot(cfg.Slot)
	if err := src.Signal(context.Background(), Signal{Type: "execute-snapshot", Data: json.RawMessage(`{"data-collections":["public.t"],"type":"incremental"}`)}); err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "the incremental snapshot", 15*time.Second, func(evs []event.Event) bool {
		return countOp(evs, event.OpRead, event.SnapshotIncremental) > 0 && incrDone(out.Checkpoint())
	})
	evs := out.Events()
	want := te.tableRows(`SELECT id, v FROM t`, 1)
	sameRows(t, "in order", fold(evs, "t"), want)
	sameRows(t, "externally versioned", foldVersioned(t, evs, "t"), want)
	// The rows carry the low watermark's position as their version (no
	// transaction of the database runs long): an externally versioned
	// index takes them over the streamed versions of earlier changes.
	versioned := 0
	for _, e := range evs {
		if v, _ := e.Version(); e.Op == event.OpRead && v > 1 {
			versioned++
		}
	}
	if versioned == 0 {
		t.Errorf("no incremental snapshot row has a version above 1")
	}
}

// TestIncrementalSnapshotRepairsVersionedCopy: a row re-read by an
// incremental snapshot replaces an outdated copy in an externally
// versioned index (one that holds a streamed change's version), as
// sluice verify --repair needs.
func TestIncrementalSnapshotRepairsVersionedCopy(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE t (id int PRIMARY KEY, v text)`)
	cfg := te.config("public.t")
	cfg.Snapshot = SnapshotNever
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	te.waitSlot(cfg.Slot)
	te.exec(`INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	evs := waitN(t, out, 2)
	// The index holds a wrong image of the second row at the version of
	// its insert (a copy verify would report as different).
	stale := evs[1]
	stale.After = []event.Value{event.Int(2), event.String("wrong")}
	if err := r.src.Signal(context.Background(), Signal{Type: "execute-snapshot", Data: json.RawMessage(`{"data-collections":["public.t"],"additional-conditions":[{"data-collection":"public.t","filter":"id = 2"}]}`)}); err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "the re-read row", 15*time.Second, func(evs []event.Event) bool { return len(evs) == 3 && incrDone(out.Checkpoint()) })
	reread := out.Events()[2]
	got := foldVersioned(t, []event.Event{evs[0], stale, reread}, "t")
	sameRows(t, "externally versioned", got, map[string]string{"1": "id=1 v=a", "2": "id=2 v=b"})
}

// TestIncrementalSnapshotLongTransaction: a transaction that changed a row
// before the chunk's low watermark and commits after its high watermark
// has a WAL position below the low watermark. The chunk's rows then keep
// version 1, or an externally versioned index would reject that later
// change as stale and keep the row read before it.
func TestIncrementalSnapshotLongTransaction(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(`CREATE TABLE t (id int PRIMARY KEY, v text)`)
	te.exec(`INSERT INTO t SELECT g, 'old' FROM generate_series(1, 10) g`)
	cfg := te.config("public.t")
	cfg.Snapshot = SnapshotNever
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	te.waitSlot(cfg.Slot)
	long := pgtest.Connect(t, te.dsn)
	ctx := context.Background()
	tx, err := long.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE t SET v = 'late' WHERE id = 5`); err != nil {
		t.Fatal(err)
	}

	if err := r.src.Signal(ctx, Signal{Type: "execute-snapshot", Data: json.RawMessage(`{"data-collections":["public.t"]}`)}); err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "the chunk", 15*time.Second, func(evs []event.Event) bool { return len(evs) >= 10 })
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "the late update", 15*time.Second, func(evs []event.Event) bool {
		return slices.ContainsFunc(evs, func(e event.Event) bool { return e.Op == event.OpUpdate })
	})
	evs := out.Events()
	want := te.tableRows(`SELECT id, v FROM t`, 1)
	sameRows(t, "in order", fold(evs, "t"), want)
	sameRows(t, "externally versioned", foldVersioned(t, evs, "t"), want)
	if t.Failed() {
		for _, e := range evs {
			v, _ := e.Version()
			t.Logf("%s %s version %d lsn %d", e.Op, rowText(e.Schema, e.After), v, e.Source.LSN)
		}
	}
}

// TestSignalTableNotCaptured: a glob in tables matching the signal table
// does not capture it: its rows are signals, neither snapshotted nor
// streamed.
func TestSignalTableNotCaptured(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(signalDDL)
	te.exec(`INSERT INTO debezium_signal VALUES ('old', 'log', '{"message": "before"}')`)
	te.exec(`CREATE TABLE t (id int PRIMARY KEY)`)
	te.exec(`INSERT INTO t VALUES (1)`)
	cfg := te.config("public.*")
	cfg.SignalDataCollection = "public.debezium_signal"
	out := sourcetest.NewEmitter()
	te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	te.exec(`INSERT INTO debezium_signal VALUES ('new', 'log', '{"message": "after"}')`)
	te.exec(`INSERT INTO t VALUES (2)`)
	evs := waitN(t, out, 2)
	if got := describe(evs); !slices.Equal(got, []string{"r t id=1", "c t id=2"}) {
		t.Fatalf("events: %q", got)
	}
}
