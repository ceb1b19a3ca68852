package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The debezium phase runs real Debezium 2.7.3.Final beside sluice on the
// same server and table: the embedded engine (debezium-embedded and
// debezium-connector-postgres from Maven Central, fetched and compiled once
// by scripts/debezium.sh into its cache) driving scripts/debezium/Capture.java,
// which writes each record's value through Kafka Connect's JsonConverter
// (schemas.enable=false, the shape of sluice's `debezium` file format) one
// per line and fsyncs the file after each batch before marking it
// processed, as sluice's file sink does.
//
//  1. Snapshot: sluice (snapshot: initial, file sink) and Debezium
//     (snapshot.mode=initial, its own slot) alternate -runs times on the
//     product table; each is timed from process start until its file holds
//     every row, so the JVM's start counts in Debezium's time as sluice's
//     start counts in sluice's. The rate after each side's first line is
//     reported too (the steady rate, start-up excluded).
//  2. Drain: two slots created back to back, -updates row updates in
//     transactions of -tx-rows, then sluice (snapshot: never) and Debezium
//     (snapshot.mode=never on its existing slot) each drain their slot once,
//     timed the same way.
//
// The JVM runs with its default flags (heap sized from the machine's
// memory, G1, tiered compilation), as a user would start it; its peak RSS
// is the java process's VmHWM. Debezium's default batch sizes apply
// (max.batch.size 2048, snapshot.fetch.size 10240).

const (
	dbzSnapSlot   = "bench_dbz_snap"
	dbzDrainSlot  = "bench_dbz_drain"
	dbzSluiceSlot = "bench_dbz_sluice"
)

// Issue 15's targets for sluice against Debezium.
const (
	dbzSnapshotTarget = 6.0
	dbzDrainTarget    = 4.0
	dbzMemoryTarget   = 0.10 // sluice's peak RSS / Debezium's
)

// lineRun is one timed run of either side into a JSON-lines file.
type lineRun struct {
	total time.Duration // process start → file holds every line
	first time.Duration // process start → first line
	cpu   time.Duration // user + system of the process, from rusage
	rss   int64         // peak VmHWM, bytes
	anon  int64         // peak RssAnon (private memory), bytes
	bytes int64         // size of the output file
}

// rate is lines per second over the whole run, start-up included.
func (r lineRun) rate(n int) float64 { return float64(n) / r.total.Seconds() }

// steady is the rate after the first line: (n-1) lines over the time from
// the first line to the last.
func (r lineRun) steady(n int) float64 {
	d := r.total - r.first
	if n < 2 || d <= 0 {
		return r.rate(n)
	}
	return float64(n-1) / d.Seconds()
}

// debeziumRuntime runs scripts/debezium.sh start (fetch and compile once,
// cached) and returns the directory holding lib/ and classes/.
func (b *bench) debeziumRuntime() (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(b.repo, "scripts/debezium.sh"), "start")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/debezium.sh start: %w", err)
	}
	return parseDebeziumEnv(string(out))
}

// parseDebeziumEnv finds the directory in scripts/debezium.sh's export
// line (printf %q quoting; the cache path has no characters that need it
// in practice, so a quoted value is refused rather than misread).
func parseDebeziumEnv(out string) (string, error) {
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "export SLUICE_DEBEZIUM="); ok {
			if v == "" || strings.ContainsAny(v, `'"\$`) {
				return "", fmt.Errorf("scripts/debezium.sh printed a SLUICE_DEBEZIUM this benchmark cannot use: %q", v)
			}
			return v, nil
		}
	}
	return "", fmt.Errorf("scripts/debezium.sh start printed no SLUICE_DEBEZIUM line: %q", out)
}

// debeziumProps is Capture's properties file for the product table on the
// server at dsn: snapshot mode, slot, output directory.
func debeziumProps(dsn, publication, snapshotMode, slot, out string) (string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", fmt.Errorf("debezium: parse the DSN: %w", err)
	}
	host := cfg.Host
	if strings.HasPrefix(host, "/") {
		host = "localhost" // Debezium's JDBC driver speaks TCP only
	}
	return fmt.Sprintf(`name=sluice-bench
connector.class=io.debezium.connector.postgresql.PostgresConnector
offset.storage=org.apache.kafka.connect.storage.MemoryOffsetBackingStore
offset.flush.interval.ms=0
database.hostname=%s
database.port=%d
database.user=%s
database.password=%s
database.dbname=%s
topic.prefix=bench
plugin.name=pgoutput
slot.name=%s
publication.name=%s
publication.autocreate.mode=disabled
table.include.list=public.product
snapshot.mode=%s
capture.out=%s
capture.formats=debezium
capture.value.only=true
capture.fsync=true
`, host, cfg.Port, cfg.User, cfg.Password, cfg.Database, slot, publication, snapshotMode, out), nil
}

// runDebezium runs Capture once until its file holds n lines, then stops it.
func (b *bench) runDebezium(rt, name, snapshotMode, slot string, n int) (lineRun, error) {
	dir := filepath.Join(b.work, name)
	if err := os.RemoveAll(dir); err != nil {
		return lineRun{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return lineRun{}, err
	}
	if !b.keep {
		defer os.RemoveAll(dir)
	}
	props, err := debeziumProps(b.dsn, b.publication, snapshotMode, slot, filepath.Join(dir, "out"))
	if err != nil {
		return lineRun{}, err
	}
	propsPath := filepath.Join(dir, "capture.properties")
	if err := os.WriteFile(propsPath, []byte(props), 0o600); err != nil {
		return lineRun{}, err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return lineRun{}, fmt.Errorf("java not found (scripts/debezium.sh start installs a JDK as root): %w", err)
	}
	logPath := filepath.Join(dir, "debezium.log")
	c, err := b.procs.start(java, nil, logPath, nil,
		"-cp", filepath.Join(rt, "lib", "*")+string(os.PathListSeparator)+filepath.Join(rt, "classes"), "Capture", propsPath)
	if err != nil {
		return lineRun{}, err
	}
	c.name = "Debezium (" + name + ")"
	out := filepath.Join(dir, "out", "debezium.tsv")
	run, err := b.timeLines(c, out, n)
	if err != nil {
		c.kill()
		return lineRun{}, fmt.Errorf("%w; Debezium log tail:\n%s", err, tailFile(logPath, 3000))
	}
	// Debezium has written and fsynced every line; a clean stop is not
	// part of the measure, so a stop that hangs is only killed.
	_ = c.stop(30 * time.Second)
	run.cpu, run.rss, run.anon = c.cpu(), c.maxRSS(), c.anonPeak()
	if lines, err := countLines(out); err != nil || lines != int64(n) {
		b.rep.problem("%s holds %d lines after Debezium stopped (err %v), want exactly %d", out, lines, err, n)
	}
	return run, nil
}

// runSluiceLines runs sluice on the product table into a file until it
// holds n lines, then stops it.
func (b *bench) runSluiceLines(name, snapshot, slot string, n int) (lineRun, error) {
	return b.runSluiceOn("public.product", b.publication, name, snapshot, slot, n)
}

// runSluiceOn is runSluiceLines on another table and its publication.
func (b *bench) runSluiceOn(table, publication, name, snapshot, slot string, n int) (lineRun, error) {
	args, err := b.profileArgs(name)
	if err != nil {
		return lineRun{}, err
	}
	r, err := b.startSluiceOn(table, publication, name, snapshot, slot, fileSink, args...)
	if err != nil {
		return lineRun{}, err
	}
	defer b.remove(r)
	run, err := b.timeLines(r.c, r.out, n)
	if err != nil {
		r.c.kill()
		return lineRun{}, r.failed(err)
	}
	if err := r.stop(); err != nil {
		return lineRun{}, err
	}
	run.cpu, run.rss, run.anon = r.c.cpu(), r.c.maxRSS(), r.c.anonPeak()
	b.checkLines(r.out, int64(n))
	return run, nil
}

// timeLines waits until path holds its first line and then n lines, and
// measures both from c's start.
func (b *bench) timeLines(c *child, path string, n int) (lineRun, error) {
	first, err := waitLines(b.ctx, path, 1, pollPeriod, b.deadline(n, 1_000), c)
	if err != nil {
		return lineRun{}, err
	}
	last, err := waitLines(b.ctx, path, int64(n), pollPeriod, b.deadline(n, 1_000), c)
	if err != nil {
		return lineRun{}, err
	}
	run := lineRun{first: first.Sub(c.started), total: last.Sub(c.started)}
	if st, err := os.Stat(path); err == nil {
		run.bytes = st.Size()
	}
	return run, nil
}

// fileSink is the sinks: block of a file sink in Debezium's envelope.
func fileSink(r *sluiceRun) string {
	return fmt.Sprintf(`  out:
    type: file
    inputs: [src]
    path: %q
    format: debezium
`, r.out)
}

// debezium runs the debezium phase (see the comment at the top).
func (b *bench) debezium() error {
	if b.sluiceBin == "" {
		return fmt.Errorf("needs sluice")
	}
	fmt.Fprintln(os.Stderr, "sluice-bench: Debezium runtime (scripts/debezium.sh start) …")
	rt, err := b.debeziumRuntime()
	if err != nil {
		return err
	}
	slots := []string{dbzSnapSlot, dbzDrainSlot, dbzSluiceSlot}
	for _, s := range slots {
		if err := dropSlot(b.ctx, b.conn, s); err != nil {
			return err
		}
	}
	defer func() {
		for _, s := range slots {
			if err := dropSlot(context.Background(), b.conn, s); err != nil {
				b.rep.problem("drop slot %s: %v", s, err)
			}
		}
	}()

	// Snapshot, alternating.
	var sl, dz []lineRun
	for i := range b.runs {
		for _, side := range []string{"sluice", "debezium"} {
			for _, s := range []string{dbzSnapSlot, dbzSluiceSlot} {
				if err := dropSlot(b.ctx, b.conn, s); err != nil {
					return err
				}
			}
			if err := b.checkpoint(); err != nil {
				return err
			}
			name := fmt.Sprintf("dbz-snapshot-%s-%d", side, i)
			var run lineRun
			if side == "sluice" {
				run, err = b.runSluiceLines(name, "initial", dbzSluiceSlot, b.p.Rows)
			} else {
				run, err = b.runDebezium(rt, name, "initial", dbzSnapSlot, b.p.Rows)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "sluice-bench: %s snapshot: %.0f rows/s (%s, first line at %s), CPU %s, RSS %.0f MB\n",
				side, run.rate(b.p.Rows), run.total.Round(time.Millisecond), run.first.Round(time.Millisecond), run.cpu.Round(time.Millisecond), mb(run.rss))
			if side == "sluice" {
				sl = append(sl, run)
			} else {
				dz = append(dz, run)
			}
		}
	}
	b.addVersus("Debezium 2.7.3: snapshot", "debezium.snapshot", "rows/s", b.p.Rows, sl, dz, dbzSnapshotTarget)

	// Drain: two slots at the same point, the updates, one drain each.
	for _, s := range []string{dbzDrainSlot, dbzSluiceSlot} {
		if err := dropSlot(b.ctx, b.conn, s); err != nil {
			return err
		}
		if _, err := queryString(b.ctx, b.conn, `SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, s); err != nil {
			return fmt.Errorf("create slot %s: %w", s, err)
		}
	}
	fmt.Fprintf(os.Stderr, "sluice-bench: %d updates in transactions of %d …\n", b.p.Updates, b.p.TxRows)
	if _, err := b.runUpdates(); err != nil {
		return err
	}
	if err := b.checkpoint(); err != nil {
		return err
	}
	srun, err := b.runSluiceLines("dbz-drain-sluice", "never", dbzSluiceSlot, b.p.Updates)
	if err != nil {
		return err
	}
	if err := b.checkpoint(); err != nil {
		return err
	}
	drun, err := b.runDebezium(rt, "dbz-drain-debezium", "never", dbzDrainSlot, b.p.Updates)
	if err != nil {
		return err
	}
	b.addVersus("Debezium 2.7.3: drain", "debezium.drain", "changes/s", b.p.Updates, []lineRun{srun}, []lineRun{drun}, dbzDrainTarget)
	return nil
}

// addVersus reports sluice's runs against Debezium's: the best run of each
// (with the spread of all), the steady rates, CPU per line, peak RSS and
// the ratios with issue 15's targets.
func (b *bench) addVersus(sec, key, unit string, n int, sl, dz []lineRun, target float64) {
	best := func(runs []lineRun) lineRun {
		return slices.MinFunc(runs, func(a, b lineRun) int { return cmp.Compare(a.total, b.total) })
	}
	rates := func(runs []lineRun, f func(lineRun) float64) []float64 {
		var v []float64
		for _, r := range runs {
			v = append(v, f(r))
		}
		return v
	}
	bs, bd := best(sl), best(dz)
	peak := func(runs []lineRun) int64 {
		return slices.MaxFunc(runs, func(a, b lineRun) int { return cmp.Compare(a.rss, b.rss) }).rss
	}
	cpuPer := func(r lineRun) float64 { return float64(r.cpu.Microseconds()) / float64(n) }
	for _, side := range []struct {
		name, k string
		runs    []lineRun
		best    lineRun
	}{{"sluice", "sluice", sl, bs}, {"Debezium", "dbz", dz, bd}} {
		b.rep.addRuns(sec, key+"."+side.k+".per_s", side.name+" "+unit+" (process start → last line; best run)",
			rates(side.runs, func(r lineRun) float64 { return r.rate(n) }), side.best.rate(n), unit)
		b.rep.addRuns(sec, key+"."+side.k+".steady_per_s", side.name+" "+unit+" after the first line",
			rates(side.runs, func(r lineRun) float64 { return r.steady(n) }), side.best.steady(n), unit)
		b.rep.addRuns(sec, key+"."+side.k+".first_s", side.name+" process start → first line",
			rates(side.runs, func(r lineRun) float64 { return r.first.Seconds() }), side.best.first.Seconds(), "s")
		b.rep.addRuns(sec, key+"."+side.k+".cpu_us_per_row", side.name+" CPU (user+sys) per line",
			rates(side.runs, cpuPer), cpuPer(side.best), "µs")
		b.rep.add(sec, key+"."+side.k+".bytes_per_line", side.name+" output bytes per line", float64(side.best.bytes)/float64(n), "B")
		b.rep.add(sec, key+"."+side.k+".rss_mb", side.name+" peak RSS (highest run)", mb(peak(side.runs)), "MB")
		anon := slices.MaxFunc(side.runs, func(a, b lineRun) int { return cmp.Compare(a.anon, b.anon) }).anon
		b.addAnon(sec, key+"."+side.k+".rss_mb", side.name+" peak RssAnon (private memory, highest run)", anon)
	}
	ratio := bs.rate(n) / bd.rate(n)
	b.rep.addTarget(sec, key+".ratio", "sluice / Debezium, start to last line", ratio, "×", fmt.Sprintf("≥ %.0f×", target), ratio >= target)
	b.rep.add(sec, key+".steady_ratio", "sluice / Debezium after the first line", bs.steady(n)/bd.steady(n), "×")
	b.rep.add(sec, key+".cpu_ratio", "Debezium CPU / sluice CPU", float64(bd.cpu)/float64(max(bs.cpu, 1)), "×")
	mem := float64(peak(sl)) / float64(max(peak(dz), 1))
	b.rep.addTarget(sec, key+".rss_ratio", "sluice peak RSS / Debezium's", mem, "×", fmt.Sprintf("≤ %.2f×", dbzMemoryTarget), mem <= dbzMemoryTarget)
}
