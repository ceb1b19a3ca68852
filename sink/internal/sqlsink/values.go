package sqlsink

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// Infinity sentinels of the PostgreSQL source (see source/postgres).
const (
	dateInfinity    = math.MaxInt32
	dateNegInfinity = math.MinInt32
	tsInfinity      = math.MaxInt64
	tsNegInfinity   = math.MinInt64
)

// PGText renders v, a value of column c, in PostgreSQL's text input form.
// The sink sends it as a text-format parameter (or a COPY field), so the
// server parses it with the target column's own input function: numerics
// stay exact, times keep their microseconds. NULL is (nil, true).
func PGText(c *event.Column, v event.Value) (s string, null bool, err error) {
	switch v.Kind {
	case event.KindNull:
		return "", true, nil
	case event.KindUnchanged:
		return "", false, fmt.Errorf("column %q: unchanged TOAST value cannot be written", c.Name)
	case event.KindArray:
		b, err := appendPGArray(nil, c, v)
		return string(b), false, err
	}
	switch c.Type {
	case event.TypeBool:
		if v.AsBool() {
			return "t", false, nil
		}
		return "f", false, nil
	case event.TypeFloat32, event.TypeFloat64:
		return pgFloat(c, v), false, nil
	case event.TypeBytes:
		return `\x` + hex.EncodeToString([]byte(v.Str)), false, nil
	case event.TypeDate:
		if v.Kind == event.KindInt {
			return pgDate(v.AsInt()), false, nil
		}
	case event.TypeTime:
		if v.Kind == event.KindInt {
			return clock(v.AsInt()), false, nil
		}
	case event.TypeTimestamp, event.TypeTimestampTZ:
		if v.Kind == event.KindInt {
			switch us := v.AsInt(); us {
			case tsInfinity:
				return "infinity", false, nil
			case tsNegInfinity:
				return "-infinity", false, nil
			default:
				s := pgTimestamp(us)
				if c.Type == event.TypeTimestampTZ {
					s += "+00"
				}
				return s, false, nil
			}
		}
	case event.TypeInterval:
		if v.Str != "" {
			return v.Str, false, nil
		}
		return strconv.FormatInt(v.AsInt(), 10) + " microseconds", false, nil
	}
	switch v.Kind {
	case event.KindInt:
		return strconv.FormatInt(v.AsInt(), 10), false, nil
	case event.KindBool:
		return strconv.FormatBool(v.AsBool()), false, nil
	case event.KindFloat:
		return pgFloat(c, v), false, nil
	}
	if strings.IndexByte(v.Str, 0) >= 0 && c.Type != event.TypeBytes {
		return "", false, fmt.Errorf("column %q: text contains a NUL byte, which PostgreSQL text cannot hold", c.Name)
	}
	return v.Str, false, nil
}

func pgFloat(c *event.Column, v event.Value) string {
	f := v.AsFloat()
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	bits := 64
	if c.Type == event.TypeFloat32 {
		bits = 32
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

func civil(us int64) time.Time { return time.UnixMicro(us).UTC() }

// pgDate renders days since 1970 as PostgreSQL's ISO date (BC years too).
func pgDate(days int64) string {
	switch days {
	case dateInfinity:
		return "infinity"
	case dateNegInfinity:
		return "-infinity"
	}
	t := time.Unix(days*86400, 0).UTC()
	return isoYear(t) + t.Format("-01-02") + bc(t)
}

func pgTimestamp(us int64) string {
	t := civil(us)
	return isoYear(t) + t.Format("-01-02 15:04:05.999999") + bc(t)
}

// isoYear renders the year as PostgreSQL wants it: year 0 is 1 BC.
func isoYear(t time.Time) string {
	y := t.Year()
	if y <= 0 {
		y = 1 - y
	}
	s := strconv.Itoa(y)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}

func bc(t time.Time) string {
	if t.Year() <= 0 {
		return " BC"
	}
	return ""
}

// clock renders microseconds since midnight (24:00:00 included).
func clock(us int64) string {
	h := us / 3600e6
	m := us / 60e6 % 60
	s := us / 1e6 % 60
	f := us % 1e6
	out := fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	if f != 0 {
		out += strings.TrimRight(fmt.Sprintf(".%06d", f), "0")
	}
	return out
}

// appendPGArray renders an array literal: every element double-quoted with
// `"` and `\` escaped, NULL unquoted, nested arrays in braces.
func appendPGArray(b []byte, c *event.Column, v event.Value) ([]byte, error) {
	elem := c.Elem
	if elem == nil {
		elem = &event.Column{Name: c.Name, Type: event.TypeString}
	}
	b = append(b, '{')
	for i, e := range v.Elems() {
		if i > 0 {
			b = append(b, ',')
		}
		if e.Kind == event.KindArray {
			var err error
			if b, err = appendPGArray(b, c, e); err != nil {
				return b, err
			}
			continue
		}
		s, null, err := PGText(elem, e)
		if err != nil {
			return b, err
		}
		if null {
			b = append(b, "NULL"...)
			continue
		}
		b = append(b, '"')
		for j := 0; j < len(s); j++ {
			if s[j] == '"' || s[j] == '\\' {
				b = append(b, '\\')
			}
			b = append(b, s[j])
		}
		b = append(b, '"')
	}
	return append(b, '}'), nil
}

// MySQLArg converts v, a value of column c, to a driver argument for
// MySQL/MariaDB: int64, float64, []byte, or a string the server converts
// to the column type (exact decimals, "YYYY-MM-DD hh:mm:ss.ffffff" in UTC).
// Values MySQL cannot represent (NaN, infinities, infinite dates) are
// errors, which the sink reports per record.
func MySQLArg(c *event.Column, v event.Value) (any, error) {
	switch v.Kind {
	case event.KindNull:
		return nil, nil
	case event.KindUnchanged:
		return nil, fmt.Errorf("column %q: unchanged TOAST value cannot be written", c.Name)
	case event.KindArray:
		b, err := appendJSON(nil, c, v)
		return string(b), err
	}
	switch c.Type {
	case event.TypeBool:
		if v.AsBool() {
			return int64(1), nil
		}
		return int64(0), nil
	case event.TypeBytes:
		return []byte(v.Str), nil
	case event.TypeDate:
		if v.Kind == event.KindInt {
			if d := v.AsInt(); d == dateInfinity || d == dateNegInfinity {
				return nil, fmt.Errorf("column %q: MySQL has no infinite date", c.Name)
			}
			return time.Unix(v.AsInt()*86400, 0).UTC().Format("2006-01-02"), nil
		}
	case event.TypeTime:
		if v.Kind == event.KindInt {
			return clock(v.AsInt()), nil
		}
	case event.TypeTimeTZ:
		// "HH:MM:SS[.ffffff]Z", already UTC: keep the clock.
		return strings.TrimSuffix(v.Str, "Z"), nil
	case event.TypeTimestamp, event.TypeTimestampTZ:
		if v.Kind == event.KindInt {
			us := v.AsInt()
			if us == tsInfinity || us == tsNegInfinity {
				return nil, fmt.Errorf("column %q: MySQL has no infinite timestamp", c.Name)
			}
			return civil(us).Format("2006-01-02 15:04:05.999999"), nil
		}
	case event.TypeInterval:
		if v.Str != "" {
			return v.Str, nil
		}
	}
	switch v.Kind {
	case event.KindInt:
		return v.AsInt(), nil
	case event.KindBool:
		if v.AsBool() {
			return int64(1), nil
		}
		return int64(0), nil
	case event.KindFloat:
		f := v.AsFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("column %q: MySQL cannot store %v", c.Name, f)
		}
		return f, nil
	case event.KindInterval:
		return v.Str, nil
	}
	return v.Str, nil
}

// appendJSON renders an array as JSON (MySQL has no array type): numbers
// and booleans as JSON values, decimals as exact JSON numbers, bytes as
// base64, everything else as strings in MySQLArg's text form.
func appendJSON(b []byte, c *event.Column, v event.Value) ([]byte, error) {
	elem := c.Elem
	if elem == nil {
		elem = &event.Column{Name: c.Name, Type: event.TypeString}
	}
	switch v.Kind {
	case event.KindNull:
		return append(b, "null"...), nil
	case event.KindArray:
		b = append(b, '[')
		for i, e := range v.Elems() {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, c, e); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case event.KindBool:
		return strconv.AppendBool(b, v.AsBool()), nil
	case event.KindInt:
		if elem.Type == event.TypeInt16 || elem.Type == event.TypeInt32 || elem.Type == event.TypeInt64 {
			return strconv.AppendInt(b, v.AsInt(), 10), nil
		}
	case event.KindFloat:
		f := v.AsFloat()
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			return strconv.AppendFloat(b, f, 'g', -1, 64), nil
		}
		return appendJSONString(b, pgFloat(elem, v)), nil
	case event.KindDecimal:
		if _, err := strconv.ParseFloat(v.Str, 64); err == nil && !strings.ContainsAny(v.Str, "nN") {
			return append(b, v.Str...), nil
		}
		return appendJSONString(b, v.Str), nil
	case event.KindBytes:
		return appendJSONString(b, base64.StdEncoding.EncodeToString([]byte(v.Str))), nil
	}
	if elem.Type == event.TypeJSON && json.Valid([]byte(v.Str)) {
		return append(b, v.Str...), nil
	}
	a, err := MySQLArg(elem, v)
	if err != nil {
		return b, err
	}
	switch x := a.(type) {
	case string:
		return appendJSONString(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	}
	return appendJSONString(b, v.Text()), nil
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// AppendPGCopy appends v, a value of column c, to b as one field of
// PostgreSQL's COPY text format: PGText's text with backslash, newline,
// carriage return and tab escaped, or \N for NULL. It is PGText for the
// COPY path without the intermediate string: scalars cost no allocation.
// Errors are PGText's.
func AppendPGCopy(b []byte, c *event.Column, v event.Value) ([]byte, error) {
	switch v.Kind {
	case event.KindNull:
		return append(b, `\N`...), nil
	case event.KindUnchanged:
		return b, fmt.Errorf("column %q: unchanged TOAST value cannot be written", c.Name)
	case event.KindArray:
		a, err := appendPGArray(nil, c, v)
		if err != nil {
			return b, err
		}
		return appendCopyEscaped(b, string(a)), nil
	}
	switch c.Type {
	case event.TypeBool:
		if v.AsBool() {
			return append(b, 't'), nil
		}
		return append(b, 'f'), nil
	case event.TypeFloat32, event.TypeFloat64:
		return appendPGFloat(b, c, v), nil
	case event.TypeBytes:
		// PGText's `\x` prefix, its backslash escaped for COPY.
		return hex.AppendEncode(append(b, `\\x`...), []byte(v.Str)), nil
	case event.TypeDate:
		if v.Kind == event.KindInt {
			return appendPGDate(b, v.AsInt()), nil
		}
	case event.TypeTime:
		if v.Kind == event.KindInt {
			return appendClock(b, v.AsInt()), nil
		}
	case event.TypeTimestamp, event.TypeTimestampTZ:
		if v.Kind == event.KindInt {
			switch us := v.AsInt(); us {
			case tsInfinity:
				return append(b, "infinity"...), nil
			case tsNegInfinity:
				return append(b, "-infinity"...), nil
			default:
				b = appendPGTimestamp(b, us)
				if c.Type == event.TypeTimestampTZ {
					b = append(b, "+00"...)
				}
				return b, nil
			}
		}
	case event.TypeInterval:
		if v.Str != "" {
			return appendCopyEscaped(b, v.Str), nil
		}
		return append(strconv.AppendInt(b, v.AsInt(), 10), " microseconds"...), nil
	}
	switch v.Kind {
	case event.KindInt:
		return strconv.AppendInt(b, v.AsInt(), 10), nil
	case event.KindBool:
		return strconv.AppendBool(b, v.AsBool()), nil
	case event.KindFloat:
		return appendPGFloat(b, c, v), nil
	}
	out, nul := appendCopyText(b, v.Str)
	if nul && c.Type != event.TypeBytes {
		return b, fmt.Errorf("column %q: text contains a NUL byte, which PostgreSQL text cannot hold", c.Name)
	}
	return out, nil
}

// appendCopyEscaped appends s as a field of COPY's text format.
func appendCopyEscaped(b []byte, s string) []byte {
	b, _ = appendCopyText(b, s)
	return b
}

// appendCopyText appends s as a field of COPY's text format (backslash,
// newline, carriage return and tab escaped) and reports whether s holds a
// NUL byte: one pass over s for both (text values are most of the COPY
// data; strings.IndexAny and IndexByte took two).
func appendCopyText(b []byte, s string) (_ []byte, nul bool) {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' {
			continue
		}
		var esc string
		switch c {
		case '\\':
			esc = `\\`
		case '\n':
			esc = `\n`
		case '\r':
			esc = `\r`
		case '\t':
			esc = `\t`
		case 0:
			nul = true
			continue
		default:
			continue
		}
		b = append(append(b, s[start:i]...), esc...)
		start = i + 1
	}
	return append(b, s[start:]...), nul
}

func appendPGFloat(b []byte, c *event.Column, v event.Value) []byte {
	f := v.AsFloat()
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	bits := 64
	if c.Type == event.TypeFloat32 {
		bits = 32
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

// appendPGDate is pgDate appending to b.
func appendPGDate(b []byte, days int64) []byte {
	switch days {
	case dateInfinity:
		return append(b, "infinity"...)
	case dateNegInfinity:
		return append(b, "-infinity"...)
	}
	t := time.Unix(days*86400, 0).UTC()
	b = t.AppendFormat(appendISOYear(b, t), "-01-02")
	return appendBC(b, t)
}

// appendPGTimestamp is pgTimestamp appending to b.
func appendPGTimestamp(b []byte, us int64) []byte {
	t := civil(us)
	b = t.AppendFormat(appendISOYear(b, t), "-01-02 15:04:05.999999")
	return appendBC(b, t)
}

// appendISOYear is isoYear appending to b.
func appendISOYear(b []byte, t time.Time) []byte {
	y := t.Year()
	if y <= 0 {
		y = 1 - y
	}
	for p := 1000; p > 1 && y < p; p /= 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(y), 10)
}

func appendBC(b []byte, t time.Time) []byte {
	if t.Year() <= 0 {
		return append(b, " BC"...)
	}
	return b
}

// appendClock is clock appending to b.
func appendClock(b []byte, us int64) []byte {
	if us < 0 {
		return append(b, clock(us)...) // not a time of day; keep clock's form
	}
	two := func(b []byte, n int64) []byte {
		if n < 10 {
			b = append(b, '0')
		}
		return strconv.AppendInt(b, n, 10)
	}
	h := us / 3600e6
	if h < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, h, 10)
	b = two(append(b, ':'), us/60e6%60)
	b = two(append(b, ':'), us/1e6%60)
	if f := us % 1e6; f != 0 {
		var d [7]byte
		d[0] = '.'
		for i := 6; i >= 1; i-- {
			d[i] = byte('0' + f%10)
			f /= 10
		}
		n := 7
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return b
}
