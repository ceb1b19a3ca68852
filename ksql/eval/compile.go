package eval

import (
	"fmt"
	"math"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// fn is a compiled expression: it reads the input row and returns the
// expression's value, or a record error.
type fn func(row []event.Value) (event.Value, error)

// node is a compiled sub-expression.
type node struct {
	f fn
	t types.Type
	// konst: the value does not depend on the row (a literal, or a
	// deterministic operation on constants); such nodes are folded.
	konst bool
}

// evaluator is the ir.Evaluator of a compiled expression.
type evaluator struct{ f fn }

func (e *evaluator) Eval(row []event.Value) (event.Value, error) { return e.f(row) }

// Compile compiles a resolved expression into an evaluator. The planner
// sets every node's type; Compile checks each operator and function
// against its operands' types and fails (a planning error naming the
// operator and types) where sluice cannot evaluate them.
func Compile(e ir.Expr) (ir.Evaluator, error) {
	n, err := compile(e)
	if err != nil {
		return nil, err
	}
	return &evaluator{f: n.f}, nil
}

func compile(e ir.Expr) (node, error) {
	if e == nil {
		return node{}, fmt.Errorf("missing expression")
	}
	switch e := e.(type) {
	case *ir.Column:
		return compileColumn(e)
	case *ir.Literal:
		return compileLiteral(e)
	case *ir.Binary:
		return compileBinary(e)
	case *ir.Not:
		return compileNot(e)
	case *ir.Neg:
		return compileNeg(e)
	case *ir.IsNull:
		return compileIsNull(e)
	case *ir.Like:
		return compileLike(e)
	case *ir.In:
		return compileIn(e)
	case *ir.Between:
		return compileBetween(e)
	case *ir.Case:
		return compileCase(e)
	case *ir.Cast:
		return compileCast(e)
	case *ir.Subscript:
		return compileSubscript(e)
	case *ir.FieldOf:
		return compileFieldOf(e)
	case *ir.Call:
		return compileCall(e)
	}
	return node{}, fmt.Errorf("unsupported expression %T", e)
}

// fold evaluates a node whose inputs are all constant once, at compile
// time. A constant that fails is left to fail per row (it may sit in a
// branch no row reaches, as in CASE WHEN FALSE THEN 1/0 END).
func fold(n node) node {
	if !n.konst {
		return n
	}
	v, err := n.f(nil)
	if err != nil {
		n.konst = false
		return n
	}
	return constNode(v, n.t)
}

func constNode(v event.Value, t types.Type) node {
	return node{f: func([]event.Value) (event.Value, error) { return v, nil }, t: t, konst: true}
}

// kindOf is the event.Value kind that holds non-NULL values of t.
func kindOf(t types.Type) event.Kind {
	switch t.Base {
	case types.Boolean:
		return event.KindBool
	case types.Integer, types.Bigint, types.Date, types.Time, types.Timestamp:
		return event.KindInt
	case types.Double:
		return event.KindFloat
	case types.Decimal:
		return event.KindDecimal
	case types.String:
		return event.KindString
	case types.Bytes:
		return event.KindBytes
	case types.Array, types.Map, types.Struct:
		return event.KindArray
	}
	return event.KindNull
}

var kindNames = [...]string{"NULL", "UNCHANGED", "BOOLEAN", "INTEGER", "DOUBLE", "DECIMAL", "STRING", "BYTES", "INTERVAL", "ARRAY"}

func kindName(k event.Kind) string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind %d", k)
}

// checkValue reports whether v may be a value of type t (kinds, INTEGER's
// range, the element count of a STRUCT or MAP); it does not descend into
// collections.
func checkValue(v event.Value, t types.Type) error {
	if v.Kind == event.KindNull {
		return nil
	}
	if v.Kind == event.KindUnchanged {
		return fmt.Errorf("the source did not send this value (an unchanged TOAST column); it cannot be used in an expression")
	}
	if want := kindOf(t); v.Kind != want {
		return fmt.Errorf("a %s value where %s is expected", kindName(v.Kind), t)
	}
	switch t.Base {
	case types.Integer:
		if i := v.AsInt(); i < math.MinInt32 || i > math.MaxInt32 {
			return fmt.Errorf("%d is out of range for INTEGER", i)
		}
	case types.Struct:
		if len(v.Elems()) != len(t.Fields) {
			return fmt.Errorf("a struct of %d fields where %s is expected", len(v.Elems()), t)
		}
	case types.Map:
		if len(v.Elems())%2 != 0 {
			return fmt.Errorf("a map with an odd number of keys and values")
		}
	}
	return nil
}

func compileColumn(e *ir.Column) (node, error) {
	i, t := e.Index, e.T
	if i < 0 {
		return node{}, fmt.Errorf("column index %d is negative", i)
	}
	want := kindOf(t)
	intRange := t.Base == types.Integer
	return node{t: t, f: func(row []event.Value) (event.Value, error) {
		if i >= len(row) {
			return event.Null, fmt.Errorf("column %d: the row has only %d columns", i, len(row))
		}
		v := row[i]
		if v.Kind != want || intRange && int64(int32(v.AsInt())) != v.AsInt() {
			if v.Kind == event.KindNull {
				return v, nil
			}
			if err := checkValue(v, t); err != nil {
				return event.Null, fmt.Errorf("column %d: %w", i, err)
			}
		}
		return v, nil
	}}, nil
}

func compileLiteral(e *ir.Literal) (node, error) {
	if e.T.Base != types.Unknown {
		if err := checkValue(e.Value, e.T); err != nil {
			return node{}, fmt.Errorf("literal %s: %w", e.Value.Text(), err)
		}
	} else if !e.Value.IsNull() {
		return node{}, fmt.Errorf("literal %s has no type", e.Value.Text())
	}
	if e.T.Base == types.Decimal && !e.Value.IsNull() {
		if _, err := parseDec(e.Value.Str); err != nil {
			return node{}, fmt.Errorf("literal %q: %w", e.Value.Str, err)
		}
	}
	return constNode(e.Value, e.T), nil
}

// coerce converts n to type to where SQL widens implicitly: INTEGER →
// BIGINT → DECIMAL → DOUBLE, DECIMAL to a wider DECIMAL, DATE → TIMESTAMP,
// NULL to anything, and collections of those element-wise.
func coerce(n node, to types.Type) (node, error) {
	if n.t.Equal(to) || n.t.Base == types.Unknown {
		n.t = to
		return n, nil
	}
	if !widens(n.t, to) {
		return node{}, fmt.Errorf("a %s cannot be used as %s", n.t, to)
	}
	c, err := castFunc(n.t, to)
	if err != nil {
		return node{}, err
	}
	return mapNode(n, to, c), nil
}

// widens reports whether from converts to to implicitly.
func widens(from, to types.Type) bool {
	if from.Equal(to) || from.Base == types.Unknown {
		return true
	}
	switch to.Base {
	case types.Bigint:
		return from.Base == types.Integer
	case types.Decimal:
		switch from.Base {
		case types.Integer:
			return to.Precision-to.Scale >= 10
		case types.Bigint:
			return to.Precision-to.Scale >= 19
		case types.Decimal:
			return from.Scale <= to.Scale && from.Precision-from.Scale <= to.Precision-to.Scale
		}
	case types.Double:
		return from.Base == types.Integer || from.Base == types.Bigint || from.Base == types.Decimal
	case types.Timestamp:
		return from.Base == types.Date
	case types.Array:
		return from.Base == types.Array && widens(*from.Elem, *to.Elem)
	case types.Map:
		return from.Base == types.Map && widens(*from.Key, *to.Key) && widens(*from.Elem, *to.Elem)
	case types.Struct:
		if from.Base != types.Struct || len(from.Fields) != len(to.Fields) {
			return false
		}
		for i := range from.Fields {
			if from.Fields[i].Name != to.Fields[i].Name || !widens(from.Fields[i].Type, to.Fields[i].Type) {
				return false
			}
		}
		return true
	}
	return false
}

// mapNode applies a value conversion to n's non-NULL values.
func mapNode(n node, t types.Type, c func(event.Value) (event.Value, error)) node {
	f := n.f
	return fold(node{t: t, konst: n.konst, f: func(row []event.Value) (event.Value, error) {
		v, err := f(row)
		if err != nil || v.Kind == event.KindNull {
			return v, err
		}
		return c(v)
	}})
}

func isInt(t types.Type) bool { return t.Base == types.Integer || t.Base == types.Bigint }

func isTemporal(t types.Type) bool {
	return t.Base == types.Date || t.Base == types.Time || t.Base == types.Timestamp
}
