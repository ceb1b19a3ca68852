package sqlpoll

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/event"
)

// MySQL and SQLite read path. database/sql adds to every row a lock of the
// connection, a second Next wrapper, and in Scan a type switch over every
// value before it hands the driver's value to a Scanner: about a fifth of
// the source's CPU per row. queryDriver runs the same query on the same
// pooled connection through the driver itself (database/sql's Conn.Raw),
// the way database/sql runs it — the driver's own query, or, when it asks
// for one (driver.ErrSkip: go-sql-driver/mysql with parameters and
// without interpolateParams), a prepared statement closed after its rows —
// and hands every driver value to the same cells (cell.Scan) database/sql
// would hand it to, so the values are the same (TestFastReadIsReference).
// Columns of the common types whose driver value the row does not keep
// skip the cell: their int64, float64, []byte and string values go
// straight into the row image (decodeDirect), the values the cell would
// give. database/sql also closes a query's rows when its context ends;
// go-sql-driver/mysql watches the context itself, modernc.org/sqlite only
// while a query starts, so the row loop checks it every slabRows rows.

// queryDriver is query through the driver's own rows.
func (s *Source) queryDriver(ctx context.Context, t *table, q string, args []any, fn func(r row) error) error {
	// database/sql retries a query whose connection turns out broken
	// before anything was sent (driver.ErrBadConn) on another connection;
	// so does this, discarding the broken one, but never once a row was
	// handed on: a retry would hand it on again.
	var err error
	for range 3 {
		var conn *sql.Conn
		conn, err = s.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", t.key, err)
		}
		delivered := false
		err = conn.Raw(func(dc any) error {
			c, ok := dc.(driver.Conn)
			if !ok {
				return fmt.Errorf("%s: the %s driver's connection is a %T", t.key, s.cfg.Driver, dc)
			}
			return s.queryDriverConn(ctx, t, c, q, args, func(r row) error {
				delivered = true
				return fn(r)
			})
		})
		conn.Close()
		if delivered || !errors.Is(err, driver.ErrBadConn) {
			break
		}
	}
	return err
}

func (s *Source) queryDriverConn(ctx context.Context, t *table, dc driver.Conn, q string, args []any, fn func(r row) error) error {
	nv, err := namedValues(dc, args)
	if err != nil {
		return fmt.Errorf("%s: %w", t.key, err)
	}
	var rows driver.Rows
	err = driver.ErrSkip
	if qc, ok := dc.(driver.QueryerContext); ok {
		rows, err = qc.QueryContext(ctx, q, nv)
	}
	if errors.Is(err, driver.ErrSkip) {
		pc, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("%s: the %s driver cannot prepare with a context", t.key, s.cfg.Driver)
		}
		var st driver.Stmt
		if st, err = pc.PrepareContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", t.key, err)
		}
		defer st.Close() // after the rows (deferred below)
		sq, ok := st.(driver.StmtQueryContext)
		if !ok {
			return fmt.Errorf("%s: the %s driver's statement cannot query with a context", t.key, s.cfg.Driver)
		}
		rows, err = sq.QueryContext(ctx, nv)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", t.key, err)
	}
	defer rows.Close()
	names := rows.Columns()
	cts := make([]columnType, len(names))
	for i, name := range names {
		cts[i] = driverColumn{rows: rows, i: i, name: name}
	}
	if err := s.refreshColumns(t, cts); err != nil {
		return err
	}
	rr := s.newRowReader(t)
	if len(rr.cells) != len(names) {
		return fmt.Errorf("%s: the result has %d columns, the schema %d", t.key, len(names), len(rr.cells))
	}
	direct := make([]directDecode, rr.n)
	for i := range direct {
		if !rr.cells[i].keep {
			direct[i] = directDecodeOf(rr.cells[i].col.Type)
		}
	}
	dest := make([]driver.Value, len(names))
	for k := 1; ; k++ {
		if k%slabRows == 0 && ctx.Err() != nil {
			return fmt.Errorf("%s: %w", t.key, ctx.Err())
		}
		if err := rows.Next(dest); err != nil {
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("%s: %w", t.key, err)
		}
		r := row{vals: rr.image()}
		for i := range rr.cells {
			if i < rr.n && direct[i] != viaCell && s.decodeDirect(&r.vals[i], direct[i], dest[i]) {
				continue
			}
			// What database/sql's Scan does for a Scanner: the driver's
			// value, as is.
			c := &rr.cells[i]
			c.Scan(dest[i]) // never fails: the cell keeps its error
			if i >= rr.n {
				continue // the timestamp expression: finish reads it
			}
			if c.err != nil {
				return fatal{fmt.Errorf("%s: %w", t.key, c.err)}
			}
			rr.take(&r.vals[i], c)
		}
		if err := fn(rr.finish(r)); err != nil {
			return err
		}
	}
}

// directDecode says how queryDriverConn reads a column's driver values of
// the common Go types straight into the row image, without its cell: what
// cell.Scan and convert give for them, one type switch instead of three
// and one write of the value instead of two.
type directDecode uint8

const (
	viaCell       directDecode = iota // the cell: any other column or Go type
	directInt                         // int64 into an integer column
	directFloat                       // float64 into a double column
	directText                        // []byte as a string (string, json, uuid, unknown)
	directDecimal                     // []byte as a decimal
	directBytes                       // []byte as bytes
)

// directDecodeOf is the direct decoding of a column of type typ that the
// row does not keep the driver's value of (cell.keep).
func directDecodeOf(typ event.Type) directDecode {
	switch typ {
	case event.TypeInt16, event.TypeInt32, event.TypeInt64:
		return directInt
	case event.TypeFloat64:
		return directFloat
	case event.TypeString, event.TypeJSON, event.TypeUUID, event.TypeUnknown:
		return directText
	case event.TypeDecimal:
		return directDecimal
	case event.TypeBytes:
		return directBytes
	}
	return viaCell
}

// decodeDirect stores src into *p, a NULL of a fresh row image, when it
// has the Go type d reads; false leaves *p alone for the cell. The values
// are convert's (cell.Scan's for text): NULL, event.Int, event.Float, and
// text cut from the arena, empty text being "" of its kind, not NULL.
// (go-sql-driver/mysql hands FLOAT columns over as float32: the cell's.)
func (s *Source) decodeDirect(p *event.Value, d directDecode, src any) bool {
	if src == nil {
		return true
	}
	switch d {
	case directInt:
		if x, ok := src.(int64); ok {
			v := event.Int(x)
			p.Kind, p.Num = v.Kind, v.Num
			return true
		}
	case directFloat:
		if x, ok := src.(float64); ok {
			v := event.Float(x)
			p.Kind, p.Num = v.Kind, v.Num
			return true
		}
	case directText, directDecimal, directBytes:
		kind := event.KindString
		switch d {
		case directDecimal:
			kind = event.KindDecimal
		case directBytes:
			kind = event.KindBytes
		}
		switch x := src.(type) {
		case []byte: // go-sql-driver/mysql's: its read buffer
			p.Kind = kind
			if len(x) > 0 {
				p.Str = s.arena.str(x)
			}
			return true
		case string: // modernc.org/sqlite's TEXT: a string of its own
			p.Kind = kind
			if x != "" {
				p.Str = x
			}
			return true
		}
	}
	return false
}

// namedValues converts query arguments as database/sql does for a
// connection (driverArgsConnLocked): the connection's NamedValueChecker,
// or the default converter when it has none or it skips.
// (go-sql-driver/mysql's statements check as its connections do.)
func namedValues(dc driver.Conn, args []any) ([]driver.NamedValue, error) {
	nv := make([]driver.NamedValue, len(args))
	checker, _ := dc.(driver.NamedValueChecker)
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		err := driver.ErrSkip
		if checker != nil {
			err = checker.CheckNamedValue(&nv[i])
		}
		if errors.Is(err, driver.ErrSkip) {
			nv[i].Value, err = driver.DefaultParameterConverter.ConvertValue(a)
		}
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
	}
	return nv, nil
}

// driverColumn is one column of a driver's result: what database/sql's
// ColumnType reports from the same driver interfaces.
type driverColumn struct {
	rows driver.Rows
	i    int
	name string
}

func (c driverColumn) Name() string { return c.name }

func (c driverColumn) DatabaseTypeName() string {
	if r, ok := c.rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return r.ColumnTypeDatabaseTypeName(c.i)
	}
	return ""
}

func (c driverColumn) Nullable() (nullable, ok bool) {
	if r, ok := c.rows.(driver.RowsColumnTypeNullable); ok {
		return r.ColumnTypeNullable(c.i)
	}
	return false, false
}

func (c driverColumn) DecimalSize() (precision, scale int64, ok bool) {
	if r, ok := c.rows.(driver.RowsColumnTypePrecisionScale); ok {
		return r.ColumnTypePrecisionScale(c.i)
	}
	return 0, 0, false
}

func (c driverColumn) Length() (length int64, ok bool) {
	if r, ok := c.rows.(driver.RowsColumnTypeLength); ok {
		return r.ColumnTypeLength(c.i)
	}
	return 0, false
}
