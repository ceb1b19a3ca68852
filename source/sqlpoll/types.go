package sqlpoll

import (
	"database/sql"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// columnType is what a result set reports about one of its columns:
// database/sql's *sql.ColumnType, or pgColumn for the PostgreSQL read path,
// which reports the same from pgx's field descriptions.
type columnType interface {
	Name() string
	DatabaseTypeName() string
	Nullable() (nullable, ok bool)
	DecimalSize() (precision, scale int64, ok bool)
	Length() (length int64, ok bool)
}

var _ columnType = (*sql.ColumnType)(nil)

// column builds the event column of one result-set column from what
// database/sql reports. The type comes from DatabaseTypeName (upper-case,
// any "(n)" suffix dropped), which each driver fills from the database's
// own type: pgx from the type OID, go-sql-driver/mysql from the field type,
// modernc sqlite from the declared type.
func column(ct columnType) event.Column {
	name := strings.ToUpper(ct.DatabaseTypeName())
	if i := strings.IndexByte(name, '('); i >= 0 {
		name = strings.TrimSpace(name[:i])
	}
	c := event.Column{Name: ct.Name(), TypeName: strings.ToLower(name), Type: typeOf(name)}
	if n, ok := ct.Nullable(); ok {
		c.Optional = n
	} else {
		c.Optional = true
	}
	if c.Type == event.TypeDecimal {
		c.Scale = -1
		if p, s, ok := ct.DecimalSize(); ok && p > 0 && p < 1000 {
			c.Precision, c.Scale = int(p), int(s)
		}
	}
	if c.Type == event.TypeString {
		if l, ok := ct.Length(); ok && l > 0 && l < math.MaxInt32 {
			c.Length = int(l)
		}
	}
	return c
}

// typeOf maps an upper-case database type name to a logical type. Unknown
// names become TypeUnknown, carried as text when the driver gives text.
func typeOf(name string) event.Type {
	switch name {
	case "BOOL", "BOOLEAN":
		return event.TypeBool
	case "INT2", "SMALLINT", "TINYINT", "UNSIGNED TINYINT", "YEAR":
		return event.TypeInt16
	case "INT4", "INT", "INTEGER", "MEDIUMINT", "UNSIGNED SMALLINT", "UNSIGNED MEDIUMINT":
		return event.TypeInt32
	case "INT8", "BIGINT", "UNSIGNED INT":
		return event.TypeInt64
	case "UNSIGNED BIGINT":
		return event.TypeDecimal // above int64's range; exact text
	case "FLOAT4", "FLOAT":
		return event.TypeFloat32
	case "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL":
		return event.TypeFloat64
	case "NUMERIC", "DECIMAL":
		return event.TypeDecimal
	case "TEXT", "VARCHAR", "CHAR", "BPCHAR", "NAME", "CITEXT", "TINYTEXT", "MEDIUMTEXT", "LONGTEXT",
		"CHARACTER", "CHARACTER VARYING", "NVARCHAR", "NCHAR", "CLOB", "ENUM", "SET":
		return event.TypeString
	case "BYTEA", "BLOB", "BINARY", "VARBINARY", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "BIT", "GEOMETRY":
		return event.TypeBytes
	case "UUID":
		return event.TypeUUID
	case "JSON", "JSONB":
		return event.TypeJSON
	case "DATE":
		return event.TypeDate
	case "TIME":
		return event.TypeTime
	case "TIMESTAMP", "DATETIME":
		return event.TypeTimestamp
	case "TIMESTAMPTZ":
		return event.TypeTimestampTZ
	}
	return event.TypeUnknown
}

// fixTypes adjusts types whose meaning depends on the driver: MySQL's
// TIMESTAMP is an instant (read in the session zone, UTC), PostgreSQL's
// REAL is float4, SQLite's REAL is a double.
func fixTypes(driver string, cols []event.Column) {
	for i := range cols {
		c := &cols[i]
		switch {
		case driver == DriverMySQL && c.TypeName == "timestamp":
			c.Type = event.TypeTimestampTZ
		case driver == DriverPostgres && c.TypeName == "real":
			c.Type = event.TypeFloat32
		case driver == DriverSQLite && c.TypeName == "float":
			c.Type = event.TypeFloat64
		}
	}
}

const microsPerDay = 86_400_000_000

// convert turns one scanned value into an event value of column c's type.
// Drivers hand back different Go types for the same column (MySQL's text
// protocol gives []byte for everything, its binary protocol int64s), so
// each logical type accepts every form it can meet; anything else is an
// error naming the column, never a silent NULL.
func convert(c *event.Column, v any) (event.Value, error) {
	if v == nil {
		return event.Null, nil
	}
	bad := func() (event.Value, error) {
		return event.Null, fmt.Errorf("column %q (%s): cannot read a %T value as %s", c.Name, c.TypeName, v, c.Type)
	}
	switch c.Type {
	case event.TypeBool:
		switch x := v.(type) {
		case bool:
			return event.Bool(x), nil
		case int64:
			return event.Bool(x != 0), nil
		case []byte, string:
			b, err := strconv.ParseBool(text(x))
			if err != nil {
				return bad()
			}
			return event.Bool(b), nil
		}
	case event.TypeInt16, event.TypeInt32, event.TypeInt64:
		switch x := v.(type) {
		case int64:
			return event.Int(x), nil
		case int32:
			return event.Int(int64(x)), nil
		case uint64:
			if x > math.MaxInt64 {
				return bad()
			}
			return event.Int(int64(x)), nil
		case []byte, string:
			i, err := strconv.ParseInt(text(x), 10, 64)
			if err != nil {
				return bad()
			}
			return event.Int(i), nil
		}
	case event.TypeFloat32, event.TypeFloat64:
		switch x := v.(type) {
		// A float32 column carries the stored float32 widened exactly, as
		// every source gives it (event.TypeFloat32); encoders print it
		// through float32, so 1.1 is still written 1.1.
		case float64:
			if c.Type == event.TypeFloat32 {
				return event.Float(float64(float32(x))), nil
			}
			return event.Float(x), nil
		case float32:
			return event.Float(float64(x)), nil
		case int64:
			if c.Type == event.TypeFloat32 {
				return event.Float(float64(float32(x))), nil
			}
			return event.Float(float64(x)), nil
		case []byte, string:
			bits := 64
			if c.Type == event.TypeFloat32 {
				bits = 32
			}
			f, err := strconv.ParseFloat(text(x), bits)
			if err != nil {
				return bad()
			}
			return event.Float(f), nil
		}
	case event.TypeDecimal:
		switch x := v.(type) {
		case []byte, string:
			return event.Decimal(text(x)), nil
		case int64:
			return event.Decimal(strconv.FormatInt(x, 10)), nil
		case uint64:
			return event.Decimal(strconv.FormatUint(x, 10)), nil
		case float64: // SQLite stores NUMERIC with a fraction as REAL
			return event.Decimal(strconv.FormatFloat(x, 'f', -1, 64)), nil
		}
	case event.TypeString, event.TypeJSON, event.TypeUUID:
		switch x := v.(type) {
		case []byte, string:
			return event.String(text(x)), nil
		case [16]byte:
			return event.String(uuidText(x)), nil
		}
	case event.TypeBytes:
		switch x := v.(type) {
		case []byte:
			return event.Bytes(x), nil
		case string:
			return event.Value{Kind: event.KindBytes, Str: x}, nil
		}
	case event.TypeDate:
		switch x := v.(type) {
		case time.Time:
			return event.Int(wallDays(x)), nil
		case []byte, string:
			t, err := time.Parse(time.DateOnly, text(x))
			if err != nil {
				return bad()
			}
			return event.Int(t.Unix() / 86400), nil
		}
	case event.TypeTime:
		switch x := v.(type) {
		case []byte, string:
			us, err := parseClock(text(x))
			if err != nil {
				return bad()
			}
			return event.Int(us), nil
		case time.Time:
			return event.Int(wallMicros(x) - wallMicros(x)/microsPerDay*microsPerDay), nil
		}
	case event.TypeTimestamp, event.TypeTimestampTZ:
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x
		case []byte, string:
			var err error
			if t, err = parseTimestamp(text(x)); err != nil {
				return bad()
			}
		case int64: // SQLite: unix seconds in a DATETIME column
			return event.Int(x * 1_000_000), nil
		default:
			return bad()
		}
		if c.Type == event.TypeTimestampTZ {
			return event.Int(t.UnixMicro()), nil
		}
		return event.Int(wallMicros(t)), nil
	default: // TypeUnknown: the driver's text form
		switch x := v.(type) {
		case []byte, string:
			return event.String(text(x)), nil
		case int64:
			return event.String(strconv.FormatInt(x, 10)), nil
		case float64:
			return event.String(strconv.FormatFloat(x, 'g', -1, 64)), nil
		case bool:
			return event.String(strconv.FormatBool(x)), nil
		case time.Time:
			return event.String(x.Format(time.RFC3339Nano)), nil
		}
	}
	return bad()
}

func text(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v.(string)
}

// wallMicros returns t's wall clock as microseconds since the epoch, as if
// it were UTC: a timestamp without zone keeps the digits it was written with.
func wallMicros(t time.Time) int64 {
	_, off := t.Zone()
	return t.UnixMicro() + int64(off)*1_000_000
}

// wallDays returns t's wall-clock date as days since the epoch. Dates past
// year 294,000 (PostgreSQL's reach 5874897) are counted in seconds: their
// microseconds overflow int64.
func wallDays(t time.Time) int64 {
	if y := t.Year(); y > -290_000 && y < 290_000 {
		return wallMicros(t) / microsPerDay
	}
	_, off := t.Zone()
	sec := t.Unix() + int64(off)
	d := sec / 86400
	if sec%86400 < 0 {
		d-- // floor: days before the epoch
	}
	return d
}

func uuidText(u [16]byte) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// parseTimestamp reads "YYYY-MM-DD[ T]HH:MM:SS[.frac][Z|±hh[:mm]]" or a bare
// date; without a zone the time is UTC.
func parseTimestamp(s string) (time.Time, error) {
	if t, ok := fastTimestamp(s); ok {
		return t, nil
	}
	for _, layout := range []string{
		"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999Z07", "2006-01-02T15:04:05.999999999Z07",
		"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04", "2006-01-02T15:04", time.DateOnly,
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}

// parseClock reads [-]HH:MM:SS[.frac] (MySQL's TIME may exceed 24 hours or
// be negative) as microseconds.
func parseClock(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	hms, frac, _ := strings.Cut(s, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("%q is not a time", s)
	}
	var us int64
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 || (i > 0 && n > 59) {
			return 0, fmt.Errorf("%q is not a time", s)
		}
		us = us*60 + n
	}
	us *= 1_000_000
	if frac != "" {
		if len(frac) > 9 {
			return 0, fmt.Errorf("%q is not a time", s)
		}
		f, err := strconv.ParseInt((frac + "000000")[:6], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a time", s)
		}
		us += f
	}
	if neg {
		us = -us
	}
	return us, nil
}

// fastTimestamp parses the zone-less "YYYY-MM-DD HH:MM:SS[.frac]" that
// MySQL and SQLite hand over for every row without time.Parse's failed
// attempts (each allocates an error).
func fastTimestamp(s string) (time.Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(a, b int) int {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d, h, mi, sec := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	nanos := 0
	if len(s) > 19 {
		if s[19] != '.' || len(s) == 20 || len(s) > 29 {
			return time.Time{}, false
		}
		nanos = num(20, len(s))
		for i := len(s); i < 29; i++ {
			nanos *= 10
		}
	}
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || nanos < 0 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, nanos, time.UTC)
	if t.Day() != d { // February 30th and the like
		return time.Time{}, false
	}
	return t, true
}
