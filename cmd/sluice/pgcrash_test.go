package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
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
)

// The crash test: a randomized insert/update/delete workload on several
// tables (multi-row transactions, TOAST-sized values, primary-key updates,
// delete then re-insert) while sluice is SIGKILLed at random moments, during
// the snapshot and during streaming. Afterwards the last image per key in
// the output must equal the table.
//
// SLUICE_CRASH_FULL=1 runs the full version (20 kills during the snapshot,
// 50 during streaming); the default is a shorter run for CI.

const unavailable = "__debezium_unavailable_value"

type crashRow map[string]any

func TestPostgresCrashRecovery(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	db := pgtest.Connect(t, dsn)

	snapKills, streamKills, seedRows := 5, 12, 90000
	if os.Getenv("SLUICE_CRASH_FULL") != "" {
		snapKills, streamKills, seedRows = 20, 50, 500000
	}
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
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	p := writePipeline(t, dir, fmt.Sprintf(`state_dir: %s/state
sources:
  pg:
    type: postgres
    dsn: ${CRASH_DSN}
    tables: [public.*]
    snapshot_chunk_rows: 500
    batch_size: 256
    heartbeat_interval: 1s
sinks:
  out:
    type: file
    inputs: [pg]
    path: %s
    format: debezium
engine:
  max_inflight: 8
`, dir, out))
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", p)
		cmd.Env = append(os.Environ(), "CRASH_DSN="+dsn)
		f, err := os.OpenFile(filepath.Join(dir, "stderr.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			cmd.Stderr = f
			t.Cleanup(func() { f.Close() })
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	t.Logf("seed rows %d; kills: %d during snapshot, %d during streaming", seedRows, snapKills, streamKills)

	// Phase 1: kills during the snapshot (no writes yet).
	snapshotDone := func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), `"snapshot":"last"`)
	}
	during := 0
	for i := 0; i < snapKills*4 && during < snapKills && !snapshotDone(); i++ {
		cmd := start()
		time.Sleep(time.Duration(30+rng.IntN(300)) * time.Millisecond) // a random kill moment
		if !snapshotDone() {
			during++
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	t.Logf("%d kills landed during the snapshot", during)
	if during == 0 {
		t.Fatalf("no kill landed during the snapshot; the test proves nothing (see %s/stderr.log)", dir)
	}

	// Phase 2: a concurrent workload while sluice is killed again and again.
	wctx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var txs atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		workload(wctx, t, dsn, seedRows, &txs)
	}()
	for i := 0; i < streamKills; i++ {
		cmd := start()
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
	}
	stopWork()
	wg.Wait()
	t.Logf("workload committed %d transactions", txs.Load())

	// Final run: catch up to a marker committed after the workload.
	if _, err := db.Exec(ctx, `INSERT INTO marker VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	cmd := start()
	deadline := time.Now().Add(3 * time.Minute)
	for !markerSeen(out) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("final run did not reach the marker (see %s/stderr.log)", dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run exit: %v", err)
	}

	got, lines := replay(t, out)
	for _, tc := range []struct {
		table string
		q     string
	}{
		{"acct", `SELECT id, balance, note FROM acct`},
		{"item", `SELECT id, name, big FROM item`},
		{"link", `SELECT a, b, val FROM link`},
	} {
		want := tableRows(t, db, tc.q)
		g := got[tc.table]
		if len(g) != len(want) {
			t.Errorf("%s: output has %d keys, table has %d", tc.table, len(g), len(want))
		}
		n := 0
		for k, w := range want {
			if gv, ok := g[k]; !ok || gv != w {
				if n++; n <= 5 {
					t.Errorf("%s key %s: output %.200q, table %.200q", tc.table, k, gv, w)
				}
			}
		}
		for k := range g {
			if _, ok := want[k]; !ok {
				if n++; n <= 5 {
					t.Errorf("%s key %s in output but not in table", tc.table, k)
				}
			}
		}
	}
	t.Logf("%d output lines verified", lines)
}

// markerSeen reports whether the marker row arrived as a streamed insert. A
// snapshot that resumes after a kill may read the marker table too, before
// the stream has caught up with the workload; that sighting does not count.
func markerSeen(path string) bool {
	b, _ := os.ReadFile(path)
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, `"table":"marker"`) && strings.Contains(line, `"op":"c"`) {
			return true
		}
	}
	return false
}

// workload runs random transactions until ctx is cancelled.
func workload(ctx context.Context, t *testing.T, dsn string, seedRows int, txs *atomic.Int64) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("workload connect: %v", err)
		return
	}
	defer conn.Close(context.Background())
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
