package eval

import (
	"math"
	"strconv"
	"strings"
)

// javaDouble renders f as Java's Double.toString does since JDK 19 (the
// shortest decimal that reads back as f): plain notation with at least one
// fractional digit for 10^-3 ≤ |f| < 10^7 ("0.001", "1234567.0"), otherwise
// computerized scientific notation ("1.0E7", "1.234E-5"), whose two
// digits at least are the pair nearest the exact value (4.9E-324, not
// 5.0E-324); NaN, Infinity,
// -Infinity, 0.0 and -0.0 as Java spells them. Older JDKs (ksqlDB 0.28
// runs on 11) print the same digits except for rare doubles where their
// algorithm emitted one digit too many (JDK-4511638); sluice never does.
func javaDouble(f float64) string {
	return string(appendJavaDouble(nil, f))
}

func appendJavaDouble(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // -d.ddde±XX
	if abs := math.Abs(f); (abs < 1e-3 || abs >= 1e7) && (e[1] == 'e' || e[0] == '-' && e[2] == 'e') {
		// Java prints two digits at least, the pair nearest the exact
		// value among those that read back as f (4.9E-324, not 5.0E-324).
		var buf2 [32]byte
		e2 := strconv.AppendFloat(buf2[:0], f, 'e', 1, 64)
		if g, err := strconv.ParseFloat(string(e2), 64); err == nil && g == f {
			e = append(buf[:0], e2...)
		}
	}
	neg := e[0] == '-'
	if neg {
		e = e[1:]
		b = append(b, '-')
	}
	ei := strings.IndexByte(string(e), 'e')
	mant, expText := e[:ei], e[ei+1:]
	exp, _ := strconv.Atoi(string(expText))
	digits := make([]byte, 0, 20)
	digits = append(digits, mant[0])
	if len(mant) > 2 {
		digits = append(digits, mant[2:]...)
	}
	abs := math.Abs(f)
	if abs >= 1e-3 && abs < 1e7 {
		if exp >= 0 {
			intLen := exp + 1
			for len(digits) < intLen {
				digits = append(digits, '0')
			}
			b = append(b, digits[:intLen]...)
			b = append(b, '.')
			if len(digits) == intLen {
				return append(b, '0')
			}
			return append(b, digits[intLen:]...)
		}
		b = append(b, "0."...)
		for i := 0; i < -exp-1; i++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[0], '.')
	if len(digits) == 1 {
		b = append(b, '0')
	} else {
		b = append(b, digits[1:]...)
	}
	b = append(b, 'E')
	return strconv.AppendInt(b, int64(exp), 10)
}

// parseJavaDouble is Java's Double.parseDouble: surrounding characters ≤
// ' ' are ignored; an optional sign, then "NaN", "Infinity", a decimal
// (digits with an optional point and exponent) or a hexadecimal literal
// ("0x1.8p1"), with an optional f/F/d/D suffix. ok is false for anything
// else. Out-of-range values saturate to ±Infinity or ±0 as in Java.
func parseJavaDouble(s string) (float64, bool) {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	sign, rest := "", s
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		sign, rest = rest[:1], rest[1:]
	}
	switch rest {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		if sign == "-" {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	if n := len(rest); n > 0 && strings.IndexByte("fFdD", rest[n-1]) >= 0 {
		rest = rest[:n-1]
	}
	if !javaFloatSyntax(rest) {
		return 0, false
	}
	f, err := strconv.ParseFloat(sign+rest, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// javaFloatSyntax reports whether s (no sign, no suffix) is a decimal or
// hexadecimal floating literal as Java reads them; it rules out what Go's
// ParseFloat accepts beyond Java ("inf", "nan", underscores).
func javaFloatSyntax(s string) bool {
	hex := len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
	if hex {
		s = s[2:]
	}
	digits, point, exp := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', hex && !exp && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'):
			digits++
		case c == '.' && !point && !exp:
			point = true
		case !exp && digits > 0 && (!hex && (c == 'e' || c == 'E') || hex && (c == 'p' || c == 'P')):
			exp = true
			if i+1 < len(s) && (s[i+1] == '+' || s[i+1] == '-') {
				i++
			}
			if i+1 >= len(s) {
				return false
			}
		default:
			return false
		}
	}
	return digits > 0 && (!hex || exp)
}
