package sqlsink

import (
	"strconv"

	"github.com/sluice-dev/sluice/event"
)

// MySQL limits that shape the mapping.
const (
	// MySQLKeyVarchar is the VARCHAR length of a text key column without a
	// declared length (or one too long to index): utf8mb4 takes up to 4
	// bytes a character and InnoDB indexes at most 3072 bytes, so 255 leaves
	// room for composite keys, as Debezium's JDBC sink does.
	MySQLKeyVarchar = 255
	// mysqlMaxKeyVarchar is the longest declared varchar kept as a key.
	mysqlMaxKeyVarchar = 768
	// mysqlMaxVarchar is the longest declared varchar kept as VARCHAR for a
	// non-key column (longer ones become LONGTEXT: a row holds 65535 bytes).
	mysqlMaxVarchar = 4096
)

// PGType returns the PostgreSQL column type for c. Types are kept as the
// source declares them where PostgreSQL has them (length, precision, scale,
// fractional seconds); enums become text (the sink creates no types), money
// numeric(19,2) (money's text form depends on lc_monetary).
func PGType(c *event.Column) string {
	switch c.Type {
	case event.TypeBool:
		return "boolean"
	case event.TypeInt16:
		return "smallint"
	case event.TypeInt32:
		return "integer"
	case event.TypeInt64:
		return "bigint"
	case event.TypeFloat32:
		return "real"
	case event.TypeFloat64:
		return "double precision"
	case event.TypeDecimal:
		if c.Precision <= 0 { // unconstrained (a negative scale with a precision is PostgreSQL 15's rounding)
			return "numeric"
		}
		return "numeric(" + strconv.Itoa(c.Precision) + "," + strconv.Itoa(c.Scale) + ")"
	case event.TypeMoney:
		return "numeric(19,2)"
	case event.TypeString:
		switch {
		case c.Length > 0 && (c.TypeName == "bpchar" || c.TypeName == "char" || c.TypeName == "character"):
			return "character(" + strconv.Itoa(c.Length) + ")"
		case c.Length > 0:
			return "character varying(" + strconv.Itoa(c.Length) + ")"
		}
		return "text"
	case event.TypeBytes:
		return "bytea"
	case event.TypeUUID:
		return "uuid"
	case event.TypeJSON:
		if c.TypeName == "json" {
			return "json"
		}
		return "jsonb"
	case event.TypeDate:
		return "date"
	case event.TypeTime:
		return "time" + fsp(c) + " without time zone"
	case event.TypeTimeTZ:
		return "time" + fsp(c) + " with time zone"
	case event.TypeTimestamp:
		return "timestamp" + fsp(c) + " without time zone"
	case event.TypeTimestampTZ:
		return "timestamp" + fsp(c) + " with time zone"
	case event.TypeInterval:
		return "interval"
	case event.TypeXML:
		return "xml"
	case event.TypeInet:
		switch c.TypeName {
		case "inet", "cidr", "macaddr", "macaddr8":
			return c.TypeName
		}
		return "text"
	case event.TypeArray:
		if c.Elem == nil || c.Elem.Type == event.TypeArray {
			return "text[]"
		}
		return PGType(c.Elem) + "[]"
	}
	// Enums and types the source could not name are written as text.
	return "text"
}

// fsp renders declared fractional-second digits; 0 means the default (6).
func fsp(c *event.Column) string {
	if c.Precision >= 1 && c.Precision <= 5 {
		return "(" + strconv.Itoa(c.Precision) + ")"
	}
	return ""
}

// MySQLType returns the MySQL/MariaDB column type for c; key says whether
// it is part of the primary key (text and binary keys need a length).
//
// Decisions: timestamps with a zone are DATETIME(6) holding UTC (the sink's
// session runs with time_zone '+00:00'), since TIMESTAMP ends in 2038;
// numeric without a declared precision (or one MySQL cannot hold: precision
// above 65, scale above 30) is DECIMAL(65,30), which keeps 35 integer and 30
// fractional digits; arrays are JSON arrays; intervals are their ISO 8601
// text; time with time zone is TIME(6) holding the UTC time.
func MySQLType(c *event.Column, key bool) string {
	switch c.Type {
	case event.TypeBool:
		return "TINYINT(1)"
	case event.TypeInt16:
		return "SMALLINT"
	case event.TypeInt32:
		return "INT"
	case event.TypeInt64:
		return "BIGINT"
	case event.TypeFloat32:
		return "FLOAT"
	case event.TypeFloat64:
		return "DOUBLE"
	case event.TypeDecimal:
		p, s := c.Precision, c.Scale
		if s < 0 && p > 0 && p-s <= 65 { // PostgreSQL 15 negative scale: rounds to 10^-s
			return "DECIMAL(" + strconv.Itoa(p-s) + ",0)"
		}
		if s < 0 || p <= 0 || p > 65 || s > 30 {
			return "DECIMAL(65,30)"
		}
		return "DECIMAL(" + strconv.Itoa(p) + "," + strconv.Itoa(s) + ")"
	case event.TypeMoney:
		return "DECIMAL(19,2)"
	case event.TypeBytes:
		if key {
			return "VARBINARY(" + strconv.Itoa(MySQLKeyVarchar) + ")"
		}
		return "LONGBLOB"
	case event.TypeUUID:
		return "CHAR(36)"
	case event.TypeJSON, event.TypeArray:
		if key {
			return "VARCHAR(" + strconv.Itoa(MySQLKeyVarchar) + ")"
		}
		return "JSON"
	case event.TypeDate:
		return "DATE"
	case event.TypeTime, event.TypeTimeTZ:
		return "TIME" + mysqlFsp(c)
	case event.TypeTimestamp, event.TypeTimestampTZ:
		return "DATETIME" + mysqlFsp(c)
	case event.TypeInterval:
		return "VARCHAR(64)"
	case event.TypeInet:
		return "VARCHAR(64)"
	case event.TypeEnum:
		return "VARCHAR(255)"
	}
	// Strings, XML and unknown types. char(n) becomes VARCHAR(n) too:
	// MySQL's CHAR strips trailing spaces on read, PostgreSQL keeps them.
	switch {
	case key && c.Length > 0 && c.Length <= mysqlMaxKeyVarchar:
		return "VARCHAR(" + strconv.Itoa(c.Length) + ")"
	case key:
		return "VARCHAR(" + strconv.Itoa(MySQLKeyVarchar) + ")"
	case c.Length > 0 && c.Length <= mysqlMaxVarchar:
		return "VARCHAR(" + strconv.Itoa(c.Length) + ")"
	}
	return "LONGTEXT"
}

func mysqlFsp(c *event.Column) string {
	if c.Precision >= 1 && c.Precision <= 5 {
		return "(" + strconv.Itoa(c.Precision) + ")"
	}
	return "(6)"
}
