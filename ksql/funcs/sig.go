package funcs

import (
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/ksql/types"
)

// pattern is a parameter or return type of a signature: a concrete type,
// any DECIMAL, a type variable (T, U) or an ARRAY/MAP of patterns.
type pattern struct {
	base  types.Base // Unknown for a variable
	vr    string     // "T", "U": a type variable
	elem  *pattern   // ARRAY element, MAP value
	key   *pattern   // MAP key
	arg   int        // >= 0: "$n", the type of argument n (returns only)
	exact bool       // DECIMAL(p, s) given in full (never in params)
}

// Param is one parameter of a signature.
type Param struct {
	p pattern
	// Literal says the argument must be a literal (LATEST_BY_OFFSET's
	// count and ignoreNulls): it configures the function, it is not data.
	Literal bool
}

// String spells the parameter as in the signature text.
func (p Param) String() string {
	s := p.p.String()
	if p.Literal {
		s += "!"
	}
	return s
}

func (p pattern) String() string {
	switch {
	case p.arg >= 0:
		return fmt.Sprintf("$%d", p.arg)
	case p.vr != "":
		return p.vr
	case p.base == types.Array:
		return "ARRAY<" + p.elem.String() + ">"
	case p.base == types.Map:
		return "MAP<" + p.key.String() + ", " + p.elem.String() + ">"
	}
	return p.base.String()
}

// Sig is one overload of a function.
type Sig struct {
	Name   string
	Params []Param
	// Variadic: the last parameter repeats zero or more times.
	Variadic bool
	ret      pattern
	// retFn computes the return type where a pattern cannot (ROUND of a
	// DECIMAL); it gets the argument types after widening.
	retFn func(args []types.Type) types.Type
	text  string
}

// String is the signature as written in the table, e.g.
// "SUBSTRING(STRING, INTEGER, INTEGER) STRING".
func (s *Sig) String() string { return s.text }

// Call spells the signature's parameter list: "SUBSTRING(STRING, INTEGER)".
func (s *Sig) Call() string {
	parts := make([]string, len(s.Params))
	for i, p := range s.Params {
		parts[i] = p.String()
	}
	if s.Variadic && len(parts) > 0 {
		parts[len(parts)-1] += "..."
	}
	return s.Name + "(" + strings.Join(parts, ", ") + ")"
}

// parseSig reads "NAME(P1, P2...) RET". It panics on a malformed table
// entry: the table is code, and a test parses every entry.
func parseSig(text string) *Sig {
	open := strings.IndexByte(text, '(')
	close := strings.LastIndexByte(text, ')')
	if open < 0 || close < open {
		panic("funcs: malformed signature " + text)
	}
	s := &Sig{Name: text[:open], text: text}
	params := strings.TrimSpace(text[open+1 : close])
	if params != "" {
		for _, p := range splitTop(params) {
			p = strings.TrimSpace(p)
			if strings.HasSuffix(p, "...") {
				s.Variadic = true
				p = strings.TrimSuffix(p, "...")
			}
			lit := strings.HasSuffix(p, "!")
			p = strings.TrimSuffix(p, "!")
			s.Params = append(s.Params, Param{p: mustPattern(p, text), Literal: lit})
		}
	}
	ret := strings.TrimSpace(text[close+1:])
	if ret != "@" {
		s.ret = mustPattern(ret, text)
	}
	return s
}

// splitTop splits on commas outside angle brackets.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
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
	return append(out, s[start:])
}

var baseByName = map[string]types.Base{
	"BOOLEAN": types.Boolean, "INTEGER": types.Integer, "BIGINT": types.Bigint,
	"DOUBLE": types.Double, "DECIMAL": types.Decimal, "STRING": types.String,
	"BYTES": types.Bytes, "DATE": types.Date, "TIME": types.Time, "TIMESTAMP": types.Timestamp,
}

func mustPattern(s, sig string) pattern {
	s = strings.TrimSpace(s)
	p := pattern{arg: -1}
	switch {
	case strings.HasPrefix(s, "$"):
		p.arg = int(s[1] - '0')
	case s == "T" || s == "U":
		p.vr = s
	case strings.HasPrefix(s, "ARRAY<") && strings.HasSuffix(s, ">"):
		e := mustPattern(s[len("ARRAY<"):len(s)-1], sig)
		p.base, p.elem = types.Array, &e
	case strings.HasPrefix(s, "MAP<") && strings.HasSuffix(s, ">"):
		kv := splitTop(s[len("MAP<") : len(s)-1])
		if len(kv) != 2 {
			panic("funcs: malformed map in " + sig)
		}
		k, v := mustPattern(kv[0], sig), mustPattern(kv[1], sig)
		p.base, p.key, p.elem = types.Map, &k, &v
	default:
		b, ok := baseByName[s]
		if !ok {
			panic("funcs: unknown type " + s + " in " + sig)
		}
		p.base = b
	}
	return p
}

// numericRank orders the numeric types by ksqlDB's implicit widening:
// INTEGER → BIGINT → DECIMAL → DOUBLE.
func numericRank(b types.Base) int {
	switch b {
	case types.Integer:
		return 1
	case types.Bigint:
		return 2
	case types.Decimal:
		return 3
	case types.Double:
		return 4
	}
	return 0
}

// Widen reports whether a value of type from converts implicitly to type
// to, as ksqlDB widens function arguments and operands: INTEGER → BIGINT →
// DECIMAL → DOUBLE (an INTEGER becomes DECIMAL(10, 0), a BIGINT
// DECIMAL(19, 0)); a DECIMAL widens to a DECIMAL that holds all its values;
// a DATE widens to a TIMESTAMP (its midnight, UTC); NULL (Unknown)
// converts to anything. Nothing narrows, and nothing else converts
// implicitly (use CAST).
func Widen(from, to types.Type) bool {
	if from.Base == types.Unknown || from.Equal(to) {
		return true
	}
	if from.Base == types.Date && to.Base == types.Timestamp {
		return true
	}
	rf, rt := numericRank(from.Base), numericRank(to.Base)
	if rf == 0 || rt == 0 || rf > rt {
		return false
	}
	if to.Base == types.Decimal {
		d := AsDecimal(from)
		return to.Scale >= d.Scale && to.Precision-to.Scale >= d.Precision-d.Scale
	}
	return true
}

// AsDecimal is the DECIMAL an exact numeric type widens to: INTEGER →
// DECIMAL(10, 0), BIGINT → DECIMAL(19, 0), a DECIMAL itself.
func AsDecimal(t types.Type) types.Type {
	switch t.Base {
	case types.Integer:
		return types.DecimalOf(10, 0)
	case types.Bigint:
		return types.DecimalOf(19, 0)
	}
	return t
}

// Common is the narrowest type both a and b widen to (COALESCE's,
// CASE's, IN's): the wider numeric type, for two DECIMALs one with enough
// integer digits and scale for both; NULL takes the other's type. ok is
// false when there is none (STRING and INTEGER).
func Common(a, b types.Type) (types.Type, bool) {
	switch {
	case a.Base == types.Unknown:
		return b, true
	case b.Base == types.Unknown, a.Equal(b):
		return a, true
	}
	if a.Base == types.Date && b.Base == types.Timestamp || a.Base == types.Timestamp && b.Base == types.Date {
		return types.TTimestamp, true
	}
	ra, rb := numericRank(a.Base), numericRank(b.Base)
	if ra == 0 || rb == 0 {
		return types.Type{}, false
	}
	if ra == 4 || rb == 4 {
		return types.TDouble, true
	}
	if ra == 3 || rb == 3 {
		da, db := AsDecimal(a), AsDecimal(b)
		scale := max(da.Scale, db.Scale)
		return types.DecimalOf(max(da.Precision-da.Scale, db.Precision-db.Scale)+scale, scale), true
	}
	if ra > rb {
		return a, true
	}
	return b, true
}

// bindings holds what each type variable stands for during a match.
type bindings struct {
	fixed map[string]types.Type // bound inside a container: exact
	loose map[string]types.Type // bound by scalar arguments: widest so far
}

// bindExact matches t against p exactly (no widening), binding variables
// in b.fixed. Unknown (NULL) matches anything.
func bindExact(p pattern, t types.Type, b *bindings) bool {
	if t.Base == types.Unknown {
		return true
	}
	switch {
	case p.vr != "":
		if prev, ok := b.fixed[p.vr]; ok {
			return prev.Equal(t)
		}
		b.fixed[p.vr] = t
		return true
	case p.base == types.Array:
		return t.Base == types.Array && bindExact(*p.elem, *t.Elem, b)
	case p.base == types.Map:
		return t.Base == types.Map && bindExact(*p.key, *t.Key, b) && bindExact(*p.elem, *t.Elem, b)
	case p.base == types.Decimal:
		return t.Base == types.Decimal
	}
	return t.Base == p.base
}

// subst is p with its variables replaced; ok is false when a variable is
// unbound.
func subst(p pattern, b *bindings, args []types.Type) (types.Type, bool) {
	switch {
	case p.arg >= 0:
		if p.arg >= len(args) {
			return types.Type{}, false
		}
		return args[p.arg], true
	case p.vr != "":
		if t, ok := b.fixed[p.vr]; ok {
			return t, true
		}
		t, ok := b.loose[p.vr]
		return t, ok && t.Base != types.Unknown
	case p.base == types.Array:
		e, ok := subst(*p.elem, b, args)
		return types.ArrayOf(e), ok
	case p.base == types.Map:
		k, ok1 := subst(*p.key, b, args)
		v, ok2 := subst(*p.elem, b, args)
		return types.MapOf(k, v), ok1 && ok2
	}
	return types.Type{Base: p.base}, true
}
