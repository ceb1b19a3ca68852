package sqlpoll

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers database/sql driver "pgx"
	"modernc.org/sqlite"               // also registers database/sql driver "sqlite"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/internal/dbauth"
	"github.com/sluice-dev/sluice/internal/transient"
)

// dialect is what differs between the databases: driver name, identifier
// quoting, placeholders, the clock and the default namespace.
type dialect struct {
	name string // config spelling: postgres, mysql, sqlite
}

// open opens the database. For MySQL the session time zone is UTC unless the
// DSN sets time_zone, so TIMESTAMP columns (which MySQL converts to the
// session zone) read as UTC and CURRENT_TIMESTAMP is UTC.
func (d dialect) open(dsn string) (*sql.DB, error) { return d.openTLS(dsn, nil) }

// openTLS is open with MySQL's ssl_* keys (nil or empty: the DSN's tls).
func (d dialect) openTLS(dsn string, ssl *dbauth.MySQLSSL) (*sql.DB, error) {
	switch d.name {
	case DriverPostgres:
		return sql.Open("pgx", dsn)
	case DriverMySQL:
		mc, err := mysql.ParseDSN(dsn)
		if err != nil {
			// The parser's message may quote the DSN: never pass it on.
			return nil, fmt.Errorf("dsn is not a valid MySQL DSN (user:password@tcp(host:port)/db)")
		}
		if _, ok := mc.Params["time_zone"]; !ok {
			if mc.Params == nil {
				mc.Params = map[string]string{}
			}
			mc.Params["time_zone"] = "'+00:00'"
		}
		if ssl != nil {
			if err := ssl.Apply(mc); err != nil {
				return nil, component.Permanent(err)
			}
		}
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			return nil, fmt.Errorf("dsn is not a valid MySQL DSN (user:password@tcp(host:port)/db)")
		}
		return sql.OpenDB(conn), nil
	case DriverSQLite:
		return sql.Open("sqlite", dsn)
	}
	return nil, fmt.Errorf("unknown driver %q", d.name)
}

// transient reports whether an error of the connect step may pass by
// itself (see package transient): a server that is down or starting up;
// for SQLite, a database busy in another process.
func (d dialect) transient(err error) bool {
	switch d.name {
	case DriverPostgres:
		return transient.Postgres(err)
	case DriverMySQL:
		return transient.MySQL(err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xFF {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	return false
}

// quote quotes one identifier.
func (d dialect) quote(id string) string {
	if d.name == DriverMySQL {
		return "`" + strings.ReplaceAll(id, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(id, `"`, `""`) + `"`
}

// quoteTable quotes table or schema.table.
func (d dialect) quoteTable(t string) string {
	parts := strings.Split(t, ".")
	for i, p := range parts {
		parts[i] = d.quote(p)
	}
	return strings.Join(parts, ".")
}

// placeholder returns the n-th (1-based) parameter marker.
func (d dialect) placeholder(n int) string {
	if d.name == DriverPostgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// upperBound is an SQL expression for the database's current time minus
// delay: rows with a timestamp at or after it are not read yet. The
// database's clock, not sluice's, decides, as in Kafka Connect.
//
// SQLite has no timestamp type: the bound is UTC text in SQLite's own
// format ("YYYY-MM-DD HH:MM:SS.SSS"), which compares correctly with text
// timestamps in that format.
func (d dialect) upperBound(delay time.Duration) string {
	us := delay.Microseconds()
	switch d.name {
	case DriverPostgres:
		return fmt.Sprintf("(CURRENT_TIMESTAMP - INTERVAL '%d microseconds')", us)
	case DriverMySQL:
		return fmt.Sprintf("(CURRENT_TIMESTAMP(6) - INTERVAL %d MICROSECOND)", us)
	}
	return fmt.Sprintf("strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-%d.%06d seconds')", us/1e6, us%1e6)
}

// tsExprs builds the row's timestamp expression over the given (already
// qualified) columns: filter is for WHERE and ORDER BY, a bare column when
// there is one so that its index serves, else COALESCE as in Kafka
// Connect; sel is for the select list. For SQLite a single column is
// selected as COALESCE(col, NULL): the expression has no declared type, so
// the driver hands back the stored text unparsed, which is what the
// watermark must compare against (SQLite compares text as text).
func (d dialect) tsExprs(cols []string) (filter, sel string) {
	if len(cols) > 1 {
		e := "COALESCE(" + strings.Join(cols, ", ") + ")"
		return e, e
	}
	if d.name == DriverSQLite {
		return cols[0], "COALESCE(" + cols[0] + ", NULL)"
	}
	return cols[0], cols[0]
}

// location returns the database (PostgreSQL, MySQL; "main" for SQLite) and
// the schema (PostgreSQL only) that unqualified table names resolve to.
func (d dialect) location(ctx context.Context, db *sql.DB) (database, schema string, err error) {
	var dbName, sch sql.NullString
	switch d.name {
	case DriverPostgres:
		err = db.QueryRowContext(ctx, "SELECT current_database(), current_schema()").Scan(&dbName, &sch)
	case DriverMySQL:
		err = db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&dbName)
	default:
		dbName.String = "main"
	}
	return dbName.String, sch.String, err
}

// notNull returns the NOT NULL columns of a table for the drivers whose
// column types do not tell (pgx reports nothing, modernc sqlite says
// nullable always); nil for MySQL, whose driver reports them.
func (d dialect) notNull(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	var q string
	var args []any
	switch d.name {
	case DriverPostgres:
		q = `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND attnotnull AND NOT attisdropped`
		args = []any{d.quoteTable(table)}
	case DriverSQLite:
		// An INTEGER PRIMARY KEY is the rowid, never NULL; other primary
		// keys may hold NULL in SQLite unless declared NOT NULL.
		schema, name, ok := strings.Cut(table, ".")
		if !ok {
			schema, name = "main", table
		}
		q = `SELECT name FROM pragma_table_info(?, ?) WHERE "notnull" = 1 OR (pk > 0 AND upper(type) = 'INTEGER')`
		args = []any{name, schema}
	default:
		return nil, nil
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}

// refused returns the component.AuthError for err when it is the server
// refusing the DSN's credentials, or the error of a TLS setup that does
// not verify (tlsFailed): retrying cannot help either.
func (s *Source) refused(err error) (error, bool) {
	a := component.AuthError{Component: "sql_poll", Keys: s.dsnKey}
	var ok bool
	switch s.d.name {
	case DriverPostgres:
		if a.Reason, ok = dbauth.Postgres(err); ok {
			a.Hint = dbauth.PostgresHint
			if c, perr := pgconn.ParseConfig(s.cfg.DSN); perr == nil {
				a.User, a.Server = c.User, dbauth.PostgresAddr(c)
			}
		}
	case DriverMySQL:
		if a.Reason, ok = dbauth.MySQL(err); ok {
			a.Hint = dbauth.MySQLHint
			if mc, perr := mysql.ParseDSN(s.cfg.DSN); perr == nil {
				a.User, a.Server = mc.User, mc.Addr
			}
		}
	}
	if !ok {
		return s.tlsFailed(err)
	}
	return component.AuthFailed(a), true
}

// tlsFailed returns, when err is a server certificate that does not
// verify, the permanent error that says what to fix.
func (s *Source) tlsFailed(err error) (error, bool) {
	var fix string
	var ok bool
	switch s.d.name {
	case DriverPostgres:
		fix, ok = dbauth.PostgresTLS(err, s.dsnKey)
	case DriverMySQL:
		fix, ok = dbauth.MySQLTLS(err, s.env.Key)
	}
	if !ok {
		return nil, false
	}
	return component.Permanent(fmt.Errorf("sql_poll: %w; %s", err, fix)), true
}
