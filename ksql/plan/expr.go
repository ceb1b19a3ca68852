package plan

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/funcs"
	"github.com/sluice-dev/sluice/ksql/internal/suggest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
)

// typer resolves and type-checks expressions over a scope.
type typer struct {
	funcs *funcs.Registry
	sc    *scope
	// hook, when set, may replace a sub-expression before it is typed
	// (aggregation maps grouped expressions and aggregate calls to the
	// aggregate's output columns).
	hook func(e parse.Expr) (ir.Expr, bool)
	// clause names where the expression is, for errors ("WHERE").
	clause string
}

var binOps = map[parse.BinaryOp]ir.BinOp{
	parse.OpAdd: ir.Add, parse.OpSub: ir.Sub, parse.OpMul: ir.Mul, parse.OpDiv: ir.Div, parse.OpMod: ir.Mod,
	parse.OpConcat: ir.Concat, parse.OpEq: ir.Eq, parse.OpNe: ir.Ne, parse.OpLt: ir.Lt, parse.OpLe: ir.Le,
	parse.OpGt: ir.Gt, parse.OpGe: ir.Ge, parse.OpAnd: ir.And, parse.OpOr: ir.Or,
}

func (t *typer) expr(e parse.Expr) ir.Expr {
	if t.hook != nil {
		if x, ok := t.hook(e); ok {
			return x
		}
	}
	switch e := e.(type) {
	case *parse.NullLit:
		return &ir.Literal{T: types.Type{}}
	case *parse.BoolLit:
		return &ir.Literal{Value: event.Bool(e.Value), T: types.TBoolean}
	case *parse.StringLit:
		return &ir.Literal{Value: event.String(e.Value), T: types.TString}
	case *parse.NumberLit:
		return numberLiteral(e)
	case *parse.ColumnRef:
		i, err := t.sc.resolve(e)
		must(err)
		return &ir.Column{Index: i, T: t.sc.cols[i].t}
	case *parse.Deref:
		x := t.expr(e.X)
		xt := x.Type()
		if xt.Base != types.Struct {
			bail(e.Field.Pos, "-> reads a STRUCT field, but %s is %s", parse.Print(e.X), xt)
		}
		var names []string
		for i, f := range xt.Fields {
			if f.Name == e.Field.Name {
				return &ir.FieldOf{X: x, Field: i, T: f.Type}
			}
			names = append(names, f.Name)
		}
		bail(e.Field.Pos, "%s has no field %s%s", xt, e.Field.Name, suggest.Hint(e.Field.Name, names))
	case *parse.Subscript:
		x, idx := t.expr(e.X), t.expr(e.Index)
		switch xt := x.Type(); xt.Base {
		case types.Array:
			if !funcs.Widen(idx.Type(), types.TInteger) {
				bail(e.Index.Position(), "an array index is an INTEGER, got %s", idx.Type())
			}
			return &ir.Subscript{X: x, Index: coerce(idx, types.TInteger), T: *xt.Elem}
		case types.Map:
			if !funcs.Widen(idx.Type(), *xt.Key) {
				bail(e.Index.Position(), "the keys of %s are %s, got %s", parse.Print(e.X), *xt.Key, idx.Type())
			}
			return &ir.Subscript{X: x, Index: coerce(idx, *xt.Key), T: *xt.Elem}
		default:
			bail(e.Pos, "[ ] reads an ARRAY element or a MAP value, but %s is %s", parse.Print(e.X), xt)
		}
	case *parse.Binary:
		return t.binary(e)
	case *parse.Neg:
		x := t.expr(e.X)
		if xt := x.Type(); !xt.IsNumeric() {
			bail(e.Pos, "unary - needs a number, got %s", xt)
		}
		return &ir.Neg{X: x, T: x.Type()}
	case *parse.Not:
		return &ir.Not{X: t.boolean(e.X, "NOT")}
	case *parse.IsNull:
		return &ir.IsNull{X: t.expr(e.X), Negate: e.Not}
	case *parse.Like:
		x, pat := t.expr(e.X), t.expr(e.Pattern)
		for _, o := range []struct {
			x ir.Expr
			p parse.Pos
		}{{x, e.X.Position()}, {pat, e.Pattern.Position()}} {
			if b := o.x.Type().Base; b != types.String && b != types.Unknown {
				bail(o.p, "LIKE compares strings, got %s", o.x.Type())
			}
		}
		l := &ir.Like{X: coerce(x, types.TString), Pattern: coerce(pat, types.TString), Negate: e.Not}
		if e.Escape != nil {
			l.Escape = []rune(*e.Escape)[0]
		}
		return l
	case *parse.In:
		x := t.expr(e.X)
		list := make([]ir.Expr, len(e.List))
		common := x.Type()
		for i, le := range e.List {
			list[i] = t.expr(le)
			c, ok := funcs.Common(common, list[i].Type())
			if !ok {
				bail(le.Position(), "IN compares %s with %s%s", common, list[i].Type(), castHint(e.X, common, le, list[i].Type(), nil))
			}
			common = c
		}
		for i := range list {
			list[i] = coerce(list[i], common)
		}
		return &ir.In{X: coerce(x, common), List: list, Negate: e.Not}
	case *parse.Between:
		x, lo, hi := t.expr(e.X), t.expr(e.Lo), t.expr(e.Hi)
		c, ok := funcs.Common(x.Type(), lo.Type())
		if ok {
			c, ok = funcs.Common(c, hi.Type())
		}
		if !ok || !comparable(c) {
			bail(e.Pos, "BETWEEN compares %s with %s and %s", x.Type(), lo.Type(), hi.Type())
		}
		return &ir.Between{X: coerce(x, c), Lo: coerce(lo, c), Hi: coerce(hi, c), Negate: e.Not}
	case *parse.Case:
		return t.caseExpr(e)
	case *parse.Cast:
		x := t.expr(e.X)
		if !funcs.CanCast(x.Type(), e.Type.T) {
			bail(e.Pos, "cannot CAST %s to %s", x.Type(), e.Type.T)
		}
		if x.Type().Equal(e.Type.T) {
			return x
		}
		return coerce(x, e.Type.T)
	case *parse.Call:
		return t.call(e)
	case *parse.ArrayExpr:
		return t.arrayExpr(e)
	case *parse.MapExpr:
		return t.mapExpr(e)
	case *parse.StructExpr:
		seen := map[string]bool{}
		args := make([]ir.Expr, len(e.Fields))
		st := types.Type{Base: types.Struct}
		for i, f := range e.Fields {
			if seen[f.Name.Name] {
				bail(f.Name.Pos, "duplicate field %s in STRUCT", f.Name.Name)
			}
			seen[f.Name.Name] = true
			args[i] = t.expr(f.Value)
			ft := args[i].Type()
			if ft.Base == types.Unknown {
				ft = types.TString // as an all-NULL ARRAY's elements
				args[i] = coerce(args[i], ft)
			}
			st.Fields = append(st.Fields, types.Field{Name: f.Name.Name, Type: ft})
		}
		return constructor("STRUCT", args, st)
	}
	bail(e.Position(), "unsupported expression %s", parse.Print(e))
	return nil
}

func comparable(t types.Type) bool {
	switch t.Base {
	case types.Array, types.Map, types.Struct, types.Boolean:
		return false
	}
	return true
}

// boolean types e as a condition: BOOLEAN (a NULL literal becomes a
// BOOLEAN NULL).
func (t *typer) boolean(e parse.Expr, what string) ir.Expr {
	x := t.expr(e)
	switch x.Type().Base {
	case types.Boolean:
		return x
	case types.Unknown:
		return coerce(x, types.TBoolean)
	}
	bail(e.Position(), "%s needs a BOOLEAN condition, got %s (%s)", what, x.Type(), parse.Print(e))
	return nil
}

func (t *typer) binary(e *parse.Binary) ir.Expr {
	op := binOps[e.Op]
	if op == ir.And || op == ir.Or {
		return &ir.Binary{Op: op, L: t.boolean(e.L, e.Op.String()), R: t.boolean(e.R, e.Op.String()), T: types.TBoolean}
	}
	l, r := t.expr(e.L), t.expr(e.R)
	operand, result, err := funcs.Binary(op, l.Type(), r.Type())
	if err != nil {
		bail(e.Pos, "%v (in %s)%s", err, parse.Print(e), castHint(e.L, l.Type(), e.R, r.Type(), func(t types.Type) bool {
			_, _, err := funcs.Binary(op, t, t)
			return err == nil
		}))
	}
	if op >= ir.Eq && operand.Base == types.Boolean && op != ir.Eq && op != ir.Ne {
		bail(e.Pos, "operator %s does not order BOOLEANs (in %s)", e.Op, parse.Print(e))
	}
	if operand.Base == types.Decimal && op <= ir.Mod {
		// Arithmetic on DECIMALs keeps each operand's precision and scale;
		// only INTEGER and BIGINT operands become DECIMALs.
		return &ir.Binary{Op: op, L: coerce(l, funcs.AsDecimal(l.Type())), R: coerce(r, funcs.AsDecimal(r.Type())), T: result}
	}
	if operand.Base == types.Unknown {
		return &ir.Binary{Op: op, L: l, R: r, T: result}
	}
	return &ir.Binary{Op: op, L: coerce(l, operand), R: coerce(r, operand), T: result}
}

// castHint suggests the CAST that gives two operands one type, when one
// does and ok accepts the type: a STRING side cast to the other's type
// first (text holding a number or a time is the usual mistake), else the
// right side to the left's, else the left to the right's.
func castHint(le parse.Expr, lt types.Type, re parse.Expr, rt types.Type, ok func(types.Type) bool) string {
	if lt.Base == types.Unknown || rt.Base == types.Unknown || lt.Equal(rt) {
		return ""
	}
	type cast struct {
		x    parse.Expr
		from types.Type
		to   types.Type
	}
	tries := []cast{{re, rt, lt}, {le, lt, rt}}
	if lt.Base == types.String && rt.Base != types.String {
		tries[0], tries[1] = tries[1], tries[0]
	}
	for _, c := range tries {
		if funcs.CanCast(c.from, c.to) && (ok == nil || ok(c.to)) {
			return fmt.Sprintf("; CAST one side to the other's type: CAST(%s AS %s)", parse.Print(c.x), c.to)
		}
	}
	return ""
}

func (t *typer) caseExpr(e *parse.Case) ir.Expr {
	c := &ir.Case{}
	var operand ir.Expr
	if e.Operand != nil {
		operand = t.expr(e.Operand)
	}
	var result types.Type
	var thens []ir.Expr
	var conds []ir.Expr
	opType := types.Type{}
	if operand != nil {
		opType = operand.Type()
	}
	for _, w := range e.Whens {
		var cond ir.Expr
		if operand != nil {
			cond = t.expr(w.Cond)
			ct, ok := funcs.Common(opType, cond.Type())
			if !ok {
				bail(w.Cond.Position(), "CASE compares %s with %s%s", opType, cond.Type(), castHint(e.Operand, opType, w.Cond, cond.Type(), nil))
			}
			opType = ct
		} else {
			cond = t.boolean(w.Cond, "WHEN")
		}
		conds = append(conds, cond)
		then := t.expr(w.Then)
		rt, ok := funcs.Common(result, then.Type())
		if !ok {
			bail(w.Then.Position(), "CASE results must have one type: %s and %s differ", result, then.Type())
		}
		result = rt
		thens = append(thens, then)
	}
	var els ir.Expr
	if e.Else != nil {
		els = t.expr(e.Else)
		rt, ok := funcs.Common(result, els.Type())
		if !ok {
			bail(e.Else.Position(), "CASE results must have one type: %s and %s differ", result, els.Type())
		}
		result = rt
	}
	if result.Base == types.Unknown {
		bail(e.Pos, "cannot infer the type of a CASE whose results are all NULL: write CAST(NULL AS type)")
	}
	if operand != nil {
		c.Operand = coerce(operand, opType)
	}
	for i := range conds {
		cond := conds[i]
		if operand != nil {
			cond = coerce(cond, opType)
		}
		c.Whens = append(c.Whens, ir.When{Cond: cond, Then: coerce(thens[i], result)})
	}
	if els != nil {
		c.Else = coerce(els, result)
	}
	c.T = result
	return c
}

func (t *typer) call(e *parse.Call) ir.Expr {
	f, ok := t.funcs.Lookup(e.Name.Name)
	if !ok {
		hint := suggest.Hint(e.Name.Name, t.funcs.Names())
		if hint == "" {
			hint = "; the functions nearest by name are " + suggest.And(suggest.Nearest(e.Name.Name, t.funcs.Names(), 3))
		}
		bail(e.Name.Pos, "unknown function %s%s", e.Name.Name, hint)
	}
	if f.Kind == funcs.Aggregate {
		where := t.clause
		if where == "" {
			where = "here"
		} else {
			where = "in " + where
		}
		bail(e.Pos, "aggregate function %s is not allowed %s", f.Name, where)
	}
	args := t.args(e, f)
	return t.resolveCall(e, f, args)
}

// args types a call's arguments, checking * and DISTINCT.
func (t *typer) args(e *parse.Call, f *funcs.Func) []ir.Expr {
	if e.Distinct {
		bail(e.Pos, "DISTINCT inside %s(…) is not supported (ksqlDB has none); COLLECT_SET gives the distinct values", f.Name)
	}
	if e.Star {
		if f.Name != "COUNT" {
			bail(e.Pos, "%s(*) is not supported: only COUNT(*) takes *", f.Name)
		}
		return nil
	}
	args := make([]ir.Expr, len(e.Args))
	for i, a := range e.Args {
		args[i] = t.expr(a)
	}
	return args
}

// resolveCall picks f's overload for args and converts them to its
// parameter types.
func (t *typer) resolveCall(e *parse.Call, f *funcs.Func, args []ir.Expr) *ir.Call {
	conv, ret := resolve(e, f, args)
	return &ir.Call{Func: f.Name, Args: conv, T: ret}
}

// resolve matches args to f and returns them converted to the overload's
// parameter types, and its result type; it checks the literal-only
// parameters.
func resolve(e *parse.Call, f *funcs.Func, args []ir.Expr) ([]ir.Expr, types.Type) {
	ts := make([]types.Type, len(args))
	for i, a := range args {
		ts[i] = a.Type()
	}
	m, err := f.Resolve(ts)
	if err != nil {
		bail(e.Pos, "%v", err)
	}
	out := make([]ir.Expr, len(args))
	for i, a := range args {
		out[i] = coerce(a, m.Params[i])
		p := m.Sig.Params[min(i, len(m.Sig.Params)-1)]
		if _, lit := out[i].(*ir.Literal); p.Literal && !lit {
			bail(e.Args[i].Position(), "argument %d of %s must be a literal (it configures the function), got %s", i+1, f.Name, parse.Print(e.Args[i]))
		}
	}
	return out, m.Ret
}

// constructor builds ARRAY[…], MAP(…) and STRUCT(…): a literal when every
// element is one, else an ir.Call of the pseudo-function ARRAY, MAP (keys
// and values alternating) or STRUCT (field values in order), which eval
// implements.
func constructor(name string, args []ir.Expr, t types.Type) ir.Expr {
	vals := make([]event.Value, len(args))
	for i, a := range args {
		l, ok := a.(*ir.Literal)
		if !ok {
			return &ir.Call{Func: name, Args: args, T: t}
		}
		vals[i] = l.Value
	}
	return &ir.Literal{Value: event.Array(vals), T: t}
}

func (t *typer) arrayExpr(e *parse.ArrayExpr) ir.Expr {
	elems := make([]ir.Expr, len(e.Elems))
	var et types.Type
	for i, x := range e.Elems {
		elems[i] = t.expr(x)
		c, ok := funcs.Common(et, elems[i].Type())
		if !ok {
			bail(x.Position(), "ARRAY elements must have one type: %s and %s differ", et, elems[i].Type())
		}
		et = c
	}
	if et.Base == types.Unknown {
		et = types.TString // ksqlDB: an empty or all-NULL ARRAY holds STRINGs
	}
	for i := range elems {
		elems[i] = coerce(elems[i], et)
	}
	return constructor("ARRAY", elems, types.ArrayOf(et))
}

func (t *typer) mapExpr(e *parse.MapExpr) ir.Expr {
	var kt, vt types.Type
	args := make([]ir.Expr, 0, 2*len(e.Keys))
	for i := range e.Keys {
		k, v := t.expr(e.Keys[i]), t.expr(e.Values[i])
		c, ok := funcs.Common(kt, k.Type())
		if !ok {
			bail(e.Keys[i].Position(), "MAP keys must have one type: %s and %s differ", kt, k.Type())
		}
		kt = c
		if c, ok = funcs.Common(vt, v.Type()); !ok {
			bail(e.Values[i].Position(), "MAP values must have one type: %s and %s differ", vt, v.Type())
		}
		vt = c
		args = append(args, k, v)
	}
	// ksqlDB: an empty or all-NULL MAP holds STRINGs.
	if kt.Base == types.Unknown {
		kt = types.TString
	}
	if vt.Base == types.Unknown {
		vt = types.TString
	}
	for i := range args {
		if i%2 == 0 {
			args[i] = coerce(args[i], kt)
		} else {
			args[i] = coerce(args[i], vt)
		}
	}
	return constructor("MAP", args, types.MapOf(kt, vt))
}

// numberLiteral types a numeric literal as ksqlDB does: an integer is an
// INTEGER when it fits 32 bits, else a BIGINT; 1.5 is a DECIMAL of its
// digits (DECIMAL(2, 1)); 1.5e3 is a DOUBLE.
func numberLiteral(n *parse.NumberLit) ir.Expr {
	switch n.Kind {
	case parse.IntegerNum:
		v, _ := strconv.ParseInt(n.Text, 10, 64)
		t := types.TBigint
		if v >= math.MinInt32 && v <= math.MaxInt32 {
			t = types.TInteger
		}
		return &ir.Literal{Value: event.Int(v), T: t}
	case parse.DecimalNum:
		text, p, s := decimalText(n.Text)
		return &ir.Literal{Value: event.Decimal(text), T: types.DecimalOf(p, s)}
	}
	f, _ := strconv.ParseFloat(n.Text, 64)
	return &ir.Literal{Value: event.Float(f), T: types.TDouble}
}

// decimalText normalises a decimal literal ("-.5" → "-0.5", "1." → "1")
// and gives its precision and scale (digits, fraction digits; at least
// one digit of precision, never below the scale).
func decimalText(s string) (text string, p, sc int) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	sc = len(frac)
	p = max(len(intPart)+sc, 1)
	if intPart == "" {
		intPart = "0"
	}
	text = intPart
	if frac != "" {
		text += "." + frac
	}
	if neg {
		text = "-" + text
	}
	return text, p, sc
}

// coerce converts e to type to: nothing when it has it, a typed NULL for
// NULL, a converted constant for a numeric literal, else an ir.Cast.
func coerce(e ir.Expr, to types.Type) ir.Expr {
	from := e.Type()
	if from.Equal(to) || to.Base == types.Unknown {
		return e
	}
	if lit, ok := e.(*ir.Literal); ok {
		if lit.Value.IsNull() {
			return &ir.Literal{Value: lit.Value, T: to}
		}
		if v, ok := convertNumber(lit, to); ok {
			return &ir.Literal{Value: v, T: to}
		}
	}
	return &ir.Cast{X: e, T: to}
}

// convertNumber widens a numeric constant exactly (INTEGER to BIGINT,
// DECIMAL or DOUBLE; DECIMAL to a wider DECIMAL or DOUBLE).
func convertNumber(l *ir.Literal, to types.Type) (event.Value, bool) {
	from := l.T
	if !from.IsNumeric() || !to.IsNumeric() || !funcs.Widen(from, to) {
		return event.Value{}, false
	}
	var r *big.Rat
	switch l.Value.Kind {
	case event.KindInt:
		r = new(big.Rat).SetInt64(l.Value.AsInt())
	case event.KindDecimal:
		var ok bool
		if r, ok = new(big.Rat).SetString(l.Value.Str); !ok {
			return event.Value{}, false
		}
	default:
		return event.Value{}, false
	}
	switch to.Base {
	case types.Bigint, types.Integer:
		return event.Int(l.Value.AsInt()), true
	case types.Double:
		f, _ := r.Float64()
		return event.Float(f), true
	case types.Decimal:
		return event.Decimal(r.FloatString(to.Scale)), true
	}
	return event.Value{}, false
}
