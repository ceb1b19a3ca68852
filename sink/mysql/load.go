package mysql

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

// The bulk path (sqlsink.Copier): the rows of an insert or upsert step go
// in one LOAD DATA LOCAL INFILE, streamed from memory as tab-separated
// text (go-sql-driver's Reader:: handler), in a savepoint. The server
// parses the stream while the sink encodes the rest of it (in the
// session's client character set, as string parameters are), and does for
// each row what the multi-row INSERT does when the key is new — the same
// per-row work as the LOAD DATA a DBA would run. LOAD DATA LOCAL cannot
// update an existing row, and it turns every error into a warning and a
// skipped row (IGNORE), so the load is kept only when it is exactly the
// INSERT ... ON DUPLICATE KEY UPDATE's outcome: every row inserted
// (affected rows = rows sent: no existing key, no other unique index hit,
// no foreign key refused) and no warning at all (no value truncated,
// rounded or converted differently). Otherwise the savepoint is rolled
// back and the sink writes the rows with multi-row statements as before
// (sqlsink.ErrCopyDeclined), so upserts, record errors and their messages
// are unchanged.
//
// Values are sent as text only where the server's conversion of the text
// is the one it applies to the prepared statement's binary parameter:
// strings and bytes (the same Field::store of the same bytes), integers
// into integer, decimal, floating-point and character columns, and
// floating-point values (shortest round-trip text) into FLOAT and DOUBLE
// columns only. Any other pairing declines before anything is sent, from
// the target's column types (information_schema, read once per table and
// again when a column is not known).
//
// A table whose loads keep being declined (upserts of keys that exist, as
// in a change stream) is not loaded again for 1, 2, 4, … up to 64 of its
// steps, so the wasted load is a small share of the work.

// loadSeq names each load's reader (the driver's registry is global).
var loadSeq atomic.Uint64

// maxLoadBackoff bounds the steps a declining table skips the load.
const maxLoadBackoff = 64

// loadState is a table's record of declined loads.
type loadState struct {
	skip, penalty int
}

// colClass is what a target column takes as LOAD DATA text.
type colClass uint8

const (
	colOther colClass = iota // strings and bytes only
	colInt                   // integers too (integer, decimal, character types)
	colFloat                 // integers and floating-point values (FLOAT, DOUBLE)
)

func classOf(dataType string) colClass {
	switch strings.ToLower(dataType) {
	case "float", "double", "real", "double precision":
		return colFloat
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric",
		"char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		return colInt
	}
	return colOther
}

// loadSQL is the statement that loads reader name into table (quoted)
// with the quoted columns cols. The data is in the session's client
// character set, as the statements' string parameters are.
func loadSQL(name, table, charset string, cols []string) string {
	return "LOAD DATA LOCAL INFILE 'Reader::" + name + "' IGNORE INTO TABLE " + table +
		" CHARACTER SET " + charset + ` FIELDS TERMINATED BY '\t' ENCLOSED BY '' ESCAPED BY '\\' LINES STARTING BY '' TERMINATED BY '\n' (` +
		strings.Join(cols, ", ") + ")"
}

// CopyInsert implements sqlsink.Copier with LOAD DATA LOCAL INFILE (see
// above). upsert makes no difference: an existing key declines the load
// either way, and the multi-row statements then upsert or report it.
func (t *myTx) CopyInsert(ctx context.Context, table string, cols []string, rows [][]any, _ bool, _ func(string) string) error {
	d := t.d
	if !d.loadAllowed(table) {
		return sqlsink.ErrCopyDeclined
	}
	ok, err := d.loadable(ctx, table, cols, rows)
	if err != nil {
		return err
	}
	if !ok {
		return sqlsink.ErrCopyDeclined
	}
	if err := d.detect(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	charset := d.charset
	d.mu.Unlock()
	if !isIdent(charset) {
		return sqlsink.ErrCopyDeclined
	}
	if err := t.Exec(ctx, "SAVEPOINT sluice_load"); err != nil {
		return err
	}
	name := "sluice-load-" + strconv.FormatUint(loadSeq.Add(1), 10)
	mysql.RegisterReaderHandler(name, func() io.Reader { return &tsvReader{rows: rows, hook: d.readHook} })
	defer mysql.DeregisterReaderHandler(name)
	res, lerr := t.tx.ExecContext(ctx, loadSQL(name, table, charset, cols))
	if lerr == nil {
		var n int64
		if n, lerr = res.RowsAffected(); lerr == nil {
			var warnings int64
			lerr = t.tx.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings)
			if lerr == nil && n == int64(len(rows)) && warnings == 0 {
				d.loadDone(table, true)
				d.loadsKept.Add(1)
				return t.Exec(ctx, "RELEASE SAVEPOINT sluice_load")
			}
		}
	}
	var me *mysql.MySQLError
	if lerr != nil && !errors.As(lerr, &me) {
		return lerr // the connection is in doubt: the Write fails and is retried
	}
	if err := t.Exec(ctx, "ROLLBACK TO SAVEPOINT sluice_load"); err != nil {
		if lerr != nil {
			return lerr
		}
		return err
	}
	if me != nil && refusesLocal(me) {
		d.noLoad.Store(true)
		d.loadsDeclined.Add(1)
		return sqlsink.ErrCopyDeclined
	}
	d.loadDone(table, false)
	d.loadsDeclined.Add(1)
	return sqlsink.ErrCopyDeclined
}

// refusesLocal reports the server refusing LOAD DATA LOCAL (local_infile
// off: MySQL 8's default).
func refusesLocal(me *mysql.MySQLError) bool {
	return me.Number == 1148 || me.Number == 3948 || me.Number == 4166
}

// loadAllowed reports whether a load into table is worth trying now.
func (d *dialect) loadAllowed(table string) bool {
	if d.noLoad.Load() {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.loads[table]
	if st == nil || st.skip == 0 {
		return true
	}
	st.skip--
	return false
}

// loadDone records a load into table kept (ok) or declined.
func (d *dialect) loadDone(table string, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.loads == nil {
		d.loads = map[string]*loadState{}
	}
	st := d.loads[table]
	if st == nil {
		st = &loadState{}
		d.loads[table] = st
	}
	if ok {
		st.penalty, st.skip = 0, 0
		return
	}
	st.penalty = min(max(1, 2*st.penalty), maxLoadBackoff)
	st.skip = st.penalty
}

// loadable reports whether every value of rows goes into its column as
// LOAD DATA text exactly as it would as a statement parameter.
func (d *dialect) loadable(ctx context.Context, table string, cols []string, rows [][]any) (bool, error) {
	classes, err := d.classes(ctx, table, cols)
	if err != nil || classes == nil {
		return false, err
	}
	for _, r := range rows {
		if len(r) != len(cols) {
			return false, nil
		}
		for i, v := range r {
			switch v.(type) {
			case nil, string, []byte:
			case int64:
				if classes[i] == colOther {
					return false, nil
				}
			case float64:
				if classes[i] != colFloat {
					return false, nil
				}
			default:
				return false, nil
			}
		}
	}
	return true, nil
}

// classes returns the class of each quoted column of table, reading the
// table's column types when one is not known yet; nil if a column is
// missing.
func (d *dialect) classes(ctx context.Context, table string, cols []string) ([]colClass, error) {
	out := make([]colClass, len(cols))
	for pass := 0; pass < 2; pass++ {
		d.mu.Lock()
		types := d.types[table]
		d.mu.Unlock()
		missing := types == nil
		for i, c := range cols {
			cl, ok := types[strings.ToLower(unquote(c))]
			if !ok {
				missing = true
				break
			}
			out[i] = cl
		}
		if !missing {
			return out, nil
		}
		if pass == 1 {
			break
		}
		types = map[string]colClass{}
		rows, err := d.db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
			WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, unquote(table))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				rows.Close()
				return nil, err
			}
			types[strings.ToLower(name)] = classOf(typ)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		d.mu.Lock()
		if d.types == nil {
			d.types = map[string]map[string]colClass{}
		}
		d.types[table] = types
		d.mu.Unlock()
	}
	return nil, nil
}

// isIdent reports whether s is a plain name (a character set's).
func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// unquote reverses sqlsink.QuoteMySQL.
func unquote(q string) string {
	if len(q) >= 2 && q[0] == '`' && q[len(q)-1] == '`' {
		return strings.ReplaceAll(q[1:len(q)-1], "``", "`")
	}
	return q
}

// tsvReader renders rows as LOAD DATA text as the driver reads it: fields
// separated by tabs, rows ended by newlines, NULL as \N, and backslash,
// tab, newline, carriage return and NUL escaped with a backslash.
type tsvReader struct {
	rows [][]any
	buf  []byte
	off  int
	sent int            // bytes returned so far
	hook func(sent int) // tests: called before each Read
}

func (r *tsvReader) Read(p []byte) (int, error) {
	if r.hook != nil {
		r.hook(r.sent)
	}
	for len(r.buf)-r.off < len(p) && len(r.rows) > 0 {
		if r.off > 0 {
			r.buf = r.buf[:copy(r.buf, r.buf[r.off:])]
			r.off = 0
		}
		r.buf = appendTSV(r.buf, r.rows[0])
		r.rows = r.rows[1:]
	}
	if r.off == len(r.buf) {
		return 0, io.EOF
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	r.sent += n
	return n, nil
}

func appendTSV(b []byte, row []any) []byte {
	for i, v := range row {
		if i > 0 {
			b = append(b, '\t')
		}
		switch x := v.(type) {
		case nil:
			b = append(b, `\N`...)
		case int64:
			b = strconv.AppendInt(b, x, 10)
		case float64:
			b = strconv.AppendFloat(b, x, 'g', -1, 64)
		case string:
			b = appendEscaped(b, x)
		case []byte:
			b = appendEscaped(b, x)
		}
	}
	return append(b, '\n')
}

func appendEscaped[S string | []byte](b []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case 0:
			esc = '0'
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\', esc)
		start = i + 1
	}
	return append(b, s[start:]...)
}
