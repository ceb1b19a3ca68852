package plan

import (
	"fmt"

	"github.com/sluice-dev/sluice/ksql/funcs"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
)

// checkPlan verifies the invariants the operators rely on: every column a
// node or expression reads is in its input row with the type it claims,
// a Project's expressions give its schema, keys point at columns, calls
// name registered functions with argument types an overload takes as
// they are.
func checkPlan(p *Plan) error {
	reg := funcs.Builtin()
	for _, q := range append(append([]*Query(nil), p.Queries...), p.Transient...) {
		if err := checkNode(q.Root, reg); err != nil {
			return fmt.Errorf("%s: %w", q.SQL, err)
		}
	}
	for _, r := range p.Relations {
		if r.Source == nil {
			return fmt.Errorf("%s has no source", r.Name)
		}
		if err := checkKey(r.Schema); err != nil {
			return fmt.Errorf("%s: %w", r.Name, err)
		}
	}
	return nil
}

// checkErrors verifies that Build's error is a parse.ErrorList whose every
// error carries its line:column.
func checkErrors(err error) error {
	list, ok := err.(parse.ErrorList)
	if !ok || len(list) == 0 {
		return fmt.Errorf("error %T %v, want a parse.ErrorList", err, err)
	}
	for _, e := range list {
		if e.Pos.Line < 1 || e.Pos.Col < 1 {
			return fmt.Errorf("error without its position: %v", e)
		}
	}
	return nil
}

func checkKey(s types.Schema) error {
	seen := map[int]bool{}
	for _, k := range s.Key {
		if k < 0 || k >= len(s.Columns) || seen[k] {
			return fmt.Errorf("key %v out of %d columns", s.Key, len(s.Columns))
		}
		seen[k] = true
	}
	names := map[string]bool{}
	for _, c := range s.Columns {
		if c.Name == "" || names[c.Name] {
			return fmt.Errorf("column name %q empty or repeated", c.Name)
		}
		names[c.Name] = true
	}
	return nil
}

func checkNode(n ir.Node, reg *funcs.Registry) error {
	if err := checkKey(*n.Schema()); err != nil {
		return fmt.Errorf("%T: %w", n, err)
	}
	switch n := n.(type) {
	case *ir.Source:
		return nil
	case *ir.Filter:
		if n.Pred.Type().Base != types.Boolean {
			return fmt.Errorf("filter of type %s", n.Pred.Type())
		}
		if err := checkExpr(n.Pred, n.Input.Schema().Columns, reg); err != nil {
			return err
		}
		return checkNode(n.Input, reg)
	case *ir.Project:
		if len(n.Exprs) != len(n.S.Columns) {
			return fmt.Errorf("project: %d expressions, %d columns", len(n.Exprs), len(n.S.Columns))
		}
		for i, e := range n.Exprs {
			if !e.Type().Equal(n.S.Columns[i].Type) {
				return fmt.Errorf("project column %s is %s, its expression %s", n.S.Columns[i].Name, n.S.Columns[i].Type, e.Type())
			}
			if err := checkExpr(e, n.Input.Schema().Columns, reg); err != nil {
				return err
			}
		}
		return checkNode(n.Input, reg)
	case *ir.Repartition:
		in := n.Input.Schema().Columns
		// exec's contract: the row is the input row, then each key's value.
		if want := len(in) + len(n.Keys); len(n.S.Columns) != want {
			return fmt.Errorf("repartition row has %d columns, want %d", len(n.S.Columns), want)
		}
		for i := range n.Keys {
			if n.S.Key[i] != len(in)+i || !n.S.Columns[len(in)+i].Type.Equal(n.Keys[i].Type()) {
				return fmt.Errorf("repartition key %d is not its appended column", i)
			}
		}
		for _, k := range n.Keys {
			if err := checkExpr(k, in, reg); err != nil {
				return err
			}
		}
		return checkNode(n.Input, reg)
	case *ir.Aggregate:
		in := n.Input.Schema().Columns
		for _, g := range n.GroupBy {
			if err := checkExpr(g, in, reg); err != nil {
				return err
			}
		}
		for _, a := range n.Aggs {
			if err := checkExpr(&ir.Call{Func: a.Func, Args: a.Args, T: a.T}, in, reg); err != nil {
				return err
			}
		}
		want := len(n.GroupBy) + len(n.Aggs)
		if n.Window != nil {
			want += 2
		}
		if len(n.S.Columns) != want {
			return fmt.Errorf("aggregate has %d columns, want %d", len(n.S.Columns), want)
		}
		return checkNode(n.Input, reg)
	case *ir.Join:
		l, r := n.Left.Schema().Columns, n.Right.Schema().Columns
		if len(n.S.Columns) != len(l)+len(r) {
			return fmt.Errorf("join row has %d columns, inputs %d + %d", len(n.S.Columns), len(l), len(r))
		}
		if err := checkExpr(n.LeftKey, l, reg); err != nil {
			return err
		}
		if err := checkExpr(n.RightKey, r, reg); err != nil {
			return err
		}
		if !n.LeftKey.Type().Equal(n.RightKey.Type()) {
			return fmt.Errorf("join keys %s and %s", n.LeftKey.Type(), n.RightKey.Type())
		}
		if err := checkNode(n.Left, reg); err != nil {
			return err
		}
		return checkNode(n.Right, reg)
	}
	return fmt.Errorf("unknown node %T", n)
}

// checkExpr verifies an expression over input row in.
func checkExpr(e ir.Expr, in []types.Field, reg *funcs.Registry) error {
	var err error
	rewrite(e, func(x ir.Expr) ir.Expr {
		if err != nil {
			return x
		}
		switch x := x.(type) {
		case *ir.Column:
			if x.Index < 0 || x.Index >= len(in) {
				err = fmt.Errorf("column %d of %d", x.Index, len(in))
			} else if !in[x.Index].Type.Equal(x.T) {
				err = fmt.Errorf("column %s is %s, read as %s", in[x.Index].Name, in[x.Index].Type, x.T)
			}
		case *ir.Call:
			switch x.Func {
			case "ARRAY", "MAP", "STRUCT":
				return nil
			}
			f, ok := reg.Lookup(x.Func)
			if !ok {
				err = fmt.Errorf("unknown function %s", x.Func)
				return x
			}
			ts := make([]types.Type, len(x.Args))
			for i, a := range x.Args {
				ts[i] = a.Type()
			}
			m, rerr := f.Resolve(ts)
			if rerr != nil {
				err = rerr
				return x
			}
			for i := range ts {
				if !ts[i].Equal(m.Params[i]) {
					err = fmt.Errorf("%s argument %d is %s, the overload takes %s", x.Func, i+1, ts[i], m.Params[i])
				}
			}
			if !m.Ret.Equal(x.T) {
				err = fmt.Errorf("%s returns %s, the call says %s", x.Func, m.Ret, x.T)
			}
		case *ir.Binary:
			if x.Op != ir.And && x.Op != ir.Or && x.L.Type().Base != types.Unknown && x.R.Type().Base != types.Unknown {
				lt, rt := x.L.Type(), x.R.Type()
				if lt.Base != rt.Base {
					err = fmt.Errorf("operands of %s are %s and %s", funcs.OpSymbol(x.Op), lt, rt)
				}
				if x.Op >= ir.Eq && !lt.Equal(rt) {
					err = fmt.Errorf("compared operands are %s and %s", lt, rt)
				}
			}
		}
		return nil
	})
	return err
}
