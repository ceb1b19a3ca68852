package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/civil"
)

// This file is the natural-JSON document encoding that search sinks index:
// one JSON object per row image, members in column order, each value in the
// JSON type a search engine maps naturally. It differs from the Debezium
// encoding on purpose: Debezium's wire types (decimals as base64 bytes,
// timestamps as epoch microseconds) would be indexed as opaque strings and
// longs, which nobody searches or aggregates.
//
//	integers          JSON numbers
//	floats            shortest round-trip JSON numbers, with a fraction
//	                  (15.0, so dynamic mapping makes the field a double); NaN and ±Infinity
//	                  as the strings "NaN", "Infinity", "-Infinity"
//	decimal, money    the exact decimal text as a JSON number (no rounding
//	                  through float64); NaN and ±Infinity as strings
//	bool              true / false
//	date              "YYYY-MM-DD"
//	time              "HH:MM:SS[.ffffff]" (fraction digits as needed)
//	timetz            "HH:MM:SS[.ffffff]Z" (normalised to UTC by the source)
//	timestamp         "YYYY-MM-DDTHH:MM:SS[.ffffff]" (no zone)
//	timestamptz       "YYYY-MM-DDTHH:MM:SS[.ffffff]Z"
//	interval          ISO 8601 duration text, e.g. "P1DT2H3M4.000005S"
//	bytes             base64 string (what a binary field takes)
//	json, jsonb       embedded as JSON (validated), not as a string
//	arrays            JSON arrays (nested for multi-dimensional arrays)
//	uuid, enum, inet, xml, text and unknown types: JSON strings
//
// Special values the source passes as text ("infinity" timestamps and dates)
// are written as strings. NULL is null.

// AppendDocument appends img (aligned with s.Columns) as a JSON object.
//
// A column whose value is event.KindUnchanged (an unchanged TOAST value the
// source did not send) is never written as a value: when unchanged is nil
// the member is left out; otherwise unchanged(i) returns the JSON text to
// write for column i, or nil to leave the member out. Errors name the column,
// never its value.
func AppendDocument(dst []byte, s *event.Schema, img []event.Value, unchanged func(col int) []byte) ([]byte, error) {
	return AppendDocumentWith(dst, s, img, unchanged, DocumentOptions{})
}

// DocumentOptions adjust the document encoding for a destination.
type DocumentOptions struct {
	// OmitKeyID leaves out a key column named "_id" (MongoDB's document
	// id). OpenSearch and Elasticsearch reserve _id as metadata and reject a
	// document that has it ("Field [_id] is a metadata field and cannot be
	// added inside a document"); search sinks use the key as the document id
	// instead. A non-key column named _id is kept, so that the destination
	// rejects it loudly rather than losing it.
	OmitKeyID bool
}

// AppendDocumentWith is AppendDocument with options.
//
// Events of the MongoDB source (Schema.Connector "mongodb") have their
// object and array columns (relaxed Extended JSON text) embedded as natural
// JSON: nested ObjectIds as hex strings, dates as ISO-8601 UTC, int64 and
// decimals as numbers, binary as base64; the other BSON types as their
// relaxed Extended JSON objects.
func AppendDocumentWith(dst []byte, s *event.Schema, img []event.Value, unchanged func(col int) []byte, opts DocumentOptions) ([]byte, error) {
	if len(img) != len(s.Columns) {
		return dst, fmt.Errorf("format: %s: row image has %d values for %d columns", s.Stream, len(img), len(s.Columns))
	}
	start := len(dst)
	dst = append(dst, '{')
	first := true
	for i := range img {
		v := img[i]
		if opts.OmitKeyID && s.Columns[i].Key && s.Columns[i].Name == "_id" {
			continue
		}
		var raw []byte
		if v.Kind == event.KindUnchanged {
			if unchanged == nil {
				continue
			}
			if raw = unchanged(i); raw == nil {
				continue
			}
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendPlainString(dst, s.Columns[i].Name)
		dst = append(dst, ':')
		if raw != nil {
			dst = append(dst, raw...)
			continue
		}
		var err error
		if s.Connector == "mongodb" && s.Columns[i].Type == event.TypeJSON && v.Kind == event.KindString {
			dst, err = appendMongoNatural(dst, &s.Columns[i], v.Str)
		} else {
			dst, err = AppendDocumentValue(dst, &s.Columns[i], v)
		}
		if err != nil {
			return dst[:start], fmt.Errorf("format: %s: %w", s.Stream, err)
		}
	}
	return append(dst, '}'), nil
}

// HasUnchanged reports whether img holds an unchanged TOAST value.
func HasUnchanged(img []event.Value) bool {
	for i := range img {
		if img[i].Kind == event.KindUnchanged {
			return true
		}
	}
	return false
}

// AppendDocumentValue appends one value of column c in the document
// encoding. An unchanged TOAST value is an error: the caller decides what
// the stored value is.
func AppendDocumentValue(dst []byte, c *event.Column, v event.Value) ([]byte, error) {
	return appendDocValue(dst, c, v, 0)
}

func appendDocValue(dst []byte, c *event.Column, v event.Value, depth int) ([]byte, error) {
	switch v.Kind {
	case event.KindNull:
		return append(dst, "null"...), nil
	case event.KindUnchanged:
		return dst, fmt.Errorf("column %q: an unchanged TOAST value has no document representation", c.Name)
	case event.KindBool:
		return strconv.AppendBool(dst, v.AsBool()), nil
	case event.KindInt:
		return appendDocInt(dst, c, v.AsInt()), nil
	case event.KindFloat:
		bits := 64
		if c.Type == event.TypeFloat32 {
			bits = 32
		}
		return appendJSONFloat(dst, v.AsFloat(), bits), nil
	case event.KindDecimal:
		return appendJSONDecimal(dst, v.Str), nil
	case event.KindString:
		switch c.Type {
		case event.TypeJSON:
			if !json.Valid([]byte(v.Str)) {
				return dst, fmt.Errorf("column %q: not valid JSON", c.Name)
			}
			return appendCompactJSON(dst, v.Str), nil
		case event.TypeTimeTZ:
			return appendZonedTime(dst, v.Str), nil
		case event.TypeDecimal, event.TypeMoney:
			return appendJSONDecimal(dst, v.Str), nil
		}
		return appendPlainString(dst, v.Str), nil
	case event.KindBytes:
		return appendBase64(dst, v.Str), nil
	case event.KindInterval:
		if v.Str != "" {
			return appendPlainString(dst, v.Str), nil
		}
		return appendMicrosDuration(dst, v.AsInt()), nil
	case event.KindArray:
		if depth > maxArrayDepth {
			return dst, fmt.Errorf("column %q: array nests too deep", c.Name)
		}
		elem := c.Elem
		if elem == nil {
			elem = &event.Column{Name: c.Name, Type: event.TypeString}
		} else if elem.Name == "" {
			e := *elem
			e.Name = c.Name
			elem = &e
		}
		dst = append(dst, '[')
		for i, e := range v.Elems() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if e.Kind == event.KindArray {
				dst, err = appendDocValue(dst, c, e, depth+1)
			} else {
				dst, err = appendDocValue(dst, elem, e, depth+1)
			}
			if err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	return dst, fmt.Errorf("column %q: unknown value kind %d", c.Name, v.Kind)
}

// appendDocInt writes an integer as the column's type reads it: temporal
// types carry days or microseconds.
func appendDocInt(dst []byte, c *event.Column, i int64) []byte {
	switch c.Type {
	case event.TypeDate:
		y, m, d := civil.Date(i)
		dst = append(dst, '"')
		dst = appendISOYear(dst, y)
		dst = append(dst, '-')
		dst = append2(dst, m)
		dst = append(dst, '-')
		dst = append2(dst, d)
		return append(dst, '"')
	case event.TypeTime:
		dst = append(dst, '"')
		dst = appendClock(dst, civil.FloorDiv(i, 1_000_000), i-civil.FloorDiv(i, 1_000_000)*1_000_000)
		return append(dst, '"')
	case event.TypeTimestamp:
		return appendDateTime(dst, i, false)
	case event.TypeTimestampTZ:
		return appendDateTime(dst, i, true)
	case event.TypeInterval:
		return appendMicrosDuration(dst, i)
	}
	return strconv.AppendInt(dst, i, 10)
}

// appendClock writes seconds of the day and microseconds as HH:MM:SS[.f].
func appendClock(dst []byte, sod, micros int64) []byte {
	h := sod / 3600
	if h > 99 || h < 0 { // PostgreSQL allows 24:00:00; nothing larger
		return strconv.AppendInt(dst, sod, 10)
	}
	dst = append2(dst, int(h))
	dst = append(dst, ':')
	dst = append2(dst, int(sod/60%60))
	dst = append(dst, ':')
	dst = append2(dst, int(sod%60))
	return appendFraction(dst, micros*1000, 0)
}

// appendDateTime writes microseconds since the epoch as an ISO-8601 local
// date-time, with a Z when zulu.
func appendDateTime(dst []byte, micros int64, zulu bool) []byte {
	secs := civil.FloorDiv(micros, 1_000_000)
	frac := micros - secs*1_000_000
	days := civil.FloorDiv(secs, 86400)
	y, m, d := civil.Date(days)
	dst = append(dst, '"')
	dst = appendISOYear(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, 'T')
	dst = appendClock(dst, secs-days*86400, frac)
	if zulu {
		dst = append(dst, 'Z')
	}
	return append(dst, '"')
}

// appendMicrosDuration writes a duration in microseconds as ISO 8601
// seconds ("PT93784.000005S"), for intervals the source gave no text for.
func appendMicrosDuration(dst []byte, micros int64) []byte {
	dst = append(dst, `"PT`...)
	if micros < 0 {
		dst = append(dst, '-')
		if micros == math.MinInt64 {
			dst = append(dst, "9223372036854.775808"...)
			return append(dst, `S"`...)
		}
		micros = -micros
	}
	dst = strconv.AppendInt(dst, micros/1_000_000, 10)
	dst = appendFraction(dst, micros%1_000_000*1000, 0)
	return append(dst, `S"`...)
}

// appendJSONFloat writes f as encoding/json does (shortest round-trip
// digits, exponent form outside [1e-6, 1e21)); non-finite values become
// strings, as JSON has no number for them.
func appendJSONFloat(dst []byte, f float64, bits int) []byte {
	if bits == 32 {
		f = float64(float32(f)) // may round to ±Inf
	}
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		fmtc = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, fmtc, -1, bits)
	if fmtc == 'f' && !bytes.ContainsRune(dst[start:], '.') {
		// 15.0, not 15, as Kafka Connect's JSON (Jackson) writes a double:
		// a search engine's dynamic mapping makes a field of a first
		// value 15 a long, and every later 29.71 is then truncated in
		// the index.
		dst = append(dst, '.', '0')
	}
	if fmtc == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendJSONDecimal writes exact decimal text as a JSON number, rewriting
// forms JSON does not allow ("+1", ".5", "1.", "007") without changing the
// value; NaN and infinities become strings.
func appendJSONDecimal(dst []byte, s string) []byte {
	if isJSONNumber(s) {
		return append(dst, s...)
	}
	var buf [40]byte
	neg, digits, scale, err := parseDecimal(s, buf[:0])
	if err != nil {
		switch s {
		case "NaN", "nan":
			return append(dst, `"NaN"`...)
		case "Infinity", "+Infinity", "inf", "+inf":
			return append(dst, `"Infinity"`...)
		case "-Infinity", "-inf":
			return append(dst, `"-Infinity"`...)
		}
		return appendPlainString(dst, s) // not a number at all: keep the text
	}
	if len(digits) == 0 {
		return append(dst, '0')
	}
	if neg {
		dst = append(dst, '-')
	}
	dst = append(dst, digits...)
	if scale != 0 {
		dst = append(dst, 'e')
		dst = strconv.AppendInt(dst, int64(-scale), 10)
	}
	return dst
}

// isJSONNumber reports whether s is a number in JSON's grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}

// appendCompactJSON appends valid JSON text without insignificant
// whitespace (the NDJSON bulk format forbids raw newlines inside a
// document; jsonb text has none, json text may).
func appendCompactJSON(dst []byte, s string) []byte {
	inStr, esc := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inStr {
			dst = append(dst, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inStr = true
		}
		dst = append(dst, c)
	}
	return dst
}

// AppendJSONString appends s as a JSON string (invalid UTF-8 replaced by
// U+FFFD), for sinks that write JSON around documents (bulk action lines).
func AppendJSONString(dst []byte, s string) []byte { return appendPlainString(dst, s) }

// appendMongoNatural writes a MongoDB object, array or rarer-type column
// (relaxed Extended JSON) as natural JSON.
func appendMongoNatural(dst []byte, c *event.Column, text string) ([]byte, error) {
	v, err := parseExtJSON(text)
	if err != nil {
		return dst, fmt.Errorf("column %q (%s): %w", c.Name, c.TypeName, err)
	}
	return appendNaturalValue(dst, &v, 0)
}
