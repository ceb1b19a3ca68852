package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
)

// apply replays events onto a map id → v text.
func apply(evs []event.Event) map[string]string {
	m := map[string]string{}
	for _, e := range evs {
		switch e.Op {
		case event.OpRead, event.OpCreate, event.OpUpdate:
			m[e.After[0].Text()] = rowText(e.Schema, e.After)
		case event.OpDelete:
			delete(m, e.Before[0].Text())
		}
	}
	return m
}

func (te *testEnv) state(table string) map[string]string {
	te.t.Helper()
	rows, err := te.db.Query("SELECT id, v FROM " + table)
	if err != nil {
		te.t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			te.t.Fatal(err)
		}
		m[id] = "id=" + id + " v=" + v
	}
	return m
}

func TestSnapshotAndStreamWithoutGapOrOverlap(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	te.exec("INSERT INTO t SELECT seq, 'orig' FROM seq_1_to_3000")
	cfg := te.config("t")
	cfg.SnapshotChunkRows, cfg.BatchSize = 200, 100
	out := sourcetest.NewEmitter()
	var writes atomic.Int64 // changes made; OnEmit writes it, the wait reads it
	out.OnEmit(func(count int, evs []event.Event, cp []byte) error {
		// Changes while the snapshot is being read: after its position,
		// so they belong to the stream only.
		if len(evs) > 0 && evs[0].Op == event.OpRead && count >= 500 && count < 1500 {
			id := 100 + count
			for _, q := range []string{
				fmt.Sprintf("UPDATE t SET v = 'upd%d' WHERE id IN (%d, %d)", count, id, 2900-id),
				fmt.Sprintf("DELETE FROM t WHERE id = %d", id+1),
				fmt.Sprintf("INSERT INTO t VALUES (%d, 'new')", 10000+count),
			} {
				if _, err := te.db.Exec(q); err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
			}
			writes.Add(4)
		}
		return nil
	})
	r := te.start(cfg, nil, out)
	out.WaitFor(t, "snapshot and changes", 30*time.Second, func(evs []event.Event) bool {
		return len(evs) >= 3000+int(writes.Load()) && writes.Load() > 0
	})
	r.stop(t)
	want := te.state("t")
	evs := out.Events()
	reads := map[string]int{}
	changes := 0
	for _, e := range evs {
		if e.Op == event.OpRead {
			reads[e.After[0].Text()]++
			if e.After[1].Str != "orig" {
				t.Fatalf("snapshot row %s has %q: the snapshot is not consistent", e.After[0].Text(), e.After[1].Str)
			}
		} else {
			changes++
		}
	}
	if len(reads) != 3000 {
		t.Fatalf("snapshot read %d rows, want 3000", len(reads))
	}
	for id, n := range reads {
		if n != 1 {
			t.Fatalf("row %s read %d times", id, n)
		}
	}
	if changes != int(writes.Load()) {
		t.Fatalf("stream has %d changes, want exactly the %d made during the snapshot", changes, writes.Load())
	}
	got := apply(evs)
	if len(got) != len(want) {
		t.Fatalf("replayed %d rows, table has %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("row %s: replayed %q, table %q", k, got[k], v)
		}
	}
}

func TestSnapshotResumesAfterCrash(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	te.exec("CREATE TABLE b (k1 INT, k2 VARCHAR(10), v VARCHAR(20) NOT NULL, PRIMARY KEY (k1, k2))")
	te.exec("INSERT INTO a SELECT seq, 'x' FROM seq_1_to_1000")
	te.exec("INSERT INTO b SELECT seq % 10, CONCAT('k', seq), 'y' FROM seq_1_to_500")
	cfg := te.config("a", "b")
	cfg.SnapshotChunkRows, cfg.BatchSize = 70, 30
	crash := errors.New("crash")
	var saved []byte
	out := sourcetest.NewEmitter()
	out.OnEmit(func(count int, evs []event.Event, cp []byte) error {
		if cp != nil && strings.Contains(string(cp), `"phase":"snapshot"`) && count > 1100 {
			return crash
		}
		if cp != nil {
			saved = cp
		}
		return nil
	})
	src, err := New(cfg, component.Env{Name: "my", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Run(context.Background(), nil, out); !errors.Is(err, crash) {
		t.Fatalf("Run: %v, want the crash", err)
	}
	src.Close()
	first := out.Events()
	var cp checkpoint
	if err := json.Unmarshal(saved, &cp); err != nil || cp.Phase != phaseSnapshot {
		t.Fatalf("checkpoint %s: %v", saved, err)
	}
	// Rows emitted after the checkpoint are lost with the crash.
	n := 0
	for _, b := range out.Batches() {
		n += b.N
		if string(b.Checkpoint) == string(saved) {
			break
		}
	}
	first = first[:n]
	te.exec("INSERT INTO a VALUES (5000, 'late')")

	out2 := sourcetest.NewEmitter()
	te.start(cfg, saved, out2)
	out2.WaitFor(t, "the rest and the late insert", 30*time.Second, func(evs []event.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Op == event.OpCreate
	})
	seen := map[string]int{}
	for _, e := range append(first, out2.Events()...) {
		if e.Op != event.OpRead {
			continue
		}
		seen[e.Schema.Table+" "+rowText(e.Schema, e.After)]++
	}
	if len(seen) != 1500 && len(seen) != 1501 {
		t.Fatalf("read %d distinct rows, want 1500 (or 1501 with the late row)", len(seen))
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("%s read %d times after resuming", k, c)
		}
	}
}

func TestAlterTableMidStream(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))")
	out := sourcetest.NewEmitter()
	te.start(te.config("t"), nil, out)
	out.WaitCheckpoint(t)
	// All at once: when the first insert is decoded the catalog is
	// already at the last shape.
	te.exec("INSERT INTO t VALUES (1, 'a')")
	te.exec("ALTER TABLE t ADD COLUMN c INT DEFAULT 7")
	te.exec("INSERT INTO t VALUES (2, 'b', 9)")
	te.exec("ALTER TABLE t DROP COLUMN v")
	te.exec("INSERT INTO t VALUES (3, 10)")
	te.exec("ALTER TABLE t RENAME COLUMN c TO c2")
	te.exec("INSERT INTO t VALUES (4, 11)")
	te.exec("UPDATE t SET c2 = 12 WHERE id = 4")
	out.WaitFor(t, "5 changes", 20*time.Second, count(5))
	evs := out.Events()
	want := []string{
		"c t id=1 v=a",
		"c t id=2 v=b c=9",
		"c t id=3 c=10",
		"c t id=4 c2=11",
		"u t id=4 c2=12",
	}
	if got := describe(evs); !slices.Equal(got, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	versions := []int{1, 2, 3, 4, 4}
	for i, e := range evs {
		if e.Schema.Version != versions[i] {
			t.Errorf("event %d: schema version %d, want %d", i, e.Schema.Version, versions[i])
		}
	}
	if evs[3].Schema != evs[4].Schema {
		t.Errorf("same shape, different schema pointers")
	}
	if evs[4].Before[1].AsInt() != 11 {
		t.Errorf("before image %s", rowText(evs[4].Schema, evs[4].Before))
	}
}

func TestTransactionsInOrderWithBeforeImages(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))")
	te.exec("CREATE TABLE other (id INT PRIMARY KEY)")
	out := sourcetest.NewEmitter()
	te.start(te.config("t"), nil, out)
	out.WaitCheckpoint(t)
	te.exec(`START TRANSACTION;
		INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');
		INSERT INTO other VALUES (1);
		UPDATE t SET v = 'B' WHERE id = 2;
		DELETE FROM t WHERE id = 1;
		COMMIT`)
	te.exec("UPDATE t SET id = 30 WHERE id = 3")
	out.WaitFor(t, "6 changes", 20*time.Second, count(6))
	evs := out.Events()
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s %s -> %s", e.Op, rowText(e.Schema, e.Before), rowText(e.Schema, e.After)))
	}
	want := []string{
		"c <nil> -> id=1 v=a",
		"c <nil> -> id=2 v=b",
		"c <nil> -> id=3 v=c",
		"u id=2 v=b -> id=2 v=B",
		"d id=1 v=a -> <nil>",
		"u id=3 v=c -> id=30 v=c",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq().Compare(evs[i-1].Seq()) <= 0 {
			t.Fatalf("Seq does not grow: %v then %v", evs[i-1].Seq(), evs[i].Seq())
		}
		if i < 5 && evs[i].Source.CommitLSN != evs[0].Source.CommitLSN {
			t.Fatalf("one transaction, two commit positions")
		}
	}
	b := evs[1].Source.Binlog
	if b == nil || b.File == "" || b.Pos == 0 || b.GTID == "" || b.ServerID == 0 || evs[1].Source.Row != 1 {
		t.Fatalf("source coordinates %+v row %d", b, evs[1].Source.Row)
	}
	if evs[5].Source.Binlog.GTID == b.GTID {
		t.Fatalf("two transactions share GTID %s", b.GTID)
	}
}

func TestBigTransactionInBoundedMemory(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100))")
	cfg := te.config("t")
	cfg.BatchSize = 500
	out := sourcetest.NewEmitter()
	out.SetWindow(2)
	out.CountOnly()
	r := te.start(cfg, nil, out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out.Acknowledge(ctx)
	out.WaitCheckpoint(t)
	te.exec("INSERT INTO t SELECT seq, REPEAT('x', 100) FROM seq_1_to_50000")
	out.WaitFor(t, "the 50000 rows", 60*time.Second, func([]event.Event) bool { return out.Count() >= 50000 })
	cancel()
	r.stop(t)
	if out.MaxHeld() > 2*cfg.BatchSize {
		t.Fatalf("%d events held at once, want at most %d", out.MaxHeld(), 2*cfg.BatchSize)
	}
	mid := 0
	for _, b := range out.Batches()[1:] {
		if b.N > cfg.BatchSize {
			t.Fatalf("batch of %d events", b.N)
		}
		if b.Checkpoint == nil {
			mid++
		}
	}
	if mid < 50000/cfg.BatchSize-1 {
		t.Fatalf("%d batches without checkpoint, want the transaction's middle ones", mid)
	}
}

func TestRestartResumesExactly(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))")
	cfg := te.config("t")
	out := sourcetest.NewEmitter()
	r := te.start(cfg, nil, out)
	out.WaitCheckpoint(t)
	for i := 1; i <= 10; i++ {
		te.exec(fmt.Sprintf("INSERT INTO t VALUES (%d, 'a')", i))
	}
	out.WaitFor(t, "10 changes", 20*time.Second, count(10))
	r.stop(t)
	cp := out.Checkpoint()
	for i := 11; i <= 20; i++ {
		te.exec(fmt.Sprintf("INSERT INTO t VALUES (%d, 'b')", i))
	}
	out2 := sourcetest.NewEmitter()
	te.start(cfg, cp, out2)
	out2.WaitFor(t, "10 changes", 20*time.Second, count(10))
	te.exec("INSERT INTO t VALUES (21, 'c')")
	out2.WaitFor(t, "11 changes", 20*time.Second, count(11))
	var ids []string
	for _, e := range out2.Events() {
		ids = append(ids, e.After[0].Text())
	}
	want := []string{"11", "12", "13", "14", "15", "16", "17", "18", "19", "20", "21"}
	if !slices.Equal(ids, want) {
		t.Fatalf("after restart: %v, want %v", ids, want)
	}
}

func TestReconnectAfterKill(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	out := sourcetest.NewEmitter()
	te.start(te.config("t"), nil, out)
	out.WaitCheckpoint(t)
	te.exec("INSERT INTO t VALUES (1)")
	out.WaitFor(t, "1 change", 20*time.Second, count(1))
	rows, err := te.db.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) == 0 {
		t.Fatal("no binlog dump thread")
	}
	for _, id := range ids {
		te.exec(fmt.Sprintf("KILL %d", id))
	}
	te.exec("INSERT INTO t VALUES (2)")
	te.exec("INSERT INTO t VALUES (3)")
	out.WaitFor(t, "3 changes", 30*time.Second, count(3))
	var got []string
	for _, e := range out.Events() {
		got = append(got, e.After[0].Text())
	}
	if !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("events after reconnect: %v", got)
	}
}

func TestBinlogLost(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	te.exec("INSERT INTO t VALUES (1)")
	purged := []byte(`{"v":1,"phase":"stream","file":"binlog.000000","pos":4,"gtid":"0-1-1"}`)

	src, err := New(te.config("t"), component.Env{Name: "my", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Run(context.Background(), purged, sourcetest.NewEmitter())
	src.Close()
	if !errors.Is(err, ErrBinlogLost) || !component.IsPermanent(err) || !strings.Contains(err.Error(), "binlog.000000") {
		t.Fatalf("Run: %v, want a permanent ErrBinlogLost naming the position", err)
	}

	cfg := te.config("t")
	cfg.OnBinlogLost = LostResnapshot
	out := sourcetest.NewEmitter()
	te.start(cfg, purged, out)
	out.WaitFor(t, "a new snapshot", 20*time.Second, count(1))
	if e := out.Events()[0]; e.Op != event.OpRead || e.After[0].AsInt() != 1 {
		t.Fatalf("first event %s", e.String())
	}
}

func TestIdleTableCheckpointAdvances(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	te.exec("CREATE TABLE busy (id INT PRIMARY KEY)")
	out := sourcetest.NewEmitter()
	r := te.start(te.config("t"), nil, out)
	out.WaitCheckpoint(t)
	first := string(out.Checkpoint())
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; string(out.Checkpoint()) == first; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the checkpoint never moved past other tables' transactions")
		}
		te.exec(fmt.Sprintf("INSERT INTO busy VALUES (%d)", i))
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(out.Events()); n != 0 {
		t.Fatalf("%d events from an idle table", n)
	}
	if p := r.src.Progress(); p.Phase != "streaming" {
		t.Fatalf("progress %+v", p)
	}
}

func TestUnsupportedTypeIsRefused(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE geo (id INT PRIMARY KEY, p POINT)")
	src, err := New(te.config("geo"), component.Env{Name: "my", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	err = src.Run(context.Background(), nil, sourcetest.NewEmitter())
	if err == nil || !component.IsPermanent(err) || !strings.Contains(err.Error(), ".geo column p: type point is not supported") {
		t.Fatalf("Run: %v", err)
	}
}

func TestTableWithoutKey(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE nokey (a INT, b VARCHAR(10))")
	te.exec("INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (2, 'y')")
	out := sourcetest.NewEmitter()
	te.start(te.config("nokey"), nil, out)
	out.WaitFor(t, "snapshot", 20*time.Second, count(3))
	te.exec("DELETE FROM nokey WHERE a = 1 LIMIT 1")
	out.WaitFor(t, "delete", 20*time.Second, count(4))
	evs := out.Events()
	if e := evs[3]; e.Op != event.OpDelete || e.Key() != nil || rowText(e.Schema, e.Before) != "a=1 b=x" {
		t.Fatalf("delete event %s %s", e.String(), rowText(e.Schema, e.Before))
	}
}

// TestAlterTableWithoutFullMetadata: with binlog_row_metadata=MINIMAL the
// TABLE_MAP has no column names; the schema comes from the catalog, re-read
// after DDL on the table's database. (The variable is global: it is put
// back when the test ends; other readers of the binlog must cope with
// either setting anyway.)
func TestAlterTableWithoutFullMetadata(t *testing.T) {
	te := newTestEnv(t)
	var old string
	if err := te.db.QueryRow("SELECT @@GLOBAL.binlog_row_metadata").Scan(&old); err != nil {
		t.Fatal(err)
	}
	te.exec("SET GLOBAL binlog_row_metadata = MINIMAL")
	t.Cleanup(func() { _, _ = te.db.Exec("SET GLOBAL binlog_row_metadata = " + old) })
	te.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))")
	out := sourcetest.NewEmitter()
	te.start(te.config("t"), nil, out)
	out.WaitCheckpoint(t)
	steps := []struct{ sql, want string }{
		{"INSERT INTO t VALUES (1, 'a')", "c t id=1 v=a"},
		{"ALTER TABLE t ADD COLUMN c INT; INSERT INTO t VALUES (2, 'b', 9)", "c t id=2 v=b c=9"},
		{"ALTER TABLE t RENAME COLUMN v TO w; INSERT INTO t VALUES (3, 'c', 10)", "c t id=3 w=c c=10"},
		{"UPDATE t SET c = 11 WHERE id = 3", "u t id=3 w=c c=11"},
	}
	for i, s := range steps {
		te.exec(s.sql)
		out.WaitFor(t, s.want, 20*time.Second, count(i+1))
		if got := describe(out.Events())[i]; got != s.want {
			t.Fatalf("step %d: %s, want %s", i, got, s.want)
		}
	}
}

// TestSnapshotChunksOverKeyTypes reads tables whose keys are decimals,
// binary strings, datetimes and collated strings in chunks of 3: each chunk
// continues exactly after the previous one's last key.
func TestSnapshotChunksOverKeyTypes(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE k (d DECIMAL(10,2), b VARBINARY(8), dt DATETIME(6), s VARCHAR(10) CHARACTER SET latin1, PRIMARY KEY (d, b, dt, s))")
	te.exec(`INSERT INTO k SELECT seq % 3 + 0.5, UNHEX(LPAD(HEX(seq % 4), 2, '0')), TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq MICROSECOND,
		CONCAT(CHAR(ASCII('a') + seq % 5), '''\\é') FROM seq_1_to_100`)
	cfg := te.config("k")
	cfg.SnapshotChunkRows, cfg.BatchSize = 3, 2
	out := sourcetest.NewEmitter()
	te.start(cfg, nil, out)
	out.WaitFor(t, "the end of the snapshot", 20*time.Second, func([]event.Event) bool {
		return strings.Contains(string(out.Checkpoint()), `"phase":"stream"`)
	})
	seen := map[string]bool{}
	for _, e := range out.Events() {
		k := rowText(e.Schema, e.After)
		if seen[k] {
			t.Fatalf("row %s read twice", k)
		}
		seen[k] = true
	}
	if len(seen) != 100 {
		t.Fatalf("read %d rows, want 100", len(seen))
	}
}

// TestSnapshotChunksOverEnumKey: ENUM sorts by number, not by label.
func TestSnapshotChunksOverEnumKey(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE k (e ENUM('zz', 'a,b', 'mm', 'aa'), n INT, PRIMARY KEY (e, n))")
	te.exec("INSERT INTO k SELECT ELT(1 + seq % 4, 'zz', 'a,b', 'mm', 'aa'), seq FROM seq_1_to_40")
	cfg := te.config("k")
	cfg.SnapshotChunkRows, cfg.BatchSize = 3, 2
	out := sourcetest.NewEmitter()
	te.start(cfg, nil, out)
	out.WaitFor(t, "the end of the snapshot", 20*time.Second, func([]event.Event) bool {
		return strings.Contains(string(out.Checkpoint()), `"phase":"stream"`)
	})
	seen := map[string]bool{}
	for _, e := range out.Events() {
		k := rowText(e.Schema, e.After)
		if seen[k] {
			t.Fatalf("row %s read twice", k)
		}
		seen[k] = true
	}
	if len(seen) != 40 {
		t.Fatalf("read %d rows, want 40", len(seen))
	}
}

// TestPurgedBinlog purges the binlog for real: the checkpoint's file is
// rotated away and PURGE BINARY LOGS removes it while the source is
// stopped. It deletes the shared test server's older binlogs, so it runs
// only with SLUICE_MYSQL_PURGE=1 (TestBinlogLost covers the same path with
// a checkpoint naming a file the server never had).
func TestPurgedBinlog(t *testing.T) {
	if os.Getenv("SLUICE_MYSQL_PURGE") == "" {
		t.Skip("set SLUICE_MYSQL_PURGE=1 to purge the test server's older binlogs")
	}
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id INT PRIMARY KEY)")
	out := sourcetest.NewEmitter()
	r := te.start(te.config("t"), nil, out)
	out.WaitCheckpoint(t)
	te.exec("INSERT INTO t VALUES (1)")
	out.WaitFor(t, "1 change", 20*time.Second, count(1))
	r.stop(t)
	cp := out.Checkpoint()
	te.exec("FLUSH BINARY LOGS")
	file, _, _, err := currentPosition(context.Background(), te.db, serverInfo{mariadb: true})
	if err != nil {
		t.Fatal(err)
	}
	te.exec("INSERT INTO t VALUES (2)")
	// The server drops the stopped source's dump thread lazily; a log
	// being read is not purged.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := te.db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var parsed checkpoint
	if err := json.Unmarshal(cp, &parsed); err != nil {
		t.Fatal(err)
	}
	// MariaDB keeps a log until its binlog checkpoint (InnoDB's commits
	// in it are durable) has moved on, and while a replica reads it.
	for {
		te.exec("PURGE BINARY LOGS TO '" + file + "'")
		ok, err := binlogAvailable(context.Background(), te.db, parsed.File)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s could not be purged within 20s (in use by another binlog reader?); the purged-binlog path is untested", parsed.File)
		}
		time.Sleep(100 * time.Millisecond)
	}
	src, err := New(te.config("t"), component.Env{Name: "my", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = src.Run(ctx, cp, sourcetest.NewEmitter())
	if !errors.Is(err, ErrBinlogLost) || !component.IsPermanent(err) || !strings.Contains(err.Error(), "purged") {
		t.Fatalf("Run: %v, want a permanent ErrBinlogLost", err)
	}
	t.Log(err)
}

// TestAuthFailure: a wrong password stops Run with a permanent error
// naming the user, the server and the keys to fix, never the password —
// with a dsn, and with host, port, user and password.
func TestAuthFailure(t *testing.T) {
	te := newTestEnv(t)
	user := te.name[len(te.name)-min(len(te.name), 30):]                 // a user of its own, with a password
	te.exec("CREATE USER '" + user + "'@'%' IDENTIFIED BY 'right-Pw-1'") // te.name is [a-z0-9_]
	t.Cleanup(func() { _, _ = te.db.Exec("DROP USER IF EXISTS '" + user + "'@'%'") })
	dc, err := mysql.ParseDSN(te.dsn)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(dc.Addr)
	reason := "error 1045: Access denied for user '" + user + "'@'" + host + "' (using password: YES)"
	hint := "and that the server has this user for this client's host (CREATE USER 'user'@'host')"
	dc.User, dc.Passwd = user, "canary-Pw-7731"
	withDSN := te.config("t")
	withDSN.DSN = dc.FormatDSN()
	withFields := te.config("t")
	withFields.DSN, withFields.Host, withFields.User, withFields.Password = "", host, user, "canary-Pw-7731"
	withFields.Port, _ = strconv.Atoi(port)
	for _, tc := range []struct {
		cfg  *Config
		keys string
	}{
		{withDSN, "sources.my.dsn"},
		{withFields, "sources.my.user and sources.my.password"},
	} {
		src, err := New(tc.cfg, component.Env{Name: "my", Logger: testLogger(t), Path: "sources.my"})
		if err != nil {
			t.Fatal(err)
		}
		err = src.Run(context.Background(), nil, sourcetest.NewEmitter())
		src.Close()
		want := `mysql source "my": ` + dc.Addr + ` refused user "` + user + `": ` + reason +
			"; check the user and password in " + tc.keys + " (a ${VAR} there is read from the environment), " + hint
		if !component.IsPermanent(err) || err.Error() != want || strings.Contains(err.Error(), "canary") {
			t.Errorf("Run = %v\nwant the permanent error %s", err, want)
		}
	}
}

// Complete transactions are emitted at the latest lingerMax after the first
// of them, however busy the binlog: with a quiet gap longer than the test
// (as when a steady stream never pauses for it), the insert still arrives.
// Before, the wait for more restarted with every binlog event, so a stream
// without a 5 ms pause (1,000 commits/s) held its changes until batch_size
// of them had gathered.
func TestBusyBinlogEmitsWithinLingerMax(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL)")
	te.exec("INSERT INTO t VALUES (1, 'a')")
	out := sourcetest.NewEmitter()
	te.startWith(te.config("t"), nil, out, func(s *Source) { s.lingerSet.Quiet = time.Hour })
	out.WaitFor(t, "snapshot", 20*time.Second, count(1))
	te.exec("INSERT INTO t VALUES (2, 'b')")
	out.WaitFor(t, "the insert", 20*time.Second, count(2))
	evs := out.Events()
	if len(evs) != 2 || evs[1].Op != event.OpCreate || rowText(evs[1].Schema, evs[1].After) != "id=2 v=b" {
		t.Fatalf("events %d, last %s %q; want 2, the insert of id=2 v=b", len(evs), evs[len(evs)-1].Op, rowText(evs[len(evs)-1].Schema, evs[len(evs)-1].After))
	}
}

// TestStreamStringsOutliveTheirPacket: string and blob values are the bytes
// of their rows event as read from the connection (rowimage.go); reading
// the events after them must not change them (as it would if the
// connection's buffer were reused). 2,000 rows of about 1 kB in 20
// transactions span hundreds of rows events, all checked after the last.
func TestStreamStringsOutliveTheirPacket(t *testing.T) {
	te := newTestEnv(t)
	te.exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(600) NOT NULL, b BLOB)")
	file, pos, gtid, err := currentPosition(context.Background(), te.db, serverInfo{mariadb: true, gtid: true})
	if err != nil {
		t.Fatal(err)
	}
	for lo := 1; lo <= 2000; lo += 100 {
		te.exec(sprintf(`INSERT INTO t SELECT seq, CONCAT(REPEAT(CHAR(97 + seq %% 26), 500), seq), REPEAT(CHAR(65 + seq %% 26), 400)
			FROM seq_%d_to_%d`, lo, lo+99))
	}
	cfg := te.config("t")
	cfg.Snapshot = SnapshotNever
	cp := (&checkpoint{Version: 1, Phase: phaseStream, File: file, Pos: pos, GTID: gtid}).marshal()
	out := sourcetest.NewEmitter()
	te.start(cfg, cp, out)
	out.WaitFor(t, "2000 inserts", time.Minute, count(2000))
	evs := out.Events()
	for i, e := range evs[:2000] {
		id := int64(i + 1)
		wantV := strings.Repeat(string(rune('a'+id%26)), 500) + strconv.FormatInt(id, 10)
		wantB := strings.Repeat(string(rune('A'+id%26)), 400)
		if e.Op != event.OpCreate || e.After[0].Text() != strconv.FormatInt(id, 10) || e.After[1].Str != wantV || e.After[2].Str != wantB {
			t.Fatalf("event %d: %s", i, rowText(e.Schema, e.After)[:min(80, len(rowText(e.Schema, e.After)))])
		}
	}
}
