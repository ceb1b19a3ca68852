package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/svctest"
)

// chunkRow is a row of the lease table for a snapshot chunk.
type chunkRow struct {
	key, owner, status string
	node               string // progress.node: who read (or reads) it
	rows, ms           int64
}

func (c *coordCluster) chunks() []chunkRow {
	c.t.Helper()
	rows, err := c.coord.Query(context.Background(), `SELECT key, owner, status, coalesce(progress::text, '{}') FROM sluice_leases
		WHERE namespace = 'shop' AND kind = 'chunk/shop' ORDER BY key`)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		c.t.Fatal(err)
	}
	defer rows.Close()
	var out []chunkRow
	for rows.Next() {
		var r chunkRow
		var prog string
		if err := rows.Scan(&r.key, &r.owner, &r.status, &prog); err != nil {
			c.t.Fatal(err)
		}
		var p struct {
			Node string `json:"node"`
			Rows int64  `json:"rows"`
			Ms   int64  `json:"ms"`
		}
		if err := json.Unmarshal([]byte(prog), &p); err != nil {
			c.t.Fatal(err)
		}
		r.node, r.rows, r.ms = p.Node, p.Rows, p.Ms
		out = append(out, r)
	}
	return out
}

// TestCoordinationSharedSnapshot: three nodes share the snapshot of a
// large table through chunk partitions (key ranges read under the
// leader's exported snapshot) while a workload changes it; a node is
// SIGKILLed while it reads a chunk, and another node reads that chunk
// again. Each node's log and the lease table show that it read chunks;
// the stream starts once every chunk is done; the PostgreSQL sink ends
// equal to the source, and so does the OpenSearch index. SLUICE_COORD_ROWS
// sets the table's rows (default 50,000, so that the test takes under a
// minute here; the full run is 2,000,000).
func TestCoordinationSharedSnapshot(t *testing.T) {
	seedRows := 50000
	if n, err := strconv.Atoi(os.Getenv("SLUICE_COORD_ROWS")); err == nil && n > 0 {
		seedRows = n
	}
	chunkRows := max(seedRows/40, 1000)
	// SLUICE_COORD_BENCH_NODES=n: the benchmark (docs/coordination.md):
	// n nodes, no workload, no kill; the snapshot's rate is logged.
	bench, _ := strconv.Atoi(os.Getenv("SLUICE_COORD_BENCH_NODES"))
	nodes := []string{"node-a", "node-b", "node-c"}
	if bench > 0 {
		nodes = nodes[:min(bench, 3)]
	}
	// The snapshot goes into OpenSearch too (not in the benchmark, which
	// measures the PostgreSQL sink).
	var idx *searchIndex
	var sinks string
	var env []string
	if bench == 0 {
		base := svctest.Need(t, svctest.OpenSearch)
		idx = newSearchIndex(t, base, "sluice-e2e-chunks")
		sinks = fmt.Sprintf(`  search:
    type: opensearch
    inputs: [pg]
    hosts: ["${COORD_OPENSEARCH}"]
    index: %s-${table}
`, idx.name)
		env = append(env, "COORD_OPENSEARCH="+base)
	}
	c := newCoordClusterWith(t, seedRows, 2048, chunkRows, sinks, env...)
	start := time.Now()
	for _, n := range nodes {
		c.start(n, "")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var txs atomic.Int64
	var wg sync.WaitGroup
	var victim, victimChunk string
	if bench == 0 {
		wg.Add(1)
		// At most 20,000 transactions: the stream starts only once every
		// chunk is done, so an unbounded workload's backlog grows with the
		// snapshot's time (147,611 transactions, 167 MB of WAL behind, in
		// a run on a loaded machine whose snapshot took two minutes).
		go func() { defer wg.Done(); acctWorkload(ctx, t, c.srcDSN, seedRows, &txs, 20000) }()

		// Kill a node other than the leader while it reads a chunk.
		c.waitFor(60*time.Second, "a node other than the leader reading a chunk", func() bool {
			leader, _ := c.holder()
			for _, r := range c.chunks() {
				// Owned, its spec stored and the reading logged.
				if r.status == "owned" && r.owner != leader && r.owner != "" && r.node == r.owner {
					b, _ := os.ReadFile(filepath.Join(c.nodes[r.owner].dir, "stderr.log"))
					if strings.Contains(string(b), "msg=\"reading snapshot chunk\" pipeline=shop node="+r.owner+" chunk="+r.key+" ") {
						victim, victimChunk = r.owner, r.key
						return true
					}
				}
			}
			return false
		})
		n := c.nodes[victim]
		n.cmd.Kill()
		n.wait()
		t.Logf("killed %s while it read %s (%d workload transactions so far)", victim, victimChunk, txs.Load())
		// The workload changes the table while half the chunks are read,
		// then stops, so that the stream's backlog stays small.
		c.waitFor(2*time.Minute, "half the chunks done", func() bool {
			done := 0
			rs := c.chunks()
			for _, r := range rs {
				if r.status == "done" {
					done++
				}
			}
			return done >= len(rs)/2
		})
		cancel()
		wg.Wait()
	}

	c.waitFor(2*time.Minute+time.Duration(seedRows/5000)*time.Second, "every chunk done", func() bool {
		rs := c.chunks()
		for _, r := range rs {
			if r.status != "done" {
				return false
			}
		}
		return len(rs) > 0
	})
	snapTook := time.Since(start)
	cancel()
	wg.Wait()
	t.Logf("workload committed %d transactions", txs.Load())
	c.finish()
	if idx != nil {
		// The marker was in the PostgreSQL sink: the same batch went to
		// OpenSearch, whose documents must equal the table.
		const q = `SELECT id::text, jsonb_build_object('id', id, 'balance', balance, 'note', note)::text FROM acct`
		c.waitFor(time.Minute, "the marker document", func() bool { return idx.exists(idx.name+"-marker", "1") })
		want := pgDocs(t, c.src, q)
		deadline := time.Now().Add(time.Minute)
		for {
			got := idx.docs(idx.name + "-acct")
			if maps.Equal(want, got) {
				t.Logf("OpenSearch equals the source: %d documents", len(got))
				break
			}
			if time.Now().After(deadline) {
				sameDocs(t, "OpenSearch", want, got)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	c.stopAll()

	rs := c.chunks()
	byNode := map[string]int{}
	var total int64
	for _, r := range rs {
		byNode[r.node]++
		total += r.rows
		if r.key == victimChunk && (r.node == victim || r.node == "") {
			t.Errorf("chunk %s, whose reader %s was killed, is done by %q: want another node", r.key, victim, r.node)
		}
	}
	t.Logf("%d chunks, %d rows read (snapshot done %v after the start), by node: %v", len(rs), total, snapTook.Round(time.Millisecond), byNode)
	if bench > 0 {
		// The nodes have exited and were waited for: their CPU time is
		// this process's children's.
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		var busy time.Duration
		for _, r := range rs {
			busy += time.Duration(r.ms) * time.Millisecond
		}
		t.Logf("benchmark: %d nodes, %d rows in %v: %.0f rows/s; sluice processes used %v of CPU (%.1f µs a row); chunk runs took %v in all",
			len(nodes), seedRows, snapTook.Round(time.Millisecond), float64(seedRows)/snapTook.Seconds(),
			cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(seedRows), busy.Round(time.Millisecond))
		return
	}
	if want := seedRows/chunkRows + 1; len(rs) < want-1 || len(rs) > want+1 {
		t.Errorf("%d chunks; want about %d (%d rows by %d)", len(rs), want, seedRows, chunkRows)
	}
	for name, nd := range c.nodes {
		b, _ := os.ReadFile(filepath.Join(nd.dir, "stderr.log"))
		if got := strings.Count(string(b), "msg=\"reading snapshot chunk\""); got == 0 {
			t.Errorf("node %s read no chunk; log:\n%s", name, stderrTail(nd.dir))
		}
	}
	for _, name := range []string{"node-a", "node-b", "node-c"} {
		if name != victim && byNode[name] == 0 {
			t.Errorf("the lease table shows no chunk done by %s: %v", name, byNode)
		}
	}
	// The stream started only after every chunk was done: the last
	// "snapshot chunk done" of any node comes before the first
	// "streaming" of any node (one clock: the nodes share the machine).
	var lastChunk, firstStream string
	for _, nd := range c.nodes {
		b, _ := os.ReadFile(filepath.Join(nd.dir, "stderr.log"))
		for _, l := range strings.Split(string(b), "\n") {
			ts, _, _ := strings.Cut(strings.TrimPrefix(l, "time="), " ")
			switch {
			case strings.Contains(l, `msg="snapshot chunk done"`) && ts > lastChunk:
				lastChunk = ts
			case strings.Contains(l, "msg=streaming") && (firstStream == "" || ts < firstStream):
				firstStream = ts
			}
		}
	}
	if lastChunk == "" || firstStream == "" || lastChunk >= firstStream {
		t.Errorf("last chunk done at %q, first streaming at %q; logs:\n%s", lastChunk, firstStream, c.logs())
	}
}

// TestCoordinationFailedChunkStops: a chunk whose rows the sink refuses
// permanently (its target table is missing and auto_create is off) fails
// on the node that read it; that node exits non-zero naming the chunk and
// the cause, and so does the other node, which sees the chunk failed in
// the lease table (before, the chunk was released and read again every
// renew, forever). Once the cause is fixed, a node started again reopens
// the failed chunk, reads it and streams, and the sink ends equal to the
// source.
func TestCoordinationFailedChunkStops(t *testing.T) {
	c := newCoordClusterWith(t, 2000, 256, 500, "")
	b, err := os.ReadFile(c.pipeline)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.pipeline, []byte(strings.Replace(string(b), "auto_create: true", "auto_create: false", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, q := range []string{`CREATE TABLE bad (id int PRIMARY KEY, v text)`, `INSERT INTO bad SELECT g, 'v'||g FROM generate_series(1,10) g`} {
		if _, err := c.src.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{`CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL, note text)`, `CREATE TABLE marker (id int PRIMARY KEY)`} {
		if _, err := c.target.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	c.start("node-a", "")
	c.start("node-b", "")
	for _, name := range []string{"node-a", "node-b"} {
		n := c.nodes[name]
		select {
		case <-n.done:
		case <-time.After(60 * time.Second):
			t.Fatalf("node %s still runs 60 s after the start; logs:\n%s", name, c.logs())
		}
	}
	var failed []chunkRow
	for _, r := range c.chunks() {
		if r.status == "failed" {
			failed = append(failed, r)
		}
	}
	if len(failed) != 1 || failed[0].node != failed[0].owner {
		t.Fatalf("failed chunks %+v; want one, its node its owner; logs:\n%s", failed, c.logs())
	}
	want := fmt.Sprintf(`level=ERROR msg="pipeline failed" pipeline=shop err="coordination: snapshot chunk %s failed on node %s (a permanent error): sink db: postgres sink: table bad does not exist; create it or set auto_create: true; fix the cause and start the nodes again (a starting node reopens the failed chunks)"`,
		failed[0].key, failed[0].node)
	for _, name := range []string{"node-a", "node-b"} {
		n := c.nodes[name]
		var ee *exec.ExitError
		if err := n.wait(); !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("node %s exit: %v; want exit status 1", name, err)
		}
		lines := strings.Split(strings.TrimRight(stderrTail(n.dir), "\n"), "\n")
		_, last, _ := strings.Cut(lines[len(lines)-1], " ") // after time=…
		if last != want {
			t.Errorf("node %s's last line:\n%s\nwant\n%s", name, last, want)
		}
	}
	// The cause fixed, one node started again reads the failed chunk.
	if _, err := c.target.Exec(ctx, `CREATE TABLE bad (id int PRIMARY KEY, v text)`); err != nil {
		t.Fatal(err)
	}
	c.start("node-a", "")
	c.finish()
	if got, want := rowsOf(t, c.target, `SELECT concat_ws('|', id, v) FROM bad ORDER BY id`), rowsOf(t, c.src, `SELECT concat_ws('|', id, v) FROM bad ORDER BY id`); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sink bad %v; want %v", got, want)
	}
	for _, r := range c.chunks() {
		if r.status != "done" {
			t.Errorf("chunk %s is %s after the restart; want done", r.key, r.status)
		}
	}
	c.stopAll()
}
