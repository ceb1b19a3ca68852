package mysql

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
)

// The bulk path (sqlsink.Copier): the rows of an insert or upsert step go
// in one LOAD DATA LOCAL INFILE, streamed from memory as tab-separated
// text (go-sql-driver's Reader:: handler), under the applier's savepoint
// (sqlsink.GuardSavepoint, set right before the load). The server
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
// The rows are encoded straight from the event values (AppendCopyRow,
// appendLoadValue: the text of the argument MySQLArg would make, without
// making it) by sqlsink's encoder goroutine as the load reads them
// (sqlsink.RowCopier), so conversion and encoding run while the server
// inserts. Whether a group can be a load at all is decided before anything
// is encoded (StartCopy: the same checks as CopyInsert's, on the values'
// argument kinds, need); a value that fails to convert is rejected with
// the statements' error and never sent; a load the server declines is
// rolled back and the encoded rows go as statements. CopyInsert, the same
// load of converted arguments, remains for the groups StartCopy turned
// down (then it declines too, or finds a skipped table's turn again while
// bad rows are isolated).
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

var (
	_ sqlsink.Copier      = (*myTx)(nil)
	_ sqlsink.CopyStarter = (*myTx)(nil)
)

// StartCopy implements sqlsink.CopyStarter: a group is streamed (encoded
// from the event values as the load reads it, AppendCopyRow) when the load
// would be tried for its converted arguments (CopyInsert): the table's
// loads are not being skipped, every column is known, every value's
// argument is one its column takes as text (need), and the client
// character set is known. It changes nothing otherwise: CopyInsert then
// declines the converted rows for the same reason.
func (t *myTx) StartCopy(ctx context.Context, table string, cols []string, rows []sqlsink.Row) (bool, error) {
	d := t.d
	if !d.loadWorth(table) {
		return false, nil
	}
	classes, err := d.classes(ctx, table, cols)
	if err != nil || classes == nil {
		return false, err
	}
	if !loadsAsText(classes, rows) {
		return false, nil
	}
	if err := d.detect(ctx); err != nil {
		return false, err
	}
	d.mu.Lock()
	charset := d.charset
	d.mu.Unlock()
	return isIdent(charset), nil
}

// loadsAsText reports whether every value of rows makes an argument its
// column (classes, in the rows' column order, then the soft-delete
// column's) takes as LOAD DATA text: need(value) <= class. It runs while
// the server waits, once a value of each row: a FLOAT or DOUBLE column
// takes every argument, and an integer or character column every one but
// a floating-point value's, so need is asked only of those.
func loadsAsText(classes []colClass, rows []sqlsink.Row) bool {
	for _, r := range rows {
		s := r.Schema
		if len(r.Vals) != len(s.Columns) || len(r.Vals) > len(classes) {
			return false
		}
		for i := range r.Vals {
			switch classes[i] {
			case colFloat:
			case colInt:
				if r.Vals[i].Kind == event.KindFloat && need(&s.Columns[i], r.Vals[i]) > colInt {
					return false
				}
			default:
				if need(&s.Columns[i], r.Vals[i]) > classes[i] {
					return false
				}
			}
		}
		// The columns after the values' are the soft-delete column's
		// (an integer).
		for _, cl := range classes[len(r.Vals):] {
			if cl < colInt {
				return false
			}
		}
	}
	return true
}

// AppendCopyRow implements sqlsink.RowCopier: one line of LOAD DATA text,
// each field appendTSV's text of the argument Dialect.Arg would send
// (appendLoadValue), the soft-delete column's last.
func (t *myTx) AppendCopyRow(b []byte, s *event.Schema, vals []event.Value, soft, deleted bool) ([]byte, error) {
	for i := range vals {
		if i > 0 {
			b = append(b, '\t')
		}
		var err error
		if b, err = appendLoadValue(b, &s.Columns[i], vals[i]); err != nil {
			return b, err
		}
	}
	if soft {
		if len(vals) > 0 {
			b = append(b, '\t')
		}
		if deleted {
			b = append(b, '1')
		} else {
			b = append(b, '0')
		}
	}
	return append(b, '\n'), nil
}

// CopyRows implements sqlsink.RowCopier with LOAD DATA LOCAL INFILE of the
// encoded rows (see above); it declines as CopyInsert does. upsert makes
// no difference.
func (t *myTx) CopyRows(ctx context.Context, table string, cols []string, data sqlsink.CopyData, _ bool, _ func(string) string) error {
	if !t.d.loadAllowed(table) {
		return sqlsink.ErrCopyDeclined
	}
	err := t.load(ctx, table, cols, data.Reader)
	if err == nil {
		t.d.loadsStreamed.Add(1)
	}
	return err
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
	return t.load(ctx, table, cols, func() io.Reader { return &tsvReader{rows: rows} })
}

// load runs one LOAD DATA LOCAL of the text open returns into table and
// keeps it only when every row sent was inserted without a warning.
// Otherwise it rolls back to the applier's savepoint, set right before
// the call (sqlsink.GuardSavepoint; no savepoint of its own: two round
// trips fewer a load).
func (t *myTx) load(ctx context.Context, table string, cols []string, open func() io.Reader) error {
	d := t.d
	if err := d.detect(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	charset := d.charset
	d.mu.Unlock()
	if !isIdent(charset) {
		return sqlsink.ErrCopyDeclined
	}
	name := "sluice-load-" + strconv.FormatUint(loadSeq.Add(1), 10)
	// The driver calls the handler, and reads the data, inside ExecContext
	// on this goroutine.
	var lr *loadReader
	mysql.RegisterReaderHandler(name, func() io.Reader {
		lr = &loadReader{r: open(), hook: d.readHook}
		return lr
	})
	defer mysql.DeregisterReaderHandler(name)
	res, lerr := t.tx.ExecContext(ctx, loadSQL(name, table, charset, cols))
	if lerr == nil {
		var n int64
		if n, lerr = res.RowsAffected(); lerr == nil {
			var warnings int64
			lerr = t.tx.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings)
			if lerr == nil && lr != nil && n == lr.rows && warnings == 0 {
				d.loadDone(table, true)
				d.loadsKept.Add(1)
				return nil
			}
		}
	}
	var me *mysql.MySQLError
	if lerr != nil && !errors.As(lerr, &me) {
		return lerr // the connection is in doubt: the Write fails and is retried
	}
	if err := t.Exec(ctx, "ROLLBACK TO SAVEPOINT "+sqlsink.GuardSavepoint); err != nil {
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

// loadReader is the data of one load as the driver reads it: it counts the
// rows sent (every row ends with the only unescaped newline of its text).
type loadReader struct {
	r    io.Reader
	rows int64
	sent int            // bytes returned so far
	hook func(sent int) // tests: called before each Read
}

func (r *loadReader) Read(p []byte) (int, error) {
	if r.hook != nil {
		r.hook(r.sent)
	}
	n, err := r.r.Read(p)
	r.rows += int64(bytes.Count(p[:n], newline))
	r.sent += n
	return n, err
}

var newline = []byte{'\n'}

// refusesLocal reports the server refusing LOAD DATA LOCAL (local_infile
// off: MySQL 8's default).
func refusesLocal(me *mysql.MySQLError) bool {
	return me.Number == 1148 || me.Number == 3948 || me.Number == 4166
}

// loadWorth reports whether loadAllowed would allow a load into table
// now, changing nothing.
func (d *dialect) loadWorth(table string) bool {
	if d.noLoad.Load() {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.loads[table]
	return st == nil || st.skip == 0
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
}

func (r *tsvReader) Read(p []byte) (int, error) {
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
	return n, nil
}

func appendTSV(b []byte, row []any) []byte {
	for i, v := range row {
		if i > 0 {
			b = append(b, '\t')
		}
		b = appendArg(b, v)
	}
	return append(b, '\n')
}

// appendArg appends one argument's LOAD DATA text.
func appendArg(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, `\N`...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case string:
		return appendEscaped(b, x)
	case []byte:
		return appendEscaped(b, x)
	}
	return b
}

// need is the least column class that takes the argument
// sqlsink.MySQLArg makes of v (a mirror of its cases): colOther for
// NULL, text and bytes, colInt for integers, colFloat for floating point.
// A value MySQLArg refuses is colOther: the row is rejected either way.
func need(c *event.Column, v event.Value) colClass {
	switch v.Kind {
	case event.KindNull, event.KindUnchanged, event.KindArray:
		return colOther
	}
	switch c.Type {
	case event.TypeBool:
		return colInt
	case event.TypeBytes, event.TypeTimeTZ:
		return colOther
	case event.TypeDate, event.TypeTime, event.TypeTimestamp, event.TypeTimestampTZ:
		if v.Kind == event.KindInt {
			return colOther
		}
	case event.TypeInterval:
		if v.Str != "" {
			return colOther
		}
	}
	switch v.Kind {
	case event.KindInt, event.KindBool:
		return colInt
	case event.KindFloat:
		return colFloat
	}
	return colOther
}

// appendLoadValue appends the LOAD DATA text of the argument
// sqlsink.MySQLArg makes of v, or returns its error: appendArg of
// MySQLArg, without the argument for the common kinds (a mirror of
// MySQLArg's cases; TestLoadValueMatchesArg holds them to it).
func appendLoadValue(b []byte, c *event.Column, v event.Value) ([]byte, error) {
	switch v.Kind {
	case event.KindNull:
		return append(b, `\N`...), nil
	case event.KindUnchanged, event.KindArray:
		return appendConverted(b, c, v)
	}
	switch c.Type {
	case event.TypeBool:
		if v.AsBool() {
			return append(b, '1'), nil
		}
		return append(b, '0'), nil
	case event.TypeBytes:
		return appendEscaped(b, v.Str), nil
	case event.TypeDate, event.TypeTime, event.TypeTimeTZ, event.TypeTimestamp, event.TypeTimestampTZ, event.TypeInterval:
		return appendConverted(b, c, v)
	}
	switch v.Kind {
	case event.KindInt:
		return strconv.AppendInt(b, v.AsInt(), 10), nil
	case event.KindBool:
		if v.AsBool() {
			return append(b, '1'), nil
		}
		return append(b, '0'), nil
	case event.KindFloat:
		f := v.AsFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendConverted(b, c, v)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64), nil
	}
	return appendEscaped(b, v.Str), nil
}

// appendConverted is appendLoadValue through the argument.
func appendConverted(b []byte, c *event.Column, v event.Value) ([]byte, error) {
	x, err := sqlsink.MySQLArg(c, v)
	if err != nil {
		return b, err
	}
	return appendArg(b, x), nil
}

func appendEscaped[S string | []byte](b []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		esc := loadEscape[s[i]]
		if esc == 0 {
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\', esc)
		start = i + 1
	}
	return append(b, s[start:]...)
}

// loadEscape is the letter after the backslash of each byte LOAD DATA's
// text escapes (0: the byte goes as it is).
var loadEscape = [256]byte{'\\': '\\', '\t': 't', '\n': 'n', '\r': 'r', 0: '0'}
