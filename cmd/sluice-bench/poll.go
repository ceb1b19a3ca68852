package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", as sql_poll uses
	_ "modernc.org/sqlite"             // database/sql driver "sqlite", as sql_poll uses
)

// The poll phase: sluice's sql_poll source in incrementing mode (seed 003's
// mode: WHERE id > last ORDER BY id LIMIT -poll-batch, page after page)
// reading the product table (-rows rows) into a file sink, against a plain
// SELECT * FROM product through the same database/sql driver and DSN in the
// benchmark's own process, every column scanned into the driver's Go value
// (the rows are counted and dropped). The SELECT and sluice (from an empty
// state each time) alternate -runs times, and each side's fastest run
// counts. For context, the same LIMIT
// pages sql_poll asks for are read the same way (once, after the runs):
// the gap between them and the plain SELECT is what paging costs (on
// PostgreSQL an index range scan instead of a sequential scan), the rest is
// sluice's own work; the report gives sluice's ratio to both.
//
// PostgreSQL is the benchmark's server (the table of the setup); MariaDB is
// a server of the phase's own filled with the same rows by LOAD DATA; SQLite
// is a file filled with the same rows by the benchmark. sluice is timed from
// process start until its file holds one line per row.

// pollDB is one database the poll phase reads.
type pollDB struct {
	key, title string
	driver     string // sql_poll's driver name
	sqlDriver  string // database/sql's
	dsn        string
	table      string
	param      string // the first placeholder
}

func (b *bench) poll() error {
	var errs []error
	run := func(name string, fn func() error) {
		if b.ctx.Err() != nil {
			return
		}
		if err := fn(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	run("PostgreSQL", func() error {
		return b.pollOne(pollDB{key: "postgres", title: "PostgreSQL", driver: "postgres", sqlDriver: "pgx", dsn: b.dsn, table: "product", param: "$1"})
	})
	run("MariaDB", b.pollMariaDB)
	run("SQLite", b.pollSQLite)
	return errors.Join(errs...)
}

func (b *bench) pollMariaDB() error {
	fmt.Fprintln(os.Stderr, "sluice-bench: starting MariaDB (fsync on) …")
	dsn, db, stop, err := b.startMariaDB()
	if err != nil {
		return err
	}
	defer stop()
	tsv, removeTSV, err := b.productTSV()
	if err != nil {
		return err
	}
	defer removeTSV()
	if err := b.loadProduct(db, "product", tsv, false); err != nil {
		return err
	}
	removeTSV()
	// sql_poll sets the session time zone to UTC unless the DSN does; the
	// baseline gets the same DSN.
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return fmt.Errorf("SLUICE_MYSQL_DSN from scripts/mariadb.sh is not a MySQL DSN")
	}
	if mc.Params == nil {
		mc.Params = map[string]string{}
	}
	mc.Params["time_zone"] = "'+00:00'"
	return b.pollOne(pollDB{key: "mariadb", title: "MariaDB " + mariaVersion(b.ctx, db), driver: "mysql", sqlDriver: "mysql", dsn: mc.FormatDSN(), table: "product", param: "?"})
}

func (b *bench) pollSQLite() error {
	path := filepath.Join(b.work, "poll.sqlite")
	os.Remove(path)
	defer os.Remove(path)
	fmt.Fprintf(os.Stderr, "sluice-bench: copying product into SQLite …\n")
	if err := b.fillSQLite(path); err != nil {
		return err
	}
	return b.pollOne(pollDB{key: "sqlite", title: "SQLite (modernc.org/sqlite)", driver: "sqlite", sqlDriver: "sqlite", dsn: path, table: "product", param: "?"})
}

// fillSQLite copies the PostgreSQL product table into a new SQLite file.
func (b *bench) fillSQLite(path string) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.deadline(b.p.Rows, 5_000))
	defer cancel()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE product (id INTEGER PRIMARY KEY, name VARCHAR(500), price DOUBLE DEFAULT 0,
		color VARCHAR(50), category VARCHAR(50), quantity INT DEFAULT 0, description VARCHAR(1000), "internalId" VARCHAR(50))`); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, "INSERT INTO product VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	rows, err := b.conn.Query(ctx, `SELECT id, name, price, color, category, quantity, description, "internalId" FROM product ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		if _, err := ins.ExecContext(ctx, vals...); err != nil {
			return fmt.Errorf("SQLite insert of row %d: %w", n+1, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != b.p.Rows {
		return fmt.Errorf("copied %d rows into SQLite, want %d", n, b.p.Rows)
	}
	return tx.Commit()
}

// pollOne measures one database.
func (b *bench) pollOne(pd pollDB) error {
	sec := "Source: sql_poll, " + pd.title
	db, err := sql.Open(pd.sqlDriver, pd.dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows := float64(b.p.Rows)
	var selects, sluiceRuns []sample
	for i := range b.runs {
		if err := b.pollCheckpoint(pd); err != nil {
			return err
		}
		t0 := time.Now()
		n, err := b.scanAll(db, "SELECT * FROM "+pd.table)
		d := time.Since(t0)
		if err != nil {
			return fmt.Errorf("plain SELECT: %w", err)
		}
		if n != b.p.Rows {
			return fmt.Errorf("plain SELECT read %d rows, want %d", n, b.p.Rows)
		}
		selects = append(selects, sample{d: d})
		fmt.Fprintf(os.Stderr, "sluice-bench: %s plain SELECT: %.0f rows/s (%s)\n", pd.key, rows/d.Seconds(), d.Round(time.Millisecond))
		if b.sluiceBin == "" {
			continue
		}
		if err := b.pollCheckpoint(pd); err != nil {
			return err
		}
		sm, err := b.pollSluice(pd, i)
		if err != nil {
			return err
		}
		sluiceRuns = append(sluiceRuns, sm)
		fmt.Fprintf(os.Stderr, "sluice-bench: sluice sql_poll %s: %.0f rows/s (%s)\n", pd.key, rows/sm.d.Seconds(), sm.d.Round(time.Millisecond))
	}

	// The same pages sql_poll reads (ids are 1..rows without gaps).
	if err := b.pollCheckpoint(pd); err != nil {
		return err
	}
	page := fmt.Sprintf("SELECT s.* FROM %s AS s WHERE s.id > %s ORDER BY s.id LIMIT %d", pd.table, pd.param, b.pollBatch)
	t0 := time.Now()
	paged := 0
	for last := 0; ; last += b.pollBatch {
		n, err := b.scanAll(db, page, last)
		if err != nil {
			return fmt.Errorf("paged SELECT: %w", err)
		}
		paged += n
		if n < b.pollBatch {
			break
		}
	}
	pagedTime := time.Since(t0)
	if paged != b.p.Rows {
		return fmt.Errorf("paged SELECT read %d rows, want %d", paged, b.p.Rows)
	}

	base := rows / fastest(selects).d.Seconds()
	k := "poll." + pd.key
	b.rep.add(sec, k+".select_rows_per_s", fmt.Sprintf("plain SELECT * rows/s (database/sql, every column scanned, best of %d)", len(selects)), base, "rows/s")
	b.rep.add(sec, k+".paged_rows_per_s", fmt.Sprintf("the same LIMIT %d pages as sql_poll, rows/s", b.pollBatch), rows/pagedTime.Seconds(), "rows/s")
	if b.sluiceBin == "" {
		return nil
	}
	st := fastest(sluiceRuns)
	rate := rows / st.d.Seconds()
	rss := float64(peakOf(sluiceRuns))
	b.rep.add(sec, k+".sluice_rows_per_s", fmt.Sprintf("sluice rows/s (sql_poll incrementing, batch_max_rows %d → file sink, best of %d)", b.pollBatch, len(sluiceRuns)), rate, "rows/s")
	b.rep.add(sec, k+".sluice_seconds", "sluice time (start to last line)", st.d.Seconds(), "s")
	b.rep.add(sec, k+".ratio", "sluice / plain SELECT", rate/base, "×")
	// The plain SELECT is not sql_poll's work: PostgreSQL answers it with a
	// sequential scan, the pages (WHERE id > ? ORDER BY id LIMIT n) with an
	// index range scan that costs the server 2–3× more a row. The pages are
	// the read sql_poll's semantics need.
	b.rep.add(sec, k+".paged_ratio", fmt.Sprintf("sluice / the same LIMIT %d pages", b.pollBatch), rate/(rows/pagedTime.Seconds()), "×")
	b.rep.add(sec, k+".sluice_cpu_s", "sluice CPU time (user+sys)", st.cpu.Seconds(), "s")
	b.rep.addTarget(sec, k+".sluice_rss_mb", "sluice peak RSS (highest of the runs)", rss/1e6, "MB", "≤ 100 MB", rss <= memTarget)
	b.addAnon(sec, k+".sluice_rss_mb", "sluice peak RssAnon (private memory, highest of the runs)", anonPeakOf(sluiceRuns))
	return nil
}

// pollSluice runs sluice's sql_poll source on the table from an empty state
// until its output holds every row.
func (b *bench) pollSluice(pd pollDB, i int) (sample, error) {
	dir := filepath.Join(b.work, "poll-"+pd.key)
	if err := os.RemoveAll(dir); err != nil {
		return sample{}, err
	}
	source := fmt.Sprintf(`    type: sql_poll
    driver: %s
    dsn: %s
    mode: incrementing
    incrementing_column: id
    tables: [%s]
    batch_max_rows: %d
    poll_interval: 1s`, pd.driver, strconv.Quote(pd.dsn), pd.table, b.pollBatch)
	r, err := b.startSluiceSource(fmt.Sprintf("poll-%s-%d", pd.key, i+1), dir, source)
	if err != nil {
		return sample{}, err
	}
	defer b.remove(r)
	return b.sluiceUntil(r, int64(b.p.Rows))
}

// pollCheckpoint keeps a PostgreSQL checkpoint owed to earlier writes out
// of the next measurement; the other databases were written before the
// phase started measuring.
func (b *bench) pollCheckpoint(pd pollDB) error {
	if pd.key != "postgres" {
		return nil
	}
	return b.checkpoint()
}

// scanAll runs q and scans every column of every row into the driver's Go
// values, as a plain database/sql reader does; it returns the row count.
func (b *bench) scanAll(db *sql.DB, q string, args ...any) (int, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.deadline(b.p.Rows, 2_000))
	defer cancel()
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
