package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

// TestCoordinationMariaDBSharedSnapshot: three nodes share a MariaDB
// source's snapshot in primary-key chunks (each read in a consistent-read
// transaction of its own) while a workload changes the tables; the stream
// starts at the binlog position the leader recorded before planning, and
// the PostgreSQL tables end equal to the source. The lease table shows
// chunks read by more than one node.
func TestCoordinationMariaDBSharedSnapshot(t *testing.T) {
	const seedRows, chunkRows = 20000, 1000
	src := newMySQLSource(t)
	src.exec(t, strings.Split(mysqlTables, ";\n")...)
	src.exec(t,
		fmt.Sprintf("INSERT INTO acct SELECT seq, seq, CONCAT('n', seq), NULL, 0, NULL FROM seq_1_to_%d", seedRows),
		"INSERT INTO link SELECT seq % 10, seq, 'v' FROM seq_1_to_3000",
	)
	targetDSN := pgtest.NewDatabase(t)
	coordDSN := pgtest.NewDatabase(t)
	dir := t.TempDir()
	p := writePipeline(t, dir, fmt.Sprintf(`name: shop
state_dir: ${NODE_DIR}/state
node_id: ${NODE}
coordination:
  type: postgres
  dsn: ${COORD_DSN}
  lease: %s
  renew: %s
sources:
  my:
    type: mysql
    dsn: ${SOURCE_DSN}
    tables: [%s.*]
    snapshot_chunk_rows: %d
    batch_size: 512
    heartbeat_interval: 1s
sinks:
  db:
    type: postgres
    dsn: ${TARGET_DSN}
    inputs: [my]
    auto_create: true
`, coordLease, coordRenew, src.name, chunkRows))
	c := &coordCluster{t: t, dir: dir, pipeline: p, target: pgtest.Connect(t, targetDSN), coord: pgtest.Connect(t, coordDSN),
		env: []string{"SOURCE_DSN=" + src.dsn, "TARGET_DSN=" + targetDSN, "COORD_DSN=" + coordDSN}, nodes: map[string]*exec1{}}
	// Each node serves its metrics (--http): its chunk runs are counted.
	addrs := map[string]string{}
	for _, name := range []string{"node-a", "node-b", "node-c"} {
		nd := filepath.Join(dir, name)
		if err := os.MkdirAll(nd, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd, addr := startHTTP(t, nd, p, append([]string{"NODE=" + name, "NODE_DIR=" + nd}, c.env...)...)
		n := &exec1{dir: nd, done: make(chan struct{}), cmd: cmd.Process, run: cmd}
		var err error
		n.wait = func() error { <-n.done; return err }
		go func() { err = waitRun(cmd); close(n.done) }()
		c.nodes[name], addrs[name] = n, addr
	}
	// The workload starts once the plan is made (so that the chunk count
	// is known), runs while the chunks are read and stops once half are
	// done, so that the stream's backlog stays small.
	c.waitFor(60*time.Second, "the plan", func() bool { return len(c.chunks()) > 0 })
	ctx, cancel := context.WithCancel(context.Background())
	var txs atomic.Int64
	var workErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); workErr = mysqlWorkload(ctx, src.db, &txs) }()
	c.waitFor(60*time.Second, "half the chunks done", func() bool {
		done := 0
		rs := c.chunks()
		for _, r := range rs {
			if r.status == "done" {
				done++
			}
		}
		return len(rs) > 0 && done >= len(rs)/2
	})
	cancel()
	wg.Wait()
	if workErr != nil {
		t.Fatal(workErr)
	}
	t.Logf("workload committed %d transactions", txs.Load())
	c.waitFor(60*time.Second, "every chunk done", func() bool {
		rs := c.chunks()
		for _, r := range rs {
			if r.status != "done" {
				return false
			}
		}
		return len(rs) > 0
	})
	src.exec(t, "INSERT INTO marker VALUES (1)")
	c.waitFor(60*time.Second, "the marker in the sink", func() bool {
		return len(rowsOf(t, c.target, `SELECT id::text FROM marker`)) == 1
	})
	target := func(q string) []string { return rowsOf(t, c.target, q) }
	for _, cmp := range mysqlCompare {
		sameRows(t, cmp.table, "PostgreSQL", target(cmp.pg), "MariaDB", src.rows(t, cmp.my))
	}
	rs := c.chunks()
	byNode := map[string]int{}
	rowsBy := map[string]int64{}
	var total int64
	for _, r := range rs {
		byNode[r.node]++
		rowsBy[r.node] += r.rows
		total += r.rows
	}
	// Every node's metrics: the chunks' states as it last saw them (all
	// done), its chunk runs and their rows exactly as the lease table
	// records them.
	for name, addr := range addrs {
		var m scraped
		c.waitFor(30*time.Second, name+"'s metrics showing every chunk done", func() bool {
			m = scrape(t, addr)
			v, _ := m.value("sluice_snapshot_chunks", "source", "my", "state", "done")
			return v == 24
		})
		for _, w := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"sluice_snapshot_chunks", []string{"state", "open"}, 0},
			{"sluice_snapshot_chunks", []string{"state", "owned"}, 0},
			{"sluice_snapshot_chunks", []string{"state", "failed"}, 0},
			{"sluice_snapshot_chunk_runs_total", []string{"result", "done"}, float64(byNode[name])},
			{"sluice_snapshot_chunk_runs_total", []string{"result", "failed"}, 0},
			{"sluice_snapshot_chunk_runs_total", []string{"result", "released"}, 0},
			{"sluice_snapshot_chunk_rows_total", nil, float64(rowsBy[name])},
		} {
			got, ok := m.value(w.name, append([]string{"pipeline", "shop", "source", "my"}, w.labels...)...)
			if !ok || got != w.want {
				t.Errorf("%s: %s%v = %v (present %v); want %v", name, w.name, w.labels, got, ok, w.want)
			}
		}
	}
	// sluice status sums the chunks up.
	cmd := exec.Command(bin, "status", p)
	cmd.Env = append(append(os.Environ(), c.env...), "NODE=status", "NODE_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sluice status: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("\nsnapshot chunks of source my: 24 (done 24), %d rows read\n", total); !strings.HasSuffix(string(out), want) {
		t.Errorf("sluice status printed:\n%s\nwant it to end with%s", out, want)
	}
	c.stopAll()

	t.Logf("%d chunks, %d rows read, by node: %v", len(rs), total, byNode)
	// acct: 20 chunks; link: 3; marker: 1 (empty, one unbounded range).
	if len(rs) != 24 {
		t.Errorf("%d chunks; want 24", len(rs))
	}
	if len(byNode) < 2 {
		t.Errorf("chunks read by %v: want more than one node", byNode)
	}
	for name, nd := range c.nodes {
		b, _ := os.ReadFile(filepath.Join(nd.dir, "stderr.log"))
		if n := strings.Count(string(b), "msg=\"snapshot chunk done\""); n != byNode[name] {
			t.Errorf("node %s logged %d chunks done, the lease table says %d", name, n, byNode[name])
		}
	}
}
