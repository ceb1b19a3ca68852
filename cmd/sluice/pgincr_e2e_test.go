package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

// TestPostgresIncrementalSnapshot adds tables to a pipeline after its first
// snapshot: their existing rows come by an incremental snapshot while a
// workload inserts, updates and deletes them, and sluice is SIGKILLed while
// the incremental snapshot runs. The file sink's last images and the
// PostgreSQL table sink must then equal the source tables. Last, `sluice
// snapshot --where` re-reads exactly the rows its condition names.
//
// SLUICE_INCR_E2E_ROWS sets the seed rows (default 3000).
func TestPostgresIncrementalSnapshot(t *testing.T) {
	seedRows := 3000
	if v, _ := strconv.Atoi(os.Getenv("SLUICE_INCR_E2E_ROWS")); v > 0 {
		seedRows = v
	}
	dsn, db, _ := newCrashDB(t, seedRows)
	target := pgtest.NewDatabase(t)
	tconn := pgtest.Connect(t, target)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	slot := uniqueSlot()
	pipeline := func(tables string) string {
		return fmt.Sprintf(`state_dir: %[1]s/state
sources:
  pg:
    type: postgres
    dsn: ${CRASH_DSN}
    tables: %[2]s
    snapshot_chunk_rows: 100
    batch_size: 64
    heartbeat_interval: 1s
    slot: %[3]s
sinks:
  file:
    type: file
    inputs: [pg]
    path: %[4]s
    format: debezium
  table:
    type: postgres
    dsn: ${TARGET_DSN}
    inputs: [pg]
    auto_create: true
engine:
  max_inflight: 8
`, dir, tables, slot, out)
	}
	p := writePipeline(t, dir, pipeline("[public.acct, public.marker]"))
	r := newCrashRun(t, dir, p, "CRASH_DSN="+dsn, "TARGET_DSN="+target)
	r.runUntil(90*time.Second, "the first snapshot", func() bool { return fileHas(out, `"snapshot":"last"`) })
	if n := countIncremental(out, ""); n != 0 {
		t.Fatalf("%d incremental rows before any table was added", n)
	}

	// item and link are added: read by an incremental snapshot, under a
	// workload, with kills while it runs.
	writePipeline(t, dir, pipeline("[public.*]"))
	var txs atomic.Int64
	ctx, stopWork := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		workload(ctx, t, dsn, seedRows, &txs)
	}()
	kills := 0
	for i := 0; i < 3; i++ {
		before := countIncremental(out, "")
		cmd := r.start()
		waitFor(t, 60*time.Second, "incremental snapshot rows", dir, func() bool { return countIncremental(out, "") > before })
		kill(cmd)
		kills++
	}
	stopWork()
	wg.Wait()
	t.Logf("%d kills while the incremental snapshot ran; workload committed %d transactions; %d incremental rows so far",
		kills, txs.Load(), countIncremental(out, ""))

	// The last run converges: both sinks equal the tables.
	commitMarker(t, db)
	cmd := r.start()
	waitFor(t, 2*time.Minute, "both sinks to equal the tables", dir, func() bool {
		return markerSeen(out) && fileConverged(t, db, out, dir) && tableSinkConverged(db, tconn)
	})

	// sluice snapshot re-reads exactly the rows its condition names.
	var want []string
	for _, id := range []int{1, 5, 9} {
		var n int
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM acct WHERE id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			want = append(want, strconv.Itoa(id))
		}
	}
	before := incrementalIDs(out, "acct")
	snap := exec.Command(bin, "snapshot", "--where", "public.acct=id IN (1,5,9)", p, "public.acct")
	snap.Env = append(os.Environ(), "CRASH_DSN="+dsn, "TARGET_DSN="+target)
	var stdout, stderr bytes.Buffer
	snap.Stdout, snap.Stderr = &stdout, &stderr
	if err := snap.Run(); err != nil {
		t.Fatalf("sluice snapshot: %v\n%s", err, stderr.String())
	}
	if got := stdout.String(); got != "incremental snapshot requested: public.acct\n" {
		t.Errorf("sluice snapshot printed %q", got)
	}
	waitFor(t, 30*time.Second, "the rows sluice snapshot asked for", dir, func() bool {
		return len(incrementalIDs(out, "acct")) >= len(before)+len(want)
	})
	got := incrementalIDs(out, "acct")[len(before):]
	stopRun(t, cmd, dir)
	if !slices.Equal(got, want) {
		t.Errorf("sluice snapshot --where 'id IN (1,5,9)' read acct ids %v, want %v", got, want)
	}
	lines := checkReplay(t, db, out, "output")
	t.Logf("%d output lines verified", lines)
}

// countIncremental counts the complete lines of path that are incremental
// snapshot rows (of table, when not empty).
func countIncremental(path, table string) int {
	return len(incrementalIDs(path, table))
}

// incrementalIDs lists the id of every incremental snapshot row in path
// (of table, when not empty), in file order; link rows give a/b.
func incrementalIDs(path, table string) []string {
	b, _ := os.ReadFile(path)
	var ids []string
	for line := range strings.Lines(string(b)) {
		if !strings.HasSuffix(line, "\n") || !strings.Contains(line, `"snapshot":"incremental"`) {
			continue
		}
		if table != "" && !strings.Contains(line, `"table":"`+table+`"`) {
			continue
		}
		_, after, _ := strings.Cut(line, `"after":{`)
		if v, ok := jsonField(after, "id"); ok {
			ids = append(ids, v)
		} else if a, ok := jsonField(after, "a"); ok {
			bb, _ := jsonField(after, "b")
			ids = append(ids, a+"/"+bb)
		}
	}
	return ids
}

// jsonField returns the number after "name": at the start of an object's
// fields.
func jsonField(s, name string) (string, bool) {
	_, v, ok := strings.Cut(s, `"`+name+`":`)
	if !ok {
		return "", false
	}
	end := strings.IndexAny(v, ",}")
	if end < 0 {
		return "", false
	}
	return v[:end], true
}

// fileConverged reports whether the complete lines of the Debezium file at
// path replay to exactly the crash tables.
func fileConverged(t *testing.T, db *pgx.Conn, path, dir string) bool {
	b, _ := os.ReadFile(path)
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	cp := filepath.Join(dir, "converged.jsonl")
	if err := os.WriteFile(cp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, _ := replay(t, cp)
	for _, tc := range crashTables {
		want := tableRows(t, db, tc.q)
		g := got[tc.table]
		if len(g) != len(want) {
			return false
		}
		for k, w := range want {
			if g[k] != w {
				return false
			}
		}
	}
	return true
}

// tableSinkConverged reports whether the PostgreSQL table sink holds
// exactly the rows of the crash tables.
func tableSinkConverged(src, sink *pgx.Conn) bool {
	for _, q := range []string{
		`SELECT id::text || '|' || balance::text || '|' || coalesce(note, '-') FROM acct`,
		`SELECT id::text || '|' || coalesce(name, '-') || '|' || coalesce(md5(big), '-') FROM item`,
		`SELECT a::text || '|' || b::text || '|' || coalesce(val, '-') FROM link`,
	} {
		want, err := textRows(src, q)
		if err != nil {
			return false
		}
		got, err := textRows(sink, q)
		if err != nil || !slices.Equal(got, want) {
			return false
		}
	}
	return true
}

func textRows(conn *pgx.Conn, q string) ([]string, error) {
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	sort.Strings(out)
	return out, err
}
