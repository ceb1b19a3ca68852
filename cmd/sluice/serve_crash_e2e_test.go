package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestServeCrashRecovery is the crash test through `sluice serve`: a
// Debezium PostgreSQL connector and a Debezium JDBC sink connector into
// another PostgreSQL database, created over the REST API, while the
// server is SIGKILLed during the snapshot, during a streaming workload,
// right after a pause and right after a PUT of a new configuration, each
// time started again on the same state directory. After every start the
// connectors are back with their stored configurations and states (a
// paused one paused, a stopped one stopped), and in the end the sink's
// tables equal the source's, row for row: the JDBC sink commits its
// positions with the rows, so no change is lost or applied twice.
func TestServeCrashRecovery(t *testing.T) {
	snapKills, streamKills, seedRows := 3, 4, 12000
	if os.Getenv("SLUICE_CRASH_FULL") != "" {
		snapKills, streamKills, seedRows = 10, 20, 200000
	}
	ctx := context.Background()
	dsn, db, total := newCrashDB(t, seedRows)
	gate, gated := newSnapshotGate(t, dsn, "acct", "item", "link", "marker")
	target := newPGTarget(t)
	src, err := url.Parse(gated)
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := url.Parse(target.env)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"--state-dir", filepath.Join(dir, "state")}
	// The test server trusts local connections: the passwords are canaries
	// that must never show.
	const canary = "serve-crash-canary-5Yt"
	pgConfig := map[string]string{
		"connector.class":   "io.debezium.connector.postgresql.PostgresConnector",
		"database.hostname": src.Hostname(), "database.port": src.Port(),
		"database.user": "postgres", "database.password": canary,
		"database.dbname": strings.TrimPrefix(src.Path, "/"),
		"topic.prefix":    "crash", "slot.name": uniqueSlot(),
		"heartbeat.interval.ms": "1000",
	}
	jdbcConfig := map[string]string{
		"connector.class":     "io.debezium.connector.jdbc.JdbcSinkConnector",
		"connection.url":      "jdbc:postgresql://" + tgt.Host + tgt.Path,
		"connection.username": "postgres", "connection.password": canary,
		"topics.regex": `crash\.public\..*`,
		"insert.mode":  "upsert", "delete.enabled": "true", "primary.key.mode": "record_key", "schema.evolution": "basic",
	}
	body := func(cfg map[string]string) string {
		b, _ := json.Marshal(cfg)
		return string(b)
	}
	// shown is a configuration as GET .../config answers it.
	shown := func(name string, cfg map[string]string) map[string]string {
		out := map[string]string{"name": name}
		for k, v := range cfg {
			if strings.HasSuffix(k, ".password") {
				v = "[hidden]"
			}
			out[k] = v
		}
		return out
	}
	jdbcPaused := false
	// back checks the connectors a started server holds.
	back := func(s *serveRun) {
		t.Helper()
		if b := s.expect(t, "GET", "/connectors", "", 200); string(b) != `["idle","jdbc","pg"]`+"\n" {
			t.Fatalf("GET /connectors: %s", b)
		}
		for name, cfg := range map[string]map[string]string{"pg": pgConfig, "jdbc": jdbcConfig} {
			var got map[string]string
			if err := json.Unmarshal(s.expect(t, "GET", "/connectors/"+name+"/config", "", 200), &got); err != nil {
				t.Fatal(err)
			}
			if want := shown(name, cfg); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s's config after a restart:\n%v\nwant\n%v", name, got, want)
			}
		}
		if b := s.expect(t, "GET", "/connectors/idle/status", "", 200); !strings.Contains(string(b), `"connector":{"state":"STOPPED"`) || !strings.Contains(string(b), `"tasks":[]`) {
			t.Fatalf("idle is not STOPPED after a restart: %s", b)
		}
		if jdbcPaused {
			waitFor(t, 30*time.Second, "jdbc PAUSED", dir, func() bool {
				_, b := s.call(t, "GET", "/connectors/jdbc/status", "")
				return strings.Contains(string(b), `"connector":{"state":"PAUSED"`) && strings.Contains(string(b), `"state":"PAUSED","worker_id"`)
			})
		} else {
			s.waitRunning(t, "jdbc")
		}
		s.waitRunning(t, "pg")
	}
	count := func() int {
		n := 0
		for _, tb := range []string{"acct", "item", "link"} {
			rows := target.rows(t, `SELECT CAST(COUNT(*) AS CHAR(20)) FROM "crash.public.`+tb+`"`)
			if len(rows) == 1 {
				var c int
				fmt.Sscan(strings.TrimSpace(rows[0]), &c)
				n += c
			}
		}
		return n
	}

	// The connectors are created on the first server. Phase 1: kills
	// during the snapshot, each while the gate holds the snapshot
	// (killDuringSnapshot's way, with the server in place of a run).
	rng := newCrashRun(t, dir, "")
	gate.hold(rng.rng, total)
	s := startServe(t, dir, nil, args...)
	s.expect(t, "PUT", "/connectors/pg/config", body(pgConfig), 201)
	s.expect(t, "PUT", "/connectors/jdbc/config", body(jdbcConfig), 201)
	s.expect(t, "PUT", "/connectors/idle/config", `{"connector.class":"io.debezium.connector.jdbc.JdbcSinkConnector","connection.url":"jdbc:postgresql://`+tgt.Host+tgt.Path+`","connection.username":"postgres","topics":"crash.public.acct","insert.mode":"upsert","table.name.format":"idle_copy"}`, 201)
	s.expect(t, "PUT", "/connectors/idle/stop", "", 204)
	back(s)
	during, prev := 0, 0
	for i := 0; i < snapKills*4 && during < snapKills; i++ {
		if i > 0 {
			if prev = count(); prev >= total {
				break
			}
			gate.hold(rng.rng, total-prev)
			s = startServe(t, dir, nil, args...)
			back(s)
		}
		gate.await(t, dir, func() bool { return count() >= total }, func() bool { return count() > prev })
		rng.pause(0, 300*time.Millisecond)
		if count() < total {
			during++
		}
		s.killServe()
		gate.px.Release()
	}
	t.Logf("%d kills landed during the snapshot (%d of %d rows)", during, count(), total)
	if during == 0 {
		t.Fatalf("no kill landed during the snapshot; the test proves nothing")
	}

	// Phase 2: a workload while the server is killed again and again,
	// once right after a pause, once right after a new configuration.
	var txs atomic.Int64
	wctx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); workload(wctx, t, dsn, seedRows, &txs) }()
	for i := 0; i < streamKills; i++ {
		s = startServe(t, dir, nil, args...)
		back(s)
		switch i {
		case 1:
			s.expect(t, "PUT", "/connectors/jdbc/pause", "", 202)
			jdbcPaused = true
		case 2:
			s.expect(t, "PUT", "/connectors/jdbc/resume", "", 202)
			jdbcPaused = false
			pgConfig["heartbeat.interval.ms"] = "2000"
			s.expect(t, "PUT", "/connectors/pg/config", body(pgConfig), 200)
		default:
			rng.pause(time.Second, 1500*time.Millisecond)
		}
		s.killServe()
	}
	stopWork()
	wg.Wait() // the workload's connection is closed and its backend gone
	t.Logf("workload committed %d transactions", txs.Load())

	// The last server catches up: the sink's tables equal the source's.
	if _, err := db.Exec(ctx, `INSERT INTO marker VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	s = startServe(t, dir, nil, args...)
	back(s)
	var diffs []string
	waitFor(t, 3*time.Minute, "the sink to equal the source", dir, func() bool {
		diffs = serveCrashDiff(t, db, target)
		return len(diffs) == 0
	})
	s.stop(t)
	if diffs = serveCrashDiff(t, db, target); len(diffs) > 0 {
		t.Fatalf("after the last stop: %d differences, first: %q", len(diffs), diffs[:min(5, len(diffs))])
	}
	log, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
	if strings.Contains(string(log), canary) {
		t.Fatal("the servers' log shows the password")
	}
}

// serveCrashDiff compares the crash tables with the sink's copies
// ("crash.public.<table>"), rows as text with NULL spelled out.
func serveCrashDiff(t *testing.T, db *pgx.Conn, target sqlTarget) []string {
	var diff []string
	for _, tc := range []struct{ table, cols, order string }{
		{"acct", "id, balance, note", "id"},
		{"item", "id, name, big", "id"},
		{"link", "a, b, val", "a, b"},
		{"marker", "id", "id"},
	} {
		var parts []string
		for _, c := range strings.Split(tc.cols, ", ") {
			parts = append(parts, "COALESCE(CAST("+c+" AS text), 'NULL')")
		}
		q := "SELECT concat_ws('|', " + strings.Join(parts, ", ") + ") FROM %s ORDER BY " + tc.order
		want := pgRows(t, db, fmt.Sprintf(q, tc.table))
		got := target.rows(t, fmt.Sprintf(q, `"crash.public.`+tc.table+`"`))
		gs, ws := map[string]bool{}, map[string]bool{}
		for _, g := range got {
			gs[g] = true
		}
		for _, w := range want {
			ws[w] = true
		}
		if len(got) != len(want) {
			diff = append(diff, fmt.Sprintf("%s: %d rows in the sink, %d in the source", tc.table, len(got), len(want)))
		}
		for w := range ws {
			if !gs[w] {
				diff = append(diff, tc.table+": missing "+trim(w))
			}
		}
		for g := range gs {
			if !ws[g] {
				diff = append(diff, tc.table+": extra "+trim(g))
			}
		}
	}
	sort.Strings(diff)
	return diff
}
