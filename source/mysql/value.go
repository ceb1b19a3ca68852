package mysql

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"golang.org/x/text/encoding/charmap"

	"github.com/sluice-dev/sluice/event"
)

// vkind is how a column's values are decoded, from both the snapshot's text
// protocol and the binlog row image.
type vkind uint8

const (
	vInt       vkind = iota // signed integers, fit int64
	vUint                   // unsigned tinyint..int: int64
	vUint64                 // bigint unsigned: decimal text (may exceed int64)
	vFloat32                // float
	vFloat64                // double
	vDecimal                // decimal(p,s): exact text
	vString                 // char/varchar/text in a character set
	vBytes                  // binary/varbinary/blob
	vJSON                   // JSON text (MySQL json, MariaDB longtext with json_valid)
	vEnum                   // enum: its label
	vSet                    // set: labels joined by ","
	vBool                   // bit(1)
	vBits                   // bit(n), n > 1: big-endian bytes
	vDate                   // days since epoch
	vTime                   // microseconds (may be negative or > 24h)
	vDatetime               // microseconds since epoch, no zone
	vTimestamp              // microseconds since epoch, UTC
	vYear                   // int
)

// charset is how a string column's bytes become UTF-8.
type charset uint8

const (
	csUTF8   charset = iota // utf8mb4, utf8mb3, ascii: passed through (invalid bytes become U+FFFD)
	csLatin1                // MySQL's latin1 is Windows-1252
	csBinary
)

// colType is one column's decoding.
type colType struct {
	kind    vkind
	cs      charset
	size    int      // bit(n): n; binary(n): n (right-padded with zero bytes); mediumint unsigned: 24
	padBin  bool     // binary(n): the binlog drops trailing zero bytes
	labels  []string // enum and set labels
	numeric bool     // key literal may be written unquoted
}

var errZeroDate = errors.New("zero date")

// fromText decodes the text protocol's value (nil is NULL).
func (ct *colType) fromText(b []byte) (event.Value, error) {
	if b == nil {
		return event.Null, nil
	}
	switch ct.kind {
	case vInt, vUint, vYear:
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return event.Null, fmt.Errorf("integer %q: %w", b, err)
		}
		return event.Int(n), nil
	case vUint64, vDecimal:
		if !isDecimalText(b) {
			return event.Null, fmt.Errorf("decimal %q is malformed", b)
		}
		return event.Decimal(string(b)), nil
	case vFloat32:
		f, err := strconv.ParseFloat(string(b), 32)
		if err != nil {
			return event.Null, fmt.Errorf("float %q: %w", b, err)
		}
		return event.Float(float64(float32(f))), nil
	case vFloat64:
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return event.Null, fmt.Errorf("double %q: %w", b, err)
		}
		return event.Float(f), nil
	case vString, vEnum, vSet:
		// The connection's character set is utf8mb4: the server converts.
		return event.String(string(b)), nil
	case vJSON:
		return event.Value{Kind: event.KindString, Str: string(b)}, nil
	case vBytes:
		return event.Bytes(b), nil
	case vBool:
		if len(b) != 1 {
			return event.Null, fmt.Errorf("bit(1) value has %d bytes", len(b))
		}
		return event.Bool(b[0] != 0), nil
	case vBits:
		return event.Bytes(padLeft(b, (ct.size+7)/8)), nil
	case vDate:
		d, err := parseDate(b)
		if errors.Is(err, errZeroDate) {
			return event.Null, nil
		}
		return event.Int(d), err
	case vTime:
		us, err := parseTime(b)
		return event.Int(us), err
	case vDatetime, vTimestamp:
		us, err := parseDatetime(b)
		if errors.Is(err, errZeroDate) {
			return event.Null, nil
		}
		return event.Int(us), err
	}
	return event.Null, fmt.Errorf("no decoder for kind %d", ct.kind)
}

// fromBinlog decodes a value as go-mysql's row decoder returns it (strings
// and byte slices may alias the event buffer: they are copied).
func (ct *colType) fromBinlog(v any) (event.Value, error) {
	if v == nil {
		return event.Null, nil
	}
	switch ct.kind {
	case vInt:
		n, ok := signed(v)
		if !ok {
			break
		}
		return event.Int(n), nil
	case vUint, vUint64:
		u, ok := unsigned(v)
		if !ok {
			break
		}
		if ct.size == 24 {
			u &= 0xffffff // mediumint is decoded as a sign-extended int32
		}
		if ct.kind == vUint64 {
			return event.Decimal(strconv.FormatUint(u, 10)), nil
		}
		return event.Int(int64(u)), nil
	case vYear:
		if n, ok := v.(int); ok {
			return event.Int(int64(n)), nil
		}
	case vFloat32:
		if f, ok := v.(float32); ok {
			return event.Float(float64(f)), nil
		}
	case vFloat64:
		if f, ok := v.(float64); ok {
			return event.Float(f), nil
		}
	case vDecimal:
		if s, ok := v.(string); ok && isDecimalText([]byte(s)) {
			return event.Decimal(strings.Clone(s)), nil
		}
	case vString, vJSON:
		b, ok := rawBytes(v)
		if !ok {
			break
		}
		return event.String(ct.text(b)), nil
	case vBytes:
		b, ok := rawBytes(v)
		if !ok {
			break
		}
		if ct.padBin && len(b) < ct.size {
			b = append(append(make([]byte, 0, ct.size), b...), make([]byte, ct.size-len(b))...)
		}
		return event.Bytes(b), nil
	case vEnum:
		n, ok := v.(int64)
		if !ok {
			break
		}
		if n == 0 {
			return event.String(""), nil // MySQL's error value for an invalid label
		}
		if n < 0 || int(n) > len(ct.labels) {
			return event.Null, fmt.Errorf("enum index %d out of range (%d labels)", n, len(ct.labels))
		}
		return event.String(ct.labels[n-1]), nil
	case vSet:
		n, ok := v.(int64)
		if !ok {
			break
		}
		var b strings.Builder
		for i, l := range ct.labels {
			if i < 64 && uint64(n)&(1<<i) != 0 {
				if b.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(l)
			}
		}
		return event.String(b.String()), nil
	case vBool:
		if n, ok := v.(int64); ok {
			return event.Bool(n != 0), nil
		}
	case vBits:
		if n, ok := v.(int64); ok {
			nb := (ct.size + 7) / 8
			out := make([]byte, nb)
			for i := range nb {
				out[nb-1-i] = byte(uint64(n) >> (8 * i))
			}
			return event.Bytes(out), nil
		}
	case vDatetime, vTimestamp:
		// With ParseTime, go-mysql builds a time.Time (UTC fields for
		// DATETIME, the instant for TIMESTAMP) for dates from 1970 on
		// and formats the others.
		if tm, ok := v.(time.Time); ok {
			return event.Int(tm.UnixMicro()), nil
		}
		if s, ok := v.(string); ok {
			return ct.fromText([]byte(s))
		}
	case vDate, vTime:
		if s, ok := v.(string); ok {
			return ct.fromText([]byte(s))
		}
	}
	return event.Null, fmt.Errorf("binlog value of Go type %T does not fit the column", v)
}

// fromImage converts a generic value of imageDecoder (binlog type bt) to
// the column's value: the value fromBinlog gives for go-mysql's decoding of
// the same bytes. ok is false for a value fromImage does not convert (a
// binlog type the column's kind never has): the caller decodes the event
// with go-mysql instead.
func (ct *colType) fromImage(bt byte, v event.Value) (_ event.Value, ok bool, _ error) {
	if v.Kind == event.KindNull {
		return v, true, nil
	}
	switch ct.kind {
	case vInt, vYear:
		if v.Kind == event.KindInt {
			return v, true, nil
		}
	case vUint, vUint64:
		if v.Kind != event.KindInt {
			break
		}
		u := v.Num
		switch bt {
		case gomysql.MYSQL_TYPE_TINY:
			u &= 0xff
		case gomysql.MYSQL_TYPE_SHORT:
			u &= 0xffff
		case gomysql.MYSQL_TYPE_INT24, gomysql.MYSQL_TYPE_LONG:
			u &= 0xffffffff
		case gomysql.MYSQL_TYPE_LONGLONG:
		default:
			return event.Null, false, nil
		}
		if ct.size == 24 {
			u &= 0xffffff
		}
		if ct.kind == vUint64 {
			return event.Decimal(strconv.FormatUint(u, 10)), true, nil
		}
		return event.Int(int64(u)), true, nil
	case vFloat32, vFloat64:
		if v.Kind == event.KindFloat {
			return v, true, nil
		}
	case vDecimal:
		if v.Kind == event.KindDecimal {
			return v, true, nil
		}
	case vString, vJSON:
		if v.Kind == event.KindString {
			return event.Value{Kind: event.KindString, Str: ct.textString(v.Str)}, true, nil
		}
	case vBytes:
		if v.Kind != event.KindString {
			break
		}
		s := v.Str
		if ct.padBin && len(s) < ct.size {
			b := make([]byte, ct.size)
			copy(b, s)
			return event.Bytes(b), true, nil
		}
		return event.Value{Kind: event.KindBytes, Str: s}, true, nil
	case vEnum:
		if v.Kind != event.KindInt {
			break
		}
		n := int64(v.Num)
		if n == 0 {
			return event.String(""), true, nil // MySQL's error value for an invalid label
		}
		if n < 0 || n > int64(len(ct.labels)) {
			return event.Null, true, fmt.Errorf("enum index %d out of range (%d labels)", n, len(ct.labels))
		}
		return event.String(ct.labels[n-1]), true, nil
	case vSet:
		if v.Kind != event.KindInt {
			break
		}
		return event.String(ct.setText(v.Num)), true, nil
	case vBool:
		if v.Kind == event.KindInt {
			return event.Bool(v.Num != 0), true, nil
		}
	case vBits:
		if v.Kind == event.KindInt {
			nb := (ct.size + 7) / 8
			out := make([]byte, nb)
			for i := range min(nb, 8) {
				out[nb-1-i] = byte(v.Num >> (8 * i))
			}
			return event.Bytes(out), true, nil
		}
	case vDate, vTime, vDatetime, vTimestamp:
		switch v.Kind {
		case event.KindInt:
			return v, true, nil
		case event.KindString:
			x, err := ct.fromText([]byte(v.Str))
			return x, true, err
		}
	}
	return event.Null, false, nil
}

// keeps reports the common cases of fromImage, where the image decoder's
// value v is the column's already; ascii says that every string of v's
// event is ASCII.
func (ct *colType) keeps(v event.Value, ascii bool) bool {
	switch ct.kind {
	case vInt, vYear, vDatetime, vTimestamp, vDate, vTime:
		return v.Kind == event.KindInt || v.Kind == event.KindNull
	case vFloat32, vFloat64:
		return v.Kind == event.KindFloat || v.Kind == event.KindNull
	case vString, vJSON:
		// ASCII reads the same in every character set sluice decodes.
		return v.Kind == event.KindNull || v.Kind == event.KindString && (ascii || ct.cs == csUTF8 && utf8.ValidString(v.Str))
	case vDecimal:
		return v.Kind == event.KindDecimal || v.Kind == event.KindNull
	}
	return false
}

// keepsAll reports whether keeps holds for every value of a column whose
// values have the kinds in mask (bit 1<<Kind) and whose event's strings
// are ASCII if ascii is set.
func (ct *colType) keepsAll(mask uint16, ascii bool) bool {
	const null, num, str, dec = 1 << event.KindNull, 1 << event.KindInt, 1 << event.KindString, 1 << event.KindDecimal
	const float = 1 << event.KindFloat
	if mask&^null == 0 {
		return true // NULL stays NULL
	}
	switch ct.kind {
	case vInt, vYear, vDatetime, vTimestamp, vDate, vTime:
		return mask&^(null|num) == 0
	case vFloat32, vFloat64:
		return mask&^(null|float) == 0
	case vString, vJSON:
		return ascii && mask&^(null|str) == 0
	case vDecimal:
		return mask&^(null|dec) == 0
	}
	return false
}

// setText joins the labels of a SET bitmap.
func (ct *colType) setText(n uint64) string {
	if n&(n-1) == 0 { // one label (or none): no new string
		for i, l := range ct.labels {
			if i < 64 && n == 1<<i {
				return l
			}
		}
		if n == 0 {
			return ""
		}
	}
	var b strings.Builder
	for i, l := range ct.labels {
		if i < 64 && n&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l)
		}
	}
	return b.String()
}

// textString is text for a string the decoder may keep as it is.
func (ct *colType) textString(s string) string {
	switch ct.cs {
	case csLatin1:
		if t, err := charmap.Windows1252.NewDecoder().String(s); err == nil {
			return t
		}
	case csUTF8:
		if !utf8.ValidString(s) {
			return strings.ToValidUTF8(s, "\uFFFD")
		}
	}
	return s
}

// text converts a string column's bytes to UTF-8.
func (ct *colType) text(b []byte) string {
	if ct.cs == csLatin1 {
		s, err := charmap.Windows1252.NewDecoder().Bytes(b)
		if err == nil {
			return string(s)
		}
	}
	if ct.cs == csUTF8 && !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

func signed(v any) (int64, bool) {
	switch n := v.(type) {
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}

// unsigned reinterprets the binlog's signed decoding at the column's width.
func unsigned(v any) (uint64, bool) {
	switch n := v.(type) {
	case int8:
		return uint64(uint8(n)), true
	case int16:
		return uint64(uint16(n)), true
	case int32:
		return uint64(uint32(n)), true
	case int64:
		return uint64(n), true
	}
	return 0, false
}

func rawBytes(v any) ([]byte, bool) {
	switch b := v.(type) {
	case []byte:
		return append([]byte(nil), b...), true
	case string:
		return []byte(b), true
	}
	return nil, false
}

func padLeft(b []byte, n int) []byte {
	if len(b) >= n {
		return append([]byte(nil), b...)
	}
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out
}

// isDecimalText reports whether b is [-]digits[.digits].
func isDecimalText(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	digits, dot := 0, false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0:
			dot = true
		default:
			return false
		}
	}
	return digits > 0 && b[len(b)-1] != '.'
}

// num parses a run of exactly n digits at b[i:].
func num(b []byte, i, n int) (int64, bool) {
	if i+n > len(b) {
		return 0, false
	}
	var v int64
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// frac parses ".ffffff" (1 to 6 digits) at b[i:] as microseconds; it
// returns the index after it.
func frac(b []byte, i int) (int64, int, bool) {
	if i == len(b) {
		return 0, i, true
	}
	if b[i] != '.' {
		return 0, i, false
	}
	i++
	var us int64
	n := 0
	for ; i < len(b) && n < 6; i, n = i+1, n+1 {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, i, false
		}
		us = us*10 + int64(c-'0')
	}
	if n == 0 || i != len(b) {
		return 0, i, false
	}
	for ; n < 6; n++ {
		us *= 10
	}
	return us, i, true
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

var monthDays = [13]int64{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func dateParts(b []byte) (y, m, d int64, err error) {
	var ok1, ok2, ok3 bool
	y, ok1 = num(b, 0, 4)
	m, ok2 = num(b, 5, 2)
	d, ok3 = num(b, 8, 2)
	if !ok1 || !ok2 || !ok3 || len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, fmt.Errorf("date %q is malformed", b)
	}
	if m == 0 || d == 0 {
		// '0000-00-00' and dates with zero parts (allowed without
		// NO_ZERO_IN_DATE) have no calendar day: NULL, as Debezium does.
		return 0, 0, 0, errZeroDate
	}
	leap := y%4 == 0 && (y%100 != 0 || y%400 == 0)
	if m > 12 || d > monthDays[m] || (m == 2 && d == 29 && !leap) {
		return 0, 0, 0, fmt.Errorf("date %q is out of range", b)
	}
	return y, m, d, nil
}

// parseDate parses YYYY-MM-DD to days since the epoch.
func parseDate(b []byte) (int64, error) {
	if len(b) != 10 {
		return 0, fmt.Errorf("date %q is malformed", b)
	}
	y, m, d, err := dateParts(b)
	if err != nil {
		return 0, err
	}
	return daysFromCivil(y, m, d), nil
}

// parseDatetime parses YYYY-MM-DD HH:MM:SS[.ffffff] to microseconds since
// the epoch (the value's own clock: UTC for TIMESTAMP, none for DATETIME).
func parseDatetime(b []byte) (int64, error) {
	if len(b) < 19 || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return 0, fmt.Errorf("datetime %q is malformed", b)
	}
	y, m, d, err := dateParts(b[:10])
	if err != nil {
		return 0, err
	}
	h, ok1 := num(b, 11, 2)
	mi, ok2 := num(b, 14, 2)
	s, ok3 := num(b, 17, 2)
	us, _, ok4 := frac(b, 19)
	if !ok1 || !ok2 || !ok3 || !ok4 || h > 23 || mi > 59 || s > 59 {
		return 0, fmt.Errorf("datetime %q is malformed", b)
	}
	return (daysFromCivil(y, m, d)*86400+h*3600+mi*60+s)*1_000_000 + us, nil
}

// parseTime parses [-]H+:MM:SS[.ffffff] (MySQL's TIME, -838:59:59 to
// 838:59:59) to microseconds.
func parseTime(b []byte) (int64, error) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	start := i
	var h int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 4 {
		h = h*10 + int64(b[i]-'0')
		i++
	}
	if i == start || i+6 > len(b) || b[i] != ':' || b[i+3] != ':' {
		return 0, fmt.Errorf("time %q is malformed", b)
	}
	mi, ok1 := num(b, i+1, 2)
	s, ok2 := num(b, i+4, 2)
	us, _, ok3 := frac(b, i+6)
	if !ok1 || !ok2 || !ok3 || mi > 59 || s > 59 {
		return 0, fmt.Errorf("time %q is malformed", b)
	}
	v := (h*3600+mi*60+s)*1_000_000 + us
	if neg {
		v = -v
	}
	return v, nil
}

// keyLiteral writes a snapshot key value (its text form from the
// checkpoint) as a SQL literal for the column.
func (ct *colType) keyLiteral(s string) string {
	if ct.numeric && isDecimalText([]byte(s)) {
		return s
	}
	// ORDER BY sorts ENUM and SET by their numbers; a string literal would
	// compare by label.
	switch ct.kind {
	case vEnum:
		return strconv.Itoa(slices.Index(ct.labels, s) + 1)
	case vSet:
		var n uint64
		for _, l := range strings.Split(s, ",") {
			if i := slices.Index(ct.labels, l); i >= 0 && i < 64 {
				n |= 1 << i
			}
		}
		return strconv.FormatUint(n, 10)
	}
	if ct.kind == vBytes || ct.kind == vBits {
		return "X'" + hexString(s) + "'"
	}
	return quoteString(s)
}

func hexString(s string) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		out = append(out, digits[s[i]>>4], digits[s[i]&15])
	}
	return string(out)
}

// quoteString quotes s as a string literal that means the same with and
// without NO_BACKSLASH_ESCAPES: as hex, converted to the connection's
// character set.
func quoteString(s string) string {
	return "_utf8mb4 X'" + hexString(s) + "'"
}
