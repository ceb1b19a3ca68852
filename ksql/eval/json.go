package eval

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON reader for the JSON functions, written to give Jackson's
// answers (ksqlDB reads JSON with Jackson's tree model): object keys keep
// their order (a repeated key keeps its first place and its last value),
// numbers keep their text, and serialising a sub-tree gives Jackson's
// compact text. Like Jackson's readTree, it reads the first value and
// ignores what follows, and an empty text is no value at all.

type jsonKind uint8

const (
	jMissing jsonKind = iota // an empty text
	jNull
	jTrue
	jFalse
	jNumber
	jString
	jArray
	jObject
)

type jsonNode struct {
	kind  jsonKind
	text  string      // number text, string value
	elems []*jsonNode // array elements; object values
	keys  []string    // object keys
	float bool        // a number with a fraction or exponent
}

// maxJSONDepth bounds nesting so hostile input cannot exhaust the stack.
const maxJSONDepth = 1000

var errJSONDepth = errors.New("JSON nested too deeply")

type jsonReader struct {
	s   string
	pos int
}

func (r *jsonReader) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", r.pos, fmt.Sprintf(format, args...))
}

func (r *jsonReader) skipSpace() {
	for r.pos < len(r.s) {
		switch r.s[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// parseJSON reads the first JSON value of s.
func parseJSON(s string) (*jsonNode, error) {
	r := &jsonReader{s: s}
	r.skipSpace()
	if r.pos == len(s) {
		return &jsonNode{kind: jMissing}, nil
	}
	return r.value(0)
}

func (r *jsonReader) value(depth int) (*jsonNode, error) {
	if depth > maxJSONDepth {
		return nil, errJSONDepth
	}
	r.skipSpace()
	if r.pos >= len(r.s) {
		return nil, r.errorf("unexpected end of input")
	}
	switch c := r.s[r.pos]; {
	case c == '{':
		r.pos++
		n := &jsonNode{kind: jObject}
		r.skipSpace()
		if r.pos < len(r.s) && r.s[r.pos] == '}' {
			r.pos++
			return n, nil
		}
		for {
			r.skipSpace()
			if r.pos >= len(r.s) || r.s[r.pos] != '"' {
				return nil, r.errorf("expected a field name in double quotes")
			}
			k, err := r.str()
			if err != nil {
				return nil, err
			}
			r.skipSpace()
			if r.pos >= len(r.s) || r.s[r.pos] != ':' {
				return nil, r.errorf("expected ':'")
			}
			r.pos++
			v, err := r.value(depth + 1)
			if err != nil {
				return nil, err
			}
			replaced := false
			for i, ek := range n.keys {
				if ek == k {
					n.elems[i], replaced = v, true
					break
				}
			}
			if !replaced {
				n.keys = append(n.keys, k)
				n.elems = append(n.elems, v)
			}
			r.skipSpace()
			if r.pos < len(r.s) && r.s[r.pos] == ',' {
				r.pos++
				continue
			}
			if r.pos < len(r.s) && r.s[r.pos] == '}' {
				r.pos++
				return n, nil
			}
			return nil, r.errorf("expected ',' or '}'")
		}
	case c == '[':
		r.pos++
		n := &jsonNode{kind: jArray}
		r.skipSpace()
		if r.pos < len(r.s) && r.s[r.pos] == ']' {
			r.pos++
			return n, nil
		}
		for {
			v, err := r.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, v)
			r.skipSpace()
			if r.pos < len(r.s) && r.s[r.pos] == ',' {
				r.pos++
				continue
			}
			if r.pos < len(r.s) && r.s[r.pos] == ']' {
				r.pos++
				return n, nil
			}
			return nil, r.errorf("expected ',' or ']'")
		}
	case c == '"':
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		return &jsonNode{kind: jString, text: s}, nil
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	}
	for _, lit := range []struct {
		s string
		k jsonKind
	}{{"true", jTrue}, {"false", jFalse}, {"null", jNull}} {
		if strings.HasPrefix(r.s[r.pos:], lit.s) {
			end := r.pos + len(lit.s)
			if end < len(r.s) && isJSONIdentChar(r.s[end]) {
				break
			}
			r.pos = end
			return &jsonNode{kind: lit.k}, nil
		}
	}
	return nil, r.errorf("unexpected character %q", r.s[r.pos])
}

func isJSONIdentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func (r *jsonReader) number() (*jsonNode, error) {
	start := r.pos
	if r.s[r.pos] == '-' {
		r.pos++
	}
	digits := func() int {
		n := 0
		for r.pos < len(r.s) && r.s[r.pos] >= '0' && r.s[r.pos] <= '9' {
			r.pos++
			n++
		}
		return n
	}
	intStart := r.pos
	if digits() == 0 {
		return nil, r.errorf("a number needs digits")
	}
	if r.s[intStart] == '0' && r.pos-intStart > 1 {
		return nil, r.errorf("leading zeroes are not allowed")
	}
	float := false
	if r.pos < len(r.s) && r.s[r.pos] == '.' {
		r.pos++
		float = true
		if digits() == 0 {
			return nil, r.errorf("a decimal point needs digits after it")
		}
	}
	if r.pos < len(r.s) && (r.s[r.pos] == 'e' || r.s[r.pos] == 'E') {
		r.pos++
		float = true
		if r.pos < len(r.s) && (r.s[r.pos] == '+' || r.s[r.pos] == '-') {
			r.pos++
		}
		if digits() == 0 {
			return nil, r.errorf("an exponent needs digits")
		}
	}
	if r.pos < len(r.s) && isJSONIdentChar(r.s[r.pos]) {
		return nil, r.errorf("unexpected character %q after a number", r.s[r.pos])
	}
	return &jsonNode{kind: jNumber, text: r.s[start:r.pos], float: float}, nil
}

func (r *jsonReader) str() (string, error) {
	r.pos++ // the opening quote
	var b strings.Builder
	start := r.pos
	for r.pos < len(r.s) {
		c := r.s[r.pos]
		switch {
		case c == '"':
			b.WriteString(r.s[start:r.pos])
			r.pos++
			return b.String(), nil
		case c < 0x20:
			return "", r.errorf("unescaped control character in a string")
		case c == '\\':
			b.WriteString(r.s[start:r.pos])
			r.pos++
			if r.pos >= len(r.s) {
				return "", r.errorf("unexpected end of input in a string")
			}
			e := r.s[r.pos]
			r.pos++
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				u, ok := r.hex4()
				if !ok {
					return "", r.errorf("bad \\u escape")
				}
				if utf16.IsSurrogate(rune(u)) && strings.HasPrefix(r.s[r.pos:], `\u`) {
					save := r.pos
					r.pos += 2
					if u2, ok := r.hex4(); ok && utf16.DecodeRune(rune(u), rune(u2)) != utf8.RuneError {
						b.WriteRune(utf16.DecodeRune(rune(u), rune(u2)))
						break
					}
					r.pos = save
				}
				b.WriteRune(rune(u)) // a lone surrogate becomes U+FFFD
			default:
				return "", r.errorf("unrecognized escape '\\%c'", e)
			}
			start = r.pos
		default:
			r.pos++
		}
	}
	return "", r.errorf("unexpected end of input in a string")
}

func (r *jsonReader) hex4() (uint16, bool) {
	if r.pos+4 > len(r.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(r.s[r.pos:r.pos+4], 16, 16)
	if err != nil {
		return 0, false
	}
	r.pos += 4
	return uint16(v), true
}

// appendJSONString writes s as a JSON string the way Jackson escapes it:
// quote, backslash, \b \t \n \f \r, other control characters as \u00XX.
func appendJSONString(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var esc string
		switch {
		case c == '"':
			esc = `\"`
		case c == '\\':
			esc = `\\`
		case c == '\b':
			esc = `\b`
		case c == '\t':
			esc = `\t`
		case c == '\n':
			esc = `\n`
		case c == '\f':
			esc = `\f`
		case c == '\r':
			esc = `\r`
		case c < 0x20:
			esc = `\u00` + string(hex[c>>4]) + string(hex[c&15])
		default:
			continue
		}
		b.WriteString(s[start:i])
		b.WriteString(esc)
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// write serialises n as Jackson's JsonNode.toString: compact, numbers as
// Jackson holds them (integers normalised, decimals as BigDecimal.toString).
func (n *jsonNode) write(b *strings.Builder) {
	switch n.kind {
	case jNull:
		b.WriteString("null")
	case jTrue:
		b.WriteString("true")
	case jFalse:
		b.WriteString("false")
	case jString:
		appendJSONString(b, n.text)
	case jNumber:
		b.WriteString(jacksonNumber(n.text, n.float))
	case jArray:
		b.WriteByte('[')
		for i, e := range n.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte(']')
	case jObject:
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			appendJSONString(b, k)
			b.WriteByte(':')
			n.elems[i].write(b)
		}
		b.WriteByte('}')
	}
}

func (n *jsonNode) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

// jacksonNumber is how Jackson prints a number it read: an integer in its
// plain form ("-0" is 0), a number with a fraction or exponent as the
// BigDecimal Jackson holds it in (ksqlDB reads floats as exact decimals):
// "1.50" stays, "1e3" is "1E+3".
func jacksonNumber(text string, float bool) string {
	if !float {
		i, ok := new(big.Int).SetString(text, 10)
		if !ok {
			return text
		}
		return i.String()
	}
	mant, exp := text, 0
	if i := strings.IndexAny(text, "eE"); i >= 0 {
		mant = text[:i]
		e, err := strconv.Atoi(strings.TrimPrefix(text[i+1:], "+"))
		if err != nil {
			return text
		}
		exp = e
	}
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	scale := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		scale = len(mant) - i - 1
		mant = mant[:i] + mant[i+1:]
	}
	scale -= exp
	u, ok := new(big.Int).SetString(mant, 10)
	if !ok {
		return text
	}
	digits := u.String()
	if u.Sign() == 0 {
		neg = false
	}
	return javaBigDecimalString(neg, digits, scale)
}

// javaBigDecimalString is BigDecimal.toString of ±digits × 10^-scale.
func javaBigDecimalString(neg bool, digits string, scale int) string {
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	adjusted := len(digits) - 1 - scale
	if scale >= 0 && adjusted >= -6 {
		switch {
		case scale == 0:
			b.WriteString(digits)
		case len(digits) > scale:
			b.WriteString(digits[:len(digits)-scale])
			b.WriteByte('.')
			b.WriteString(digits[len(digits)-scale:])
		default:
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", scale-len(digits)))
			b.WriteString(digits)
		}
		return b.String()
	}
	b.WriteByte(digits[0])
	if len(digits) > 1 {
		b.WriteByte('.')
		b.WriteString(digits[1:])
	}
	b.WriteByte('E')
	if adjusted >= 0 {
		b.WriteByte('+')
	}
	b.WriteString(strconv.Itoa(adjusted))
	return b.String()
}
