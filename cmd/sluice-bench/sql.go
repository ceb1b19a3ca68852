package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The sql phase: the streaming SQL benchmark of issue 11 (bench/sql/README.md
// has the queries' input shape, scripts/kstreams-bench.sh runs the same four
// topologies in Kafka Streams for the ratios).
//
// Input: the tables orders, customers and shipments in the benchmark's
// PostgreSQL, filled by generate_series with exactly the values of
// bench/sql/README.md (and so of Bench.java), read by a postgres source
// named "bench" (streams bench.public.orders, …) with snapshot: initial and
// snapshot_workers: 1, so the tables are read one after the other in the
// order listed, (b)'s customers before the orders, and (b) sets
// hold_until_snapshot (see sqlCase.hold), so every order finds its
// customer, as Kafka Streams' timestamp synchronisation loads its table
// before the first order.
//
// Throughput: sluice runs the case's bench/sql file (sql_file:) into a file
// sink (format row) on the result stream bench_out, timed from process
// start until the file holds the expected number of results; events/s is
// the measured inputs over that time, counted as Bench.java counts them (n
// orders for a, b and d, n orders + n shipments for c; b's table rows are
// not events but their load is inside the time). The same pipeline without
// the statements, writing the source rows themselves, is timed too: it is
// the ceiling the source and the sink put on the SQL pipeline.
//
// Added latency: with the orders and shipments tables emptied (b keeps its
// 1,000,000 customers, snapshotted before streaming starts), a loader
// commits sqlLatencyRate single-row inserts a second (for c, an order and
// its shipment in one statement) and a tailer reads the output file every
// millisecond; a row's latency is the time its line was read minus the time
// its commit returned. The same load runs through the pipeline without
// the statements; the added p99 is the difference of the two p99s.

const (
	sqlSlot       = "bench_sql"
	sqlTableRows  = 1_000_000 // b's customers, and the customer keys of the orders
	latencyIDBase = 7_700_000_000
)

// sqlCase is one topology of the benchmark.
type sqlCase struct {
	name    string   // a, b, c, d
	file    string   // under bench/sql
	label   string   // for the report
	tables  []string // captured, in snapshot order
	target  float64  // events/s
	twoSide bool     // c: events are orders + shipments
	// hold sets hold_until_snapshot: b's stream side waits until the
	// customers' snapshot is over. The postgres source emits the last
	// chunk of a table only when the next table finishes (it holds it to
	// mark the snapshot's last row), so even with snapshot_workers: 1 the
	// last customers arrive after most orders, which would then find no
	// customer.
	hold bool
}

var sqlCases = []sqlCase{
	{"a", "a_filter_project.sql", "(a) filter + projection", []string{"public.orders"}, 500_000, false, false},
	{"b", "b_stream_table_join.sql", "(b) stream-table LEFT JOIN, 1,000,000-row table", []string{"public.customers", "public.orders"}, 200_000, false, true},
	{"c", "c_stream_stream_join.sql", "(c) stream-stream JOIN WITHIN 1 HOUR", []string{"public.orders", "public.shipments"}, 100_000, true, false},
	{"d", "d_latest_by_key.sql", "(d) GROUP BY + LATEST_BY_OFFSET, 1,000,000 keys", []string{"public.orders"}, 200_000, false, false},
}

const (
	sqlRSSTarget     = 150e6
	sqlAddedP99Limit = 5 * time.Millisecond
)

// sqlSetupSQL creates the three input tables; $1 is n, the orders (and
// shipments), $2 the customers. Values: bench/sql/README.md.
var sqlSetupSQL = []string{
	`DROP TABLE IF EXISTS orders, customers, shipments`,
	`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id text NOT NULL, price double precision NOT NULL, currency text NOT NULL, ts bigint NOT NULL)`,
	`CREATE TABLE customers (id text PRIMARY KEY, name text NOT NULL, age int NOT NULL)`,
	`CREATE TABLE shipments (id text PRIMARY KEY, order_id bigint NOT NULL, origin text NOT NULL, ts bigint NOT NULL)`,
}

const (
	fillOrders = `INSERT INTO orders
SELECT i, 'c' || ((i * 7919 + 13) % $2), ((i * 2654435761) % 10000)::float8 / 100,
       CASE WHEN i % 3 = 0 THEN 'USD' ELSE 'EUR' END, 1700000000000 + 10 * i
FROM generate_series(0::bigint, $1::bigint - 1) AS i`
	fillCustomers = `INSERT INTO customers
SELECT 'c' || j, 'name' || j, 10 + j % 90 FROM generate_series(0, $1::int - 1) AS j`
	fillShipments = `INSERT INTO shipments
SELECT 's' || i, i, 'warehouse' || (i % 7), 1700000000000 + 10 * i + 60000
FROM generate_series(0::bigint, $1::bigint - 1) AS i`
)

// sqlPhase runs the sql phase: setup, throughput of every case with and
// without the statements, then the latency runs.
func (b *bench) sqlPhase() error {
	const sec = "Streaming SQL"
	if b.sluiceBin == "" {
		return nil
	}
	n := b.sqlRows
	b.rep.Params.SQLRows = n
	fmt.Fprintf(os.Stderr, "sluice-bench: sql: filling orders, shipments (%d rows) and customers (%d rows) …\n", n, sqlTableRows)
	if err := execAll(b.ctx, b.conn, time.Minute, sqlSetupSQL...); err != nil {
		return err
	}
	for _, f := range []struct {
		q    string
		args []any
	}{{fillOrders, []any{n, sqlTableRows}}, {fillCustomers, []any{sqlTableRows}}, {fillShipments, []any{n}}} {
		fctx, cancel := context.WithTimeout(b.ctx, 10*time.Minute)
		_, err := b.conn.Exec(fctx, f.q, f.args...)
		cancel()
		if err != nil {
			return fmt.Errorf("sql setup: %w", err)
		}
	}
	if err := execAll(b.ctx, b.conn, 10*time.Minute, "VACUUM ANALYZE orders, customers, shipments"); err != nil {
		return err
	}
	var passing int64
	qctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	err := b.conn.QueryRow(qctx, `SELECT count(*) FROM orders WHERE price >= 50`).Scan(&passing)
	cancel()
	if err != nil {
		return err
	}

	want := map[string]bool{}
	for c := range strings.SplitSeq(b.sqlCases, ",") {
		want[strings.TrimSpace(c)] = true
	}
	for _, c := range sqlCases {
		if !want[c.name] || b.ctx.Err() != nil {
			continue
		}
		b.rep.Load = append(b.rep.Load, "sql "+c.name+" "+loadAvg())
		if err := b.sqlThroughput(sec, c, n, passing); err != nil {
			b.rep.problem("sql %s: %v", c.name, err)
		}
	}
	if b.sqlLatencySeconds <= 0 {
		return nil
	}
	if err := execAll(b.ctx, b.conn, time.Minute, "TRUNCATE orders, shipments", "VACUUM ANALYZE orders, shipments"); err != nil {
		return err
	}
	for _, c := range sqlCases {
		if !want[c.name] || b.ctx.Err() != nil {
			continue
		}
		b.rep.Load = append(b.rep.Load, "sql latency "+c.name+" "+loadAvg())
		if err := b.sqlLatency(sec, c); err != nil {
			b.rep.problem("sql latency %s: %v", c.name, err)
		}
	}
	return nil
}

// sqlRun is one timed run: when the first and the last expected line
// appeared, counted from process start, and the process's peak RSS and CPU.
type sqlRun struct {
	first, all time.Duration
	rss        int64 // VmHWM, bytes
	anon       int64 // peak RssAnon (private memory), bytes
	cpu        time.Duration
}

// sqlThroughput times case c with and without its statements, b.runs times
// each, alternating; the fastest run of each side counts, the highest RSS.
func (b *bench) sqlThroughput(sec string, c sqlCase, n int, passing int64) error {
	events := int64(n)
	outputs := int64(n)
	if c.name == "a" {
		outputs = passing
	}
	if c.twoSide {
		events = 2 * int64(n)
	}
	rows := events // the source rows the plain pipeline writes
	if c.name == "b" {
		rows += sqlTableRows
	}
	var withSQL, plain []sqlRun
	for i := range b.runs {
		r, err := b.sqlRunOnce(c, true, outputs, fmt.Sprintf("sql-%s-%d", c.name, i))
		if err != nil {
			return err
		}
		withSQL = append(withSQL, r)
		fmt.Fprintf(os.Stderr, "sluice-bench: sql %s: %.0f events/s (%s, first output %s, RSS %.0f MB)\n",
			c.name, float64(events)/r.all.Seconds(), r.all.Round(time.Millisecond), r.first.Round(time.Millisecond), float64(r.rss)/1e6)
		r, err = b.sqlRunOnce(c, false, rows, fmt.Sprintf("sql-%s-plain-%d", c.name, i))
		if err != nil {
			return err
		}
		plain = append(plain, r)
		fmt.Fprintf(os.Stderr, "sluice-bench: sql %s without statements: %.0f rows/s (%s)\n",
			c.name, float64(rows)/r.all.Seconds(), r.all.Round(time.Millisecond))
	}
	best := func(rs []sqlRun) (bst sqlRun, peak, anon int64) {
		bst = rs[0]
		for _, r := range rs {
			if r.all < bst.all {
				bst = r
			}
			peak, anon = max(peak, r.rss), max(anon, r.anon)
		}
		return bst, peak, anon
	}
	s, sPeak, sAnon := best(withSQL)
	p, pPeak, pAnon := best(plain)
	eps := float64(events) / s.all.Seconds()
	k := "sql." + c.name + "."
	b.rep.addTarget(sec, k+"events_per_s", c.label+": events/s", eps, "events/s", fmt.Sprintf("≥ %s/s", thousands(int64(c.target))), eps >= c.target)
	b.rep.add(sec, k+"seconds", c.label+": start → last result", s.all.Seconds(), "s")
	b.rep.add(sec, k+"first_output_s", c.label+": start → first result", s.first.Seconds(), "s")
	if s.all > s.first {
		b.rep.add(sec, k+"steady_events_per_s", c.label+": events/s after the first result", float64(events)/(s.all-s.first).Seconds(), "events/s")
	}
	b.rep.add(sec, k+"cpu_s", c.label+": sluice CPU time (user+sys)", s.cpu.Seconds(), "s")
	b.rep.addTarget(sec, k+"rss_mb", c.label+": sluice peak RSS", float64(sPeak)/1e6, "MB", "≤ 150 MB", float64(sPeak) <= sqlRSSTarget)
	b.addAnon(sec, k+"rss_mb", c.label+": sluice peak RssAnon (private memory)", sAnon)
	b.rep.add(sec, k+"plain.rows_per_s", c.label+": same source → file without the statements, rows/s", float64(rows)/p.all.Seconds(), "rows/s")
	b.rep.add(sec, k+"plain.events_per_s", c.label+": same source → file without the statements, time as events/s", float64(events)/p.all.Seconds(), "events/s")
	b.rep.add(sec, k+"plain.rss_mb", c.label+": without the statements, peak RSS", float64(pPeak)/1e6, "MB")
	b.addAnon(sec, k+"plain.rss_mb", c.label+": without the statements, peak RssAnon (private memory)", pAnon)
	return nil
}

// sqlRunOnce starts sluice on case c's tables with (withSQL) or without its
// statements and waits until the output holds want lines.
func (b *bench) sqlRunOnce(c sqlCase, withSQL bool, want int64, name string) (sqlRun, error) {
	if err := dropSlot(b.ctx, b.conn, sqlSlot); err != nil {
		return sqlRun{}, err
	}
	defer dropSlot(context.Background(), b.conn, sqlSlot)
	if err := b.checkpoint(); err != nil {
		return sqlRun{}, err
	}
	r, err := b.startSluiceSQL(name, c, withSQL, "initial")
	if err != nil {
		return sqlRun{}, err
	}
	defer b.remove(r)
	first, all, err := waitLinesFirst(b.ctx, r.out, want, pollPeriod, b.deadline(int(want), 2_000), r.c)
	if err != nil {
		r.c.kill()
		return sqlRun{}, r.failed(err)
	}
	peak, anon := r.c.hwm(), r.c.anonPeak()
	if err := r.stop(); err != nil {
		return sqlRun{}, err
	}
	b.checkLines(r.out, want)
	if withSQL {
		b.checkSQLOutput(c, r.out)
	}
	if peak == 0 {
		peak = r.c.maxRSS()
	}
	return sqlRun{first: first.Sub(r.c.started), all: all.Sub(r.c.started), rss: peak, anon: anon, cpu: r.c.cpu()}, nil
}

// checkSQLOutput reports results that are visibly wrong, so that no figure
// is that of a wrong result (Bench.java checks its output likewise): b's
// customer must be found, c's shipment must be the order's, and every
// output must have its columns.
func (b *bench) checkSQLOutput(c sqlCase, path string) {
	need := map[string][]string{
		"a": {`"ID":`, `"CUSTOMER_ID":`, `"PRICE":`, `"CURRENCY":`},
		"b": {`"ORDER_ID":`, `"CUSTOMER_NAME":"name`, `"CUSTOMER_AGE":`},
		"c": {`"ORDER_ID":`, `"SHIPMENT_ID":"s`, `"ORIGIN":"warehouse`},
		"d": {`"CUSTOMER_ID":"c`, `"PRICE":`, `"LAST_ORDER_ID":`},
	}[c.name]
	bad, total := 0, 0
	example := ""
	fl := newFollower(path, func(line []byte, _ time.Time) {
		total++
		for _, s := range need {
			if !bytes.Contains(line, []byte(s)) {
				if bad == 0 {
					example = string(line)
				}
				bad++
				return
			}
		}
		if c.name == "c" && !shipmentMatches(line) {
			if bad == 0 {
				example = string(line)
			}
			bad++
		}
	})
	defer fl.close()
	if err := fl.poll(); err != nil {
		b.rep.problem("sql %s: reading %s: %v", c.name, path, err)
		return
	}
	if bad > 0 {
		b.rep.problem("sql %s: %d of %d results are wrong, e.g. %s", c.name, bad, total, example)
	}
}

// shipmentMatches checks that c's result pairs order i with shipment "s<i>".
func shipmentMatches(line []byte) bool {
	num := func(key string) string {
		i := bytes.Index(line, []byte(key))
		if i < 0 {
			return ""
		}
		j := i + len(key)
		k := j
		for k < len(line) && line[k] >= '0' && line[k] <= '9' {
			k++
		}
		return string(line[j:k])
	}
	o, s := num(`"ORDER_ID":`), num(`"SHIPMENT_ID":"s`)
	return o != "" && o == s
}

// startSluiceSQL starts sluice on a postgres source "bench" capturing c's
// tables; with withSQL the pipeline runs c's statements and the file sink
// takes their result bench_out, else the sink takes the source's rows.
func (b *bench) startSluiceSQL(name string, c sqlCase, withSQL bool, snapshot string) (*sluiceRun, error) {
	dir := filepath.Join(b.work, name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r := &sluiceRun{dir: dir, out: filepath.Join(dir, "out.jsonl"), log: filepath.Join(dir, "sluice.log")}
	tables := make([]string, len(c.tables))
	for i, t := range c.tables {
		tables[i] = strconv.Quote(t)
	}
	input, sqlLine := "bench", ""
	if withSQL {
		// The processor form of sql_file:, for hold_until_snapshot.
		input = "bench_out"
		sqlLine = fmt.Sprintf("processors:\n  sql:\n    type: sql\n    inputs: [bench]\n    file: %s\n    hold_until_snapshot: %t\n",
			strconv.Quote(filepath.Join(b.repo, "bench", "sql", c.file)), c.hold)
	}
	pipeline := fmt.Sprintf(`# written by sluice-bench
state_dir: %s
sources:
  bench:
    type: postgres
    dsn: %s
    tables: [%s]
    snapshot: %s
    snapshot_workers: 1
    slot: %s
%ssinks:
  out:
    type: file
    inputs: [%s]
    path: %s
    format: row
`, strconv.Quote(filepath.Join(dir, "state")), strconv.Quote(b.dsn), strings.Join(tables, ", "), snapshot, sqlSlot, sqlLine, input, strconv.Quote(r.out))
	cfg := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(cfg, []byte(pipeline), 0o644); err != nil {
		return nil, err
	}
	args := []string{"run"}
	if b.cpuProfileDir != "" && withSQL {
		if err := os.MkdirAll(b.cpuProfileDir, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--cpuprofile", filepath.Join(b.cpuProfileDir, name+".pprof"))
	}
	ch, err := b.procs.start(b.sluiceBin, nil, r.log, nil, append(args, cfg)...)
	if err != nil {
		return nil, err
	}
	ch.name = "sluice (" + name + ")"
	r.c = ch
	return r, nil
}

// waitLinesFirst is waitLines that also returns when the first line
// appeared.
func waitLinesFirst(ctx context.Context, path string, n int64, interval, deadline time.Duration, c *child) (first, all time.Time, err error) {
	fl := newFollower(path, nil)
	defer fl.close()
	end := time.Now().Add(deadline)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := fl.poll(); err != nil {
			return first, all, err
		}
		now := time.Now()
		if fl.lines > 0 && first.IsZero() {
			first = now
		}
		if fl.lines >= n {
			return first, now, nil
		}
		if c.exitedEarly() {
			if err := fl.poll(); err == nil && fl.lines >= n {
				return first, time.Now(), nil
			}
			return first, all, fmt.Errorf("%s %w (status %v) with %d of %d lines in %s", c.name, errExited, c.err, fl.lines, n, path)
		}
		if now.After(end) {
			return first, all, fmt.Errorf("timed out after %s with %d of %d lines in %s", deadline, fl.lines, n, path)
		}
		select {
		case <-ctx.Done():
			return first, all, ctx.Err()
		case <-t.C:
		}
	}
}

// sqlLatency measures case c's commit → result latency with and without
// its statements at b.p.LatencyRate inserts a second and reports the
// difference of the p99s.
func (b *bench) sqlLatency(sec string, c sqlCase) error {
	k := "sql." + c.name + ".latency."
	var p99s [2]time.Duration
	for i, withSQL := range []bool{false, true} {
		lat, rss, err := b.sqlLatencyRun(c, withSQL)
		if err != nil {
			return err
		}
		side := "plain"
		label := c.label + ": commit → line, without the statements"
		if withSQL {
			side, label = "sql", c.label+": commit → result line"
		}
		p99s[i] = pct(lat, 0.99)
		b.rep.add(sec, k+side+".p50_ms", label+", p50", ms(pct(lat, 0.5)), "ms")
		b.rep.add(sec, k+side+".p99_ms", label+", p99", ms(p99s[i]), "ms")
		b.rep.add(sec, k+side+".rss_mb", label+", peak RSS", float64(rss.hwm)/1e6, "MB")
		b.addAnon(sec, k+side+".rss_mb", label+", peak RssAnon (private memory)", rss.anon)
		fmt.Fprintf(os.Stderr, "sluice-bench: sql %s latency (%s): p50 %.2f ms, p99 %.2f ms over %d samples\n", c.name, side, ms(pct(lat, 0.5)), ms(p99s[i]), len(lat))
	}
	added := p99s[1] - p99s[0]
	b.rep.addTarget(sec, k+"added_p99_ms", c.label+": added p99 latency", ms(added), "ms", "≤ 5 ms", added <= sqlAddedP99Limit)
	return nil
}

// sqlMem is a latency run's peak memory, bytes: VmHWM and RssAnon.
type sqlMem struct{ hwm, anon int64 }

// sqlLatencyRun runs one latency measurement and returns the sorted
// latencies and the peak RSS. The inserted ids are latencyIDBase + seq, so
// that the tailer finds seq in any line carrying the order id.
func (b *bench) sqlLatencyRun(c sqlCase, withSQL bool) ([]time.Duration, sqlMem, error) {
	total := int(math.Round(b.sqlLatencySeconds * float64(b.p.LatencyRate)))
	m := &markers{committed: make([]time.Time, total+1), sent: make([]time.Time, total+1)}
	m.mu.seen = make([]time.Time, total+1)
	if err := execAll(b.ctx, b.conn, time.Minute, "TRUNCATE orders, shipments"); err != nil {
		return nil, sqlMem{}, err
	}
	if err := dropSlot(b.ctx, b.conn, sqlSlot); err != nil {
		return nil, sqlMem{}, err
	}
	defer dropSlot(context.Background(), b.conn, sqlSlot)
	if err := b.checkpoint(); err != nil {
		return nil, sqlMem{}, err
	}
	name := "sql-lat-" + c.name
	if !withSQL {
		name += "-plain"
	}
	r, err := b.startSluiceSQL(name, c, withSQL, "initial")
	if err != nil {
		return nil, sqlMem{}, err
	}
	defer b.remove(r)
	defer r.c.kill()

	stopTail, tailDone := make(chan struct{}), make(chan error, 1)
	go func() {
		fl := newFollower(r.out, m.onIDLine)
		defer fl.close()
		t := time.NewTicker(tailPeriod)
		defer t.Stop()
		for {
			if err := fl.poll(); err != nil {
				tailDone <- err
				return
			}
			select {
			case <-stopTail:
				tailDone <- fl.poll()
				return
			case <-t.C:
			}
		}
	}()
	defer func() {
		select {
		case <-stopTail:
		default:
			close(stopTail)
			<-tailDone
		}
	}()

	insert := func(ctx context.Context, conn *pgx.Conn, seq int) error {
		id := int64(latencyIDBase + seq)
		cust := "c" + strconv.FormatInt((int64(seq)*7919+13)%sqlTableRows, 10)
		ts := int64(1700000000000) + 10*int64(seq)
		if c.twoSide {
			_, err := conn.Exec(ctx, `WITH o AS (INSERT INTO orders VALUES ($1, $2, 75, 'EUR', $3))
INSERT INTO shipments VALUES ('s' || $1::text, $1, 'warehouse0', $3 + 60000)`, id, cust, ts)
			return err
		}
		_, err := conn.Exec(ctx, `INSERT INTO orders VALUES ($1, $2, 75, 'EUR', $3)`, id, cust, ts)
		return err
	}
	// Warm-up, seq 0: through the whole path (after b's table snapshot).
	wctx, wcancel := context.WithTimeout(b.ctx, 30*time.Second)
	err = insert(wctx, b.conn, 0)
	wcancel()
	if err != nil {
		return nil, sqlMem{}, err
	}
	end := time.Now().Add(5 * time.Minute)
	for m.seenAt(0).IsZero() {
		if time.Now().After(end) || r.c.exitedEarly() || b.ctx.Err() != nil {
			return nil, sqlMem{}, r.failed(fmt.Errorf("the warm-up row did not reach %s within 5 minutes", r.out))
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "sluice-bench: sql %s latency: loading %d inserts at %d/s …\n", c.name, total, b.p.LatencyRate)
	if err := b.loadWith(m, total, insert); err != nil {
		return nil, sqlMem{}, err
	}
	end = time.Now().Add(10 * time.Second)
	for m.unseen() > 0 && time.Now().Before(end) && !r.c.exitedEarly() {
		time.Sleep(10 * time.Millisecond)
	}
	close(stopTail)
	if err := <-tailDone; err != nil {
		return nil, sqlMem{}, err
	}
	peak, anon := r.c.hwm(), r.c.anonPeak()
	if err := r.stop(); err != nil {
		return nil, sqlMem{}, err
	}
	if peak == 0 {
		peak = r.c.maxRSS()
	}
	var lat []time.Duration
	missing := 0
	for seq := 1; seq <= total; seq++ {
		cm, s := m.committed[seq], m.seenAt(seq)
		if cm.IsZero() {
			continue
		}
		if s.IsZero() {
			missing++
			continue
		}
		lat = append(lat, s.Sub(cm))
	}
	if len(lat) == 0 {
		return nil, sqlMem{}, r.failed(fmt.Errorf("no inserted row reached the output file"))
	}
	if missing > 0 {
		b.rep.problem("sql latency %s: %d committed rows never appeared in the output", name, missing)
	}
	slices.Sort(lat)
	return lat, sqlMem{hwm: peak, anon: anon}, nil
}

// onIDLine is the tailer's handler for the sql latency runs: the first
// number of the form latencyIDBase + seq in a line (an order id, in any
// column) marks seq as seen.
func (m *markers) onIDLine(line []byte, seen time.Time) {
	prefix := []byte(":" + strconv.FormatInt(latencyIDBase/100_000, 10)) // ":77000"
	i := bytes.Index(line, prefix)
	if i < 0 {
		return
	}
	j := i + 1
	k := j
	for k < len(line) && line[k] >= '0' && line[k] <= '9' {
		k++
	}
	v, err := strconv.ParseInt(string(line[j:k]), 10, 64)
	seq := int(v - latencyIDBase)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil && seq >= 0 && seq < len(m.mu.seen) && m.mu.seen[seq].IsZero() {
		m.mu.seen[seq] = seen
	}
}
