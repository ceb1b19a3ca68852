package format

import (
	"fmt"
	"strconv"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/civil"
)

// colKind is a column's Debezium encoding, resolved once per column from its
// event.Type and type modifiers (time.precision.mode=adaptive,
// decimal.handling.mode=precise, binary.handling.mode=bytes,
// interval.handling.mode=numeric).
type colKind uint8

const (
	kBool colKind = iota
	kInt16
	kInt32
	kInt64
	kFloat32
	kFloat64
	kDecimal    // org.apache.kafka.connect.data.Decimal (bytes)
	kVarDecimal // io.debezium.data.VariableScaleDecimal (struct)
	kString     // plain string; also inet and unknown types
	kBytes
	kUUID
	kJSON
	kXML
	kEnum
	kDate            // io.debezium.time.Date, int32 days
	kTimeMillis      // io.debezium.time.Time, int32 ms
	kTimeMicros      // io.debezium.time.MicroTime, int64 µs
	kTimeTZ          // io.debezium.time.ZonedTime, string
	kTimestampMillis // io.debezium.time.Timestamp, int64 ms
	kTimestampMicros // io.debezium.time.MicroTimestamp, int64 µs
	kTimestampTZ     // io.debezium.time.ZonedTimestamp, string
	kInterval        // io.debezium.time.MicroDuration, int64 µs
	kArray
	kBits         // io.debezium.data.Bits: little-endian bytes (MySQL BIT(n), n > 1)
	kUnsignedLong // int64 from unsigned 64-bit text, wrapping (MySQL BIGINT UNSIGNED)
)

// UnavailableValuePlaceholder is what Debezium writes, by default
// (unavailable.value.placeholder), for a PostgreSQL column whose value was
// not sent because it is an unchanged TOASTed value. The encoders write it
// where Debezium does so that consumers that know it keep working; sluice's
// own sinks see event.KindUnchanged instead and leave the stored value alone.
const UnavailableValuePlaceholder = "__debezium_unavailable_value"

// moneyScale is Debezium's money.fraction.digits default.
const moneyScale = 2

// colCodec encodes one column's values and describes its Connect schema.
type colCodec struct {
	name  string
	kind  colKind
	scale int       // kDecimal
	width int       // kTimestampTZ fraction digits (0: as few as needed); kBits byte count
	elem  *colCodec // kArray
	// schema is the column's JsonConverter schema without its closing brace
	// (so that a struct field can append ,"field":"name").
	schema []byte
	// dflt is the encoded default value, nil when the column has none.
	dflt []byte
	// key is `"name":`, the column's member name in a payload object;
	// sepKey is `,"name":`, the same after another member.
	key, sepKey []byte
}

// fracPrecision is the fractional-second precision of a temporal column:
// Column.Precision when the source set it, else PostgreSQL's default 6.
func fracPrecision(c *event.Column) int {
	if c.Precision > 0 && c.Precision <= 6 {
		return c.Precision
	}
	return 6
}

// newColCodec resolves col. element is true for an array's element type,
// whose schema Debezium marks optional regardless of the column.
func newColCodec(col *event.Column, element bool, parent *event.Column) *colCodec {
	c := &colCodec{name: col.Name}
	if parent != nil {
		c.name = parent.Name
	}
	optional := col.Optional || element
	var typ, name, params string
	version := false
	switch col.Type {
	case event.TypeBool:
		c.kind, typ = kBool, "boolean"
	case event.TypeInt16:
		c.kind, typ = kInt16, "int16"
	case event.TypeInt32:
		c.kind, typ = kInt32, "int32"
	case event.TypeInt64:
		c.kind, typ = kInt64, "int64"
	case event.TypeFloat32:
		c.kind, typ = kFloat32, "float"
	case event.TypeFloat64:
		c.kind, typ = kFloat64, "double"
	case event.TypeDecimal:
		prec, scale := col.Precision, col.Scale
		if parent != nil && prec == 0 && scale == 0 {
			prec, scale = parent.Precision, parent.Scale
		}
		if scale < 0 {
			c.kind = kVarDecimal
		} else {
			c.kind, typ, c.scale = kDecimal, "bytes", scale
			name, version = "org.apache.kafka.connect.data.Decimal", true
			params = `{"scale":"` + strconv.Itoa(scale) + `"`
			if prec > 0 {
				params += `,"connect.decimal.precision":"` + strconv.Itoa(prec) + `"`
			}
			params += "}"
		}
	case event.TypeMoney:
		c.kind, typ, c.scale = kDecimal, "bytes", moneyScale
		name, version = "org.apache.kafka.connect.data.Decimal", true
		params = `{"scale":"` + strconv.Itoa(moneyScale) + `"}`
	case event.TypeBytes:
		c.kind, typ = kBytes, "bytes"
	case event.TypeUUID:
		c.kind, typ, name, version = kUUID, "string", "io.debezium.data.Uuid", true
	case event.TypeJSON:
		c.kind, typ, name, version = kJSON, "string", "io.debezium.data.Json", true
	case event.TypeXML:
		c.kind, typ, name, version = kXML, "string", "io.debezium.data.Xml", true
	case event.TypeEnum:
		c.kind, typ, name, version = kEnum, "string", "io.debezium.data.Enum", true
		params = allowedParam(col.EnumValues)
		// Debezium builds enum array elements without .optional().
		optional = col.Optional
	case event.TypeDate:
		c.kind, typ, name, version = kDate, "int32", "io.debezium.time.Date", true
	case event.TypeTime:
		if fracPrecision(col) <= 3 {
			c.kind, typ, name = kTimeMillis, "int32", "io.debezium.time.Time"
		} else {
			c.kind, typ, name = kTimeMicros, "int64", "io.debezium.time.MicroTime"
		}
		version = true
	case event.TypeTimeTZ:
		c.kind, typ, name, version = kTimeTZ, "string", "io.debezium.time.ZonedTime", true
	case event.TypeTimestamp:
		if fracPrecision(col) <= 3 {
			c.kind, typ, name = kTimestampMillis, "int64", "io.debezium.time.Timestamp"
		} else {
			c.kind, typ, name = kTimestampMicros, "int64", "io.debezium.time.MicroTimestamp"
		}
		version = true
	case event.TypeTimestampTZ:
		c.kind, typ, name, version = kTimestampTZ, "string", "io.debezium.time.ZonedTimestamp", true
		c.width = fracPrecision(col)
	case event.TypeInterval:
		c.kind, typ, name, version = kInterval, "int64", "io.debezium.time.MicroDuration", true
	case event.TypeArray:
		c.kind = kArray
		elem := col.Elem
		if elem == nil {
			elem = &event.Column{Type: event.TypeString}
		}
		c.elem = newColCodec(elem, true, col)
	default: // TypeString, TypeInet, TypeUnknown and anything newer
		c.kind, typ = kString, "string"
	}

	c.finish(col, element, optional, connectType{typ: typ, name: name, params: params, version: version})
	return c
}

// allowedParam is the "allowed" parameter of Debezium's Enum and EnumSet
// schemas: the labels joined by commas, as Debezium joins them.
func allowedParam(labels []string) string {
	allowed := make([]byte, 0, 64)
	for i, v := range labels {
		if i > 0 {
			allowed = append(allowed, ',')
		}
		allowed = append(allowed, v...)
	}
	return `{"allowed":` + string(appendString(nil, string(allowed))) + "}"
}

// connectType is a column's Connect schema type: the literal type, the
// semantic name and its parameters (a JSON object), and whether the schema
// carries version 1.
type connectType struct {
	typ, name, params string
	version           bool
}

// finish builds the column's schema JSON (with its default, if any) and its
// member key once c.kind and its type parameters are set.
func (c *colCodec) finish(col *event.Column, element, optional bool, t connectType) {
	typ, name, params, version := t.typ, t.name, t.params, t.version
	s := make([]byte, 0, 128)
	switch c.kind {
	case kVarDecimal:
		s = append(s, `{"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}],"optional":`...)
		s = strconv.AppendBool(s, optional)
		s = append(s, `,"name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal"`...)
	case kArray:
		s = append(s, `{"type":"array","items":`...)
		s = append(s, c.elem.schema...)
		s = append(s, `},"optional":`...)
		s = strconv.AppendBool(s, optional)
	default:
		s = append(s, `{"type":"`...)
		s = append(s, typ...)
		s = append(s, `","optional":`...)
		s = strconv.AppendBool(s, optional)
		if name != "" {
			s = append(s, `,"name":"`...)
			s = append(s, name...)
			s = append(s, '"')
		}
		if version {
			s = append(s, `,"version":1`...)
		}
		if params != "" {
			s = append(s, `,"parameters":`...)
			s = append(s, params...)
		}
	}
	if !element && col.HasDefault && col.Default.Kind != event.KindNull && col.Default.Kind != event.KindUnchanged {
		// A default Debezium could not convert is left out, as Debezium
		// leaves out defaults it cannot parse.
		if d, err := c.appendValue(nil, &col.Default); err == nil {
			c.dflt = d
			s = append(s, `,"default":`...)
			s = append(s, d...)
		}
	}
	c.schema = s
	c.sepKey = append(make([]byte, 0, len(col.Name)+4), ',')
	c.sepKey = appendString(c.sepKey, col.Name)
	c.sepKey = append(c.sepKey, ':')
	c.key = c.sepKey[1:]
}

// appendFieldSchema appends the column's schema as a struct field.
func (c *colCodec) appendFieldSchema(dst []byte) []byte {
	dst = append(dst, c.schema...)
	dst = append(dst, `,"field":`...)
	dst = appendString(dst, c.name)
	return append(dst, '}')
}

// valueError names the column and what was wrong with its value; it never
// includes the value itself, which may be sensitive.
func (c *colCodec) valueError(what string) error {
	return fmt.Errorf("column %q: %s", c.name, what)
}

func (c *colCodec) kindError(v event.Value) error {
	k := "unknown"
	if int(v.Kind) < len(valueKindNames) {
		k = valueKindNames[v.Kind]
	}
	return c.valueError(fmt.Sprintf("%s value does not fit the column's %s encoding", k, c.kindName()))
}

var valueKindNames = [...]string{
	event.KindNull: "null", event.KindUnchanged: "unchanged", event.KindBool: "bool", event.KindInt: "int",
	event.KindFloat: "float", event.KindDecimal: "decimal", event.KindString: "string", event.KindBytes: "bytes",
	event.KindInterval: "interval", event.KindArray: "array",
}

func (c *colCodec) kindName() string {
	switch c.kind {
	case kBool:
		return "boolean"
	case kInt16, kInt32, kInt64:
		return "integer"
	case kFloat32, kFloat64:
		return "floating-point"
	case kDecimal, kVarDecimal:
		return "decimal"
	case kBytes, kBits:
		return "bytes"
	case kUnsignedLong:
		return "integer"
	case kArray:
		return "array"
	case kDate, kTimeMillis, kTimeMicros, kTimestampMillis, kTimestampMicros, kTimestampTZ:
		return "temporal"
	case kInterval:
		return "interval"
	}
	return "string"
}

// appendValue appends v as JsonConverter writes the column's Connect value.
// NULL is written as null; replacing it by the column default is the
// caller's business (it applies to struct fields, not array elements).
func (c *colCodec) appendValue(dst []byte, v *event.Value) ([]byte, error) {
	switch v.Kind {
	case event.KindNull:
		return append(dst, "null"...), nil
	case event.KindUnchanged:
		return c.appendUnavailable(dst, *v)
	}
	switch c.kind {
	case kBool:
		if v.Kind != event.KindBool {
			return dst, c.kindError(*v)
		}
		return strconv.AppendBool(dst, v.AsBool()), nil
	case kInt16, kInt32, kInt64, kDate:
		if v.Kind != event.KindInt {
			return dst, c.kindError(*v)
		}
		return strconv.AppendInt(dst, v.AsInt(), 10), nil
	case kFloat32, kFloat64:
		switch v.Kind {
		case event.KindFloat:
			bits := 64
			if c.kind == kFloat32 {
				bits = 32
			}
			return appendJavaFloat(dst, v.AsFloat(), bits), nil
		case event.KindInt:
			return appendJavaFloat(dst, float64(v.AsInt()), 64), nil
		}
		return dst, c.kindError(*v)
	case kDecimal:
		return c.appendDecimal(dst, *v)
	case kVarDecimal:
		return c.appendVarDecimal(dst, *v)
	case kBytes:
		if v.Kind != event.KindBytes && v.Kind != event.KindString {
			return dst, c.kindError(*v)
		}
		return appendBase64(dst, v.Str), nil
	case kString, kUUID, kJSON, kXML, kEnum:
		switch v.Kind {
		case event.KindString, event.KindDecimal, event.KindBytes:
			return appendString(dst, v.Str), nil
		}
		return dst, c.kindError(*v)
	case kTimeMillis:
		if v.Kind != event.KindInt {
			return dst, c.kindError(*v)
		}
		return strconv.AppendInt(dst, civil.FloorDiv(v.AsInt(), 1000), 10), nil
	case kTimeMicros, kTimestampMicros:
		if v.Kind != event.KindInt {
			return dst, c.kindError(*v)
		}
		return strconv.AppendInt(dst, v.AsInt(), 10), nil
	case kTimestampMillis:
		if v.Kind != event.KindInt {
			return dst, c.kindError(*v)
		}
		return strconv.AppendInt(dst, civil.FloorDiv(v.AsInt(), 1000), 10), nil
	case kTimeTZ:
		if v.Kind != event.KindString {
			return dst, c.kindError(*v)
		}
		return appendZonedTime(dst, v.Str), nil
	case kTimestampTZ:
		switch v.Kind {
		case event.KindInt:
			return appendZonedTimestamp(dst, v.AsInt(), c.width), nil
		case event.KindString: // "infinity", "-infinity", as Debezium passes them
			return appendString(dst, v.Str), nil
		}
		return dst, c.kindError(*v)
	case kInterval:
		if v.Kind != event.KindInterval && v.Kind != event.KindInt {
			return dst, c.kindError(*v)
		}
		return strconv.AppendInt(dst, v.AsInt(), 10), nil
	case kArray:
		if v.Kind != event.KindArray {
			return dst, c.kindError(*v)
		}
		return c.appendArray(dst, v.Elems(), 0)
	case kBits:
		if v.Kind != event.KindBytes && v.Kind != event.KindString {
			return dst, c.kindError(*v)
		}
		return appendBits(dst, v.Str, c.width), nil
	case kUnsignedLong:
		return c.appendUnsignedLong(dst, *v)
	}
	return dst, c.kindError(*v)
}

// maxArrayDepth bounds nested arrays (PostgreSQL allows 6 dimensions).
const maxArrayDepth = 32

// appendArray writes elements with the element encoding; elements that are
// arrays themselves (multi-dimensional PostgreSQL arrays) nest.
func (c *colCodec) appendArray(dst []byte, elems []event.Value, depth int) ([]byte, error) {
	if depth > maxArrayDepth {
		return dst, c.valueError("array nests too deep")
	}
	dst = append(dst, '[')
	for i := range elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		e := &elems[i]
		var err error
		if e.Kind == event.KindArray && c.elem.kind != kArray {
			dst, err = c.appendArray(dst, e.Elems(), depth+1)
		} else {
			dst, err = c.elem.appendValue(dst, e)
		}
		if err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

func (c *colCodec) appendDecimal(dst []byte, v event.Value) ([]byte, error) {
	if v.Kind != event.KindDecimal && v.Kind != event.KindString {
		if v.Kind == event.KindInt {
			var buf [24]byte
			return c.appendDecimalText(dst, v, string(strconv.AppendInt(buf[:0], v.AsInt(), 10)))
		}
		return dst, c.kindError(v)
	}
	return c.appendDecimalText(dst, v, v.Str)
}

func (c *colCodec) appendDecimalText(dst []byte, v event.Value, text string) ([]byte, error) {
	var buf [40]byte
	neg, digits, scale, err := parseDecimal(text, buf[:0])
	if err == nil {
		digits, err = rescale(digits, scale, c.scale)
	}
	if err != nil {
		return dst, c.valueError("decimal " + err.Error())
	}
	return appendUnscaled(dst, neg, digits), nil
}

func (c *colCodec) appendVarDecimal(dst []byte, v event.Value) ([]byte, error) {
	if v.Kind != event.KindDecimal && v.Kind != event.KindString {
		return dst, c.kindError(v)
	}
	var buf [40]byte
	neg, digits, scale, err := parseDecimal(v.Str, buf[:0])
	if err == nil {
		digits, scale, err = stripScale(digits, scale)
	}
	if err != nil {
		return dst, c.valueError("decimal " + err.Error())
	}
	dst = append(dst, `{"scale":`...)
	dst = strconv.AppendInt(dst, int64(scale), 10)
	dst = append(dst, `,"value":`...)
	dst = appendUnscaled(dst, neg, digits)
	return append(dst, '}'), nil
}

// appendUnavailable writes Debezium's placeholder for an unchanged TOAST
// value: the placeholder string for string-typed columns, its UTF-8 bytes for
// binary ones, and for arrays what Debezium's UnchangedToastedPlaceholder
// holds: the bytes as numbers for integer and date arrays, a one-element
// string array otherwise.
func (c *colCodec) appendUnavailable(dst []byte, v event.Value) ([]byte, error) {
	switch c.kind {
	case kString, kUUID, kJSON, kXML, kEnum, kTimeTZ, kTimestampTZ:
		return appendString(dst, UnavailableValuePlaceholder), nil
	case kBytes:
		return appendBase64(dst, UnavailableValuePlaceholder), nil
	case kArray:
		switch c.elem.kind {
		case kInt16, kInt32, kInt64, kDate:
			dst = append(dst, '[')
			for i := 0; i < len(UnavailableValuePlaceholder); i++ {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = strconv.AppendInt(dst, int64(UnavailableValuePlaceholder[i]), 10)
			}
			return append(dst, ']'), nil
		}
		dst = append(dst, '[')
		dst = appendString(dst, UnavailableValuePlaceholder)
		return append(dst, ']'), nil
	}
	return dst, c.valueError("an unchanged TOAST value has no Debezium representation for this type")
}
