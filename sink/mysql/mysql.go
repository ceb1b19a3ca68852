// Package mysql is the MySQL / MariaDB table sink (`type: mysql`): it
// applies change events to tables of one database, each batch in one
// transaction together with the sink's position row, so that a replay
// after a crash is recognised and skipped (effectively exactly-once).
//
// The modes, delete handling, batching, type mapping and position table are
// shared with the PostgreSQL sink and documented in package
// sink/internal/sqlsink. What is particular to MySQL:
//
//   - The session runs with time_zone '+00:00' (timestamps with a zone are
//     stored as their UTC DATETIME) and a strict sql_mode
//     (STRICT_ALL_TABLES, NO_ZERO_DATE, NO_ZERO_IN_DATE,
//     ERROR_FOR_DIVISION_BY_ZERO, NO_ENGINE_SUBSTITUTION,
//     NO_AUTO_VALUE_ON_ZERO): a value that does not fit is an error, never
//     a silent truncation.
//   - Values are server-side prepared-statement parameters (int64,
//     float64, []byte, or text the server converts: exact decimals,
//     "YYYY-MM-DD hh:mm:ss.ffffff") or LOAD DATA data; nothing is
//     interpolated into SQL.
//     Prepared statements are kept (up to 64, by text) and reused: a
//     multi-row statement of a full chunk has the same text every time, and
//     preparing one with thousands of placeholders costs MariaDB more than
//     executing it (12 times slower without the cache).
//   - Inserts and upserts of at least 200 rows in a step first go in one
//     LOAD DATA LOCAL INFILE streamed from memory as the rows are encoded
//     from the event values (load.go), kept only when
//     it is exactly the INSERT's outcome: every row inserted, no warning,
//     and only values whose text the server converts as it converts the
//     binary parameter. Otherwise (an existing key, a bad value, the server
//     refusing LOCAL) it is rolled back to a savepoint and the rows go as
//     multi-row INSERT ... ON DUPLICATE KEY UPDATE c = VALUES(c), chunked
//     to at most 1,000 rows, 65,535 placeholders and about 4 MiB of values
//     per statement; deletes are multi-row too.
//   - Tables created by auto_create use ENGINE=InnoDB, utf8mb4 and a binary
//     NO PAD collation (utf8mb4_nopad_bin on MariaDB, utf8mb4_0900_bin on
//     MySQL 8) so that keys differing in case or trailing spaces — distinct
//     in PostgreSQL — stay distinct.
//   - Truncate events (with truncate: true) run DELETE FROM, because
//     TRUNCATE TABLE commits the transaction implicitly in MySQL. DDL
//     (auto_create, auto_evolve, the positions table) runs before the
//     Write's transaction for the same reason.
//   - Commits are pipelined (sqlsink.Pipelined, a component.FlushingSink,
//     as the PostgreSQL sink's): the engine's Flush commits a batch's
//     transaction while the next batch is written in a transaction of its
//     own on another connection, so the server stores the next rows, and
//     sluice plans and encodes them, during the previous commit's log
//     flush. What InnoDB does with the overlap is what the invariants on
//     sqlsink.Pipelined need: an insert, upsert or load of a key the
//     committing transaction holds waits for its row lock and then sees
//     its outcome (a load then declines on the existing key and the rows
//     go as upserts), and the positions row's SELECT ... FOR UPDATE waits
//     for that commit and reads the committed value (locking reads see
//     the newest committed row, not the transaction's snapshot). A batch
//     is acknowledged only after the commit that holds it; a transaction
//     commits only after the previous one did.
//   - Errors: data errors (duplicate key 1062, NULL in NOT NULL 1048, out
//     of range 1264/1690, too long 1406, bad value 1366/1292/1265, foreign
//     key 1451/1452, CHECK 3819/4025, a row above max_allowed_packet) are
//     isolated with savepoints and bisection and reported as
//     component.RecordErrors; access denied (naming the user, the server
//     and the dsn key), unknown database, table or column stop the
//     pipeline; anything else (lost connection, deadlock,
//     lock wait timeout) fails the Write, which the engine retries while
//     database/sql reconnects.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/dbauth"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

// maxIdent is MySQL's identifier limit in characters.
const maxIdent = 64

// SQLMode is the session sql_mode.
const SQLMode = "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"

// Config is the MySQL sink's configuration.
type Config struct {
	sqlsink.Config `yaml:",inline"`
	// TLS to the server: ssl_mode, ssl_ca, ssl_cert, ssl_key (as the mysql
	// source's).
	dbauth.MySQLSSL `yaml:",inline"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config { return &Config{Config: sqlsink.Defaults()} }

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	errs := c.Config.Validate("mysql", maxIdent)
	errs = append(errs, c.MySQLSSL.Validate()...)
	if c.DSN != "" {
		mc, err := mysql.ParseDSN(c.DSN)
		switch {
		case err != nil:
			errs = append(errs, &component.FieldError{Field: "dsn", Msg: "cannot be parsed: " + sqlsink.Redact(err.Error(), c.DSN),
				Hint: "user:${MYSQL_PASSWORD}@tcp(host:3306)/db (go-sql-driver/mysql syntax)"})
		case mc.DBName == "":
			errs = append(errs, &component.FieldError{Field: "dsn", Msg: "names no database", Hint: "end the DSN with /dbname, e.g. user:pw@tcp(host:3306)/shop"})
		}
	}
	return errs
}

// Factory is the registry entry for type: mysql.
var Factory = component.SinkFactory{
	Doc:    "rows into MySQL/MariaDB tables (insert/upsert/update, deletes, auto-create), exactly once via a positions table",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Sink, error) {
		return New(*cfg.(*Config), env)
	},
}

// New returns the sink. It does not connect: Connect (the engine calls it
// at start) or the first Write does.
func New(cfg Config, env component.Env) (*sqlsink.Pipelined, error) {
	w, _, err := newWriter(cfg, env)
	return w, err
}

func newWriter(cfg Config, env component.Env) (*sqlsink.Pipelined, *dialect, error) {
	d, err := newDialect(cfg)
	if err != nil {
		return nil, nil, err
	}
	return sqlsink.NewPipelined(cfg.Config, d, env), d, nil
}

// newDialect opens the sink's connection pool (without connecting).
func newDialect(cfg Config) (*dialect, error) {
	mc, err := mysql.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, component.Permanent(fmt.Errorf("mysql sink: dsn: %s", sqlsink.Redact(err.Error(), cfg.DSN)))
	}
	if mc.Params == nil {
		mc.Params = map[string]string{}
	}
	mc.Params["time_zone"] = "'+00:00'"
	mc.Params["sql_mode"] = "'" + SQLMode + "'"
	mc.Loc = time.UTC
	mc.ParseTime = false
	mc.InterpolateParams = false
	mc.MultiStatements = false
	mc.MaxAllowedPacket = 0 // ask the server
	if mc.Timeout == 0 {
		mc.Timeout = 10 * time.Second // dial; a lost server fails fast and the engine retries
	}
	if err := cfg.MySQLSSL.Apply(mc); err != nil {
		return nil, component.Permanent(fmt.Errorf("mysql sink: %w", err))
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, component.Permanent(fmt.Errorf("mysql sink: %s", sqlsink.Redact(err.Error(), cfg.DSN)))
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxLifetime(10 * time.Minute)
	return &dialect{db: db, user: mc.User, addr: mc.Addr}, nil
}

type dialect struct {
	db         *sql.DB
	user, addr string // from the DSN, for messages

	mu        sync.Mutex
	collation string               // for CREATE TABLE, from the server's flavour
	charset   string               // the session's character_set_client
	stmts     map[string]*sql.Stmt // prepared statements by text
	// The bulk path (load.go): target column classes and declined loads
	// by quoted table; noLoad once the server refused LOAD DATA LOCAL.
	types  map[string]map[string]colClass
	loads  map[string]*loadState
	noLoad atomic.Bool
	// Loads kept and declined by the server's answer, and loads kept
	// that were streamed from the event values (tests).
	loadsKept, loadsDeclined, loadsStreamed atomic.Int64
	readHook                                func(sent int) // tests: before each read of a load's data
}

// maxStmts bounds the prepared statements kept (the server's
// max_prepared_stmt_count is shared by every client).
const maxStmts = 64

// stmt returns the prepared statement for q, preparing it once: database/sql
// re-prepares it on each pooled connection as needed. Multi-row statements
// of a full chunk have the same text every time.
func (d *dialect) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	d.mu.Lock()
	st := d.stmts[q]
	d.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := d.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stmts == nil || len(d.stmts) >= maxStmts {
		for _, old := range d.stmts {
			old.Close()
		}
		d.stmts = map[string]*sql.Stmt{}
	}
	d.stmts[q] = st
	return st, nil
}

var _ sqlsink.Dialect = (*dialect)(nil)

func (d *dialect) Server() string                              { return "mysql" }
func (d *dialect) MaxIdent() int                               { return maxIdent }
func (d *dialect) Quote(name string) string                    { return sqlsink.QuoteMySQL(name) }
func (d *dialect) Table(name string) string                    { return sqlsink.QuoteMySQL(name) }
func (d *dialect) FoldCase() bool                              { return true }
func (d *dialect) ColumnType(c *event.Column, key bool) string { return sqlsink.MySQLType(c, key) }
func (d *dialect) BoolType() string                            { return "TINYINT(1)" }
func (d *dialect) Placeholder(int) string                      { return "?" }
func (d *dialect) MaxParams() int                              { return 65535 }
func (d *dialect) Truncate(table string) string                { return "DELETE FROM " + table }
func (d *dialect) Arg(c *event.Column, v event.Value) (any, error) {
	return sqlsink.MySQLArg(c, v)
}

func (d *dialect) Bool(b bool) any {
	if b {
		return int64(1)
	}
	return int64(0)
}

func (d *dialect) CreateSuffix() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	coll := d.collation
	if coll == "" {
		coll = "utf8mb4_bin"
	}
	return " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=" + coll
}

func (d *dialect) Upsert(keys, set []string) string {
	if len(set) == 0 {
		return " ON DUPLICATE KEY UPDATE " + keys[0] + " = " + keys[0]
	}
	var b strings.Builder
	b.WriteString(" ON DUPLICATE KEY UPDATE ")
	for i, c := range set {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = VALUES(" + c + ")")
	}
	return b.String()
}

func (d *dialect) Positions(pos string) (create, ensure, lock, update string) {
	create = "CREATE TABLE IF NOT EXISTS " + pos + ` (sink VARCHAR(255) NOT NULL, source VARCHAR(255) NOT NULL,
		hi BIGINT UNSIGNED NOT NULL, lo BIGINT UNSIGNED NOT NULL,
		updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (sink, source))
		ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
	ensure = "INSERT INTO " + pos + " (sink, source, hi, lo) VALUES (?, ?, 0, 0) ON DUPLICATE KEY UPDATE sink = sink"
	lock = "SELECT CAST(hi AS CHAR), CAST(lo AS CHAR) FROM " + pos + " WHERE sink = ? AND source = ? FOR UPDATE"
	update = "UPDATE " + pos + " SET hi = ?, lo = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE sink = ? AND source = ?"
	return
}

// detect picks the NO PAD binary collation of the server's flavour and
// reads the session's client character set (LOAD DATA's data is in it).
func (d *dialect) detect(ctx context.Context) error {
	d.mu.Lock()
	done := d.collation != ""
	d.mu.Unlock()
	if done {
		return nil
	}
	var version, charset string
	if err := d.db.QueryRowContext(ctx, "SELECT VERSION(), @@character_set_client").Scan(&version, &charset); err != nil {
		return err
	}
	coll := "utf8mb4_bin"
	switch {
	case strings.Contains(strings.ToLower(version), "mariadb"):
		coll = "utf8mb4_nopad_bin"
	case !strings.HasPrefix(version, "5."):
		coll = "utf8mb4_0900_bin"
	}
	d.mu.Lock()
	d.collation, d.charset = coll, charset
	d.mu.Unlock()
	return nil
}

func (d *dialect) Columns(ctx context.Context, table string) ([]string, bool, error) {
	if err := d.detect(ctx); err != nil {
		return nil, false, err
	}
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, table).Scan(&n); err != nil {
		return nil, false, err
	}
	if n == 0 {
		return nil, false, nil
	}
	rows, err := d.db.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, table)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, false, err
		}
		cols = append(cols, c)
	}
	return cols, true, rows.Err()
}

func (d *dialect) Exec(ctx context.Context, q string) error {
	_, err := d.db.ExecContext(ctx, q)
	return err
}

func (d *dialect) Begin(ctx context.Context) (sqlsink.Tx, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &myTx{d: d, tx: tx}, nil
}

func (d *dialect) Close() error { return d.db.Close() }

// Classify implements sqlsink.Dialect by MySQL error number.
func (d *dialect) Classify(err error) sqlsink.Class {
	if errors.Is(err, mysql.ErrPktTooLarge) {
		return sqlsink.ClassRecord
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return sqlsink.ClassTransient
	}
	switch me.Number {
	case 1048, 1062, 1169, 1216, 1217, 1264, 1265, 1292, 1366, 1367, 1406, 1411, 1416,
		1451, 1452, 1586, 1690, 3140, 3819, 4025, 4078:
		return sqlsink.ClassRecord
	case 1005, 1044, 1045, 1049, 1054, 1064, 1071, 1074, 1115, 1118, 1142, 1143, 1146,
		1227, 1273, 1364, 1698:
		return sqlsink.ClassConfig
	}
	return sqlsink.ClassTransient
}

// Refused implements sqlsink.Dialect.
func (d *dialect) Refused(err error) (component.AuthError, bool) {
	reason, ok := dbauth.MySQL(err)
	return component.AuthError{User: d.user, Server: d.addr, Reason: reason, Hint: dbauth.MySQLHint}, ok
}

// TLSFix implements sqlsink.Dialect.
func (d *dialect) TLSFix(err error, key func(string) string) (string, bool) {
	return dbauth.MySQLTLS(err, key)
}

type myTx struct {
	d  *dialect
	tx *sql.Tx
}

func (t *myTx) Exec(ctx context.Context, q string, args ...any) error {
	if len(args) == 0 {
		_, err := t.tx.ExecContext(ctx, q, args...)
		return err
	}
	st, err := t.d.stmt(ctx, q)
	if err != nil {
		return err
	}
	_, err = t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	return err
}

// ExecMany runs the statements one by one, each prepared once (stmt).
func (t *myTx) ExecMany(ctx context.Context, stmts []sqlsink.Stmt) error {
	for _, s := range stmts {
		if err := t.Exec(ctx, s.SQL, s.Args...); err != nil {
			return err
		}
	}
	return nil
}

// QueryTexts runs q as a statement prepared once (stmt), as Exec does:
// the positions row's lock is one round trip a Write, not a prepare, an
// execution and a close.
func (t *myTx) QueryTexts(ctx context.Context, q string, args ...any) (string, string, error) {
	var a, b string
	if len(args) == 0 {
		err := t.tx.QueryRowContext(ctx, q).Scan(&a, &b)
		return a, b, err
	}
	st, err := t.d.stmt(ctx, q)
	if err != nil {
		return "", "", err
	}
	err = t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...).Scan(&a, &b)
	return a, b, err
}

var _ sqlsink.SavepointReplacer = (*myTx)(nil)

// SavepointsReplace implements sqlsink.SavepointReplacer: in MySQL and
// MariaDB a SAVEPOINT of a name already set replaces it, and COMMIT ends
// every savepoint, so the applier's need no RELEASE.
func (t *myTx) SavepointsReplace() bool { return true }

func (t *myTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t *myTx) Rollback(context.Context) error { return t.tx.Rollback() }
