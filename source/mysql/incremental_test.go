package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

const signalDDL = `CREATE TABLE debezium_signal (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL)`

// waitStreaming inserts into table m until the source emits the insert:
// from then on it streams.
func (te *testEnv) waitStreaming(out *sourcetest.Emitter) {
	te.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 1; ; i++ {
		te.exec(fmt.Sprintf("INSERT INTO m VALUES (%d)", i))
		until := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(until) {
			if slices.ContainsFunc(out.Events(), func(e event.Event) bool { return e.Schema.Table == "m" }) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			te.t.Fatal("the source does not stream")
		}
	}
}

func incrDone(cp []byte) bool { return cp != nil && !bytes.Contains(cp, []byte(`"incremental"`)) }

// fold applies the events of table in order, as a sink keeping the last
// image per key does.
func fold(evs []event.Event, table string) map[string]string {
	m := map[string]string{}
	for _, e := range evs {
		if e.Schema.Table != table {
			continue
		}
		key := func(img []event.Value) string {
			var k []string
			for _, i := range e.Schema.KeyIdx {
				k = append(k, img[i].Text())
			}
			return strings.Join(k, ",")
		}
		switch e.Op {
		case event.OpDelete:
			delete(m, key(e.Before))
		default:
			if e.Before != nil && key(e.Before) != key(e.After) {
				delete(m, key(e.Before))
			}
			m[key(e.After)] = rowText(e.Schema, e.After)
		}
	}
	return m
}

func (te *testEnv) rows(q string, kcols int) map[string]string {
	te.t.Helper()
	rows, err := te.db.Query(q)
	if err != nil {
		te.t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	m := map[string]string{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			te.t.Fatal(err)
		}
		var k, parts []string
		for i, b := range raw {
			if i < kcols {
				k = append(k, string(b))
			}
			parts = append(parts, cols[i]+"="+string(b))
		}
		m[strings.Join(k, ",")] = strings.Join(parts, " ")
	}
	return m
}

// TestIncrementalSnapshotConcurrent re-reads a table through Debezium's
// signal row while a workload inserts, updates and deletes its rows: the
// events, applied in order, give exactly the final table.
func TestIncrementalSnapshotConcurrent(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(signalDDL)
	te.exec(`CREATE TABLE m (id INT PRIMARY KEY)`)
	te.exec(`CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)`)
	const n = 1500
	te.exec(`INSERT INTO t SELECT seq, 0 FROM seq_1_to_1500`)
	cfg := te.config("m", "t")
	cfg.Snapshot = SnapshotNever
	cfg.SignalDataCollection = te.name + ".debezium_signal"
	cfg.SnapshotChunkRows = 100
	cfg.BatchSize = 64
	out := sourcetest.NewEmitter()
	te.start(cfg, nil, out)
	te.waitStreaming(out)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ops atomic.Int64 // operations committed
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(3, 4))
		for ctx.Err() == nil {
			id := 1 + rng.IntN(n+n/10)
			var q string
			switch rng.IntN(4) {
			case 0:
				q = fmt.Sprintf(`DELETE FROM t WHERE id = %d`, id)
			case 1:
				q = fmt.Sprintf(`INSERT INTO t VALUES (%d, %d) ON DUPLICATE KEY UPDATE v = v + 1000`, id, ops.Load())
			default:
				q = fmt.Sprintf(`UPDATE t SET v = v + 1 WHERE id = %d`, id)
			}
			// Not ctx: a statement cut short by stop() may still commit on
			// the server after the closing insert, and its event would then
			// come after the one the test waits for.
			if _, err := te.db.ExecContext(context.Background(), q); err != nil {
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
	te.exec(`INSERT INTO debezium_signal (id, type, data) VALUES ('ad-hoc-1', 'execute-snapshot', '{"data-collections": ["` + te.name + `.t"], "type":"incremental"}')`)
	out.WaitFor(t, "the incremental snapshot to end", 60*time.Second, func(evs []event.Event) bool {
		return slices.ContainsFunc(evs, func(e event.Event) bool { return e.Source.Snapshot == event.SnapshotIncremental }) && incrDone(out.Checkpoint())
	})
	stop()
	wg.Wait()
	te.exec(`INSERT INTO t VALUES (-1, -1)`)
	out.WaitFor(t, "the last insert", 15*time.Second, func(evs []event.Event) bool {
		return slices.ContainsFunc(evs, func(e event.Event) bool { return e.After != nil && e.Schema.Table == "t" && e.After[0].Text() == "-1" })
	})
	evs := out.Events()
	got, want := fold(evs, "t"), te.rows(`SELECT id, v FROM t`, 1)
	bad := 0
	for k, w := range want {
		if got[k] != w {
			if bad++; bad <= 10 {
				t.Errorf("key %s: events give %q, the table has %q", k, got[k], w)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 10 {
				t.Errorf("key %s: events give %q, the table has no such row", k, g)
			}
		}
	}
	reads := 0
	for _, e := range evs {
		if e.Schema.Table == "debezium_signal" {
			t.Fatalf("a signal table row became an event: %s", e.String())
		}
		if e.Source.Snapshot == event.SnapshotIncremental {
			reads++
		}
	}
	t.Logf("%d workload operations, %d incremental reads of %d rows, %d events", ops.Load(), reads, n, len(evs))
	if got := ops.Load(); got < 50 {
		t.Errorf("only %d workload operations ran during the snapshot", got)
	}
}

// TestIncrementalSnapshotConditions: RequestSnapshot with conditions (as
// verify --repair uses them) reads exactly the rows they name, with single
// and composite keys.
func TestIncrementalSnapshotConditions(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(signalDDL)
	te.exec(`CREATE TABLE m (id INT PRIMARY KEY)`)
	te.exec(`CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10))`)
	te.exec(`INSERT INTO a SELECT seq, CONCAT('a', seq) FROM seq_1_to_20`)
	te.exec(`CREATE TABLE b (x INT, y VARCHAR(10), v VARCHAR(10), PRIMARY KEY (x, y))`)
	te.exec(`INSERT INTO b SELECT seq % 3, CONCAT('y', seq), CONCAT('b', seq) FROM seq_1_to_12`)
	cfg := te.config("m", "a", "b")
	cfg.Snapshot = SnapshotNever
	cfg.SignalDataCollection = te.name + ".debezium_signal"
	cfg.SnapshotChunkRows = 2
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	te.waitStreaming(out)
	a, b := te.name+".a", te.name+".b"
	err := r.src.RequestSnapshot(context.Background(), component.SnapshotRequest{Tables: []string{a, b}, Conditions: []component.SnapshotCondition{
		{Table: a, Filter: "id IN (1,5,9)"}, {Table: b, Filter: "(x, y) IN ((1, 'y1'), (2, 'y5'), (0, 'y12'))"}}})
	if err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "the incremental snapshot", 15*time.Second, func(evs []event.Event) bool {
		n := 0
		for _, e := range evs {
			if e.Source.Snapshot == event.SnapshotIncremental {
				n++
			}
		}
		return n >= 6 && incrDone(out.Checkpoint())
	})
	var got []string
	for _, e := range out.Events() {
		if e.Schema.Table != "m" {
			got = append(got, fmt.Sprintf("%s %s %s %s", e.Op, e.Source.Snapshot, e.Schema.Table, rowText(e.Schema, e.After)))
		}
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

// TestIncrementalSnapshotWindow changes rows of every chunk after the
// chunk's select and before its high watermark: the select saw the old
// rows, so emitting them would undo the changes.
func TestIncrementalSnapshotWindow(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(signalDDL)
	te.exec(`CREATE TABLE m (id INT PRIMARY KEY)`)
	te.exec(`CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))`)
	te.exec(`INSERT INTO t SELECT seq, 'old' FROM seq_1_to_30`)
	cfg := te.config("m", "t")
	cfg.Snapshot = SnapshotNever
	cfg.SignalDataCollection = te.name + ".debezium_signal"
	cfg.SnapshotChunkRows = 10
	out := sourcetest.NewEmitter()
	src, err := New(cfg, component.Env{Name: "my", Pipeline: "p", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	src.chunkReadHook = func(table string, lastKey []string) {
		if len(lastKey) == 0 {
			return
		}
		var last int
		fmt.Sscan(lastKey[0], &last)
		if _, err := te.db.Exec(fmt.Sprintf(`UPDATE t SET v = 'new' WHERE id IN (%d, %d)`, last, last+1)); err != nil {
			t.Error(err)
		}
		if _, err := te.db.Exec(fmt.Sprintf(`DELETE FROM t WHERE id = %d`, last-1)); err != nil {
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
	te.waitStreaming(out)
	if err := src.RequestSnapshot(context.Background(), component.SnapshotRequest{Tables: []string{te.name + ".t"}}); err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "the incremental snapshot", 15*time.Second, func(evs []event.Event) bool {
		return slices.ContainsFunc(evs, func(e event.Event) bool { return e.Source.Snapshot == event.SnapshotIncremental }) && incrDone(out.Checkpoint())
	})
	got, want := fold(out.Events(), "t"), te.rows(`SELECT id, v FROM t`, 1)
	if len(got) != len(want) {
		t.Errorf("events give %d rows, the table has %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("key %s: events give %q, the table has %q", k, got[k], w)
		}
	}
}

// TestIncrementalSnapshotResume stops the source after the first chunk and
// restarts it from the checkpoint: the table is read on after the
// checkpointed key.
func TestIncrementalSnapshotResume(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(signalDDL)
	te.exec(`CREATE TABLE m (id INT PRIMARY KEY)`)
	te.exec(`CREATE TABLE t (id INT PRIMARY KEY, v INT)`)
	te.exec(`INSERT INTO t SELECT seq, seq FROM seq_1_to_50`)
	cfg := te.config("m", "t")
	cfg.Snapshot = SnapshotNever
	cfg.SignalDataCollection = te.name + ".debezium_signal"
	cfg.SnapshotChunkRows = 10
	out := sourcetest.NewEmitter()
	out.HoldAfter(func(evs []event.Event) bool {
		return len(evs) > 0 && evs[0].Source.Snapshot == event.SnapshotIncremental
	})
	r := te.start(cfg, nil, out)
	te.waitStreaming(out)
	if err := r.src.RequestSnapshot(context.Background(), component.SnapshotRequest{Tables: []string{te.name + ".t"}}); err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "the first chunk", 15*time.Second, func(evs []event.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Source.Snapshot == event.SnapshotIncremental
	})
	cp := out.Checkpoint()
	if !bytes.Contains(cp, []byte(`"incremental":{"tables":[{"table":"`+te.name+`.t","last_key":["10"]}]}`)) {
		t.Fatalf("checkpoint after the first chunk: %s", cp)
	}
	r.stop(t)
	out2 := sourcetest.NewEmitter()
	te.start(cfg, cp, out2)
	out2.WaitFor(t, "the rest", 15*time.Second, func(evs []event.Event) bool { return incrDone(out2.Checkpoint()) })
	var ids []string
	for _, e := range out2.Events() {
		if e.Source.Snapshot == event.SnapshotIncremental {
			ids = append(ids, e.After[0].Text())
		}
	}
	if len(ids) != 40 || ids[0] != "11" || ids[39] != "50" {
		t.Fatalf("after the restart read %d rows %v, want 11..50", len(ids), ids)
	}
}

// TestIncrementalSnapshotAddedTable: a table added to tables after the
// first snapshot gets its existing rows by an incremental snapshot.
func TestIncrementalSnapshotAddedTable(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(signalDDL)
	te.exec(`CREATE TABLE a (id INT PRIMARY KEY)`)
	te.exec(`CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(10))`)
	te.exec(`INSERT INTO a VALUES (1)`)
	te.exec(`INSERT INTO b VALUES (1, 'x'), (2, 'y'), (3, 'z')`)
	cfg := te.config("a")
	cfg.SignalDataCollection = te.name + ".debezium_signal"
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	cp := out.Checkpoint()
	r.stop(t)
	if !bytes.Contains(cp, []byte(`"captured":["`+te.name+`.a"]`)) {
		t.Fatalf("the snapshot's checkpoint does not record the captured tables: %s", cp)
	}

	cfg.Tables = append(cfg.Tables, te.name+".b")
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

// TestSignalTableNotCaptured: a glob in tables matching the signal table
// does not capture it.
func TestSignalTableNotCaptured(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t)
	te.exec(signalDDL)
	te.exec(`INSERT INTO debezium_signal VALUES ('old', 'log', '{"message": "before"}')`)
	te.exec(`CREATE TABLE t (id INT PRIMARY KEY)`)
	te.exec(`INSERT INTO t VALUES (1)`)
	cfg := te.config("*")
	cfg.SignalDataCollection = te.name + ".debezium_signal"
	out := sourcetest.NewEmitter()
	te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	te.exec(`INSERT INTO debezium_signal VALUES ('new', 'log', '{"message": "after"}')`)
	te.exec(`INSERT INTO t VALUES (2)`)
	out.WaitFor(t, "the insert", 15*time.Second, count(2))
	if got := describe(out.Events()); !slices.Equal(got, []string{"r t id=1", "c t id=2"}) {
		t.Fatalf("events: %q", got)
	}
}
