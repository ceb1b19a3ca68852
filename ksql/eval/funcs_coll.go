package eval

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

func collectionFuncs() map[string][]*overload {
	return map[string][]*overload{
		"ARRAY_LENGTH": {over("ARRAY<T> -> INTEGER").fn(func(a []event.Value) (event.Value, error) {
			return event.Int(int64(len(a[0].Elems()))), nil
		})},
		"ARRAY_CONTAINS": {over("ARRAY<T>, T -> BOOLEAN").nulls().with(withElemEq(func(eq eqFn) callFn {
			return func(a []event.Value) (event.Value, error) {
				if a[0].Kind == event.KindNull {
					return vFalse, nil
				}
				return event.Bool(slices.ContainsFunc(a[0].Elems(), func(e event.Value) bool { return nullSafe(eq, e, a[1]) })), nil
			}
		}))},
		"ARRAY_DISTINCT": {over("ARRAY<T> -> ARRAY<T>").with(withElemEq(func(eq eqFn) callFn {
			return func(a []event.Value) (event.Value, error) { return event.Array(distinct(nil, a[0].Elems(), eq)), nil }
		}))},
		"ARRAY_UNION": {over("ARRAY<T>, ARRAY<T> -> ARRAY<T>").with(withElemEq(func(eq eqFn) callFn {
			return func(a []event.Value) (event.Value, error) {
				return event.Array(distinct(distinct(nil, a[0].Elems(), eq), a[1].Elems(), eq)), nil
			}
		}))},
		"ARRAY_INTERSECT": {over("ARRAY<T>, ARRAY<T> -> ARRAY<T>").with(withElemEq(setFilter(true)))},
		"ARRAY_EXCEPT":    {over("ARRAY<T>, ARRAY<T> -> ARRAY<T>").with(withElemEq(setFilter(false)))},
		"ARRAY_REMOVE": {over("ARRAY<T>, T -> ARRAY<T>").nulls().with(withElemEq(func(eq eqFn) callFn {
			return func(a []event.Value) (event.Value, error) {
				if a[0].Kind == event.KindNull {
					return event.Null, nil
				}
				out := []event.Value{}
				for _, e := range a[0].Elems() {
					if !nullSafe(eq, e, a[1]) {
						out = append(out, e)
					}
				}
				return event.Array(out), nil
			}
		}))},
		"ARRAY_CONCAT": {over("ARRAY<T>, ARRAY<T> -> ARRAY<T>").nulls().fn(func(a []event.Value) (event.Value, error) {
			if a[0].Kind == event.KindNull && a[1].Kind == event.KindNull {
				return event.Null, nil
			}
			return event.Array(slices.Concat(a[0].Elems(), a[1].Elems())), nil
		})},
		"ARRAY_JOIN": {
			over("ARRAY<T> -> STRING").nulls().with(arrayJoin),
			over("ARRAY<T>, STRING -> STRING").nulls().with(arrayJoin),
		},
		"ARRAY_MAX": {over("ARRAY<T> -> T").with(arrayExtreme(1))},
		"ARRAY_MIN": {over("ARRAY<T> -> T").with(arrayExtreme(-1))},
		"ARRAY_SORT": {
			over("ARRAY<T> -> ARRAY<T>").with(arraySort),
			over("ARRAY<T>, STRING -> ARRAY<T>").with(arraySort),
		},
		"SLICE": {over("ARRAY<T>, INTEGER, INTEGER -> ARRAY<T>").nulls().fn(func(a []event.Value) (event.Value, error) {
			if a[0].Kind == event.KindNull {
				return event.Null, nil
			}
			es := a[0].Elems()
			from, to := int64(0), int64(len(es))
			if a[1].Kind != event.KindNull {
				from = a[1].AsInt() - 1
			}
			if a[2].Kind != event.KindNull {
				to = a[2].AsInt()
			}
			if from < 0 || to > int64(len(es)) || from > to {
				return event.Null, nil
			}
			return event.Array(slices.Clone(es[from:to])), nil
		})},
		"AS_MAP": {over("ARRAY<STRING>, ARRAY<T> -> MAP<STRING, T>").fn(func(a []event.Value) (event.Value, error) {
			ks, vs := a[0].Elems(), a[1].Elems()
			var out []event.Value
			for i, k := range ks {
				v := event.Null
				if i < len(vs) {
					v = vs[i]
				}
				out = putEntry(out, k, v)
			}
			return event.Array(out), nil
		})},
		"MAP_KEYS":   {over("MAP<STRING, T> -> ARRAY<STRING>").fn(mapPart(0))},
		"MAP_VALUES": {over("MAP<STRING, T> -> ARRAY<T>").fn(mapPart(1))},
		"MAP_UNION": {over("MAP<STRING, T>, MAP<STRING, T> -> MAP<STRING, T>").nulls().fn(func(a []event.Value) (event.Value, error) {
			if a[0].Kind == event.KindNull && a[1].Kind == event.KindNull {
				return event.Null, nil
			}
			var out []event.Value
			for _, m := range a[:2] {
				es := m.Elems()
				for i := 0; i+1 < len(es); i += 2 {
					out = putEntry(out, es[i], es[i+1])
				}
			}
			return event.Array(out), nil
		})},
	}
}

type eqFn = func(a, b event.Value) bool

// withElemEq builds an implementation needing the equality of the array's
// elements (Java's equals: NULL equals NULL, NaN equals NaN).
func withElemEq(f func(eq eqFn) callFn) func(c *callSite) (callFn, error) {
	return func(c *callSite) (callFn, error) {
		t := c.params[0]
		if t.Base == types.Array {
			t = *t.Elem
		}
		eq, err := equalFunc(t, t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		return f(eq), nil
	}
}

// distinct appends the elements of in not yet in out, in order.
func distinct(out, in []event.Value, eq eqFn) []event.Value {
	if out == nil {
		out = []event.Value{}
	}
	for _, e := range in {
		if !slices.ContainsFunc(out, func(o event.Value) bool { return nullSafe(eq, o, e) }) {
			out = append(out, e)
		}
	}
	return out
}

// setFilter is ARRAY_INTERSECT (keep) and ARRAY_EXCEPT: the distinct
// elements of the first array that are (not) in the second.
func setFilter(keep bool) func(eq eqFn) callFn {
	return func(eq eqFn) callFn {
		return func(a []event.Value) (event.Value, error) {
			other := a[1].Elems()
			out := []event.Value{}
			for _, e := range distinct(nil, a[0].Elems(), eq) {
				in := slices.ContainsFunc(other, func(o event.Value) bool { return nullSafe(eq, o, e) })
				if in == keep {
					out = append(out, e)
				}
			}
			return event.Array(out), nil
		}
	}
}

// putEntry sets key k of a map held as alternating keys and values (a new
// key goes last, an existing one keeps its place).
func putEntry(m []event.Value, k, v event.Value) []event.Value {
	for i := 0; i+1 < len(m); i += 2 {
		if m[i].Kind == k.Kind && m[i].Str == k.Str && m[i].Num == k.Num {
			m[i+1] = v
			return m
		}
	}
	return append(m, k, v)
}

func mapPart(off int) callFn {
	return func(a []event.Value) (event.Value, error) {
		es := a[0].Elems()
		out := make([]event.Value, 0, len(es)/2)
		for i := off; i < len(es); i += 2 {
			out = append(out, es[i])
		}
		return event.Array(out), nil
	}
}

// arrayJoin is ARRAY_JOIN(array[, delimiter]): the elements' text joined
// by the delimiter (default ","; NULL means none), NULL elements as
// "null"; only arrays of BOOLEAN, numbers and STRING.
func arrayJoin(c *callSite) (callFn, error) {
	et := *c.params[0].Elem
	switch et.Base {
	case types.Boolean, types.Integer, types.Bigint, types.Double, types.Decimal, types.String, types.Unknown:
	default:
		return nil, fmt.Errorf("ARRAY_JOIN does not take an array of %s (only BOOLEAN, numbers and STRING)", et)
	}
	return func(a []event.Value) (event.Value, error) {
		if a[0].Kind == event.KindNull {
			return event.Null, nil
		}
		sep := ","
		if len(a) > 1 {
			sep = a[1].Str // NULL: no delimiter
		}
		var b strings.Builder
		for i, e := range a[0].Elems() {
			if i > 0 {
				b.WriteString(sep)
			}
			if err := writeJavaString(&b, e, et); err != nil {
				return event.Null, err
			}
		}
		return event.String(b.String()), nil
	}, nil
}

// orderFunc orders an array's elements as Java's compareTo.
func orderFunc(c *callSite, t types.Type) (comparator, error) {
	switch {
	case t.Base == types.Double:
		return func(a, b event.Value) (int, error) { return javaDoubleCompare(a.AsFloat(), b.AsFloat()), nil }, nil
	case t.IsNumeric() || isTemporal(t) || t.Base == types.String || t.Base == types.Bytes || t.Base == types.Boolean:
		c, _, err := compareFunc(t, t)
		return c, err
	}
	return nil, fmt.Errorf("%s does not take an array of %s", c.name, t)
}

func arrayExtreme(dir int) func(c *callSite) (callFn, error) {
	return func(c *callSite) (callFn, error) {
		cmp, err := orderFunc(c, *c.params[0].Elem)
		if err != nil {
			return nil, err
		}
		return func(a []event.Value) (event.Value, error) {
			best := event.Null
			for _, e := range a[0].Elems() {
				if e.Kind == event.KindNull {
					continue
				}
				if best.Kind == event.KindNull {
					best = e
					continue
				}
				r, err := cmp(e, best)
				if err != nil {
					return event.Null, err
				}
				if r == dir {
					best = e
				}
			}
			return element(best, c.ret)
		}, nil
	}
}

// arraySort is ARRAY_SORT(array[, 'ASC' | 'DESC']): NULLs last either way;
// NULL for another direction.
func arraySort(c *callSite) (callFn, error) {
	cmp, err := orderFunc(c, *c.params[0].Elem)
	if err != nil {
		return nil, err
	}
	return func(a []event.Value) (event.Value, error) {
		desc := false
		if len(a) > 1 {
			switch strings.ToUpper(a[1].Str) {
			case "ASC", "ASCENDING":
			case "DESC", "DESCENDING":
				desc = true
			default:
				return event.Null, nil
			}
		}
		out := slices.Clone(a[0].Elems())
		var sortErr error
		slices.SortStableFunc(out, func(x, y event.Value) int {
			xn, yn := x.Kind == event.KindNull, y.Kind == event.KindNull
			switch {
			case xn || yn:
				return boolInt(xn) - boolInt(yn)
			}
			r, err := cmp(x, y)
			if err != nil {
				sortErr = err
			}
			if desc {
				r = -r
			}
			return r
		})
		if sortErr != nil {
			return event.Null, sortErr
		}
		return event.Array(out), nil
	}, nil
}

// Constructors: ARRAY[…], MAP(k := v, …) and STRUCT(name := v, …) reach
// eval as calls of ARRAY, MAP (keys and values alternating) and STRUCT
// (field values in the order of the call's STRUCT type).

// constructorType is the type of ARRAY and MAP constructors (STRUCT's
// comes from the planner, which knows the field names).
func constructorType(name string, args []types.Type) (types.Type, bool, error) {
	common := func(ts []types.Type) (types.Type, error) {
		t := types.Type{}
		for _, a := range ts {
			switch {
			case a.Base == types.Unknown:
			case t.Base == types.Unknown || widens(t, a):
				t = a
			case widens(a, t):
			case t.IsNumeric() && a.IsNumeric():
				t = commonNumeric(t, a)
			default:
				return types.Type{}, fmt.Errorf("%s: the values must have one type, not %s and %s", name, t, a)
			}
		}
		if t.Base == types.Unknown {
			t = types.TString // ksqlDB: an empty or all-NULL constructor holds STRINGs
		}
		return t, nil
	}
	switch name {
	case "ARRAY":
		t, err := common(args)
		return types.ArrayOf(t), true, err
	case "MAP":
		if len(args)%2 != 0 {
			return types.Type{}, true, fmt.Errorf("MAP needs keys and values in pairs")
		}
		var ks, vs []types.Type
		for i := 0; i < len(args); i += 2 {
			ks, vs = append(ks, args[i]), append(vs, args[i+1])
		}
		k, err := common(ks)
		if err != nil {
			return types.Type{}, true, err
		}
		v, err := common(vs)
		return types.MapOf(k, v), true, err
	}
	return types.Type{}, false, nil
}

func compileConstructor(e *ir.Call) (node, bool, error) {
	if e.Func != "ARRAY" && e.Func != "MAP" && e.Func != "STRUCT" {
		return node{}, false, nil
	}
	args := make([]node, len(e.Args))
	argTypes := make([]types.Type, len(e.Args))
	for i, a := range e.Args {
		n, err := compile(a)
		if err != nil {
			return node{}, true, err
		}
		args[i], argTypes[i] = n, n.t
	}
	t := e.T
	params := make([]types.Type, len(args))
	switch e.Func {
	case "STRUCT":
		if t.Base != types.Struct || len(t.Fields) != len(args) {
			return node{}, true, fmt.Errorf("STRUCT of %d values cannot make %s", len(args), t)
		}
		for i, f := range t.Fields {
			params[i] = f.Type
		}
	default:
		ct, _, err := constructorType(e.Func, argTypes)
		if err != nil {
			return node{}, true, err
		}
		if !ct.Equal(t) {
			return node{}, true, fmt.Errorf("%s(%s) gives %s, but the plan expects %s", e.Func, typeList(argTypes), ct, t)
		}
		for i := range params {
			if e.Func == "ARRAY" {
				params[i] = *t.Elem
			} else if i%2 == 0 {
				params[i] = *t.Key
			} else {
				params[i] = *t.Elem
			}
		}
	}
	fns := make([]fn, len(args))
	konst := true
	for i := range args {
		n, err := coerce(args[i], params[i])
		if err != nil {
			return node{}, true, fmt.Errorf("%s: value %d: %w", e.Func, i+1, err)
		}
		fns[i], konst = n.f, konst && n.konst
	}
	run := func(a []event.Value) (event.Value, error) { return event.Array(slices.Clone(a)), nil }
	if e.Func == "MAP" {
		run = func(a []event.Value) (event.Value, error) {
			var out []event.Value
			for i := 0; i+1 < len(a); i += 2 {
				if a[i].Kind == event.KindNull {
					return event.Null, fmt.Errorf("MAP: a key is NULL")
				}
				out = putEntry(out, a[i], a[i+1])
			}
			return event.Array(out), nil
		}
	}
	return fold(callNode(fns, run, t, true, konst)), true, nil
}
