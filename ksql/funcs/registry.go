package funcs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/ksql/types"
)

// Kind tells a scalar function from an aggregate.
type Kind uint8

// Function kinds.
const (
	Scalar Kind = iota + 1
	Aggregate
)

// Func is one function: its overloads, in order of preference, and its
// documentation.
type Func struct {
	Name string // upper-case
	Kind Kind
	Doc  string
	Sigs []*Sig
	// Undo (aggregates only): the function can retract a row it folded in
	// (ir.Aggregator.Undo), so it may aggregate a table, whose updates
	// retract the old row. ksqlDB: the UDAFs that are TableUdafs.
	Undo bool
	// Volatile: two calls with the same arguments may differ (RANDOM,
	// UUID, UNIX_TIMESTAMP()); never evaluate it once for all rows.
	Volatile bool
}

// Registry is a set of functions by upper-case name. It is a plain value:
// Builtin builds the standard one; tests may build their own with New.
type Registry struct {
	funcs map[string]*Func
	names []string
}

// New returns a registry of fs. Signature texts are parsed here; a
// malformed one panics (the table is code).
func New(fs ...*Func) *Registry {
	r := &Registry{funcs: make(map[string]*Func, len(fs))}
	for _, f := range fs {
		if _, dup := r.funcs[f.Name]; dup {
			panic("funcs: duplicate function " + f.Name)
		}
		r.funcs[f.Name] = f
		r.names = append(r.names, f.Name)
	}
	sort.Strings(r.names)
	return r
}

// Lookup finds a function by name (case-insensitive).
func (r *Registry) Lookup(name string) (*Func, bool) {
	f, ok := r.funcs[strings.ToUpper(name)]
	return f, ok
}

// Names lists the functions' names, sorted.
func (r *Registry) Names() []string { return r.names }

// Match is the overload a call resolves to.
type Match struct {
	Func  *Func
	Sig   *Sig
	Index int // the overload's index in Func.Sigs
	// Params is the type each argument must have when the function runs:
	// the planner converts an argument whose type differs (a widening,
	// e.g. INTEGER to BIGINT, or a NULL literal given the parameter's
	// type), so an implementation sees exactly these types.
	Params []types.Type
	Ret    types.Type
}

// Resolve picks the overload of f that takes arguments of types args:
// the one needing the fewest implicit widenings (see Widen), the first in
// the table on a tie. Its errors name the function and the signatures it
// has; the caller adds the position.
func (f *Func) Resolve(args []types.Type) (Match, error) {
	best, bestCost := Match{}, -1
	arityOK := false
	var inferErr error
	for i, s := range f.Sigs {
		if !s.takes(len(args)) {
			continue
		}
		arityOK = true
		m, cost, ok, err := s.match(args)
		if err != nil && inferErr == nil {
			inferErr = err
		}
		if !ok {
			continue
		}
		if bestCost < 0 || cost < bestCost {
			m.Func, m.Index = f, i
			best, bestCost = m, cost
		}
	}
	if bestCost >= 0 {
		return best, nil
	}
	if !arityOK {
		return Match{}, fmt.Errorf("%s takes %s, got %d", f.Name, f.arity(), len(args))
	}
	if inferErr != nil {
		return Match{}, inferErr
	}
	names := make([]string, len(args))
	for i, a := range args {
		names[i] = a.String()
	}
	var alts []string
	for _, s := range f.Sigs {
		if s.takes(len(args)) {
			alts = append(alts, s.Call())
		}
	}
	return Match{}, fmt.Errorf("%s does not take (%s); it takes %s", f.Name, strings.Join(names, ", "), joinOr(alts))
}

// arity describes the argument counts f takes: "1 argument", "2 or 3
// arguments", "at least 1 argument".
func (f *Func) arity() string {
	counts := map[int]bool{}
	least := -1
	for _, s := range f.Sigs {
		if s.Variadic {
			if n := len(s.Params) - 1; least < 0 || n < least {
				least = n
			}
			continue
		}
		counts[len(s.Params)] = true
	}
	var ns []int
	for n := range counts {
		if least < 0 || n < least {
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	var parts []string
	for _, n := range ns {
		parts = append(parts, strconv.Itoa(n))
	}
	plural := func(n int) string {
		if n == 1 {
			return " argument"
		}
		return " arguments"
	}
	switch {
	case least >= 0 && len(parts) == 0:
		return "at least " + strconv.Itoa(least) + plural(least)
	case least >= 0:
		return joinOr(parts) + " or at least " + strconv.Itoa(least) + " arguments"
	case len(ns) == 1:
		return parts[0] + plural(ns[0])
	}
	return joinOr(parts) + " arguments"
}

func joinOr(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// takes reports whether s accepts n arguments.
func (s *Sig) takes(n int) bool {
	if s.Variadic {
		return n >= len(s.Params)-1
	}
	return n == len(s.Params)
}

func (s *Sig) param(i int) Param {
	if i >= len(s.Params) {
		return s.Params[len(s.Params)-1]
	}
	return s.Params[i]
}

// match binds args to s. cost counts the arguments that need a
// conversion; err explains a failure worth reporting (a type that cannot
// be inferred).
func (s *Sig) match(args []types.Type) (m Match, cost int, ok bool, err error) {
	b := &bindings{fixed: map[string]types.Type{}, loose: map[string]types.Type{}}
	params := make([]types.Type, len(args))
	// Containers first: they bind variables exactly (an ARRAY<INTEGER>
	// is not converted to an ARRAY<BIGINT>).
	for i, a := range args {
		p := s.param(i).p
		if p.base == types.Array || p.base == types.Map {
			if !bindExact(p, a, b) {
				return m, 0, false, nil
			}
		}
	}
	for i, a := range args {
		p := s.param(i).p
		switch {
		case p.base == types.Array || p.base == types.Map:
		case p.vr != "":
			if t, ok := b.fixed[p.vr]; ok {
				if !Widen(a, t) {
					return m, 0, false, nil
				}
				continue
			}
			prev, seen := b.loose[p.vr]
			if !seen {
				b.loose[p.vr] = a
				continue
			}
			c, ok := Common(prev, a)
			if !ok {
				return m, 0, false, nil
			}
			b.loose[p.vr] = c
		case p.base == types.Decimal:
			if a.Base == types.Unknown {
				params[i] = types.DecimalOf(10, 0)
				continue
			}
			r := numericRank(a.Base)
			if r == 0 || r > 3 {
				return m, 0, false, nil
			}
			params[i] = AsDecimal(a)
		default:
			if !Widen(a, types.Type{Base: p.base}) {
				return m, 0, false, nil
			}
			params[i] = types.Type{Base: p.base}
		}
	}
	for i, a := range args {
		p := s.param(i).p
		if p.vr != "" || p.base == types.Array || p.base == types.Map {
			t, ok := subst(p, b, nil)
			if !ok {
				return m, 0, false, fmt.Errorf("%s cannot infer the type of its arguments from NULL alone: give the NULL a type with CAST(NULL AS type)", s.Name)
			}
			params[i] = t
		}
		if a.Base != types.Unknown && !a.Equal(params[i]) {
			cost++
		}
	}
	var ret types.Type
	if s.retFn != nil {
		ret = s.retFn(params)
	} else {
		var ok bool
		if ret, ok = subst(s.ret, b, params); !ok {
			return m, 0, false, fmt.Errorf("%s cannot infer its result type from NULL alone: give the NULL a type with CAST(NULL AS type)", s.Name)
		}
	}
	return Match{Sig: s, Params: params, Ret: ret}, cost, true, nil
}
