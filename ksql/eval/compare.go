package eval

import (
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// unordered is what a comparator returns when no order holds (a NaN):
// every comparison is then FALSE, as Java's primitive double comparisons.
const unordered = 2

// comparator compares two non-NULL values: -1, 0, 1 or unordered.
type comparator func(a, b event.Value) (int, error)

// compareFunc returns the comparator for values of types lt and rt, and
// whether it orders them (false: only = and <> apply).
func compareFunc(lt, rt types.Type) (comparator, bool, error) {
	if lt.Base == types.Unknown {
		lt = rt
	}
	if rt.Base == types.Unknown {
		rt = lt
	}
	switch {
	case lt.IsNumeric() && rt.IsNumeric():
		return numericComparator(lt, rt), true, nil
	case isTemporal(lt) || isTemporal(rt):
		c, err := temporalComparator(lt, rt)
		return c, true, err
	case lt.Base != rt.Base:
		return nil, false, fmt.Errorf("cannot compare %s with %s", lt, rt)
	}
	switch lt.Base {
	case types.String:
		return func(a, b event.Value) (int, error) { return javaCompareStrings(a.Str, b.Str), nil }, true, nil
	case types.Bytes:
		return func(a, b event.Value) (int, error) { return compareSignedBytes(a.Str, b.Str), nil }, true, nil
	case types.Boolean:
		return func(a, b event.Value) (int, error) { return cmpInt(int64(a.Num), int64(b.Num)), nil }, false, nil
	case types.Array, types.Map, types.Struct:
		eq, err := equalFunc(lt, rt)
		if err != nil {
			return nil, false, err
		}
		return func(a, b event.Value) (int, error) {
			if eq(a, b) {
				return 0, nil
			}
			return 1, nil
		}, false, nil
	}
	return nil, false, fmt.Errorf("cannot compare %s values", lt)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	return unordered
}

// numericComparator compares numbers as ksqlDB: exactly when either side
// is DECIMAL (a DOUBLE through its Java text, as BigDecimal.valueOf),
// else as doubles when either is DOUBLE, else as integers.
func numericComparator(lt, rt types.Type) comparator {
	li, ri := isInt(lt) || lt.Base == types.Unknown, isInt(rt) || rt.Base == types.Unknown
	switch {
	case lt.Base == types.Decimal || rt.Base == types.Decimal:
		lc, rc := decOperand(lt), decOperand(rt)
		return func(a, b event.Value) (int, error) {
			x, err := lc(a)
			if err != nil {
				return 0, err
			}
			y, err := rc(b)
			if err != nil {
				return 0, err
			}
			return decCmp(x, y), nil
		}
	case li && ri:
		return func(a, b event.Value) (int, error) { return cmpInt(a.AsInt(), b.AsInt()), nil }
	case li:
		return func(a, b event.Value) (int, error) { return cmpFloat(float64(a.AsInt()), b.AsFloat()), nil }
	case ri:
		return func(a, b event.Value) (int, error) { return cmpFloat(a.AsFloat(), float64(b.AsInt())), nil }
	}
	return func(a, b event.Value) (int, error) { return cmpFloat(a.AsFloat(), b.AsFloat()), nil }
}

// decOperand converts a numeric value for an exact comparison; a NaN or
// infinite DOUBLE compares through a sentinel.
func decOperand(t types.Type) func(event.Value) (dec, error) {
	if t.Base == types.Double {
		return func(v event.Value) (dec, error) {
			f := v.AsFloat()
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return dec{}, fmt.Errorf("cannot compare %s with a DECIMAL", javaDouble(f))
			}
			return decFromJavaDouble(f)
		}
	}
	f, _ := toDecFunc(t)
	return f
}

// temporalComparator compares DATE, TIME and TIMESTAMP values as ksqlDB: a
// DATE with a TIMESTAMP as its midnight, a STRING by parsing it as the
// other side's type (a parse failure is a record error).
func temporalComparator(lt, rt types.Type) (comparator, error) {
	target := types.TTimestamp
	switch {
	case lt.Base == types.Time || rt.Base == types.Time:
		target = types.TTime
	case lt.Base == types.Date && (rt.Base == types.Date || rt.Base == types.String) ||
		rt.Base == types.Date && lt.Base == types.String:
		target = types.TDate
	}
	lc, err := temporalOperand(lt, target)
	if err != nil {
		return nil, err
	}
	rc, err := temporalOperand(rt, target)
	if err != nil {
		return nil, err
	}
	return func(a, b event.Value) (int, error) {
		x, err := lc(a)
		if err != nil {
			return 0, err
		}
		y, err := rc(b)
		if err != nil {
			return 0, err
		}
		return cmpInt(x, y), nil
	}, nil
}

func temporalOperand(t, target types.Type) (func(event.Value) (int64, error), error) {
	switch {
	case t.Base == target.Base:
		return func(v event.Value) (int64, error) { return v.AsInt(), nil }, nil
	case t.Base == types.Date && target.Base == types.Timestamp:
		return func(v event.Value) (int64, error) {
			// Beyond a TIMESTAMP's range a date still orders: saturate.
			d := max(min(v.AsInt(), maxDateDays), -maxDateDays)
			return d * microsPerDay, nil
		}, nil
	case t.Base == types.String:
		parse, err := castFunc(types.TString, target)
		if err != nil {
			return nil, err
		}
		return func(v event.Value) (int64, error) {
			p, err := parse(v)
			return p.AsInt(), err
		}, nil
	}
	return nil, fmt.Errorf("cannot compare %s with %s", t, target)
}

// javaCompareStrings orders strings as Java's String.compareTo: by UTF-16
// code units. That is byte order of UTF-8 except that characters above
// U+FFFF (surrogate pairs) sort before U+E000…U+FFFF.
func javaCompareStrings(a, b string) int {
	n := len(a)
	if len(b) < n {
		n = len(b)
	}
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmpInt(int64(len(a)), int64(len(b)))
	}
	if a[i] < 0xEE && b[i] < 0xEE { // neither is at U+E000 or above
		return cmpInt(int64(a[i]), int64(b[i]))
	}
	// Back up to the start of the differing characters.
	s := i
	for s > 0 && !utf8.RuneStart(a[s]) {
		s--
	}
	ra, _ := utf8.DecodeRuneInString(a[s:])
	rb, _ := utf8.DecodeRuneInString(b[s:])
	return cmpInt(utf16Key(ra), utf16Key(rb))
}

// utf16Key is the first UTF-16 code unit of r, for ordering.
func utf16Key(r rune) int64 {
	if r >= 0x10000 {
		return 0xD800 + int64((r-0x10000)>>10)
	}
	return int64(r)
}

// compareSignedBytes orders bytes as Java's ByteBuffer.compareTo, which
// compares bytes as signed values (0x80 sorts before 0x00).
func compareSignedBytes(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return cmpInt(int64(int8(a[i])), int64(int8(b[i])))
		}
	}
	return cmpInt(int64(len(a)), int64(len(b)))
}

// equalFunc is deep equality of two non-NULL values of types lt and rt
// (NULL elements equal NULL elements, as Java's List.equals; map entries
// in any order).
func equalFunc(lt, rt types.Type) (func(a, b event.Value) bool, error) {
	if lt.Base == types.Unknown {
		lt = rt
	}
	if rt.Base == types.Unknown {
		rt = lt
	}
	switch {
	case lt.Base == types.Array && rt.Base == types.Array:
		el, err := equalFunc(*lt.Elem, *rt.Elem)
		if err != nil {
			return nil, err
		}
		return func(a, b event.Value) bool {
			ae, be := a.Elems(), b.Elems()
			if len(ae) != len(be) {
				return false
			}
			for i := range ae {
				if !nullSafe(el, ae[i], be[i]) {
					return false
				}
			}
			return true
		}, nil
	case lt.Base == types.Map && rt.Base == types.Map:
		kf, err := equalFunc(*lt.Key, *rt.Key)
		if err != nil {
			return nil, err
		}
		vf, err := equalFunc(*lt.Elem, *rt.Elem)
		if err != nil {
			return nil, err
		}
		return func(a, b event.Value) bool {
			ae, be := a.Elems(), b.Elems()
			if len(ae) != len(be) {
				return false
			}
			for i := 0; i+1 < len(ae); i += 2 {
				found := false
				for j := 0; j+1 < len(be); j += 2 {
					if nullSafe(kf, ae[i], be[j]) {
						found = nullSafe(vf, ae[i+1], be[j+1])
						break
					}
				}
				if !found {
					return false
				}
			}
			return true
		}, nil
	case lt.Base == types.Struct && rt.Base == types.Struct:
		if len(lt.Fields) != len(rt.Fields) {
			return nil, fmt.Errorf("cannot compare %s with %s", lt, rt)
		}
		fs := make([]func(a, b event.Value) bool, len(lt.Fields))
		for i := range lt.Fields {
			if lt.Fields[i].Name != rt.Fields[i].Name {
				return nil, fmt.Errorf("cannot compare %s with %s", lt, rt)
			}
			f, err := equalFunc(lt.Fields[i].Type, rt.Fields[i].Type)
			if err != nil {
				return nil, err
			}
			fs[i] = f
		}
		return func(a, b event.Value) bool {
			ae, be := a.Elems(), b.Elems()
			if len(ae) != len(fs) || len(be) != len(fs) {
				return false
			}
			for i, f := range fs {
				if !nullSafe(f, ae[i], be[i]) {
					return false
				}
			}
			return true
		}, nil
	case lt.Base == types.Double && rt.Base == types.Double:
		// Inside collections Java compares Double objects: NaN equals NaN.
		return func(a, b event.Value) bool {
			x, y := a.AsFloat(), b.AsFloat()
			return x == y || math.IsNaN(x) && math.IsNaN(y)
		}, nil
	case lt.Base == types.String && rt.Base == types.String, lt.Base == types.Bytes && rt.Base == types.Bytes:
		return func(a, b event.Value) bool { return a.Str == b.Str }, nil
	}
	c, _, err := compareFunc(lt, rt)
	if err != nil {
		return nil, err
	}
	return func(a, b event.Value) bool {
		r, err := c(a, b)
		return err == nil && r == 0
	}, nil
}

func nullSafe(eq func(a, b event.Value) bool, a, b event.Value) bool {
	if a.Kind == event.KindNull || b.Kind == event.KindNull {
		return a.Kind == b.Kind
	}
	return eq(a, b)
}

// compileCompare is a comparison with SQL's three-valued logic: NULL when
// either side is NULL.
func compileCompare(op ir.BinOp, l, r node) (node, error) {
	c, ordered, err := compareFunc(l.t, r.t)
	if err != nil {
		return node{}, err
	}
	if !ordered && op != ir.Eq && op != ir.Ne {
		return node{}, fmt.Errorf("operator %s does not apply to %s values (only = and <>)", opName(op), l.t)
	}
	var test func(int) bool
	switch op { // a direct test per operator: no table lookup per row
	case ir.Eq:
		test = func(c int) bool { return c == 0 }
	case ir.Ne:
		test = func(c int) bool { return c == -1 || c == 1 }
	case ir.Lt:
		test = func(c int) bool { return c == -1 }
	case ir.Le:
		test = func(c int) bool { return c == -1 || c == 0 }
	case ir.Gt:
		test = func(c int) bool { return c == 1 }
	default:
		test = func(c int) bool { return c == 1 || c == 0 }
	}
	return binaryNode(l, r, types.TBoolean, func(a, b event.Value) (event.Value, error) {
		x, err := c(a, b)
		if err != nil {
			return event.Null, err
		}
		if test(x) {
			return vTrue, nil
		}
		return vFalse, nil
	}), nil
}
