package eval

import (
	"math"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

var (
	vT = event.Bool(true)
	vF = event.Bool(false)
	vN = event.Null
)

func TestThreeValuedLogic(t *testing.T) {
	vals := []event.Value{vT, vF, vN}
	// SQL's truth tables, indexed by vals.
	and := [3][3]event.Value{{vT, vF, vN}, {vF, vF, vF}, {vN, vF, vN}}
	or := [3][3]event.Value{{vT, vT, vT}, {vT, vF, vN}, {vT, vN, vN}}
	not := [3]event.Value{vF, vT, vN}
	var cases []exprCase
	row := []event.Value{}
	for i, a := range vals {
		cases = append(cases, exprCase{name: "NOT " + a.Text(), e: &ir.Not{X: col(0, tBool)}, row: []event.Value{a}, want: not[i]})
		for j, b := range vals {
			row = []event.Value{a, b}
			cases = append(cases,
				exprCase{name: a.Text() + " AND " + b.Text(), e: bin(ir.And, col(0, tBool), col(1, tBool), tBool), row: row, want: and[i][j]},
				exprCase{name: a.Text() + " OR " + b.Text(), e: bin(ir.Or, col(0, tBool), col(1, tBool), tBool), row: row, want: or[i][j]})
		}
	}
	runCases(t, cases)
}

// TestShortCircuit: the right side is not evaluated when the left
// decides (a division by zero there is no error).
func TestShortCircuit(t *testing.T) {
	boom := cmp(ir.Eq, bin(ir.Div, iLit(1), col(0, tInt), tInt), iLit(1))
	runCases(t, []exprCase{
		{name: "FALSE AND boom", e: bin(ir.And, tLit(false), boom, tBool), row: []event.Value{i64(0)}, want: vF},
		{name: "TRUE OR boom", e: bin(ir.Or, tLit(true), boom, tBool), row: []event.Value{i64(0)}, want: vT},
		{name: "TRUE AND boom", e: bin(ir.And, tLit(true), boom, tBool), row: []event.Value{i64(0)}, err: "division by zero: 1 / 0"},
		{name: "CASE WHEN FALSE THEN 1/0", e: &ir.Case{Whens: []ir.When{{Cond: tLit(false), Then: bin(ir.Div, iLit(1), iLit(0), tInt)}}, Else: iLit(2), T: tInt}, want: i64(2)},
	})
}

func TestComparisons(t *testing.T) {
	nan := math.NaN()
	ts := types.TTimestamp
	runCases(t, []exprCase{
		{name: "1 < 2", e: cmp(ir.Lt, iLit(1), iLit(2)), want: vT},
		{name: "2 <= 2", e: cmp(ir.Le, iLit(2), bLit(2)), want: vT},
		{name: "INT = DOUBLE", e: cmp(ir.Eq, iLit(2), fLit(2.0)), want: vT},
		{name: "INT = DECIMAL", e: cmp(ir.Eq, iLit(2), dLit("2.00")), want: vT},
		{name: "DECIMAL scales", e: cmp(ir.Lt, dLit("10.5"), dLit("10.50001")), want: vT},
		{name: "DOUBLE vs DECIMAL via Java text", e: cmp(ir.Eq, fLit(0.1), dLit("0.1")), want: vT},
		{name: "NULL = NULL", e: cmp(ir.Eq, nLit(tInt), nLit(tInt)), want: vN},
		{name: "1 <> NULL", e: cmp(ir.Ne, iLit(1), nLit(tInt)), want: vN},
		{name: "NaN = NaN", e: cmp(ir.Eq, fLit(nan), fLit(nan)), want: vF},
		{name: "NaN <> NaN", e: cmp(ir.Ne, fLit(nan), fLit(nan)), want: vF},
		{name: "NaN < 1", e: cmp(ir.Lt, fLit(nan), fLit(1)), want: vF},
		{name: "-0.0 = 0.0", e: cmp(ir.Eq, fLit(math.Copysign(0, -1)), fLit(0)), want: vT},
		{name: "strings", e: cmp(ir.Lt, sLit("abc"), sLit("abd")), want: vT},
		{name: "prefix", e: cmp(ir.Lt, sLit("ab"), sLit("abc")), want: vT},
		{name: "UTF-16 order", e: cmp(ir.Lt, sLit("\U0001F600"), sLit("\uFF21")), want: vT},
		{name: "booleans", e: cmp(ir.Ne, tLit(true), tLit(false)), want: vT},
		{name: "signed bytes", e: cmp(ir.Lt, lit(event.Bytes([]byte{0x80}), types.TBytes), lit(event.Bytes([]byte{0}), types.TBytes)), want: vT},
		{name: "TIMESTAMP vs STRING", e: cmp(ir.Eq, lit(i64(1585912800000000), ts), sLit("2020-04-03T11:20:00")), want: vT},
		{name: "TIMESTAMP vs bad STRING", e: cmp(ir.Eq, col(0, ts), sLit("April")), row: []event.Value{i64(0)},
			err: `cannot parse "April" as a TIMESTAMP: expected yyyy-MM-dd'T'HH:mm:ss.SSS with an optional offset, for example '2020-05-26T23:59:58.000' or '2020-05-26T23:59:58.000+0200' (or a part: '2020-05-26')`},
		{name: "DATE vs TIMESTAMP", e: cmp(ir.Lt, lit(i64(1), types.TDate), lit(i64(86400000001), ts)), want: vT},
		{name: "arrays", e: cmp(ir.Eq, lit(arr(i64(1), vN), types.ArrayOf(tInt)), lit(arr(i64(1), vN), types.ArrayOf(tInt))), want: vT},
		{name: "maps any order", e: cmp(ir.Eq, lit(arr(str("a"), i64(1), str("b"), i64(2)), types.MapOf(tStr, tInt)),
			lit(arr(str("b"), i64(2), str("a"), i64(1)), types.MapOf(tStr, tInt))), want: vT},
	})
	compileErr(t, "STRING vs INT", cmp(ir.Eq, sLit("1"), iLit(1)), "cannot compare STRING with INTEGER")
	compileErr(t, "ordered booleans", cmp(ir.Lt, tLit(true), tLit(false)), "operator < does not apply to BOOLEAN values (only = and <>)")
}

func TestArithmetic(t *testing.T) {
	d42 := types.DecimalOf(4, 2)
	a, b := col(0, d42), col(1, d42)
	decRow := func(x, y string) []event.Value { return []event.Value{decv(x), decv(y)} }
	runCases(t, []exprCase{
		{name: "int", e: bin(ir.Add, iLit(2), iLit(3), tInt), want: i64(5)},
		{name: "int/int truncates", e: bin(ir.Div, iLit(-7), iLit(2), tInt), want: i64(-3)},
		{name: "int%int sign of dividend", e: bin(ir.Mod, iLit(-7), iLit(2), tInt), want: i64(-1)},
		{name: "int overflow", e: bin(ir.Add, iLit(math.MaxInt32), iLit(1), tInt), err: "INTEGER overflow: 2147483647 + 1 is out of range"},
		{name: "bigint overflow", e: bin(ir.Mul, bLit(math.MaxInt64), bLit(2), tBig), err: "BIGINT overflow: 9223372036854775807 * 2"},
		{name: "min/-1", e: bin(ir.Div, bLit(math.MinInt64), bLit(-1), tBig), err: "BIGINT overflow: -9223372036854775808 / -1"},
		{name: "int+bigint", e: bin(ir.Add, iLit(1), bLit(math.MaxInt32), tBig), want: i64(2147483648)},
		{name: "division by zero", e: bin(ir.Div, iLit(1), iLit(0), tInt), err: "division by zero: 1 / 0"},
		{name: "modulo by zero", e: bin(ir.Mod, iLit(1), iLit(0), tInt), err: "division by zero: 1 % 0"},
		{name: "double division by zero", e: bin(ir.Div, fLit(1), iLit(0), tDbl), want: f64(math.Inf(1))},
		{name: "double mod", e: bin(ir.Mod, fLit(-7.5), fLit(2), tDbl), want: f64(-1.5)},
		{name: "int+double", e: bin(ir.Add, iLit(1), fLit(0.5), tDbl), want: f64(1.5)},
		{name: "decimal+double is double", e: bin(ir.Add, dLit("10.01"), fLit(5.1), tDbl), want: f64(15.11)},
		{name: "NULL + 1", e: bin(ir.Add, nLit(tInt), iLit(1), tInt), want: vN},
		// ksqlDB's decimal types: + → (5,2), * → (9,4), / → (11,7), % → (4,2).
		{name: "dec +", e: bin(ir.Add, a, b, types.DecimalOf(5, 2)), row: decRow("10.01", "5.10"), want: decv("15.11")},
		{name: "dec -", e: bin(ir.Sub, a, b, types.DecimalOf(5, 2)), row: decRow("10.01", "-5.00"), want: decv("15.01")},
		{name: "dec *", e: bin(ir.Mul, a, b, types.DecimalOf(9, 4)), row: decRow("10.10", "-2.00"), want: decv("-20.2000")},
		{name: "dec /", e: bin(ir.Div, a, b, types.DecimalOf(11, 7)), row: decRow("10.10", "2.00"), want: decv("5.0500000")},
		{name: "dec / rounds half up", e: bin(ir.Div, a, b, types.DecimalOf(11, 7)), row: decRow("10.00", "3.00"), want: decv("3.3333333")},
		{name: "dec / negative", e: bin(ir.Div, a, b, types.DecimalOf(11, 7)), row: decRow("-20.00", "3.00"), want: decv("-6.6666667")},
		{name: "dec / 0", e: bin(ir.Div, a, b, types.DecimalOf(11, 7)), row: decRow("10.10", "0.00"), err: "division by zero: 10.10 / 0"},
		{name: "dec %", e: bin(ir.Mod, a, b, types.DecimalOf(4, 2)), row: decRow("10.10", "-2.00"), want: decv("0.10")},
		{name: "dec + int", e: bin(ir.Add, a, iLit(5), types.DecimalOf(13, 2)), row: decRow("10.01", "0"), want: decv("15.01")},
		{name: "dec overflow", e: bin(ir.Add, a, b, types.DecimalOf(4, 2)), row: decRow("99.99", "0.01"),
			err: "numeric overflow: 100.00 does not fit DECIMAL(4, 2), which holds absolute values below 10^2"},
		{name: "neg int", e: &ir.Neg{X: iLit(5), T: tInt}, want: i64(-5)},
		{name: "neg min int", e: &ir.Neg{X: col(0, tInt), T: tInt}, row: []event.Value{i64(math.MinInt32)}, err: "INTEGER overflow: -(-2147483648) is out of range"},
		{name: "neg dec", e: &ir.Neg{X: col(0, types.DecimalOf(7, 5)), T: types.DecimalOf(7, 5)}, row: []event.Value{decv("10.12345")}, want: decv("-10.12345")},
		{name: "neg double", e: &ir.Neg{X: fLit(0), T: tDbl}, want: f64(math.Copysign(0, -1))},
		{name: "concat", e: bin(ir.Concat, sLit("a"), sLit("b"), tStr), want: str("ab")},
		{name: "concat NULL", e: bin(ir.Concat, sLit("a"), nLit(tStr), tStr), want: vN},
	})
	compileErr(t, "STRING + INT", bin(ir.Add, sLit("a"), iLit(1), tInt), "operator + needs numbers, not STRING and INTEGER")
	compileErr(t, "DOUBLE as INT", bin(ir.Add, fLit(1), iLit(1), tInt), "operator + of DOUBLE and INTEGER cannot give INTEGER")
}

func TestPredicates(t *testing.T) {
	s := col(0, tStr)
	row := func(v string) []event.Value { return []event.Value{str(v)} }
	like := func(p string, esc rune, neg bool) *ir.Like {
		return &ir.Like{X: s, Pattern: sLit(p), Escape: esc, Negate: neg}
	}
	runCases(t, []exprCase{
		{name: "IS NULL", e: &ir.IsNull{X: col(0, tInt)}, row: []event.Value{vN}, want: vT},
		{name: "IS NOT NULL", e: &ir.IsNull{X: col(0, tInt), Negate: true}, row: []event.Value{vN}, want: vF},
		{name: "like %", e: like("%hi%", 0, false), row: row("this"), want: vT},
		{name: "like _", e: like("t_is", 0, false), row: row("this"), want: vT},
		{name: "like _ is one character", e: like("_", 0, false), row: row("é"), want: vT},
		{name: "like whole", e: like("hi", 0, false), row: row("this"), want: vF},
		{name: "like case", e: like("T%", 0, false), row: row("this"), want: vF},
		{name: "like newline", e: like("a%b", 0, false), row: row("a\nb"), want: vT},
		{name: "like backtrack", e: like("%a%b%c", 0, false), row: row("xxaxxbxxbxc"), want: vT},
		{name: "like regex chars are literal", e: like("a.c", 0, false), row: row("abc"), want: vF},
		{name: "like escape", e: like(`100\%`, '\\', false), row: row("100%"), want: vT},
		{name: "like escape no match", e: like(`100\%`, '\\', false), row: row("1000"), want: vF},
		{name: "not like", e: like("a%", 0, true), row: row("abc"), want: vF},
		{name: "like NULL", e: like("a%", 0, false), row: []event.Value{vN}, want: vN},
		{name: "like column pattern", e: &ir.Like{X: s, Pattern: col(1, tStr)}, row: []event.Value{str("abc"), str("%c")}, want: vT},
		{name: "IN match", e: &ir.In{X: iLit(2), List: []ir.Expr{iLit(1), bLit(2)}}, want: vT},
		{name: "IN mixed numbers", e: &ir.In{X: iLit(2), List: []ir.Expr{fLit(2.0)}}, want: vT},
		{name: "IN no match", e: &ir.In{X: iLit(3), List: []ir.Expr{iLit(1), iLit(2)}}, want: vF},
		{name: "IN with NULL", e: &ir.In{X: iLit(3), List: []ir.Expr{iLit(1), nLit(tInt)}}, want: vN},
		{name: "IN match with NULL", e: &ir.In{X: iLit(1), List: []ir.Expr{nLit(tInt), iLit(1)}}, want: vT},
		{name: "NULL IN", e: &ir.In{X: nLit(tInt), List: []ir.Expr{iLit(1)}}, want: vN},
		{name: "NOT IN with NULL", e: &ir.In{X: iLit(3), List: []ir.Expr{iLit(1), nLit(tInt)}, Negate: true}, want: vN},
		{name: "NOT IN", e: &ir.In{X: iLit(3), List: []ir.Expr{iLit(1)}, Negate: true}, want: vT},
		{name: "BETWEEN", e: &ir.Between{X: iLit(1), Lo: iLit(0), Hi: iLit(2)}, want: vT},
		{name: "BETWEEN bounds", e: &ir.Between{X: sLit("b"), Lo: sLit("a"), Hi: sLit("b")}, want: vT},
		{name: "NOT BETWEEN", e: &ir.Between{X: iLit(5), Lo: iLit(0), Hi: iLit(2), Negate: true}, want: vT},
		{name: "BETWEEN NULL bound false", e: &ir.Between{X: iLit(5), Lo: nLit(tInt), Hi: iLit(2)}, want: vF},
		{name: "BETWEEN NULL bound unknown", e: &ir.Between{X: iLit(1), Lo: nLit(tInt), Hi: iLit(2)}, want: vN},
	})
	compileErr(t, "like escape at end", like(`a\`, '\\', false), `LIKE pattern "a\\" ends with the escape character`)
}

func TestCase(t *testing.T) {
	x := col(0, tInt)
	searched := &ir.Case{Whens: []ir.When{
		{Cond: cmp(ir.Lt, x, iLit(0)), Then: sLit("neg")},
		{Cond: cmp(ir.Eq, x, iLit(0)), Then: sLit("zero")},
	}, Else: sLit("pos"), T: tStr}
	simple := &ir.Case{Operand: x, Whens: []ir.When{{Cond: iLit(1), Then: iLit(10)}, {Cond: iLit(2), Then: fLit(2.5)}}, T: tDbl}
	runCases(t, []exprCase{
		{name: "searched first", e: searched, row: []event.Value{i64(-3)}, want: str("neg")},
		{name: "searched second", e: searched, row: []event.Value{i64(0)}, want: str("zero")},
		{name: "searched else", e: searched, row: []event.Value{i64(4)}, want: str("pos")},
		{name: "NULL condition is not true", e: searched, row: []event.Value{vN}, want: str("pos")},
		{name: "simple widens", e: simple, row: []event.Value{i64(1)}, want: f64(10)},
		{name: "simple second", e: simple, row: []event.Value{i64(2)}, want: f64(2.5)},
		{name: "simple no else", e: simple, row: []event.Value{i64(3)}, want: vN},
		{name: "simple NULL operand", e: simple, row: []event.Value{vN}, want: vN},
	})
}

func TestAccess(t *testing.T) {
	at := types.ArrayOf(tStr)
	a := col(0, at)
	row := []event.Value{arr(str("a"), str("b"), str("c"))}
	mt := types.MapOf(tStr, tInt)
	st := types.StructOf(types.Field{Name: "A", Type: tInt}, types.Field{Name: "B", Type: tStr})
	runCases(t, []exprCase{
		{name: "[1]", e: &ir.Subscript{X: a, Index: iLit(1), T: tStr}, row: row, want: str("a")},
		{name: "[3]", e: &ir.Subscript{X: a, Index: iLit(3), T: tStr}, row: row, want: str("c")},
		{name: "[-1]", e: &ir.Subscript{X: a, Index: iLit(-1), T: tStr}, row: row, want: str("c")},
		{name: "[-3]", e: &ir.Subscript{X: a, Index: iLit(-3), T: tStr}, row: row, want: str("a")},
		{name: "[0]", e: &ir.Subscript{X: a, Index: iLit(0), T: tStr}, row: row, want: vN},
		{name: "[4]", e: &ir.Subscript{X: a, Index: iLit(4), T: tStr}, row: row, want: vN},
		{name: "[-4]", e: &ir.Subscript{X: a, Index: iLit(-4), T: tStr}, row: row, want: vN},
		{name: "[NULL]", e: &ir.Subscript{X: a, Index: nLit(tInt), T: tStr}, row: row, want: vN},
		{name: "NULL array", e: &ir.Subscript{X: a, Index: iLit(1), T: tStr}, row: []event.Value{vN}, want: vN},
		{name: "map", e: &ir.Subscript{X: col(0, mt), Index: sLit("b"), T: tInt}, row: []event.Value{arr(str("a"), i64(1), str("b"), i64(2))}, want: i64(2)},
		{name: "map missing", e: &ir.Subscript{X: col(0, mt), Index: sLit("z"), T: tInt}, row: []event.Value{arr(str("a"), i64(1))}, want: vN},
		{name: "struct field", e: &ir.FieldOf{X: col(0, st), Field: 1, T: tStr}, row: []event.Value{arr(i64(1), str("x"))}, want: str("x")},
		{name: "NULL struct", e: &ir.FieldOf{X: col(0, st), Field: 1, T: tStr}, row: []event.Value{vN}, want: vN},
		{name: "bad struct value", e: &ir.FieldOf{X: col(0, st), Field: 1, T: tStr}, row: []event.Value{arr(i64(1))},
			err: "a struct of 1 fields where STRUCT<`A` INTEGER, `B` STRING> is expected"},
	})
	compileErr(t, "field out of range", &ir.FieldOf{X: col(0, st), Field: 2, T: tStr}, "field 2 of STRUCT<`A` INTEGER, `B` STRING> does not exist")
}

func TestColumnChecks(t *testing.T) {
	runCases(t, []exprCase{
		{name: "kind", e: col(0, tInt), row: []event.Value{str("x")}, err: "column 0: a STRING value where INTEGER is expected"},
		{name: "INTEGER range", e: col(0, tInt), row: []event.Value{i64(1 << 40)}, err: "column 0: 1099511627776 is out of range for INTEGER"},
		{name: "missing column", e: col(3, tInt), row: []event.Value{i64(1)}, err: "column 3: the row has only 1 columns"},
		{name: "unchanged", e: col(0, tStr), row: []event.Value{event.Unchanged},
			err: "column 0: the source did not send this value (an unchanged TOAST column); it cannot be used in an expression"},
		{name: "NULL", e: col(0, tInt), row: []event.Value{vN}, want: vN},
	})
}

// TestExtremes: values at the ends of their ranges give results or
// errors, never a panic.
func TestExtremes(t *testing.T) {
	a := col(0, types.ArrayOf(tStr))
	row := []event.Value{arr(str("a"))}
	runCases(t, []exprCase{
		{name: "index MinInt64", e: &ir.Subscript{X: a, Index: col(1, tBig), T: tStr}, row: append(row, i64(math.MinInt64)), want: vN},
		{name: "index MaxInt64", e: &ir.Subscript{X: a, Index: col(1, tBig), T: tStr}, row: append(row, i64(math.MaxInt64)), want: vN},
		{name: "INSTR MinInt", e: call("INSTR", sLit("abc"), sLit("b"), col(0, tInt)), row: []event.Value{i64(math.MinInt32)}, want: i64(0)},
		{name: "SUBSTRING huge length", e: call("SUBSTRING", sLit("abc"), iLit(2), col(0, tInt)), row: []event.Value{i64(math.MaxInt32)}, want: str("bc")},
		{name: "DATE to TIMESTAMP overflow", e: cast(col(0, types.TDate), types.TTimestamp), row: []event.Value{i64(math.MaxInt64 / 2)},
			err: "cannot cast DATE 4611686018427387903 to TIMESTAMP: out of range"},
		{name: "DATEADD overflow", e: call("DATEADD", sLit("DAYS"), iLit(1), col(0, types.TDate)), row: []event.Value{i64(math.MaxInt64 / 2)},
			err: "DATEADD: the date is out of range"},
		{name: "far DATE compares", e: cmp(ir.Gt, col(0, types.TDate), lit(i64(0), types.TTimestamp)), row: []event.Value{i64(math.MaxInt64)}, want: vT},
	})
}
