package eval

import (
	"fmt"
	"math"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

var opNames = [...]string{ir.Add: "+", ir.Sub: "-", ir.Mul: "*", ir.Div: "/", ir.Mod: "%", ir.Concat: "||",
	ir.Eq: "=", ir.Ne: "<>", ir.Lt: "<", ir.Le: "<=", ir.Gt: ">", ir.Ge: ">=", ir.And: "AND", ir.Or: "OR"}

func opName(op ir.BinOp) string {
	if int(op) < len(opNames) {
		return opNames[op]
	}
	return fmt.Sprintf("operator %d", op)
}

func compileBinary(e *ir.Binary) (node, error) {
	l, err := compile(e.L)
	if err != nil {
		return node{}, err
	}
	r, err := compile(e.R)
	if err != nil {
		return node{}, err
	}
	var n node
	switch e.Op {
	case ir.Add, ir.Sub, ir.Mul, ir.Div, ir.Mod:
		n, err = compileArith(e.Op, l, r, e.T)
	case ir.Concat:
		n, err = compileConcat(l, r, e.T)
	case ir.Eq, ir.Ne, ir.Lt, ir.Le, ir.Gt, ir.Ge:
		n, err = compileCompare(e.Op, l, r)
	case ir.And, ir.Or:
		n, err = compileLogic(e.Op, l, r)
	default:
		return node{}, fmt.Errorf("unsupported binary operator %d", e.Op)
	}
	if err != nil {
		return node{}, err
	}
	return fold(n), nil
}

// binaryNode builds a NULL-propagating node: NULL if either side is NULL
// (the right side is not evaluated when the left is NULL), else op. A
// constant side is evaluated once, here.
func binaryNode(l, r node, t types.Type, op func(a, b event.Value) (event.Value, error)) node {
	lf, rf := l.f, r.f
	konst := l.konst && r.konst
	if r.konst && !l.konst {
		if rv, err := rf(nil); err == nil {
			if rv.Kind == event.KindNull {
				return node{t: t, f: func(row []event.Value) (event.Value, error) {
					_, err := lf(row)
					return event.Null, err
				}}
			}
			return node{t: t, f: func(row []event.Value) (event.Value, error) {
				a, err := lf(row)
				if err != nil || a.Kind == event.KindNull {
					return event.Null, err
				}
				return op(a, rv)
			}}
		}
	}
	return node{t: t, konst: konst, f: func(row []event.Value) (event.Value, error) {
		a, err := lf(row)
		if err != nil || a.Kind == event.KindNull {
			return event.Null, err
		}
		b, err := rf(row)
		if err != nil || b.Kind == event.KindNull {
			return event.Null, err
		}
		return op(a, b)
	}}
}

func compileArith(op ir.BinOp, l, r node, t types.Type) (node, error) {
	if op == ir.Add && t.Base == types.String {
		return compileConcat(l, r, t) // ksqlDB's 'a' + b
	}
	if !l.t.IsNumeric() && l.t.Base != types.Unknown || !r.t.IsNumeric() && r.t.Base != types.Unknown {
		return node{}, fmt.Errorf("operator %s needs numbers, not %s and %s", opName(op), l.t, r.t)
	}
	switch t.Base {
	case types.Integer, types.Bigint:
		if !isInt(l.t) && l.t.Base != types.Unknown || !isInt(r.t) && r.t.Base != types.Unknown {
			return node{}, fmt.Errorf("operator %s of %s and %s cannot give %s", opName(op), l.t, r.t, t)
		}
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if t.Base == types.Integer {
			lo, hi = math.MinInt32, math.MaxInt32
		}
		iop := intOps[op]
		name := t.Base.String()
		return binaryNode(l, r, t, func(a, b event.Value) (event.Value, error) {
			x, y := a.AsInt(), b.AsInt()
			z, ok := iop(x, y)
			if !ok {
				if y == 0 && (op == ir.Div || op == ir.Mod) {
					return event.Null, fmt.Errorf("division by zero: %d %s 0", x, opName(op))
				}
				return event.Null, fmt.Errorf("%s overflow: %d %s %d", name, x, opName(op), y)
			}
			if z < lo || z > hi {
				return event.Null, fmt.Errorf("%s overflow: %d %s %d is out of range", name, x, opName(op), y)
			}
			return event.Int(z), nil
		}), nil
	case types.Double:
		lc, err := toFloatFunc(l.t)
		if err != nil {
			return node{}, err
		}
		rc, err := toFloatFunc(r.t)
		if err != nil {
			return node{}, err
		}
		fop := floatOps[op]
		return binaryNode(l, r, t, func(a, b event.Value) (event.Value, error) {
			x, err := lc(a)
			if err != nil {
				return event.Null, err
			}
			y, err := rc(b)
			if err != nil {
				return event.Null, err
			}
			return event.Float(fop(x, y)), nil
		}), nil
	case types.Decimal:
		lc, err := toDecFunc(l.t)
		if err != nil {
			return node{}, err
		}
		rc, err := toDecFunc(r.t)
		if err != nil {
			return node{}, err
		}
		p, s := t.Precision, t.Scale
		return binaryNode(l, r, t, func(a, b event.Value) (event.Value, error) {
			x, err := lc(a)
			if err != nil {
				return event.Null, err
			}
			y, err := rc(b)
			if err != nil {
				return event.Null, err
			}
			var z dec
			switch op {
			case ir.Add:
				z, err = decAdd(x, y)
			case ir.Sub:
				z, err = decSub(x, y)
			case ir.Mul:
				z, err = decMul(x, y)
			case ir.Div:
				z, err = decQuo(x, y, int32(s))
			case ir.Mod:
				z, err = decRem(x, y)
			}
			if err == nil {
				z, err = z.fit(p, s, halfUp)
			}
			if err != nil {
				if err == errDivideByZero {
					return event.Null, fmt.Errorf("division by zero: %s %s 0", x, opName(op))
				}
				return event.Null, err
			}
			return event.Decimal(z.String()), nil
		}), nil
	}
	return node{}, fmt.Errorf("operator %s of %s and %s cannot give %s", opName(op), l.t, r.t, t)
}

// intOps are the 64-bit integer operations; ok is false on overflow or a
// zero divisor. Division truncates toward zero and % takes the dividend's
// sign, as in Java.
var intOps = [...]func(x, y int64) (int64, bool){
	ir.Add: func(x, y int64) (int64, bool) {
		z := x + y
		return z, (z > x) == (y > 0)
	},
	ir.Sub: func(x, y int64) (int64, bool) {
		z := x - y
		return z, (z < x) == (y > 0)
	},
	ir.Mul: func(x, y int64) (int64, bool) {
		if x == 0 || y == 0 {
			return 0, true
		}
		z := x * y
		return z, z/y == x && !(x == -1 && y == math.MinInt64) && !(y == -1 && x == math.MinInt64)
	},
	ir.Div: func(x, y int64) (int64, bool) {
		if y == 0 || x == math.MinInt64 && y == -1 {
			return 0, false
		}
		return x / y, true
	},
	ir.Mod: func(x, y int64) (int64, bool) {
		if y == 0 {
			return 0, false
		}
		if y == -1 {
			return 0, true
		}
		return x % y, true
	},
}

// floatOps are IEEE 754 operations, as Java's on doubles: a zero divisor
// gives ±Infinity or NaN, and % is fmod (the dividend's sign).
var floatOps = [...]func(x, y float64) float64{
	ir.Add: func(x, y float64) float64 { return x + y },
	ir.Sub: func(x, y float64) float64 { return x - y },
	ir.Mul: func(x, y float64) float64 { return x * y },
	ir.Div: func(x, y float64) float64 { return x / y },
	ir.Mod: math.Mod,
}

// toFloatFunc converts values of a numeric type to float64.
func toFloatFunc(t types.Type) (func(event.Value) (float64, error), error) {
	switch t.Base {
	case types.Integer, types.Bigint:
		return func(v event.Value) (float64, error) { return float64(v.AsInt()), nil }, nil
	case types.Double, types.Unknown:
		return func(v event.Value) (float64, error) { return v.AsFloat(), nil }, nil
	case types.Decimal:
		return func(v event.Value) (float64, error) {
			d, err := parseDec(v.Str)
			if err != nil {
				return 0, fmt.Errorf("decimal %q: %w", v.Str, err)
			}
			return d.float(), nil
		}, nil
	}
	return nil, fmt.Errorf("a %s is not a number", t)
}

// toDecFunc converts values of an exact numeric type to dec.
func toDecFunc(t types.Type) (func(event.Value) (dec, error), error) {
	switch t.Base {
	case types.Integer, types.Bigint, types.Unknown:
		return func(v event.Value) (dec, error) { return decFromInt(v.AsInt()), nil }, nil
	case types.Decimal:
		return func(v event.Value) (dec, error) {
			d, err := parseDec(v.Str)
			if err != nil {
				return dec{}, fmt.Errorf("decimal %q: %w", v.Str, err)
			}
			return d, nil
		}, nil
	}
	return nil, fmt.Errorf("a %s is not an exact number (DOUBLE arithmetic gives DOUBLE)", t)
}

func compileNeg(e *ir.Neg) (node, error) {
	x, err := compile(e.X)
	if err != nil {
		return node{}, err
	}
	var op func(event.Value) (event.Value, error)
	switch {
	case isInt(x.t) && isInt(e.T):
		lo := int64(math.MinInt64)
		if e.T.Base == types.Integer {
			lo = math.MinInt32
		}
		name := e.T.Base.String()
		op = func(v event.Value) (event.Value, error) {
			i := v.AsInt()
			if i <= lo || i == math.MinInt64 {
				return event.Null, fmt.Errorf("%s overflow: -(%d) is out of range", name, i)
			}
			return event.Int(-i), nil
		}
	case x.t.Base == types.Double && e.T.Base == types.Double:
		op = func(v event.Value) (event.Value, error) { return event.Float(-v.AsFloat()), nil }
	case x.t.Base == types.Decimal && e.T.Base == types.Decimal:
		p, s := e.T.Precision, e.T.Scale
		op = func(v event.Value) (event.Value, error) {
			d, err := parseDec(v.Str)
			if err == nil {
				d, err = decNeg(d).fit(p, s, halfUp)
			}
			if err != nil {
				return event.Null, err
			}
			return event.Decimal(d.String()), nil
		}
	case x.t.Base == types.Unknown:
		return constNode(event.Null, e.T), nil
	default:
		return node{}, fmt.Errorf("cannot negate a %s as %s", x.t, e.T)
	}
	return mapNode(x, e.T, op), nil
}

func compileConcat(l, r node, t types.Type) (node, error) {
	ok := func(b types.Base) bool { return b == t.Base || b == types.Unknown }
	if t.Base != types.String && t.Base != types.Bytes || !ok(l.t.Base) || !ok(r.t.Base) {
		return node{}, fmt.Errorf("operator || needs two STRING or two BYTES values, not %s and %s", l.t, r.t)
	}
	mk := event.String
	if t.Base == types.Bytes {
		mk = func(s string) event.Value { return event.Value{Kind: event.KindBytes, Str: s} }
	}
	return binaryNode(l, r, t, func(a, b event.Value) (event.Value, error) { return mk(a.Str + b.Str), nil }), nil
}
