package sqlpoll

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sluice-dev/sluice/event"
)

// PostgreSQL read path. database/sql costs pgx's stdlib adapter one boxed
// driver.Value per column (and a string per text value), then a copy of
// every []byte into the *any it scans into, then convert's type switch:
// about half of sql_poll's CPU per row. queryPG runs the same query on the
// same pooled connection through pgx itself (database/sql's Conn.Raw) and
// decodes the columns sluice reads most straight from the wire: integers,
// floats, booleans, dates and timestamps in binary, text, varchar, bpchar
// and numeric as their text, cut from the source's text arena (arena.go).
// Every other column, the special values (±infinity) and the columns
// whose driver value the watermark keeps (timestamp, key and non-integer
// incrementing columns) take the stdlib adapter's own conversion and
// convert, so every value is the one the database/sql path
// gives (TestFastReadIsReference in decode_test.go compares them on every
// type, edge values included).

// pgResultFormats asks for the result formats pgx's stdlib adapter asks
// for: binary for these intrinsic types, text for every other, so the
// fallback conversions see the bytes they see under database/sql.
var pgResultFormats = pgx.QueryResultFormatsByOID{
	pgtype.BoolOID:        pgx.BinaryFormatCode,
	pgtype.ByteaOID:       pgx.BinaryFormatCode,
	pgtype.CIDOID:         pgx.BinaryFormatCode,
	pgtype.DateOID:        pgx.BinaryFormatCode,
	pgtype.Float4OID:      pgx.BinaryFormatCode,
	pgtype.Float8OID:      pgx.BinaryFormatCode,
	pgtype.Int2OID:        pgx.BinaryFormatCode,
	pgtype.Int4OID:        pgx.BinaryFormatCode,
	pgtype.Int8OID:        pgx.BinaryFormatCode,
	pgtype.OIDOID:         pgx.BinaryFormatCode,
	pgtype.TimestampOID:   pgx.BinaryFormatCode,
	pgtype.TimestamptzOID: pgx.BinaryFormatCode,
	pgtype.XIDOID:         pgx.BinaryFormatCode,
}

// pgDecode says how a column is read from its wire bytes.
type pgDecode uint8

const (
	pgSlow      pgDecode = iota // the stdlib adapter's conversion, then convert
	pgInt2                      // binary int2
	pgInt4                      // binary int4
	pgInt8                      // binary int8
	pgFloat4                    // binary float4
	pgFloat8                    // binary float8
	pgBool                      // binary bool
	pgDate                      // binary date: days since 2000-01-01
	pgTimestamp                 // binary timestamp(tz): µs since 2000-01-01
	pgText                      // text bytes as a string
	pgDecimal                   // numeric text as a decimal
	pgBytea                     // binary bytea
)

// Offsets between PostgreSQL's epoch (2000-01-01) and Unix's.
const (
	pgEpochDays   = 10_957
	pgEpochMicros = pgEpochDays * microsPerDay
)

// pgColumn is one result column: what refreshColumns reads (columnType,
// reported as pgx's stdlib adapter reports it) and how its values decode.
type pgColumn struct {
	fd   pgconn.FieldDescription
	m    *pgtype.Map
	dec  pgDecode
	slow func(src []byte) (any, error) // the stdlib adapter's value
	keep bool                          // the row keeps the driver value
}

func (c *pgColumn) Name() string { return c.fd.Name }

// DatabaseTypeName, Nullable, DecimalSize and Length answer as pgx's
// stdlib Rows do (ColumnTypeDatabaseTypeName, no ColumnTypeNullable,
// ColumnTypePrecisionScale, ColumnTypeLength), so the schema is the one
// database/sql builds.
func (c *pgColumn) DatabaseTypeName() string {
	if dt, ok := c.m.TypeForOID(c.fd.DataTypeOID); ok {
		return strings.ToUpper(dt.Name)
	}
	return strconv.FormatInt(int64(c.fd.DataTypeOID), 10)
}

func (c *pgColumn) Nullable() (nullable, ok bool) { return false, false }

func (c *pgColumn) DecimalSize() (precision, scale int64, ok bool) {
	if c.fd.DataTypeOID != pgtype.NumericOID {
		return 0, 0, false
	}
	mod := c.fd.TypeModifier - 4
	return int64((mod >> 16) & 0xffff), int64(mod & 0xffff), true
}

func (c *pgColumn) Length() (length int64, ok bool) {
	switch c.fd.DataTypeOID {
	case pgtype.TextOID, pgtype.ByteaOID:
		return math.MaxInt64, true
	case pgtype.VarcharOID, pgtype.BPCharArrayOID:
		return int64(c.fd.TypeModifier - 4), true
	}
	return 0, false
}

// pgDecodeOf picks the fast decoding of a column whose event column is ec,
// or pgSlow. Each fast decoding gives what convert gives for the stdlib
// adapter's value of the same bytes.
func pgDecodeOf(fd pgconn.FieldDescription, ec *event.Column) pgDecode {
	binaryFormat := fd.Format == pgx.BinaryFormatCode
	isInt := ec.Type == event.TypeInt16 || ec.Type == event.TypeInt32 || ec.Type == event.TypeInt64
	switch {
	case binaryFormat && fd.DataTypeOID == pgtype.Int2OID && isInt:
		return pgInt2
	case binaryFormat && fd.DataTypeOID == pgtype.Int4OID && isInt:
		return pgInt4
	case binaryFormat && fd.DataTypeOID == pgtype.Int8OID && isInt:
		return pgInt8
	case binaryFormat && fd.DataTypeOID == pgtype.Float4OID && ec.Type == event.TypeFloat32:
		return pgFloat4
	case binaryFormat && fd.DataTypeOID == pgtype.Float8OID && ec.Type == event.TypeFloat64:
		return pgFloat8
	case binaryFormat && fd.DataTypeOID == pgtype.BoolOID && ec.Type == event.TypeBool:
		return pgBool
	case binaryFormat && fd.DataTypeOID == pgtype.DateOID && ec.Type == event.TypeDate:
		return pgDate
	case binaryFormat && fd.DataTypeOID == pgtype.TimestampOID && ec.Type == event.TypeTimestamp,
		binaryFormat && fd.DataTypeOID == pgtype.TimestamptzOID && ec.Type == event.TypeTimestampTZ:
		return pgTimestamp
	case binaryFormat && fd.DataTypeOID == pgtype.ByteaOID && ec.Type == event.TypeBytes:
		return pgBytea
	case !binaryFormat && (fd.DataTypeOID == pgtype.TextOID || fd.DataTypeOID == pgtype.VarcharOID ||
		fd.DataTypeOID == pgtype.BPCharOID) && ec.Type == event.TypeString:
		return pgText
	case !binaryFormat && fd.DataTypeOID == pgtype.NumericOID && ec.Type == event.TypeDecimal:
		return pgDecimal
	}
	return pgSlow
}

// queryPG is query for PostgreSQL (see the comment at the top of the file).
func (s *Source) queryPG(ctx context.Context, t *table, q string, args []any, fn func(r row) error) error {
	// database/sql retries a query whose connection turns out broken
	// before anything was sent (pgx's SafeToRetry) on another connection;
	// so does this, discarding the broken one.
	var err error
	for range 3 {
		var conn *sql.Conn
		conn, err = s.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", t.key, err)
		}
		err = conn.Raw(func(dc any) error {
			sc, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("%s: the postgres driver's connection is a %T, not pgx's", t.key, dc)
			}
			return s.queryPGConn(ctx, t, sc.Conn(), q, args, fn)
		})
		conn.Close()
		if !errors.Is(err, driver.ErrBadConn) {
			break
		}
	}
	return err
}

// badConn marks an error pgx says happened before anything reached the
// server, for database/sql to discard the connection.
type badConn struct{ err error }

func (b badConn) Error() string        { return b.err.Error() }
func (b badConn) Unwrap() error        { return b.err }
func (b badConn) Is(target error) bool { return target == driver.ErrBadConn }

func (s *Source) queryPGConn(ctx context.Context, t *table, pc *pgx.Conn, q string, args []any, fn func(r row) error) error {
	qargs := make([]any, 0, len(args)+1)
	qargs = append(qargs, pgResultFormats)
	qargs = append(qargs, args...)
	rows, err := pc.Query(ctx, q, qargs...)
	if err != nil {
		if pgconn.SafeToRetry(err) {
			return badConn{fmt.Errorf("%s: %w", t.key, err)}
		}
		return fmt.Errorf("%s: %w", t.key, err)
	}
	defer rows.Close()
	// The field descriptions are known once the first row (or the end)
	// has been read, as for the stdlib adapter.
	more := rows.Next()
	if err := rows.Err(); err != nil {
		if pgconn.SafeToRetry(err) {
			return badConn{fmt.Errorf("%s: %w", t.key, err)}
		}
		return fmt.Errorf("%s: %w", t.key, err)
	}
	fds := rows.FieldDescriptions()
	m := pc.TypeMap()
	cols := make([]pgColumn, len(fds))
	cts := make([]columnType, len(fds))
	for i, fd := range fds {
		cols[i] = pgColumn{fd: fd, m: m}
		cts[i] = &cols[i]
	}
	if err := s.refreshColumns(t, cts); err != nil {
		return err
	}
	n := len(t.schema.Columns)
	for i := range cols {
		c := &cols[i]
		c.slow = stdlibValueFunc(m, c.fd)
		if i >= n {
			c.keep = true // the timestamp expression
			continue
		}
		c.dec = pgDecodeOf(c.fd, &t.schema.Columns[i])
		// An integer incrementing column's watermark comes from its event
		// value (setWM); any other needs the driver's value.
		c.keep = i == t.incIdx && c.dec != pgInt2 && c.dec != pgInt4 && c.dec != pgInt8
		if t.keyOrder != "" {
			for _, k := range t.schema.KeyIdx {
				c.keep = c.keep || i == k
			}
		}
		if c.keep {
			c.dec = pgSlow
		}
	}
	raw := make([]any, len(cols))
	var slab []event.Value
	for ; more; more = rows.Next() {
		src := rows.RawValues()
		if len(src) != len(cols) {
			return fmt.Errorf("%s: PostgreSQL sent %d values for %d columns", t.key, len(src), len(cols))
		}
		if len(slab) < n {
			slab = s.arena.slab(n)
		}
		r := row{vals: slab[:n:n]}
		slab = slab[n:]
		for i := range cols {
			c := &cols[i]
			b := src[i]
			raw[i] = nil
			if b == nil {
				continue // r.vals[i] is a fresh slab's NULL
			}
			v, ok := event.Null, false
			switch c.dec {
			case pgInt2:
				if ok = len(b) == 2; ok {
					v = event.Int(int64(int16(binary.BigEndian.Uint16(b))))
				}
			case pgInt4:
				if ok = len(b) == 4; ok {
					v = event.Int(int64(int32(binary.BigEndian.Uint32(b))))
				}
			case pgInt8:
				if ok = len(b) == 8; ok {
					v = event.Int(int64(binary.BigEndian.Uint64(b)))
				}
			case pgFloat4:
				if ok = len(b) == 4; ok {
					// What convert does with the adapter's float64(float32).
					v = event.Float(float64(float32(float64(math.Float32frombits(binary.BigEndian.Uint32(b))))))
				}
			case pgFloat8:
				if ok = len(b) == 8; ok {
					v = event.Float(math.Float64frombits(binary.BigEndian.Uint64(b)))
				}
			case pgBool:
				if ok = len(b) == 1; ok {
					v = event.Bool(b[0] == 1)
				}
			case pgDate:
				if ok = len(b) == 4; ok {
					d := int32(binary.BigEndian.Uint32(b))
					ok = d != math.MaxInt32 && d != math.MinInt32 // ±infinity
					v = event.Int(int64(d) + pgEpochDays)
				}
			case pgTimestamp:
				if ok = len(b) == 8; ok {
					us := int64(binary.BigEndian.Uint64(b))
					ok = us != math.MaxInt64 && us != math.MinInt64 // ±infinity
					v = event.Int(us + pgEpochMicros)
				}
			case pgText, pgDecimal, pgBytea:
				ok = true
				v = event.Value{Kind: event.KindString, Str: s.arena.str(b)}
				switch c.dec {
				case pgDecimal:
					v.Kind = event.KindDecimal
				case pgBytea:
					v.Kind = event.KindBytes
				}
			}
			if !ok {
				x, err := c.slow(b)
				if err != nil {
					return fmt.Errorf("%s: convert field %d failed: %w", t.key, i, err)
				}
				if b, ok := x.([]byte); ok {
					// As database/sql's Scan into *any: the adapter's
					// []byte may be pgx's read buffer.
					x = bytes.Clone(b)
				}
				raw[i] = x
				if i < n {
					if v, err = convert(&t.schema.Columns[i], x); err != nil {
						return fatal{fmt.Errorf("%s: %w", t.key, err)}
					}
				}
			}
			if i < n {
				put(&r.vals[i], v)
			}
		}
		if t.tsExpr != "" {
			r.ts = raw[n]
			if b, ok := r.ts.([]byte); ok {
				r.ts = string(b)
			}
		}
		if t.keyOrder != "" {
			r.keys = make([]any, len(t.schema.KeyIdx))
			for i, k := range t.schema.KeyIdx {
				r.keys[i] = raw[k]
			}
		}
		if t.incIdx >= 0 && r.vals[t.incIdx].Kind != event.KindInt {
			r.id = raw[t.incIdx]
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", t.key, err)
	}
	return nil
}

// stdlibValueFunc is the conversion pgx's stdlib adapter (Rows.Next)
// applies to a column's wire bytes, as of pgx v5.7: the driver value
// database/sql would hand over.
func stdlibValueFunc(m *pgtype.Map, fd pgconn.FieldDescription) func([]byte) (any, error) {
	oid, format := fd.DataTypeOID, fd.Format
	switch oid {
	case pgtype.BoolOID:
		var d bool
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) { err := plan.Scan(src, &d); return d, err }
	case pgtype.ByteaOID:
		var d []byte
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) { err := plan.Scan(src, &d); return d, err }
	case pgtype.CIDOID, pgtype.OIDOID, pgtype.XIDOID:
		var d pgtype.Uint32
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) {
			if err := plan.Scan(src, &d); err != nil {
				return nil, err
			}
			return d.Value()
		}
	case pgtype.DateOID:
		var d pgtype.Date
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) {
			if err := plan.Scan(src, &d); err != nil {
				return nil, err
			}
			return d.Value()
		}
	case pgtype.Float4OID:
		var d float32
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) { err := plan.Scan(src, &d); return float64(d), err }
	case pgtype.Float8OID:
		var d float64
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) { err := plan.Scan(src, &d); return d, err }
	case pgtype.Int2OID:
		var d int16
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) { err := plan.Scan(src, &d); return int64(d), err }
	case pgtype.Int4OID:
		var d int32
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) { err := plan.Scan(src, &d); return int64(d), err }
	case pgtype.Int8OID:
		var d int64
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) { err := plan.Scan(src, &d); return d, err }
	case pgtype.JSONOID, pgtype.JSONBOID, pgtype.XMLOID:
		var d []byte
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) {
			if err := plan.Scan(src, &d); err != nil {
				return nil, err
			}
			return d, nil
		}
	case pgtype.TimestampOID:
		var d pgtype.Timestamp
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) {
			if err := plan.Scan(src, &d); err != nil {
				return nil, err
			}
			return d.Value()
		}
	case pgtype.TimestamptzOID:
		var d pgtype.Timestamptz
		plan := m.PlanScan(oid, format, &d)
		return func(src []byte) (any, error) {
			if err := plan.Scan(src, &d); err != nil {
				return nil, err
			}
			return d.Value()
		}
	}
	var d string
	plan := m.PlanScan(oid, format, &d)
	return func(src []byte) (any, error) { err := plan.Scan(src, &d); return d, err }
}
