package expr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/types"

	"github.com/sluice-dev/sluice/event"
)

// The Go types expressions see; see the package doc for the mapping.
var (
	typeBool     = reflect.TypeOf(false)
	typeInt      = reflect.TypeOf(int64(0))
	typeFloat    = reflect.TypeOf(float64(0))
	typeDecimal  = reflect.TypeOf(Decimal{})
	typeString   = reflect.TypeOf("")
	typeBytes    = reflect.TypeOf([]byte(nil))
	typeTime     = reflect.TypeOf(time.Time{})
	typeDuration = reflect.TypeOf(time.Duration(0))
	typeArray    = reflect.TypeOf([]any(nil))
)

// GoType returns the Go type an expression sees for column c, or nil for
// JSON columns, whose values have no static type (objects, arrays, strings,
// numbers, booleans).
func GoType(c *event.Column) reflect.Type {
	switch c.Type {
	case event.TypeBool:
		return typeBool
	case event.TypeInt16, event.TypeInt32, event.TypeInt64:
		return typeInt
	case event.TypeFloat32, event.TypeFloat64:
		return typeFloat
	case event.TypeDecimal, event.TypeMoney:
		return typeDecimal
	case event.TypeBytes:
		return typeBytes
	case event.TypeJSON:
		return nil
	case event.TypeDate, event.TypeTime, event.TypeTimeTZ, event.TypeTimestamp, event.TypeTimestampTZ:
		return typeTime
	case event.TypeInterval:
		return typeDuration
	case event.TypeArray:
		return typeArray
	}
	return typeString // string, uuid, enum, xml, inet, unknown
}

// exprType is GoType as the checker takes it.
func exprType(c *event.Column) types.Type {
	t := GoType(c)
	if t == nil {
		return types.Any
	}
	return types.TypeOf(reflect.Zero(t).Interface())
}

// errUnchanged is returned for an unchanged TOAST value: an expression must
// not see a value the source did not send.
var errUnchanged = errors.New("is an unchanged TOAST value the source did not send (PostgreSQL omits large values an UPDATE did not change), so no expression can read it")

// clockZero is the date of time-of-day values: Go's own convention for a
// parsed clock time (time.Parse("15:04", ...)), so date("09:30", "15:04")
// compares with a time column.
var clockZero = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)

const microsPerDay = 86_400_000_000

// ToGo converts a column's value to what an expression sees: nil for NULL,
// an error for an unchanged TOAST value or a value whose kind does not fit
// the column's type. Error texts never include the value.
func ToGo(c *event.Column, v event.Value) (any, error) {
	switch v.Kind {
	case event.KindNull:
		return nil, nil
	case event.KindUnchanged:
		return nil, errUnchanged
	}
	switch c.Type {
	case event.TypeBool:
		if v.Kind == event.KindBool {
			return v.AsBool(), nil
		}
	case event.TypeInt16, event.TypeInt32, event.TypeInt64:
		if v.Kind == event.KindInt {
			return v.AsInt(), nil
		}
	case event.TypeFloat32, event.TypeFloat64:
		if v.Kind == event.KindFloat {
			return v.AsFloat(), nil
		}
	case event.TypeDecimal, event.TypeMoney:
		switch v.Kind {
		case event.KindDecimal, event.KindString:
			d, err := ParseDecimal(v.Str)
			if err != nil {
				return nil, fmt.Errorf("holds a value that is %v", err)
			}
			return d, nil
		case event.KindInt:
			return DecimalFromInt(v.AsInt()), nil
		}
	case event.TypeBytes:
		if v.Kind == event.KindBytes || v.Kind == event.KindString {
			return []byte(v.Str), nil
		}
	case event.TypeJSON:
		if v.Kind == event.KindString {
			return parseJSON(v.Str)
		}
	case event.TypeDate:
		if v.Kind == event.KindInt {
			return time.Unix(v.AsInt()*86400, 0).UTC(), nil
		}
		return nil, errSpecialTime(v)
	case event.TypeTime:
		if v.Kind == event.KindInt {
			return clockZero.Add(time.Duration(v.AsInt()) * time.Microsecond), nil
		}
		return nil, errSpecialTime(v)
	case event.TypeTimeTZ:
		if v.Kind == event.KindString {
			return parseTimeTZ(v.Str)
		}
	case event.TypeTimestamp, event.TypeTimestampTZ:
		if v.Kind == event.KindInt {
			return time.UnixMicro(v.AsInt()).UTC(), nil
		}
		return nil, errSpecialTime(v)
	case event.TypeInterval:
		if v.Kind == event.KindInterval || v.Kind == event.KindInt {
			us := v.AsInt()
			if us > math.MaxInt64/1000 || us < math.MinInt64/1000 {
				return nil, errors.New("holds an interval beyond ±292 years, which an expression cannot hold")
			}
			return time.Duration(us) * time.Microsecond, nil
		}
	case event.TypeArray:
		if v.Kind == event.KindArray {
			return arrayToGo(c, v.Elems())
		}
	default: // string, uuid, enum, xml, inet, unknown
		if v.Kind == event.KindString {
			return v.Str, nil
		}
	}
	return nil, fmt.Errorf("holds a %s value where its type %s expects %s (a bug in the source)", kindName(v.Kind), c.Type, kindName(kindOf(c.Type)))
}

func errSpecialTime(v event.Value) error {
	if v.Kind == event.KindString {
		return errors.New("holds a special time (infinity or a zero date) that no expression can use")
	}
	return fmt.Errorf("holds a %s value where a time is expected (a bug in the source)", kindName(v.Kind))
}

func arrayToGo(c *event.Column, elems []event.Value) (any, error) {
	elem := c.Elem
	if elem == nil {
		elem = &event.Column{Type: event.TypeString}
	}
	out := make([]any, len(elems))
	for i, e := range elems {
		var err error
		if e.Kind == event.KindArray { // a dimension of a multi-dimensional array
			out[i], err = arrayToGo(c, e.Elems())
		} else {
			out[i], err = ToGo(elem, e)
		}
		if err != nil {
			return nil, fmt.Errorf("element %d %w", i, err)
		}
	}
	return out, nil
}

// parseJSON decodes JSON text into maps, slices, strings, bools, nil and
// numbers: int64 when the number is an integer that fits, else float64.
func parseJSON(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, errors.New("holds text that is not valid JSON")
	}
	if d.More() {
		return nil, errors.New("holds text that is not one JSON value")
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

// parseTimeTZ parses "HH:MM:SS[.ffffff]" followed by Z or ±HH[:MM[:SS]].
func parseTimeTZ(s string) (any, error) {
	end := 8
	if len(s) < end || s[2] != ':' || s[5] != ':' {
		return nil, errors.New("holds text that is not a time with zone")
	}
	if len(s) > 8 && s[8] == '.' {
		end = 9
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
	}
	zone := s[end:]
	loc := time.UTC
	if zone != "Z" && zone != "" {
		off, ok := parseOffset(zone)
		if !ok {
			return nil, errors.New("holds a time with a zone offset that cannot be read")
		}
		if off != 0 {
			loc = time.FixedZone("", off)
		}
	}
	t, err := time.ParseInLocation("15:04:05.999999999", s[:end], loc)
	if err != nil {
		return nil, errors.New("holds text that is not a time with zone")
	}
	return t, nil
}

func parseOffset(z string) (int, bool) {
	if len(z) < 3 || (z[0] != '+' && z[0] != '-') {
		return 0, false
	}
	sign := 1
	if z[0] == '-' {
		sign = -1
	}
	parts := strings.Split(z[1:], ":")
	if len(parts) == 1 && len(parts[0]) == 4 { // +0530
		parts = []string{parts[0][:2], parts[0][2:]}
	}
	secs := 0
	mult := 3600
	for i, p := range parts {
		if i > 2 || len(p) != 2 {
			return 0, false
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, false
		}
		secs += n * mult
		mult /= 60
	}
	return sign * secs, true
}

func kindOf(t event.Type) event.Kind {
	switch t {
	case event.TypeBool:
		return event.KindBool
	case event.TypeInt16, event.TypeInt32, event.TypeInt64, event.TypeDate, event.TypeTime, event.TypeTimestamp, event.TypeTimestampTZ:
		return event.KindInt
	case event.TypeFloat32, event.TypeFloat64:
		return event.KindFloat
	case event.TypeDecimal, event.TypeMoney:
		return event.KindDecimal
	case event.TypeBytes:
		return event.KindBytes
	case event.TypeInterval:
		return event.KindInterval
	case event.TypeArray:
		return event.KindArray
	}
	return event.KindString
}

func kindName(k event.Kind) string {
	switch k {
	case event.KindNull:
		return "NULL"
	case event.KindUnchanged:
		return "unchanged"
	case event.KindBool:
		return "bool"
	case event.KindInt:
		return "int"
	case event.KindFloat:
		return "float"
	case event.KindDecimal:
		return "decimal"
	case event.KindString:
		return "string"
	case event.KindBytes:
		return "bytes"
	case event.KindInterval:
		return "interval"
	case event.KindArray:
		return "array"
	}
	return "unknown"
}

// typeName names a Go type in messages the way expressions spell it.
func typeName(t reflect.Type) string {
	switch t {
	case nil:
		return "any"
	case typeDecimal:
		return "decimal"
	case typeTime:
		return "time"
	case typeDuration:
		return "duration"
	case typeBytes:
		return "bytes"
	case typeArray:
		return "array"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Map:
		return "map"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return t.String()
}

// Result typing and conversion back to event values (for processors that
// write expression results into rows).

// ColumnFor describes a new column named name that holds results of Go type
// t (nil when the checker cannot tell, e.g. a value read from JSON): bool,
// int8 (bigint), float8, numeric (any scale), text, bytea, timestamptz,
// interval, or jsonb for everything else (maps, arrays, unknown types). New
// columns are optional (nullable).
func ColumnFor(name string, t reflect.Type) event.Column {
	c := event.Column{Name: name, Optional: true}
	switch {
	case t == typeDecimal:
		c.Type, c.TypeName, c.Scale = event.TypeDecimal, "numeric", -1
	case t == typeTime:
		c.Type, c.TypeName = event.TypeTimestampTZ, "timestamptz"
	case t == typeDuration:
		c.Type, c.TypeName = event.TypeInterval, "interval"
	case t == typeBytes:
		c.Type, c.TypeName = event.TypeBytes, "bytea"
	case t == nil:
		c.Type, c.TypeName = event.TypeJSON, "jsonb"
	default:
		switch t.Kind() {
		case reflect.Bool:
			c.Type, c.TypeName = event.TypeBool, "bool"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			c.Type, c.TypeName = event.TypeInt64, "int8"
		case reflect.Float32, reflect.Float64:
			c.Type, c.TypeName = event.TypeFloat64, "float8"
		case reflect.String:
			c.Type, c.TypeName = event.TypeString, "text"
		default:
			c.Type, c.TypeName = event.TypeJSON, "jsonb"
		}
	}
	return c
}

// Fits reports whether results of static Go type t can be stored in column
// c without changing its definition: the same kind of value, or an integer
// into a decimal or float column. A nil t (not known before running) fits
// every column; each value is then checked by ToValue.
func Fits(c *event.Column, t reflect.Type) bool {
	if t == nil {
		return true
	}
	want := GoType(c)
	switch {
	case want == nil: // JSON takes maps, arrays and numbers, not text
		return t.Kind() == reflect.Map || t.Kind() == reflect.Slice && t != typeBytes || isInt(t) || isFloat(t) || t.Kind() == reflect.Bool
	case want == t:
		return true
	case want == typeInt:
		return isInt(t)
	case want == typeDecimal, want == typeFloat:
		return isInt(t) || (want == typeFloat && isFloat(t))
	case want == typeString:
		return t.Kind() == reflect.String
	case want == typeArray:
		return t.Kind() == reflect.Slice && t != typeBytes
	}
	return false
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func isFloat(t reflect.Type) bool { return t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64 }

// ToValue converts an expression's result x to a value of column c: nil is
// NULL; otherwise x must be of a kind the column holds (see Fits), within
// its range (int16/int32, a decimal's precision and scale, a float32). The
// error names the problem, never the value.
func ToValue(c *event.Column, x any) (event.Value, error) {
	if x == nil {
		return event.Null, nil
	}
	switch c.Type {
	case event.TypeBool:
		if b, ok := x.(bool); ok {
			return event.Bool(b), nil
		}
	case event.TypeInt16, event.TypeInt32, event.TypeInt64:
		if i, ok := toInt64(x); ok {
			lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
			switch c.Type {
			case event.TypeInt16:
				lo, hi = math.MinInt16, math.MaxInt16
			case event.TypeInt32:
				lo, hi = math.MinInt32, math.MaxInt32
			}
			if i < lo || i > hi {
				return event.Null, fmt.Errorf("the result is out of the range of %s", c.Type)
			}
			return event.Int(i), nil
		}
	case event.TypeFloat32, event.TypeFloat64:
		f, ok := x.(float64)
		if !ok {
			if f32, ok32 := x.(float32); ok32 {
				f, ok = float64(f32), true
			} else if i, okInt := toInt64(x); okInt {
				f, ok = float64(i), true
			}
		}
		if ok {
			if c.Type == event.TypeFloat32 {
				f = float64(float32(f))
			}
			return event.Float(f), nil
		}
	case event.TypeDecimal, event.TypeMoney:
		d, ok := x.(Decimal)
		if !ok {
			if i, okInt := toInt64(x); okInt {
				d, ok = DecimalFromInt(i), true
			}
		}
		if ok {
			return decimalValue(c, d)
		}
	case event.TypeBytes:
		if b, ok := x.([]byte); ok {
			return event.Bytes(b), nil
		}
	case event.TypeJSON:
		if _, isString := x.(string); !isString {
			b, err := json.Marshal(x)
			if err != nil {
				return event.Null, fmt.Errorf("the result cannot be written as JSON: %v", err)
			}
			return event.String(string(b)), nil
		}
	case event.TypeDate, event.TypeTime, event.TypeTimeTZ, event.TypeTimestamp, event.TypeTimestampTZ:
		if t, ok := x.(time.Time); ok {
			return timeValue(c.Type, t), nil
		}
	case event.TypeInterval:
		if d, ok := x.(time.Duration); ok {
			us := d.Microseconds()
			return event.Interval(us, isoDuration(us)), nil
		}
	case event.TypeArray:
		if a, ok := x.([]any); ok {
			elem := c.Elem
			if elem == nil {
				elem = &event.Column{Type: event.TypeString}
			}
			out := make([]event.Value, len(a))
			for i, e := range a {
				v, err := ToValue(elem, e)
				if err != nil {
					return event.Null, fmt.Errorf("element %d: %w", i, err)
				}
				out[i] = v
			}
			return event.Array(out), nil
		}
	default: // string, uuid, enum, xml, inet, unknown
		if s, ok := x.(string); ok {
			return event.String(s), nil
		}
	}
	return event.Null, fmt.Errorf("the result is %s, which a %s column cannot hold", typeName(reflect.TypeOf(x)), c.Type)
}

func toInt64(x any) (int64, bool) {
	switch i := x.(type) {
	case int:
		return int64(i), true
	case int64:
		return i, true
	case int32:
		return int64(i), true
	case int16:
		return int64(i), true
	case int8:
		return int64(i), true
	case uint8:
		return int64(i), true
	case uint16:
		return int64(i), true
	case uint32:
		return int64(i), true
	case uint:
		if uint64(i) <= math.MaxInt64 {
			return int64(i), true
		}
	case uint64:
		if i <= math.MaxInt64 {
			return int64(i), true
		}
	}
	return 0, false
}

// decimalValue checks d against the column's precision and scale: trailing
// zeros beyond the scale are fine (encoders drop them), other digits are an
// error rather than a silent rounding.
func decimalValue(c *event.Column, d Decimal) (event.Value, error) {
	if !d.IsFinite() {
		if c.Type == event.TypeMoney || c.Precision > 0 && c.Scale >= 0 {
			return event.Null, fmt.Errorf("the result is %s, which %s cannot hold", d.String(), sqlType(c))
		}
		return event.Decimal(d.String()), nil
	}
	scale := c.Scale
	if c.Type == event.TypeMoney {
		scale = 2
	}
	if scale >= 0 && (c.Type == event.TypeMoney || c.Precision > 0 || c.Scale > 0) {
		if d.Scale() > scale && !d.Round(scale).d.Equal(d.d) {
			return event.Null, fmt.Errorf("the result has more than %d digits after the point, which %s cannot hold (round it: round(x, %d))", scale, sqlType(c), scale)
		}
		if c.Precision > 0 && d.intDigits() > c.Precision-scale {
			return event.Null, fmt.Errorf("the result has more than %d digits before the point, which %s cannot hold", c.Precision-scale, sqlType(c))
		}
	}
	return event.Decimal(d.String()), nil
}

func sqlType(c *event.Column) string {
	if c.Type == event.TypeMoney {
		return "money"
	}
	if c.Precision > 0 {
		return fmt.Sprintf("numeric(%d,%d)", c.Precision, c.Scale)
	}
	return "numeric"
}

// timeValue stores t in a temporal column: the instant for timestamptz, the
// wall clock in t's own zone for timestamp, date and time, the time of day
// with its zone normalised to UTC for timetz (the event model's form).
func timeValue(typ event.Type, t time.Time) event.Value {
	switch typ {
	case event.TypeTimestampTZ:
		return event.Int(t.UnixMicro())
	case event.TypeTimestamp:
		return event.Int(wall(t).UnixMicro())
	case event.TypeDate:
		y, m, d := t.Date()
		return event.Int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	case event.TypeTime:
		return event.Int(clockMicros(t))
	}
	u := t.UTC()
	var b []byte
	b = u.AppendFormat(b, "15:04:05")
	if ns := u.Nanosecond(); ns != 0 {
		b = append(b, '.')
		b = append(b, fmt.Sprintf("%06d", ns/1000)...)
	}
	b = append(b, 'Z')
	return event.String(string(b))
}

// wall is t's wall clock read as UTC.
func wall(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// clockMicros is the time of day in microseconds; a clock time of 24:00
// (clockZero's next day) stays 86400000000.
func clockMicros(t time.Time) int64 {
	w := wall(t)
	if w.Sub(clockZero) == 24*time.Hour {
		return microsPerDay
	}
	h, m, s := w.Clock()
	return int64(h*3600+m*60+s)*1_000_000 + int64(w.Nanosecond()/1000)
}

// isoDuration writes microseconds as ISO 8601 (days and time; months are
// not known from a count of microseconds): "P1DT2H3M4.000005S".
func isoDuration(us int64) string {
	if us == 0 {
		return "PT0S"
	}
	var b bytes.Buffer
	u := uint64(us)
	if us < 0 {
		u = -u
		b.WriteByte('-')
	}
	b.WriteByte('P')
	days, rem := u/microsPerDay, u%microsPerDay
	if days > 0 {
		b.WriteString(strconv.FormatUint(days, 10) + "D")
	}
	if rem == 0 {
		return b.String()
	}
	b.WriteByte('T')
	if h := rem / 3_600_000_000; h > 0 {
		b.WriteString(strconv.FormatUint(h, 10) + "H")
	}
	if m := rem / 60_000_000 % 60; m > 0 {
		b.WriteString(strconv.FormatUint(m, 10) + "M")
	}
	if s, frac := rem/1_000_000%60, rem%1_000_000; s > 0 || frac > 0 {
		b.WriteString(strconv.FormatUint(s, 10))
		if frac > 0 {
			b.WriteString(strings.TrimRight(fmt.Sprintf(".%06d", frac), "0"))
		}
		b.WriteByte('S')
	}
	return b.String()
}
