package eval

import (
	"fmt"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// Three-valued logic: a boolean is TRUE, FALSE or NULL (unknown).
const (
	tvFalse = iota
	tvTrue
	tvNull
)

func truth(v event.Value) int {
	if v.Kind != event.KindBool {
		return tvNull
	}
	if v.Num != 0 {
		return tvTrue
	}
	return tvFalse
}

var (
	vTrue  = event.Bool(true)
	vFalse = event.Bool(false)
)

func boolValue(tv int) event.Value {
	switch tv {
	case tvTrue:
		return vTrue
	case tvFalse:
		return vFalse
	}
	return event.Null
}

func needBool(n node, what string) error {
	if n.t.Base != types.Boolean && n.t.Base != types.Unknown {
		return fmt.Errorf("%s needs a BOOLEAN, not %s", what, n.t)
	}
	return nil
}

// compileLogic is AND / OR with SQL's three-valued logic, evaluating the
// right side only when the left does not decide.
func compileLogic(op ir.BinOp, l, r node) (node, error) {
	if err := needBool(l, opName(op)); err != nil {
		return node{}, err
	}
	if err := needBool(r, opName(op)); err != nil {
		return node{}, err
	}
	decide := tvFalse // AND: FALSE decides
	if op == ir.Or {
		decide = tvTrue
	}
	lf, rf := l.f, r.f
	return node{t: types.TBoolean, konst: l.konst && r.konst, f: func(row []event.Value) (event.Value, error) {
		a, err := lf(row)
		if err != nil {
			return event.Null, err
		}
		ta := truth(a)
		if ta == decide {
			return a, nil
		}
		b, err := rf(row)
		if err != nil {
			return event.Null, err
		}
		tb := truth(b)
		switch {
		case tb == decide:
			return b, nil
		case ta == tvNull || tb == tvNull:
			return event.Null, nil
		}
		return b, nil
	}}, nil
}

func compileNot(e *ir.Not) (node, error) {
	x, err := compile(e.X)
	if err != nil {
		return node{}, err
	}
	if err := needBool(x, "NOT"); err != nil {
		return node{}, err
	}
	return mapNode(x, types.TBoolean, func(v event.Value) (event.Value, error) {
		return event.Bool(v.Num == 0), nil
	}), nil
}

func compileIsNull(e *ir.IsNull) (node, error) {
	x, err := compile(e.X)
	if err != nil {
		return node{}, err
	}
	f, neg := x.f, e.Negate
	return fold(node{t: types.TBoolean, konst: x.konst, f: func(row []event.Value) (event.Value, error) {
		v, err := f(row)
		if err != nil {
			return event.Null, err
		}
		return event.Bool((v.Kind == event.KindNull) != neg), nil
	}}), nil
}

func negate(n node, neg bool) node {
	if !neg {
		return n
	}
	f := n.f
	return node{t: types.TBoolean, konst: n.konst, f: func(row []event.Value) (event.Value, error) {
		v, err := f(row)
		if err != nil || v.Kind != event.KindBool {
			return v, err
		}
		return event.Bool(v.Num == 0), nil
	}}
}

// compileIn is X IN (list) with SQL's semantics: TRUE if X equals an item,
// else NULL if X or any item is NULL, else FALSE. Items are evaluated in
// order until one matches.
func compileIn(e *ir.In) (node, error) {
	x, err := compile(e.X)
	if err != nil {
		return node{}, err
	}
	if len(e.List) == 0 {
		return node{}, fmt.Errorf("IN needs at least one value")
	}
	items := make([]fn, len(e.List))
	eqs := make([]comparator, len(e.List))
	konst := x.konst
	for i, le := range e.List {
		it, err := compile(le)
		if err != nil {
			return node{}, err
		}
		c, _, err := compareFunc(x.t, it.t)
		if err != nil {
			return node{}, fmt.Errorf("IN: %w", err)
		}
		items[i], eqs[i] = it.f, c
		konst = konst && it.konst
	}
	xf := x.f
	if n, ok := inConstStrings(x, e.List, items); ok {
		return fold(negate(n, e.Negate)), nil
	}
	n := node{t: types.TBoolean, konst: konst, f: func(row []event.Value) (event.Value, error) {
		v, err := xf(row)
		if err != nil || v.Kind == event.KindNull {
			return event.Null, err
		}
		sawNull := false
		for i, it := range items {
			w, err := it(row)
			if err != nil {
				return event.Null, err
			}
			if w.Kind == event.KindNull {
				sawNull = true
				continue
			}
			c, err := eqs[i](v, w)
			if err != nil {
				return event.Null, err
			}
			if c == 0 {
				return vTrue, nil
			}
		}
		if sawNull {
			return event.Null, nil
		}
		return vFalse, nil
	}}
	return fold(negate(n, e.Negate)), nil
}

// compileBetween is X >= Lo AND X <= Hi, three-valued.
func compileBetween(e *ir.Between) (node, error) {
	x, err := compile(e.X)
	if err != nil {
		return node{}, err
	}
	lo, err := compile(e.Lo)
	if err != nil {
		return node{}, err
	}
	hi, err := compile(e.Hi)
	if err != nil {
		return node{}, err
	}
	ge, err := compileCompare(ir.Ge, x, lo)
	if err != nil {
		return node{}, fmt.Errorf("BETWEEN: %w", err)
	}
	le, err := compileCompare(ir.Le, x, hi)
	if err != nil {
		return node{}, fmt.Errorf("BETWEEN: %w", err)
	}
	n, err := compileLogic(ir.And, ge, le)
	if err != nil {
		return node{}, err
	}
	return fold(negate(n, e.Negate)), nil
}

// compileCase is a searched or simple CASE: the first WHEN whose condition
// is TRUE (a simple CASE: whose value equals the operand) gives the
// result; a NULL condition is not TRUE. Results widen to the CASE's type.
func compileCase(e *ir.Case) (node, error) {
	if len(e.Whens) == 0 {
		return node{}, fmt.Errorf("CASE needs at least one WHEN")
	}
	var operand node
	simple := e.Operand != nil
	if simple {
		var err error
		if operand, err = compile(e.Operand); err != nil {
			return node{}, err
		}
	}
	konst := !simple || operand.konst
	conds := make([]fn, len(e.Whens))
	thens := make([]fn, len(e.Whens))
	eqs := make([]comparator, len(e.Whens))
	for i, w := range e.Whens {
		c, err := compile(w.Cond)
		if err != nil {
			return node{}, err
		}
		if simple {
			if eqs[i], _, err = compareFunc(operand.t, c.t); err != nil {
				return node{}, fmt.Errorf("CASE: %w", err)
			}
		} else if err := needBool(c, "WHEN"); err != nil {
			return node{}, err
		}
		t, err := compile(w.Then)
		if err != nil {
			return node{}, err
		}
		if t, err = coerce(t, e.T); err != nil {
			return node{}, fmt.Errorf("CASE result: %w", err)
		}
		conds[i], thens[i] = c.f, t.f
		konst = konst && c.konst && t.konst
	}
	var els fn
	if e.Else != nil {
		n, err := compile(e.Else)
		if err != nil {
			return node{}, err
		}
		if n, err = coerce(n, e.T); err != nil {
			return node{}, fmt.Errorf("CASE result: %w", err)
		}
		els, konst = n.f, konst && n.konst
	}
	of := operand.f
	return fold(node{t: e.T, konst: konst, f: func(row []event.Value) (event.Value, error) {
		var op event.Value
		if simple {
			var err error
			if op, err = of(row); err != nil {
				return event.Null, err
			}
		}
		for i, cf := range conds {
			c, err := cf(row)
			if err != nil {
				return event.Null, err
			}
			if simple {
				if op.Kind == event.KindNull || c.Kind == event.KindNull {
					continue
				}
				r, err := eqs[i](op, c)
				if err != nil {
					return event.Null, err
				}
				if r != 0 {
					continue
				}
			} else if truth(c) != tvTrue {
				continue
			}
			return thens[i](row)
		}
		if els == nil {
			return event.Null, nil
		}
		return els(row)
	}}), nil
}

// inConstStrings is IN over a list of non-NULL STRING constants, the
// common filter: a direct comparison per item.
func inConstStrings(x node, list []ir.Expr, items []fn) (node, bool) {
	if x.t.Base != types.String {
		return node{}, false
	}
	var vals []string
	for i, it := range items {
		if list[i].Type().Base != types.String {
			return node{}, false
		}
		l, ok := list[i].(*ir.Literal)
		if !ok {
			return node{}, false
		}
		v, err := it(nil)
		if err != nil || v.Kind != event.KindString || !l.Value.Equal(v) {
			return node{}, false
		}
		vals = append(vals, v.Str)
	}
	xf := x.f
	return node{t: types.TBoolean, konst: x.konst, f: func(row []event.Value) (event.Value, error) {
		v, err := xf(row)
		if err != nil || v.Kind == event.KindNull {
			return event.Null, err
		}
		for _, s := range vals {
			if v.Str == s {
				return vTrue, nil
			}
		}
		return vFalse, nil
	}}, true
}
