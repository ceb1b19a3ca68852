package eval

import (
	"math/rand/v2"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// Expression builders for tests.

func col(i int, t types.Type) *ir.Column { return &ir.Column{Index: i, T: t} }

func lit(v event.Value, t types.Type) *ir.Literal { return &ir.Literal{Value: v, T: t} }

func sLit(s string) *ir.Literal  { return lit(event.String(s), types.TString) }
func iLit(i int64) *ir.Literal   { return lit(event.Int(i), types.TInteger) }
func bLit(i int64) *ir.Literal   { return lit(event.Int(i), types.TBigint) }
func fLit(f float64) *ir.Literal { return lit(event.Float(f), types.TDouble) }
func tLit(b bool) *ir.Literal    { return lit(event.Bool(b), types.TBoolean) }
func nLit(t types.Type) *ir.Literal {
	return lit(event.Null, t)
}

// dLit is a DECIMAL literal of the precision and scale of its text.
func dLit(s string) *ir.Literal {
	d, err := parseDec(s)
	if err != nil {
		panic(err)
	}
	return lit(event.Decimal(s), types.DecimalOf(max(d.digits(), int(d.scale)+1, 1), int(d.scale)))
}

func bin(op ir.BinOp, l, r ir.Expr, t types.Type) *ir.Binary {
	return &ir.Binary{Op: op, L: l, R: r, T: t}
}
func cmp(op ir.BinOp, l, r ir.Expr) *ir.Binary { return bin(op, l, r, types.TBoolean) }

// call is a scalar call typed as ResolveScalar types it.
func call(name string, args ...ir.Expr) *ir.Call {
	ts := make([]types.Type, len(args))
	for i, a := range args {
		ts[i] = a.Type()
	}
	t, err := ResolveScalar(name, ts)
	if err != nil {
		panic(err)
	}
	return &ir.Call{Func: name, Args: args, T: t}
}

func str(s string) event.Value { return event.String(s) }
func i64(i int64) event.Value  { return event.Int(i) }
func f64(f float64) event.Value {
	return event.Float(f)
}
func decv(s string) event.Value { return event.Decimal(s) }
func arr(vs ...event.Value) event.Value {
	if vs == nil {
		vs = []event.Value{}
	}
	return event.Array(vs)
}

var (
	tInt  = types.TInteger
	tBig  = types.TBigint
	tDbl  = types.TDouble
	tStr  = types.TString
	tBool = types.TBoolean
)

// exprCase is an expression over a row with its exact result or error.
type exprCase struct {
	name string
	e    ir.Expr
	row  []event.Value
	want event.Value
	err  string // the exact error text; "" for none
}

func runCases(t *testing.T, cases []exprCase) {
	t.Helper()
	for _, c := range cases {
		ev, err := Compile(c.e)
		if err != nil {
			t.Errorf("%s: Compile: %v", c.name, err)
			continue
		}
		got, err := ev.Eval(c.row)
		switch {
		case c.err != "":
			if err == nil || err.Error() != c.err {
				t.Errorf("%s: got %v, %v; want error %q", c.name, got.Text(), err, c.err)
			}
		case err != nil:
			t.Errorf("%s: error %v; want %s", c.name, err, c.want.Text())
		case !got.Equal(c.want):
			t.Errorf("%s: got %s (kind %d); want %s (kind %d)", c.name, got.Text(), got.Kind, c.want.Text(), c.want.Kind)
		}
	}
}

// compileErr asserts that e fails to compile with exactly msg.
func compileErr(t *testing.T, name string, e ir.Expr, msg string) {
	t.Helper()
	_, err := Compile(e)
	if err == nil || err.Error() != msg {
		t.Errorf("%s: Compile error %v; want %q", name, err, msg)
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15)) }
