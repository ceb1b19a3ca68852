package eval

import (
	"math"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

var negOne = -1.0

func TestMathFunctions(t *testing.T) {
	dc := col(0, types.DecimalOf(5, 2))
	drow := func(s string) []event.Value { return []event.Value{decv(s)} }
	nan := math.NaN()
	runCases(t, []exprCase{
		{name: "ABS int", e: call("ABS", iLit(-3)), want: i64(3)},
		{name: "ABS min int", e: call("ABS", col(0, tInt)), row: []event.Value{i64(math.MinInt32)}, err: "INTEGER overflow: ABS(-2147483648) is out of range"},
		{name: "ABS double", e: call("ABS", fLit(-3.1)), want: f64(3.1)},
		{name: "ABS decimal", e: call("ABS", dc), row: drow("-3.20"), want: decv("3.20")},
		{name: "CEIL double", e: call("CEIL", fLit(1.1)), want: f64(2)},
		{name: "CEIL decimal keeps scale", e: call("CEIL", dc), row: drow("-1.50"), want: decv("-1.00")},
		{name: "FLOOR decimal", e: call("FLOOR", dc), row: drow("-1.50"), want: decv("-2.00")},
		{name: "FLOOR int", e: call("FLOOR", iLit(7)), want: i64(7)},
		{name: "ROUND double", e: call("ROUND", fLit(1.5)), want: i64(2)},
		{name: "ROUND double -1.5", e: call("ROUND", fLit(-1.5)), want: i64(-1)},
		{name: "ROUND double -1.7", e: call("ROUND", fLit(-1.7)), want: i64(-2)},
		{name: "ROUND 0.49999999999999994", e: call("ROUND", fLit(0.49999999999999994)), want: i64(0)},
		{name: "ROUND NaN", e: call("ROUND", fLit(nan)), err: "ROUND(NaN) is not a BIGINT"},
		{name: "ROUND places", e: call("ROUND", fLit(1.234567), iLit(2)), want: f64(1.23)},
		{name: "ROUND places half", e: call("ROUND", fLit(2.675), iLit(2)), want: f64(2.68)},
		{name: "ROUND places negative value", e: call("ROUND", fLit(-1.5), iLit(0)), want: f64(-1)},
		{name: "ROUND places -1", e: call("ROUND", fLit(12345.678), iLit(-1)), want: f64(12350)},
		{name: "ROUND decimal", e: call("ROUND", dc), row: drow("12.50"), want: decv("13")},
		{name: "ROUND decimal places", e: call("ROUND", dc, iLit(1)), row: drow("-12.45"), want: decv("-12.40")},
		{name: "ROUND decimal -2", e: call("ROUND", dc, iLit(-2)), row: drow("150.00"), want: decv("200.00")},
		{name: "ROUND int", e: call("ROUND", iLit(3)), want: i64(3)},
		{name: "SIGN", e: call("SIGN", fLit(-2.5)), want: i64(-1)},
		{name: "SIGN int", e: call("SIGN", iLit(0)), want: i64(0)},
		{name: "SQRT", e: call("SQRT", iLit(4)), want: f64(2)},
		{name: "SQRT negative", e: call("SQRT", iLit(-1)), want: f64(math.Sqrt(negOne))},
		{name: "LN 0", e: call("LN", iLit(0)), want: f64(math.Inf(-1))},
		{name: "EXP", e: call("EXP", iLit(0)), want: f64(1)},
		{name: "POWER", e: call("POWER", iLit(2), iLit(10)), want: f64(1024)},
		{name: "PI", e: call("PI"), want: f64(math.Pi)},
		{name: "DEGREES", e: call("DEGREES", fLit(math.Pi)), want: f64(180)},
		{name: "COT 0", e: call("COT", iLit(0)), want: f64(math.Inf(1))},
		{name: "GREATEST", e: call("GREATEST", iLit(1), nLit(tInt), iLit(3), iLit(2)), want: i64(3)},
		{name: "GREATEST NaN", e: call("GREATEST", fLit(1), fLit(nan)), want: f64(nan)},
		{name: "LEAST strings", e: call("LEAST", sLit("b"), sLit("a")), want: str("a")},
		{name: "LEAST all NULL", e: call("LEAST", nLit(tInt), nLit(tInt)), want: vN},
		{name: "GREATEST widens", e: call("GREATEST", iLit(1), fLit(1.5)), want: f64(1.5)},
	})
}

func TestNullFunctions(t *testing.T) {
	runCases(t, []exprCase{
		{name: "COALESCE", e: call("COALESCE", nLit(tInt), iLit(2), iLit(3)), want: i64(2)},
		{name: "COALESCE all NULL", e: call("COALESCE", nLit(tInt), nLit(tInt)), want: vN},
		{name: "COALESCE widens", e: call("COALESCE", col(0, tInt), fLit(0.5)), row: []event.Value{i64(2)}, want: f64(2)},
		{name: "IFNULL", e: call("IFNULL", nLit(tStr), sLit("x")), want: str("x")},
		{name: "NULLIF equal", e: call("NULLIF", iLit(1), iLit(1)), want: vN},
		{name: "NULLIF different", e: call("NULLIF", iLit(1), iLit(2)), want: i64(1)},
		{name: "NULLIF NULL", e: call("NULLIF", iLit(1), nLit(tInt)), want: i64(1)},
		{name: "NULL arg gives NULL", e: call("UCASE", nLit(tStr)), want: vN},
	})
}

func TestTimeFunctions(t *testing.T) {
	ts, date, tm := types.TTimestamp, types.TDate, types.TTime
	seed := int64(1585912800000000) // 2020-04-03T11:20:00Z
	old := now
	now = func() time.Time { return time.UnixMicro(seed + 5) }
	defer func() { now = old }()
	runCases(t, []exprCase{
		{name: "PARSE_TIMESTAMP", e: call("PARSE_TIMESTAMP", sLit("2020-04-03T11:20:00"), sLit("yyyy-MM-dd'T'HH:mm:ss")), want: i64(seed)},
		{name: "PARSE_TIMESTAMP zone", e: call("PARSE_TIMESTAMP", sLit("2020-04-03 13:20"), sLit("yyyy-MM-dd HH:mm"), sLit("Europe/Paris")), want: i64(seed)},
		{name: "PARSE_TIMESTAMP millis only", e: call("PARSE_TIMESTAMP", sLit("11:20:00.123456"), sLit("HH:mm:ss.SSSSSS")), want: i64(40800123000)},
		{name: "PARSE_TIMESTAMP bad", e: call("PARSE_TIMESTAMP", col(0, tStr), sLit("yyyy-MM-dd")), row: []event.Value{str("2020-13-01")},
			err: `PARSE_TIMESTAMP: text "2020-13-01" could not be parsed with pattern "yyyy-MM-dd": invalid value for MonthOfYear (valid values 1 - 12): 13`},
		{name: "PARSE_TIMESTAMP bad zone", e: call("PARSE_TIMESTAMP", sLit("2020"), sLit("yyyy"), col(0, tStr)), row: []event.Value{str("Mars/Base")},
			err: `PARSE_TIMESTAMP: unknown time zone "Mars/Base"`},
		{name: "STRINGTOTIMESTAMP", e: call("STRINGTOTIMESTAMP", sLit("2020-04-03T11:20:00"), sLit("yyyy-MM-dd'T'HH:mm:ss")), want: i64(seed / 1000)},
		{name: "FORMAT_TIMESTAMP", e: call("FORMAT_TIMESTAMP", lit(i64(seed), ts), sLit("yyyy-MM-dd HH:mm:ss z")), want: str("2020-04-03 11:20:00 GMT")},
		{name: "FORMAT_TIMESTAMP zone", e: call("FORMAT_TIMESTAMP", lit(i64(seed), ts), sLit("HH:mm XXX"), sLit("America/Los_Angeles")), want: str("04:20 -07:00")},
		{name: "TIMESTAMPTOSTRING", e: call("TIMESTAMPTOSTRING", bLit(seed/1000), sLit("yyyy-MM-dd'T'HH:mm:ss.SSS")), want: str("2020-04-03T11:20:00.000")},
		{name: "FORMAT_DATE", e: call("FORMAT_DATE", lit(i64(18355), date), sLit("dd/MM/yyyy")), want: str("03/04/2020")},
		{name: "FORMAT_DATE time letter", e: call("FORMAT_DATE", lit(i64(18355), date), sLit("HH")), err: "FORMAT_DATE: the value has no field HourOfDay"},
		{name: "DATETOSTRING", e: call("DATETOSTRING", iLit(18355), sLit("yyyy-MM-dd")), want: str("2020-04-03")},
		{name: "PARSE_DATE", e: call("PARSE_DATE", sLit("03/04/2020"), sLit("dd/MM/yyyy")), want: i64(18355)},
		{name: "PARSE_DATE with time", e: call("PARSE_DATE", sLit("2020-04-03 10"), sLit("yyyy-MM-dd HH")), err: `PARSE_DATE: the format "yyyy-MM-dd HH" contains a time field`},
		{name: "STRINGTODATE", e: call("STRINGTODATE", sLit("2020-04-03"), sLit("yyyy-MM-dd")), want: i64(18355)},
		{name: "PARSE_TIME", e: call("PARSE_TIME", sLit("11:20:00.5"), sLit("HH:mm:ss.S")), want: i64(40800500000)},
		{name: "FORMAT_TIME", e: call("FORMAT_TIME", lit(i64(40800500000), tm), sLit("hh:mm:ss.SSS a")), want: str("11:20:00.500 AM")},
		{name: "UNIX_TIMESTAMP", e: call("UNIX_TIMESTAMP", lit(i64(seed+999), ts)), want: i64(seed / 1000)},
		{name: "UNIX_TIMESTAMP now", e: call("UNIX_TIMESTAMP"), want: i64(seed / 1000)},
		{name: "UNIX_DATE now", e: call("UNIX_DATE"), want: i64(18355)},
		{name: "UNIX_DATE", e: call("UNIX_DATE", lit(i64(5), date)), want: i64(5)},
		{name: "FROM_UNIXTIME", e: call("FROM_UNIXTIME", bLit(seed/1000)), want: i64(seed)},
		{name: "FROM_DAYS", e: call("FROM_DAYS", iLit(18355)), want: i64(18355)},
		{name: "DATEADD", e: call("DATEADD", sLit("DAYS"), iLit(3), lit(i64(18355), date)), want: i64(18358)},
		{name: "DATEADD hours floor", e: call("DATEADD", sLit("HOURS"), iLit(1), lit(i64(-1), date)), want: i64(-1)},
		{name: "DATESUB", e: call("DATESUB", sLit("day"), iLit(3), lit(i64(18355), date)), want: i64(18352)},
		{name: "TIMESTAMPADD", e: call("TIMESTAMPADD", sLit("MILLISECONDS"), iLit(5), lit(i64(seed), ts)), want: i64(seed + 5000)},
		{name: "TIMESTAMPADD micros", e: call("TIMESTAMPADD", sLit("MICROSECONDS"), iLit(5), lit(i64(seed), ts)), want: i64(seed + 5)},
		{name: "TIMESTAMPSUB", e: call("TIMESTAMPSUB", sLit("SECONDS"), iLit(1), lit(i64(seed), ts)), want: i64(seed - 1000000)},
		{name: "TIMESTAMPADD overflow", e: call("TIMESTAMPADD", sLit("DAYS"), bLit(math.MaxInt64/1000), lit(i64(seed), ts)), err: "TIMESTAMPADD: 9223372036854775 DAYS is out of range"},
		{name: "TIMEADD wraps", e: call("TIMEADD", sLit("HOURS"), iLit(25), lit(i64(0), tm)), want: i64(3600000000)},
		{name: "TIMESUB wraps", e: call("TIMESUB", sLit("MINUTES"), iLit(1), lit(i64(0), tm)), want: i64(86340000000)},
		{name: "CONVERT_TZ", e: call("CONVERT_TZ", lit(i64(seed), ts), sLit("UTC"), sLit("Asia/Kolkata")), want: i64(seed + 19800000000)},
	})
	compileErr(t, "bad unit", call("DATEADD", sLit("WEEKS"), iLit(1), lit(i64(0), date)),
		`DATEADD: unknown time unit "WEEKS" (NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS)`)
	compileErr(t, "unit not constant", call("DATEADD", col(0, tStr), iLit(1), lit(i64(0), date)), "DATEADD: the time unit must be a constant")
	compileErr(t, "bad pattern", call("PARSE_TIMESTAMP", col(0, tStr), sLit("yyyy-ww")), "PARSE_TIMESTAMP: pattern letter w (week of week-based year) is not supported by sluice")
}

func TestJSONFunctions(t *testing.T) {
	j := col(0, tStr)
	row := func(s string) []event.Value { return []event.Value{str(s)} }
	doc := `{"name": "cdc", "n": 1.50, "e": 1e3, "m": -0, "a": [1, {"b": "x\u00e9\n"}], "@type": "UDF", "q": {"r": null}, "name": "dup"}`
	runCases(t, []exprCase{
		{name: "field", e: call("EXTRACTJSONFIELD", j, sLit("$.name")), row: row(doc), want: str("dup")},
		{name: "@field", e: call("EXTRACTJSONFIELD", j, sLit("$.@type")), row: row(doc), want: str("UDF")},
		{name: "number text", e: call("EXTRACTJSONFIELD", j, sLit("$.n")), row: row(doc), want: str("1.50")},
		{name: "exponent", e: call("EXTRACTJSONFIELD", j, sLit("$.e")), row: row(doc), want: str("1E+3")},
		{name: "minus zero", e: call("EXTRACTJSONFIELD", j, sLit("$.m")), row: row(doc), want: str("0")},
		{name: "array index", e: call("EXTRACTJSONFIELD", j, sLit("$.a[0]")), row: row(doc), want: str("1")},
		{name: "nested", e: call("EXTRACTJSONFIELD", j, sLit(`$.a[1]["b"]`)), row: row(doc), want: str("xé\n")},
		{name: "object as JSON", e: call("EXTRACTJSONFIELD", j, sLit("$.a[1]")), row: row(doc), want: str(`{"b":"xé\n"}`)},
		{name: "whole", e: call("EXTRACTJSONFIELD", j, sLit("$.q")), row: row(doc), want: str(`{"r":null}`)},
		{name: "null value", e: call("EXTRACTJSONFIELD", j, sLit("$.q.r")), row: row(doc), want: str("null")},
		{name: "missing", e: call("EXTRACTJSONFIELD", j, sLit("$.zz")), row: row(doc), want: vN},
		{name: "index beyond", e: call("EXTRACTJSONFIELD", j, sLit("$.a[2]")), row: row(doc), want: vN},
		{name: "name on array", e: call("EXTRACTJSONFIELD", j, sLit("$.a.x")), row: row(doc), want: vN},
		{name: "trailing text ignored", e: call("EXTRACTJSONFIELD", j, sLit("$.v")), row: row(`{"v": "2"}}`), want: str("2")},
		{name: "empty text", e: call("EXTRACTJSONFIELD", j, sLit("$.v")), row: row(""), want: vN},
		{name: "not JSON", e: call("EXTRACTJSONFIELD", j, sLit("$.v")), row: row("{v: 1}"), err: `EXTRACTJSONFIELD: invalid JSON at offset 1: expected a field name in double quotes`},
		{name: "IS_JSON_STRING", e: call("IS_JSON_STRING", j), row: row("[1, 2]"), want: vT},
		{name: "IS_JSON_STRING word", e: call("IS_JSON_STRING", j), row: row("abc"), want: vF},
		{name: "IS_JSON_STRING empty", e: call("IS_JSON_STRING", j), row: row(""), want: vF},
		{name: "IS_JSON_STRING NULL", e: call("IS_JSON_STRING", j), row: []event.Value{vN}, want: vF},
		{name: "JSON_ARRAY_LENGTH", e: call("JSON_ARRAY_LENGTH", j), row: row(`["a", ["b"]]`), want: i64(2)},
		{name: "JSON_ARRAY_LENGTH object", e: call("JSON_ARRAY_LENGTH", j), row: row(`{}`), want: vN},
		{name: "JSON_ARRAY_LENGTH empty", e: call("JSON_ARRAY_LENGTH", j), row: row(``), want: vN},
		{name: "JSON_KEYS", e: call("JSON_KEYS", j), row: row(`{"b": 1, "a": 2, "b": 3}`), want: arr(str("b"), str("a"))},
		{name: "JSON_ARRAY_CONTAINS", e: call("JSON_ARRAY_CONTAINS", j, sLit("Pink")), row: row(`["White", "Pink"]`), want: vT},
		{name: "JSON_ARRAY_CONTAINS int vs float", e: call("JSON_ARRAY_CONTAINS", j, iLit(1)), row: row(`[1.0]`), want: vF},
		{name: "JSON_ARRAY_CONTAINS int", e: call("JSON_ARRAY_CONTAINS", j, iLit(1)), row: row(`[{"a":1}, 1]`), want: vT},
		{name: "JSON_ARRAY_CONTAINS null", e: call("JSON_ARRAY_CONTAINS", j, nLit(tStr)), row: row(`["Pink", null]`), want: vT},
		{name: "JSON_ARRAY_CONTAINS stops early", e: call("JSON_ARRAY_CONTAINS", j, sLit("a")), row: row(`["a", !!!`), want: vT},
		{name: "JSON_ARRAY_CONTAINS not array", e: call("JSON_ARRAY_CONTAINS", j, sLit("a")), row: row(`"a"`), want: vF},
		{name: "TO_JSON_STRING", e: call("TO_JSON_STRING", lit(arr(f64(1), f64(2.5), vN), types.ArrayOf(tDbl))), want: str(`[1.0,2.5,null]`)},
		{name: "TO_JSON_STRING strings", e: call("TO_JSON_STRING", lit(arr(str("q\"\x01/é")), types.ArrayOf(tStr))), want: str(`["q\"\u0001/é"]`)},
		{name: "TO_JSON_STRING struct sorted", e: call("TO_JSON_STRING", lit(arr(i64(1), decv("1.50")), types.StructOf(
			types.Field{Name: "Z", Type: tInt}, types.Field{Name: "A", Type: types.DecimalOf(3, 2)}))), want: str(`{"A":1.50,"Z":1}`)},
		{name: "TO_JSON_STRING time", e: call("TO_JSON_STRING", lit(i64(60220000000), types.TTime)), want: str(`"16:43:40"`)},
		{name: "TO_JSON_STRING NULL", e: call("TO_JSON_STRING", nLit(tInt)), want: str("null")},
	})
	compileErr(t, "bad path", call("EXTRACTJSONFIELD", j, sLit("name")), "EXTRACTJSONFIELD: invalid JSON path: 'name'")
	// ksqlDB gives NULL (and a processing-log entry) for every row.
	compileErr(t, "negative index", call("EXTRACTJSONFIELD", j, sLit("$.a[-1]")), "EXTRACTJSONFIELD: invalid JSON path: '$.a[-1]'")
}

func TestCollectionFunctions(t *testing.T) {
	ai := types.ArrayOf(tInt)
	a := col(0, ai)
	row := func(vs ...event.Value) []event.Value { return []event.Value{arr(vs...)} }
	m := lit(arr(str("a"), i64(1), str("b"), i64(2)), types.MapOf(tStr, tInt))
	runCases(t, []exprCase{
		{name: "ARRAY_LENGTH", e: call("ARRAY_LENGTH", a), row: row(i64(1), vN), want: i64(2)},
		{name: "ARRAY_CONTAINS", e: call("ARRAY_CONTAINS", a, iLit(2)), row: row(i64(1), i64(2)), want: vT},
		{name: "ARRAY_CONTAINS NULL", e: call("ARRAY_CONTAINS", a, nLit(tInt)), row: row(i64(1), vN), want: vT},
		{name: "ARRAY_CONTAINS NULL array", e: call("ARRAY_CONTAINS", a, iLit(1)), row: []event.Value{vN}, want: vF},
		{name: "ARRAY_DISTINCT", e: call("ARRAY_DISTINCT", a), row: row(i64(2), vN, i64(2), i64(1), vN), want: arr(i64(2), vN, i64(1))},
		{name: "ARRAY_UNION", e: call("ARRAY_UNION", a, lit(arr(i64(3), i64(1)), ai)), row: row(i64(1), i64(2)), want: arr(i64(1), i64(2), i64(3))},
		{name: "ARRAY_INTERSECT", e: call("ARRAY_INTERSECT", a, lit(arr(i64(3), i64(1)), ai)), row: row(i64(1), i64(2), i64(1)), want: arr(i64(1))},
		{name: "ARRAY_EXCEPT", e: call("ARRAY_EXCEPT", a, lit(arr(i64(3), i64(1)), ai)), row: row(i64(1), i64(2), i64(2)), want: arr(i64(2))},
		{name: "ARRAY_REMOVE", e: call("ARRAY_REMOVE", a, iLit(1)), row: row(i64(1), i64(2), i64(1)), want: arr(i64(2))},
		{name: "ARRAY_CONCAT", e: call("ARRAY_CONCAT", a, nLit(ai)), row: row(i64(1)), want: arr(i64(1))},
		{name: "ARRAY_JOIN", e: call("ARRAY_JOIN", a), row: row(i64(1), vN, i64(3)), want: str("1,null,3")},
		{name: "ARRAY_JOIN sep", e: call("ARRAY_JOIN", lit(arr(f64(1), f64(2.5)), types.ArrayOf(tDbl)), sLit("|")), want: str("1.0|2.5")},
		{name: "ARRAY_MAX", e: call("ARRAY_MAX", a), row: row(i64(1), vN, i64(3)), want: i64(3)},
		{name: "ARRAY_MIN", e: call("ARRAY_MIN", a), row: row(vN), want: vN},
		{name: "ARRAY_SORT", e: call("ARRAY_SORT", a), row: row(i64(3), vN, i64(1)), want: arr(i64(1), i64(3), vN)},
		{name: "ARRAY_SORT desc", e: call("ARRAY_SORT", a, sLit("desc")), row: row(i64(3), vN, i64(1)), want: arr(i64(3), i64(1), vN)},
		{name: "ARRAY_SORT bad", e: call("ARRAY_SORT", a, sLit("up")), row: row(i64(3)), want: vN},
		{name: "SLICE", e: call("SLICE", a, iLit(2), iLit(3)), row: row(i64(1), i64(2), i64(3), i64(4)), want: arr(i64(2), i64(3))},
		{name: "SLICE open", e: call("SLICE", a, nLit(tInt), iLit(1)), row: row(i64(1), i64(2)), want: arr(i64(1))},
		{name: "SLICE out", e: call("SLICE", a, iLit(1), iLit(5)), row: row(i64(1)), want: vN},
		{name: "AS_MAP", e: call("AS_MAP", lit(arr(str("a"), str("b")), types.ArrayOf(tStr)), lit(arr(i64(1)), ai)), want: arr(str("a"), i64(1), str("b"), vN)},
		{name: "MAP_KEYS", e: call("MAP_KEYS", m), want: arr(str("a"), str("b"))},
		{name: "MAP_VALUES", e: call("MAP_VALUES", m), want: arr(i64(1), i64(2))},
		{name: "MAP_UNION", e: call("MAP_UNION", m, lit(arr(str("b"), i64(9), str("c"), i64(3)), types.MapOf(tStr, tInt))),
			want: arr(str("a"), i64(1), str("b"), i64(9), str("c"), i64(3))},
		{name: "ARRAY constructor", e: call("ARRAY", iLit(1), nLit(tInt), bLit(3)), want: arr(i64(1), vN, i64(3))},
		{name: "MAP constructor", e: call("MAP", sLit("a"), iLit(1), sLit("b"), fLit(2)), want: arr(str("a"), f64(1), str("b"), f64(2))},
		{name: "STRUCT constructor", e: &ir.Call{Func: "STRUCT", Args: []ir.Expr{iLit(1), sLit("x")},
			T: types.StructOf(types.Field{Name: "A", Type: tBig}, types.Field{Name: "B", Type: tStr})}, want: arr(i64(1), str("x"))},
	})
	compileErr(t, "ARRAY_JOIN of arrays", call("ARRAY_JOIN", lit(arr(), types.ArrayOf(ai))), "ARRAY_JOIN does not take an array of ARRAY<INTEGER> (only BOOLEAN, numbers and STRING)")
	compileErr(t, "ARRAY_MAX of maps", call("ARRAY_MAX", lit(arr(), types.ArrayOf(types.MapOf(tStr, tInt)))), "ARRAY_MAX does not take an array of MAP<STRING, INTEGER>")
}

// TestCallChecks: the plan's types must be the library's.
func TestCallChecks(t *testing.T) {
	compileErr(t, "wrong T", &ir.Call{Func: "LEN", Args: []ir.Expr{sLit("a")}, T: tBig}, "LEN(STRING) gives INTEGER, but the plan expects BIGINT")
	compileErr(t, "unknown", &ir.Call{Func: "FOO", T: tBig}, "unknown function FOO")
	compileErr(t, "aggregate", &ir.Call{Func: "SUM", Args: []ir.Expr{iLit(1)}, T: tInt},
		"aggregate function SUM cannot be used here (only in the SELECT list or HAVING of a GROUP BY query)")
	// Folding: a constant call runs once at compile time; a failing one
	// fails per row (it may be in a branch no row takes).
	ev, err := Compile(call("UCASE", sLit("a")))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ev.Eval(nil); v.Str != "A" {
		t.Fatalf("folded UCASE = %v", v)
	}
}
