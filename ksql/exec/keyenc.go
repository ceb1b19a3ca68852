package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/sluice-dev/sluice/event"
)

// The key encoding: each SQL value becomes a self-delimiting byte string
// whose bytewise order is the values' order, so that tuples of values
// concatenate into keys that sort by their first value, then their second,
// and that a key's encoding is a prefix of no other key's. Equal values
// (as SQL compares them) encode equally: -0.0 and 0.0 do, and so do the
// decimals 1.50 and 1.5.
//
//	0x01                 NULL (before every value)
//	0x02 / 0x03          FALSE / TRUE
//	0x04 b[8]            integer: big-endian with the sign bit flipped
//	0x05 b[8]            double: IEEE bits, all flipped when negative, else the sign bit; one NaN, after +Inf
//	0x06 class …         decimal (see appendDecimalKey)
//	0x07 text 0x00 0x01  string: 0x00 in the text written 0x00 0xFF
//	0x08 raw 0x00 0x01   bytes, escaped as strings
//	0x09 elems… 0x00     array (ARRAY, MAP, STRUCT): the elements, then 0x00
//	0x0A b[8] text       interval: microseconds as an integer, then the ISO text as a string
//	0x0B                 unchanged (never in a key; encoded so that nothing panics)
const (
	ktNull      = 0x01
	ktFalse     = 0x02
	ktTrue      = 0x03
	ktInt       = 0x04
	ktFloat     = 0x05
	ktDecimal   = 0x06
	ktString    = 0x07
	ktBytes     = 0x08
	ktArray     = 0x09
	ktInterval  = 0x0A
	ktUnchanged = 0x0B
)

// maxKeyDepth bounds the nesting of arrays in keys the decoder accepts.
const maxKeyDepth = 64

// appendKey appends the key encoding of v.
func appendKey(b []byte, v event.Value) ([]byte, error) {
	switch v.Kind {
	case event.KindNull:
		return append(b, ktNull), nil
	case event.KindUnchanged:
		return append(b, ktUnchanged), nil
	case event.KindBool:
		if v.AsBool() {
			return append(b, ktTrue), nil
		}
		return append(b, ktFalse), nil
	case event.KindInt:
		return appendInt64Key(append(b, ktInt), v.AsInt()), nil
	case event.KindFloat:
		return appendFloatKey(append(b, ktFloat), v.AsFloat()), nil
	case event.KindDecimal:
		return appendDecimalKey(append(b, ktDecimal), v.Str)
	case event.KindString:
		return appendEscaped(append(b, ktString), v.Str), nil
	case event.KindBytes:
		return appendEscaped(append(b, ktBytes), v.Str), nil
	case event.KindArray:
		b = append(b, ktArray)
		var err error
		for _, e := range v.Elems() {
			if b, err = appendKey(b, e); err != nil {
				return b, err
			}
		}
		return append(b, 0x00), nil
	case event.KindInterval:
		b = appendInt64Key(append(b, ktInterval), v.AsInt())
		return appendEscaped(b, v.Str), nil
	}
	return b, fmt.Errorf("a value of kind %d cannot be part of a key", v.Kind)
}

// appendKeys appends the key encoding of a tuple.
func appendKeys(b []byte, vs []event.Value) ([]byte, error) {
	var err error
	for _, v := range vs {
		if b, err = appendKey(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}

// appendInt64Key appends i as 8 bytes that sort as the signed values do
// (also used for times and sequence numbers in keys).
func appendInt64Key(b []byte, i int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(i)^(1<<63))
}

func readInt64Key(b []byte) (int64, []byte, error) {
	if len(b) < 8 {
		return 0, b, errShortKey
	}
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)), b[8:], nil
}

func appendFloatKey(b []byte, f float64) []byte {
	if f == 0 {
		f = 0 // -0 encodes as 0
	}
	if math.IsNaN(f) {
		return binary.BigEndian.AppendUint64(b, math.MaxUint64)
	}
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(b, u)
}

func decodeFloatKey(u uint64) float64 {
	if u == math.MaxUint64 {
		return math.NaN()
	}
	if u&(1<<63) != 0 {
		return math.Float64frombits(u &^ (1 << 63))
	}
	return math.Float64frombits(^u) + 0 // -0 (not canonical) reads as 0
}

// appendEscaped writes s with 0x00 as 0x00 0xFF, then 0x00 0x01: a shorter
// string sorts before its extensions, and the terminator is unambiguous.
func appendEscaped(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			break
		}
		b = append(b, s[:i]...)
		b = append(b, 0x00, 0xFF)
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, 0x00, 0x01)
}

func readEscaped(b []byte) (string, []byte, error) {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			continue
		}
		if i+1 >= len(b) {
			return "", b, errShortKey
		}
		switch b[i+1] {
		case 0x01:
			out = append(out, b[:i]...)
			return string(out), b[i+2:], nil
		case 0xFF:
			out = append(out, b[:i]...)
			out = append(out, 0)
			b = b[i+2:]
			i = -1
		default:
			return "", b, errBadKey
		}
	}
	return "", b, errShortKey
}

// Decimal keys: a class byte, then for finite non-zero values the decimal
// exponent E and the significant digits d1 d2 … of |v| = 0.d1d2… × 10^E
// (no leading or trailing zeros) as bytes d+1, then 0x00. A negative
// value's exponent and digits, terminator included, are written
// complemented, so that a larger magnitude sorts first.
// maxDecimalExp bounds decimal exponents in keys, so that decoding a key
// never writes more than a few kilobytes of text.
const maxDecimalExp = 10000

const (
	decNegInf = 0x01
	decNeg    = 0x02
	decZero   = 0x03
	decPos    = 0x04
	decPosInf = 0x05
	decNaN    = 0x06
)

func appendDecimalKey(b []byte, text string) ([]byte, error) {
	switch text {
	case "NaN":
		return append(b, decNaN), nil
	case "Infinity", "+Infinity":
		return append(b, decPosInf), nil
	case "-Infinity":
		return append(b, decNegInf), nil
	}
	neg, digits, exp, err := parseDecimal(text)
	if err != nil {
		return b, err
	}
	if len(digits) == 0 {
		return append(b, decZero), nil
	}
	if !neg {
		b = append(b, decPos)
		b = binary.BigEndian.AppendUint32(b, uint32(exp)^(1<<31))
		for _, d := range digits {
			b = append(b, d-'0'+1)
		}
		return append(b, 0x00), nil
	}
	b = append(b, decNeg)
	b = binary.BigEndian.AppendUint32(b, ^(uint32(exp) ^ (1 << 31)))
	for _, d := range digits {
		b = append(b, ^(d - '0' + 1))
	}
	return append(b, 0xFF), nil
}

// parseDecimal reads [+-]digits[.digits][(e|E)[+-]digits] into its sign,
// its significant digits (ASCII, no leading or trailing zeros; none for
// zero) and the exponent E of 0.digits × 10^E.
func parseDecimal(s string) (neg bool, digits []byte, exp int, err error) {
	bad := fmt.Errorf("%q is not a decimal number", s)
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	point, seen := -1, false
	lead := true
	pos := 0 // digits before the point, counted from the first significant one
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if point >= 0 {
				return false, nil, 0, bad
			}
			point = i
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		seen = true
		if lead && c == '0' {
			if point >= 0 {
				pos--
			}
			continue
		}
		lead = false
		digits = append(digits, c)
		if point < 0 {
			pos++
		}
	}
	if !seen {
		return false, nil, 0, bad
	}
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' || i+1 >= len(s) {
			return false, nil, 0, bad
		}
		i++
		eneg := false
		if s[i] == '+' || s[i] == '-' {
			eneg = s[i] == '-'
			i++
		}
		if i >= len(s) {
			return false, nil, 0, bad
		}
		e := 0
		for ; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' || e > 1<<24 {
				return false, nil, 0, bad
			}
			e = e*10 + int(s[i]-'0')
		}
		if eneg {
			e = -e
		}
		pos += e
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return false, nil, 0, nil
	}
	if pos > maxDecimalExp || pos < -maxDecimalExp {
		return false, nil, 0, fmt.Errorf("decimal %q is out of range for a key (exponent beyond ±%d)", s, maxDecimalExp)
	}
	return neg, digits, pos, nil
}

var (
	errShortKey = errors.New("key ends too early")
	errBadKey   = errors.New("key holds an unknown tag")
)

// decodeKey reads one value from the front of b.
func decodeKey(b []byte) (event.Value, []byte, error) {
	return decodeKeyDepth(b, 0)
}

func decodeKeyDepth(b []byte, depth int) (event.Value, []byte, error) {
	if len(b) == 0 {
		return event.Null, b, errShortKey
	}
	tag, b := b[0], b[1:]
	switch tag {
	case ktNull:
		return event.Null, b, nil
	case ktUnchanged:
		return event.Unchanged, b, nil
	case ktFalse:
		return event.Bool(false), b, nil
	case ktTrue:
		return event.Bool(true), b, nil
	case ktInt:
		i, rest, err := readInt64Key(b)
		return event.Int(i), rest, err
	case ktFloat:
		if len(b) < 8 {
			return event.Null, b, errShortKey
		}
		return event.Float(decodeFloatKey(binary.BigEndian.Uint64(b))), b[8:], nil
	case ktDecimal:
		return decodeDecimalKey(b)
	case ktString, ktBytes:
		s, rest, err := readEscaped(b)
		if tag == ktBytes {
			return event.Value{Kind: event.KindBytes, Str: s}, rest, err
		}
		return event.String(s), rest, err
	case ktInterval:
		i, rest, err := readInt64Key(b)
		if err != nil {
			return event.Null, b, err
		}
		s, rest, err := readEscaped(rest)
		return event.Interval(i, s), rest, err
	case ktArray:
		if depth >= maxKeyDepth {
			return event.Null, b, errors.New("key nests arrays too deeply")
		}
		var elems []event.Value
		for {
			if len(b) == 0 {
				return event.Null, b, errShortKey
			}
			if b[0] == 0x00 {
				return event.Array(elems), b[1:], nil
			}
			var e event.Value
			var err error
			if e, b, err = decodeKeyDepth(b, depth+1); err != nil {
				return event.Null, b, err
			}
			elems = append(elems, e)
		}
	}
	return event.Null, b, errBadKey
}

// decodeDecimalKey rebuilds a decimal's canonical text: digits with the
// point placed by the exponent, no trailing zeros ("0.05", "120", "-1.5").
func decodeDecimalKey(b []byte) (event.Value, []byte, error) {
	if len(b) == 0 {
		return event.Null, b, errShortKey
	}
	class, b := b[0], b[1:]
	switch class {
	case decNaN:
		return event.Decimal("NaN"), b, nil
	case decPosInf:
		return event.Decimal("Infinity"), b, nil
	case decNegInf:
		return event.Decimal("-Infinity"), b, nil
	case decZero:
		return event.Decimal("0"), b, nil
	case decPos, decNeg:
	default:
		return event.Null, b, errBadKey
	}
	neg := class == decNeg
	if len(b) < 4 {
		return event.Null, b, errShortKey
	}
	u := binary.BigEndian.Uint32(b)
	if neg {
		u = ^u
	}
	exp := int(int32(u ^ (1 << 31)))
	b = b[4:]
	var digits []byte
	for {
		if len(b) == 0 {
			return event.Null, b, errShortKey
		}
		c := b[0]
		b = b[1:]
		if neg {
			c = ^c
		}
		if c == 0 {
			break
		}
		if c > 10 {
			return event.Null, b, errBadKey
		}
		digits = append(digits, c-1+'0')
	}
	// Canonical digits have no leading or trailing zero.
	if len(digits) == 0 || digits[0] == '0' || digits[len(digits)-1] == '0' || exp > maxDecimalExp || exp < -maxDecimalExp {
		return event.Null, b, errBadKey
	}
	return event.Decimal(decimalText(neg, digits, exp)), b, nil
}

func decimalText(neg bool, digits []byte, exp int) string {
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	switch {
	case exp <= 0:
		sb.WriteString("0.")
		for range -exp {
			sb.WriteByte('0')
		}
		sb.Write(digits)
	case exp >= len(digits):
		sb.Write(digits)
		for range exp - len(digits) {
			sb.WriteByte('0')
		}
	default:
		sb.Write(digits[:exp])
		sb.WriteByte('.')
		sb.Write(digits[exp:])
	}
	return sb.String()
}
