package eval

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// A scalar function's overloads are declared with type patterns:
//
//	BOOLEAN INTEGER BIGINT DOUBLE STRING BYTES DATE TIME TIMESTAMP   exactly that type
//	DECIMAL                                                          any DECIMAL(p, s)
//	ARRAY<p>  MAP<p, p>                                              collections of patterns
//	STRUCT                                                           any STRUCT
//	T U K V                                                          type variables: every use is the same type
//	ANY                                                              any type
//
// and a result pattern after "->" (type variables stand for what they
// matched; DECIMAL results and others that depend on the arguments'
// types have a result function instead). A trailing "..." repeats the
// last parameter zero or more times.

// tpat is a parsed type pattern.
type tpat struct {
	base types.Base // types.Unknown for ANY and type variables
	tvar byte       // 'T', 'U', 'K', 'V'; 0 otherwise
	any  bool
	elem *tpat // ARRAY, MAP value
	key  *tpat // MAP key
}

func parsePat(s string) *tpat {
	p, rest := parsePatPrefix(strings.TrimSpace(s))
	if strings.TrimSpace(rest) != "" {
		panic("bad type pattern " + s)
	}
	return p
}

func parsePatPrefix(s string) (*tpat, string) {
	s = strings.TrimSpace(s)
	end := strings.IndexAny(s, "<>,")
	if end < 0 {
		end = len(s)
	}
	word := strings.TrimSpace(s[:end])
	rest := s[end:]
	switch word {
	case "T", "U", "K", "V":
		return &tpat{tvar: word[0]}, rest
	case "ANY":
		return &tpat{any: true}, rest
	case "ARRAY", "MAP":
		if !strings.HasPrefix(rest, "<") {
			panic("bad type pattern " + s)
		}
		first, r := parsePatPrefix(rest[1:])
		p := &tpat{base: types.Array, elem: first}
		if word == "MAP" {
			if !strings.HasPrefix(r, ",") {
				panic("bad type pattern " + s)
			}
			second, r2 := parsePatPrefix(r[1:])
			p = &tpat{base: types.Map, key: first, elem: second}
			r = r2
		}
		if !strings.HasPrefix(r, ">") {
			panic("bad type pattern " + s)
		}
		return p, r[1:]
	}
	for b := types.Boolean; b <= types.Struct; b++ {
		if b.String() == word {
			return &tpat{base: b}, rest
		}
	}
	panic("bad type pattern " + s)
}

// bindings holds what the type variables matched.
type bindings [4]*types.Type

func tvarIndex(c byte) int { return strings.IndexByte("TUKV", c) }

// match matches argument type t against p, binding type variables; with
// widen, t may widen to p (INTEGER → BIGINT → DECIMAL → DOUBLE), each
// widening costing 1. NULL (types.Unknown) matches anything.
func (p *tpat) match(t types.Type, b *bindings, widen bool) (int, bool) {
	if t.Base == types.Unknown {
		return 0, true
	}
	switch {
	case p.any:
		return 0, true
	case p.tvar != 0:
		i := tvarIndex(p.tvar)
		if b[i] == nil {
			tt := t
			b[i] = &tt
			return 0, true
		}
		switch {
		case b[i].Equal(t):
			return 0, true
		case !widen:
			return 0, false
		case widens(t, *b[i]):
			return 1, true
		case widens(*b[i], t):
			tt := t
			b[i] = &tt
			return 1, true
		case b[i].IsNumeric() && t.IsNumeric():
			// INTEGER with DECIMAL(5, 2) and the like meet at DOUBLE or a
			// DECIMAL wide enough for both.
			w := commonNumeric(*b[i], t)
			b[i] = &w
			return 1, true
		}
		return 0, false
	case p.base == types.Array:
		if t.Base != types.Array {
			return 0, false
		}
		return p.elem.match(*t.Elem, b, widen)
	case p.base == types.Map:
		if t.Base != types.Map {
			return 0, false
		}
		c1, ok := p.key.match(*t.Key, b, widen)
		if !ok {
			return 0, false
		}
		c2, ok := p.elem.match(*t.Elem, b, widen)
		return c1 + c2, ok
	case p.base == t.Base:
		return 0, true
	case !widen:
		return 0, false
	case p.base == types.Decimal:
		if isInt(t) {
			return 1, true
		}
	case p.base == types.Bigint || p.base == types.Double || p.base == types.Timestamp:
		if widens(t, types.Type{Base: p.base}) {
			return 1, true
		}
	}
	return 0, false
}

// commonNumeric is the type two numeric types meet at: DOUBLE if either is
// DOUBLE, a DECIMAL wide enough for both if either is DECIMAL, else BIGINT.
func commonNumeric(a, b types.Type) types.Type {
	switch {
	case a.Base == types.Double || b.Base == types.Double:
		return types.TDouble
	case a.Base == types.Decimal || b.Base == types.Decimal:
		da, db := asDecimalType(a), asDecimalType(b)
		s := max(da.Scale, db.Scale)
		return types.DecimalOf(max(da.Precision-da.Scale, db.Precision-db.Scale)+s, s)
	case a.Base == types.Bigint || b.Base == types.Bigint:
		return types.TBigint
	}
	return types.TInteger
}

// asDecimalType is the DECIMAL an exact number widens to (ksqlDB:
// INTEGER → DECIMAL(10, 0), BIGINT → DECIMAL(19, 0)).
func asDecimalType(t types.Type) types.Type {
	switch t.Base {
	case types.Integer:
		return types.DecimalOf(10, 0)
	case types.Bigint:
		return types.DecimalOf(19, 0)
	}
	return t
}

// instantiate is the concrete type p stands for, given the argument type
// it matched (t) and the bindings.
func (p *tpat) instantiate(t types.Type, b *bindings) types.Type {
	switch {
	case p.any:
		return t
	case p.tvar != 0:
		if v := b[tvarIndex(p.tvar)]; v != nil {
			return *v
		}
		return t // an unbound variable matched only NULLs
	case p.base == types.Array:
		if t.Base == types.Array {
			return types.ArrayOf(p.elem.instantiate(*t.Elem, b))
		}
		return types.ArrayOf(p.elem.instantiate(types.Type{}, b))
	case p.base == types.Map:
		if t.Base == types.Map {
			return types.MapOf(p.key.instantiate(*t.Key, b), p.elem.instantiate(*t.Elem, b))
		}
		return types.MapOf(p.key.instantiate(types.Type{}, b), p.elem.instantiate(types.Type{}, b))
	case p.base == types.Decimal:
		if t.Base == types.Decimal {
			return t
		}
		return asDecimalType(t)
	case p.base == types.Struct:
		return t
	}
	return types.Type{Base: p.base}
}

func (p *tpat) String() string {
	switch {
	case p.any:
		return "ANY"
	case p.tvar != 0:
		return string(p.tvar)
	case p.base == types.Array:
		return "ARRAY<" + p.elem.String() + ">"
	case p.base == types.Map:
		return "MAP<" + p.key.String() + ", " + p.elem.String() + ">"
	}
	return p.base.String()
}

// callFn runs a function on its argument values. It must not keep args.
type callFn func(args []event.Value) (event.Value, error)

// callSite is what an implementation builder knows at compile time.
type callSite struct {
	name   string
	params []types.Type   // the argument types after widening
	ret    types.Type     // the result type
	lits   []*event.Value // the values of constant arguments (nil: varies per row)
}

// lit returns argument i's constant value, or an error saying it must be
// one.
func (c *callSite) lit(i int, what string) (event.Value, error) {
	if i >= len(c.lits) || c.lits[i] == nil {
		return event.Null, fmt.Errorf("%s: the %s must be a constant", c.name, what)
	}
	return *c.lits[i], nil
}

// overload is one signature of a scalar function with its implementation.
type overload struct {
	spec     string
	params   []*tpat
	variadic bool
	ret      *tpat
	retFn    func(params []types.Type) (types.Type, error)
	retText  string // the result for the reference
	nullCall bool   // the implementation sees NULL arguments (else any NULL argument gives NULL)
	impure   bool   // not deterministic (never folded)
	run      callFn
	build    func(c *callSite) (callFn, error)
}

// scalarFunc is a scalar function: its overloads in declaration order.
type scalarFunc struct {
	name      string
	overloads []*overload
}

// over declares an overload from "PARAMS -> RESULT".
func over(spec string) *overload {
	ps, ret, ok := strings.Cut(spec, "->")
	if !ok {
		panic("bad spec " + spec)
	}
	o := &overload{spec: spec}
	ps = strings.TrimSpace(ps)
	if strings.HasSuffix(ps, "...") {
		o.variadic = true
		ps = strings.TrimSuffix(ps, "...")
	}
	for _, p := range splitTop(ps) {
		o.params = append(o.params, parsePat(p))
	}
	if r := strings.TrimSpace(ret); strings.HasPrefix(r, "?") {
		o.retText = strings.TrimSpace(r[1:]) // computed by retFn; the text documents it
	} else {
		o.ret = parsePat(r)
		o.retText = o.ret.String()
	}
	return o
}

// splitTop splits a parameter list at top-level commas.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if strings.TrimSpace(s[start:]) != "" {
		out = append(out, s[start:])
	}
	return out
}

func (o *overload) fn(f callFn) *overload { o.run = f; return o }
func (o *overload) with(b func(c *callSite) (callFn, error)) *overload {
	o.build = b
	return o
}
func (o *overload) retType(f func(params []types.Type) (types.Type, error)) *overload {
	o.retFn = f
	return o
}
func (o *overload) nulls() *overload    { o.nullCall = true; return o }
func (o *overload) impureFn() *overload { o.impure = true; return o }

// bind matches argument types against o and returns the parameter types
// (after widening) and the cost (number of widened arguments).
func (o *overload) bind(args []types.Type, widen bool) ([]types.Type, int, bool) {
	n := len(o.params)
	if len(args) < n-boolInt(o.variadic) || !o.variadic && len(args) != n {
		return nil, 0, false
	}
	var b bindings
	cost := 0
	pat := func(i int) *tpat {
		if i >= n {
			return o.params[n-1]
		}
		return o.params[i]
	}
	for i, a := range args {
		c, ok := pat(i).match(a, &b, widen)
		if !ok {
			return nil, 0, false
		}
		cost += c
	}
	params := make([]types.Type, len(args))
	for i, a := range args {
		params[i] = pat(i).instantiate(a, &b)
	}
	if !widen {
		for i := range params {
			if !params[i].Equal(args[i]) && args[i].Base != types.Unknown {
				return nil, 0, false
			}
		}
	}
	return params, cost, true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// resolve picks the overload for args: an exact match first, else the
// one needing the fewest widenings (ties: declaration order).
func (f *scalarFunc) resolve(args []types.Type) (*overload, []types.Type, types.Type, error) {
	for _, widen := range []bool{false, true} {
		var best *overload
		var bestParams []types.Type
		bestCost := -1
		for _, o := range f.overloads {
			params, cost, ok := o.bind(args, widen)
			if ok && (bestCost < 0 || cost < bestCost) {
				best, bestParams, bestCost = o, params, cost
			}
		}
		if best != nil {
			ret, err := best.result(bestParams)
			if err != nil {
				return nil, nil, types.Type{}, fmt.Errorf("%s: %w", f.name, err)
			}
			return best, bestParams, ret, nil
		}
	}
	return nil, nil, types.Type{}, f.noMatch(args)
}

func (o *overload) result(params []types.Type) (types.Type, error) {
	if o.retFn != nil {
		return o.retFn(params)
	}
	var b bindings
	for i, p := range params {
		pp := o.params[min(i, len(o.params)-1)]
		pp.match(p, &b, false)
	}
	return o.ret.instantiate(types.Type{}, &b), nil
}

func (f *scalarFunc) noMatch(args []types.Type) error {
	as := make([]string, len(args))
	for i, a := range args {
		as[i] = a.String()
	}
	sigs := make([]string, len(f.overloads))
	for i, o := range f.overloads {
		sigs[i] = f.name + "(" + o.paramText() + ")"
	}
	return fmt.Errorf("function %s does not take (%s); it takes %s", f.name, strings.Join(as, ", "), strings.Join(sigs, ", "))
}

func (o *overload) paramText() string {
	ps := make([]string, len(o.params))
	for i, p := range o.params {
		ps[i] = p.String()
	}
	s := strings.Join(ps, ", ")
	if o.variadic {
		s += "..."
	}
	return s
}

// scalars is the scalar function library, by upper-case name.
var scalars = buildScalars()

func buildScalars() map[string]*scalarFunc {
	m := map[string]*scalarFunc{}
	add := func(fs map[string][]*overload) {
		for name, os := range fs {
			if _, dup := m[name]; dup {
				panic("duplicate function " + name)
			}
			m[name] = &scalarFunc{name: name, overloads: os}
		}
	}
	add(stringFuncs())
	add(mathFuncs())
	add(nullFuncs())
	add(timeFuncs())
	add(jsonFuncs())
	add(collectionFuncs())
	return m
}

// ResolveScalar is the result type of the scalar function name (upper
// case) called with arguments of types args, or an error naming the
// signatures it takes. The planner sets ir.Call.T to it; an argument may
// have a narrower type than the parameter (INTEGER for BIGINT or DOUBLE,
// DATE for TIMESTAMP): Compile widens it.
func ResolveScalar(name string, args []types.Type) (types.Type, error) {
	if t, ok, err := constructorType(name, args); ok {
		return t, err
	}
	f, ok := scalars[name]
	if !ok {
		return types.Type{}, fmt.Errorf("unknown function %s", name)
	}
	_, _, ret, err := f.resolve(args)
	return ret, err
}

// FunctionNames lists every scalar and aggregate function, sorted.
func FunctionNames() []string {
	var names []string
	for n := range scalars {
		names = append(names, n)
	}
	for n := range aggregates {
		names = append(names, n)
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// Signatures lists a function's overloads as "NAME(PARAMS) -> RESULT".
func Signatures(name string) []string {
	var out []string
	if f, ok := scalars[name]; ok {
		for _, o := range f.overloads {
			out = append(out, name+"("+o.paramText()+") -> "+o.retText)
		}
	}
	if a, ok := aggregates[name]; ok {
		out = append(out, a.sigs...)
	}
	return out
}

func compileCall(e *ir.Call) (node, error) {
	if n, ok, err := compileConstructor(e); ok {
		return n, err
	}
	f, ok := scalars[e.Func]
	if !ok {
		if _, agg := aggregates[e.Func]; agg {
			return node{}, fmt.Errorf("aggregate function %s cannot be used here (only in the SELECT list or HAVING of a GROUP BY query)", e.Func)
		}
		return node{}, fmt.Errorf("unknown function %s", e.Func)
	}
	args := make([]node, len(e.Args))
	argTypes := make([]types.Type, len(e.Args))
	for i, a := range e.Args {
		n, err := compile(a)
		if err != nil {
			return node{}, err
		}
		args[i], argTypes[i] = n, n.t
	}
	o, params, ret, err := f.resolve(argTypes)
	if err != nil {
		return node{}, err
	}
	if !ret.Equal(e.T) && e.T.Base != types.Unknown {
		return node{}, fmt.Errorf("%s(%s) gives %s, but the plan expects %s", e.Func, typeList(argTypes), ret, e.T)
	}
	site := &callSite{name: e.Func, params: params, ret: ret, lits: make([]*event.Value, len(args))}
	konst := !o.impure
	fns := make([]fn, len(args))
	for i := range args {
		n, err := coerce(args[i], params[i])
		if err != nil {
			return node{}, fmt.Errorf("%s: argument %d: %w", e.Func, i+1, err)
		}
		fns[i] = n.f
		if n.konst {
			v, err := n.f(nil)
			if err == nil {
				site.lits[i] = &v
			}
		}
		konst = konst && n.konst
	}
	run := o.run
	if o.build != nil {
		if run, err = o.build(site); err != nil {
			return node{}, err
		}
	}
	return fold(callNode(fns, run, ret, o.nullCall, konst)), nil
}

func typeList(ts []types.Type) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

// callNode evaluates the arguments into a scratch slice (Eval runs on one
// goroutine at a time, and a node never re-enters itself) and calls run.
func callNode(fns []fn, run callFn, t types.Type, nullCall, konst bool) node {
	scratch := make([]event.Value, len(fns))
	return node{t: t, konst: konst, f: func(row []event.Value) (event.Value, error) {
		for i, f := range fns {
			v, err := f(row)
			if err != nil {
				return event.Null, err
			}
			if v.Kind == event.KindNull && !nullCall {
				return event.Null, nil
			}
			scratch[i] = v
		}
		return run(scratch)
	}}
}
