package format

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the JSON primitives, written the way Kafka Connect's
// JsonConverter (Jackson underneath) writes them, so that the bytes match.

// needsEscape marks the bytes that leave the fast path of appendString:
// quote, backslash, control characters, and every non-ASCII byte (which is
// checked for valid UTF-8).
var needsEscape = func() (t [256]bool) {
	for i := 0; i < 0x20; i++ {
		t[i] = true
	}
	t['"'] = true
	t['\\'] = true
	for i := 0x80; i < 0x100; i++ {
		t[i] = true
	}
	return t
}()

const hexUpper = "0123456789ABCDEF"

// appendString appends s as a JSON string the way Jackson escapes it: the
// two-character escapes \" \\ \b \t \n \f \r, \u00XX with upper-case hex for
// the other control characters, '/' and DEL left alone, non-ASCII written as
// raw UTF-8 except characters outside the Basic Multilingual Plane, which
// Jackson 2.16 writes as two \uXXXX escapes of their UTF-16 surrogates.
// Invalid UTF-8 (which Java cannot hold in a String) is replaced by U+FFFD,
// one per invalid byte, as encoding/json does.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendStringBody(dst, s)
	return append(dst, '"')
}

// appendStringBody is appendString without the quotes.
func appendStringBody(dst []byte, s string) []byte { return appendEscaped(dst, s, true) }

// appendPlainString is appendString for JSON that no Java program wrote
// (search documents, bulk action lines): characters outside the Basic
// Multilingual Plane stay raw UTF-8.
func appendPlainString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s, false)
	return append(dst, '"')
}

// Word-at-a-time scanning: bytesNeedEscape reports whether any of the
// eight bytes of w (little-endian, as load64 reads them) needs escaping
// (needsEscape). Each byte's low seven bits v are tested with additions
// that cannot carry into the next byte (v + 0x60 and (v^c) + 0x7F stay
// below 0x100): the high bit of v + 0x60 is set when v >= 0x20, that of
// (v^c) + 0x7F when v != c. Bytes with the high bit set (non-ASCII) need
// the slow path whatever their low bits.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func bytesNeedEscape(w uint64) bool {
	v := w &^ highs
	plain := (v + ones*(0x80-0x20)) & ((v ^ ones*'"') + ones*0x7F) & ((v ^ ones*'\\') + ones*0x7F)
	return (^plain|w)&highs != 0
}

// load64 reads s[i:i+8] as a little-endian word (one load on the
// platforms that allow unaligned ones).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// appendEscaped escapes s; surrogates selects Jackson's \uXXXX\uXXXX for
// characters outside the Basic Multilingual Plane. Runs of bytes that need
// no escape are skipped eight at a time.
func appendEscaped(dst []byte, s string, surrogates bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) && !bytesNeedEscape(load64(s, i)) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if !needsEscape[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r >= 0x10000 && surrogates {
				// Jackson's UTF8JsonGenerator (2.16, Kafka Connect 3.7's)
				// writes characters outside the Basic Multilingual Plane as
				// two \u escapes of their UTF-16 surrogates, upper-case hex.
				dst = append(dst, s[start:i]...)
				r1, r2 := utf16.EncodeRune(r)
				dst = append(dst, '\\', 'u', hexUpper[r1>>12&0xF], hexUpper[r1>>8&0xF], hexUpper[r1>>4&0xF], hexUpper[r1&0xF])
				dst = append(dst, '\\', 'u', hexUpper[r2>>12&0xF], hexUpper[r2>>8&0xF], hexUpper[r2>>4&0xF], hexUpper[r2&0xF])
				i += size
				start = i
				continue
			}
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexUpper[c>>4], hexUpper[c&0xF])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// appendBase64 appends b as a JSON string holding its standard, padded base64
// encoding (Jackson's default Base64 variant, without line feeds). It is
// written out here rather than with encoding/base64 so that a string operand
// needs no conversion (and no allocation).
func appendBase64[T ~string | ~[]byte](dst []byte, b T) []byte {
	dst = append(dst, '"')
	n := len(b) / 3 * 3
	for i := 0; i < n; i += 3 {
		v := uint(b[i])<<16 | uint(b[i+1])<<8 | uint(b[i+2])
		dst = append(dst, b64[v>>18&0x3F], b64[v>>12&0x3F], b64[v>>6&0x3F], b64[v&0x3F])
	}
	switch len(b) - n {
	case 1:
		v := uint(b[n]) << 16
		dst = append(dst, b64[v>>18&0x3F], b64[v>>12&0x3F], '=', '=')
	case 2:
		v := uint(b[n])<<16 | uint(b[n+1])<<8
		dst = append(dst, b64[v>>18&0x3F], b64[v>>12&0x3F], b64[v>>6&0x3F], '=')
	}
	return append(dst, '"')
}

// appendCents appends k/100 as Double.toString writes the double nearest
// to it, for k/100 in Java's plain range [1e-3, 1e7): the integer part, a
// point, and the hundredths without a trailing zero ("12.5", "12.05",
// "12.0").
//
// It is appendJavaFloat's path for doubles with at most two decimals
// (prices and other amounts), which skips strconv's shortest-digit search:
// when float64(k)/100 == f, f is the double nearest to the decimal k/100
// (k is an integer below 2^53 and the division is correctly rounded), so
// that decimal round-trips; and it is the shortest that does, because the
// interval of decimals that round to f (under 2e-9 wide below 1e7) holds
// no other multiple of 0.01, and a decimal with fewer significant digits
// near a number of at least 1e-3 with at most two decimals is itself a
// multiple of 0.01. TestAppendJavaFloatDifferential and FuzzFastPaths
// compare it with strconv's digits.
func appendCents(dst []byte, k int64) []byte {
	if k < 0 {
		dst = append(dst, '-')
		k = -k
	}
	dst = strconv.AppendInt(dst, k/100, 10)
	c := k % 100
	switch {
	case c == 0:
		return append(dst, '.', '0')
	case c%10 == 0:
		return append(dst, '.', byte('0'+c/10))
	}
	return append(dst, '.', byte('0'+c/10), byte('0'+c%10))
}

// appendJavaFloat appends f as Jackson writes a Java double (bits 64) or
// float (bits 32): the text of Double.toString / Float.toString — plain
// notation with at least one fraction digit for magnitudes in [1e-3, 1e7),
// computerized scientific notation ("1.0E10", "1.5E-5") otherwise — and
// NaN/Infinity as the quoted strings "NaN", "Infinity", "-Infinity"
// (Jackson's QUOTE_NON_NUMERIC_NUMBERS, on by default).
//
// The digits are the shortest that round-trip, which is what Java 19 and
// later print; older JDKs occasionally print one more digit.
func appendJavaFloat(dst []byte, f float64, bits int) []byte {
	if bits == 32 {
		f = float64(float32(f)) // Connect's float32 is Java's float: may round to ±Infinity
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		if bits == 64 {
			if k := math.Round(f * 100); k/100 == f {
				return appendCents(dst, int64(k))
			}
		}
		// Java's plain range, where the shortest digits in 'f' notation
		// are Java's text but for an integral value's ".0". (The shortest
		// digits identify the number, so their exponent is in [-3, 7)
		// exactly when the number is in [1e-3, 1e7).)
		n := len(dst)
		dst = strconv.AppendFloat(dst, f, 'f', -1, bits)
		for _, c := range dst[n:] {
			if c == '.' {
				return dst
			}
		}
		return append(dst, '.', '0')
	}
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var buf [40]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, bits) // [-]d[.ddd]e±XX
	if b[1] == 'e' || (b[0] == '-' && b[2] == 'e') {
		// Java always prints a second significant digit and picks the
		// closest two-digit decimal: d.0 for normal numbers, but 4.9E-324
		// (not 5.0E-324) for Double.MIN_VALUE.
		b = strconv.AppendFloat(buf[:0], f, 'e', 1, bits)
	}
	if b[0] == '-' {
		dst = append(dst, '-')
		b = b[1:]
	}
	// Split mantissa digits and exponent.
	var digits [24]byte
	nd := 0
	i := 0
	for ; i < len(b) && b[i] != 'e'; i++ {
		if b[i] != '.' {
			digits[nd] = b[i]
			nd++
		}
	}
	exp := 0
	neg := b[i+1] == '-'
	for _, c := range b[i+2:] {
		exp = exp*10 + int(c-'0')
	}
	if neg {
		exp = -exp
	}
	for nd > 1 && digits[nd-1] == '0' {
		nd--
	}
	d := digits[:nd]
	if exp >= -3 && exp < 7 {
		if exp < 0 {
			dst = append(dst, '0', '.')
			for k := -1; k > exp; k-- {
				dst = append(dst, '0')
			}
			return append(dst, d...)
		}
		if nd > exp+1 {
			dst = append(dst, d[:exp+1]...)
			dst = append(dst, '.')
			return append(dst, d[exp+1:]...)
		}
		dst = append(dst, d...)
		for k := nd; k < exp+1; k++ {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	}
	dst = append(dst, d[0], '.')
	if nd > 1 {
		dst = append(dst, d[1:]...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}
