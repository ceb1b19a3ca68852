package format

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small BSON value model for MongoDB documents: a parser of
// the relaxed Extended JSON v2 the MongoDB source writes for nested values
// (object, array and the rarer BSON types; bson.MarshalExtJSON(v, false,
// false)), and the writers the encoders need:
//
//   - appendStrict: the MongoDB Java driver's JsonWriter in JsonMode.STRICT
//     with indent on and empty indent and newline characters, which is what
//     Debezium 2.7's MongoDB connector writes into before/after
//     (JsonSerialization.COMPACT_JSON_SETTINGS): `{"a": 1,"b": [1,2]}`;
//     with relaxed set, JsonMode.RELAXED with the same layout, which is
//     Debezium's key id.
//   - appendRowValue: ExtractNewDocumentState's conversion to Connect values,
//     written by JsonConverter.
//   - appendNaturalValue: natural JSON for search documents.
//
// Relaxed Extended JSON does not say whether a small integer was an int32 or
// an int64, nor keeps the difference between 5 and 5.0 for doubles written
// without a fraction; the parser reads integers as int32 when they fit and
// int64 otherwise, and numbers with a fraction or exponent as doubles (the
// Go driver always writes one for doubles: 5.0, 1E+21).

// bkind is a BSON type.
type bkind uint8

const (
	bNull bkind = iota
	bDouble
	bString
	bDoc
	bArray
	bBinary
	bUndefined
	bObjectID
	bBool
	bDate
	bRegex
	bDBPointer
	bCode
	bSymbol
	bCodeWScope
	bInt32
	bTimestamp
	bInt64
	bDecimal
	bMinKey
	bMaxKey
)

// bval is one BSON value. str holds strings, ObjectId hex, decimal text,
// code, symbol, a regex pattern, a DBPointer's namespace and binary bytes;
// str2 a regex's options and a DBPointer's ObjectId hex; num an integer,
// double bits, date milliseconds, a timestamp (t<<32 | i) or a binary
// subtype; doc and arr a document's members (a code-with-scope's scope) and
// an array's elements.
type bval struct {
	kind bkind
	num  uint64
	str  string
	str2 string
	doc  []bfield
	arr  []bval
}

type bfield struct {
	name string
	val  bval
}

// maxExtJSONDepth bounds nesting (MongoDB allows 100 levels).
const maxExtJSONDepth = 200

var errExtJSON = errors.New("not valid Extended JSON")

// parseExtJSON parses relaxed (or canonical) Extended JSON v2 text.
func parseExtJSON(s string) (bval, error) {
	p := extParser{s: s}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return v, err
	}
	p.ws()
	if p.i != len(p.s) {
		return v, p.fail("trailing characters")
	}
	return v, nil
}

type extParser struct {
	s string
	i int
	// strict also reads the MongoDB Java driver's JsonMode.STRICT forms
	// that appendStrict writes and Extended JSON v2 lacks: bare NaN,
	// Infinity and -Infinity, {"$binary": …, "$type": …} and
	// {"$regex": …, "$options": …}.
	strict bool
}

// parseStrictJSON parses the Java driver's STRICT mode (Debezium's MongoDB
// before/after) as well as Extended JSON v2. {"$ref": …, "$id": …} stays a
// document: STRICT writes a DBRef document and a DBPointer alike, and
// DBRefs are the common one.
func parseStrictJSON(s string) (bval, error) {
	p := extParser{s: s, strict: true}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return v, err
	}
	p.ws()
	if p.i != len(p.s) {
		return v, p.fail("trailing characters")
	}
	return v, nil
}

func (p *extParser) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errExtJSON, what, p.i)
}

func (p *extParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *extParser) lit(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

func (p *extParser) value(depth int) (bval, error) {
	if depth > maxExtJSONDepth {
		return bval{}, p.fail("nesting too deep")
	}
	if p.i >= len(p.s) {
		return bval{}, p.fail("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		p.i++
		var arr []bval
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return bval{kind: bArray, arr: []bval{}}, nil
		}
		for {
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return v, err
			}
			arr = append(arr, v)
			p.ws()
			if p.i >= len(p.s) {
				return bval{}, p.fail("unterminated array")
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == ']' {
				p.i++
				return bval{kind: bArray, arr: arr}, nil
			}
			return bval{}, p.fail("expected , or ]")
		}
	case c == '"':
		s, err := p.str()
		return bval{kind: bString, str: s}, err
	case p.lit("true"):
		return bval{kind: bBool, num: 1}, nil
	case p.lit("false"):
		return bval{kind: bBool}, nil
	case p.lit("null"):
		return bval{kind: bNull}, nil
	case p.strict && p.lit("NaN"):
		return bval{kind: bDouble, num: math.Float64bits(math.NaN())}, nil
	case p.strict && p.lit("Infinity"):
		return bval{kind: bDouble, num: math.Float64bits(math.Inf(1))}, nil
	case p.strict && p.lit("-Infinity"):
		return bval{kind: bDouble, num: math.Float64bits(math.Inf(-1))}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return bval{}, p.fail("unexpected character")
}

func (p *extParser) number() (bval, error) {
	start := p.i
	isFloat := false
	if p.s[p.i] == '-' {
		p.i++
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
			isFloat = true
		default:
			goto done
		}
		p.i++
	}
done:
	text := p.s[start:p.i]
	if !isJSONNumber(text) {
		return bval{}, p.fail("bad number")
	}
	if !isFloat {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			if i >= math.MinInt32 && i <= math.MaxInt32 {
				return bval{kind: bInt32, num: uint64(i)}, nil
			}
			return bval{kind: bInt64, num: uint64(i)}, nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return bval{}, p.fail("bad number")
	}
	return bval{kind: bDouble, num: math.Float64bits(f)}, nil
}

// str reads a JSON string.
func (p *extParser) str() (string, error) {
	p.i++ // opening quote
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			s := p.s[start:p.i]
			p.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.fail("control character in string")
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.s) {
			break
		}
		e := p.s[p.i]
		p.i++
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
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				if strings.HasPrefix(p.s[p.i:], `\u`) {
					save := p.i
					p.i += 2
					if r2, ok := p.hex4(); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							b.WriteRune(d)
							continue
						}
					}
					p.i = save
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			return "", p.fail("bad escape")
		}
	}
	return "", p.fail("unterminated string")
}

func (p *extParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

func (p *extParser) object(depth int) (bval, error) {
	p.i++
	doc := []bfield{}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return bval{kind: bDoc, doc: doc}, nil
	}
	for {
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return bval{}, p.fail("expected member name")
		}
		name, err := p.str()
		if err != nil {
			return bval{}, err
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return bval{}, p.fail("expected :")
		}
		p.i++
		p.ws()
		v, err := p.value(depth + 1)
		if err != nil {
			return v, err
		}
		doc = append(doc, bfield{name, v})
		p.ws()
		if p.i >= len(p.s) {
			return bval{}, p.fail("unterminated object")
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == '}' {
			p.i++
			break
		}
		return bval{}, p.fail("expected , or }")
	}
	if len(doc) > 0 && strings.HasPrefix(doc[0].name, "$") {
		if v, ok := wrapper(doc); ok {
			return v, nil
		}
		if p.strict {
			if v, ok := strictWrapper(doc); ok {
				return v, nil
			}
		}
	}
	return bval{kind: bDoc, doc: doc}, nil
}

// member returns the named member of a parsed document.
func member(doc []bfield, name string) (bval, bool) {
	for _, f := range doc {
		if f.name == name {
			return f.val, true
		}
	}
	return bval{}, false
}

// wrapper turns an Extended JSON type wrapper ({"$oid": …}) into its value;
// ok is false for an ordinary document whose first key starts with '$'.
func wrapper(doc []bfield) (bval, bool) {
	one := func(k bkind) bool { return len(doc) == 1 && doc[0].val.kind == k }
	switch doc[0].name {
	case "$oid":
		if one(bString) && len(doc[0].val.str) == 24 {
			if _, err := hex.DecodeString(doc[0].val.str); err == nil {
				return bval{kind: bObjectID, str: strings.ToLower(doc[0].val.str)}, true
			}
		}
	case "$symbol":
		if one(bString) {
			return bval{kind: bSymbol, str: doc[0].val.str}, true
		}
	case "$numberInt":
		if one(bString) {
			if i, err := strconv.ParseInt(doc[0].val.str, 10, 32); err == nil {
				return bval{kind: bInt32, num: uint64(i)}, true
			}
		}
	case "$numberLong":
		if one(bString) {
			if i, err := strconv.ParseInt(doc[0].val.str, 10, 64); err == nil {
				return bval{kind: bInt64, num: uint64(i)}, true
			}
		}
	case "$numberDouble":
		if one(bString) {
			s := doc[0].val.str
			var f float64
			switch s {
			case "Infinity":
				f = math.Inf(1)
			case "-Infinity":
				f = math.Inf(-1)
			case "NaN":
				f = math.NaN()
			default:
				var err error
				if f, err = strconv.ParseFloat(s, 64); err != nil {
					return bval{}, false
				}
			}
			return bval{kind: bDouble, num: math.Float64bits(f)}, true
		}
	case "$numberDecimal":
		if one(bString) {
			return bval{kind: bDecimal, str: doc[0].val.str}, true
		}
	case "$binary":
		if len(doc) == 1 && doc[0].val.kind == bDoc {
			b64, ok1 := member(doc[0].val.doc, "base64")
			st, ok2 := member(doc[0].val.doc, "subType")
			if ok1 && ok2 && b64.kind == bString && st.kind == bString && len(doc[0].val.doc) == 2 {
				data, err := base64.StdEncoding.DecodeString(b64.str)
				sub, err2 := strconv.ParseUint(st.str, 16, 8)
				if err == nil && err2 == nil && len(st.str) <= 2 {
					return bval{kind: bBinary, str: string(data), num: sub}, true
				}
			}
		}
	case "$date":
		if len(doc) != 1 {
			break
		}
		switch d := doc[0].val; d.kind {
		case bString:
			t, err := time.Parse(time.RFC3339Nano, d.str)
			if err == nil {
				return bval{kind: bDate, num: uint64(t.UnixMilli())}, true
			}
		case bInt64, bInt32:
			return bval{kind: bDate, num: d.num}, true
		}
	case "$timestamp":
		if len(doc) == 1 && doc[0].val.kind == bDoc && len(doc[0].val.doc) == 2 {
			t, ok1 := member(doc[0].val.doc, "t")
			i, ok2 := member(doc[0].val.doc, "i")
			if ok1 && ok2 && isInt(t) && isInt(i) && t.num <= math.MaxUint32 && i.num <= math.MaxUint32 {
				return bval{kind: bTimestamp, num: t.num<<32 | i.num}, true
			}
		}
	case "$regularExpression":
		if len(doc) == 1 && doc[0].val.kind == bDoc && len(doc[0].val.doc) == 2 {
			pat, ok1 := member(doc[0].val.doc, "pattern")
			opt, ok2 := member(doc[0].val.doc, "options")
			if ok1 && ok2 && pat.kind == bString && opt.kind == bString {
				return bval{kind: bRegex, str: pat.str, str2: opt.str}, true
			}
		}
	case "$dbPointer":
		if len(doc) == 1 && doc[0].val.kind == bDoc && len(doc[0].val.doc) == 2 {
			ref, ok1 := member(doc[0].val.doc, "$ref")
			id, ok2 := member(doc[0].val.doc, "$id")
			if ok1 && ok2 && ref.kind == bString && id.kind == bObjectID {
				return bval{kind: bDBPointer, str: ref.str, str2: id.str}, true
			}
		}
	case "$code":
		if one(bString) {
			return bval{kind: bCode, str: doc[0].val.str}, true
		}
		if len(doc) == 2 && doc[0].val.kind == bString && doc[1].name == "$scope" && doc[1].val.kind == bDoc {
			return bval{kind: bCodeWScope, str: doc[0].val.str, doc: doc[1].val.doc}, true
		}
	case "$minKey":
		if one(bInt32) && doc[0].val.num == 1 {
			return bval{kind: bMinKey}, true
		}
	case "$maxKey":
		if one(bInt32) && doc[0].val.num == 1 {
			return bval{kind: bMaxKey}, true
		}
	case "$undefined":
		if one(bBool) && doc[0].val.num == 1 {
			return bval{kind: bUndefined}, true
		}
	}
	return bval{}, false
}

// strictWrapper reads STRICT mode's binary and regular expression forms.
func strictWrapper(doc []bfield) (bval, bool) {
	if len(doc) != 2 || doc[0].val.kind != bString || doc[1].val.kind != bString {
		return bval{}, false
	}
	switch {
	case doc[0].name == "$binary" && doc[1].name == "$type":
		data, err := base64.StdEncoding.DecodeString(doc[0].val.str)
		sub, err2 := strconv.ParseUint(doc[1].val.str, 16, 8)
		if err == nil && err2 == nil && len(doc[1].val.str) <= 2 {
			return bval{kind: bBinary, str: string(data), num: sub}, true
		}
	case doc[0].name == "$regex" && doc[1].name == "$options":
		return bval{kind: bRegex, str: doc[0].val.str, str2: doc[1].val.str}, true
	}
	return bval{}, false
}

func isInt(v bval) bool { return (v.kind == bInt32 || v.kind == bInt64) && int64(v.num) >= 0 }

// appendStrict writes v as the Java driver's JsonWriter does in JsonMode.STRICT
// (relaxed false) or JsonMode.RELAXED (relaxed true), with indent on and
// empty indent and newline characters: members separated by ",", names
// followed by ": ", array elements separated by ",".
func appendStrict(dst []byte, v *bval, relaxed bool) []byte {
	switch v.kind {
	case bNull:
		return append(dst, "null"...)
	case bBool:
		return strconv.AppendBool(dst, v.num != 0)
	case bString:
		return appendJavaDriverString(dst, v.str)
	case bInt32:
		return strconv.AppendInt(dst, int64(int32(v.num)), 10)
	case bInt64:
		if relaxed {
			return strconv.AppendInt(dst, int64(v.num), 10)
		}
		dst = append(dst, `{"$numberLong": "`...)
		dst = strconv.AppendInt(dst, int64(v.num), 10)
		return append(dst, `"}`...)
	case bDouble:
		f := math.Float64frombits(v.num)
		if relaxed && (math.IsNaN(f) || math.IsInf(f, 0)) {
			dst = append(dst, `{"$numberDouble": "`...)
			dst = appendJavaDouble(dst, f)
			return append(dst, `"}`...)
		}
		return appendJavaDouble(dst, f)
	case bDecimal:
		dst = append(dst, `{"$numberDecimal": `...)
		dst = appendJavaDriverString(dst, v.str)
		return append(dst, '}')
	case bObjectID:
		dst = append(dst, `{"$oid": "`...)
		dst = append(dst, v.str...)
		return append(dst, `"}`...)
	case bDate:
		ms := int64(v.num)
		if !relaxed {
			dst = append(dst, `{"$date": `...)
			dst = strconv.AppendInt(dst, ms, 10)
			return append(dst, '}')
		}
		if ms < 0 || ms > 253402300799999 {
			dst = append(dst, `{"$date": {"$numberLong": "`...)
			dst = strconv.AppendInt(dst, ms, 10)
			return append(dst, `"}}`...)
		}
		dst = append(dst, `{"$date": "`...)
		dst = appendISOMillis(dst, ms)
		return append(dst, `"}`...)
	case bBinary:
		if relaxed {
			dst = append(dst, `{"$binary": {"base64": "`...)
			dst = appendBase64Body(dst, v.str)
			dst = append(dst, `","subType": "`...)
			dst = append(dst, hexUpper[v.num>>4&0xF], hexUpper[v.num&0xF])
			return append(dst, `"}}`...)
		}
		dst = append(dst, `{"$binary": "`...)
		dst = appendBase64Body(dst, v.str)
		dst = append(dst, `","$type": "`...)
		dst = append(dst, hexUpper[v.num>>4&0xF], hexUpper[v.num&0xF])
		return append(dst, `"}`...)
	case bTimestamp:
		dst = append(dst, `{"$timestamp": {"t": `...)
		dst = strconv.AppendUint(dst, v.num>>32, 10)
		dst = append(dst, `,"i": `...)
		dst = strconv.AppendUint(dst, v.num&0xFFFFFFFF, 10)
		return append(dst, `}}`...)
	case bRegex:
		if relaxed {
			dst = append(dst, `{"$regularExpression": {"pattern": `...)
			dst = appendJavaDriverString(dst, v.str)
			dst = append(dst, `,"options": `...)
			dst = appendJavaDriverString(dst, v.str2)
			return append(dst, `}}`...)
		}
		dst = append(dst, `{"$regex": `...)
		dst = appendJavaDriverString(dst, v.str)
		dst = append(dst, `,"$options": `...)
		dst = appendJavaDriverString(dst, v.str2)
		return append(dst, '}')
	case bCode:
		dst = append(dst, `{"$code": `...)
		dst = appendJavaDriverString(dst, v.str)
		return append(dst, '}')
	case bCodeWScope:
		dst = append(dst, `{"$code": `...)
		dst = appendJavaDriverString(dst, v.str)
		dst = append(dst, `,"$scope": `...)
		dst = appendStrictDoc(dst, v.doc, relaxed)
		return append(dst, '}')
	case bSymbol:
		dst = append(dst, `{"$symbol": `...)
		dst = appendJavaDriverString(dst, v.str)
		return append(dst, '}')
	case bDBPointer:
		dst = append(dst, `{"$ref": `...)
		dst = appendJavaDriverString(dst, v.str)
		dst = append(dst, `,"$id": {"$oid": "`...)
		dst = append(dst, v.str2...)
		return append(dst, `"}}`...)
	case bMinKey:
		return append(dst, `{"$minKey": 1}`...)
	case bMaxKey:
		return append(dst, `{"$maxKey": 1}`...)
	case bUndefined:
		return append(dst, `{"$undefined": true}`...)
	case bDoc:
		return appendStrictDoc(dst, v.doc, relaxed)
	case bArray:
		dst = append(dst, '[')
		for i := range v.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStrict(dst, &v.arr[i], relaxed)
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}

func appendStrictDoc(dst []byte, doc []bfield, relaxed bool) []byte {
	dst = append(dst, '{')
	for i := range doc {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJavaDriverString(dst, doc[i].name)
		dst = append(dst, ':', ' ')
		dst = appendStrict(dst, &doc[i].val, relaxed)
	}
	return append(dst, '}')
}

// appendJavaDouble writes Java's Double.toString, NaN and the infinities as
// bare words (the driver's STRICT mode writes them so).
func appendJavaDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	return appendJavaFloat(dst, f, 64)
}

// appendISOMillis writes milliseconds since the epoch as java.time's ISO
// instant with the fraction's trailing zeros dropped ("…:20.12Z").
func appendISOMillis(dst []byte, ms int64) []byte {
	d := appendDateTime(nil, ms*1000, true) // "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" quoted
	return append(dst, d[1:len(d)-1]...)
}

func appendBase64Body(dst []byte, s string) []byte {
	q := appendBase64(nil, s)
	return append(dst, q[1:len(q)-1]...)
}

// appendJavaDriverString writes s as the Java driver's
// StrictCharacterStreamJsonWriter does: \" \\ \b \f \n \r \t, characters of
// the letter, digit, number, space-separator, punctuation and symbol
// categories as they are, and every other UTF-16 unit (controls, format
// characters, marks, line and paragraph separators, surrogates: every
// character outside the Basic Multilingual Plane) as \u with lower-case hex.
// Invalid UTF-8 becomes U+FFFD.
func appendJavaDriverString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				if c < 0x20 || c == 0x7f {
					dst = appendU4(dst, rune(c))
				} else {
					dst = append(dst, c)
				}
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			dst = appendU4(dst, r1)
			dst = appendU4(dst, r2)
			continue
		}
		if javaPrintable(r) {
			dst = utf8.AppendRune(dst, r)
		} else {
			dst = appendU4(dst, r)
		}
	}
	return append(dst, '"')
}

const hexLower = "0123456789abcdef"

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexLower[r>>12&0xF], hexLower[r>>8&0xF], hexLower[r>>4&0xF], hexLower[r&0xF])
}

// javaPrintable reports whether Java's Character.getType of r is one the
// driver writes unescaped.
func javaPrintable(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Lo, unicode.Nd, unicode.Nl, unicode.No,
		unicode.Zs, unicode.Pc, unicode.Pd, unicode.Ps, unicode.Pe, unicode.Pi, unicode.Pf, unicode.Po,
		unicode.Sm, unicode.Sc, unicode.Sk, unicode.So)
}

// appendRowValue writes v as ExtractNewDocumentState converts it to a
// Connect value and JsonConverter writes that: ObjectId as its hex string,
// dates as epoch milliseconds, timestamps as their seconds in milliseconds,
// decimals as their text, binary as base64 of the data, regular expressions
// as {"regex","options"}, code as its text, code with scope as
// {"code","scope"}, a DBPointer as the document {"$ref","$id"} (the STRICT
// text Debezium parses back), documents as objects and arrays as arrays
// whose document elements share the union of their fields (missing ones
// null). ok is false for the types ExtractNewDocumentState leaves out of its
// schema (symbol, minKey, maxKey, undefined).
func appendRowValue(dst []byte, v *bval, path string, depth int) (out []byte, ok bool, err error) {
	if depth > maxExtJSONDepth {
		return dst, false, fmt.Errorf("field %s: nests too deep", path)
	}
	switch v.kind {
	case bNull:
		return append(dst, "null"...), true, nil
	case bBool:
		return strconv.AppendBool(dst, v.num != 0), true, nil
	case bString, bCode:
		return appendString(dst, v.str), true, nil
	case bInt32:
		return strconv.AppendInt(dst, int64(int32(v.num)), 10), true, nil
	case bInt64, bDate:
		return strconv.AppendInt(dst, int64(v.num), 10), true, nil
	case bTimestamp:
		return strconv.AppendInt(dst, int64(v.num>>32)*1000, 10), true, nil
	case bDouble:
		return appendJavaFloat(dst, math.Float64frombits(v.num), 64), true, nil
	case bDecimal, bObjectID:
		return appendString(dst, v.str), true, nil
	case bBinary:
		return appendBase64(dst, v.str), true, nil
	case bRegex:
		dst = append(dst, `{"regex":`...)
		dst = appendString(dst, v.str)
		dst = append(dst, `,"options":`...)
		dst = appendString(dst, v.str2)
		return append(dst, '}'), true, nil
	case bCodeWScope:
		dst = append(dst, `{"code":`...)
		dst = appendString(dst, v.str)
		dst = append(dst, `,"scope":`...)
		dst, err = appendRowDoc(dst, v.doc, nil, path, depth+1)
		return append(dst, '}'), true, err
	case bDBPointer:
		dst = append(dst, `{"$ref":`...)
		dst = appendString(dst, v.str)
		dst = append(dst, `,"$id":`...)
		dst = appendString(dst, v.str2)
		return append(dst, '}'), true, nil
	case bDoc:
		dst, err = appendRowDoc(dst, v.doc, nil, path, depth+1)
		return dst, true, err
	case bArray:
		return appendRowArray(dst, v.arr, path, depth+1)
	}
	return dst, false, nil
}

// appendRowDoc writes a document's members; with union set, exactly the
// union's fields in its order (null where the document has none).
func appendRowDoc(dst []byte, doc []bfield, union []string, path string, depth int) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	write := func(name string, v *bval) error {
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = appendString(dst, name)
		dst = append(dst, ':')
		var ok bool
		var err error
		if dst, ok, err = appendRowValue(dst, v, path+"."+name, depth); err != nil {
			return err
		}
		if !ok {
			dst = dst[:mark]
			return nil
		}
		first = false
		return nil
	}
	if union == nil {
		for i := range doc {
			if err := write(doc[i].name, &doc[i].val); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	for _, name := range union {
		v, _ := member(doc, name)
		if err := write(name, &v); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func appendRowArray(dst []byte, arr []bval, path string, depth int) ([]byte, bool, error) {
	// ExtractNewDocumentState's array.encoding=array needs one element type.
	kind := bNull
	for i := range arr {
		k := arr[i].kind
		if k == bInt64 {
			k = bInt32 // relaxed JSON cannot tell them apart
		}
		if i == 0 {
			kind = k
		} else if k != kind {
			return dst, false, fmt.Errorf("field %s is not a homogenous array (ExtractNewDocumentState's array.encoding=array needs elements of one type)", path)
		}
	}
	var union []string
	if kind == bDoc {
		for i := range arr {
			for _, f := range arr[i].doc {
				seen := false
				for _, u := range union {
					if u == f.name {
						seen = true
						break
					}
				}
				if !seen {
					union = append(union, f.name)
				}
			}
		}
		if union == nil {
			union = []string{}
		}
	}
	dst = append(dst, '[')
	for i := range arr {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if kind == bDoc {
			dst, err = appendRowDoc(dst, arr[i].doc, union, path, depth)
		} else {
			var ok bool
			dst, ok, err = appendRowValue(dst, &arr[i], path, depth)
			if err == nil && !ok {
				dst = append(dst, "null"...)
			}
		}
		if err != nil {
			return dst, false, err
		}
	}
	return append(dst, ']'), true, nil
}

// appendNaturalValue writes v as natural JSON for search documents:
// documents and arrays as JSON, ObjectId as its hex string, dates as
// ISO-8601 UTC, int64 and decimals as numbers (NaN and infinities as
// strings), binary as base64, code and symbols as their text, and the rest
// (timestamps, regular expressions, DBPointers, minKey, maxKey, undefined)
// as their relaxed Extended JSON objects.
func appendNaturalValue(dst []byte, v *bval, depth int) ([]byte, error) {
	if depth > maxExtJSONDepth {
		return dst, errors.New("value nests too deep")
	}
	switch v.kind {
	case bNull:
		return append(dst, "null"...), nil
	case bBool:
		return strconv.AppendBool(dst, v.num != 0), nil
	case bString, bCode, bSymbol, bObjectID:
		return appendPlainString(dst, v.str), nil
	case bInt32:
		return strconv.AppendInt(dst, int64(int32(v.num)), 10), nil
	case bInt64:
		return strconv.AppendInt(dst, int64(v.num), 10), nil
	case bDouble:
		return appendJSONFloat(dst, math.Float64frombits(v.num), 64), nil
	case bDecimal:
		return appendJSONDecimal(dst, v.str), nil
	case bDate:
		return appendDateTime(dst, int64(v.num)*1000, true), nil
	case bBinary:
		return appendBase64(dst, v.str), nil
	case bDoc:
		dst = append(dst, '{')
		for i := range v.doc {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendPlainString(dst, v.doc[i].name)
			dst = append(dst, ':')
			var err error
			if dst, err = appendNaturalValue(dst, &v.doc[i].val, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case bArray:
		dst = append(dst, '[')
		for i := range v.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendNaturalValue(dst, &v.arr[i], depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	// Types without a natural JSON form: their relaxed Extended JSON, compact.
	return appendCompactJSON(dst, string(appendStrict(nil, v, true))), nil
}
