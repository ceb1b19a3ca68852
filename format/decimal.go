package format

import (
	"errors"
	"math/big"
)

// Decimals travel as exact text (event.KindDecimal). Kafka Connect's Decimal
// logical type, and Debezium's VariableScaleDecimal built on it, carry the
// unscaled value as the big-endian two's-complement bytes of Java's
// BigInteger.toByteArray (the shortest form that keeps the sign bit), which
// JsonConverter writes as base64.

// maxDecimalDigits bounds the digits a decimal may expand to (PostgreSQL's
// numeric allows 131072 before and 16383 after the point), so that an
// exponent in hostile input cannot make the encoder allocate without bound.
const maxDecimalDigits = 131072 + 16383

var (
	errDecimalSyntax  = errors.New("not a decimal number")
	errDecimalSpecial = errors.New("NaN and Infinity have no representation in Debezium's precise decimal mode (Debezium stops the connector on them)")
	errDecimalRescale = errors.New("has more fraction digits than the column scale (Debezium would fail rescaling it)")
	errDecimalSize    = errors.New("is too large")
)

// parseDecimal splits decimal text (sign, digits, optional '.', optional
// exponent) into its sign, its significant digits without leading zeros,
// and its scale (digits after the point; negative after a large exponent).
// Digits are appended to buf. A zero has no digits.
func parseDecimal(s string, buf []byte) (neg bool, digits []byte, scale int, err error) {
	switch s {
	case "NaN", "Infinity", "-Infinity", "+Infinity", "inf", "-inf":
		return false, nil, 0, errDecimalSpecial
	}
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	digits = buf[:0]
	seen, point := false, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			seen = true
			if point {
				scale++
			}
			if c == '0' && len(digits) == 0 {
				continue
			}
			if len(digits) >= maxDecimalDigits {
				return false, nil, 0, errDecimalSize
			}
			digits = append(digits, c)
		case c == '.' && !point:
			point = true
		case (c == 'e' || c == 'E') && seen:
			exp, ok := parseExponent(s[i+1:])
			if !ok {
				return false, nil, 0, errDecimalSyntax
			}
			scale -= exp
			i = len(s)
		default:
			return false, nil, 0, errDecimalSyntax
		}
	}
	if !seen {
		return false, nil, 0, errDecimalSyntax
	}
	if len(digits) == 0 {
		return false, digits, 0, nil
	}
	if scale > maxDecimalDigits || scale < -maxDecimalDigits {
		return false, nil, 0, errDecimalSize
	}
	return neg, digits, scale, nil
}

// parseExponent parses an exponent's digits; one too large to matter is
// clamped so that the scale check reports it (unless the number is zero).
func parseExponent(s string) (int, bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		if n < 1e8 {
			n = n*10 + int(s[i]-'0')
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

// rescale changes the scale of an unscaled digit string to target, padding
// with zeros or dropping trailing zeros; dropping a non-zero digit is an
// error, as BigDecimal.setScale without a rounding mode throws.
func rescale(digits []byte, scale, target int) ([]byte, error) {
	if len(digits) == 0 {
		return digits, nil
	}
	if target >= scale {
		if len(digits)+target-scale > maxDecimalDigits {
			return nil, errDecimalSize
		}
		for ; scale < target; scale++ {
			digits = append(digits, '0')
		}
		return digits, nil
	}
	drop := scale - target
	if drop > len(digits) {
		return nil, errDecimalRescale
	}
	for _, c := range digits[len(digits)-drop:] {
		if c != '0' {
			return nil, errDecimalRescale
		}
	}
	return digits[:len(digits)-drop], nil
}

// stripScale is BigDecimal.stripTrailingZeros followed by setScale(0) when
// the scale went negative, as Debezium does for VariableScaleDecimal: it
// removes trailing fraction zeros and brings a negative scale to 0.
func stripScale(digits []byte, scale int) ([]byte, int, error) {
	if len(digits) == 0 {
		return digits, 0, nil
	}
	for scale > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		scale--
	}
	if scale < 0 {
		var err error
		digits, err = rescale(digits, scale, 0)
		return digits, 0, err
	}
	return digits, scale, nil
}

// appendUnscaled appends, as a base64 JSON string, the two's-complement bytes
// of the integer with the given sign and decimal digits.
func appendUnscaled(dst []byte, neg bool, digits []byte) []byte {
	if len(digits) <= 18 {
		var m uint64
		for _, c := range digits {
			m = m*10 + uint64(c-'0')
		}
		var b [9]byte
		return appendBase64(dst, twosComplement64(b[:], neg, m))
	}
	var x big.Int
	x.SetString(string(digits), 10)
	if neg {
		x.Sub(&x, big.NewInt(1)) // |v| - 1, inverted below
	}
	mag := x.Bytes()
	out := make([]byte, 0, len(mag)+1)
	if neg {
		// v = -(y+1) = ^y: invert the bytes of y, and keep a leading 0xFF
		// when the inverted top bit would not show the sign.
		if len(mag) == 0 || mag[0]&0x80 != 0 {
			out = append(out, 0xFF)
		}
		for _, c := range mag {
			out = append(out, ^c)
		}
	} else {
		if mag[0]&0x80 != 0 {
			out = append(out, 0)
		}
		out = append(out, mag...)
	}
	return appendBase64(dst, out)
}

// twosComplement64 writes into b (9 bytes) the minimal two's-complement
// big-endian bytes of the value with sign neg and magnitude m (m < 2^63).
func twosComplement64(b []byte, neg bool, m uint64) []byte {
	if neg && m != 0 {
		y := m - 1 // -m == ^(m-1)
		for i := 8; i >= 1; i-- {
			b[i] = ^byte(y)
			y >>= 8
		}
		b[0] = 0xFF
		i := 0
		for i < 8 && b[i] == 0xFF && b[i+1]&0x80 != 0 {
			i++
		}
		return b[i:]
	}
	for i := 8; i >= 1; i-- {
		b[i] = byte(m)
		m >>= 8
	}
	b[0] = 0
	i := 0
	for i < 8 && b[i] == 0 && b[i+1]&0x80 == 0 {
		i++
	}
	return b[i:]
}
