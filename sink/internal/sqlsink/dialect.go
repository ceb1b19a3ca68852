package sqlsink

import (
	"context"
	"errors"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Class sorts a server error by what the sink does about it.
type Class uint8

// Error classes.
const (
	// Transient errors (lost connection, deadlock, server shutting down)
	// fail the Write; the engine retries it.
	ClassTransient Class = iota
	// Record errors (constraint violation, bad or out-of-range value) are
	// the rows' fault: the sink isolates the rows and reports them.
	ClassRecord
	// Config errors (authentication, missing table or column, privileges)
	// stop the pipeline with a message naming the fix.
	ClassConfig
)

// Dialect is what differs between PostgreSQL and MySQL/MariaDB. A Dialect
// owns its connection pool, which reconnects by itself.
type Dialect interface {
	// Server is "postgres" or "mysql", for messages and CheckIdent.
	Server() string
	// MaxIdent is the identifier length limit.
	MaxIdent() int
	// Quote quotes an identifier.
	Quote(name string) string
	// Table returns the quoted, qualified name of a target table.
	Table(name string) string
	// FoldCase reports whether column names compare case-insensitively.
	FoldCase() bool
	// ColumnType is the DDL type of c (key: part of the primary key).
	ColumnType(c *event.Column, key bool) string
	// BoolType is the DDL type of the soft-delete column.
	BoolType() string
	// CreateSuffix follows CREATE TABLE's column list (engine, charset).
	CreateSuffix() string
	// Arg converts a value of column c into a statement argument.
	Arg(c *event.Column, v event.Value) (any, error)
	// Bool is a boolean argument.
	Bool(b bool) any
	// Placeholder is the n-th (1-based) parameter marker.
	Placeholder(n int) string
	// Upsert is the clause after INSERT ... VALUES that overwrites an
	// existing row: quoted key and non-key column names.
	Upsert(keys, set []string) string
	// Truncate is the statement that empties a table inside a transaction.
	Truncate(table string) string
	// MaxParams bounds the parameters of one statement.
	MaxParams() int
	// Positions returns the statements of the positions table (quoted
	// name pos): create it, insert a zero row if missing (args sink,
	// source), read a row locked (sink, source → hi, lo as text), and
	// update it (hi, lo, sink, source; hi and lo as decimal text).
	Positions(pos string) (create, ensure, lock, update string)

	// Columns lists an existing table's column names; ok is false when
	// the table does not exist.
	Columns(ctx context.Context, table string) (cols []string, ok bool, err error)
	// Exec runs a statement outside any transaction (DDL).
	Exec(ctx context.Context, sql string) error
	// Begin starts a transaction.
	Begin(ctx context.Context) (Tx, error)
	// Classify sorts an error returned by this dialect.
	Classify(err error) Class
	// Refused reports whether err is the server refusing the sink's
	// credentials, with the user, server address, reason and hint filled
	// in (the Writer adds the component and the keys).
	Refused(err error) (component.AuthError, bool)
	// TLSFix reports whether err is a TLS setup that does not verify
	// and says what to change; key gives a setting's path in the
	// pipeline file (see dbauth.TLSFix).
	TLSFix(err error, key func(string) string) (fix string, ok bool)
	// Close closes the pool.
	Close() error
}

// Stmt is one statement with its arguments.
type Stmt struct {
	SQL  string
	Args []any
}

// Tx is a transaction.
type Tx interface {
	// Exec runs one statement.
	Exec(ctx context.Context, sql string, args ...any) error
	// ExecMany runs statements in order (pipelined where the protocol
	// allows) and returns the first error.
	ExecMany(ctx context.Context, stmts []Stmt) error
	// QueryTexts runs a query returning one row of two text columns.
	QueryTexts(ctx context.Context, sql string, args ...any) (string, string, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Copier is implemented by transactions with a bulk-load fast path that
// takes converted arguments (MySQL LOAD DATA; PostgreSQL's COPY is a
// RowCopier). rows are already converted with Dialect.Arg; cols are quoted
// names. With upsert false the rows are plain inserts (an existing key is
// an error). With upsert true, insertSelect(stage) is the INSERT ...
// SELECT ... ON CONFLICT statement that moves rows from a staging table
// named stage into table.
//
// CopyInsert may return ErrCopyDeclined, having changed nothing (MySQL:
// the load would not be exactly the multi-row INSERT's outcome); the rows
// are then written with multi-row statements as without a Copier.
type Copier interface {
	CopyInsert(ctx context.Context, table string, cols []string, rows [][]any, upsert bool, insertSelect func(stage string) string) error
}

// GuardSavepoint is the savepoint each statement group runs under. A
// Copier's CopyInsert and a RowCopier's CopyRows are always called right
// after SAVEPOINT GuardSavepoint, nothing sent in between, so one that
// declines may undo what it did with ROLLBACK TO SAVEPOINT GuardSavepoint
// (which keeps the savepoint) instead of a savepoint of its own.
const GuardSavepoint = "sluice_rows"

// SavepointReplacer is implemented by transactions in which a SAVEPOINT
// of a name already set replaces it and COMMIT ends every savepoint
// (MySQL, MariaDB): the applier then never releases its savepoint, since
// the next group's SAVEPOINT (or the commit) does, one round trip fewer
// per group. PostgreSQL keeps every savepoint of a name until released,
// so it releases them.
type SavepointReplacer interface {
	SavepointsReplace() bool
}

// ErrCopyDeclined is CopyInsert's answer when the fast path does not apply
// to these rows; the transaction is as before the call.
var ErrCopyDeclined = errors.New("bulk load declined")

// RowCopier is implemented by transactions whose bulk-load path takes rows
// already encoded (PostgreSQL's COPY text format). The applier encodes
// each row of an insert or upsert group straight into one buffer with
// AppendCopyRow, without converting its values to arguments first (a row
// whose values cannot be encoded is rejected, as Dialect.Arg would), and
// hands CopyRows the encoded rows it writes: the whole group, streamed
// while it is encoded (AppendCopyRow then runs on another goroutine than
// CopyRows), or a contiguous part of it while bad rows are isolated. It is
// preferred to Copier.
type RowCopier interface {
	// AppendCopyRow appends one row: vals in s's column order, then, when
	// soft, the soft-delete column's value deleted.
	AppendCopyRow(b []byte, s *event.Schema, vals []event.Value, soft, deleted bool) ([]byte, error)
	// CopyRows is Copier.CopyInsert taking rows encoded by AppendCopyRow;
	// each COPY reads them from data.Reader(). Only a CopyStarter's may
	// decline (ErrCopyDeclined, having changed nothing): the rows are
	// then written with multi-row statements as a declining Copier's.
	CopyRows(ctx context.Context, table string, cols []string, data CopyData, upsert bool, insertSelect func(stage string) string) error
}

// CopyStarter is a RowCopier whose load is tried only for some groups
// (MySQL's LOAD DATA: only values whose text the server converts as it
// converts the statement parameter, and not for a table whose loads keep
// being declined). StartCopy is asked before an insert or upsert group of
// rows (cols as for CopyRows) is encoded: false writes the group as
// without a RowCopier (converted arguments, Copier, statements), and then
// StartCopy must have changed nothing. True streams it through
// AppendCopyRow and CopyRows, which may still decline.
type CopyStarter interface {
	StartCopy(ctx context.Context, table string, cols []string, rows []Row) (bool, error)
}
