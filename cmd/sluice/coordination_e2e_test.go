package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// Several `sluice run` processes share one pipeline file through a
// PostgreSQL lease table (coordination: type postgres). One holds the
// stream partition and runs the pipeline; the others wait. The tests kill
// or cut off the holder during a continuous workload and check that
// another node takes over within lease + 5 s and that the PostgreSQL sink
// ends equal to the source: nothing lost, no stale row.

const (
	coordLease = 3 * time.Second
	coordRenew = 1 * time.Second
)

type coordCluster struct {
	t        *testing.T
	dir      string
	pipeline string
	src      *pgx.Conn
	srcDSN   string
	target   *pgx.Conn
	coord    *pgx.Conn
	env      []string
	nodes    map[string]*exec1
}

type exec1 struct {
	dir  string
	done chan struct{}
	cmd  interface {
		Signal(os.Signal) error
		Kill() error
	}
	wait func() error
	run  *exec.Cmd // for awaitSignalHandler
}

func newCoordCluster(t *testing.T, seedRows int) *coordCluster {
	t.Helper()
	return newCoordClusterWith(t, seedRows, 64, 50000, "")
}

// newCoordClusterWith sets the source's batch_size and
// snapshot_chunk_rows (the rows of a shared snapshot chunk), and adds
// moreSinks (YAML under sinks:) to the pipeline.
func newCoordClusterWith(t *testing.T, seedRows, batch, chunkRows int, moreSinks string, env ...string) *coordCluster {
	t.Helper()
	srcDSN := pgtest.NewDatabase(t)
	src := pgtest.Connect(t, srcDSN)
	for _, q := range []string{
		`CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL, note text)`,
		`CREATE TABLE marker (id int PRIMARY KEY)`,
		fmt.Sprintf(`INSERT INTO acct SELECT g, g*10, 'n'||g FROM generate_series(1,%d) g`, seedRows),
	} {
		if _, err := src.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
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
  pg:
    type: postgres
    dsn: ${SOURCE_DSN}
    tables: [public.*]
    slot: %s
    batch_size: %d
    snapshot_chunk_rows: %d
    heartbeat_interval: 1s
sinks:
  db:
    type: postgres
    dsn: ${TARGET_DSN}
    inputs: [pg]
    auto_create: true
`, coordLease, coordRenew, uniqueSlot(), batch, chunkRows)+moreSinks)
	return &coordCluster{t: t, dir: dir, pipeline: p, src: src, srcDSN: srcDSN, target: pgtest.Connect(t, targetDSN), coord: pgtest.Connect(t, coordDSN),
		env: append([]string{"SOURCE_DSN=" + srcDSN, "TARGET_DSN=" + targetDSN, "COORD_DSN=" + coordDSN}, env...), nodes: map[string]*exec1{}}
}

// start starts node name, whose store connection is coordDSN ("" for the
// direct one).
func (c *coordCluster) start(name, coordDSN string) {
	nd := filepath.Join(c.dir, name)
	if err := os.MkdirAll(nd, 0o755); err != nil {
		c.t.Fatal(err)
	}
	env := append([]string{"NODE=" + name, "NODE_DIR=" + nd}, c.env...)
	if coordDSN != "" {
		env = append(env, "COORD_DSN="+coordDSN)
	}
	cmd := startSluice(c.t, nd, c.pipeline, env...)
	n := &exec1{dir: nd, done: make(chan struct{}), cmd: cmd.Process, run: cmd}
	var err error
	n.wait = func() error { <-n.done; return err }
	go func() { err = waitRun(cmd); close(n.done) }()
	c.nodes[name] = n
}

// holder is the stream partition's owner and epoch ("" when none holds it).
func (c *coordCluster) holder() (string, int64) {
	var owner, status string
	var epoch int64
	err := c.coord.QueryRow(context.Background(), `SELECT owner, status, epoch FROM sluice_leases WHERE namespace = 'shop' AND key = 'stream/shop'`).Scan(&owner, &status, &epoch)
	if err != nil || status != "owned" {
		return "", epoch
	}
	return owner, epoch
}

func (c *coordCluster) logs() string {
	var b strings.Builder
	for name, n := range c.nodes {
		fmt.Fprintf(&b, "--- %s:\n%s\n", name, stderrTail(n.dir))
	}
	return b.String()
}

func (c *coordCluster) waitFor(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s; %s\nlogs:\n%s", d, what, c.state(), c.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// state describes the cluster for a failure, before the logs (which a CI
// log may cut): each node running or exited, the lease table, the slot's
// position against the server's, the sink's progress, and the server's
// sessions that hold a transaction id or wait. The nodes' whole logs are
// copied to $SLUICE_ARTIFACTS/<test>/ when that is set.
func (c *coordCluster) state() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	b.WriteString("cluster state:")
	names := slices.Sorted(maps.Keys(c.nodes))
	for _, name := range names {
		n := c.nodes[name]
		select {
		case <-n.done:
			fmt.Fprintf(&b, "\n  %s: exited (%v)", name, n.wait())
		default:
			fmt.Fprintf(&b, "\n  %s: running", name)
		}
	}
	lines := func(what string, db *pgx.Conn, q string, args ...any) {
		rows, err := db.Query(ctx, q, args...)
		if err == nil {
			var ls []string
			if ls, err = pgx.CollectRows(rows, pgx.RowTo[string]); err == nil {
				fmt.Fprintf(&b, "\n  %s (%d):", what, len(ls))
				for _, l := range ls {
					b.WriteString("\n    " + l)
				}
				return
			}
		}
		fmt.Fprintf(&b, "\n  %s: %v", what, err)
	}
	lines("leases, by kind and status", c.coord, `SELECT concat_ws(' ', kind, status, count(*), 'owners=' || string_agg(DISTINCT nullif(owner, ''), ','),
			'max_epoch=' || max(epoch), 'expires_in=' || max(expires - now())::text)
		FROM sluice_leases WHERE namespace = 'shop' GROUP BY kind, status ORDER BY kind, status`)
	lines("the source's slot", c.src, `SELECT concat_ws(' ', slot_name, 'active=' || active, 'active_pid=' || active_pid,
			'confirmed_flush_lsn=' || confirmed_flush_lsn, 'current=' || pg_current_wal_lsn(),
			'behind=' || pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)), 'wal_status=' || wal_status)
		FROM pg_replication_slots WHERE database = current_database()`)
	lines("the sink", c.target, `SELECT concat_ws(' ', 'marker=' || (SELECT count(*) FROM marker), 'acct=' || (SELECT count(*) FROM acct))`)
	lines("the server's sessions holding a transaction id or waiting on a lock", c.src, `SELECT concat_ws(' ', pid, datname, application_name, backend_type, state,
			'xid=' || backend_xid, 'xact_age=' || (now() - xact_start)::text, 'wait=' || wait_event_type || '/' || wait_event, left(query, 160))
		FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (backend_xid IS NOT NULL OR wait_event_type = 'Lock')
		ORDER BY xact_start NULLS LAST`)
	if dir := os.Getenv("SLUICE_ARTIFACTS"); dir != "" {
		dir = filepath.Join(dir, c.t.Name())
		if err := os.MkdirAll(dir, 0o755); err == nil {
			for _, name := range names {
				if log, err := os.ReadFile(filepath.Join(c.nodes[name].dir, "stderr.log")); err == nil {
					_ = os.WriteFile(filepath.Join(dir, name+".log"), log, 0o644)
				}
			}
			fmt.Fprintf(&b, "\n  the nodes' whole logs: %s", dir)
		}
	}
	return b.String()
}

// waitTakeover waits until a node other than old holds the partition at a
// later epoch and returns it with the time taken since from.
func (c *coordCluster) waitTakeover(old string, oldEpoch int64, from time.Time) (string, time.Duration) {
	c.t.Helper()
	var owner string
	c.waitFor(coordLease+5*time.Second+time.Until(from.Add(0)), "another node to take the stream partition over from "+old, func() bool {
		o, e := c.holder()
		if o != "" && o != old && e > oldEpoch {
			owner = o
			return true
		}
		return false
	})
	return owner, time.Since(from)
}

// acctWorkload changes acct until ctx ends: inserts, updates, deletes and
// primary-key updates, from one connection.
// acctWorkload commits random transactions on acct until ctx ends or, when
// limit > 0, limit transactions have committed.
func acctWorkload(ctx context.Context, t *testing.T, dsn string, seedRows int, txs *atomic.Int64, limit int64) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("workload connect: %v", err)
		return
	}
	defer closeAndAwait(t, conn, dsn)
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	next := seedRows + 1
	for ctx.Err() == nil && (limit <= 0 || txs.Load() < limit) {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return
		}
		ok := true
		for range 1 + rng.IntN(10) {
			id := 1 + rng.IntN(next)
			var q string
			var args []any
			switch rng.IntN(8) {
			case 0:
				q, args = `INSERT INTO acct VALUES ($1, $2, 'new') ON CONFLICT (id) DO UPDATE SET balance = excluded.balance`, []any{next, rng.IntN(1000)}
				next++
			case 1:
				q, args = `DELETE FROM acct WHERE id = $1`, []any{id}
			case 2:
				q, args = `UPDATE acct SET id = $2 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM acct WHERE id = $2)`, []any{id, next}
				next++
			default:
				q, args = `UPDATE acct SET balance = balance + 1, note = $2 WHERE id = $1`, []any{id, fmt.Sprintf("tx%d", rng.IntN(1e6))}
			}
			if _, err := tx.Exec(ctx, q, args...); err != nil {
				ok = false
				break
			}
		}
		if !ok {
			tx.Rollback(context.Background())
			continue
		}
		if tx.Commit(ctx) == nil {
			txs.Add(1)
		}
	}
}

func rowsOf(t *testing.T, db *pgx.Conn, q string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// finish commits the marker, waits for it in the sink, then waits until
// the sink's acct equals the source's (a node that took over during the
// snapshot snapshots again, and its snapshot may carry the marker before
// its stream has caught up), failing with the difference after a minute.
func (c *coordCluster) finish() {
	c.t.Helper()
	if _, err := c.src.Exec(context.Background(), `INSERT INTO marker VALUES (1)`); err != nil {
		c.t.Fatal(err)
	}
	c.waitFor(2*time.Minute, "the marker in the sink", func() bool {
		return len(rowsOf(c.t, c.target, `SELECT id::text FROM marker`)) == 1
	})
	const q = `SELECT concat_ws('|', id, balance, note) FROM acct ORDER BY id`
	want := rowsOf(c.t, c.src, q)
	var got []string
	deadline := time.Now().Add(time.Minute)
	for {
		got = rowsOf(c.t, c.target, q)
		if strings.Join(want, "\n") == strings.Join(got, "\n") {
			c.t.Logf("sink equals source: %d rows", len(want))
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	w := map[string]bool{}
	for _, r := range want {
		w[r] = true
	}
	var diff []string
	for _, r := range got {
		if !w[r] {
			diff = append(diff, "sink only: "+r)
		}
		delete(w, r)
	}
	for r := range w {
		diff = append(diff, "source only: "+r)
	}
	if len(diff) > 20 {
		diff = diff[:20]
	}
	c.t.Fatalf("sink acct (%d rows) differs from the source (%d rows) a minute after the marker:\n%s\n%s\nlogs:\n%s", len(got), len(want), strings.Join(diff, "\n"), c.state(), c.logs())
}

func (c *coordCluster) stopAll() {
	for name, n := range c.nodes {
		select {
		case <-n.done:
			continue
		default:
		}
		// A node restarted just before (a standby) may not catch
		// SIGTERM yet.
		awaitSignalHandler(c.t, n.run, func() string { return stderrTail(n.dir) })
		n.cmd.Signal(syscall.SIGTERM)
		if err := n.wait(); err != nil {
			c.t.Errorf("node %s exit after SIGTERM: %v; log:\n%s", name, err, stderrTail(n.dir))
		}
	}
}

// TestCoordinationKillHolder: three nodes; the holder of the stream
// partition is SIGKILLed twice during a continuous workload; each time
// another node takes over within lease + 5 s, and at the end the sink
// equals the source.
func TestCoordinationKillHolder(t *testing.T) {
	const seedRows = 2000
	c := newCoordCluster(t, seedRows)
	c.start("node-a", "")
	c.waitFor(60*time.Second, "node-a to hold the stream partition", func() bool { o, _ := c.holder(); return o == "node-a" })
	c.start("node-b", "")
	c.start("node-c", "")

	ctx, cancel := context.WithCancel(context.Background())
	var txs atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); acctWorkload(ctx, t, c.srcDSN, seedRows, &txs, 0) }()
	kills := 2
	if n, err := strconv.Atoi(os.Getenv("SLUICE_COORD_KILLS")); err == nil && n > 0 {
		kills = n // the benchmark: 20 kills, killed nodes restarted
	}
	var takes []time.Duration
	for kill := range kills {
		c.waitFor(30*time.Second, "workload progress", func() bool { return txs.Load() > int64(50*(kill+1)) })
		old, epoch := c.holder()
		if old == "" {
			t.Fatalf("nobody holds the partition; logs:\n%s", c.logs())
		}
		n := c.nodes[old]
		at := time.Now()
		n.cmd.Kill()
		n.wait()
		owner, took := c.waitTakeover(old, epoch, at)
		t.Logf("kill %d: %s killed, %s took over after %v", kill+1, old, owner, took.Round(10*time.Millisecond))
		if took > coordLease+5*time.Second {
			t.Fatalf("takeover took %v, more than lease + 5s", took)
		}
		takes = append(takes, took)
		if kills > 2 {
			c.start(old, "") // back as a standby
		}
	}
	slices.Sort(takes)
	t.Logf("takeover after a kill over %d kills (lease %v, renew %v): median %v, worst %v", len(takes), coordLease, coordRenew,
		takes[len(takes)/2].Round(10*time.Millisecond), takes[len(takes)-1].Round(10*time.Millisecond))
	cancel()
	wg.Wait()
	t.Logf("workload committed %d transactions", txs.Load())
	c.finish()
	c.checkStatus()
	c.stopAll()
}

// checkStatus runs `sluice status` on the pipeline file: a line for each
// snapshot chunk (done), and one for the stream partition, owned by the
// holder at its epoch, with a lease that expires within coordLease and the
// checkpoints as progress (longer than 80 characters: cut).
func (c *coordCluster) checkStatus() {
	c.t.Helper()
	owner, epoch := c.holder()
	// The sink can equal the source before the stream starts (a snapshot
	// read after the workload ended): wait for the stream, after which
	// the plan is gone from the progress.
	c.waitFor(30*time.Second, owner+" streaming", func() bool { return c.phase(owner) == "stream" })
	cmd := exec.Command(bin, "status", c.pipeline)
	cmd.Env = append(append(os.Environ(), c.env...), "NODE=status", "NODE_DIR="+c.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("sluice status: %v\n%s", err, out)
	}
	// The shared snapshot's two chunks (acct and marker, done) come
	// first; the plan is gone from the stream partition's progress.
	re := regexp.MustCompile(`(?m)^namespace shop: 3 partitions \(server time [0-9TZ:-]+\)\nKEY +KIND +OWNER +STATUS +EPOCH +EXPIRES +PROGRESS\n` +
		`chunk/shop/pg/000000 +chunk/shop +node-[abc] +done +[0-9]+ +- +\{"source":"pg","spec":\{"table":"public.acct",.*\.\.\.\n` +
		`chunk/shop/pg/000001 +chunk/shop +node-[abc] +done +[0-9]+ +- +\{"source":"pg","spec":\{"table":"public.marker",.*\.\.\.\n` +
		`stream/shop +stream/shop +` + regexp.QuoteMeta(owner) + ` +owned +` + fmt.Sprint(epoch) + ` +in ([0-9.]+)(s|ms) +\{"checkpoints":\{"pg":"[A-Za-z0-9+/=]+\.\.\.\n` +
		`snapshot chunks of source pg: 2 \(done 2\), ([0-9]+) rows read\n$`)
	m := re.FindStringSubmatch(string(out))
	if m == nil {
		c.t.Fatalf("sluice status printed:\n%s\nlogs:\n%s", out, c.logs())
	}
	if d, _ := time.ParseDuration(m[1] + m[2]); d > coordLease {
		c.t.Fatalf("expiry in %v, more than the lease", d)
	}
	// The rows read: the snapshot's, the table's size when each chunk was
	// read (the workload changes it).
	var rows int64
	for _, r := range c.chunks() {
		rows += r.rows
	}
	if m[3] != fmt.Sprint(rows) {
		c.t.Fatalf("sluice status: %s rows read; the chunks' progress says %d", m[3], rows)
	}
}

// TestCoordinationCutHolder: the holder loses its connection to the
// store (a TCP proxy cut): it stops writing before its lease expires, the
// other node takes over, and the sink ends equal to the source.
func TestCoordinationCutHolder(t *testing.T) {
	const seedRows = 1000
	c := newCoordCluster(t, seedRows)
	cfg, err := pgx.ParseConfig(c.env[2][len("COORD_DSN="):])
	if err != nil {
		t.Fatal(err)
	}
	proxy := svctest.NewProxy(t, fmt.Sprintf("%s:%d", cfg.Host, cfg.Port))
	viaProxy := strings.Replace(c.env[2][len("COORD_DSN="):], fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), proxy.Addr(), 1)
	c.start("node-a", viaProxy)
	c.waitFor(60*time.Second, "node-a to hold the stream partition", func() bool { o, _ := c.holder(); return o == "node-a" })
	c.start("node-b", "")

	ctx, cancel := context.WithCancel(context.Background())
	var txs atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); acctWorkload(ctx, t, c.srcDSN, seedRows, &txs, 0) }()
	c.waitFor(30*time.Second, "workload progress", func() bool { return txs.Load() > 50 })
	_, epoch := c.holder()
	at := time.Now()
	proxy.Cut()
	a := c.nodes["node-a"]
	c.waitFor(coordLease, "node-a to stop writing", func() bool {
		b, _ := os.ReadFile(filepath.Join(a.dir, "stderr.log"))
		return strings.Contains(string(b), "lost the stream partition: stopping every write")
	})
	stopped := time.Since(at)
	owner, took := c.waitTakeover("node-a", epoch, at)
	t.Logf("cut: node-a stopped writing after %v, %s took over after %v", stopped.Round(10*time.Millisecond), owner, took.Round(10*time.Millisecond))
	if stopped >= took {
		t.Fatalf("node-a stopped after %v, not before the takeover at %v", stopped, took)
	}
	proxy.Restore()
	cancel()
	wg.Wait()
	c.finish()
	// node-a, connected again, waits: node-b holds the partition, and
	// node-a did not exit.
	if o, _ := c.holder(); o != "node-b" {
		t.Fatalf("holder %q at the end", o)
	}
	select {
	case <-a.done:
		t.Fatalf("node-a exited after the cut; log:\n%s", stderrTail(a.dir))
	default:
	}
	c.stopAll()
}

// phase says what node's current run does, from its log: "waiting",
// "starting", "snapshot" or "stream".
func (c *coordCluster) phase(node string) string {
	b, _ := os.ReadFile(filepath.Join(c.nodes[node].dir, "stderr.log"))
	s := string(b)
	i := strings.LastIndex(s, "acquired the stream partition")
	if i < 0 {
		return "waiting"
	}
	s = s[i:]
	switch {
	case strings.Contains(s, "msg=streaming"):
		return "stream"
	case strings.Contains(s, "snapshot started"), strings.Contains(s, "waiting for every snapshot chunk"):
		return "snapshot"
	}
	return "starting"
}

// TestCoordinationRandomKills: three nodes; the holder is SIGKILLed at a
// random moment after each acquisition — during the snapshot of a larger
// table and during the stream, with a workload running throughout — and
// restarted as a standby. The sink ends equal to the source: a snapshot
// resumed by another node (at a new snapshot, the source's documented
// fallback) keeps the last image of every key right.
func TestCoordinationRandomKills(t *testing.T) {
	const seedRows = 30000
	kills := 6
	if n, err := strconv.Atoi(os.Getenv("SLUICE_COORD_KILLS")); err == nil && n > 0 {
		kills = n
	}
	c := newCoordCluster(t, seedRows)
	c.start("node-a", "")
	c.start("node-b", "")
	c.start("node-c", "")
	ctx, cancel := context.WithCancel(context.Background())
	var txs atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); acctWorkload(ctx, t, c.srcDSN, seedRows, &txs, 0) }()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	var epoch int64
	for kill := range kills {
		var holder string
		c.waitFor(coordLease+10*time.Second, "a holder after the kill", func() bool {
			o, e := c.holder()
			if o != "" && e > epoch {
				holder, epoch = o, e
				return true
			}
			return false
		})
		if kill == 0 {
			// The first kill lands in the snapshot.
			c.waitFor(30*time.Second, holder+" snapshotting", func() bool { return c.phase(holder) == "snapshot" })
		} else {
			// A random moment of its term (the kill moments are random
			// on purpose; they are not synchronisation).
			time.Sleep(time.Duration(200+rng.IntN(2500)) * time.Millisecond)
		}
		phase := c.phase(holder)
		if o, e := c.holder(); o != holder || e != epoch {
			t.Fatalf("the partition moved from %s (epoch %d) to %s (epoch %d) without a kill; logs:\n%s", holder, epoch, o, e, c.logs())
		}
		n := c.nodes[holder]
		n.cmd.Kill()
		n.wait()
		t.Logf("kill %d: %s at epoch %d, in its %s", kill+1, holder, epoch, phase)
		c.start(holder, "")
	}
	cancel()
	wg.Wait()
	t.Logf("workload committed %d transactions", txs.Load())
	c.finish()
	c.stopAll()
}
