package event

import (
	"math"
	"strconv"
)

// Kind says which field of a Value holds the datum.
type Kind uint8

// Value kinds.
const (
	KindNull Kind = iota
	// KindUnchanged marks a column the source did not send because it was not
	// changed (PostgreSQL's unchanged TOAST). Sinks must leave the stored
	// value alone; encoders write Debezium's placeholder only where Debezium
	// does.
	KindUnchanged
	KindBool     // Num: 0 or 1
	KindInt      // Num: int64 bits
	KindFloat    // Num: float64 bits
	KindDecimal  // Str: exact decimal text ("-12.3400", "NaN", "Infinity")
	KindString   // Str
	KindBytes    // Str: raw bytes
	KindInterval // Num: microseconds (Debezium numeric mode, 1 month = 30.4375 days); Str: ISO 8601 "P1Y2M3DT4H5M6.7S"
	KindArray    // Elems
)

// Value is one typed datum. It is a small struct (40 bytes: no interface,
// no per-value allocation for scalars); strings and bytes share the source's
// row buffer where possible. Arrays, which are rare, hold their elements
// behind a pointer so that every other value stays small: rows are slices
// of Values, and their size is what the garbage collector scans.
type Value struct {
	Kind Kind
	Num  uint64
	Str  string
	arr  *[]Value
}

// Null is the SQL NULL.
var Null = Value{}

// Unchanged is the unchanged-TOAST marker.
var Unchanged = Value{Kind: KindUnchanged}

// Bool returns a boolean Value.
func Bool(b bool) Value {
	if b {
		return Value{Kind: KindBool, Num: 1}
	}
	return Value{Kind: KindBool}
}

// Int returns an integer Value (also used for dates, times and timestamps).
func Int(i int64) Value { return Value{Kind: KindInt, Num: uint64(i)} }

// Float returns a floating-point Value.
func Float(f float64) Value { return Value{Kind: KindFloat, Num: math.Float64bits(f)} }

// Decimal returns an exact decimal Value from its text.
func Decimal(s string) Value { return Value{Kind: KindDecimal, Str: s} }

// String returns a text Value.
func String(s string) Value { return Value{Kind: KindString, Str: s} }

// Bytes returns a binary Value.
func Bytes(b []byte) Value { return Value{Kind: KindBytes, Str: string(b)} }

// Interval returns an interval Value.
func Interval(micros int64, iso string) Value {
	return Value{Kind: KindInterval, Num: uint64(micros), Str: iso}
}

// Array returns an array Value.
func Array(elems []Value) Value { return Value{Kind: KindArray, arr: &elems} }

// Elems returns an array's elements (nil for other kinds).
func (v Value) Elems() []Value {
	if v.arr == nil {
		return nil
	}
	return *v.arr
}

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.Kind == KindNull }

// AsBool returns the boolean.
func (v Value) AsBool() bool { return v.Num != 0 }

// AsInt returns the integer.
func (v Value) AsInt() int64 { return int64(v.Num) }

// AsFloat returns the float.
func (v Value) AsFloat() float64 { return math.Float64frombits(v.Num) }

// Text renders v for messages and keys; not an encoding.
func (v Value) Text() string {
	switch v.Kind {
	case KindNull:
		return "NULL"
	case KindUnchanged:
		return "<unchanged>"
	case KindBool:
		return strconv.FormatBool(v.AsBool())
	case KindInt:
		return strconv.FormatInt(v.AsInt(), 10)
	case KindFloat:
		return strconv.FormatFloat(v.AsFloat(), 'g', -1, 64)
	case KindArray:
		s := "{"
		for i, e := range v.Elems() {
			if i > 0 {
				s += ","
			}
			s += e.Text()
		}
		return s + "}"
	}
	return v.Str
}

// Equal reports whether two values are identical.
func (v Value) Equal(o Value) bool {
	ve, oe := v.Elems(), o.Elems()
	if v.Kind != o.Kind || v.Num != o.Num || v.Str != o.Str || len(ve) != len(oe) {
		return false
	}
	for i := range ve {
		if !ve[i].Equal(oe[i]) {
			return false
		}
	}
	return true
}
