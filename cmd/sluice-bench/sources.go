package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// What the source phases (binlog.go, poll.go) share: a MariaDB of the
// benchmark's own, the product rows as a tab-separated file that LOAD DATA
// reads, and sluice started on any source block into a file sink.

// startMariaDB starts the benchmark's own MariaDB (fsync on, under the work
// directory) and opens it. stop stops and removes the server.
func (b *bench) startMariaDB() (dsn string, db *sql.DB, stop func(), err error) {
	dsn, err = b.startService("mariadb.sh", nil, "SLUICE_MYSQL_DSN", "SLUICE_MARIADB_FSYNC=on")
	if err != nil {
		return "", nil, nil, err
	}
	db, err = sql.Open("mysql", dsn)
	if err != nil {
		b.stopService("mariadb.sh")
		return "", nil, nil, err
	}
	stop = func() {
		db.Close()
		b.stopService("mariadb.sh")
	}
	return dsn, db, stop, nil
}

// mariaVersion is SELECT VERSION(), for the report's section titles.
func mariaVersion(ctx context.Context, db *sql.DB) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return "version unknown"
	}
	return v
}

// productTSV writes the PostgreSQL product table as COPY text into a file
// (LOAD DATA reads that format: tabs, \N for NULL, backslash escapes) and
// returns its path and a function removing it.
func (b *bench) productTSV() (string, func(), error) {
	path := filepath.Join(b.work, "product.tsv")
	f, err := os.Create(path)
	if err != nil {
		return "", nil, err
	}
	_, err = b.copyOut(f, "psql COPY (to a file)")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", nil, err
	}
	if st, err := os.Stat(path); err == nil && b.rep.Table.CopyBytes == 0 {
		b.table.CopyBytes = st.Size()
		b.rep.Table.CopyBytes = st.Size()
	}
	mysql.RegisterLocalFile(path)
	return path, func() {
		mysql.DeregisterLocalFile(path)
		os.Remove(path)
	}, nil
}

// loadProduct creates table (seed 001's product, as in the MariaDB sink
// phase) and fills it from the TSV file with LOAD DATA. With logBin false
// the load stays out of the binlog (SET sql_log_bin = 0 on its session), so
// that a binlog range read later holds only the changes made on purpose.
func (b *bench) loadProduct(db *sql.DB, table, tsv string, logBin bool) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.deadline(b.p.Rows, 5_000))
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	stmts := []string{}
	if !logBin {
		stmts = append(stmts, "SET SESSION sql_log_bin = 0")
	}
	stmts = append(stmts, "DROP TABLE IF EXISTS "+table, fmt.Sprintf(mariaProductDDL, table))
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	res, err := conn.ExecContext(ctx, fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE %s", tsv, table))
	if err != nil {
		return fmt.Errorf("LOAD DATA into %s: %w", table, err)
	}
	if n, _ := res.RowsAffected(); n != int64(b.p.Rows) {
		return fmt.Errorf("LOAD DATA loaded %d rows into %s, want %d", n, table, b.p.Rows)
	}
	if !logBin {
		// The pooled connection goes back with binlogging on again.
		if _, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin = 1"); err != nil {
			return err
		}
	}
	return nil
}

// startSluiceSource starts sluice on a pipeline in dir whose source "src"
// is the YAML block source (indented by four spaces), into a file sink of
// Debezium envelopes at dir/out.jsonl. Unlike startSluiceInto it keeps dir,
// so a second run resumes from the first one's checkpoint; only the output
// file is removed. With -sluice-cpuprofile, sluice writes a CPU profile.
func (b *bench) startSluiceSource(name, dir, source string) (*sluiceRun, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r := &sluiceRun{dir: dir, out: filepath.Join(dir, "out.jsonl"), log: filepath.Join(dir, "sluice.log")}
	if err := os.Remove(r.out); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	pipeline := fmt.Sprintf(`# written by sluice-bench
state_dir: %s
sources:
  src:
%s
sinks:
  out:
    type: file
    inputs: [src]
    path: %s
    format: debezium
`, strconv.Quote(filepath.Join(dir, "state")), strings.TrimRight(source, "\n"), strconv.Quote(r.out))
	if b.engineYAML != "" {
		pipeline += "engine: " + b.engineYAML + "\n"
	}
	cfg := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(cfg, []byte(pipeline), 0o644); err != nil {
		return nil, err
	}
	args := []string{"run"}
	if b.cpuProfileDir != "" {
		if err := os.MkdirAll(b.cpuProfileDir, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--cpuprofile", filepath.Join(b.cpuProfileDir, name+".pprof"))
	}
	c, err := b.procs.start(b.sluiceBin, nil, r.log, nil, append(args, cfg)...)
	if err != nil {
		return nil, err
	}
	c.name = "sluice (" + name + ")"
	r.c = c
	return r, nil
}

// waitLog polls a log file until it contains s; it fails when the deadline
// passes or c exits first.
func (b *bench) waitLog(path, s string, d time.Duration, c *child) error {
	end := time.Now().Add(d)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if text, err := os.ReadFile(path); err == nil && strings.Contains(string(text), s) {
			return nil
		}
		if c.exitedEarly() {
			return fmt.Errorf("%s %w (status %v) before logging %q", c.name, errExited, c.err, s)
		}
		if time.Now().After(end) {
			return fmt.Errorf("%s did not log %q within %s", c.name, s, d)
		}
		select {
		case <-b.ctx.Done():
			return b.ctx.Err()
		case <-t.C:
		}
	}
}

// peakRSS is a running child's VmHWM, or its rusage peak once it exited.
func peakRSS(c *child) int64 {
	if p := c.hwm(); p > 0 {
		return p
	}
	return c.maxRSS()
}

// sample is one timed run of one side of a comparison.
type sample struct {
	d    time.Duration // from process start until the work was done
	cpu  time.Duration // user+sys of the process
	rss  int64         // peak RSS, bytes (0: not measured)
	anon int64         // peak RssAnon (private memory), bytes (0: not measured)
}

// fastest is the sample with the shortest time; other work on the machine
// only ever slows a run down.
func fastest(ss []sample) sample {
	best := ss[0]
	for _, s := range ss[1:] {
		if s.d < best.d {
			best = s
		}
	}
	return best
}

// peakOf is the highest peak RSS of the samples.
func peakOf(ss []sample) int64 {
	var p int64
	for _, s := range ss {
		p = max(p, s.rss)
	}
	return p
}

// anonPeakOf is the highest peak RssAnon of the samples.
func anonPeakOf(ss []sample) int64 {
	var p int64
	for _, s := range ss {
		p = max(p, s.anon)
	}
	return p
}

// sluiceUntil waits until sluice's output holds n lines, reads its peak RSS,
// stops it (SIGTERM: drain, checkpoint), checks that the output holds exactly
// n lines and returns the run's sample.
func (b *bench) sluiceUntil(r *sluiceRun, n int64) (sample, error) {
	seen, err := waitLines(b.ctx, r.out, n, pollPeriod, b.deadline(int(n), 1_000), r.c)
	if err != nil {
		r.c.kill()
		return sample{}, r.failed(err)
	}
	s := sample{d: seen.Sub(r.c.started), rss: peakRSS(r.c), anon: r.c.anonPeak()}
	if err := r.stop(); err != nil {
		return sample{}, err
	}
	s.cpu = r.c.cpu()
	b.checkLines(r.out, n)
	return s, nil
}

// copyFiles copies directory from, its regular files and subdirectories,
// into directory to (sluice's state directory holds the Pebble store's
// directory).
func copyFiles(from, to string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			// The state directory's store is a directory of its own
			// (Pebble's files): without it the copy holds no checkpoint.
			if err := copyFiles(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
				return err
			}
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
