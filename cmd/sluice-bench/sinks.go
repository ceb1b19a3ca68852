package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The sink phases compare sluice's snapshot of the product table into a
// destination with the destination's own bulk path, on the same machine in
// the same run:
//
//   - opensearch: a plain bulk loader (one connection, the documents rendered
//     in memory before the clock starts, -bulk-docs per request) against
//     sluice's opensearch sink with the same batch size, after a warm-up of
//     up to 50,000 documents into a scratch index. Both are timed from the
//     start until _count reports every document.
//   - pgtable: COPY product TO STDOUT piped into COPY … FROM STDIN of a second
//     database on the same server, against sluice's postgres sink into a
//     table of that database (timed until count(*) reports every row).
//   - mariadb: LOAD DATA LOCAL INFILE of the COPY text (written to a file
//     before the clock starts) against sluice's mysql sink, MariaDB with
//     fsync on.
//
// Target tables are created up front with the same definition for the
// baseline and for sluice.

const (
	pgSinkDB    = "bench_sink"
	sinkSlot    = "bench_sink"
	countPeriod = 100 * time.Millisecond
	// fineCountPeriod is the poll period of a completion check that is a
	// key lookup until the last row is there (sinkMariaDB).
	fineCountPeriod = 10 * time.Millisecond
)

// startService runs one of the project's service scripts under the work
// directory and returns the value its export line gives envVar.
func (b *bench) startService(script string, args []string, envVar string, env ...string) (string, error) {
	vars, err := b.startServiceVars(script, args, env...)
	if err != nil {
		return "", err
	}
	v, ok := vars[envVar]
	if !ok {
		return "", fmt.Errorf("scripts/%s start printed no %s", script, envVar)
	}
	return v, nil
}

// startServiceVars is startService returning every exported variable.
func (b *bench) startServiceVars(script string, args []string, env ...string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(b.repo, "scripts", script), "start"}, args...)...)
	cmd.Env = append(os.Environ(), "SLUICE_TMP="+filepath.Join(b.work, "svc"))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/%s start: %w", script, err)
	}
	return exportedVars(string(out)), nil
}

// exportedVars parses `export A=x B='y'` lines.
func exportedVars(out string) map[string]string {
	vars := map[string]string{}
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "export ")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(rest) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			}
			vars[k] = strings.Trim(v, "'")
		}
	}
	return vars
}

func (b *bench) stopService(script string, args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(b.repo, "scripts", script), "stop"}, args...)...)
	cmd.Env = append(os.Environ(), "SLUICE_TMP="+filepath.Join(b.work, "svc"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "sluice-bench: scripts/%s stop: %v\n", script, err)
	}
}

// waitCount polls count until it reports want, and returns when it did.
func (b *bench) waitCount(what string, want int64, c *child, count func(context.Context) (int64, error)) (time.Time, error) {
	end := time.Now().Add(b.deadline(int(want), 2_000))
	period := countPeriod
	if b.finePoll {
		period = fineCountPeriod
	}
	t := time.NewTicker(period)
	defer t.Stop()
	var n int64
	for {
		cctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		var err error
		b.countStarted = time.Time{}
		n, err = count(cctx)
		cancel()
		if err == nil && n >= want {
			if !b.countStarted.IsZero() {
				return b.countStarted, nil
			}
			return time.Now(), nil
		}
		if c != nil && c.exitedEarly() {
			return time.Time{}, fmt.Errorf("%s %w (status %v) with %d of %d in %s", c.name, errExited, c.err, n, want, what)
		}
		if time.Now().After(end) {
			return time.Time{}, fmt.Errorf("timed out with %d of %d in %s (last error: %v)", n, want, what, err)
		}
		select {
		case <-b.ctx.Done():
			return time.Time{}, b.ctx.Err()
		case <-t.C:
		}
	}
}

// memMB is a run's peak memory in MB: VmHWM, and RssAnon (private memory,
// without the binary's file-backed pages).
type memMB struct{ hwm, anon float64 }

// max is the higher of each figure (runs' peaks).
func (m memMB) max(o memMB) memMB { return memMB{max(m.hwm, o.hwm), max(m.anon, o.anon)} }

// sluiceInto snapshots product into the sink that sinkYAML describes and
// returns sluice's rate, its peak RSS, and the count at the end.
func (b *bench) sluiceInto(name, sinkYAML string, count func(context.Context) (int64, error)) (rate float64, rss memMB, err error) {
	rate, rss, _, err = b.sluiceIntoCPU(name, sinkYAML, count)
	return rate, rss, err
}

// sluiceIntoCPU is sluiceInto that also returns sluice's CPU time (user +
// system, from rusage at its exit), which other load on the shared cores
// hardly changes. With -sluice-cpuprofile, sluice writes a CPU profile
// <dir>/<name>.pprof.
func (b *bench) sluiceIntoCPU(name, sinkYAML string, count func(context.Context) (int64, error)) (rate float64, rss memMB, cpu time.Duration, err error) {
	if err := dropSlot(b.ctx, b.conn, sinkSlot); err != nil {
		return 0, memMB{}, 0, err
	}
	defer dropSlot(context.Background(), b.conn, sinkSlot)
	if err := b.checkpoint(); err != nil {
		return 0, memMB{}, 0, err
	}
	var args []string
	if b.cpuProfileDir != "" {
		if err := os.MkdirAll(b.cpuProfileDir, 0o755); err != nil {
			return 0, memMB{}, 0, err
		}
		args = append(args, "--cpuprofile", filepath.Join(b.cpuProfileDir, name+".pprof"))
	}
	r, err := b.startSluiceInto(name, "initial", sinkSlot, func(*sluiceRun) string { return sinkYAML }, args...)
	if err != nil {
		return 0, memMB{}, 0, err
	}
	defer b.remove(r)
	seen, err := b.waitCount(name, int64(b.p.Rows), r.c, count)
	if err != nil {
		r.c.kill()
		return 0, memMB{}, 0, r.failed(err)
	}
	d := seen.Sub(r.c.started)
	peak, anon := r.c.hwm(), r.c.anonPeak()
	if err := r.stop(); err != nil {
		return 0, memMB{}, 0, err
	}
	cctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if n, err := count(cctx); err != nil || n != int64(b.p.Rows) {
		b.rep.problem("%s holds %d rows after sluice stopped (err %v), want exactly %d", name, n, err, b.p.Rows)
	}
	rate = float64(b.p.Rows) / d.Seconds()
	fmt.Fprintf(os.Stderr, "sluice-bench: sluice %s: %.0f rows/s (%s)\n", name, rate, d.Round(time.Millisecond))
	if peak == 0 {
		peak = r.c.maxRSS()
	}
	return rate, memMB{hwm: mb(peak), anon: mb(anon)}, r.c.cpu(), nil
}

// addSinkCPU prints and reports sluice's CPU time of a table sink's run:
// CPU per row is the figure paired rounds compare, since the shared cores
// make wall-clock rates swing with the load.
func (b *bench) addSinkCPU(sec, key string, cpu time.Duration) {
	fmt.Fprintf(os.Stderr, "sluice-bench: sluice %s: CPU %s (%.2f µs/row)\n", key, cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(b.p.Rows))
	b.rep.add(sec, "sinks."+key+".sluice_cpu_s", "sluice CPU time (user+sys)", cpu.Seconds(), "s")
}

// addSinkFigures reports a sink's rate against its baseline's, with the
// ratio issue 15 asks of that path (target: 1.0 for OpenSearch, 0.5 for
// Parquet, 0.8 for the others).
func (b *bench) addSinkFigures(sec, key, unit string, base, sl float64, rss memMB, baseLabel string, target float64) {
	b.rep.add(sec, "sinks."+key+".baseline_per_s", baseLabel, base, unit)
	b.rep.add(sec, "sinks."+key+".sluice_per_s", "sluice", sl, unit)
	ratio := sl / base
	b.rep.addTarget(sec, "sinks."+key+".ratio", "sluice / "+baseLabel, ratio, "×", fmt.Sprintf("≥ %.2f×", target), ratio >= target)
	b.rep.addTarget(sec, "sinks."+key+".rss_mb", "sluice peak RSS", rss.hwm, "MB", "≤ 100 MB", rss.hwm*1e6 <= memTarget)
	b.addAnon(sec, "sinks."+key+".rss_mb", "sluice peak RssAnon (private memory)", int64(rss.anon*1e6))
}

// --- OpenSearch ---------------------------------------------------------

func (b *bench) sinkOpenSearch() error {
	const sec = "Sink: OpenSearch"
	osURL, err := b.startService("opensearch.sh", nil, "SLUICE_OPENSEARCH_URL")
	if err != nil {
		return err
	}
	defer b.stopService("opensearch.sh")
	hc := &http.Client{Timeout: 5 * time.Minute}
	do := func(ctx context.Context, method, path, body string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, osURL+path, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if strings.HasSuffix(path, "_bulk") {
			req.Header.Set("Content-Type", "application/x-ndjson")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			return out, fmt.Errorf("%s %s: %s: %.300s", method, path, resp.Status, out)
		}
		return out, err
	}
	counter := func(index string) func(context.Context) (int64, error) {
		return func(ctx context.Context) (int64, error) {
			out, err := do(ctx, "GET", "/"+index+"/_count", "")
			if err != nil {
				return 0, err
			}
			var c struct{ Count int64 }
			err = json.Unmarshal(out, &c)
			return c.Count, err
		}
	}
	settings := `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`
	for _, idx := range []string{"bench_bulk", "bench_sluice"} {
		if _, err := do(b.ctx, "PUT", "/"+idx, settings); err != nil {
			return err
		}
	}

	// The baseline's requests, rendered before the clock starts.
	fmt.Fprintln(os.Stderr, "sluice-bench: rendering the bulk loader's documents …")
	bodies, err := b.bulkBodies("bench_bulk", b.p.BulkDocs)
	if err != nil {
		return err
	}
	// Warm the node up (JIT, caches) on a scratch index, so that neither
	// side pays for a cold JVM.
	if _, err := do(b.ctx, "PUT", "/bench_warm", settings); err != nil {
		return err
	}
	for i, body := range bodies[:min(len(bodies), max(1, 50_000/b.p.BulkDocs))] {
		if _, err := do(b.ctx, "POST", "/_bulk", strings.ReplaceAll(body, `"_index":"bench_bulk"`, `"_index":"bench_warm"`)); err != nil {
			return fmt.Errorf("warm-up request %d: %w", i, err)
		}
	}
	if _, err := do(b.ctx, "DELETE", "/bench_warm", ""); err != nil {
		return err
	}
	if err := b.checkpoint(); err != nil {
		return err
	}
	t0 := time.Now()
	for _, body := range bodies {
		out, err := do(b.ctx, "POST", "/_bulk", body)
		if err != nil {
			return fmt.Errorf("bulk loader: %w", err)
		}
		if bytes.Contains(out[:min(len(out), 64)], []byte(`"errors":true`)) {
			return fmt.Errorf("bulk loader: item errors: %.500s", out)
		}
	}
	seen, err := b.waitCount("bench_bulk", int64(b.p.Rows), nil, counter("bench_bulk"))
	if err != nil {
		return err
	}
	base := float64(b.p.Rows) / seen.Sub(t0).Seconds()
	fmt.Fprintf(os.Stderr, "sluice-bench: bulk loader: %.0f docs/s (%s)\n", base, seen.Sub(t0).Round(time.Millisecond))
	bodies = nil
	if _, err := do(b.ctx, "DELETE", "/bench_bulk", ""); err != nil {
		return err
	}
	if b.sluiceBin == "" {
		b.rep.add(sec, "sinks.opensearch.baseline_per_s", "bulk loader", base, "docs/s")
		return nil
	}
	sink := fmt.Sprintf(`  search:
    type: opensearch
    inputs: [src]
    hosts: [%s]
    index: bench_sluice
    batch: {max_events: %d}
`, strconv.Quote(osURL), b.p.BulkDocs)
	rate, rss, cpu, err := b.sluiceIntoCPU("opensearch", sink, counter("bench_sluice"))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sluice-bench: sluice opensearch: CPU %v, %.2f µs/row\n", cpu, float64(cpu.Nanoseconds())/1e3/float64(b.p.Rows))
	b.rep.add(sec, "sinks.opensearch.cpu_us_per_row", "sluice CPU time (user+sys) per row", float64(cpu.Nanoseconds())/1e3/float64(b.p.Rows), "µs")
	b.addSinkFigures(sec, "opensearch", "docs/s", base, rate, rss, fmt.Sprintf("bulk loader docs/s (%d docs per request)", b.p.BulkDocs), 1.0)
	return nil
}

// bulkBodies renders the product rows as _bulk request bodies of perReq
// index actions each, as a plain loader would.
func (b *bench) bulkBodies(index string, perReq int) ([]string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Minute)
	defer cancel()
	rows, err := b.conn.Query(ctx, `SELECT id, name, price, color, category, quantity, description, "internalId" FROM product ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type doc struct {
		ID          int32    `json:"id"`
		Name        *string  `json:"name"`
		Price       *float64 `json:"price"`
		Color       *string  `json:"color"`
		Category    *string  `json:"category"`
		Quantity    *int32   `json:"quantity"`
		Description *string  `json:"description"`
		InternalID  *string  `json:"internalId"`
	}
	var bodies []string
	var buf bytes.Buffer
	n := 0
	for rows.Next() {
		var d doc
		if err := rows.Scan(&d.ID, &d.Name, &d.Price, &d.Color, &d.Category, &d.Quantity, &d.Description, &d.InternalID); err != nil {
			return nil, err
		}
		fmt.Fprintf(&buf, `{"index":{"_index":%q,"_id":"%d"}}`+"\n", index, d.ID)
		js, err := json.Marshal(&d)
		if err != nil {
			return nil, err
		}
		buf.Write(js)
		buf.WriteByte('\n')
		if n++; n == perReq {
			bodies = append(bodies, buf.String())
			buf.Reset()
			n = 0
		}
	}
	if n > 0 {
		bodies = append(bodies, buf.String())
	}
	return bodies, rows.Err()
}

// --- PostgreSQL table ---------------------------------------------------

func (b *bench) sinkPGTable() error {
	const sec = "Sink: PostgreSQL table"
	if err := execAll(b.ctx, b.conn, time.Minute, "DROP DATABASE IF EXISTS "+pgSinkDB+" WITH (FORCE)", "CREATE DATABASE "+pgSinkDB); err != nil {
		return err
	}
	defer execAll(context.Background(), b.conn, time.Minute, "DROP DATABASE IF EXISTS "+pgSinkDB+" WITH (FORCE)")
	u, err := url.Parse(b.dsn)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("the pgtable phase needs a URL-style DSN (postgres://…): %q", b.dsn)
	}
	u.Path = "/" + pgSinkDB
	target := u.String()
	tconn, err := connect(b.ctx, target)
	if err != nil {
		return err
	}
	defer tconn.Close(context.Background())
	ddl := strings.Replace(createTableSQL, "id serial PRIMARY KEY", "id int PRIMARY KEY", 1)
	if err := execAll(b.ctx, tconn, time.Minute, ddl, strings.ReplaceAll(ddl, "product", "product_copy")); err != nil {
		return err
	}
	if err := b.checkpoint(); err != nil {
		return err
	}
	src, err := connect(b.ctx, b.dsn)
	if err != nil {
		return err
	}
	defer src.Close(context.Background())
	ctx, cancel := context.WithTimeout(b.ctx, b.deadline(b.p.Rows, 5_000))
	defer cancel()
	t0 := time.Now()
	pr, pw := io.Pipe()
	copyErr := make(chan error, 1)
	go func() {
		_, err := src.PgConn().CopyTo(ctx, pw, "COPY product TO STDOUT")
		pw.CloseWithError(err)
		copyErr <- err
	}()
	tag, err := tconn.PgConn().CopyFrom(ctx, pr, "COPY product_copy FROM STDIN")
	pr.CloseWithError(errors.New("COPY FROM ended"))
	if err != nil {
		return fmt.Errorf("COPY FROM: %w", err)
	}
	if err := <-copyErr; err != nil {
		return fmt.Errorf("COPY TO: %w", err)
	}
	d := time.Since(t0)
	if tag.RowsAffected() != int64(b.p.Rows) {
		return fmt.Errorf("COPY FROM copied %d rows, want %d", tag.RowsAffected(), b.p.Rows)
	}
	base := float64(b.p.Rows) / d.Seconds()
	fmt.Fprintf(os.Stderr, "sluice-bench: COPY → COPY FROM: %.0f rows/s (%s)\n", base, d.Round(time.Millisecond))
	if err := execAll(b.ctx, tconn, time.Minute, "DROP TABLE product_copy"); err != nil {
		return err
	}
	if b.sluiceBin == "" {
		b.rep.add(sec, "sinks.pgtable.baseline_per_s", "COPY FROM", base, "rows/s")
		return nil
	}
	sink := fmt.Sprintf(`  table:
    type: postgres
    inputs: [src]
    dsn: %s
    table: product
`, strconv.Quote(target))
	// The completion check as the mariadb phase's (see there): a key
	// lookup of the highest id every 10 ms, then one count(*), sluice's
	// time ending when that count started; a count(*) every 100 ms added
	// up to 100 ms plus a scan of the growing table to sluice's time,
	// which the COPY baseline never paid.
	var maxID int64
	if err := b.conn.QueryRow(ctx, "SELECT max(id) FROM product").Scan(&maxID); err != nil {
		return err
	}
	b.finePoll = true
	defer func() { b.finePoll = false }()
	rate, rss, cpu, err := b.sluiceIntoCPU("pgtable", sink, func(ctx context.Context) (int64, error) {
		var n int64
		if err := tconn.QueryRow(ctx, "SELECT count(*) FROM product WHERE id = $1", maxID).Scan(&n); err != nil || n == 0 {
			return 0, err
		}
		started := time.Now()
		err := tconn.QueryRow(ctx, "SELECT count(*) FROM product").Scan(&n)
		if err == nil {
			b.countStarted = started
		}
		return n, err
	})
	if err != nil {
		return err
	}
	b.addSinkCPU(sec, "pgtable", cpu)
	b.addSinkFigures(sec, "pgtable", "rows/s", base, rate, rss, "COPY TO → COPY FROM rows/s", 0.8)
	return nil
}

// --- MariaDB table ------------------------------------------------------

const mariaProductDDL = "CREATE TABLE %s (id int PRIMARY KEY, name varchar(500), price double DEFAULT 0, color varchar(50), category varchar(50), quantity int DEFAULT 0, description varchar(1000), `internalId` varchar(50))"

func (b *bench) sinkMariaDB() error {
	const sec = "Sink: MariaDB table"
	dsn, err := b.startService("mariadb.sh", nil, "SLUICE_MYSQL_DSN", "SLUICE_MARIADB_FSYNC=on")
	if err != nil {
		return err
	}
	defer b.stopService("mariadb.sh")
	// The baseline's input, written before the clock starts.
	tsv := filepath.Join(b.work, "product.tsv")
	f, err := os.Create(tsv)
	if err != nil {
		return err
	}
	_, err = b.copyOut(f, "psql COPY (to a file)")
	f.Close()
	if err != nil {
		return err
	}
	defer os.Remove(tsv)
	mysql.RegisterLocalFile(tsv)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(b.ctx, b.deadline(b.p.Rows, 5_000))
	defer cancel()
	for _, q := range []string{fmt.Sprintf(mariaProductDDL, "product"), fmt.Sprintf(mariaProductDDL, "product_load")} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	t0 := time.Now()
	res, err := db.ExecContext(ctx, fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE product_load", tsv))
	if err != nil {
		return fmt.Errorf("LOAD DATA: %w", err)
	}
	d := time.Since(t0)
	if n, _ := res.RowsAffected(); n != int64(b.p.Rows) {
		return fmt.Errorf("LOAD DATA loaded %d rows, want %d", n, b.p.Rows)
	}
	base := float64(b.p.Rows) / d.Seconds()
	fmt.Fprintf(os.Stderr, "sluice-bench: LOAD DATA: %.0f rows/s (%s)\n", base, d.Round(time.Millisecond))
	if _, err := db.ExecContext(ctx, "DROP TABLE product_load"); err != nil {
		return err
	}
	if b.sluiceBin == "" {
		b.rep.add(sec, "sinks.mariadb.baseline_per_s", "LOAD DATA", base, "rows/s")
		return nil
	}
	sink := fmt.Sprintf(`  table:
    type: mysql
    inputs: [src]
    dsn: %s
    table: product
`, strconv.Quote(dsn))
	// count(*) of the growing table scans it in the server sluice is
	// writing to (about 90 ms at 200,000 rows on a busy machine, every
	// 100 ms; the baseline pays nothing of the kind): until the row of the
	// highest key is there, look that row up by key (every 10 ms: a
	// lookup costs the server nothing to speak of, and a 100 ms poll
	// added 50 ms to sluice's time on average), and count only then.
	// sluice's time ends when the count that saw every row started (its
	// read view held them all), not when the scan returned: the scan is
	// the benchmark's cost, not sluice's (the LOAD DATA baseline pays
	// none).
	var maxID int64
	if err := b.conn.QueryRow(ctx, "SELECT max(id) FROM product").Scan(&maxID); err != nil {
		return err
	}
	b.finePoll = true
	defer func() { b.finePoll = false }()
	rate, rss, cpu, err := b.sluiceIntoCPU("mariadb", sink, func(ctx context.Context) (int64, error) {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM product WHERE id = ?", maxID).Scan(&n); err != nil || n == 0 {
			return 0, err
		}
		started := time.Now()
		err := db.QueryRowContext(ctx, "SELECT count(*) FROM product").Scan(&n)
		if err == nil {
			b.countStarted = started
		}
		return n, err
	})
	if err != nil {
		return err
	}
	b.addSinkCPU(sec, "mariadb", cpu)
	b.addSinkFigures(sec, "mariadb", "rows/s", base, rate, rss, "LOAD DATA LOCAL INFILE rows/s", 0.8)
	return nil
}
