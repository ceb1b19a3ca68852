package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/store"
)

// The binlog phase: how fast a backlog of row changes leaves MariaDB's
// binlog, mariadb-binlog against sluice's mysql source, the way the drain
// phase compares pg_recvlogical with the postgres source.
//
//  1. A MariaDB of the benchmark's own (fsync on). The product rows of the
//     PostgreSQL table are loaded into product_stage outside the binlog, and
//     an empty product table is created.
//  2. sluice runs once with snapshot: initial on the empty table: the
//     snapshot is empty and its checkpoint is the binlog position where
//     streaming starts. sluice is stopped (SIGTERM: drain, checkpoint) once
//     it streams, and the checkpoint is checked in its state file.
//  3. -rows row changes in transactions of -tx-rows: 90% inserts (copied
//     from product_stage), then 8% updates (price and quantity of the first
//     ids), then 2% deletes (the last inserted ids). The binlog range they
//     occupy is read with SHOW MASTER STATUS before and after.
//  4. A first untimed mariadb-binlog run counts the row images it prints,
//     to check that the range holds exactly the changes (and warms the
//     caches for both sides).
//  5. Then -runs times, alternating: mariadb-binlog reads that range from
//     the server (--read-from-remote-server, the replication protocol sluice
//     uses too) and decodes every row (--base64-output=decode-rows -v) to
//     /dev/null, timed from process start to exit; sluice starts on a copy
//     of the state the first run left and drains the range into a file sink
//     (Debezium envelopes, fsynced), timed from process start until the
//     file holds one line per change. Each side's fastest run counts: other
//     work on the machine only slows a run down. CPU times (user+sys) are
//     reported too; they hardly change with other load.
//  6. For context, mariadb-binlog once more without decoding rows (its
//     transport and event parsing only) and once reading the binlog files
//     directly instead of from the server.

const binlogTool = "mariadb-binlog"

// binlogPos is a binlog file and offset.
type binlogPos struct {
	File string
	Pos  uint64
}

func (p binlogPos) String() string { return p.File + ":" + strconv.FormatUint(p.Pos, 10) }

// changeMix splits n row changes into inserts, updates and deletes.
func changeMix(n int) (ins, upd, del int) {
	ins = n * 9 / 10
	upd = n * 8 / 100
	return ins, upd, n - ins - upd
}

func (b *bench) binlog() error {
	tool, err := findBinlogTool()
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "sluice-bench: starting MariaDB (fsync on) …")
	dsn, db, stop, err := b.startMariaDB()
	if err != nil {
		return err
	}
	defer stop()
	sec := "Source: MariaDB binlog (" + mariaVersion(b.ctx, db) + ")"
	name := filepath.Base(tool)
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return fmt.Errorf("SLUICE_MYSQL_DSN from scripts/mariadb.sh is not a MySQL DSN")
	}
	tsv, removeTSV, err := b.productTSV()
	if err != nil {
		return err
	}
	defer removeTSV()
	if err := b.loadProduct(db, "product_stage", tsv, false); err != nil {
		return err
	}
	removeTSV()
	if err := execMaria(b.ctx, db, fmt.Sprintf(mariaProductDDL, "product")); err != nil {
		return err
	}

	// sluice's first run takes the (empty) snapshot and records where the
	// stream starts.
	dir := filepath.Join(b.work, "binlog")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	defer func() {
		if !b.keep {
			os.RemoveAll(dir)
		}
	}()
	stateDir, startState := filepath.Join(dir, "state"), filepath.Join(dir, "state-start")
	source := fmt.Sprintf(`    type: mysql
    dsn: %s
    tables: [%s.product]
    snapshot: initial`, strconv.Quote(dsn), dc.DBName)
	if b.sluiceBin != "" {
		r, err := b.startSluiceSource("binlog-start", dir, source)
		if err != nil {
			return err
		}
		if err := b.waitLog(r.log, "msg=streaming", 2*time.Minute, r.c); err != nil {
			r.c.kill()
			return r.failed(err)
		}
		if err := r.stop(); err != nil {
			return err
		}
		if err := checkCheckpoint(stateDir); err != nil {
			return err
		}
		if err := copyFiles(stateDir, startState); err != nil {
			return err
		}
	}

	start, err := masterStatus(b.ctx, db)
	if err != nil {
		return err
	}
	ins, upd, del := changeMix(b.p.Rows)
	fmt.Fprintf(os.Stderr, "sluice-bench: %d row changes (%d inserts, %d updates, %d deletes) in transactions of %d …\n", b.p.Rows, ins, upd, del, b.p.TxRows)
	d, err := b.makeChanges(db, ins, upd, del)
	if err != nil {
		return err
	}
	end, err := masterStatus(b.ctx, db)
	if err != nil {
		return err
	}
	files, size, err := binlogRange(b.ctx, db, start, end)
	if err != nil {
		return err
	}
	binDir, err := binlogDir(b.ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "sluice-bench: binlog %s to %s, %.1f MB\n", start, end, mb(size))
	changes := float64(b.p.Rows)
	b.rep.add(sec, "binlog.changes.rows_per_s", fmt.Sprintf("changes committed (setup, for context: %d inserts, %d updates, %d deletes)", ins, upd, del), changes/d.Seconds(), "rows/s")
	b.rep.add(sec, "binlog.bytes_mb", "binlog bytes of the changes", mb(size), "MB")

	remote := binlogRun{tool: tool, dc: dc, start: start, end: end, files: files, remote: true, decode: true}
	// Untimed: checks the range and warms the caches for both sides.
	counted, err := b.countBinlogRows(remote)
	if err != nil {
		return err
	}
	if counted != [3]int{ins, upd, del} {
		return fmt.Errorf("%s printed %d inserts, %d updates, %d deletes for %s..%s, want %d, %d, %d",
			name, counted[0], counted[1], counted[2], start, end, ins, upd, del)
	}
	var toolRuns, sluiceRuns []sample
	for i := range b.runs {
		d, cpu, err := b.runBinlogTool(remote)
		if err != nil {
			return err
		}
		toolRuns = append(toolRuns, sample{d: d, cpu: cpu})
		fmt.Fprintf(os.Stderr, "sluice-bench: %s (remote, decoded): %.0f changes/s (%s, CPU %s)\n", name, changes/d.Seconds(), d.Round(time.Millisecond), cpu.Round(time.Millisecond))
		if b.sluiceBin == "" {
			continue
		}
		// Every run starts from the checkpoint of the empty snapshot.
		if err := os.RemoveAll(stateDir); err != nil {
			return err
		}
		if err := copyFiles(startState, stateDir); err != nil {
			return err
		}
		r, err := b.startSluiceSource(fmt.Sprintf("binlog-%d", i+1), dir, source)
		if err != nil {
			return err
		}
		sm, err := b.sluiceUntil(r, int64(b.p.Rows))
		if err != nil {
			return err
		}
		sluiceRuns = append(sluiceRuns, sm)
		os.Remove(r.out) // free the disk before the next runs
		fmt.Fprintf(os.Stderr, "sluice-bench: sluice binlog drain: %.0f changes/s (%s, CPU %s)\n", changes/sm.d.Seconds(), sm.d.Round(time.Millisecond), sm.cpu.Round(time.Millisecond))
	}
	bt := fastest(toolRuns)
	base := changes / bt.d.Seconds()
	rates := func(runs []sample) []float64 {
		var v []float64
		for _, r := range runs {
			v = append(v, changes/r.d.Seconds())
		}
		return v
	}
	b.rep.addRuns(sec, "binlog.tool.changes_per_s", fmt.Sprintf("%s changes/s (from the server, rows decoded, best of %d)", name, len(toolRuns)), rates(toolRuns), base, "changes/s")
	b.rep.add(sec, "binlog.tool.seconds", name+" time", bt.d.Seconds(), "s")
	b.rep.add(sec, "binlog.tool.cpu_s", name+" CPU time (user+sys)", bt.cpu.Seconds(), "s")

	// Context: the tool without row decoding, and from the files.
	for _, v := range []struct {
		key, label string
		run        binlogRun
	}{
		{"binlog.tool_nodecode.changes_per_s", name + " changes/s (from the server, rows not decoded: --base64-output=decode-rows without -v)",
			binlogRun{tool: tool, dc: dc, start: start, end: end, files: files, remote: true}},
		{"binlog.tool_files.changes_per_s", name + " changes/s (the binlog files directly, rows decoded)",
			binlogRun{tool: tool, start: start, end: end, files: files, dir: binDir, decode: true}},
	} {
		d, _, err := b.runBinlogTool(v.run)
		if err != nil {
			return err
		}
		b.rep.add(sec, v.key, v.label, changes/d.Seconds(), "changes/s")
	}

	if b.sluiceBin == "" {
		return nil
	}
	st := fastest(sluiceRuns)
	rate := changes / st.d.Seconds()
	ratio := rate / base
	rss := float64(peakOf(sluiceRuns))
	b.rep.addRuns(sec, "binlog.sluice.changes_per_s", fmt.Sprintf("sluice changes/s (mysql source → file sink, best of %d)", len(sluiceRuns)), rates(sluiceRuns), rate, "changes/s")
	b.rep.add(sec, "binlog.sluice.seconds", "sluice time (start to last line)", st.d.Seconds(), "s")
	b.rep.addTarget(sec, "binlog.ratio", "sluice / "+name+" (from the server, rows decoded)", ratio, "×", "≥ 1.50×", ratio >= 1.5) // issue 15: keep ≥ 1.5×
	b.rep.add(sec, "binlog.sluice.cpu_s", "sluice CPU time (user+sys)", st.cpu.Seconds(), "s")
	b.rep.add(sec, "binlog.cpu_ratio", name+" CPU time / sluice CPU time (less sensitive to other load)", bt.cpu.Seconds()/st.cpu.Seconds(), "×")
	b.rep.addTarget(sec, "binlog.sluice.rss_mb", "sluice peak RSS (highest of the runs)", rss/1e6, "MB", "≤ 100 MB", rss <= memTarget)
	b.addAnon(sec, "binlog.sluice.rss_mb", "sluice peak RssAnon (private memory, highest of the runs)", anonPeakOf(sluiceRuns))
	fmt.Fprintf(os.Stderr, "sluice-bench: sluice binlog drain %.2f× %s\n", ratio, name)
	return nil
}

// findBinlogTool finds mariadb-binlog, or mysqlbinlog where MariaDB's tools
// go by their old names.
func findBinlogTool() (string, error) {
	for _, name := range []string{binlogTool, "mysqlbinlog"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found; install mariadb-client", binlogTool)
}

// checkCheckpoint fails unless the state in dir holds a checkpoint for
// source src: without one, the second run would snapshot the table instead
// of draining the binlog.
func checkCheckpoint(dir string) error {
	st, err := store.Open(dir, store.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer st.Close()
	cp, err := st.Checkpoint("src")
	if err != nil {
		return err
	}
	if len(cp) == 0 {
		return fmt.Errorf("sluice stopped after its empty snapshot without a checkpoint in %s; the drain would start with a snapshot", dir)
	}
	return nil
}

// makeChanges commits ins inserts, upd updates and del deletes on product,
// b.p.TxRows rows per statement (one transaction each).
func (b *bench) makeChanges(db *sql.DB, ins, upd, del int) (time.Duration, error) {
	t0 := time.Now()
	steps := []struct {
		q        string
		from, to int
	}{
		{"INSERT INTO product SELECT * FROM product_stage WHERE id BETWEEN ? AND ?", 1, ins},
		{"UPDATE product SET price = price + 1, quantity = quantity + 1 WHERE id BETWEEN ? AND ?", 1, upd},
		{"DELETE FROM product WHERE id BETWEEN ? AND ?", ins - del + 1, ins},
	}
	for _, s := range steps {
		for lo := s.from; lo <= s.to; lo += b.p.TxRows {
			hi := min(lo+b.p.TxRows-1, s.to)
			ctx, cancel := context.WithTimeout(b.ctx, 5*time.Minute)
			res, err := db.ExecContext(ctx, s.q, lo, hi)
			cancel()
			if err != nil {
				return 0, fmt.Errorf("%s (%d, %d): %w", s.q, lo, hi, err)
			}
			if n, _ := res.RowsAffected(); n != int64(hi-lo+1) {
				return 0, fmt.Errorf("%s (%d, %d) changed %d rows, want %d", s.q, lo, hi, n, hi-lo+1)
			}
		}
	}
	return time.Since(t0), nil
}

func execMaria(ctx context.Context, db *sql.DB, stmts ...string) error {
	for _, q := range stmts {
		qctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := db.ExecContext(qctx, q)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", firstLine(q), err)
		}
	}
	return nil
}

// masterStatus is the server's current binlog position.
func masterStatus(ctx context.Context, db *sql.DB) (binlogPos, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return binlogPos{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return binlogPos{}, err
	}
	if !rows.Next() {
		return binlogPos{}, fmt.Errorf("SHOW MASTER STATUS returned no row: is the binlog on (log_bin)?")
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil || len(vals) < 2 {
		return binlogPos{}, fmt.Errorf("SHOW MASTER STATUS: %v", err)
	}
	pos, err := strconv.ParseUint(string(vals[1]), 10, 64)
	if err != nil {
		return binlogPos{}, fmt.Errorf("SHOW MASTER STATUS position %q: %w", vals[1], err)
	}
	return binlogPos{File: string(vals[0]), Pos: pos}, rows.Err()
}

// binlogRange lists the binlog files from start's to end's and the bytes
// between the two positions.
func binlogRange(ctx context.Context, db *sql.DB, start, end binlogPos) ([]string, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var files []string
	var size int64
	in := false
	for rows.Next() {
		var name string
		var fsize int64
		dst := []any{&name, &fsize}
		for range len(cols) - 2 {
			dst = append(dst, new(sql.RawBytes))
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, 0, err
		}
		if name == start.File {
			in = true
			size -= int64(start.Pos)
		}
		if !in {
			continue
		}
		files = append(files, name)
		if name == end.File {
			size += int64(end.Pos)
			break
		}
		size += fsize
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(files) == 0 || files[len(files)-1] != end.File {
		return nil, 0, fmt.Errorf("SHOW BINARY LOGS does not list %s through %s", start.File, end.File)
	}
	return files, size, nil
}

// binlogDir is the directory of the server's binlog files.
func binlogDir(ctx context.Context, db *sql.DB) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var base sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT @@log_bin_basename").Scan(&base); err != nil {
		return "", err
	}
	if !base.Valid || base.String == "" {
		return "", fmt.Errorf("@@log_bin_basename is empty: is the binlog on (log_bin)?")
	}
	return filepath.Dir(base.String), nil
}

// binlogRun is one way of reading the binlog range with mariadb-binlog.
type binlogRun struct {
	tool       string
	dc         *mysql.Config // server, for remote
	start, end binlogPos
	files      []string
	remote     bool   // --read-from-remote-server, else the files in dir
	dir        string // where the binlog files are, when not remote
	decode     bool   // -v: print every row image as pseudo-SQL
}

// args are the tool's arguments and environment (the password goes in
// MYSQL_PWD, never on the command line).
func (r binlogRun) args() (args, env []string, err error) {
	args = []string{"--no-defaults", "--base64-output=decode-rows"}
	if r.decode {
		args = append(args, "-v")
	}
	args = append(args, "--start-position="+strconv.FormatUint(r.start.Pos, 10), "--stop-position="+strconv.FormatUint(r.end.Pos, 10))
	if r.remote {
		host, port, err := net.SplitHostPort(r.dc.Addr)
		if err != nil {
			return nil, nil, fmt.Errorf("MariaDB address: %w", err)
		}
		args = append(args, "--read-from-remote-server", "--host="+host, "--port="+port, "--user="+r.dc.User)
		if r.dc.Passwd != "" {
			env = append(env, "MYSQL_PWD="+r.dc.Passwd)
		}
		return append(args, r.files...), env, nil
	}
	for _, f := range r.files {
		args = append(args, filepath.Join(r.dir, f))
	}
	return args, env, nil
}

// runBinlogTool runs the tool into /dev/null and returns its time from
// process start to exit and its CPU time. (Its peak RSS is not reported:
// the tool exits too soon to read VmHWM, and rusage counts the benchmark's
// own memory.)
func (b *bench) runBinlogTool(r binlogRun) (wall, cpu time.Duration, err error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, 0, err
	}
	defer devnull.Close()
	c, err := b.startBinlogTool(r, devnull)
	if err != nil {
		return 0, 0, err
	}
	return c.exited.Sub(c.started), c.cpu(), nil
}

// countBinlogRows runs the tool with decoded rows and counts the row images
// it prints: ### INSERT INTO, ### UPDATE and ### DELETE FROM lines.
func (b *bench) countBinlogRows(r binlogRun) ([3]int, error) {
	lc := &rowCounter{}
	if _, err := b.startBinlogTool(r, lc); err != nil {
		return [3]int{}, err
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.n, nil
}

func (b *bench) startBinlogTool(r binlogRun, out io.Writer) (*child, error) {
	args, env, err := r.args()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(b.work, "mariadb-binlog.log")
	c, err := b.procs.start(r.tool, out, logPath, env, args...)
	if err != nil {
		return nil, err
	}
	c.name = filepath.Base(r.tool)
	if err := c.wait(b.ctx, b.deadline(b.p.Rows, 5_000)); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", c.name, err, tailFile(logPath, 1000))
	}
	return c, nil
}

// rowCounter counts the row images mariadb-binlog -v prints, line by line
// across writes.
type rowCounter struct {
	mu      sync.Mutex
	partial []byte
	n       [3]int // inserts, updates, deletes
}

var rowPrefixes = [3][]byte{[]byte("### INSERT INTO "), []byte("### UPDATE "), []byte("### DELETE FROM ")}

func (w *rowCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			break
		}
		line := p[:i]
		if len(w.partial) > 0 {
			w.partial = append(w.partial, line...)
			line = w.partial
		}
		if bytes.HasPrefix(line, []byte("### ")) {
			for k, pre := range rowPrefixes {
				if bytes.HasPrefix(line, pre) {
					w.n[k]++
				}
			}
		}
		w.partial = w.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}
