package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// The scale phase shows how sluice's cost grows with the work (issue 15,
// "Also measure and report"). Every part is a snapshot (or drain) into a
// file in Debezium's envelope, timed from process start to the last line,
// with the rate after the first line (start-up excluded), the CPU per row
// (user + system, rusage) and the peak RSS (VmHWM):
//
//  1. -rows/10, -rows and, with -scale-x10, -rows×10 rows of the product
//     shape (100k, 1M, 10M at the default -rows): the steady rates should
//     be within 10 % of each other and the peak RSS flat.
//  2. A 100-column table (-rows/10 rows; ints, short texts, floats,
//     booleans and timestamps in turn), snapshotted, then one transaction
//     updating each of its rows, drained from a slot created before it.
//  3. A table of 10 kB rows (-rows/10 rows) whose payload is stored out of
//     line in TOAST (STORAGE EXTERNAL, so PostgreSQL does not compress it
//     inline).
//  4. One transaction updating all -rows rows of product, drained from a
//     slot created before it (snapshot: never).
//  5. A sink outage (see outage.go): changes pile up while sluice's
//     PostgreSQL table sink cannot reach its server, then sluice catches up;
//     peak RSS over the whole run.

const (
	scaleSlot        = "bench_scale"
	scalePublication = "bench_scale"
	scaleRateSpread  = 0.10 // issue 15: rates within 10 % of each other
	scaleRSSGrowth   = 1.10 // peak RSS of the largest table / the smallest
)

// scaleSizes are the row counts of part 1.
func scaleSizes(rows int, x10 bool) []int {
	sizes := []int{max(rows/10, 1), rows}
	if x10 {
		sizes = append(sizes, rows*10)
	}
	return sizes
}

// wideTableSQL creates and fills a table of id and cols columns cycling
// through five types; $1 is the row count.
func wideTableSQL(cols int) (create, fill string) {
	var c, f strings.Builder
	c.WriteString("DROP TABLE IF EXISTS wide;\nCREATE TABLE wide (id int PRIMARY KEY")
	f.WriteString("INSERT INTO wide SELECT g")
	for i := 1; i <= cols; i++ {
		typ, expr := "", ""
		switch i % 5 {
		case 0:
			typ, expr = "int", fmt.Sprintf("g + %d", i)
		case 1:
			typ, expr = "text", fmt.Sprintf("'v%d-' || (g %% 1000)", i)
		case 2:
			typ, expr = "float8", fmt.Sprintf("g * %d / 7.0", i)
		case 3:
			typ, expr = "boolean", fmt.Sprintf("(g + %d) %% 2 = 0", i)
		case 4:
			typ, expr = "timestamptz", fmt.Sprintf("timestamptz '2024-01-01 00:00:00+00' + (g + %d) * interval '1 second'", i)
		}
		fmt.Fprintf(&c, ", c%d %s", i, typ)
		fmt.Fprintf(&f, ", %s", expr)
	}
	c.WriteString(")")
	f.WriteString(" FROM generate_series(1, $1::int) AS g")
	return c.String(), f.String()
}

// toastTableSQL creates a table of 10,240-byte payloads kept out of line.
const toastTableSQL = `DROP TABLE IF EXISTS toasty;
CREATE TABLE toasty (id int PRIMARY KEY, name text, payload text);
ALTER TABLE toasty ALTER COLUMN payload SET STORAGE EXTERNAL`

const toastFillSQL = `INSERT INTO toasty SELECT g, 'row ' || g, repeat(md5(g::text), 320) FROM generate_series(1, $1::int) AS g`

// scaleTable creates and fills table with n rows (create, then fill with
// $1 = n), publishes it alone in scalePublication, and returns its total
// size in bytes.
func (b *bench) scaleTable(table, create, fill string, n int) (int64, error) {
	fmt.Fprintf(os.Stderr, "sluice-bench: filling %s with %d rows …\n", table, n)
	if err := execAll(b.ctx, b.conn, time.Minute, create); err != nil {
		return 0, err
	}
	fctx, cancel := context.WithTimeout(b.ctx, 10*time.Minute+time.Duration(n)*time.Millisecond)
	_, err := b.conn.Exec(fctx, fill, n)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("fill %s: %w", table, err)
	}
	if err := execAll(b.ctx, b.conn, 10*time.Minute, "VACUUM ANALYZE "+table,
		"DROP PUBLICATION IF EXISTS "+scalePublication,
		"CREATE PUBLICATION "+scalePublication+" FOR TABLE public."+table); err != nil {
		return 0, err
	}
	s, err := queryString(b.ctx, b.conn, `SELECT pg_total_relation_size($1::regclass)::text`, table)
	if err != nil {
		return 0, err
	}
	var size int64
	_, err = fmt.Sscan(s, &size)
	return size, err
}

// snapshotScale snapshots table (n rows) with sluice once.
func (b *bench) snapshotScale(name, table string, n int) (lineRun, error) {
	if err := dropSlot(b.ctx, b.conn, scaleSlot); err != nil {
		return lineRun{}, err
	}
	defer dropSlot(context.Background(), b.conn, scaleSlot)
	if err := b.checkpoint(); err != nil {
		return lineRun{}, err
	}
	run, err := b.runSluiceOn("public."+table, scalePublication, name, "initial", scaleSlot, n)
	if err != nil {
		return lineRun{}, err
	}
	fmt.Fprintf(os.Stderr, "sluice-bench: %s: %.0f rows/s (%.0f after the first line), CPU %.2f µs/row, RSS %.0f MB\n",
		name, run.rate(n), run.steady(n), float64(run.cpu.Microseconds())/float64(n), mb(run.rss))
	return run, nil
}

// addLineRun reports one sluice run of n rows under key.
func (b *bench) addLineRun(sec, key, what string, n int, run lineRun, unit string) {
	b.rep.add(sec, key+".per_s", what+": sluice "+unit+" (start → last line)", run.rate(n), unit)
	b.rep.add(sec, key+".steady_per_s", what+": "+unit+" after the first line", run.steady(n), unit)
	b.rep.add(sec, key+".cpu_us_per_row", what+": CPU (user+sys) per row", float64(run.cpu.Microseconds())/float64(n), "µs")
	b.rep.addTarget(sec, key+".rss_mb", what+": peak RSS", mb(run.rss), "MB", "≤ 100 MB", float64(run.rss) <= memTarget)
	b.addAnon(sec, key+".rss_mb", what+": peak RssAnon (private memory)", run.anon)
}

// scale runs the scale phase (see the comment at the top).
func (b *bench) scale() error {
	if b.sluiceBin == "" {
		return fmt.Errorf("needs sluice")
	}
	defer execAll(context.Background(), b.conn, time.Minute, "DROP PUBLICATION IF EXISTS "+scalePublication,
		"DROP TABLE IF EXISTS scale", "DROP TABLE IF EXISTS wide", "DROP TABLE IF EXISTS toasty")

	// 1. Sizes.
	const sec = "Scaling: snapshot size"
	var steady, rss []float64
	for _, n := range scaleSizes(b.p.Rows, b.scaleX10) {
		create := strings.ReplaceAll(createTableSQL, "product", "scale")
		fill := strings.Replace(fillSQL, "INSERT INTO product", "INSERT INTO scale", 1)
		if _, err := b.scaleTable("scale", create, fill, n); err != nil {
			return err
		}
		run, err := b.snapshotScale(fmt.Sprintf("scale-%d", n), "scale", n)
		if err != nil {
			return err
		}
		b.addLineRun(sec, fmt.Sprintf("scale.rows_%d", n), thousands(int64(n))+" rows", n, run, "rows/s")
		steady = append(steady, run.steady(n))
		rss = append(rss, float64(run.rss))
		if err := execAll(b.ctx, b.conn, time.Minute, "DROP TABLE scale"); err != nil {
			return err
		}
	}
	sp := rateSpread(steady)
	b.rep.addTarget(sec, "scale.steady_spread", "spread of the rates after the first line (highest / lowest − 1)", 100*sp, "%",
		fmt.Sprintf("≤ %.0f %%", 100*scaleRateSpread), sp <= scaleRateSpread)
	growth := rss[len(rss)-1] / rss[0]
	b.rep.addTarget(sec, "scale.rss_growth", "peak RSS of the largest table / the smallest", growth, "×",
		fmt.Sprintf("≤ %.2f×", scaleRSSGrowth), growth <= scaleRSSGrowth)

	// 2. 100 columns.
	n := max(b.p.Rows/10, 1)
	create, fill := wideTableSQL(99)
	size, err := b.scaleTable("wide", create, fill, n)
	if err != nil {
		return err
	}
	run, err := b.snapshotScale("scale-wide", "wide", n)
	if err != nil {
		return err
	}
	const wsec = "Scaling: table shape"
	what := fmt.Sprintf("100 columns, %s rows (%.0f MB)", thousands(int64(n)), mb(size))
	b.addLineRun(wsec, "scale.wide", what, n, run, "rows/s")
	b.rep.add(wsec, "scale.wide.cpu_ns_per_value", "100 columns: CPU per column value", 1000*float64(run.cpu.Microseconds())/float64(n)/100, "ns")
	if err := b.wideDrain(wsec, n); err != nil {
		return err
	}
	if err := execAll(b.ctx, b.conn, time.Minute, "DROP TABLE wide"); err != nil {
		return err
	}

	// 3. 10 kB TOASTed rows.
	if size, err = b.scaleTable("toasty", toastTableSQL, toastFillSQL, n); err != nil {
		return err
	}
	if run, err = b.snapshotScale("scale-toast", "toasty", n); err != nil {
		return err
	}
	what = fmt.Sprintf("10 kB TOASTed rows, %s rows (%.0f MB)", thousands(int64(n)), mb(size))
	b.addLineRun(wsec, "scale.toast", what, n, run, "rows/s")
	b.rep.add(wsec, "scale.toast.mb_per_s", "10 kB TOASTed rows: payload MB/s (start → last line)", mb(int64(n)*10240)/run.total.Seconds(), "MB/s")
	if err := execAll(b.ctx, b.conn, time.Minute, "DROP TABLE toasty"); err != nil {
		return err
	}

	// 4. One transaction of -rows updates.
	if err := b.bigTransaction(); err != nil {
		return err
	}

	// 5. Sink outage.
	if b.outageSeconds > 0 {
		return b.outage()
	}
	return nil
}

// wideDrain drains one transaction that updates every row of the wide
// table (n rows of 100 columns), from a slot created before it.
func (b *bench) wideDrain(sec string, n int) error {
	if err := dropSlot(b.ctx, b.conn, scaleSlot); err != nil {
		return err
	}
	defer dropSlot(context.Background(), b.conn, scaleSlot)
	if _, err := queryString(b.ctx, b.conn, `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, scaleSlot); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.deadline(n, 2_000))
	tag, err := b.conn.Exec(ctx, `UPDATE wide SET c5 = c5 + 1`)
	cancel()
	if err != nil {
		return fmt.Errorf("the wide table's update: %w", err)
	}
	if int(tag.RowsAffected()) != n {
		return fmt.Errorf("the wide table's update changed %d rows, want %d", tag.RowsAffected(), n)
	}
	if err := b.checkpoint(); err != nil {
		return err
	}
	run, err := b.runSluiceOn("public.wide", scalePublication, "scale-wide-drain", "never", scaleSlot, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sluice-bench: scale-wide-drain: %.0f changes/s, RSS %.0f MB\n", run.rate(n), mb(run.rss))
	b.addLineRun(sec, "scale.wide_drain", fmt.Sprintf("100 columns, %s updates in one transaction, drained", thousands(int64(n))), n, run, "changes/s")
	return nil
}

// rateSpread is highest / lowest − 1 (0 for fewer than two rates).
func rateSpread(rates []float64) float64 {
	if len(rates) < 2 {
		return 0
	}
	lo, hi := rates[0], rates[0]
	for _, r := range rates[1:] {
		lo, hi = min(lo, r), max(hi, r)
	}
	if lo <= 0 {
		return 0
	}
	return hi/lo - 1
}

// bigTransaction drains one transaction that updates every product row.
func (b *bench) bigTransaction() error {
	const sec = "Scaling: one large transaction"
	if err := dropSlot(b.ctx, b.conn, scaleSlot); err != nil {
		return err
	}
	defer dropSlot(context.Background(), b.conn, scaleSlot)
	if _, err := queryString(b.ctx, b.conn, `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, scaleSlot); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sluice-bench: one transaction of %d updates …\n", b.p.Rows)
	ctx, cancel := context.WithTimeout(b.ctx, b.deadline(b.p.Rows, 2_000))
	tag, err := b.conn.Exec(ctx, `UPDATE product SET quantity = quantity + 1`)
	cancel()
	if err != nil {
		return fmt.Errorf("the large transaction: %w", err)
	}
	if int(tag.RowsAffected()) != b.p.Rows {
		return fmt.Errorf("the large transaction updated %d rows, want %d", tag.RowsAffected(), b.p.Rows)
	}
	if err := b.checkpoint(); err != nil {
		return err
	}
	run, err := b.runSluiceLines("scale-bigtx", "never", scaleSlot, b.p.Rows)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sluice-bench: one transaction of %d rows: %.0f changes/s, RSS %.0f MB\n", b.p.Rows, run.rate(b.p.Rows), mb(run.rss))
	b.addLineRun(sec, "scale.bigtx", fmt.Sprintf("%s updates in one transaction", thousands(int64(b.p.Rows))), b.p.Rows, run, "changes/s")
	return nil
}
