package funcs

import (
	"fmt"

	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// opSymbol spells a binary operator.
var opSymbol = map[ir.BinOp]string{
	ir.Add: "+", ir.Sub: "-", ir.Mul: "*", ir.Div: "/", ir.Mod: "%", ir.Concat: "||",
	ir.Eq: "=", ir.Ne: "<>", ir.Lt: "<", ir.Le: "<=", ir.Gt: ">", ir.Ge: ">=", ir.And: "AND", ir.Or: "OR",
}

// OpSymbol spells op as in SQL ("+", "<=", "AND").
func OpSymbol(op ir.BinOp) string { return opSymbol[op] }

// Binary types `l op r`: operand is the type both operands are converted
// to before the operation (the planner inserts the conversions, so an
// implementation sees two operands of one type — except for arithmetic on
// DECIMALs, whose operands keep their own precision and scale, and
// AND/OR), result is the expression's type. The rules are ksqlDB's:
//
//   - + - * / %: numeric operands widen to the wider of the two (INTEGER →
//     BIGINT → DECIMAL → DOUBLE); INTEGER op INTEGER is INTEGER (Java int
//     arithmetic, wrapping), DECIMAL results follow ksqlDB's precision
//     rules: + and - DECIMAL(max(s1,s2) + max(p1-s1, p2-s2) + 1,
//     max(s1,s2)), * DECIMAL(p1+p2+1, s1+s2), / DECIMAL(p1-s1+s2+max(6,
//     s1+p2+1), max(6, s1+p2+1)), % DECIMAL(min(p1-s1, p2-s2)+max(s1,s2),
//     max(s1,s2)), an INTEGER or BIGINT taken as DECIMAL(10, 0) or (19, 0).
//   - ||: STRING || STRING is STRING, BYTES || BYTES is BYTES; STRING +
//     STRING concatenates too, as in ksqlDB.
//   - comparisons: numeric with numeric (at their common type), a DATE
//     with a TIMESTAMP (as TIMESTAMPs), STRING,
//     BOOLEAN, BYTES, DATE, TIME, TIMESTAMP with the same type, and a
//     DATE, TIME or TIMESTAMP with a STRING (the string is cast to the
//     temporal type, as ksqlDB compares them); ARRAY, MAP and STRUCT only
//     with = and <> and the same type. The result is BOOLEAN.
//   - AND, OR: BOOLEAN operands.
//
// NULL (Unknown) takes the other operand's type.
func Binary(op ir.BinOp, l, r types.Type) (operand, result types.Type, err error) {
	sym := opSymbol[op]
	mismatch := func() (types.Type, types.Type, error) {
		return types.Type{}, types.Type{}, fmt.Errorf("operator %s does not apply to %s and %s", sym, l, r)
	}
	if l.Base == types.Unknown && r.Base == types.Unknown && op != ir.And && op != ir.Or {
		if op >= ir.Eq {
			return types.Type{}, types.TBoolean, nil
		}
		return types.Type{}, types.Type{}, fmt.Errorf("operator %s cannot infer a type from NULL %s NULL: give a NULL a type with CAST(NULL AS type)", sym, sym)
	}
	if l.Base == types.Unknown {
		l = r
	} else if r.Base == types.Unknown {
		r = l
	}
	switch op {
	case ir.Add, ir.Sub, ir.Mul, ir.Div, ir.Mod:
		if op == ir.Add && l.Base == types.String && r.Base == types.String {
			return types.TString, types.TString, nil // ksqlDB's 'a' + b concatenates
		}
		if !l.IsNumeric() || !r.IsNumeric() {
			return mismatch()
		}
		c, _ := Common(l, r)
		if c.Base != types.Decimal {
			return c, c, nil
		}
		dl, dr := AsDecimal(l), AsDecimal(r)
		p1, s1, p2, s2 := dl.Precision, dl.Scale, dr.Precision, dr.Scale
		switch op {
		case ir.Add, ir.Sub:
			return c, types.DecimalOf(max(s1, s2)+max(p1-s1, p2-s2)+1, max(s1, s2)), nil
		case ir.Mul:
			return c, types.DecimalOf(p1+p2+1, s1+s2), nil
		case ir.Div:
			s := max(6, s1+p2+1)
			return c, types.DecimalOf(p1-s1+s2+s, s), nil
		default:
			return c, types.DecimalOf(min(p1-s1, p2-s2)+max(s1, s2), max(s1, s2)), nil
		}
	case ir.Concat:
		if l.Base == r.Base && (l.Base == types.String || l.Base == types.Bytes) {
			return l, l, nil
		}
		return mismatch()
	case ir.And, ir.Or:
		if (l.Base == types.Boolean || l.Base == types.Unknown) && (r.Base == types.Boolean || r.Base == types.Unknown) {
			return types.TBoolean, types.TBoolean, nil
		}
		return mismatch()
	}
	// Comparisons.
	if l.IsNumeric() && r.IsNumeric() || l.Base == types.Date && r.Base == types.Timestamp || l.Base == types.Timestamp && r.Base == types.Date {
		c, _ := Common(l, r)
		return c, types.TBoolean, nil
	}
	temporal := func(b types.Base) bool { return b == types.Date || b == types.Time || b == types.Timestamp }
	switch {
	case temporal(l.Base) && r.Base == types.String:
		return l, types.TBoolean, nil
	case temporal(r.Base) && l.Base == types.String:
		return r, types.TBoolean, nil
	case !l.Equal(r):
		return mismatch()
	}
	switch l.Base {
	case types.Array, types.Map, types.Struct:
		if op != ir.Eq && op != ir.Ne {
			return types.Type{}, types.Type{}, fmt.Errorf("operator %s does not apply to %s: only = and <> compare arrays, maps and structs", sym, l)
		}
	}
	return l, types.TBoolean, nil
}

// CanCast reports whether CAST(x AS to) is allowed for x of type from
// (ksqlDB's casts): any type to itself and to STRING; numeric to numeric;
// STRING to numeric, BOOLEAN, DATE, TIME and TIMESTAMP (parsed; a bad
// string is a record error); TIMESTAMP to DATE and TIME; DATE to
// TIMESTAMP; ARRAY and MAP element-wise; NULL to anything.
func CanCast(from, to types.Type) bool {
	switch {
	case from.Base == types.Unknown, from.Equal(to), to.Base == types.String:
		return true
	case from.IsNumeric() && to.IsNumeric():
		return true
	case from.Base == types.String:
		switch to.Base {
		case types.Integer, types.Bigint, types.Double, types.Decimal, types.Boolean, types.Date, types.Time, types.Timestamp:
			return true
		}
	case from.Base == types.Timestamp:
		return to.Base == types.Date || to.Base == types.Time
	case from.Base == types.Date:
		return to.Base == types.Timestamp
	case from.Base == types.Array && to.Base == types.Array:
		return CanCast(*from.Elem, *to.Elem)
	case from.Base == types.Map && to.Base == types.Map:
		return CanCast(*from.Key, *to.Key) && CanCast(*from.Elem, *to.Elem)
	}
	return false
}
