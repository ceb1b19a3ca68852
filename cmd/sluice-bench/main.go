// Command sluice-bench measures sluice's PostgreSQL path against the
// PostgreSQL tools that do the same transport without sluice's work, on a
// dedicated throw-away server, and prints a report. It is a report, not a
// test: a missed target is printed as MISS and does not fail the run.
//
// What it measures, in one run:
//
//  1. Setup: a PostgreSQL started by scripts/postgres.sh with fsync on, a
//     table shaped like seed 001's product with -rows rows of ~180 bytes
//     (generate_series), VACUUM ANALYZE.
//  2. Snapshot: psql "COPY product TO STDOUT" to /dev/null (the baseline:
//     the faster of a run before and a run after sluice) against sluice
//     with snapshot: initial into a file sink, timed from process start
//     until the file holds every row (newlines counted incrementally,
//     polled every 5 ms). MB are COPY text bytes for both.
//  3. Change drain: two pgoutput slots created back to back, then -updates
//     row updates in transactions of -tx-rows; pg_recvlogical drains one
//     slot up to the LSN after the updates, sluice (snapshot: never) drains
//     the other until the file holds one line per update.
//  4. Latency: sluice streams while a loader commits -latency-rate
//     single-row updates a second for -latency-seconds, each setting a
//     unique marker; a tailer follows the output file. Latency is the time
//     the marker's line was read minus the time the commit returned. A
//     second run does the same at -latency-rate-high (10,000/s).
//  5. Sinks (opensearch, pgtable, mariadb; see sinks.go): the snapshot into
//     an OpenSearch index, a PostgreSQL table and a MariaDB table against a
//     plain bulk loader, COPY FROM and LOAD DATA of the same rows.
//  6. kafka (see kafka.go): the snapshot into a Kafka topic against the
//     broker's ProducerPerformance tool at the same message size and acks.
//  7. s3 (see s3.go): the snapshot into S3 as JSON lines and as Parquet
//     against uploading pre-built objects of the same sizes.
//  8. binlog (see binlog.go): -rows row changes in MariaDB drained by
//     sluice's mysql source against mariadb-binlog reading the same binlog
//     range from the server.
//  9. poll (see poll.go): sql_poll in incrementing mode over the product
//     rows in PostgreSQL, MariaDB and SQLite against a plain SELECT through
//     the same driver, and against the same LIMIT pages sql_poll reads.
//  10. debezium (see debezium.go): Debezium 2.7.3's embedded engine beside
//     sluice on the same table, snapshot and drain into a file, rate, rate
//     after the first line, CPU per line and peak RSS of both.
//  11. scale (see scale.go, outage.go): snapshots of -rows/10, -rows (and
//     -rows×10 with -scale-x10) rows, a 100-column table, 10 kB TOASTed
//     rows, one transaction of -rows updates, and the catch-up after a
//     -outage-seconds sink outage. These two run after the phases that read
//     product, whose table their updates would bloat.
//  12. sql (see sql.go): the streaming SQL benchmark of issue 11, bench/sql's
//     four queries over orders, customers and shipments tables (-sql-rows)
//     snapshotted from PostgreSQL into a file, with and without the
//     statements, and the p99 latency they add at -latency-rate inserts a
//     second; scripts/kstreams-bench.sh runs the same topologies in Kafka
//     Streams. With only this phase the product table is not built.
//
// Each timed step starts after a CHECKPOINT, so that WAL written by an
// earlier step does not trigger one in the middle of it; the load average
// at each phase is recorded because other work on the machine is the
// largest source of noise. Peak RSS is each child's VmHWM (see
// child.sampleHWM), and every sluice peak RSS row has a sibling with the
// highest RssAnon sampled (private memory: VmHWM also counts the resident
// pages of the executable, about 50 MB of sluice's); CPU time is the child's user + system time from rusage,
// the figure to compare on a busy machine. With -sluice-cpuprofile every
// sluice run writes a CPU profile and the report ends with the heaviest
// functions of each (profile.go). Every wait has a deadline, every
// child runs in its own process group and is killed at exit, and the server
// and work directory are removed at exit. The report goes to stdout and to
// bench/last.md and bench/last.json; every figure is shown beside the same
// figure of the previous bench/last.json, when there is one, and figures
// taken from repeated runs show the runs' spread. A report written to the
// default directory also rewrites README.md's performance table
// (readme.go).
//
// Run it with `make bench` or `scripts/bench.sh [flags]`; a quick try:
//
//	scripts/bench.sh -rows 100000 -updates 100000 -latency-seconds 5 -outage-seconds 10
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// bench holds what the phases share.
type bench struct {
	ctx         context.Context
	repo        string
	work        string // temporary; holds the server, binaries and outputs
	dsn         string
	conn        *pgx.Conn
	procs       *procs
	sluiceBin   string // empty when sluice does not build
	psql        string
	recvlogical string
	publication string
	rep         *report
	p           params
	latencyConn int
	// latencyHighConns is the loader's connections at -latency-rate-high.
	latencyHighConns int
	// loadRate and loadConns override -latency-rate and -latency-conns in
	// loadWith during a latency run (0: not overridden).
	loadRate, loadConns int
	keep                bool // keep sluice outputs for inspection
	table               tableInfo
	runs                int    // timed runs per side in the source phases
	pollBatch           int    // sql_poll's batch_max_rows in the poll phase
	cpuProfileDir       string // where sluice writes CPU profiles in the source, sink and sql phases; empty: none
	memProfileDir       string // where sluice writes its peak heap profiles (with allocations up to the peak) in the runs that take -sluice-cpuprofile's; empty: none
	// the s3 phase's server, for its runs
	s3Endpoint, s3Key, s3Secret, s3Region string
	s3Formats                             string // -s3-formats: the s3 phase's formats, comma-separated

	scaleX10      bool    // the scale phase also snapshots -rows×10 rows
	outageSeconds float64 // the scale phase's sink outage; 0: none
	engineYAML    string  // -sluice-engine: the engine: block's settings in the pipelines of startSluiceOn and startSluiceSource

	sqlRows           int     // orders (and shipments) in the sql phase
	sqlCases          string  // the sql phase's cases, comma-separated
	sqlLatencySeconds float64 // length of each sql latency run; 0: none

	// countStarted, when a completion count sets it, is when the count
	// that saw every row started: waitCount ends the run there, not when
	// the count returned (see sinkMariaDB). finePoll polls every
	// fineCountPeriod instead of countPeriod.
	countStarted time.Time
	finePoll     bool
}

func main() {
	os.Exit(run())
}

func run() int {
	var b0 bench // flags that go straight into the bench
	var (
		p           params
		dsn         = flag.String("dsn", "", "use this PostgreSQL instead of starting one (its table product is replaced)")
		workdir     = flag.String("workdir", "", "work directory (default: a new temporary directory, removed at exit)")
		sluiceBin   = flag.String("sluice", "", "sluice binary to use (default: go build ./cmd/sluice)")
		outDir      = flag.String("out", "", "report directory (default: <repo>/bench; only then is README.md's performance table rewritten)")
		readmeJSON  = flag.String("readme-from", "", "only rewrite README.md's performance table from this report (e.g. bench/last.json) and exit")
		phases      = flag.String("phases", "snapshot,drain,latency,opensearch,pgtable,mariadb,kafka,s3,binlog,poll,debezium,scale,sql", "phases to run, comma-separated")
		timeout     = flag.Duration("timeout", 90*time.Minute, "deadline for the whole run")
		latencyConn = flag.Int("latency-conns", 8, "connections the latency loader commits from")
		keep        = flag.Bool("keep", false, "keep each sluice run's output, pipeline and log in the work directory")
		runs        = flag.Int("runs", 2, "timed runs of each side in the binlog, poll and s3 phases, alternating; the fastest counts")
		pollBatch   = flag.Int("poll-batch", 10_000, "sql_poll batch_max_rows (rows per query) in the poll phase")
		profiles    = flag.Bool("profiles", false, "profile sluice's runs into the work directory and end the report with each profile's heaviest functions (what make bench does; -sluice-cpuprofile keeps the files)")
		memProfile  = flag.String("sluice-memprofile", "", "directory where sluice writes a heap profile per run of the phases that use profileArgs (snapshot, drain, debezium, latency, outage): sluice's --memprofile, the heap at its peak, with alloc_space and alloc_objects up to then")
		cpuProfile  = flag.String("sluice-cpuprofile", "", "directory where sluice writes a CPU profile per run of the snapshot, drain, debezium, scale, binlog, poll, sink and sql phases (slows it by a few per cent); the report ends with each profile's heaviest functions")
		sqlRows     = flag.Int("sql-rows", 1_000_000, "orders (and, for case c, shipments) in the sql phase")
		sqlCases    = flag.String("sql-cases", "a,b,c,d", "the sql phase's cases (bench/sql), comma-separated")
		sqlLatency  = flag.Float64("sql-latency-seconds", 10, "length of each sql latency run (each case twice: with and without the statements); 0: none")
	)
	flag.BoolVar(&b0.scaleX10, "scale-x10", false, "the scale phase also snapshots a table of -rows×10 rows (10,000,000 at the default -rows: about 7 GB of output)")
	flag.StringVar(&b0.s3Formats, "s3-formats", "json,parquet", "the s3 phase's formats, comma-separated (json, parquet)")
	flag.Float64Var(&b0.outageSeconds, "outage-seconds", 60, "length of the scale phase's sink outage; 0: none")
	flag.IntVar(&p.Rows, "rows", 1_000_000, "rows in the product table")
	flag.IntVar(&p.Updates, "updates", 1_000_000, "row updates for the change drain")
	flag.IntVar(&p.TxRows, "tx-rows", 10_000, "updates per transaction in the change drain")
	flag.Float64Var(&p.LatencySeconds, "latency-seconds", 20, "length of the latency run")
	flag.IntVar(&p.LatencyRate, "latency-rate", 1000, "single-row commits per second in the latency run")
	flag.IntVar(&p.LatencyRateHigh, "latency-rate-high", 10_000, "single-row commits per second in the second latency run (issue 15: p99 ≤ 25 ms at 10,000/s); 0: none")
	latencyHighConns := flag.Int("latency-high-conns", 32, "connections the loader commits from in the second latency run")
	flag.IntVar(&p.BulkDocs, "bulk-docs", 5000, "documents per bulk request for the OpenSearch loader and sink")
	flag.StringVar(&b0.engineYAML, "sluice-engine", "", "settings of the engine: block, as YAML flow mapping, in the pipelines of the snapshot, drain, latency, sink, binlog and poll phases (e.g. \"{max_inflight: 4, max_inflight_bytes: 8388608}\"), to measure the in-flight window")
	flag.Parse()
	if p.Rows < 1 || p.Updates < 1 || p.TxRows < 1 || p.LatencyRate < 1 || p.BulkDocs < 1 || p.LatencySeconds <= 0 || p.LatencyRateHigh < 0 || *latencyHighConns < 1 || *latencyConn < 1 || *pollBatch < 1 || *runs < 1 || *sqlRows < 1 || *sqlLatency < 0 || b0.outageSeconds < 0 || flag.NArg() > 0 {
		flag.Usage()
		return 2
	}

	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-sigCtx.Done()
		stop() // a second signal kills at once; children die by Pdeathsig
	}()
	ctx, cancel := context.WithTimeout(sigCtx, *timeout)
	defer cancel()

	repo, err := findRepo()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice-bench:", err)
		return 1
	}
	if *readmeJSON != "" {
		if err := readmeFrom(filepath.Join(repo, "README.md"), *readmeJSON); err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench:", err)
			return 1
		}
		return 0
	}
	defaultOut := *outDir == ""
	if defaultOut {
		*outDir = filepath.Join(repo, "bench")
	}
	b := &bench{ctx: ctx, repo: repo, procs: newProcs(), publication: "bench_pub", p: p, latencyConn: *latencyConn, latencyHighConns: *latencyHighConns, keep: *keep, pollBatch: *pollBatch, runs: *runs,
		sqlRows: *sqlRows, sqlCases: *sqlCases, sqlLatencySeconds: *sqlLatency, scaleX10: b0.scaleX10, outageSeconds: b0.outageSeconds, engineYAML: b0.engineYAML, s3Formats: b0.s3Formats}
	b.rep = &report{When: time.Now(), Params: p, Command: commandLine(), Sluice: sluiceRevision(repo)}
	b.work = *workdir
	if *cpuProfile != "" {
		if b.cpuProfileDir, err = filepath.Abs(*cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench:", err)
			return 1
		}
	}
	if *memProfile != "" {
		if b.memProfileDir, err = filepath.Abs(*memProfile); err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench:", err)
			return 1
		}
	}
	if b.work == "" {
		if b.work, err = os.MkdirTemp("", "sluice-bench-"); err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench:", err)
			return 1
		}
		defer os.RemoveAll(b.work)
	}
	if *profiles && b.cpuProfileDir == "" {
		b.cpuProfileDir = filepath.Join(b.work, "profiles")
	}
	// Runs first at exit: children, then the connection, then the server.
	defer func() {
		b.procs.killAll()
		if b.conn != nil {
			b.conn.Close(context.Background())
		}
		if *dsn == "" {
			stopPostgres(repo, filepath.Join(b.work, "pg"))
		}
	}()
	// The server runs as user postgres when we are root; it must reach its
	// directory inside ours.
	if err := os.Chmod(b.work, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "sluice-bench:", err)
		return 1
	}

	want := map[string]bool{}
	needProduct := false // every phase but sql reads the product table
	for ph := range strings.SplitSeq(*phases, ",") {
		want[strings.TrimSpace(ph)] = true
		needProduct = needProduct || strings.TrimSpace(ph) != "sql"
	}
	b.rep.Load = append(b.rep.Load, "setup "+loadAvg())
	if err := b.setup(*dsn, *sluiceBin, needProduct); err != nil {
		fmt.Fprintln(os.Stderr, "sluice-bench: setup:", err)
		return 1
	}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"snapshot", b.snapshot},
		{"drain", b.drain},
		{"latency", b.latency},
		{"opensearch", b.sinkOpenSearch},
		{"pgtable", b.sinkPGTable},
		{"mariadb", b.sinkMariaDB},
		{"kafka", b.sinkKafka},
		{"s3", b.sinkS3},
		{"binlog", b.binlog},
		{"poll", b.poll},
		// After the phases that read product: their 2-3 million updates
		// would bloat the table the sink and source phases snapshot.
		{"debezium", b.debezium},
		{"scale", b.scale},
		{"sql", b.sqlPhase},
	}
	for _, s := range steps {
		if !want[s.name] {
			continue
		}
		if ctx.Err() != nil {
			b.rep.problem("%s: not run: %v", s.name, ctx.Err())
			continue
		}
		b.rep.Load = append(b.rep.Load, s.name+" "+loadAvg())
		fmt.Fprintf(os.Stderr, "sluice-bench: %s (load %s) …\n", s.name, loadAvg())
		if err := s.fn(); err != nil {
			b.rep.problem("%s: %v", s.name, err)
		}
		b.procs.killAll() // nothing outlives its phase
	}

	b.rep.Load = append(b.rep.Load, "end "+loadAvg())
	if b.cpuProfileDir != "" {
		b.summarizeProfiles(b.cpuProfileDir)
	}
	b.rep.compare(filepath.Join(*outDir, "last.json"))
	var md strings.Builder
	b.rep.markdown(&md)
	fmt.Print(md.String())
	if ctx.Err() != nil {
		// An interrupted run must not replace the last complete report.
		fmt.Fprintf(os.Stderr, "sluice-bench: %v; %s/last.* left as they were\n", context.Cause(ctx), *outDir)
		return 1
	}
	if err := b.rep.write(*outDir); err != nil {
		fmt.Fprintln(os.Stderr, "sluice-bench: writing report:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "sluice-bench: report written to %s/last.md and last.json\n", *outDir)
	if defaultOut {
		if err := updateReadme(filepath.Join(repo, "README.md"), b.rep); err != nil {
			b.rep.problem("README.md: %v", err)
		} else {
			fmt.Fprintln(os.Stderr, "sluice-bench: README.md's performance table rewritten")
		}
	}
	if len(b.rep.Problems) > 0 {
		return 1
	}
	return 0
}

// setup builds sluice, starts PostgreSQL and creates the product table
// when a phase needs it.
func (b *bench) setup(dsn, sluiceBin string, needProduct bool) error {
	var err error
	if b.psql, err = pgTool("psql"); err != nil {
		return err
	}
	if b.recvlogical, err = pgTool("pg_recvlogical"); err != nil {
		return err
	}
	b.sluiceBin = sluiceBin
	if b.sluiceBin == "" {
		fmt.Fprintln(os.Stderr, "sluice-bench: building sluice …")
		if b.sluiceBin, err = buildSluice(b.ctx, b.repo, b.work); err != nil {
			// The baselines are still worth running.
			b.rep.problem("sluice not measured: %v", err)
		}
	}
	b.dsn = dsn
	if b.dsn == "" {
		fmt.Fprintln(os.Stderr, "sluice-bench: starting PostgreSQL (fsync on) …")
		if b.dsn, err = startPostgres(b.ctx, b.repo, filepath.Join(b.work, "pg")); err != nil {
			return err
		}
	}
	if b.conn, err = connect(b.ctx, b.dsn); err != nil {
		return err
	}
	b.rep.Machine = describeMachine(b.ctx, b.conn)
	if !needProduct {
		return nil
	}
	fmt.Fprintf(os.Stderr, "sluice-bench: filling product with %d rows …\n", b.p.Rows)
	t0 := time.Now()
	if b.table, err = setupTable(b.ctx, b.conn, b.p.Rows, b.publication); err != nil {
		return err
	}
	b.rep.Table = b.table
	fmt.Fprintf(os.Stderr, "sluice-bench: product: %d rows, heap %.1f MB, total %.1f MB (filled in %s)\n",
		b.table.Rows, mb(b.table.TableBytes), mb(b.table.TotalBytes), time.Since(t0).Round(time.Millisecond))
	return nil
}

// commandLine is how to repeat this run: the flags given, without the work
// directory that scripts/bench.sh makes up.
func commandLine() string {
	args := []string{"scripts/bench.sh"}
	flag.Visit(func(f *flag.Flag) {
		if f.Name != "workdir" {
			args = append(args, "-"+f.Name, f.Value.String())
		}
	})
	return strings.Join(args, " ")
}
