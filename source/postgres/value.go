package postgres

// Text-format decoding of PostgreSQL values into event.Values, shared by the
// snapshot (COPY text) and streaming (pgoutput text tuples) paths. Every
// connection runs with TimeZone=UTC, DateStyle=ISO, IntervalStyle=iso_8601,
// extra_float_digits=3, bytea_output=hex and lc_monetary=C, so each type has
// exactly one text form to parse.
//
// The decoders never allocate for scalars: strings are substrings of the
// caller's row string (which the caller allocated once per row or batch).
// The snapshot and the stream decode into their freshly allocated rows with
// decodeInto, which stores only the fields a kind uses (no pointer for a
// number), and parse integers and plain float8 text in place; both fast
// paths are tested against strconv and decodeText (copyfast_test.go).

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/sluice-dev/sluice/event"
)

// decoder selects the text parser of a column.
type decoder uint8

const (
	decString decoder = iota // the text as is (text, varchar, json, uuid, enums, unknown types…)
	decBool
	decInt
	decNumeric
	decFloat32
	decFloat64
	decBytea
	decDate
	decTime
	decTimeTZ
	decTimestamp
	decTimestampTZ
	decInterval
	decMoney
	decArray
)

// colType is how to decode one column's text.
type colType struct {
	dec   decoder
	elem  *colType // decArray: element type
	delim byte     // decArray: element delimiter (',' for all but box)
}

// Infinity mappings. PostgreSQL's 'infinity' and '-infinity' dates and
// timestamps have no epoch offset; they map to the extreme values of the
// representation, so that they still sort correctly.
const (
	DateInfinity          = math.MaxInt32
	DateNegInfinity       = math.MinInt32
	TimestampInfinity     = math.MaxInt64
	TimestampNegInfinity  = math.MinInt64
	microsPerSecond       = 1_000_000
	microsPerDay          = 86_400 * microsPerSecond
	debeziumDaysPerMonth  = 365.25 / 12
	maxArrayNestingLevels = 6 // PostgreSQL's MAXDIM
)

var errSyntax = errors.New("invalid syntax")

// decodeText converts the text form s of a value of type t.
func decodeText(t *colType, s string) (event.Value, error) {
	switch t.dec {
	case decString:
		return event.String(s), nil
	case decBool:
		switch s {
		case "t", "true":
			return event.Bool(true), nil
		case "f", "false":
			return event.Bool(false), nil
		}
		return event.Null, errSyntax
	case decInt:
		i, ok := parseInt64(s)
		if !ok {
			return event.Null, errSyntax
		}
		return event.Int(i), nil
	case decNumeric:
		if !validNumeric(s) {
			return event.Null, errSyntax
		}
		return event.Decimal(s), nil
	case decFloat32:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return event.Null, errSyntax
		}
		return event.Float(f), nil
	case decFloat64:
		f, ok := parseFloat64(s)
		if !ok {
			return event.Null, errSyntax
		}
		return event.Float(f), nil
	case decBytea:
		return decodeBytea(s)
	case decDate:
		d, err := parseDate(s)
		if err != nil {
			return event.Null, err
		}
		return event.Int(d), nil
	case decTime:
		us, n, err := parseClock(s)
		if err != nil || n != len(s) {
			return event.Null, errSyntax
		}
		return event.Int(us), nil
	case decTimeTZ:
		str, err := timeTZToUTC(s)
		if err != nil {
			return event.Null, err
		}
		return event.String(str), nil
	case decTimestamp, decTimestampTZ:
		us, err := parseTimestamp(s, t.dec == decTimestampTZ)
		if err != nil {
			return event.Null, err
		}
		return event.Int(us), nil
	case decInterval:
		return parseInterval(s)
	case decMoney:
		return parseMoney(s)
	case decArray:
		if t.elem == nil {
			return event.Null, errors.New("array without element type")
		}
		return parseArray(t, s)
	}
	return event.Null, fmt.Errorf("unknown decoder %d", t.dec)
}

// decodeInto is decodeText writing into *dst, which must hold the zero
// Value (a freshly allocated row): only the fields the value's kind uses
// are stored, so that an integer, float, boolean or timestamp stores no
// pointer and a string one. Rows are slices of a heap slab, and while a
// collection runs every pointer stored there goes through the write
// barrier; a whole-Value store (Str and the array pointer) paid two.
// The other kinds go through decodeText, whose 40-byte result is returned
// by value and stored whole: booleans and dates are decoded in place too
// (their by-value path took about twice the time, BenchmarkDecodeIntoBoolDate).
func decodeInto(dst *event.Value, t *colType, s string) error {
	switch t.dec {
	case decString:
		dst.Kind, dst.Str = event.KindString, s
		return nil
	case decInt:
		i, ok := parseInt64(s)
		if !ok {
			return errSyntax
		}
		dst.Kind, dst.Num = event.KindInt, uint64(i)
		return nil
	case decFloat64:
		f, ok := parseFloat64(s)
		if !ok {
			return errSyntax
		}
		dst.Kind, dst.Num = event.KindFloat, math.Float64bits(f)
		return nil
	case decTimestamp, decTimestampTZ:
		us, err := parseTimestamp(s, t.dec == decTimestampTZ)
		if err != nil {
			return err
		}
		dst.Kind, dst.Num = event.KindInt, uint64(us)
		return nil
	case decNumeric:
		if !validNumeric(s) {
			return errSyntax
		}
		dst.Kind, dst.Str = event.KindDecimal, s
		return nil
	case decBool:
		switch s {
		case "t", "true":
			dst.Kind, dst.Num = event.KindBool, 1
			return nil
		case "f", "false":
			dst.Kind = event.KindBool
			return nil
		}
		return errSyntax
	case decDate:
		d, err := parseDate(s)
		if err != nil {
			return err
		}
		dst.Kind, dst.Num = event.KindInt, uint64(d)
		return nil
	}
	v, err := decodeText(t, s)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

// parseInt64 is strconv.ParseInt(s, 10, 64) without its error value:
// up to 18 digits after an optional minus sign (which cannot overflow) are
// parsed in place; anything else goes to strconv.
func parseInt64(s string) (int64, bool) {
	i := 0
	if len(s) > 0 && s[0] == '-' {
		i = 1
	}
	if n := len(s) - i; n == 0 || n > 18 {
		return parseInt64Slow(s)
	}
	var v int64
	for ; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return parseInt64Slow(s)
		}
		v = v*10 + int64(d)
	}
	if s[0] == '-' {
		v = -v
	}
	return v, true
}

// exactPow10 holds the powers of ten a float64 represents exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseFloat64 is strconv.ParseFloat(s, 64) without its error value. A
// plain decimal ([-]digits[.digits], the form float8 output takes between
// 1e-4 and 1e15) of at most 15 digits is m / 10^k with m and 10^k exact
// float64s, so one division, correctly rounded, gives the correctly
// rounded value (Clinger's fast path, which strconv also takes, after a
// general scan of the text); anything else goes to strconv.
func parseFloat64(s string) (float64, bool) {
	i := 0
	if len(s) > 0 && s[0] == '-' {
		i = 1
	}
	var m uint64
	digits, frac := 0, -1
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
		case c == '.' && frac < 0:
			frac = digits
		default:
			return parseFloat64Slow(s)
		}
	}
	if digits == 0 || digits > 15 {
		return parseFloat64Slow(s)
	}
	f := float64(m)
	if frac >= 0 {
		f /= exactPow10[digits-frac]
	}
	if s[0] == '-' {
		f = -f
	}
	return f, true
}

func parseFloat64Slow(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func parseInt64Slow(s string) (int64, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// validNumeric accepts PostgreSQL's numeric output: an optional sign,
// digits with an optional fraction, or NaN / Infinity / -Infinity.
func validNumeric(s string) bool {
	switch s {
	case "NaN", "Infinity", "-Infinity":
		return true
	}
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodeBytea decodes the hex format \x0a1b….
func decodeBytea(s string) (event.Value, error) {
	if len(s) < 2 || s[0] != '\\' || s[1] != 'x' || len(s)%2 != 0 {
		return event.Null, errors.New("bytea is not in hex format")
	}
	n := (len(s) - 2) / 2
	if n == 0 {
		return event.Value{Kind: event.KindBytes}, nil
	}
	b := make([]byte, n)
	for i := 0; i < n; i++ {
		hi, ok1 := unhex(s[2+2*i])
		lo, ok2 := unhex(s[3+2*i])
		if !ok1 || !ok2 {
			return event.Null, errors.New("bytea has a non-hex digit")
		}
		b[i] = hi<<4 | lo
	}
	// b is never written again: share it instead of copying.
	return event.Value{Kind: event.KindBytes, Str: unsafe.String(&b[0], n)}, nil
}

// atoiN parses exactly the digits of s[i:j].
func atoiN(s string, i, j int) (int64, bool) {
	if i >= j || j > len(s) {
		return 0, false
	}
	var n int64
	for ; i < j; i++ {
		c := s[i]
		if c < '0' || c > '9' || n > math.MaxInt64/10-10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// digitsEnd returns the index after the run of digits starting at i.
func digitsEnd(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// (astronomical year numbering: 1 BC is year 0).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	var era int64
	if y >= 0 {
		era = y / 400
	} else {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// parseYMD parses YYYY-MM-DD at the start of s (the year may have more than
// four digits) and returns days since epoch and the bytes consumed; a " BC"
// suffix is handled by the callers via bc.
func parseYMD(s string) (y, m, d int64, n int, ok bool) {
	e := digitsEnd(s, 0)
	if e < 4 || e > 9 || e+6 > len(s) || s[e] != '-' || s[e+3] != '-' {
		return 0, 0, 0, 0, false
	}
	y, ok1 := atoiN(s, 0, e)
	m, ok2 := atoiN(s, e+1, e+3)
	d, ok3 := atoiN(s, e+4, e+6)
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, 0, 0, 0, false
	}
	return y, m, d, e + 6, true
}

// parseDate parses an ISO date: days since 1970-01-01.
func parseDate(s string) (int64, error) {
	switch s {
	case "infinity":
		return DateInfinity, nil
	case "-infinity":
		return DateNegInfinity, nil
	}
	y, m, d, n, ok := parseYMD(s)
	if !ok {
		return 0, errSyntax
	}
	switch s[n:] {
	case "":
	case " BC":
		y = 1 - y
	default:
		return 0, errSyntax
	}
	return daysFromCivil(y, m, d), nil
}

// parseClock parses HH:MM:SS[.ffffff] at the start of s into microseconds
// since midnight and returns the bytes consumed.
func parseClock(s string) (int64, int, error) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0, errSyntax
	}
	h, ok1 := atoiN(s, 0, 2)
	mi, ok2 := atoiN(s, 3, 5)
	se, ok3 := atoiN(s, 6, 8)
	if !ok1 || !ok2 || !ok3 || h > 24 || mi > 59 || se > 60 {
		return 0, 0, errSyntax
	}
	us := ((h*60+mi)*60 + se) * microsPerSecond
	n := 8
	if n < len(s) && s[n] == '.' {
		e := digitsEnd(s, n+1)
		if e == n+1 || e-n-1 > 6 {
			return 0, 0, errSyntax
		}
		frac, _ := atoiN(s, n+1, e)
		for k := e - n - 1; k < 6; k++ {
			frac *= 10
		}
		us += frac
		n = e
	}
	return us, n, nil
}

// parseOffset parses a zone offset +HH[:MM[:SS]] (or -…) that makes up all
// of s, in seconds east of UTC.
func parseOffset(s string) (int64, error) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, errSyntax
	}
	h, ok := atoiN(s, 1, 3)
	if !ok {
		return 0, errSyntax
	}
	off := h * 3600
	rest := s[3:]
	for mul := int64(60); rest != ""; mul /= 60 {
		if mul == 0 || len(rest) < 3 || rest[0] != ':' {
			return 0, errSyntax
		}
		v, ok := atoiN(rest, 1, 3)
		if !ok {
			return 0, errSyntax
		}
		off += v * mul
		rest = rest[3:]
	}
	if s[0] == '-' {
		off = -off
	}
	return off, nil
}

// timeTZToUTC normalises "HH:MM:SS[.ffffff]+hh[:mm[:ss]]" to UTC as
// Debezium's ZonedTime writes it: "HH:MM:SS[.f…]Z", the fraction without
// trailing zeros.
func timeTZToUTC(s string) (string, error) {
	us, n, err := parseClock(s)
	if err != nil {
		return "", err
	}
	off, err := parseOffset(s[n:])
	if err != nil {
		return "", err
	}
	us -= off * microsPerSecond
	us %= microsPerDay
	if us < 0 {
		us += microsPerDay
	}
	return formatClockZ(us), nil
}

func formatClockZ(us int64) string {
	var b [24]byte
	sec := us / microsPerSecond
	frac := us % microsPerSecond
	h, m, s := sec/3600, sec/60%60, sec%60
	out := append(b[:0], byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10))
	if frac != 0 {
		digits := 6
		for frac%10 == 0 {
			frac /= 10
			digits--
		}
		out = append(out, '.')
		start := len(out)
		for i := 0; i < digits; i++ {
			out = append(out, '0')
		}
		for i := len(out) - 1; i >= start; i-- {
			out[i] = byte('0' + frac%10)
			frac /= 10
		}
	}
	out = append(out, 'Z')
	return string(out)
}

// parseTimestamp parses "YYYY-MM-DD HH:MM:SS[.ffffff][+zz[:zz]][ BC]" into
// microseconds since the epoch (UTC for timestamptz).
func parseTimestamp(s string, tz bool) (int64, error) {
	switch s {
	case "infinity":
		return TimestampInfinity, nil
	case "-infinity":
		return TimestampNegInfinity, nil
	}
	bc := false
	if strings.HasSuffix(s, " BC") {
		bc = true
		s = s[:len(s)-3]
	}
	y, m, d, n, ok := parseYMD(s)
	if !ok || n >= len(s) || s[n] != ' ' {
		return 0, errSyntax
	}
	if bc {
		y = 1 - y
	}
	us, k, err := parseClock(s[n+1:])
	if err != nil {
		return 0, err
	}
	rest := s[n+1+k:]
	var off int64
	if tz {
		if off, err = parseOffset(rest); err != nil {
			return 0, err
		}
	} else if rest != "" {
		return 0, errSyntax
	}
	days := daysFromCivil(y, m, d)
	return days*microsPerDay + us - off*microsPerSecond, nil
}

// parseInterval parses IntervalStyle iso_8601 output ("P1Y2M3DT4H5M6.5S",
// "PT0S", parts possibly negative) into Debezium's MicroDuration (months
// count 365.25/12 days) and Debezium's ISO string with every field present.
func parseInterval(s string) (event.Value, error) {
	if len(s) < 3 || s[0] != 'P' {
		return event.Null, errSyntax
	}
	var years, months, days, hours, minutes int64
	var secNeg bool
	var secInt, secFrac int64 // seconds part: integer and micros, unsigned
	secDigits := 0
	var secText string
	timePart := false
	seen := 0
	for i := 1; i < len(s); {
		if s[i] == 'T' {
			if timePart {
				return event.Null, errSyntax
			}
			timePart = true
			i++
			continue
		}
		start := i
		neg := false
		if s[i] == '-' {
			neg = true
			i++
		}
		e := digitsEnd(s, i)
		v, ok := atoiN(s, i, e)
		if !ok || v > math.MaxInt32*int64(24*3600) {
			return event.Null, errSyntax
		}
		var frac int64
		fd := 0
		if e < len(s) && s[e] == '.' {
			fe := digitsEnd(s, e+1)
			fd = fe - e - 1
			if fd == 0 || fd > 6 {
				return event.Null, errSyntax
			}
			frac, _ = atoiN(s, e+1, fe)
			e = fe
		}
		if e >= len(s) {
			return event.Null, errSyntax
		}
		unit := s[e]
		i = e + 1
		if fd > 0 && !(timePart && unit == 'S') {
			return event.Null, errSyntax
		}
		sv := v
		if neg {
			sv = -v
		}
		seen++
		switch {
		case !timePart && unit == 'Y':
			years = sv
		case !timePart && unit == 'M':
			months = sv
		case !timePart && unit == 'D':
			days = sv
		case timePart && unit == 'H':
			hours = sv
		case timePart && unit == 'M':
			minutes = sv
		case timePart && unit == 'S':
			secNeg, secInt, secFrac, secDigits = neg, v, frac, fd
			secText = s[start:e]
		default:
			return event.Null, errSyntax
		}
	}
	if seen == 0 {
		return event.Null, errSyntax
	}
	for k := secDigits; k < 6; k++ {
		secFrac *= 10
	}
	seconds := float64(secInt) + float64(secFrac)/1e6
	if secNeg {
		seconds = -seconds
	}
	// Debezium: MicroDuration.durationMicros(y, m, d, h, mi, seconds, 30.4375).
	numberOfDays := float64(years*12+months)*debeziumDaysPerMonth + float64(days)
	numberOfSeconds := (((numberOfDays*24+float64(hours))*60)+float64(minutes))*60 + seconds
	micros := int64(numberOfSeconds * 1e6)

	// Debezium's Interval.toIsoString: all fields, seconds without trailing
	// zeros.
	if secText == "" {
		secText = "0"
	} else if strings.IndexByte(secText, '.') >= 0 {
		secText = strings.TrimRight(strings.TrimRight(secText, "0"), ".")
		if secText == "-0" || secText == "" {
			secText = "0"
		}
	}
	var b strings.Builder
	b.Grow(32)
	b.WriteByte('P')
	b.WriteString(strconv.FormatInt(years, 10))
	b.WriteByte('Y')
	b.WriteString(strconv.FormatInt(months, 10))
	b.WriteByte('M')
	b.WriteString(strconv.FormatInt(days, 10))
	b.WriteString("DT")
	b.WriteString(strconv.FormatInt(hours, 10))
	b.WriteByte('H')
	b.WriteString(strconv.FormatInt(minutes, 10))
	b.WriteByte('M')
	b.WriteString(secText)
	b.WriteByte('S')
	return event.Interval(micros, b.String()), nil
}

// parseMoney turns lc_monetary=C output ("$1,234.56", "-$0.50") into a
// decimal with two fraction digits.
func parseMoney(s string) (event.Value, error) {
	var b [32]byte
	out := b[:0]
	neg, dot, digits := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if len(out) >= len(b)-1 {
				return event.Null, errSyntax
			}
			out = append(out, c)
			digits++
		case c == '.' && !dot:
			dot = true
			out = append(out, c)
		case c == '-' || c == '(':
			neg = true
		case c == '$' || c == ',' || c == ' ' || c == ')':
		default:
			return event.Null, errSyntax
		}
	}
	if digits == 0 {
		return event.Null, errSyntax
	}
	str := string(out)
	if neg {
		str = "-" + str
	}
	return event.Decimal(str), nil
}

// parseArray parses PostgreSQL's array text ("{1,2,NULL}", "{{1,2},{3,4}}",
// "[0:1]={a,b}", quoted elements with backslash escapes). Multi-dimensional
// arrays are flattened in row-major order: event.Column.Elem describes a
// scalar, and Debezium's JSON has no nested arrays for PostgreSQL either.
func parseArray(t *colType, s string) (event.Value, error) {
	if len(s) > 0 && s[0] == '[' {
		// Explicit bounds: "[1:2][3:4]={...}".
		eq := strings.Index(s, "={")
		if eq < 0 {
			return event.Null, errSyntax
		}
		s = s[eq+1:]
	}
	if len(s) < 2 || s[0] != '{' {
		return event.Null, errSyntax
	}
	delim := t.delim
	if delim == 0 {
		delim = ','
	}
	elems := make([]event.Value, 0, 8)
	depth := 0
	i := 0
	expectElem := false
	for i < len(s) {
		c := s[i]
		switch {
		case c == '{':
			depth++
			if depth > maxArrayNestingLevels {
				return event.Null, errSyntax
			}
			i++
			expectElem = false
			continue
		case c == '}':
			if depth == 0 || expectElem {
				return event.Null, errSyntax
			}
			depth--
			i++
			if depth == 0 {
				if i != len(s) {
					return event.Null, errSyntax
				}
				return event.Array(elems), nil
			}
			continue
		case c == delim:
			if expectElem {
				return event.Null, errSyntax
			}
			expectElem = true
			i++
			continue
		}
		if depth == 0 {
			return event.Null, errSyntax
		}
		// One element, quoted or not.
		var raw string
		quoted := false
		if c == '"' {
			quoted = true
			j := i + 1
			esc := false
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					esc = true
					j++
				}
				j++
			}
			if j >= len(s) {
				return event.Null, errSyntax
			}
			raw = s[i+1 : j]
			if esc {
				raw = unescapeArray(raw)
			}
			i = j + 1
		} else {
			j := i
			esc := false
			for j < len(s) && s[j] != delim && s[j] != '}' && s[j] != '{' {
				if s[j] == '\\' {
					esc = true
					j++
				}
				j++
			}
			if j > len(s) {
				return event.Null, errSyntax
			}
			raw = strings.TrimSpace(s[i:j])
			if esc {
				raw = unescapeArray(raw)
			}
			i = j
		}
		expectElem = false
		if !quoted && raw == "NULL" {
			elems = append(elems, event.Null)
			continue
		}
		v, err := decodeText(t.elem, raw)
		if err != nil {
			return event.Null, fmt.Errorf("array element: %w", err)
		}
		elems = append(elems, v)
	}
	return event.Null, errSyntax
}

func unescapeArray(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
