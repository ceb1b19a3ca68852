package expr

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// directSchema has a column of each type the direct path reads, and two it
// does not (a decimal, a timestamp).
var directSchema = &event.Schema{Stream: "db.public.t", Table: "t", Namespace: "public", Columns: []event.Column{
	{Name: "id", Type: event.TypeInt32, Key: true},
	{Name: "i8", Type: event.TypeInt64, Optional: true},
	{Name: "f8", Type: event.TypeFloat64, Optional: true},
	{Name: "txt", Type: event.TypeString, Optional: true},
	{Name: "tag", Type: event.TypeEnum, Optional: true},
	{Name: "flag", Type: event.TypeBool, Optional: true},
	{Name: "dec", Type: event.TypeDecimal, Precision: 10, Scale: 2, Optional: true},
	{Name: "ts", Type: event.TypeTimestampTZ, Optional: true},
}, KeyIdx: []int{0}}

// directValues are each column's candidate values: NULL, an unchanged
// TOAST value, a value of another kind (a source bug) and edge values.
var directValues = [][]event.Value{
	{event.Int(1), event.Int(-7), event.Int(0), event.Int(math.MaxInt32)},
	{event.Int(0), event.Int(math.MaxInt64), event.Int(math.MinInt64), event.Int(-3), event.Int(42), event.Null, event.Unchanged, event.String("4")},
	{event.Float(0), event.Float(math.Copysign(0, -1)), event.Float(2.5), event.Float(math.NaN()), event.Float(math.Inf(1)), event.Float(-1e308), event.Float(42), event.Null, event.Unchanged},
	{event.String(""), event.String("abc"), event.String("ÄbC ß "), event.String("42"), event.String("a\x00b"), event.String("\xff"), event.Null, event.Unchanged, event.Int(1)},
	{event.String("red"), event.String("Red"), event.String(""), event.Null},
	{event.Bool(true), event.Bool(false), event.Null, event.Unchanged},
	{event.Decimal("12.50"), event.Decimal("-0.00"), event.Decimal("100"), event.Decimal("-12.5"), event.Decimal("7"), event.Decimal(".5"),
		event.Decimal("+3."), event.Decimal("0.000000000000000001"), event.Decimal("123456789012345678.9"), event.Decimal("1e3"),
		event.Decimal("NaN"), event.Decimal("-Infinity"), event.Decimal("abc"), event.Decimal(""), event.String("2.50"), event.Int(-3),
		event.Int(math.MinInt64), event.Null, event.Unchanged},
	{event.Int(1_700_000_000_000_000), event.Null},
}

// exprGen turns bytes into an expression over directSchema's columns,
// mostly of the shapes the direct path knows.
type exprGen struct {
	data []byte
	pos  int
}

func (g *exprGen) pick(n int) int {
	if g.pos >= len(g.data) {
		return 0
	}
	b := g.data[g.pos]
	g.pos++
	return int(b) % n
}

var genLeaves = []string{"id", "i8", "f8", "txt", "tag", "flag", "dec", "ts", "0", "1", "-3", "7", "2.5", "0.0", "1e308",
	"9223372036854775807", "'abc'", "''", "'ÄBC ß '", "'42'", "'red'", "true", "false", "nil", "op", "table", "meta.op", "stream", "schema", "-0.0", "(0.0 * -1)",
	"dec", "12.5", "-12.50", "0.000000000000000001", "100",
	`col("i8")`, `col("txt")`, `col("f8")`, `col("flag")`, `col("dec")`, `col("nope")`}

var genBinary = []string{"==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "&&", "||", "and", "or",
	"contains", "startsWith", "endsWith", "matches", "??", "in"}

func (g *exprGen) expr(depth int) string {
	if depth > 3 {
		return genLeaves[g.pick(len(genLeaves))]
	}
	switch g.pick(12) {
	case 0, 1, 2:
		return genLeaves[g.pick(len(genLeaves))]
	case 3, 4, 5:
		op := genBinary[g.pick(len(genBinary))]
		if op == "in" {
			lists := []string{"[1, 2, 42]", "['red', 'abc', '']", "[1, 'a']", "[2.5]"}
			return "(" + g.expr(depth+1) + ") in " + lists[g.pick(len(lists))]
		}
		if op == "matches" {
			pats := []string{"'^a'", "'B.?C'", "'('", "txt"}
			return "(" + g.expr(depth+1) + ") matches " + pats[g.pick(len(pats))]
		}
		return "(" + g.expr(depth+1) + ") " + op + " (" + g.expr(depth+1) + ")"
	case 6:
		ops := []string{"!", "-", "not "}
		return ops[g.pick(len(ops))] + "(" + g.expr(depth+1) + ")"
	case 7:
		fns := []string{"upper", "lower", "trim", "len", "abs", "string"}
		return fns[g.pick(len(fns))] + "(" + g.expr(depth+1) + ")"
	case 8:
		return "(" + g.expr(depth+1) + ") ? (" + g.expr(depth+1) + ") : (" + g.expr(depth+1) + ")"
	case 9:
		return genLeaves[g.pick(6)] + []string{" == nil", " != nil", " ?? 0"}[g.pick(3)]
	case 10:
		return "let v = " + g.expr(depth+1) + "; v"
	}
	return "(" + g.expr(depth+1) + " + " + g.expr(depth+1) + " + " + g.expr(depth+1) + ")"
}

// row picks one candidate value per column.
func (g *exprGen) row() []event.Value {
	row := make([]event.Value, len(directValues))
	for i, vs := range directValues {
		row[i] = vs[g.pick(len(vs))]
	}
	return row
}

// sameResult compares two results by Go type and value (NaN equals NaN).
func sameResult(a, b any) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	if x, ok := a.(float64); ok {
		y := b.(float64)
		return x == y && math.Signbit(x) == math.Signbit(y) || x != x && y != y
	}
	return a == b
}

// directProgram compiles src for directSchema; nil when it does not
// compile or is not on the direct path.
func directProgram(src string) *Program {
	e, err := Compile("x", src, false)
	if err != nil {
		return nil
	}
	p, err := e.For(directSchema)
	if err != nil || p.direct == nil {
		return nil
	}
	return p
}

// checkDirect requires the machine to give p's direct result on row, and
// no error, wherever the direct path gives one. It reports whether the
// direct path gave a result.
func checkDirect(t *testing.T, p *Program, op event.Op, row []event.Value) bool {
	t.Helper()
	ev := &event.Event{Op: op, Schema: directSchema, After: row}
	got, ok := p.direct(ev, row)
	if !ok {
		return false
	}
	want, err := p.evalVM(NewEnv(), ev, row)
	if err != nil {
		t.Fatalf("%q on %v: the direct path gives %#v, the machine fails: %v", p.expr.src, row, got, err)
	}
	if !sameResult(got, want) {
		t.Fatalf("%q on %v: the direct path gives %#v (%T), the machine %#v (%T)", p.expr.src, row, got, got, want, want)
	}
	return true
}

// FuzzDirect holds the direct path to the machine's result on random
// expressions and rows (go test -fuzz FuzzDirect ./processor/expr).
func FuzzDirect(f *testing.F) {
	for _, s := range []string{"\x03\x01\x00\x08", "\x05\x03\x0b\x02\x08\x01", "\x07\x00\x00\x03", "\x08\x09\x05\x00"} {
		f.Add([]byte(s), []byte{1, 2, 3, 4, 5, 6})
	}
	f.Fuzz(func(t *testing.T, exprBytes, rowBytes []byte) {
		g := &exprGen{data: exprBytes}
		src := g.expr(0)
		if p := directProgram(src); p != nil {
			rg := &exprGen{data: rowBytes}
			checkDirect(t, p, []event.Op{event.OpCreate, event.OpUpdate, event.OpDelete, event.OpRead}[rg.pick(4)], rg.row())
		}
	})
}

// TestDirectMatchesMachine runs the generator of FuzzDirect on 10,000
// seeded inputs, each on eight rows, and requires the direct path to have
// given a result on a good share of them (so that the comparison is not
// vacuous).
func TestDirectMatchesMachine(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 32))
	direct := 0
	for range 10_000 {
		b := make([]byte, 24)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		p := directProgram((&exprGen{data: b}).expr(0))
		if p == nil {
			continue
		}
		for range 8 {
			rb := make([]byte, len(directValues))
			for i := range rb {
				rb[i] = byte(r.UintN(256))
			}
			if checkDirect(t, p, event.OpCreate, (&exprGen{data: rb}).row()) {
				direct++
			}
		}
	}
	if direct < 5_000 {
		t.Fatalf("the direct path gave a result in %d evaluations of 80,000, want at least 5,000", direct)
	}
	t.Logf("the direct path gave a result in %d evaluations of 80,000", direct)
}

// TestDirectCoverage lists what the direct path takes and what it leaves
// to the machine, and checks Eval gives the direct result.
func TestDirectCoverage(t *testing.T) {
	row := []event.Value{event.Int(1), event.Int(42), event.Float(2.5), event.String("abc"), event.String("red"),
		event.Bool(true), event.Decimal("12.50"), event.Int(1_700_000_000_000_000)}
	for _, tc := range []struct {
		src  string
		want any // nil: not on the direct path
	}{
		{"i8 >= 0 && f8 >= 0", true},
		{"upper(tag) + ' ' + txt", "RED abc"},
		{"i8 + 1", 43},
		{"i8", int64(42)},
		{"id * 2 + i8 % 5", 4},
		{"f8 * 2", 5.0},
		{"i8 / 4", 10.5},
		{"-i8", int64(-42)},
		{"op != 'd' && table == 't'", true},
		{"meta.op == 'c' || schema == 'x'", true},
		{"txt != nil && txt contains 'b'", true},
		{"tag in ['red', 'blue']", true},
		{"i8 not in [1, 2]", true},
		{"txt matches '^a.c$'", true},
		{"flag ? len(txt) : 0", 3},
		{"trim(lower('  X  ')) == 'x'", true},
		{"i8 > 50 ? 0.0 : 1.5", 1.5},
		{"i8 > 50 ? 0.0 : -0.0", nil}, // the machine gives 0.0 for both zeros (one constant)
		{"f8 * (0.0 * -1)", nil},
		{"dec > 10", true},
		{"10.5 <= dec", true},
		{"dec == 12.5", true},
		{"dec != 12.5", false},
		{"dec < -1 || dec >= 100", false},
		{"dec + 1 > 5", nil},
		{"dec > i8", nil},
		{"ts > now()", nil},
		{"after.i8 > 1", nil},
		{"$env['i8'] > 1", true},
		{"let x = i8; x > 1", nil},
		{"i8 ?? 0", nil},
		{"string(i8)", nil},
		{"col('i8') == 42", true},
		{"col('txt') != nil && upper(col('txt')) == 'ABC'", true},
		{"col('i8') + 1 > col('f8')", true},
		{"col('tag') in ['red']", true},
		{"col('nope') == nil", nil},
		{"col('i8') + 1", nil}, // the result has no static type
		{"key.id == 1", nil},
	} {
		e, err := Compile("x", tc.src, false)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		p, err := e.For(directSchema)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if (p.direct != nil) != (tc.want != nil) {
			t.Errorf("%q: direct path built %t, want %t", tc.src, p.direct != nil, tc.want != nil)
			continue
		}
		ev := &event.Event{Op: event.OpCreate, Schema: directSchema, After: row}
		got, err := p.Eval(NewEnv(), ev, row)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if tc.want != nil && !sameResult(got, tc.want) {
			t.Errorf("%q = %#v (%T), want %#v (%T)", tc.src, got, got, tc.want, tc.want)
		}
		if tc.want != nil {
			checkDirect(t, p, event.OpCreate, row)
		}
	}
}

// TestDirectGivesUp checks that a NULL, an unchanged TOAST value and a
// zero divisor leave the direct path and get the machine's result or
// error.
func TestDirectGivesUp(t *testing.T) {
	row := []event.Value{event.Int(1), event.Null, event.Float(2.5), event.Unchanged, event.String("red"),
		event.Bool(true), event.Null, event.Null}
	for _, tc := range []struct{ src, want string }{
		{"i8 > 1", "nil"},
		{"txt == 'a'", "unchanged TOAST"},
		{"id % (id - 1) == 0", "divide by zero"},
		{"i8 == nil", "true"},
		{"txt != nil", "unchanged TOAST"},
	} {
		e, err := Compile("x", tc.src, false)
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.For(directSchema)
		if err != nil {
			t.Fatal(err)
		}
		if p.direct == nil {
			t.Fatalf("%q is not on the direct path", tc.src)
		}
		ev := &event.Event{Op: event.OpCreate, Schema: directSchema, After: row}
		got, err := p.Eval(NewEnv(), ev, row)
		var text string
		if err != nil {
			text = err.Error()
		} else {
			text = strings.TrimSpace(strings.ToLower(reflect.ValueOf(got).String()))
			if b, ok := got.(bool); ok {
				text = map[bool]string{true: "true", false: "false"}[b]
			}
		}
		if !strings.Contains(text, tc.want) {
			t.Errorf("%q = %q, want it to contain %q", tc.src, text, tc.want)
		}
	}
}

// TestDirectDecimalCompare compares decimal columns with constants on both
// paths, every operator, both ways round, on edge values and on random
// decimal text (signs, leading and trailing zeros, points anywhere).
func TestDirectDecimalCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	values := append([]event.Value(nil), directValues[6]...)
	for range 300 {
		var b strings.Builder
		b.WriteString([]string{"", "-", "+"}[r.IntN(3)])
		n := 1 + r.IntN(18)
		point := r.IntN(n + 2)
		for i := range n {
			if i == point {
				b.WriteByte('.')
			}
			b.WriteByte(byte('0' + []int{0, 0, 1, 5, 9, r.IntN(10)}[r.IntN(6)]))
		}
		values = append(values, event.Decimal(b.String()))
	}
	base := []event.Value{event.Int(1), event.Int(42), event.Float(2.5), event.String("abc"), event.String("red"),
		event.Bool(true), event.Null, event.Null}
	direct := 0
	for _, c := range []string{"0", "-0", "12.5", "-12.50", "100", "0.000000000000000001", "99999999999999999.99", "7", "-3", "1.05"} {
		for _, op := range []string{"==", "!=", "<", "<=", ">", ">="} {
			for _, src := range []string{"dec " + op + " " + c, c + " " + op + " dec"} {
				p := directProgram(src)
				if p == nil {
					t.Fatalf("%q is not on the direct path", src)
				}
				for _, v := range values {
					row := append([]event.Value(nil), base...)
					row[6] = v
					if checkDirect(t, p, event.OpCreate, row) {
						direct++
					}
				}
			}
		}
	}
	if direct < 30_000 {
		t.Fatalf("the direct path gave a result in %d comparisons, want at least 30,000", direct)
	}
}

// FuzzDecimalText holds decimalParts to the language of ParseDecimal's
// fast path (the direct path's precheck relies on it) and its order to
// Decimal.Cmp.
func FuzzDecimalText(f *testing.F) {
	for _, s := range []string{"12.50", "-0.00", "+3.", ".5", "-", ".", "1e3", "123456789012345678", "1234567890123456789", "0.000000000000000001"} {
		f.Add(s, "-12.5")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		pa, ok := decimalParts(a, true)
		if _, small := parseSmall(a); ok != small {
			t.Fatalf("decimalParts(%q) ok %t, parseSmall %t", a, ok, small)
		}
		pb, okb := decimalParts(b, true)
		if !ok || !okb {
			return
		}
		da, _ := ParseDecimal(a)
		db, _ := ParseDecimal(b)
		if got, want := pa.cmp(decParts[string](pb)), da.Cmp(db); got != want {
			t.Fatalf("%q vs %q: %d, Decimal.Cmp %d", a, b, got, want)
		}
	})
}
