package eval

import (
	"fmt"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// compileSubscript is x[i]: an ARRAY element, 1-based, negative from the
// end (-1 is the last), NULL out of range (ksqlDB's ArrayAccess); or the
// value of a MAP key, NULL when absent.
func compileSubscript(e *ir.Subscript) (node, error) {
	x, err := compile(e.X)
	if err != nil {
		return node{}, err
	}
	idx, err := compile(e.Index)
	if err != nil {
		return node{}, err
	}
	switch x.t.Base {
	case types.Array:
		if !isInt(idx.t) && idx.t.Base != types.Unknown {
			return node{}, fmt.Errorf("an array index must be INTEGER or BIGINT, not %s", idx.t)
		}
		return fold(binaryNode(x, idx, e.T, func(a, b event.Value) (event.Value, error) {
			return element(arrayAt(a.Elems(), b.AsInt()), e.T)
		})), nil
	case types.Map:
		eq, err := equalFunc(*x.t.Key, idx.t)
		if err != nil {
			return node{}, fmt.Errorf("map lookup: %w", err)
		}
		return fold(binaryNode(x, idx, e.T, func(a, b event.Value) (event.Value, error) {
			return element(mapGet(a.Elems(), b, eq), e.T)
		})), nil
	case types.Unknown:
		return constNode(event.Null, e.T), nil
	}
	return node{}, fmt.Errorf("cannot subscript a %s (only ARRAY and MAP)", x.t)
}

// arrayAt is the element at a 1-based index, negative from the end.
func arrayAt(es []event.Value, i int64) event.Value {
	n := int64(len(es))
	switch {
	case i > 0 && i <= n:
		return es[i-1]
	case i < 0 && i >= -n:
		return es[n+i]
	}
	return event.Null
}

// mapGet is the value of key k in alternating keys and values (the last
// entry wins if a key repeats, as a map that was built by puts).
func mapGet(es []event.Value, k event.Value, eq func(a, b event.Value) bool) event.Value {
	for i := len(es) - 2; i >= 0; i -= 2 {
		if es[i].Kind != event.KindNull && eq(es[i], k) {
			return es[i+1]
		}
	}
	return event.Null
}

// compileFieldOf is x->f: a STRUCT's field; NULL when the struct is NULL.
func compileFieldOf(e *ir.FieldOf) (node, error) {
	x, err := compile(e.X)
	if err != nil {
		return node{}, err
	}
	if x.t.Base == types.Unknown {
		return constNode(event.Null, e.T), nil
	}
	if x.t.Base != types.Struct {
		return node{}, fmt.Errorf("-> needs a STRUCT, not %s", x.t)
	}
	i := e.Field
	if i < 0 || i >= len(x.t.Fields) {
		return node{}, fmt.Errorf("field %d of %s does not exist", i, x.t)
	}
	if !x.t.Fields[i].Type.Equal(e.T) {
		return node{}, fmt.Errorf("field %s is %s, not %s", x.t.Fields[i].Name, x.t.Fields[i].Type, e.T)
	}
	return mapNode(x, e.T, func(v event.Value) (event.Value, error) {
		es := v.Elems()
		if i >= len(es) {
			return event.Null, fmt.Errorf("a struct of %d fields where %s is expected", len(es), x.t)
		}
		return element(es[i], e.T)
	}), nil
}

// element checks a value taken out of a collection, which Column's check
// of the row's own values does not reach.
func element(v event.Value, t types.Type) (event.Value, error) {
	if v.Kind != kindOf(t) && v.Kind != event.KindNull {
		if err := checkValue(v, t); err != nil {
			return event.Null, fmt.Errorf("an element: %w", err)
		}
	}
	return v, nil
}
