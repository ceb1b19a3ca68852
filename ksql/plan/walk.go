package plan

import (
	"github.com/sluice-dev/sluice/ksql/funcs"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
)

// walk calls fn on e and every expression inside it, parents first.
func walk(e parse.Expr, fn func(parse.Expr)) {
	if e == nil {
		return
	}
	fn(e)
	switch e := e.(type) {
	case *parse.Deref:
		walk(e.X, fn)
	case *parse.Subscript:
		walk(e.X, fn)
		walk(e.Index, fn)
	case *parse.Binary:
		walk(e.L, fn)
		walk(e.R, fn)
	case *parse.Neg:
		walk(e.X, fn)
	case *parse.Not:
		walk(e.X, fn)
	case *parse.IsNull:
		walk(e.X, fn)
	case *parse.Like:
		walk(e.X, fn)
		walk(e.Pattern, fn)
	case *parse.In:
		walk(e.X, fn)
		for _, x := range e.List {
			walk(x, fn)
		}
	case *parse.Between:
		walk(e.X, fn)
		walk(e.Lo, fn)
		walk(e.Hi, fn)
	case *parse.Case:
		walk(e.Operand, fn)
		for _, w := range e.Whens {
			walk(w.Cond, fn)
			walk(w.Then, fn)
		}
		walk(e.Else, fn)
	case *parse.Cast:
		walk(e.X, fn)
	case *parse.Call:
		for _, x := range e.Args {
			walk(x, fn)
		}
	case *parse.ArrayExpr:
		for _, x := range e.Elems {
			walk(x, fn)
		}
	case *parse.MapExpr:
		for i := range e.Keys {
			walk(e.Keys[i], fn)
			walk(e.Values[i], fn)
		}
	case *parse.StructExpr:
		for _, f := range e.Fields {
			walk(f.Value, fn)
		}
	}
}

// rewrite returns a copy of e where fn replaced sub-expressions: fn
// returns the replacement, or nil to keep the node and rewrite inside it.
func rewrite(e ir.Expr, fn func(ir.Expr) ir.Expr) ir.Expr {
	if e == nil {
		return nil
	}
	if r := fn(e); r != nil {
		return r
	}
	rw := func(x ir.Expr) ir.Expr { return rewrite(x, fn) }
	list := func(xs []ir.Expr) []ir.Expr {
		out := make([]ir.Expr, len(xs))
		for i, x := range xs {
			out[i] = rw(x)
		}
		return out
	}
	switch e := e.(type) {
	case *ir.Call:
		return &ir.Call{Func: e.Func, Args: list(e.Args), T: e.T}
	case *ir.Binary:
		return &ir.Binary{Op: e.Op, L: rw(e.L), R: rw(e.R), T: e.T}
	case *ir.Not:
		return &ir.Not{X: rw(e.X)}
	case *ir.Neg:
		return &ir.Neg{X: rw(e.X), T: e.T}
	case *ir.IsNull:
		return &ir.IsNull{X: rw(e.X), Negate: e.Negate}
	case *ir.Like:
		return &ir.Like{X: rw(e.X), Pattern: rw(e.Pattern), Escape: e.Escape, Negate: e.Negate}
	case *ir.In:
		return &ir.In{X: rw(e.X), List: list(e.List), Negate: e.Negate}
	case *ir.Between:
		return &ir.Between{X: rw(e.X), Lo: rw(e.Lo), Hi: rw(e.Hi), Negate: e.Negate}
	case *ir.Case:
		c := &ir.Case{Operand: rw(e.Operand), Else: rw(e.Else), T: e.T}
		for _, w := range e.Whens {
			c.Whens = append(c.Whens, ir.When{Cond: rw(w.Cond), Then: rw(w.Then)})
		}
		return c
	case *ir.Cast:
		return &ir.Cast{X: rw(e.X), T: e.T}
	case *ir.Subscript:
		return &ir.Subscript{X: rw(e.X), Index: rw(e.Index), T: e.T}
	case *ir.FieldOf:
		return &ir.FieldOf{X: rw(e.X), Field: e.Field, T: e.T}
	}
	return e
}

// hasAggregate reports whether e calls an aggregate function.
func (pl *planner) hasAggregate(e parse.Expr) bool {
	found := false
	walk(e, func(x parse.Expr) {
		if c, ok := x.(*parse.Call); ok {
			if f, ok := pl.funcs.Lookup(c.Name.Name); ok && f.Kind == funcs.Aggregate {
				found = true
			}
		}
	})
	return found
}
