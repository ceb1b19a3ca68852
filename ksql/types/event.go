package types

import (
	"github.com/sluice-dev/sluice/event"
)

// FromColumn is the SQL type of a sluice column, as a stream or table
// declared without a column list sees it (ksqlDB infers it from the
// schema Debezium registered). ok is false for a column with no SQL type;
// such a column is left out, as ksqlDB leaves out a field whose type it
// cannot translate.
//
// Where Debezium's defaults would give a number for a temporal column
// (io.debezium.time.Date as INT, MicroTimestamp as BIGINT), sluice gives
// the SQL type, as Debezium does with time.precision.mode=connect — the
// setting ksqlDB's documentation recommends — so that FORMAT_TIMESTAMP and
// window bounds work on it; the values are the same in both (days,
// microseconds):
//
//	bool                          BOOLEAN
//	int16, int32                  INTEGER
//	int64                         BIGINT
//	float32, float64              DOUBLE
//	decimal(p, s), s >= 0         DECIMAL(p, s)
//	decimal(p, s), s < 0          DECIMAL(p - s, 0) (PostgreSQL 15's negative scale)
//	decimal without precision     STRING, the exact text (Debezium's decimal.handling.mode=string)
//	money                         DECIMAL(19, 2)
//	string, uuid, json, xml,      STRING
//	enum, inet, timetz, unknown
//	bytes                         BYTES
//	date                          DATE
//	time                          TIME
//	timestamp, timestamptz        TIMESTAMP (timestamptz in UTC)
//	interval                      BIGINT, microseconds (Debezium's MicroDuration)
//	array                         ARRAY of the element's type
//
// FromValue converts a column's values accordingly.
func FromColumn(c *event.Column) (t Type, ok bool) {
	switch c.Type {
	case event.TypeBool:
		return TBoolean, true
	case event.TypeInt16, event.TypeInt32:
		return TInteger, true
	case event.TypeInt64:
		return TBigint, true
	case event.TypeFloat32, event.TypeFloat64:
		return TDouble, true
	case event.TypeDecimal:
		switch {
		case c.Precision > 0 && c.Scale >= 0 && c.Scale <= c.Precision:
			return DecimalOf(c.Precision, c.Scale), true
		case c.Precision > 0 && c.Scale < 0:
			return DecimalOf(c.Precision-c.Scale, 0), true
		}
		return TString, true
	case event.TypeMoney:
		return DecimalOf(19, 2), true
	case event.TypeString, event.TypeUUID, event.TypeJSON, event.TypeXML, event.TypeEnum,
		event.TypeInet, event.TypeTimeTZ, event.TypeUnknown:
		return TString, true
	case event.TypeBytes:
		return TBytes, true
	case event.TypeDate:
		return TDate, true
	case event.TypeTime:
		return TTime, true
	case event.TypeTimestamp, event.TypeTimestampTZ:
		return TTimestamp, true
	case event.TypeInterval:
		return TBigint, true
	case event.TypeArray:
		elem := c.Elem
		if elem == nil {
			return ArrayOf(TString), true
		}
		e, ok := FromColumn(elem)
		if !ok {
			return Type{}, false
		}
		return ArrayOf(e), true
	}
	return Type{}, false
}

// FromValue converts a value of column c into the SQL value of
// FromColumn(c)'s type: an unconstrained decimal becomes its text, an
// interval its microseconds, array elements likewise; every other value
// is already in its SQL form and is returned as is (NULL and
// event.Unchanged included).
func FromValue(c *event.Column, v event.Value) event.Value {
	switch {
	case v.Kind == event.KindNull || v.Kind == event.KindUnchanged:
		return v
	case c.Type == event.TypeDecimal && !(c.Precision > 0) && v.Kind == event.KindDecimal:
		return event.String(v.Str)
	case c.Type == event.TypeInterval && v.Kind == event.KindInterval:
		return event.Int(int64(v.Num))
	case c.Type == event.TypeArray && c.Elem != nil && v.Kind == event.KindArray:
		elems := v.Elems()
		var out []event.Value
		for i, e := range elems {
			ce := FromValue(c.Elem, e)
			if out == nil && !ce.Equal(e) {
				out = make([]event.Value, len(elems))
				copy(out, elems[:i])
			}
			if out != nil {
				out[i] = ce
			}
		}
		if out != nil {
			return event.Array(out)
		}
	}
	return v
}

// ToColumn is the sluice column that carries a SQL column of a query's
// result (the inverse of FromColumn where one exists). MAP and STRUCT
// have no sluice type: they become JSON columns, whose values the
// producer renders as JSON text.
func ToColumn(f Field) event.Column {
	c := event.Column{Name: f.Name, Optional: true}
	switch f.Type.Base {
	case Boolean:
		c.Type = event.TypeBool
	case Integer:
		c.Type = event.TypeInt32
	case Bigint:
		c.Type = event.TypeInt64
	case Double:
		c.Type = event.TypeFloat64
	case Decimal:
		c.Type, c.Precision, c.Scale = event.TypeDecimal, f.Type.Precision, f.Type.Scale
	case String, Unknown:
		c.Type = event.TypeString
	case Bytes:
		c.Type = event.TypeBytes
	case Date:
		c.Type = event.TypeDate
	case Time:
		c.Type = event.TypeTime
	case Timestamp:
		c.Type = event.TypeTimestamp
	case Array:
		c.Type = event.TypeArray
		e := ToColumn(Field{Type: *f.Type.Elem})
		c.Elem = &e
	case Map, Struct:
		c.Type, c.TypeName = event.TypeJSON, "json"
	}
	c.TypeName = sqlTypeName(c.TypeName, f.Type)
	return c
}

func sqlTypeName(cur string, t Type) string {
	if cur != "" {
		return cur
	}
	return t.String()
}
