package expr

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	exprlang "github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"

	"github.com/sluice-dev/sluice/event"
)

// Decimal arithmetic enters expressions four ways: operators (+ - * / %
// == != < <= > >= in) are overloaded for operands whose static type is
// Decimal; unary minus and the builtins floor, ceil, abs, int, float, max
// and min are
// rewritten to decimal versions when their argument is a Decimal
// (decimalPatch); round(x[, places]) replaces the builtin for every number
// type; and decimal(x) converts text, integers and floats.

// binary operators overloaded for Decimal, with the function that does each.
var decOperators = map[string]string{
	"+": "__dec_add", "-": "__dec_sub", "*": "__dec_mul", "/": "__dec_div", "%": "__dec_mod",
	"==": "__dec_eq", "!=": "__dec_ne", "<": "__dec_lt", "<=": "__dec_le", ">": "__dec_gt", ">=": "__dec_ge",
	"in": "__dec_in",
}

// builtins with a decimal version.
var decBuiltins = map[string]string{
	"floor": "__dec_floor", "ceil": "__dec_ceil", "abs": "__dec_abs",
	"int": "__dec_int", "float": "__dec_float", "max": "__dec_max", "min": "__dec_min",
}

func decimalOptions() []exprlang.Option {
	arith := func(name, sym string, f func(x, y Decimal) (Decimal, error)) exprlang.Option {
		return exprlang.Function(name, func(p ...any) (any, error) {
			x, y, err := operands(sym, p[0], p[1])
			if err != nil {
				return nil, err
			}
			return f(x, y)
		}, new(func(Decimal, any) Decimal), new(func(any, Decimal) Decimal))
	}
	cmp := func(name, sym string, f func(c int) bool) exprlang.Option {
		return exprlang.Function(name, func(p ...any) (any, error) {
			x, y, err := operands(sym, p[0], p[1])
			if err != nil {
				return nil, err
			}
			return f(x.Cmp(y)), nil
		}, new(func(Decimal, any) bool), new(func(any, Decimal) bool))
	}
	eq := func(name string, want bool) exprlang.Option {
		return exprlang.Function(name, func(p ...any) (any, error) {
			return equal(p[0], p[1]) == want, nil
		}, new(func(Decimal, any) bool), new(func(any, Decimal) bool))
	}
	unary := func(name, builtin string, f func(x Decimal) (any, error), typ any) exprlang.Option {
		return exprlang.Function(name, func(p ...any) (any, error) {
			x, ok := p[0].(Decimal)
			if !ok {
				return nil, fmt.Errorf("invalid argument for %s (type %s)", builtin, goTypeName(p[0]))
			}
			return f(x)
		}, typ)
	}
	opts := []exprlang.Option{
		arith("__dec_add", "+", func(x, y Decimal) (Decimal, error) { return x.Add(y), nil }),
		arith("__dec_sub", "-", func(x, y Decimal) (Decimal, error) { return x.Sub(y), nil }),
		arith("__dec_mul", "*", func(x, y Decimal) (Decimal, error) { return x.Mul(y), nil }),
		arith("__dec_div", "/", Decimal.Div),
		arith("__dec_mod", "%", Decimal.Mod),
		eq("__dec_eq", true),
		eq("__dec_ne", false),
		cmp("__dec_lt", "<", func(c int) bool { return c < 0 }),
		cmp("__dec_le", "<=", func(c int) bool { return c <= 0 }),
		cmp("__dec_gt", ">", func(c int) bool { return c > 0 }),
		cmp("__dec_ge", ">=", func(c int) bool { return c >= 0 }),
		exprlang.Function("__dec_in", func(p ...any) (any, error) {
			return in(p[0], p[1])
		}, new(func(Decimal, any) bool)),
		unary("__dec_neg", "-", func(x Decimal) (any, error) { return x.Neg(), nil }, new(func(Decimal) Decimal)),
		unary("__dec_floor", "floor", func(x Decimal) (any, error) { return x.Floor(), nil }, new(func(Decimal) Decimal)),
		unary("__dec_ceil", "ceil", func(x Decimal) (any, error) { return x.Ceil(), nil }, new(func(Decimal) Decimal)),
		unary("__dec_abs", "abs", func(x Decimal) (any, error) { return x.Abs(), nil }, new(func(Decimal) Decimal)),
		unary("__dec_int", "int", func(x Decimal) (any, error) {
			i, err := x.Int()
			return int(i), err
		}, new(func(Decimal) int)),
		unary("__dec_float", "float", func(x Decimal) (any, error) { return x.Float64(), nil }, new(func(Decimal) float64)),
		exprlang.Function("__dec_max", func(p ...any) (any, error) { return extreme("max", 1, p) }, new(func(Decimal, ...any) Decimal)),
		exprlang.Function("__dec_min", func(p ...any) (any, error) { return extreme("min", -1, p) }, new(func(Decimal, ...any) Decimal)),
		exprlang.Function("round", round,
			new(func(Decimal) Decimal), new(func(Decimal, int) Decimal),
			new(func(float64) float64), new(func(float64, int) float64),
			new(func(int) float64), new(func(int, int) float64),
			new(func(int64) float64), new(func(int64, int) float64)),
		exprlang.Function("decimal", func(p ...any) (any, error) {
			if p[0] == nil {
				return nil, nil
			}
			if s, ok := p[0].(string); ok {
				d, err := ParseDecimal(s)
				if err != nil {
					return nil, fmt.Errorf("decimal(): %v", err)
				}
				return d, nil
			}
			d, ok, err := toDecimal(p[0])
			if !ok || err != nil {
				return nil, fmt.Errorf("decimal(): cannot convert %s", goTypeName(p[0]))
			}
			return d, nil
		}, new(func(any) Decimal)),
	}
	for op, fn := range decOperators {
		opts = append(opts, exprlang.Operator(op, fn))
	}
	return opts
}

// functions are the names of the functions this package adds; every other
// call must name one of expr-lang's builtins.
var functions = map[string]bool{"decimal": true, "round": true}

func init() {
	for _, fn := range decOperators {
		functions[fn] = true
	}
	for _, fn := range decBuiltins {
		functions[fn] = true
	}
	functions["__dec_neg"] = true
	functions["col"] = true
	functions["regex_replace"] = true
	functions["parse_time"] = true
	functions["parse_epoch"] = true
	functions["format_time"] = true
	functions[untypedFunc] = true
}

// extreme is max (sign 1) or min (-1) of numbers, at least one a Decimal.
func extreme(name string, sign int, p []any) (any, error) {
	var best Decimal
	for i, a := range p {
		d, ok, err := toDecimal(a)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("invalid argument for %s (type %s)", name, goTypeName(a))
		}
		if i == 0 || d.Cmp(best)*sign > 0 {
			best = d
		}
	}
	return best, nil
}

// round replaces expr-lang's round(x), which has no places argument: a
// Decimal rounds exactly, half away from zero; a float rounds half away
// from zero at places digits (in binary floating point, so not always to
// the exact decimal); an integer becomes a float, as the builtin does.
func round(p ...any) (any, error) {
	places := 0
	if len(p) == 2 {
		n, ok := toInt64(p[1])
		if !ok || n < -maxScale || n > maxScale {
			return nil, fmt.Errorf("round: places must be an integer between %d and %d", -maxScale, maxScale)
		}
		places = int(n)
	}
	switch x := p[0].(type) {
	case Decimal:
		return x.Round(places), nil
	case float64:
		return roundFloat(x, places), nil
	case float32:
		return roundFloat(float64(x), places), nil
	}
	if i, ok := toInt64(p[0]); ok {
		return roundFloat(float64(i), places), nil
	}
	return nil, fmt.Errorf("invalid argument for round (type %s)", goTypeName(p[0]))
}

func roundFloat(x float64, places int) float64 {
	if places == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return math.Round(x)
	}
	p := math.Pow(10, float64(places))
	if r := math.Round(x*p) / p; !math.IsInf(r, 0) && !math.IsNaN(r) {
		return r
	}
	return x
}

// toDecimal converts a numeric operand; ok is false for other types.
func toDecimal(v any) (d Decimal, ok bool, err error) {
	switch x := v.(type) {
	case Decimal:
		return x, true, nil
	case float64:
		return DecimalFromFloat(x), true, nil
	case float32:
		return DecimalFromFloat(float64(x)), true, nil
	}
	if i, isInt := toInt64(v); isInt {
		return DecimalFromInt(i), true, nil
	}
	if u, isUint := v.(uint64); isUint { // beyond int64
		d, err := ParseDecimal(fmt.Sprint(u))
		return d, true, err
	}
	return Decimal{}, false, nil
}

func operands(sym string, a, b any) (x, y Decimal, err error) {
	x, okx, err := toDecimal(a)
	if err != nil {
		return x, y, err
	}
	y, oky, err := toDecimal(b)
	if err != nil {
		return x, y, err
	}
	if !okx || !oky {
		return x, y, fmt.Errorf("invalid operation: %s %s %s", goTypeName(a), sym, goTypeName(b))
	}
	return x, y, nil
}

// equal compares like expr's ==: nil equals only nil, numbers compare by
// value, anything else is unequal.
func equal(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	x, okx, errx := toDecimal(a)
	y, oky, erry := toDecimal(b)
	if !okx || !oky || errx != nil || erry != nil {
		return false
	}
	return x.Cmp(y) == 0
}

func in(x, list any) (any, error) {
	if list == nil {
		return false, nil
	}
	v := reflect.ValueOf(list)
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		return nil, fmt.Errorf("invalid operation: decimal in %s", goTypeName(list))
	}
	for i := 0; i < v.Len(); i++ {
		if equal(x, v.Index(i).Interface()) {
			return true, nil
		}
	}
	return false, nil
}

// goTypeName names a runtime value's type as expr's messages do.
func goTypeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return typeName(reflect.TypeOf(v))
}

// decimalPatch rewrites what operator overloading cannot reach: unary minus
// on a Decimal, builtins called with a Decimal, and number literals next to
// a Decimal operand, which become Decimal constants once at compile time
// (so price > 10.5 compares with the exact 10.5 and converts nothing per
// event). It repeats with the operator overloading, because a nested
// operation becomes a Decimal only once the overloading has typed it.
type decimalPatch struct {
	applied bool
	schema  *event.Schema // nil without one
	cols    map[string]int
}

func (p *decimalPatch) Reset()             { p.applied = false }
func (p *decimalPatch) ShouldRepeat() bool { return p.applied }

func isDecimal(n ast.Node) bool { return n != nil && n.Type() == typeDecimal }

func (p *decimalPatch) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.UnaryNode:
		if isDecimal(x.Node) && x.Operator == "-" {
			p.call(n, "__dec_neg", x.Node)
		}
	case *ast.BuiltinNode:
		if fn, ok := decBuiltins[x.Name]; ok && len(x.Arguments) > 0 && isDecimal(x.Arguments[0]) {
			p.call(n, fn, x.Arguments...)
		}
	case *ast.BinaryNode:
		if _, ok := decOperators[x.Operator]; !ok {
			return
		}
		// Comparisons, + and - do not depend on the literal's scale (a
		// product's or quotient's scale does).
		var other [2]ast.Node
		switch x.Operator {
		case "==", "!=", "<", "<=", ">", ">=", "+", "-":
			other = [2]ast.Node{x.Left, x.Right}
		}
		if isDecimal(x.Left) && p.literal(&x.Right, other[0]) {
			p.applied = true
		}
		if isDecimal(x.Right) && p.literal(&x.Left, other[1]) {
			p.applied = true
		}
	}
}

func (p *decimalPatch) call(n *ast.Node, fn string, args ...ast.Node) {
	ast.Patch(n, &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: args})
	p.applied = true
}

// literal turns an integer or float literal (possibly negated) into a
// Decimal constant; compared with (or added to) a column of fixed scale,
// at that scale, so that no rescaling happens per event.
func (p *decimalPatch) literal(n *ast.Node, other ast.Node) bool {
	neg := false
	node := *n
	if u, ok := node.(*ast.UnaryNode); ok && u.Operator == "-" {
		neg, node = true, u.Node
	}
	var d Decimal
	switch l := node.(type) {
	case *ast.IntegerNode:
		d = DecimalFromInt(int64(l.Value))
	case *ast.FloatNode:
		d = DecimalFromFloat(l.Value)
	default:
		return false
	}
	if neg {
		d = d.Neg()
	}
	if id, ok := other.(*ast.IdentifierNode); ok && p.schema != nil {
		name := strings.TrimPrefix(strings.TrimPrefix(id.Value, "after."), "before.")
		if i, ok := p.cols[name]; ok {
			c := &p.schema.Columns[i]
			switch {
			case c.Type == event.TypeMoney:
				d = d.WithScale(2)
			case c.Scale > 0 && c.Scale <= 18:
				d = d.WithScale(c.Scale)
			}
		}
	}
	ast.Patch(n, &ast.ConstantNode{Value: d})
	return true
}
