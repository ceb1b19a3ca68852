package sqlpoll

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// referenceQuery is query as it was before the drivers' fast read paths:
// every column scanned by database/sql into an *any, then convert. The
// fast paths must give exactly its rows, schema and errors.
func (s *Source) referenceQuery(ctx context.Context, t *table, q string, args []any, fn func(r row) error) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", t.key, err)
	}
	defer rows.Close()
	if err := s.refreshSchema(t, rows); err != nil {
		return err
	}
	n := len(t.schema.Columns)
	width := n
	if t.tsExpr != "" {
		width++
	}
	raw := make([]any, width)
	ptrs := make([]any, width)
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("%s: %w", t.key, err)
		}
		r := row{vals: make([]event.Value, n)}
		for i := 0; i < n; i++ {
			v, err := convert(&t.schema.Columns[i], raw[i])
			if err != nil {
				return fatal{fmt.Errorf("%s: %w", t.key, err)}
			}
			r.vals[i] = v
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
		if t.incIdx >= 0 {
			r.id = raw[t.incIdx]
			if v := r.vals[t.incIdx]; v.Kind == event.KindInt {
				r.id = v.AsInt()
			}
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

// readBoth reads table tbl of s through query and referenceQuery and
// renders each result (schema, rows with their watermark values, error)
// as text, exactly: %#v of every field.
func readBoth(t *testing.T, s *Source, where string, args ...any) (got, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	read := func(q func(context.Context, *table, string, []any, func(row) error) error) string {
		tb := *s.tables[0]
		tb.schema = nil
		var b strings.Builder
		err := q(ctx, &tb, s.selectList(&tb)+where, args, func(r row) error {
			fmt.Fprintf(&b, "row\n")
			for i, v := range r.vals {
				fmt.Fprintf(&b, "  %s: %d %#x %q\n", tb.schema.Columns[i].Name, v.Kind, v.Num, v.Str)
			}
			id := r.id // integer ids are read from vals (setWM)
			if tb.incIdx >= 0 && r.vals[tb.incIdx].Kind == event.KindInt {
				id = r.vals[tb.incIdx].AsInt()
			}
			fmt.Fprintf(&b, "  ts %#v keys %#v id %#v\n", r.ts, r.keys, id)
			return nil
		})
		if tb.schema != nil {
			fmt.Fprintf(&b, "schema %#v key %v\n", tb.schema.Columns, tb.schema.KeyIdx)
		}
		_, isFatal := err.(fatal)
		fmt.Fprintf(&b, "error %v (fatal %v)\n", err, isFatal)
		return b.String()
	}
	return read(s.query), read(s.referenceQuery)
}

// TestFastReadIsReference reads columns of every type the drivers map,
// with their edge values, through the source's read path and through the
// database/sql reference, and requires the same values, watermark values,
// schema and errors, byte for byte.
func TestFastReadIsReference(t *testing.T) {
	type typeCase struct {
		typ  string
		vals []string // SQL literals, one row each; NULL is added
	}
	cases := map[string][]typeCase{
		DriverPostgres: {
			{"smallint", []string{"-32768", "32767", "0"}},
			{"integer", []string{"-2147483648", "2147483647", "7"}},
			{"bigint", []string{"-9223372036854775808", "9223372036854775807", "-1"}},
			{"real", []string{"1.1", "'NaN'", "'Infinity'", "'-Infinity'", "-0", "1e-45", "3.4028235e38"}},
			{"double precision", []string{"1.1", "'NaN'", "'Infinity'", "'-Infinity'", "-0", "5e-324", "1.7976931348623157e308", "0.1"}},
			{"numeric", []string{"12.340", "'NaN'", "'Infinity'", "'-Infinity'", "-0.000", "123456789012345678901234567890.123456789", "1e-30"}},
			{"numeric(10,3)", []string{"12.3", "-1"}},
			{"text", []string{"''", "'héllo'", "'a\tb\\c\"d'", "repeat('x', 10000)", "'日本語'"}},
			{"varchar(20)", []string{"''", "'héllo wörld'"}},
			{"varchar", []string{"'x'"}},
			{"char(5)", []string{"'ab'", "''", "'abcde'"}},
			{"name", []string{"'pg_class'"}},
			{"bytea", []string{"''", "'\\x00ff10'", "decode(repeat('ab', 5000), 'hex')"}},
			{"boolean", []string{"true", "false"}},
			{"date", []string{"'2024-02-29'", "'1900-01-01'", "'0001-01-01'", "'4713-01-01 BC'", "'5874897-12-31'", "'1970-01-01'", "'1969-12-31'"}},
			{"date", []string{"'infinity'"}},
			{"date", []string{"'-infinity'"}},
			{"timestamp(6)", []string{"'2024-02-29 13:14:15.123456'", "'1900-01-01 00:00:00.000001'", "'1969-12-31 23:59:59.999999'", "'0001-01-01 00:00:00'", "'4713-01-01 00:00:00 BC'", "'294276-12-31 23:59:59.999999'"}},
			{"timestamp", []string{"'infinity'"}},
			{"timestamp", []string{"'-infinity'"}},
			{"timestamptz", []string{"'2024-02-29 13:14:15.123456+02'", "'1969-12-31 23:59:59.999999Z'", "'0001-01-01 00:00:00Z'"}},
			{"timestamptz", []string{"'infinity'"}},
			{"time", []string{"'13:14:15.5'", "'24:00:00'", "'00:00:00'"}},
			{"timetz", []string{"'13:14:15+02'"}},
			{"interval", []string{"'1 day 2 hours'", "'-1 year'"}},
			{"json", []string{`'{"a": 1}'`, `'[1, "x"]'`}},
			{"jsonb", []string{`'{"a": 1, "b": [true, null]}'`}},
			{"uuid", []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"}},
			{"oid", []string{"4294967295", "0"}},
			{"money", []string{"12.34"}},
			{"inet", []string{"'10.0.0.1/8'"}},
			{"text[]", []string{"ARRAY['a', 'b,c']"}},
			{"int4[]", []string{"ARRAY[1, 2]"}},
			{"xml", []string{"'<a>x</a>'"}},
			{"bit(3)", []string{"B'101'"}},
		},
		DriverMySQL: {
			{"TINYINT", []string{"-128", "127"}},
			{"TINYINT UNSIGNED", []string{"255"}},
			{"SMALLINT", []string{"-32768", "32767"}},
			{"SMALLINT UNSIGNED", []string{"65535"}},
			{"MEDIUMINT", []string{"-8388608"}},
			{"INT", []string{"-2147483648", "2147483647"}},
			{"INT UNSIGNED", []string{"4294967295"}},
			{"BIGINT", []string{"-9223372036854775808", "9223372036854775807"}},
			{"BIGINT UNSIGNED", []string{"18446744073709551615", "0"}},
			{"FLOAT", []string{"1.1", "-0", "3.4e38"}},
			{"DOUBLE", []string{"1.1", "5e-324", "1.7976931348623157e308"}},
			{"DECIMAL(10,3)", []string{"12.340", "-0.001", "0"}},
			{"DECIMAL(65,30)", []string{"12345678901234567890.123456789012345678901234567890"}},
			{"VARCHAR(20)", []string{"''", "'héllo'", "'a\\tb'"}},
			{"CHAR(5)", []string{"'ab'", "''"}},
			{"TEXT", []string{"REPEAT('x', 10000)", "'日本語'"}},
			{"VARBINARY(10)", []string{"x''", "x'00ff'"}},
			{"BLOB", []string{"x'00ff10'"}},
			{"BINARY(3)", []string{"x'01'"}},
			{"BIT(3)", []string{"b'101'"}},
			{"DATE", []string{"'2024-02-29'", "'1000-01-01'", "'9999-12-31'", "'1969-12-31'"}},
			{"DATE", []string{"'0000-00-00'"}},
			{"TIME(6)", []string{"'-838:59:59.5'", "'838:59:59'", "'00:00:00'"}},
			{"DATETIME(6)", []string{"'2024-02-29 13:14:15.123456'", "'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'"}},
			{"DATETIME", []string{"'2024-02-29 13:14:15'"}},
			{"TIMESTAMP(6) NULL", []string{"'2024-02-29 13:14:15.123456'", "'1970-01-01 00:00:01'"}},
			{"YEAR", []string{"2024", "1901"}},
			{"JSON", []string{`'{"a": 1}'`}},
			{"ENUM('x','y')", []string{"'y'"}},
			{"SET('a','b')", []string{"'a,b'"}},
			{"BOOLEAN", []string{"true", "false"}},
			{"GEOMETRY", []string{"ST_GeomFromText('POINT(1 1)')"}},
		},
		DriverSQLite: {
			{"INTEGER", []string{"-9223372036854775808", "9223372036854775807", "'12'", "1.5", "'text'"}},
			{"BIGINT", []string{"1"}},
			{"REAL", []string{"2.5", "1e308", "-0.0", "'x'"}},
			{"FLOAT", []string{"2.5"}},
			{"NUMERIC", []string{"'12.340'", "12", "1.5", "'abc'"}},
			{"DECIMAL(10,2)", []string{"'1.10'"}},
			{"TEXT", []string{"''", "'héllo'", "x'00ff'", "42"}},
			{"VARCHAR(20)", []string{"'x'"}},
			{"BLOB", []string{"x''", "x'00ff'", "'text'"}},
			{"BOOLEAN", []string{"1", "0", "'true'"}},
			{"DATE", []string{"'2024-02-29'"}},
			{"DATE", []string{"'not a date'"}},
			{"DATETIME", []string{"'2024-02-29 13:14:15.123'", "'2024-02-29T13:14:15Z'", "1700000000"}},
			{"JSON", []string{`'{"a": 1}'`}},
			{"UUID", []string{"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"}},
			{"WHATEVER", []string{"'w'", "1", "2.5", "x'01'"}},
			{"", []string{"'w'", "1", "2.5", "x'01'"}},
		},
	}
	for _, driver := range allDrivers {
		if cases[driver] == nil {
			continue
		}
		t.Run(driver, func(t *testing.T) {
			d := newTestDB(t, driver)
			for i, tc := range cases[driver] {
				for _, keyed := range []bool{false, true} {
					name := fmt.Sprintf("t%d", i)
					if keyed {
						name += "k"
					}
					stmts := []string{"CREATE TABLE " + name + " (id BIGINT PRIMARY KEY, v " + tc.typ + ", w TEXT)"}
					for j, v := range append(tc.vals, "NULL") {
						stmts = append(stmts, fmt.Sprintf("INSERT INTO %s VALUES (%d, %s, 'w%d')", name, j+1, v, j))
					}
					d.exec(t, stmts...)
					cfg := d.config(ModeIncrementing)
					cfg.Tables = []string{name}
					cfg.IncrementingColumn = "id"
					if keyed {
						cfg.KeyColumns = []string{"id", "v"}
						if t := strings.ToLower(tc.typ); strings.HasPrefix(t, "timestamp") || strings.HasPrefix(t, "date") {
							// The timestamp expression is one more column.
							cfg.Mode = ModeTimestampIncrementing
							cfg.TimestampColumns = []string{"v"}
						}
					}
					s := started(t, cfg, nil)
					got, want := readBoth(t, s, " ORDER BY s.id")
					if got != want {
						t.Errorf("%s (keyed %v): the read path differs from database/sql\n--- got\n%s--- want\n%s", tc.typ, keyed, got, want)
					}
					// With a parameter, as every page after the first:
					// go-sql-driver/mysql then reads through a prepared
					// statement, in the binary protocol.
					got, want = readBoth(t, s, " WHERE s.id > "+s.d.placeholder(1)+" ORDER BY s.id", int64(0))
					if got != want {
						t.Errorf("%s (keyed %v, with a parameter): the read path differs from database/sql\n--- got\n%s--- want\n%s", tc.typ, keyed, got, want)
					}
				}
			}
		})
	}
}

// TestConvertFarDate: PostgreSQL's dates reach year 5874897, whose
// microseconds overflow int64; the day count must not wrap.
func TestConvertFarDate(t *testing.T) {
	c := &event.Column{Name: "d", TypeName: "date", Type: event.TypeDate}
	for _, tc := range []struct {
		in   time.Time
		want int64
	}{
		{time.Date(5874897, 12, 31, 0, 0, 0, 0, time.UTC), 2_145_042_905},
		{time.Date(294_276, 1, 1, 0, 0, 0, 0, time.UTC), 106_762_574},
		{time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), 19_782},
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), -25_567},
	} {
		v, err := convert(c, tc.in)
		if err != nil || v != event.Int(tc.want) {
			t.Errorf("%v: %v %v, want %d", tc.in, v.Text(), err, tc.want)
		}
	}
}

// TestFastPosition: the positions pollIncrementing spells from a row's
// values are those setWM and t.position() give, and it declines the values
// it does not spell.
func TestFastPosition(t *testing.T) {
	s := &Source{cfg: Config{IncrementingColumn: "id"}}
	berlin := time.FixedZone("CEST", 2*3600)
	ids := []event.Value{event.Int(42), event.Int(-7), event.Int(0), event.Int(math.MaxInt64), event.Int(math.MinInt64)}
	tss := []any{
		time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		time.Date(2024, 5, 1, 10, 0, 0, 123456000, berlin),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		"2024-05-01 10:00:00", "2024-05-01 10:00:00.000", "",
	}
	check := func(withTS bool, ts any, id event.Value) {
		t.Helper()
		tb := &table{incIdx: 0, wm: &watermark{}}
		if withTS {
			tb.tsExpr = "ts"
		}
		r := row{vals: []event.Value{id}, ts: ts, id: id.AsInt()}
		if err := s.setWM(tb, r); err != nil {
			t.Fatal(err)
		}
		got, ok := fastPosition(nil, withTS, ts, id)
		if !ok || string(got) != tb.position() {
			t.Errorf("withTS %v ts %#v id %d: %q %v, want %q", withTS, ts, id.AsInt(), got, ok, tb.position())
		}
	}
	for _, id := range ids {
		check(false, nil, id)
		for _, ts := range tss {
			check(true, ts, id)
		}
	}
	for _, tc := range []struct {
		withTS bool
		ts     any
		id     event.Value
	}{
		{false, nil, event.String("42")},
		{false, nil, event.Decimal("42")},
		{false, nil, event.Null},
		{true, int64(1700000000), event.Int(1)},
		{true, nil, event.Int(1)},
		{true, 1.5, event.Int(1)},
	} {
		if got, ok := fastPosition(nil, tc.withTS, tc.ts, tc.id); ok {
			t.Errorf("%+v: spelled %q, want it left to setWM", tc, got)
		}
	}
}

// TestDriverReadStopsOnCancel: database/sql ends a query's rows when its
// context ends; reading the driver's own rows, the source must stop as
// well (modernc.org/sqlite watches the context only while a query starts),
// within slabRows rows, with the context's error.
func TestDriverReadStopsOnCancel(t *testing.T) {
	d := newTestDB(t, DriverSQLite)
	d.exec(t, "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO big SELECT i, 'v' || i FROM n")
	cfg := d.config(ModeIncrementing)
	cfg.Tables = []string{"big"}
	cfg.IncrementingColumn = "id"
	s := started(t, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := s.query(ctx, s.tables[0], s.selectList(s.tables[0])+" ORDER BY s.id", nil, func(r row) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: error %v, want context.Canceled", err)
	}
	if n > 10+slabRows {
		t.Fatalf("read %d rows after the context ended at row 10, want at most %d", n, 10+slabRows)
	}
}
