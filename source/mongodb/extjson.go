package mongodb

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// maxDepth bounds the nesting of documents and arrays rendered as JSON
// (MongoDB itself stores at most 100 levels).
const maxDepth = 200

var (
	errTooDeep   = errors.New("documents nested deeper than 200 levels")
	errMalformed = errors.New("malformed BSON value")
)

// binaryValue returns a binary value's subtype and bytes. The old binary
// subtype 2 repeats the length inside; like the driver, that inner length
// is read when the outer one exceeds 4, and it must fit the value.
func binaryValue(v []byte) (byte, []byte, bool) {
	if len(v) < 5 {
		return 0, nil, false
	}
	n := int(int32(binary.LittleEndian.Uint32(v)))
	if n < 0 || 5+n > len(v) {
		return 0, nil, false
	}
	sub, data := v[4], v[5:5+n]
	if sub == 2 && n > 4 {
		inner := int(int32(binary.LittleEndian.Uint32(data)))
		if inner != n-4 {
			return 0, nil, false
		}
		data = data[4:]
	}
	return sub, data, true
}

// bsonString returns a BSON string's bytes (without its trailing NUL; it
// may hold NULs of its own).
func bsonString(v []byte) ([]byte, bool) {
	if len(v) < 4 {
		return nil, false
	}
	n := int(int32(binary.LittleEndian.Uint32(v)))
	if n < 1 || 4+n > len(v) || v[4+n-1] != 0 {
		return nil, false
	}
	return v[4 : 4+n-1], true
}

// appendRelaxed appends a validated BSON value as relaxed Extended JSON,
// byte for byte what bson.MarshalExtJSON(v, false, false) writes (the
// driver's extJSONValueWriter; FuzzRelaxedJSON compares the two), without
// the driver's reflection and per-value allocations.
func appendRelaxed(dst []byte, t byte, v []byte, depth int) ([]byte, error) {
	switch t {
	case tDouble:
		f := math.Float64frombits(binary.LittleEndian.Uint64(v))
		switch {
		case math.IsInf(f, 1):
			return append(dst, `{"$numberDouble":"Infinity"}`...), nil
		case math.IsInf(f, -1):
			return append(dst, `{"$numberDouble":"-Infinity"}`...), nil
		case math.IsNaN(f):
			return append(dst, `{"$numberDouble":"NaN"}`...), nil
		}
		start := len(dst)
		dst = strconv.AppendFloat(dst, f, 'G', -1, 64)
		for _, c := range dst[start:] {
			if c == 'E' || c == '.' {
				return dst, nil
			}
		}
		return append(dst, ".0"...), nil
	case tString:
		str, ok := bsonString(v)
		if !ok {
			return dst, errMalformed
		}
		return appendJSONString(dst, str), nil
	case tDocument:
		return appendDocument(dst, v, depth+1)
	case tArray:
		return appendArray(dst, v, depth+1)
	case tBinary:
		sub, data, ok := binaryValue(v)
		if !ok {
			return dst, errMalformed
		}
		dst = append(dst, `{"$binary":{"base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, data)
		dst = append(dst, `","subType":"`...)
		dst = append(dst, hexDigits[sub>>4], hexDigits[sub&15])
		return append(dst, `"}}`...), nil
	case tUndefined:
		return append(dst, `{"$undefined":true}`...), nil
	case tObjectID:
		dst = append(dst, `{"$oid":"`...)
		dst = appendHex(dst, v[:12])
		return append(dst, `"}`...), nil
	case tBool:
		return strconv.AppendBool(dst, v[0] != 0), nil
	case tDate:
		dt := int64(binary.LittleEndian.Uint64(v))
		tm := time.Unix(dt/1e3, dt%1e3*1e6).UTC()
		if y := tm.Year(); y < 1970 || y > 9999 {
			dst = append(dst, `{"$date":{"$numberLong":"`...)
			dst = strconv.AppendInt(dst, dt, 10)
			return append(dst, `"}}`...), nil
		}
		dst = append(dst, `{"$date":"`...)
		dst = tm.AppendFormat(dst, "2006-01-02T15:04:05.999Z07:00")
		return append(dst, `"}`...), nil
	case tNull:
		return append(dst, "null"...), nil
	case tRegex:
		pattern := cstring(v)
		options := []rune(string(cstring(v[len(pattern)+1:])))
		slices.Sort(options)
		dst = append(dst, `{"$regularExpression":{"pattern":`...)
		dst = appendJSONString(dst, pattern)
		dst = append(dst, `,"options":`...)
		dst = appendJSONString(dst, []byte(string(options)))
		return append(dst, `}}`...), nil
	case tDBPointer:
		ns, ok := bsonString(v)
		if !ok || 4+len(ns)+1+12 > len(v) {
			return dst, errMalformed
		}
		// The driver writes the namespace without escaping it.
		dst = append(dst, `{"$dbPointer":{"$ref":"`...)
		dst = append(dst, ns...)
		dst = append(dst, `","$id":{"$oid":"`...)
		dst = appendHex(dst, v[4+len(ns)+1:4+len(ns)+1+12])
		return append(dst, `"}}}`...), nil
	case tJavaScript, tSymbol:
		str, ok := bsonString(v)
		if !ok {
			return dst, errMalformed
		}
		if t == tSymbol {
			dst = append(dst, `{"$symbol":`...)
		} else {
			dst = append(dst, `{"$code":`...)
		}
		dst = appendJSONString(dst, str)
		return append(dst, '}'), nil
	case tCodeScope:
		if len(v) < 4 {
			return dst, errMalformed
		}
		code, ok := bsonString(v[4:])
		if !ok || 8+len(code)+1+5 > len(v) {
			return dst, errMalformed
		}
		dst = append(dst, `{"$code":`...)
		dst = appendJSONString(dst, code)
		dst = append(dst, `,"$scope":`...)
		var err error
		if dst, err = appendDocument(dst, v[8+len(code)+1:], depth+1); err != nil {
			return dst, err
		}
		return append(dst, '}'), nil
	case tInt32:
		return strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(v))), 10), nil
	case tTimestamp:
		dst = append(dst, `{"$timestamp":{"t":`...)
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(v[4:])), 10)
		dst = append(dst, `,"i":`...)
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(v)), 10)
		return append(dst, `}}`...), nil
	case tInt64:
		return strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(v)), 10), nil
	case tDecimal:
		lo, hi := binary.LittleEndian.Uint64(v), binary.LittleEndian.Uint64(v[8:])
		dst = append(dst, `{"$numberDecimal":"`...)
		dst = append(dst, bson.NewDecimal128(hi, lo).String()...)
		return append(dst, `"}`...), nil
	case tMinKey:
		return append(dst, `{"$minKey":1}`...), nil
	case tMaxKey:
		return append(dst, `{"$maxKey":1}`...), nil
	}
	return dst, errors.New("unknown BSON type")
}

// appendDocument appends a validated document: {"key":value,...}.
func appendDocument(dst []byte, doc []byte, depth int) ([]byte, error) {
	return appendElements(dst, doc, depth, '{', '}', true)
}

// appendArray appends a validated array: [value,...] (its keys unused).
func appendArray(dst []byte, arr []byte, depth int) ([]byte, error) {
	return appendElements(dst, arr, depth, '[', ']', false)
}

func appendElements(dst []byte, doc []byte, depth int, open, close byte, keys bool) ([]byte, error) {
	if depth > maxDepth {
		return dst, errTooDeep
	}
	if len(doc) < 5 {
		return dst, errMalformed
	}
	n := int(int32(binary.LittleEndian.Uint32(doc)))
	if n < 5 || n > len(doc) || doc[n-1] != 0 {
		return dst, errMalformed
	}
	dst = append(dst, open)
	rem := doc[4 : n-1]
	first := true
	for len(rem) > 0 {
		t := rem[0]
		key := cstring(rem[1:])
		if 1+len(key)+1 > len(rem) {
			return dst, errMalformed
		}
		val := rem[1+len(key)+1:]
		size, ok := valueSize(t, val)
		if !ok {
			return dst, errMalformed
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if keys {
			dst = appendJSONString(dst, key)
			dst = append(dst, ':')
		}
		var err error
		if dst, err = appendRelaxed(dst, t, val[:size], depth); err != nil {
			return dst, err
		}
		rem = val[size:]
	}
	return append(dst, close), nil
}

// valueSize is the size of a value of type t at the start of v.
func valueSize(t byte, v []byte) (int, bool) {
	l32 := func(extra int) (int, bool) {
		if len(v) < 4 {
			return 0, false
		}
		n := int(int32(binary.LittleEndian.Uint32(v))) + extra
		return n, n >= 0 && n <= len(v)
	}
	switch t {
	case tDouble, tDate, tInt64, tTimestamp:
		return 8, len(v) >= 8
	case tString, tJavaScript, tSymbol:
		return l32(4)
	case tDocument, tArray, tCodeScope:
		return l32(0)
	case tBinary:
		return l32(5)
	case tUndefined, tNull, tMinKey, tMaxKey:
		return 0, true
	case tObjectID:
		return 12, len(v) >= 12
	case tBool:
		return 1, len(v) >= 1
	case tRegex:
		p := len(cstring(v))
		if p >= len(v) {
			return 0, false
		}
		o := len(cstring(v[p+1:]))
		return p + 1 + o + 1, p+1+o < len(v)
	case tDBPointer:
		return l32(4 + 12)
	case tInt32:
		return 4, len(v) >= 4
	case tDecimal:
		return 16, len(v) >= 16
	}
	return 0, false
}

// cstring returns the bytes before the first NUL (all of b without one).
func cstring(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

func appendHex(dst, b []byte) []byte {
	for _, x := range b {
		dst = append(dst, hexDigits[x>>4], hexDigits[x&15])
	}
	return dst
}

// appendJSONString quotes s as the driver's writeStringWithEscapes does
// without HTML escaping: \" \\ \n \r \t \b \f, \u00XX for other control
// bytes, \ufffd for invalid UTF-8, \u2028 and \u2029 escaped.
func appendJSONString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&15])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRune(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&15])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
