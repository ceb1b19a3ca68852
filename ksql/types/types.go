// Package types is the type system of sluice's streaming SQL (ksqlDB's
// dialect): the SQL types, how each holds its values in an event.Value,
// how sluice's column types map to SQL types and back, and the binary
// encodings of values kept in operator state.
//
// # Values
//
// A SQL value is an event.Value, so rows pass between sources, operators
// and sinks without conversion:
//
//	BOOLEAN            KindBool
//	INTEGER, BIGINT    KindInt
//	DOUBLE             KindFloat
//	DECIMAL(p, s)      KindDecimal (exact text)
//	STRING             KindString
//	BYTES              KindBytes
//	DATE               KindInt: days since 1970-01-01
//	TIME               KindInt: microseconds since midnight
//	TIMESTAMP          KindInt: microseconds since 1970-01-01 UTC
//	ARRAY<T>           KindArray of T
//	MAP<K, V>          KindArray of alternating keys and values (k1, v1, k2, v2 …), in insertion order
//	STRUCT<f T, …>     KindArray of the fields' values, in declaration order
//	NULL of any type   KindNull
//
// Times are microseconds where ksqlDB has milliseconds: sluice's sources
// carry microseconds, and a millisecond value is exact in them.
package types

import (
	"fmt"
	"strings"
)

// Base is a type's kind.
type Base uint8

// The SQL types.
const (
	Unknown Base = iota // the type of NULL before inference
	Boolean
	Integer // 32-bit
	Bigint  // 64-bit
	Double
	Decimal // Precision, Scale
	String
	Bytes
	Date
	Time
	Timestamp
	Array  // Elem
	Map    // Key, Elem
	Struct // Fields
)

var baseNames = [...]string{"NULL", "BOOLEAN", "INTEGER", "BIGINT", "DOUBLE", "DECIMAL", "STRING", "BYTES", "DATE", "TIME", "TIMESTAMP", "ARRAY", "MAP", "STRUCT"}

func (b Base) String() string {
	if int(b) < len(baseNames) {
		return baseNames[b]
	}
	return fmt.Sprintf("Base(%d)", b)
}

// Type is a SQL type. Types are values; compare them with Equal.
type Type struct {
	Base      Base
	Precision int     // DECIMAL
	Scale     int     // DECIMAL
	Elem      *Type   // ARRAY element, MAP value
	Key       *Type   // MAP key (ksqlDB: always STRING)
	Fields    []Field // STRUCT
}

// Field is a named, typed column of a row or a STRUCT.
type Field struct {
	Name string // as ksqlDB shows it: upper-cased unless it was quoted
	Type Type
}

// Convenience values for the scalar types.
var (
	TBoolean   = Type{Base: Boolean}
	TInteger   = Type{Base: Integer}
	TBigint    = Type{Base: Bigint}
	TDouble    = Type{Base: Double}
	TString    = Type{Base: String}
	TBytes     = Type{Base: Bytes}
	TDate      = Type{Base: Date}
	TTime      = Type{Base: Time}
	TTimestamp = Type{Base: Timestamp}
)

// DecimalOf returns DECIMAL(p, s).
func DecimalOf(p, s int) Type { return Type{Base: Decimal, Precision: p, Scale: s} }

// ArrayOf returns ARRAY<t>.
func ArrayOf(t Type) Type { return Type{Base: Array, Elem: &t} }

// MapOf returns MAP<k, v>.
func MapOf(k, v Type) Type { return Type{Base: Map, Key: &k, Elem: &v} }

// StructOf returns STRUCT<fields>.
func StructOf(fields ...Field) Type { return Type{Base: Struct, Fields: fields} }

// Equal reports whether t and o are the same type.
func (t Type) Equal(o Type) bool {
	if t.Base != o.Base || t.Precision != o.Precision || t.Scale != o.Scale || len(t.Fields) != len(o.Fields) {
		return false
	}
	if (t.Elem == nil) != (o.Elem == nil) || (t.Key == nil) != (o.Key == nil) {
		return false
	}
	if t.Elem != nil && !t.Elem.Equal(*o.Elem) || t.Key != nil && !t.Key.Equal(*o.Key) {
		return false
	}
	for i := range t.Fields {
		if t.Fields[i].Name != o.Fields[i].Name || !t.Fields[i].Type.Equal(o.Fields[i].Type) {
			return false
		}
	}
	return true
}

// IsNumeric reports whether t is INTEGER, BIGINT, DOUBLE or DECIMAL.
func (t Type) IsNumeric() bool {
	return t.Base == Integer || t.Base == Bigint || t.Base == Double || t.Base == Decimal
}

// String spells t as ksqlDB does: DECIMAL(10, 2), ARRAY<STRING>,
// MAP<STRING, INTEGER>, STRUCT<`A` INTEGER, `B` STRING>.
func (t Type) String() string {
	switch t.Base {
	case Decimal:
		return fmt.Sprintf("DECIMAL(%d, %d)", t.Precision, t.Scale)
	case Array:
		return "ARRAY<" + t.Elem.String() + ">"
	case Map:
		return "MAP<" + t.Key.String() + ", " + t.Elem.String() + ">"
	case Struct:
		parts := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			parts[i] = "`" + f.Name + "` " + f.Type.String()
		}
		return "STRUCT<" + strings.Join(parts, ", ") + ">"
	}
	return t.Base.String()
}

// Schema is the shape of a row: its columns in order, and which of them
// form the key (ksqlDB's KEY / PRIMARY KEY columns), by index.
type Schema struct {
	Columns []Field
	Key     []int
}

// Index returns the index of the named column, or -1.
func (s *Schema) Index(name string) int {
	for i := range s.Columns {
		if s.Columns[i].Name == name {
			return i
		}
	}
	return -1
}
