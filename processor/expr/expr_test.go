package expr

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
)

// show renders a result with its type, so a test pins both.
func show(x any) string {
	switch v := x.(type) {
	case nil:
		return "nil"
	case Decimal:
		return "decimal " + v.String()
	case time.Time:
		return "time " + v.Format(time.RFC3339Nano)
	case time.Duration:
		return "duration " + v.String()
	case []byte:
		return fmt.Sprintf("bytes %x", v)
	}
	return fmt.Sprintf("%T %v", x, x)
}

func eval(t *testing.T, src string, ev *event.Event) (any, error) {
	t.Helper()
	e, err := Compile("x", src, false)
	if err != nil {
		return nil, err
	}
	p, err := e.For(ev.Schema)
	if err != nil {
		return nil, err
	}
	row := ev.After
	if ev.Op == event.OpDelete {
		row = ev.Before
	}
	return p.Eval(NewEnv(), ev, row)
}

func allTypes(op event.Op, row []event.Value) *event.Event {
	return &event.Event{Op: op, Schema: eventtest.AllTypes, After: row, Source: eventtest.Src(event.SnapshotFalse, 23044320, 491)}
}

func TestEvalTypes(t *testing.T) {
	typical := allTypes(event.OpCreate, eventtest.TypicalRow(1))
	edge := allTypes(event.OpCreate, eventtest.EdgeRow(3))
	for _, tc := range []struct {
		ev        *event.Event
		src, want string
	}{
		// Integers, floats, booleans.
		{typical, "i2", "int64 -32768"},
		{typical, "i4 + 1", "int 2147483648"},
		{typical, "i8 == -9223372036854775807 - 1", "bool true"},
		{typical, "f4", "float64 3.140000104904175"},
		{typical, "f8 * 3", "float64 0.30000000000000004"},
		{typical, "b && i4 > 0", "bool true"},
		// Decimals: exact, scale kept.
		{typical, "num", "decimal 12345678.90"},
		{typical, "num * 2", "decimal 24691357.80"},
		{typical, "num + 0.001", "decimal 12345678.901"},
		{typical, "num > 10.5", "bool true"},
		{typical, "num == 12345678.9", "bool true"},
		{typical, "num != 12345678.9", "bool false"},
		{typical, "num in [1, 12345678.90]", "bool true"},
		{typical, "num * 2 > 24691357.79", "bool true"},
		{typical, "num / 3", "decimal 4115226.300000000"},
		{typical, "decimal('1') / 3", "decimal 0.3333333333333333"},
		{typical, "decimal('1e-20') / 3", "decimal 0.000000000000000000003333333333333333"},
		{typical, "numv * 10", "decimal 31.41592653589793238462643383279502884197169399375100"},
		{typical, "numv - numv", "decimal 0.00000000000000000000000000000000000000000000000000"},
		{typical, "round(numv, 4)", "decimal 3.1416"},
		{typical, "round(num)", "decimal 12345679"},
		{typical, "-num", "decimal -12345678.90"},
		{typical, "abs(cash)", "decimal 12.34"},
		{typical, "floor(cash)", "decimal -13"},
		{typical, "ceil(cash)", "decimal -12"},
		{typical, "int(num)", "int 12345678"},
		{typical, "float(num)", "float64 1.23456789e+07"},
		{typical, "max(cash, 0, -20)", "decimal 0"},
		{typical, "min(cash, 0, -20)", "decimal -20"},
		{typical, "num % 7", "decimal 2.90"},
		{typical, "cash * 100", "decimal -1234.00"},
		{typical, "decimal('0.1') + 0.2 == 0.3", "bool true"},
		{typical, "f8 + num", "decimal 12345679.00"},
		{typical, "string(num)", "string 12345678.90"},
		{typical, "toJSON(num)", "string 12345678.90"},
		{edge, "numv + 1", "decimal -98765432109876543210987654321098765432109876543209.000100"},
		{edge, "numv < -9.8e49", "bool true"},
		{edge, "cash", "decimal 1000"},
		// Strings, bytes, JSON, arrays.
		{typical, "upper(txt)", "string HELLO, WORLD"},
		{typical, "uid", "string a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{typical, "mood == 'happy'", "bool true"},
		{typical, "bin", "bytes deadbeef"},
		{typical, "len(bin)", "int 4"},
		{typical, "doc.a[1] + 1", "int 3"},
		{typical, "doc.b", "string x"},
		{typical, "doc?.z?.y ?? 'none'", "string none"},
		{typical, "ints[2]", "int64 3"},
		{typical, "len(tags)", "int 2"},
		{typical, "nums[1]", "decimal -0.001"},
		{typical, "'ok' in moods", "bool true"},
		{typical, "$env['txt']", "string hello, world"},
		// Times keep their zone; intervals are durations.
		{typical, "day", "time 2024-01-01T00:00:00Z"},
		{typical, "tm", "time 0000-01-01T12:34:56.789123Z"},
		{typical, "tm > date('12:00', '15:04')", "bool true"},
		{typical, "tmtz", "time 0000-01-01T10:15:30.5Z"},
		{typical, "ts", "time 2024-01-01T00:00:00.123456Z"},
		{typical, "tstz", "time 2024-01-01T00:00:00.123456Z"},
		{typical, "tstz.Year() * 100 + int(tstz.Month())", "int 202401"},
		{typical, "tstz > date('2023-12-31')", "bool true"},
		{typical, "tstz - day", "duration 123.456ms"},
		{typical, "tstz.In(timezone('Asia/Kolkata')).Hour()", "int 5"},
		{typical, "span", "duration 26h3m4.000005s"},
		{typical, "span > duration('1h')", "bool true"},
		{edge, "day", "time 0001-01-01T00:00:00Z"},
		{edge, "tm3", "time 0000-01-02T00:00:00Z"},
		{edge, "tstz", "time 0001-01-01T00:00:00Z"},
		{edge, "ts", "time 1969-12-31T23:59:59.999999Z"},
		{edge, "f4 != f4", "bool true"},
		// Metadata.
		{typical, "op", "string c"},
		{typical, "[stream, table, schema, namespace, database, source, connector]", "[]interface {} [pg.public.all_types all_types public public shop pg postgresql]"},
		{typical, "meta.op + meta.table", "string call_types"},
		{typical, "ts_ms", "int64 1704067200000"},
		{typical, "ts_us", "int64 1704067200000000"},
		{typical, "snapshot", "bool false"},
		{typical, "key.id", "int64 1"},
		{typical, "key", "map[string]interface {} map[id:1]"},
		{typical, "after.i4 - before?.i4 ?? 0", "int 2147483647"},
		{typical, "before == nil", "bool true"},
		{typical, "after['i2']", "int64 -32768"},
		{typical, "meta.snapshot", "bool false"},
	} {
		t.Run(tc.src, func(t *testing.T) {
			got, err := eval(t, tc.src, tc.ev)
			if err != nil {
				t.Fatalf("%s: %v", tc.src, err)
			}
			if s := show(got); s != tc.want {
				t.Errorf("%s = %s; want %s", tc.src, s, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", `x "": is empty (hint: expressions use expr-lang syntax (https://expr-lang.org/docs/language-definition), e.g. amount > 100 && status != 'cancelled')`},
		{"amount >", `x "amount >": unexpected token EOF at column 8 (hint: expressions use expr-lang syntax (https://expr-lang.org/docs/language-definition), e.g. amount > 100 && status != 'cancelled')`},
		{"a > 1 &&\n  (b ==", `x "a > 1 &&\n  (b ==": unexpected token EOF at line 2 column 7 (hint: expressions use expr-lang syntax (https://expr-lang.org/docs/language-definition), e.g. amount > 100 && status != 'cancelled')`},
		{"uper(name) > 3", `x "uper(name) > 3": unknown function uper() at column 1 (hint: did you mean upper()?)`},
		{"frobnicate(1)", `x "frobnicate(1)": unknown function frobnicate() at column 1 (hint: see the functions of https://expr-lang.org/docs/language-definition and decimal(), round(x, places))`},
		{"meta.ops == 'c'", `x "meta.ops == 'c'": meta has no field "ops" at column 6 (hint: did you mean meta.op?)`},
		{"meta.op > 1", `x "meta.op > 1": invalid operation: > (mismatched types string and int) at column 9`},
		{"round(1, 2, 3)", `x "round(1, 2, 3)": too many arguments to call round at column 1`},
	} {
		_, err := Compile("x", tc.src, false)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Compile(%q) error:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
	if _, err := Compile("condition", "1 + 2", true); err == nil || err.Error() != `condition "1 + 2": gives int, not a boolean (hint: a condition is true or false, e.g. amount > 100; compare a value with ==, or test for NULL with x != nil)` {
		t.Errorf("non-boolean condition: %v", err)
	}
	// Unknown types pass without a schema.
	for _, src := range []string{"amount > 100 && status != 'cancelled'", "price * 2 > total", "doc.a.b == 1", "after.x != before.x", "op == 'd' || key.id > 3"} {
		if _, err := Compile("x", src, true); err != nil {
			t.Errorf("Compile(%q): %v", src, err)
		}
	}
}

func TestSchemaErrors(t *testing.T) {
	ev := eventtest.ProductEvent()
	for _, tc := range []struct{ src, want string }{
		{"prise > 10", `x "prise > 10": column "prise" not in fulfillment.public.product at column 1 (hint: did you mean price?)`},
		{"after.Name == ''", `x "after.Name == ''": column "Name" not in fulfillment.public.product at column 7 (hint: did you mean name?)`},
		{"$env['colour'] == 'red'", `x "$env['colour'] == 'red'": column "colour" not in fulfillment.public.product at column 6 (hint: did you mean color?)`},
		{"zzz", `x "zzz": column "zzz" not in fulfillment.public.product at column 1 (hint: columns: id, name, price, color, category, quantity, description, internalId; metadata: op, stream, table, schema, namespace, database, source, connector, key, ts_ms, ts_us, snapshot)`},
		{"name > 3", `x "name > 3": invalid operation: > (mismatched types string and int) at column 6`},
		{"quantity && true", `x "quantity && true": invalid operation: && (mismatched types int64 and bool) at column 10`},
	} {
		_, err := eval(t, tc.src, ev)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q error:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
	e, err := Compile("condition", "price", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.For(ev.Schema); err == nil || err.Error() != `condition "price": gives float, not a boolean (hint: a condition is true or false, e.g. amount > 100; compare a value with ==, or test for NULL with x != nil)` {
		t.Errorf("float condition: %v", err)
	}
}

func TestEvalErrors(t *testing.T) {
	null := allTypes(event.OpCreate, eventtest.NullRow(2))
	edge := allTypes(event.OpCreate, eventtest.EdgeRow(3))
	typical := allTypes(event.OpCreate, eventtest.TypicalRow(1))
	trunc := allTypes(event.OpTruncate, nil)
	for _, tc := range []struct {
		ev        *event.Event
		src, want string
	}{
		{null, "i4 > 10", `x "i4 > 10": invalid operation: <nil> > int at column 4 (hint: column i4 is NULL in this event; guard it (i4 != nil && ...) or give a default (i4 ?? 0))`},
		{null, "num * 2", `x "num * 2": invalid operation: <nil> * decimal at column 5 (hint: column num is NULL in this event; guard it (num != nil && ...) or give a default (num ?? 0))`},
		{null, "num > 1.5", `x "num > 1.5": invalid operation: <nil> > decimal at column 5 (hint: column num is NULL in this event; guard it (num != nil && ...) or give a default (num ?? 0))`},
		{edge, "uid == ''", `x "uid == ''": column "uid" is an unchanged TOAST value the source did not send (PostgreSQL omits large values an UPDATE did not change), so no expression can read it`},
		{edge, "id > 0 || doc.a == 1", `x "id > 0 || doc.a == 1": column "doc" is an unchanged TOAST value the source did not send (PostgreSQL omits large values an UPDATE did not change), so no expression can read it`},
		{trunc, "i4 > 1", `x "i4 > 1": a truncate event has no row to read column "i4" from`},
		{typical, "num / 0", `x "num / 0": division by zero at column 5`},
		{typical, "num % (i2 + 32768)", `x "num % (i2 + 32768)": division by zero at column 5`},
		{typical, "txt + 1", `x "txt + 1": invalid operation: + (mismatched types string and int) at column 5`},
		{typical, "num + txt", `x "num + txt": invalid operation: decimal + string at column 5`},
		{typical, "doc.b > 1", `x "doc.b > 1": invalid operation: string > int at column 7`},
		{null, "upper(txt)", `x "upper(txt)": nil where a string is expected at column 1 (hint: column txt is NULL in this event; guard it (txt != nil && ...) or give a default (txt ?? ''))`},
	} {
		_, err := eval(t, tc.src, tc.ev)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q error:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
	for _, tc := range []struct{ src, want string }{
		{"i4 == nil", "bool true"},
		{"num == nil", "bool true"},
		{"nil == num", "bool true"},
		{"num != 1", "bool true"},
		{"i4 ?? 5", "int 5"},
		{"num ?? decimal('0.5')", "decimal 0.5"},
		{"txt", "nil"},
		{"txt == 'x'", "bool false"},
		{"txt != 'x'", "bool true"},
		{"mood in ['ok', 'sad']", "bool false"},
		{"doc?.a", "nil"},
	} {
		got, err := eval(t, tc.src, null)
		if err != nil || show(got) != tc.want {
			t.Errorf("%q on NULLs = %s, %v; want %s", tc.src, show(got), err, tc.want)
		}
	}
}

// TestCol: col("name") reads a column as an untyped value, nil when the
// table lacks it, so that one expression serves documents of different
// shapes (Data Prepper's /key): a branch that does not fit a column's type
// passes the checker and fails only if it runs.
func TestCol(t *testing.T) {
	typical := allTypes(event.OpCreate, eventtest.TypicalRow(1))
	for _, tc := range []struct{ src, want string }{
		{`col("txt")`, "string hello, world"},
		{`col("nope")`, "nil"},
		{`col("nope") == nil`, "bool true"},
		{`col("nope") == "x"`, "bool false"},
		{`col("i4") == 2147483647`, "bool true"},
		{`type(col("i4")) == "string" ? upper(col("i4")) : col("i4")`, "int64 2147483647"},
		{`type(col("txt")) == "string" ? upper(col("txt")) : col("txt")`, "string HELLO, WORLD"},
		{`col("op")`, "nil"}, // metadata is not a column
	} {
		got, err := eval(t, tc.src, typical)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if s := show(got); s != tc.want {
			t.Errorf("%s = %s; want %s", tc.src, s, tc.want)
		}
	}
	for _, src := range []string{`col(txt)`, `col()`, `col("a", "b")`} {
		_, err := Compile("x", src, false)
		want := fmt.Sprintf("x %q: col() takes", src) + ` one column name in quotes at column 1 (hint: e.g. col("status") == nil)`
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", src, err, want)
		}
	}
}

// TestRegexReplace: every match replaced, groups by number and name, $$ a
// dollar, NULL in NULL out; a bad pattern is an error of the event.
func TestRegexReplace(t *testing.T) {
	typical := allTypes(event.OpCreate, eventtest.TypicalRow(1))
	for _, tc := range []struct{ src, want string }{
		{`regex_replace(txt, "[lo]+", "_")`, "string he_, w_r_d"},
		{`regex_replace(txt, "(\\w+), (\\w+)", "${2} $1 $$")`, "string world hello $"},
		{`regex_replace(txt, "(?P<first>\\w+),", "[${first}]")`, "string [hello] world"},
		{`regex_replace(col("nope"), "a", "b")`, "nil"},
	} {
		got, err := eval(t, tc.src, typical)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if s := show(got); s != tc.want {
			t.Errorf("%s = %s; want %s", tc.src, s, tc.want)
		}
	}
	if _, err := eval(t, `regex_replace(txt, "(", "")`, typical); err == nil || !strings.Contains(err.Error(), "regex_replace: error parsing regexp: missing closing ): `(`") {
		t.Errorf("bad pattern: %v", err)
	}
}

// TestParseTime: parse_time and parse_epoch.
func TestParseTime(t *testing.T) {
	typical := allTypes(event.OpCreate, eventtest.TypicalRow(1))
	for _, tc := range []struct{ src, want string }{
		{`parse_time("2024-03-01 10:20:30", "2006-01-02 15:04:05")`, "time 2024-03-01T10:20:30Z"},
		{`parse_time("2024-03-01 10:20:30", "2006-01-02 15:04:05", "Asia/Kolkata")`, "time 2024-03-01T10:20:30+05:30"},
		{`parse_time("2024-03-01T10:20:30+02:00", "2006-01-02T15:04:05Z07:00", "Asia/Kolkata").UTC()`, "time 2024-03-01T08:20:30Z"},
		{`parse_time("nope", "2006-01-02")`, "nil"},
		{`parse_time("nope", "2006-01-02") ?? parse_time("01/03/2024", "02/01/2006")`, "time 2024-03-01T00:00:00Z"},
		{`parse_time(col("none"), "2006")`, "nil"},
		{`parse_epoch(1709288430, "s")`, "time 2024-03-01T10:20:30Z"},
		{`parse_epoch("1709288430123", "s,ms")`, "time 2024-03-01T10:20:30.123Z"},
		{`parse_epoch("1709288430123456", "us")`, "time 2024-03-01T10:20:30.123456Z"},
		{`parse_epoch("1709288430123456789", "ns")`, "time 2024-03-01T10:20:30.123456789Z"},
		{`parse_epoch("1709288430123", "s")`, "nil"},
		{`parse_epoch("12a", "s")`, "nil"},
		{`parse_epoch(1.5, "s")`, "nil"},
		{`format_time(parse_epoch(1709288430, "s"), "2006-01-02 15:04 MST", "Asia/Kolkata")`, "string 2024-03-01 15:50 IST"},
		{`format_time(tstz, "2006")`, "string 2024"},
		{`format_time(col("none"), "2006")`, "nil"},
	} {
		got, err := eval(t, tc.src, typical)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if s := show(got); s != tc.want {
			t.Errorf("%s = %s; want %s", tc.src, s, tc.want)
		}
	}
}
