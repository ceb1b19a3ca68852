// Package postgres is the PostgreSQL table sink (`type: postgres`): it
// applies change events to tables of a PostgreSQL database, in one
// transaction per Write together with the sink's position row, so that a
// replay after a crash is recognised and skipped (effectively exactly-once).
//
// The modes, delete handling, batching, type mapping and position table are
// shared with the MySQL sink and documented in package
// sink/internal/sqlsink. What is particular to PostgreSQL:
//
//   - Every value is sent as a text-format parameter with no declared type
//     (pgx's QueryExecModeExec): the server parses it with the target
//     column's own input function, so numerics stay exact, timestamps keep
//     their microseconds and a user-created table with other (compatible)
//     types works too. No value is ever spliced into SQL text.
//   - Inserts and upserts of at least 200 rows go through COPY (text
//     format), each row encoded straight into the COPY data
//     (sqlsink.AppendPGCopy: the parameters' text, escaped; no value is
//     converted twice or boxed). The COPY starts at once and streams the
//     rows while another goroutine encodes them, in 64 KiB pieces, so the
//     server stores the first rows while the last are encoded; the whole
//     encoding is kept for a second attempt and for isolating bad rows.
//     It is the same COPY in the same transaction as before: nothing is
//     committed, and no event acknowledged, until the Write's commit.
//     Upserts first COPY straight into the table under a
//     savepoint, which is as fast as a bare COPY when no key exists yet
//     (a first snapshot); after the first unique violation on a table they
//     COPY into a temporary staging table created in the transaction
//     (CREATE TEMP TABLE ... ON COMMIT DROP AS SELECT the columns FROM the
//     target WITH NO DATA), then run one INSERT ... SELECT ... ON CONFLICT
//     (key) DO UPDATE. Smaller groups use multi-row INSERT ... VALUES;
//     updates and deletes are pipelined.
//   - Rows the server rejects (SQLSTATE classes 21, 22, 23, 44 and 54:
//     constraint violations, bad or out-of-range values) are isolated with
//     savepoints and bisection and reported as component.RecordErrors; the
//     rest of the Write commits. Classes 28, 3D, 3F, 42 and 0A
//     (authentication, missing database or schema, undefined table or
//     column, no unique index for ON CONFLICT, privileges) stop the
//     pipeline; everything else (lost connection, deadlock, shutdown) fails
//     the Write, which the engine retries while pgxpool reconnects.
//   - Tables live in `schema` (default public); the positions table too.
//   - Commits are pipelined (sqlsink.Pipelined, a component.FlushingSink):
//     the engine's Flush commits a batch's transaction while the next
//     batch is written in a transaction of its own on another connection,
//     so the server stores the next rows during the previous commit's WAL
//     flush. Inserts and upserts go at once (the server makes them wait
//     for a key the committing transaction holds); updates, deletes and
//     the positions rows wait for that commit. A batch is acknowledged
//     only after the commit that holds it; a transaction commits only
//     after the previous one did.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/dbauth"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

// maxIdent is PostgreSQL's identifier limit (NAMEDATALEN-1 bytes).
const maxIdent = 63

// Config is the PostgreSQL sink's configuration.
type Config struct {
	sqlsink.Config `yaml:",inline"`
	// Schema is the target schema of every table (default public).
	Schema string `yaml:"schema"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config {
	return &Config{Config: sqlsink.Defaults(), Schema: "public"}
}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	errs := c.Config.Validate("postgres", maxIdent)
	if err := sqlsink.CheckIdent(c.Schema, maxIdent, "postgres"); err != nil {
		errs = append(errs, &component.FieldError{Field: "schema", Msg: err.Error(), Hint: "default: public"})
	}
	if c.DSN != "" {
		if _, err := pgxpool.ParseConfig(c.DSN); err != nil {
			errs = append(errs, &component.FieldError{Field: "dsn", Msg: "cannot be parsed: " + sqlsink.Redact(err.Error(), c.DSN),
				Hint: "postgres://user:${PGPASSWORD}@host:5432/db?sslmode=disable"})
		}
	}
	return errs
}

// Factory is the registry entry for type: postgres.
var Factory = component.SinkFactory{
	Doc:    "rows into PostgreSQL tables (insert/upsert/update, deletes, auto-create), exactly once via a positions table",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Sink, error) {
		return New(*cfg.(*Config), env)
	},
}

// New returns the sink. It does not connect: Connect (the engine calls it at
// start) or the first Write does, and
// reconnects are the pool's.
func New(cfg Config, env component.Env) (*sqlsink.Pipelined, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, component.Permanent(fmt.Errorf("postgres sink: dsn: %s", sqlsink.Redact(err.Error(), cfg.DSN)))
	}
	pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if pc.ConnConfig.RuntimeParams["application_name"] == "" {
		pc.ConnConfig.RuntimeParams["application_name"] = "sluice"
	}
	pc.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, component.Permanent(fmt.Errorf("postgres sink: %s", sqlsink.Redact(err.Error(), cfg.DSN)))
	}
	d := &dialect{pool: pool, schema: cfg.Schema, user: pc.ConnConfig.User, addr: dbauth.PostgresAddr(&pc.ConnConfig.Config)}
	return sqlsink.NewPipelined(cfg.Config, d, env), nil
}

type dialect struct {
	pool       *pgxpool.Pool
	schema     string
	user, addr string // from the DSN, for messages

	mu struct {
		sync.Mutex
		conflicted map[string]bool // tables where an optimistic COPY met an existing key
	}
}

func (d *dialect) conflicted(table string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.conflicted[table]
}

func (d *dialect) setConflicted(table string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.conflicted == nil {
		d.mu.conflicted = map[string]bool{}
	}
	d.mu.conflicted[table] = true
}

var _ sqlsink.Dialect = (*dialect)(nil)

func (d *dialect) Server() string           { return "postgres" }
func (d *dialect) MaxIdent() int            { return maxIdent }
func (d *dialect) Quote(name string) string { return sqlsink.QuotePG(name) }
func (d *dialect) Table(name string) string {
	return sqlsink.QuotePG(d.schema) + "." + sqlsink.QuotePG(name)
}
func (d *dialect) FoldCase() bool                              { return false }
func (d *dialect) ColumnType(c *event.Column, key bool) string { return sqlsink.PGType(c) }
func (d *dialect) BoolType() string                            { return "boolean" }
func (d *dialect) CreateSuffix() string                        { return "" }
func (d *dialect) Placeholder(n int) string                    { return "$" + strconv.Itoa(n) }
func (d *dialect) MaxParams() int                              { return 65535 }
func (d *dialect) Truncate(table string) string                { return "TRUNCATE TABLE " + table }

func (d *dialect) Arg(c *event.Column, v event.Value) (any, error) {
	s, null, err := sqlsink.PGText(c, v)
	if err != nil || null {
		return nil, err
	}
	return s, nil
}

func (d *dialect) Bool(b bool) any {
	if b {
		return "t"
	}
	return "f"
}

func (d *dialect) Upsert(keys, set []string) string {
	if len(set) == 0 {
		return " ON CONFLICT (" + strings.Join(keys, ", ") + ") DO NOTHING"
	}
	var b strings.Builder
	b.WriteString(" ON CONFLICT (" + strings.Join(keys, ", ") + ") DO UPDATE SET ")
	for i, c := range set {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = EXCLUDED." + c)
	}
	return b.String()
}

func (d *dialect) Positions(pos string) (create, ensure, lock, update string) {
	create = "CREATE TABLE IF NOT EXISTS " + pos + ` (sink text NOT NULL, source text NOT NULL,
		hi numeric(20,0) NOT NULL, lo numeric(20,0) NOT NULL,
		updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (sink, source))`
	ensure = "INSERT INTO " + pos + " (sink, source, hi, lo) VALUES ($1, $2, 0, 0) ON CONFLICT (sink, source) DO NOTHING"
	lock = "SELECT hi::text, lo::text FROM " + pos + " WHERE sink = $1 AND source = $2 FOR UPDATE"
	update = "UPDATE " + pos + " SET hi = $1, lo = $2, updated_at = now() WHERE sink = $3 AND source = $4"
	return
}

func (d *dialect) Columns(ctx context.Context, table string) ([]string, bool, error) {
	var oid uint32
	err := d.pool.QueryRow(ctx, `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, d.schema, table).Scan(&oid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	rows, err := d.pool.Query(ctx, `SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, oid)
	if err != nil {
		return nil, false, err
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return cols, true, err
}

func (d *dialect) Exec(ctx context.Context, sql string) error {
	_, err := d.pool.Exec(ctx, sql)
	return err
}

func (d *dialect) Begin(ctx context.Context) (sqlsink.Tx, error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &pgTx{d: d, tx: tx}, nil
}

func (d *dialect) Close() error {
	d.pool.Close()
	return nil
}

// Classify implements sqlsink.Dialect by SQLSTATE class.
func (d *dialect) Classify(err error) sqlsink.Class {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return sqlsink.ClassTransient
	}
	switch pe.Code[:2] {
	case "21", "22", "23", "44", "54":
		return sqlsink.ClassRecord
	case "28", "3D", "3F", "42", "0A":
		return sqlsink.ClassConfig
	}
	return sqlsink.ClassTransient
}

// Refused implements sqlsink.Dialect.
func (d *dialect) Refused(err error) (component.AuthError, bool) {
	reason, ok := dbauth.Postgres(err)
	return component.AuthError{User: d.user, Server: d.addr, Reason: reason, Hint: dbauth.PostgresHint}, ok
}

// TLSFix implements sqlsink.Dialect.
func (d *dialect) TLSFix(err error, key func(string) string) (string, bool) {
	return dbauth.PostgresTLS(err, key("dsn"))
}

type pgTx struct {
	d      *dialect
	tx     pgx.Tx
	stages int
}

func (t *pgTx) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := t.tx.Exec(ctx, sql, args...)
	return err
}

func (t *pgTx) ExecMany(ctx context.Context, stmts []sqlsink.Stmt) error {
	if len(stmts) == 1 {
		return t.Exec(ctx, stmts[0].SQL, stmts[0].Args...)
	}
	var b pgx.Batch
	for _, s := range stmts {
		b.Queue(s.SQL, s.Args...)
	}
	return t.tx.SendBatch(ctx, &b).Close()
}

func (t *pgTx) QueryTexts(ctx context.Context, sql string, args ...any) (string, string, error) {
	var a, b string
	err := t.tx.QueryRow(ctx, sql, args...).Scan(&a, &b)
	return a, b, err
}

func (t *pgTx) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t *pgTx) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

var _ sqlsink.RowCopier = (*pgTx)(nil)

// AppendCopyRow implements sqlsink.RowCopier: one line of COPY's text
// format, each field what Dialect.Arg would send as a parameter.
func (t *pgTx) AppendCopyRow(b []byte, s *event.Schema, vals []event.Value, soft, deleted bool) ([]byte, error) {
	for i := range vals {
		if i > 0 {
			b = append(b, '\t')
		}
		var err error
		if b, err = sqlsink.AppendPGCopy(b, &s.Columns[i], vals[i]); err != nil {
			return b, err
		}
	}
	if soft {
		if len(vals) > 0 {
			b = append(b, '\t')
		}
		b = append(b, t.d.Bool(deleted).(string)...)
	}
	return append(b, '\n'), nil
}

// CopyRows implements sqlsink.RowCopier. Plain inserts are one COPY into
// the table. Upserts first try the same, optimistically, under the
// caller's savepoint:
// a first snapshot meets no existing keys and then costs what a bare COPY
// costs. On a unique violation (rows already there: a resumed snapshot, a
// replay) it rolls back to the savepoint, stops being optimistic for that
// table, and takes the general path: COPY into a staging table shaped like
// the target's columns, then one INSERT ... SELECT ... ON CONFLICT.
func (t *pgTx) CopyRows(ctx context.Context, table string, cols []string, data sqlsink.CopyData, upsert bool, insertSelect func(string) string) error {
	colList := strings.Join(cols, ", ")
	if !upsert {
		_, err := t.tx.Conn().PgConn().CopyFrom(ctx, data.Reader(), "COPY "+table+" ("+colList+") FROM STDIN")
		return err
	}
	if !t.d.conflicted(table) {
		// Right after the caller's SAVEPOINT (sqlsink.GuardSavepoint),
		// nothing sent in between: rolling back to it undoes the COPY
		// only, without a savepoint (and two round trips) of its own.
		_, err := t.tx.Conn().PgConn().CopyFrom(ctx, data.Reader(), "COPY "+table+" ("+colList+") FROM STDIN")
		if err == nil {
			return nil
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23505" {
			return err // the caller's savepoint handles it
		}
		t.d.setConflicted(table)
		if _, err := t.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+sqlsink.GuardSavepoint); err != nil {
			return err
		}
	}
	t.stages++
	stage := "sluice_stage_" + strconv.Itoa(t.stages)
	if _, err := t.tx.Exec(ctx, "CREATE TEMP TABLE "+stage+" ON COMMIT DROP AS SELECT "+colList+" FROM "+table+" WITH NO DATA"); err != nil {
		return err
	}
	stage = "pg_temp." + stage
	if _, err := t.tx.Conn().PgConn().CopyFrom(ctx, data.Reader(), "COPY "+stage+" ("+colList+") FROM STDIN"); err != nil {
		return err
	}
	if _, err := t.tx.Exec(ctx, insertSelect(stage)); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, "DROP TABLE "+stage)
	return err
}
