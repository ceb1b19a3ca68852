package eval

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/event"
)

func bytesValue(s string) event.Value { return event.Value{Kind: event.KindBytes, Str: s} }

func str1(f func(string) string) callFn {
	return func(a []event.Value) (event.Value, error) { return event.String(f(a[0].Str)), nil }
}

func stringFuncs() map[string][]*overload {
	return map[string][]*overload{
		"CONCAT": {
			over("STRING... -> STRING").nulls().fn(concat(event.String)),
			over("BYTES... -> BYTES").nulls().fn(concat(bytesValue)),
		},
		"CONCAT_WS": {
			over("STRING, STRING... -> STRING").nulls().fn(concatWS(event.String)),
			over("BYTES, BYTES... -> BYTES").nulls().fn(concatWS(bytesValue)),
		},
		"LCASE": {over("STRING -> STRING").fn(str1(strings.ToLower))},
		"UCASE": {over("STRING -> STRING").fn(str1(strings.ToUpper))},
		"TRIM":  {over("STRING -> STRING").fn(str1(javaTrim))},
		"LTRIM": {over("STRING -> STRING").fn(str1(func(s string) string {
			return strings.TrimLeftFunc(s, func(r rune) bool { return r <= ' ' })
		}))},
		"RTRIM": {over("STRING -> STRING").fn(str1(func(s string) string {
			return strings.TrimRightFunc(s, func(r rune) bool { return r <= ' ' })
		}))},
		"LEN": {
			over("STRING -> INTEGER").fn(func(a []event.Value) (event.Value, error) { return event.Int(int64(utf16Len(a[0].Str))), nil }),
			over("BYTES -> INTEGER").fn(func(a []event.Value) (event.Value, error) { return event.Int(int64(len(a[0].Str))), nil }),
		},
		"SUBSTRING": {
			over("STRING, INTEGER -> STRING").fn(substring(false)),
			over("STRING, INTEGER, INTEGER -> STRING").fn(substring(false)),
			over("BYTES, INTEGER -> BYTES").fn(substring(true)),
			over("BYTES, INTEGER, INTEGER -> BYTES").fn(substring(true)),
		},
		"REPLACE": {over("STRING, STRING, STRING -> STRING").fn(func(a []event.Value) (event.Value, error) {
			return event.String(strings.ReplaceAll(a[0].Str, a[1].Str, a[2].Str)), nil
		})},
		"INSTR": {
			over("STRING, STRING -> INTEGER").nulls().fn(instr),
			over("STRING, STRING, INTEGER -> INTEGER").nulls().fn(instr),
			over("STRING, STRING, INTEGER, INTEGER -> INTEGER").nulls().fn(instr),
		},
		"INITCAP": {over("STRING -> STRING").fn(str1(initcap))},
		"LPAD": {
			over("STRING, INTEGER, STRING -> STRING").nulls().fn(pad(true, false)),
			over("BYTES, INTEGER, BYTES -> BYTES").nulls().fn(pad(true, true)),
		},
		"RPAD": {
			over("STRING, INTEGER, STRING -> STRING").nulls().fn(pad(false, false)),
			over("BYTES, INTEGER, BYTES -> BYTES").nulls().fn(pad(false, true)),
		},
		"SPLIT": {
			over("STRING, STRING -> ARRAY<STRING>").fn(split(event.String)),
			over("BYTES, BYTES -> ARRAY<BYTES>").fn(split(bytesValue)),
		},
		"SPLIT_TO_MAP": {over("STRING, STRING, STRING -> MAP<STRING, STRING>").fn(splitToMap)},
		"CHR": {
			over("INTEGER -> STRING").fn(func(a []event.Value) (event.Value, error) {
				c := a[0].AsInt()
				if c < 0 || c > unicode.MaxRune || c >= 0xD800 && c <= 0xDFFF {
					return event.Null, nil
				}
				return event.String(string(rune(c))), nil
			}),
			over("STRING -> STRING").fn(chrEscape),
		},
		"ELT": {over("INTEGER, STRING... -> STRING").nulls().fn(func(a []event.Value) (event.Value, error) {
			if a[0].Kind == event.KindNull {
				return event.Null, nil
			}
			n := a[0].AsInt()
			if n < 1 || n > int64(len(a)-1) {
				return event.Null, nil
			}
			return a[n], nil
		})},
		"FIELD": {over("STRING, STRING... -> INTEGER").nulls().fn(func(a []event.Value) (event.Value, error) {
			if a[0].Kind == event.KindNull {
				return event.Int(0), nil
			}
			for i := 1; i < len(a); i++ {
				if a[i].Kind != event.KindNull && a[i].Str == a[0].Str {
					return event.Int(int64(i)), nil
				}
			}
			return event.Int(0), nil
		})},
		"MASK":            maskOverloads("MASK", maskAll),
		"MASK_KEEP_LEFT":  maskOverloads("MASK_KEEP_LEFT", maskKeepLeft),
		"MASK_KEEP_RIGHT": maskOverloads("MASK_KEEP_RIGHT", maskKeepRight),
		"MASK_LEFT":       maskOverloads("MASK_LEFT", maskLeft),
		"MASK_RIGHT":      maskOverloads("MASK_RIGHT", maskRight),
		"REGEXP_EXTRACT": {
			over("STRING, STRING -> STRING").with(regexpExtract(false)),
			over("STRING, STRING, INTEGER -> STRING").with(regexpExtract(false)),
		},
		"REGEXP_EXTRACT_ALL": {
			over("STRING, STRING -> ARRAY<STRING>").with(regexpExtract(true)),
			over("STRING, STRING, INTEGER -> ARRAY<STRING>").with(regexpExtract(true)),
		},
		"REGEXP_REPLACE":        {over("STRING, STRING, STRING -> STRING").with(regexpReplace)},
		"REGEXP_SPLIT_TO_ARRAY": {over("STRING, STRING -> ARRAY<STRING>").with(regexpSplit)},
		"ENCODE":                {over("STRING, STRING, STRING -> STRING").with(encodeFunc)},
		"TO_BYTES":              {over("STRING, STRING -> BYTES").with(toBytesFunc)},
		"FROM_BYTES":            {over("BYTES, STRING -> STRING").with(fromBytesFunc)},
	}
}

func concat(mk func(string) event.Value) callFn {
	return func(a []event.Value) (event.Value, error) {
		var b strings.Builder
		for _, v := range a {
			b.WriteString(v.Str) // NULLs have an empty Str: skipped
		}
		return mk(b.String()), nil
	}
}

func concatWS(mk func(string) event.Value) callFn {
	return func(a []event.Value) (event.Value, error) {
		if a[0].Kind == event.KindNull {
			return event.Null, nil
		}
		var b strings.Builder
		first := true
		for _, v := range a[1:] {
			if v.Kind == event.KindNull {
				continue
			}
			if !first {
				b.WriteString(a[0].Str)
			}
			first = false
			b.WriteString(v.Str)
		}
		return mk(b.String()), nil
	}
}

// substring is ksqlDB's SUBSTRING: 1-based, a negative start counts from
// the end, positions clamp to the string; in UTF-16 code units (bytes for
// BYTES).
func substring(isBytes bool) callFn {
	return func(a []event.Value) (event.Value, error) {
		s := a[0].Str
		n := len(s)
		if !isBytes {
			n = utf16Len(s)
		}
		pos := a[1].AsInt()
		var start int
		if pos < 0 {
			start = max(n+int(max(pos, -int64(n))), 0)
		} else {
			start = int(max(min(pos-1, int64(n)), 0))
		}
		end := n
		if len(a) > 2 {
			l := a[2].AsInt()
			end = int(max(min(int64(start)+l, int64(n)), int64(start)))
		}
		if isBytes {
			return bytesValue(s[start:end]), nil
		}
		return event.String(utf16Slice(s, start, end)), nil
	}
}

// instr is ksqlDB's INSTR(str, sub[, position[, occurrence]]): the 1-based
// position of the occurrence-th sub from position (negative: searching
// backwards from the end), 0 when absent or when str or sub is NULL.
func instr(a []event.Value) (event.Value, error) {
	for _, v := range a[2:] {
		if v.Kind == event.KindNull {
			return event.Null, nil
		}
	}
	if a[0].Kind == event.KindNull || a[1].Kind == event.KindNull {
		return event.Int(0), nil
	}
	pos, occ := int64(1), int64(1)
	if len(a) > 2 {
		pos = a[2].AsInt()
	}
	if len(a) > 3 {
		occ = a[3].AsInt()
	}
	s, sub := a[0].Str, a[1].Str
	n := int64(utf16Len(s))
	if pos > n || pos < -n || pos == 0 {
		// Position 0 makes ksqlDB search only the last character and
		// report a match there as 0: always 0.
		return event.Int(0), nil
	}
	if pos < 0 {
		rs, rsub := reverseUTF16(s), reverseUTF16(sub)
		i := ordinalIndex(rs, rsub, -pos, occ)
		if i < 0 {
			return event.Int(0), nil
		}
		return event.Int(n - (-pos) - i - int64(utf16Len(sub)) + 2), nil
	}
	i := ordinalIndex(s, sub, pos, occ)
	if i < 0 {
		return event.Int(0), nil
	}
	return event.Int(i + pos), nil
}

// ordinalIndex finds the occ-th occurrence of sub in s from 1-based
// position pos (Apache Commons' ordinalIndexOf of substring(pos-1):
// occurrences may overlap, an empty sub is at 0), relative to pos-1; -1
// if there is none.
func ordinalIndex(s, sub string, pos, occ int64) int64 {
	if occ <= 0 {
		return -1
	}
	if sub == "" {
		return 0
	}
	from := int(pos - 1)
	found := from - 1
	for k := int64(0); k < occ; k++ {
		i := utf16Index(s, sub, found+1)
		if i < 0 {
			return -1
		}
		found = i
	}
	return int64(found - from)
}

func reverseUTF16(s string) string {
	u := utf16Units(s)
	for i, j := 0, len(u)-1; i < j; i, j = i+1, j-1 {
		u[i], u[j] = u[j], u[i]
	}
	return fromUTF16(u)
}

// initcap lower-cases s and upper-cases the first character of every run
// of non-space characters; like ksqlDB it drops leading whitespace.
func initcap(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	start := true
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if start && isJavaSpace(r) && b.Len() == 0 {
			i += n
			continue
		}
		if start && !isJavaSpace(r) {
			b.WriteString(strings.ToUpper(string(r)))
			start = false
		} else {
			b.WriteRune(r)
			if isJavaSpace(r) {
				start = true
			}
		}
		i += n
	}
	return b.String()
}

// pad is ksqlDB's LPAD/RPAD: the input cut or padded with repeats of the
// padding to length; NULL when the padding is NULL or empty or the length
// negative.
func pad(left, isBytes bool) callFn {
	return func(a []event.Value) (event.Value, error) {
		if a[0].Kind == event.KindNull || a[1].Kind == event.KindNull || a[2].Kind == event.KindNull {
			return event.Null, nil
		}
		n := a[1].AsInt()
		p := a[2].Str
		if p == "" || n < 0 {
			return event.Null, nil
		}
		if n > 1<<24 {
			return event.Null, fmt.Errorf("padding to %d characters is more than sluice allows (16777216)", n)
		}
		mk := event.String
		if isBytes {
			mk = bytesValue
			return mk(string(padUnits([]byte(a[0].Str), []byte(p), int(n), left))), nil
		}
		if isASCII(a[0].Str) && isASCII(p) {
			return mk(string(padUnits([]byte(a[0].Str), []byte(p), int(n), left))), nil
		}
		in, pu := utf16Units(a[0].Str), utf16Units(p)
		return mk(fromUTF16(padUnits(in, pu, int(n), left))), nil
	}
}

func padUnits[T byte | uint16](in, p []T, n int, left bool) []T {
	if len(in) >= n {
		return in[:n]
	}
	out := make([]T, 0, n)
	fill := n - len(in)
	if !left {
		out = append(out, in...)
	}
	for i := 0; i < fill; i++ {
		out = append(out, p[i%len(p)])
	}
	if left {
		out = append(out, in...)
	}
	return out
}

// split is ksqlDB's SPLIT: every piece between delimiters, empty ones
// included; an empty delimiter splits into characters.
func split(mk func(string) event.Value) callFn {
	return func(a []event.Value) (event.Value, error) {
		s, d := a[0].Str, a[1].Str
		var parts []string
		if d == "" {
			if s == "" {
				parts = []string{""}
			} else if a[0].Kind == event.KindBytes {
				for i := 0; i < len(s); i++ {
					parts = append(parts, s[i:i+1])
				}
			} else {
				for _, r := range s {
					parts = append(parts, string(r))
				}
			}
		} else {
			parts = strings.Split(s, d)
		}
		out := make([]event.Value, len(parts))
		for i, p := range parts {
			out[i] = mk(p)
		}
		return event.Array(out), nil
	}
}

// splitToMap is SPLIT_TO_MAP(input, entryDelimiter, kvDelimiter): entries
// without the key-value delimiter are skipped, a repeated key keeps its
// last value; NULL when a delimiter is empty or both are equal.
func splitToMap(a []event.Value) (event.Value, error) {
	s, ed, kd := a[0].Str, a[1].Str, a[2].Str
	if ed == "" || kd == "" || ed == kd {
		return event.Null, nil
	}
	var out []event.Value
	for _, e := range strings.Split(s, ed) {
		if e == "" || !strings.Contains(e, kd) {
			continue
		}
		kv := strings.SplitN(e, kd, 3)
		k, v := event.String(kv[0]), event.String(kv[1])
		replaced := false
		for i := 0; i < len(out); i += 2 {
			if out[i].Str == k.Str {
				out[i+1], replaced = v, true
				break
			}
		}
		if !replaced {
			out = append(out, k, v)
		}
	}
	return event.Array(out), nil
}

// chrEscape is CHR('\u004b'): a Java \u escape, NULL for anything else.
func chrEscape(a []event.Value) (event.Value, error) {
	s := a[0].Str
	if len(s) < 6 || !strings.HasPrefix(s, `\u`) {
		return event.Null, nil
	}
	var units []uint16
	for len(s) >= 6 && strings.HasPrefix(s, `\u`) {
		var u uint16
		for _, c := range s[2:6] {
			d := strings.IndexRune("0123456789abcdef", unicode.ToLower(c))
			if d < 0 {
				return event.Null, nil
			}
			u = u<<4 | uint16(d)
		}
		units = append(units, u)
		s = s[6:]
	}
	return event.String(fromUTF16(units) + s), nil
}

// Masks: a mask character of NULL leaves that class of characters as is.
const noMask = -1

type masker struct{ upper, lower, digit, other rune }

var defaultMasker = masker{'X', 'x', 'n', '-'}

func (m masker) mask(s string) string {
	var b strings.Builder
	for _, r := range s {
		var c rune
		switch {
		case unicode.IsUpper(r):
			c = m.upper
		case unicode.IsLower(r):
			c = m.lower
		case unicode.IsDigit(r):
			c = m.digit
		default:
			c = m.other
		}
		if c == noMask {
			b.WriteRune(r)
			continue
		}
		b.WriteRune(c)
		if r > 0xFFFF && m.other != noMask { // Java masks the low surrogate too
			b.WriteRune(m.other)
		}
	}
	return b.String()
}

func maskChar(v event.Value) (rune, error) {
	if v.Kind == event.KindNull {
		return noMask, nil
	}
	if utf16Len(v.Str) != 1 {
		return 0, fmt.Errorf("invalid mask character %q: it must be one character", v.Str)
	}
	r, _ := utf8.DecodeRuneInString(v.Str)
	return r, nil
}

func maskAll(m masker, s string, _ int) string { return m.mask(s) }

func maskKeepLeft(m masker, s string, n int) string {
	k := min(n, utf16Len(s))
	return utf16Slice(s, 0, k) + m.mask(utf16Slice(s, k, utf16Len(s)))
}

func maskKeepRight(m masker, s string, n int) string {
	l := utf16Len(s)
	k := max(0, l-n)
	return m.mask(utf16Slice(s, 0, k)) + utf16Slice(s, k, l)
}

func maskLeft(m masker, s string, n int) string {
	l := utf16Len(s)
	k := min(n, l)
	return m.mask(utf16Slice(s, 0, k)) + utf16Slice(s, k, l)
}

func maskRight(m masker, s string, n int) string {
	l := utf16Len(s)
	k := max(0, l-n)
	return utf16Slice(s, 0, k) + m.mask(utf16Slice(s, k, l))
}

// maskOverloads declares MASK(s[, upper, lower, digit, other]) and the
// MASK_xxx(s, n[, upper, lower, digit, other]) variants.
func maskOverloads(name string, f func(m masker, s string, n int) string) []*overload {
	withN := name != "MASK"
	run := func(a []event.Value) (event.Value, error) {
		n, rest := 0, a[1:]
		if withN {
			if a[1].Kind == event.KindNull {
				return event.Null, nil
			}
			if a[1].AsInt() < 0 {
				return event.Null, fmt.Errorf("function %s requires a non-negative number of characters to mask or skip", strings.ToLower(name))
			}
			n, rest = int(a[1].AsInt()), a[2:]
		}
		m := defaultMasker
		if len(rest) == 4 {
			var err error
			for i, dst := range []*rune{&m.upper, &m.lower, &m.digit, &m.other} {
				if *dst, err = maskChar(rest[i]); err != nil {
					return event.Null, err
				}
			}
		}
		if a[0].Kind == event.KindNull {
			return event.Null, nil
		}
		return event.String(f(m, a[0].Str, n)), nil
	}
	if withN {
		return []*overload{
			over("STRING, INTEGER -> STRING").nulls().fn(run),
			over("STRING, INTEGER, STRING, STRING, STRING, STRING -> STRING").nulls().fn(run),
		}
	}
	return []*overload{
		over("STRING -> STRING").nulls().fn(run),
		over("STRING, STRING, STRING, STRING, STRING -> STRING").nulls().fn(run),
	}
}
