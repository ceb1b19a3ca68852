package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// tableRef names a table.
type tableRef struct{ db, name string }

func (r tableRef) String() string { return r.db + "." + r.name }
func (r tableRef) quoted() string { return quoteIdent(r.db) + "." + quoteIdent(r.name) }

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// resolveTables expands the configured db.table patterns.
func resolveTables(ctx context.Context, db *sql.DB, patterns []string) ([]tableRef, error) {
	var refs []tableRef
	seen := map[tableRef]bool{}
	for _, p := range patterns {
		schema, pat, _ := strings.Cut(p, ".")
		rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME FROM information_schema.TABLES
			WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`, schema)
		if err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", schema, err)
		}
		n := 0
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return nil, fmt.Errorf("list tables of %s: %w", schema, err)
			}
			if ok, _ := path.Match(pat, name); ok {
				n++
				r := tableRef{schema, name}
				if !seen[r] {
					seen[r] = true
					refs = append(refs, r)
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", schema, err)
		}
		if n == 0 {
			return nil, component.Permanent(fmt.Errorf("tables: %q matches no table", p))
		}
	}
	return refs, nil
}

// tableState is one captured table's current schema.
type tableState struct {
	ref   tableRef
	sch   *event.Schema
	types []*colType
	// tm is the TABLE_MAP layout this state was built for (nil: from the
	// catalog); equal layouts reuse the state without a lookup.
	tmTypes []byte
	tmMeta  []uint16
	tmNames [][]byte
	// stale is set by DDL on the table's database: the next TABLE_MAP
	// re-reads the catalog even if its layout looks unchanged.
	stale bool
}

// isColumn is one row of information_schema.COLUMNS.
type isColumn struct {
	name, dataType, columnType, nullable, charset string
	charLen, precision, scale, fsp                sql.NullInt64
	key                                           bool
	json                                          bool
}

var jsonCheckRe = regexp.MustCompile("^json_valid\\(`([^`]+)`\\)$")

// loadColumns reads a table's columns from information_schema.
func loadColumns(ctx context.Context, db *sql.DB, ref tableRef) ([]isColumn, error) {
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE,
			COALESCE(CHARACTER_SET_NAME, ''), CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, ref.db, ref.name)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", ref, err)
	}
	defer rows.Close()
	var cols []isColumn
	for rows.Next() {
		var c isColumn
		if err := rows.Scan(&c.name, &c.dataType, &c.columnType, &c.nullable, &c.charset, &c.charLen, &c.precision, &c.scale, &c.fsp); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", ref, err)
		}
		// DATA_TYPE is a keyword; COLUMN_TYPE keeps its case: it holds
		// ENUM and SET labels, which are data.
		c.dataType = strings.ToLower(c.dataType)
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("columns of %s: %w", ref, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s does not exist or has no columns", ref)
	}
	keys, err := db.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, ref.db, ref.name)
	if err != nil {
		return nil, fmt.Errorf("primary key of %s: %w", ref, err)
	}
	defer keys.Close()
	var keyNames []string
	for keys.Next() {
		var k string
		if err := keys.Scan(&k); err != nil {
			return nil, fmt.Errorf("primary key of %s: %w", ref, err)
		}
		keyNames = append(keyNames, k)
	}
	if err := keys.Err(); err != nil {
		return nil, fmt.Errorf("primary key of %s: %w", ref, err)
	}
	// MariaDB's JSON is LONGTEXT with a CHECK (json_valid(col)) constraint
	// named after the column. MySQL has no such table before 8.0.16 and
	// a real JSON type: a failed lookup is not an error.
	jsonCols := map[string]bool{}
	if checks, err := db.QueryContext(ctx, `SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
		WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`, ref.db, ref.name); err == nil {
		for checks.Next() {
			var clause string
			if checks.Scan(&clause) == nil {
				if m := jsonCheckRe.FindStringSubmatch(clause); m != nil {
					jsonCols[m[1]] = true
				}
			}
		}
		checks.Close()
	}
	for i := range cols {
		cols[i].key = slices.Contains(keyNames, cols[i].name)
		cols[i].json = jsonCols[cols[i].name] && strings.HasSuffix(cols[i].dataType, "text")
	}
	// Key order follows the primary key's, not the columns'.
	return orderKeys(cols, keyNames), nil
}

func orderKeys(cols []isColumn, keyNames []string) []isColumn { return cols }

var enumRe = regexp.MustCompile(`'((?:[^']|'')*)'`)

// parseLabels returns the labels of an ENUM or SET COLUMN_TYPE exactly as
// declared: case kept, and the escapes the server writes there (MySQL's and
// MariaDB's append_unescaped: a doubled quote, and a backslash before a
// backslash, n, r or 0) undone. For example
//
//	enum('M','it''s','a\\b')  →  M, it's, a\b
func parseLabels(columnType string) []string {
	open := strings.IndexByte(columnType, '(')
	if open < 0 {
		return nil
	}
	var out []string
	for _, m := range enumRe.FindAllStringSubmatch(columnType[open:], -1) {
		out = append(out, unescapeLabel(m[1]))
	}
	return out
}

func unescapeLabel(s string) string {
	if !strings.ContainsAny(s, `'\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case '0':
				c = 0
			default:
				c = s[i]
			}
		}
		b = append(b, c)
	}
	return string(b)
}

// unsupportedError names the table, column and type that cannot be captured.
func unsupportedError(ref tableRef, col, typ string) error {
	return component.Permanent(fmt.Errorf("table %s column %s: type %s is not supported; exclude the table or change the column's type", ref, col, typ))
}

func charsetOf(ref tableRef, col, cs string) (charset, error) {
	switch cs {
	case "", "utf8mb4", "utf8mb3", "utf8", "ascii":
		return csUTF8, nil
	case "latin1":
		return csLatin1, nil
	case "binary":
		return csBinary, nil
	}
	return 0, component.Permanent(fmt.Errorf("table %s column %s: character set %s is not supported (utf8mb4, utf8mb3, ascii, latin1 are)", ref, col, cs))
}

// mapColumn maps one information_schema column.
func mapColumn(ref tableRef, c *isColumn) (event.Column, *colType, error) {
	col := event.Column{Name: c.name, TypeName: c.dataType, Optional: c.nullable == "YES", Key: c.key}
	ct := &colType{}
	unsigned := strings.Contains(strings.ToLower(c.columnType), "unsigned")
	intType := func(signed, uns event.Type) {
		ct.numeric = true
		if unsigned {
			col.Type, ct.kind = uns, vUint
			col.TypeName += " unsigned"
		} else {
			col.Type, ct.kind = signed, vInt
		}
	}
	switch c.dataType {
	case "tinyint":
		intType(event.TypeInt16, event.TypeInt16)
	case "smallint":
		intType(event.TypeInt16, event.TypeInt32)
	case "mediumint":
		intType(event.TypeInt32, event.TypeInt32)
		ct.size = 24
	case "int", "integer":
		intType(event.TypeInt32, event.TypeInt64)
	case "bigint":
		intType(event.TypeInt64, event.TypeDecimal)
		if unsigned {
			ct.kind, col.Precision, col.Scale = vUint64, 20, 0
		}
	case "float":
		col.Type, ct.kind, ct.numeric = event.TypeFloat32, vFloat32, true
	case "double", "real":
		col.Type, ct.kind, ct.numeric = event.TypeFloat64, vFloat64, true
	case "decimal", "numeric":
		col.Type, ct.kind, ct.numeric = event.TypeDecimal, vDecimal, true
		col.Precision, col.Scale = int(c.precision.Int64), int(c.scale.Int64)
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		cs, err := charsetOf(ref, c.name, c.charset)
		if err != nil {
			return col, nil, err
		}
		col.Type, ct.kind, ct.cs = event.TypeString, vString, cs
		if c.json {
			col.Type, ct.kind, col.TypeName = event.TypeJSON, vJSON, "json"
		}
		if c.dataType == "char" || c.dataType == "varchar" {
			col.Length = int(c.charLen.Int64)
		}
	case "json":
		col.Type, ct.kind = event.TypeJSON, vJSON
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		col.Type, ct.kind, ct.cs = event.TypeBytes, vBytes, csBinary
		if c.dataType == "binary" || c.dataType == "varbinary" {
			col.Length = int(c.charLen.Int64)
		}
		if c.dataType == "binary" {
			ct.padBin, ct.size = true, col.Length
		}
	case "enum":
		ct.labels = parseLabels(c.columnType)
		col.Type, ct.kind, col.EnumValues = event.TypeEnum, vEnum, ct.labels
	case "set":
		ct.labels = parseLabels(c.columnType)
		col.Type, ct.kind, col.EnumValues = event.TypeString, vSet, ct.labels
	case "bit":
		n := int(c.precision.Int64)
		if n == 0 {
			if o := strings.IndexByte(c.columnType, '('); o >= 0 {
				n, _ = strconv.Atoi(strings.TrimSuffix(c.columnType[o+1:], ")"))
			}
		}
		col.Length, ct.size = n, n
		if n == 1 {
			col.Type, ct.kind = event.TypeBool, vBool
		} else {
			col.Type, ct.kind = event.TypeBytes, vBits
		}
	case "date":
		col.Type, ct.kind = event.TypeDate, vDate
	case "time":
		col.Type, ct.kind, col.Precision = event.TypeTime, vTime, int(c.fsp.Int64)
	case "datetime":
		col.Type, ct.kind, col.Precision = event.TypeTimestamp, vDatetime, int(c.fsp.Int64)
	case "timestamp":
		col.Type, ct.kind, col.Precision = event.TypeTimestampTZ, vTimestamp, int(c.fsp.Int64)
	case "year":
		col.Type, ct.kind, ct.numeric = event.TypeInt32, vYear, true
	default:
		return col, nil, unsupportedError(ref, c.name, c.columnType)
	}
	return col, ct, nil
}

// buildSchema builds a schema from information_schema columns.
func buildSchema(base event.Schema, ref tableRef, cols []isColumn) (*event.Schema, []*colType, error) {
	sch := base
	types := make([]*colType, len(cols))
	for i := range cols {
		col, ct, err := mapColumn(ref, &cols[i])
		if err != nil {
			return nil, nil, err
		}
		if col.Key {
			sch.KeyIdx = append(sch.KeyIdx, i)
		}
		sch.Columns = append(sch.Columns, col)
		types[i] = ct
	}
	return &sch, types, nil
}

// fitsTableMap reports whether the catalog's columns describe the rows of a
// TABLE_MAP: same count, same names where the event has them (binlog_row_-
// metadata=FULL), and binlog types that belong to the catalog's types.
func fitsTableMap(tm *replication.TableMapEvent, sch *event.Schema, types []*colType) bool {
	if int(tm.ColumnCount) != len(sch.Columns) {
		return false
	}
	names := tm.ColumnName
	for i := range sch.Columns {
		if len(names) == len(sch.Columns) && string(names[i]) != sch.Columns[i].Name {
			return false
		}
		if !binlogTypeFits(realType(tm, i), types[i].kind) {
			return false
		}
	}
	return true
}

// realType is the column's binlog type, with ENUM and SET (logged as
// STRING with the real type in the metadata) resolved.
func realType(tm *replication.TableMapEvent, i int) byte {
	t := tm.ColumnType[i]
	if t == gomysql.MYSQL_TYPE_STRING && i < len(tm.ColumnMeta) {
		if rt := byte(tm.ColumnMeta[i] >> 8); rt == gomysql.MYSQL_TYPE_ENUM || rt == gomysql.MYSQL_TYPE_SET {
			return rt
		}
	}
	return t
}

func binlogTypeFits(t byte, k vkind) bool {
	switch k {
	case vInt, vUint, vUint64:
		return t == gomysql.MYSQL_TYPE_TINY || t == gomysql.MYSQL_TYPE_SHORT || t == gomysql.MYSQL_TYPE_INT24 ||
			t == gomysql.MYSQL_TYPE_LONG || t == gomysql.MYSQL_TYPE_LONGLONG
	case vFloat32:
		return t == gomysql.MYSQL_TYPE_FLOAT
	case vFloat64:
		return t == gomysql.MYSQL_TYPE_DOUBLE
	case vDecimal:
		return t == gomysql.MYSQL_TYPE_NEWDECIMAL
	case vString, vBytes, vJSON:
		return t == gomysql.MYSQL_TYPE_VARCHAR || t == gomysql.MYSQL_TYPE_VAR_STRING || t == gomysql.MYSQL_TYPE_STRING ||
			t == gomysql.MYSQL_TYPE_BLOB || t == gomysql.MYSQL_TYPE_JSON
	case vEnum:
		return t == gomysql.MYSQL_TYPE_ENUM
	case vSet:
		return t == gomysql.MYSQL_TYPE_SET
	case vBool, vBits:
		return t == gomysql.MYSQL_TYPE_BIT
	case vDate:
		return t == gomysql.MYSQL_TYPE_DATE || t == gomysql.MYSQL_TYPE_NEWDATE
	case vTime:
		return t == gomysql.MYSQL_TYPE_TIME || t == gomysql.MYSQL_TYPE_TIME2
	case vDatetime:
		return t == gomysql.MYSQL_TYPE_DATETIME || t == gomysql.MYSQL_TYPE_DATETIME2
	case vTimestamp:
		return t == gomysql.MYSQL_TYPE_TIMESTAMP || t == gomysql.MYSQL_TYPE_TIMESTAMP2
	case vYear:
		return t == gomysql.MYSQL_TYPE_YEAR
	}
	return false
}

// schemaFromTableMap builds a schema from a TABLE_MAP with full metadata
// alone, for when the catalog has moved on (a later ALTER TABLE already ran):
// names, binlog types, signedness, character sets, enum and set labels and
// the primary key come from the event; declared lengths, defaults and
// MariaDB's JSON marker are not in it (such columns are strings).
func schemaFromTableMap(base event.Schema, ref tableRef, tm *replication.TableMapEvent) (*event.Schema, []*colType, error) {
	n := int(tm.ColumnCount)
	if len(tm.ColumnName) != n {
		return nil, nil, component.Permanent(fmt.Errorf("table %s: the binlog's table map (%d columns) does not match the catalog and carries no column names; "+
			"set binlog_row_metadata=FULL (MySQL 8.0.1+, MariaDB 10.5+) so columns map across ALTER TABLE", ref, n))
	}
	uns := tm.UnsignedMap()
	colls := tm.CollationMap()
	enums := tm.EnumStrValueMap()
	sets := tm.SetStrValueMap()
	keys := map[int]bool{}
	for _, k := range tm.PrimaryKey {
		keys[int(k)] = true
	}
	sch := base
	types := make([]*colType, n)
	for i := 0; i < n; i++ {
		c := isColumn{name: string(tm.ColumnName[i]), nullable: "YES", key: keys[i]}
		if avail, null := tm.Nullable(i); avail && !null {
			c.nullable = "NO"
		}
		meta := uint16(0)
		if i < len(tm.ColumnMeta) {
			meta = tm.ColumnMeta[i]
		}
		u := ""
		if uns[i] {
			u = " unsigned"
		}
		binaryCS := colls[i] == 63
		if !binaryCS {
			c.charset = collationCharset(colls[i])
		}
		switch t := realType(tm, i); t {
		case gomysql.MYSQL_TYPE_TINY:
			c.dataType = "tinyint"
		case gomysql.MYSQL_TYPE_SHORT:
			c.dataType = "smallint"
		case gomysql.MYSQL_TYPE_INT24:
			c.dataType = "mediumint"
		case gomysql.MYSQL_TYPE_LONG:
			c.dataType = "int"
		case gomysql.MYSQL_TYPE_LONGLONG:
			c.dataType = "bigint"
		case gomysql.MYSQL_TYPE_FLOAT:
			c.dataType = "float"
		case gomysql.MYSQL_TYPE_DOUBLE:
			c.dataType = "double"
		case gomysql.MYSQL_TYPE_NEWDECIMAL:
			c.dataType = "decimal"
			c.precision = sql.NullInt64{Int64: int64(meta >> 8), Valid: true}
			c.scale = sql.NullInt64{Int64: int64(meta & 0xff), Valid: true}
		case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING, gomysql.MYSQL_TYPE_STRING:
			c.dataType = "varchar"
			if binaryCS {
				c.dataType = "varbinary"
			}
		case gomysql.MYSQL_TYPE_BLOB:
			c.dataType = "longtext"
			if binaryCS {
				c.dataType = "longblob"
			}
		case gomysql.MYSQL_TYPE_JSON:
			c.dataType = "json"
		case gomysql.MYSQL_TYPE_ENUM:
			c.dataType = "enum"
		case gomysql.MYSQL_TYPE_SET:
			c.dataType = "set"
		case gomysql.MYSQL_TYPE_BIT:
			c.dataType = "bit"
			c.precision = sql.NullInt64{Int64: int64(meta>>8)*8 + int64(meta&0xff), Valid: true}
		case gomysql.MYSQL_TYPE_DATE, gomysql.MYSQL_TYPE_NEWDATE:
			c.dataType = "date"
		case gomysql.MYSQL_TYPE_TIME, gomysql.MYSQL_TYPE_TIME2:
			c.dataType, c.fsp = "time", sql.NullInt64{Int64: int64(meta), Valid: true}
		case gomysql.MYSQL_TYPE_DATETIME, gomysql.MYSQL_TYPE_DATETIME2:
			c.dataType, c.fsp = "datetime", sql.NullInt64{Int64: int64(meta), Valid: true}
		case gomysql.MYSQL_TYPE_TIMESTAMP, gomysql.MYSQL_TYPE_TIMESTAMP2:
			c.dataType, c.fsp = "timestamp", sql.NullInt64{Int64: int64(meta), Valid: true}
		case gomysql.MYSQL_TYPE_YEAR:
			c.dataType = "year"
		default:
			return nil, nil, unsupportedError(ref, c.name, fmt.Sprintf("binlog type %d", t))
		}
		c.columnType = c.dataType + u
		col, ct, err := mapColumn(ref, &c)
		if err != nil {
			return nil, nil, err
		}
		switch ct.kind {
		case vEnum:
			ct.labels, col.EnumValues = enums[i], enums[i]
		case vSet:
			ct.labels, col.EnumValues = sets[i], sets[i]
		}
		if col.Key {
			sch.KeyIdx = append(sch.KeyIdx, i)
		}
		sch.Columns = append(sch.Columns, col)
		types[i] = ct
	}
	if len(tm.PrimaryKey) > 0 {
		sch.KeyIdx = sch.KeyIdx[:0]
		for _, k := range tm.PrimaryKey {
			sch.KeyIdx = append(sch.KeyIdx, int(k))
		}
	}
	return &sch, types, nil
}

// collationCharset names the character set of the collations sluice
// decodes; others are refused by charsetOf.
func collationCharset(id uint64) string {
	switch id {
	case 8, 31, 47, 48, 49, 94, 1032, 1055, 1079, 1080, 1118: // latin1_*
		return "latin1"
	case 11, 65: // ascii
		return "ascii"
	case 33, 83, 192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 223, 576, 577, 1057, 1069, 1091, 1115, 1216:
		return "utf8mb3"
	case 0:
		return ""
	}
	if (id >= 45 && id <= 46) || (id >= 224 && id <= 247) || (id >= 255 && id <= 323) || id == 2048 || (id >= 1069 && id <= 2100) {
		return "utf8mb4"
	}
	return "collation " + strconv.FormatUint(id, 10)
}

// sameShape reports whether two schemas describe the same columns.
func sameShape(a, b *event.Schema) bool {
	if len(a.Columns) != len(b.Columns) || !slices.Equal(a.KeyIdx, b.KeyIdx) {
		return false
	}
	for i := range a.Columns {
		x, y := a.Columns[i], b.Columns[i]
		if x.Name != y.Name || x.Type != y.Type || x.TypeName != y.TypeName || x.Optional != y.Optional ||
			x.Length != y.Length || x.Precision != y.Precision || x.Scale != y.Scale || !slices.Equal(x.EnumValues, y.EnumValues) {
			return false
		}
	}
	return true
}
