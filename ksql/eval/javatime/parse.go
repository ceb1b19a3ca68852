package javatime

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// parsed holds the fields a text gave (Java's Parsed before resolution).
type parsed struct {
	val  [numFields]int64
	has  [numFields]bool
	zone *Zone // from VV or z
}

// parseCtx is a strict, case-insensitive parse (ksqlDB's parsers).
type parseCtx struct {
	text string
	loc  Locale
	p    parsed
	// zoneName is a zone abbreviation the parse stopped at (for the error).
	zoneName string
}

// set records a field; a second, different value for it fails the parse
// at errPos (Java's setParsedField).
func (c *parseCtx) set(f field, v int64, errPos, okPos int) int {
	if c.p.has[f] && c.p.val[f] != v {
		return ^errPos
	}
	c.p.has[f], c.p.val[f] = true, v
	return okPos
}

// ParseError is a text a pattern cannot read.
type ParseError struct {
	Text    string
	Pattern string
	Index   int    // where parsing stopped (-1: the fields did not make a value)
	Reason  string // what was wrong
}

func (e *ParseError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("text %q could not be parsed with pattern %q at index %d", e.Text, e.Pattern, e.Index)
	}
	return fmt.Sprintf("text %q could not be parsed with pattern %q: %s", e.Text, e.Pattern, e.Reason)
}

// parse reads the whole text into fields.
func (p *Pattern) parse(text string, loc Locale) (*parsed, error) {
	c := &parseCtx{text: text, loc: loc}
	pos := c.elems(p.elems, 0)
	if pos < 0 && c.zoneName != "" {
		return nil, &ParseError{Text: text, Pattern: p.src, Index: -1, Reason: fmt.Sprintf(
			"zone names such as %q are not read (Java maps them inconsistently: ksqlDB reads PDT as UTC-8); use an offset (X) or a zone id (VV)", c.zoneName)}
	}
	if pos < 0 {
		return nil, &ParseError{Text: text, Pattern: p.src, Index: ^pos}
	}
	if pos != len(text) {
		return nil, &ParseError{Text: text, Pattern: p.src, Index: -1, Reason: fmt.Sprintf("unparsed text found at index %d", pos)}
	}
	return &c.p, nil
}

func (c *parseCtx) elems(es []element, pos int) int {
	for i := range es {
		pos = c.elem(&es[i], pos)
		if pos < 0 {
			return pos
		}
	}
	return pos
}

func (c *parseCtx) elem(e *element, pos int) int {
	switch e.kind {
	case eLiteral:
		if pos > len(c.text) || !hasPrefixFold(c.text[pos:], e.lit) {
			return ^pos
		}
		return pos + len(e.lit)
	case eOptional:
		saved := c.p
		r := c.elems(e.children, pos)
		if r < 0 {
			c.p = saved
			return pos
		}
		return r
	case eNumber:
		return c.number(e, pos)
	case eReduced:
		r := c.digits(e, pos)
		if r.end < 0 {
			return r.end
		}
		v := r.v
		if r.end-r.start == 2 && v >= 0 {
			v += 2000 // base 2000: 00-99 is 2000-2099
		}
		return c.set(e.f, v, r.start, r.end)
	case eFraction:
		return c.fraction(e, pos)
	case eText:
		return c.textField(e, pos)
	case eOffset:
		return c.offset(e, pos)
	case eLocOffset:
		return c.localizedOffset(e, pos)
	case eZoneID, eZoneText:
		return c.zoneID(e, pos)
	}
	return ^pos
}

// hasPrefixFold is a case-insensitive prefix test (parseCaseInsensitive).
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	return strings.EqualFold(s[:len(prefix)], prefix)
}

type digitsResult struct {
	v          int64
	start, end int // end < 0: failure (^position)
}

// digits is Java's NumberPrinterParser.parse (strict), with the sign and
// adjacent value parsing, without storing the value.
func (c *parseCtx) digits(e *element, pos int) digitsResult {
	text := c.text
	if pos == len(text) {
		return digitsResult{end: ^pos}
	}
	negative, positive := false, false
	fixed := e.min == e.max
	switch text[pos] {
	case '+':
		if !signAllowed(e.sign, true, fixed) {
			return digitsResult{end: ^pos}
		}
		positive = true
		pos++
	case '-':
		if !signAllowed(e.sign, false, fixed) {
			return digitsResult{end: ^pos}
		}
		negative = true
		pos++
	default:
		if e.sign == signAlways {
			return digitsResult{end: ^pos}
		}
	}
	position := pos
	minEnd := pos + e.min
	if minEnd > len(text) {
		return digitsResult{end: ^position}
	}
	effMax := e.max + max(e.subseq, 0)
	var total int64
	overflow := false
	p := pos
	for pass := 0; pass < 2; pass++ {
		maxEnd := min(p+effMax, len(text))
		for p < maxEnd {
			ch := text[p]
			p++
			if ch < '0' || ch > '9' {
				p--
				if p < minEnd {
					return digitsResult{end: ^position}
				}
				break
			}
			if total > (1<<63-1-9)/10 {
				overflow = true
			}
			total = total*10 + int64(ch-'0')
		}
		if e.subseq > 0 && pass == 0 {
			effMax = max(e.min, p-position-e.subseq)
			p, total, overflow = position, 0, false
			continue
		}
		break
	}
	if overflow {
		return digitsResult{end: ^position}
	}
	if negative {
		if total == 0 {
			return digitsResult{end: ^(position - 1)} // minus zero is not allowed
		}
		total = -total
	} else if e.sign == signExceedsPad {
		n := p - position
		if positive && n <= e.min {
			return digitsResult{end: ^(position - 1)} // '+' only when the pad width is exceeded
		}
		if !positive && n > e.min {
			return digitsResult{end: ^position} // and then it is required
		}
	}
	return digitsResult{v: total, start: position, end: p}
}

// signAllowed is Java's SignStyle.parse in strict mode.
func signAllowed(s signStyle, positive, fixed bool) bool {
	switch s {
	case signNormal:
		return !positive
	case signAlways, signExceedsPad:
		return true
	}
	return false
}

func (c *parseCtx) number(e *element, pos int) int {
	r := c.digits(e, pos)
	if r.end < 0 {
		return r.end
	}
	return c.set(e.f, r.v, r.start, r.end)
}

// fraction is Java's FractionPrinterParser.parse (strict), including its
// check of the minimum width against the position after a non-digit.
func (c *parseCtx) fraction(e *element, pos int) int {
	text := c.text
	if pos == len(text) {
		if e.min > 0 {
			return ^pos
		}
		return pos
	}
	minEnd := pos + e.min
	if minEnd > len(text) {
		return ^pos
	}
	maxEnd := min(pos+e.max, len(text))
	total, p := int64(0), pos
	for p < maxEnd {
		ch := text[p]
		p++
		if ch < '0' || ch > '9' {
			if p < minEnd {
				return ^pos
			}
			p--
			break
		}
		total = total*10 + int64(ch-'0')
	}
	for i := p - pos; i < 9; i++ {
		total *= 10
	}
	return c.set(e.f, total, pos, p)
}

func (c *parseCtx) textField(e *element, pos int) int {
	names := texts(e.f, e.style, e.alone, c.loc)
	type cand struct {
		s string
		v int64
	}
	cands := make([]cand, len(names))
	for i, n := range names {
		cands[i] = cand{n, int64(i) + textBase(e.f)}
	}
	sort.SliceStable(cands, func(i, j int) bool { return len(cands[i].s) > len(cands[j].s) })
	for _, cd := range cands {
		if hasPrefixFold(c.text[pos:], cd.s) {
			return c.set(e.f, cd.v, pos, pos+len(cd.s))
		}
	}
	return ^pos
}

// offset is Java's OffsetIdPrinterParser.parse (strict).
func (c *parseCtx) offset(e *element, pos int) int {
	text := c.text
	if pos == len(text) {
		return ^pos
	}
	if hasPrefixFold(text[pos:], e.noOffset) {
		return c.set(fOffsetSeconds, 0, pos, pos+len(e.noOffset))
	}
	sign := text[pos]
	if sign != '+' && sign != '-' {
		return ^pos
	}
	style := e.offPat % 11
	colon := style > 0 && style%2 == 0
	arr := [4]int{pos + 1, 0, 0, 0}
	two := func(idx int, withColon bool) bool {
		p := arr[0]
		if p < 0 {
			return true
		}
		if withColon && idx != 1 {
			if p+1 > len(text) || text[p] != ':' {
				return false
			}
			p++
		}
		if p+2 > len(text) {
			return false
		}
		a, b := text[p], text[p+1]
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return false
		}
		v := int(a-'0')*10 + int(b-'0')
		if v > 59 {
			return false
		}
		arr[idx], arr[0] = v, p+2
		return true
	}
	hour := func() {
		if !two(1, false) {
			arr[0] = ^arr[0]
		}
	}
	part := func(idx int, mandatory bool) {
		if !two(idx, colon) && mandatory {
			arr[0] = ^arr[0]
		}
	}
	switch e.offPat {
	case 0:
		hour()
	case 1, 2:
		hour()
		part(2, false)
	case 3, 4:
		hour()
		part(2, true)
	case 5, 6:
		hour()
		part(2, true)
		part(3, false)
	case 7, 8:
		hour()
		part(2, true)
		part(3, true)
	case 9, 10:
		hour()
		if two(2, colon) {
			two(3, colon)
		}
	}
	if arr[0] > 0 {
		if arr[1] > 23 || arr[2] > 59 || arr[3] > 59 {
			return ^pos
		}
		off := int64(arr[1]*3600 + arr[2]*60 + arr[3])
		if sign == '-' {
			off = -off
		}
		return c.set(fOffsetSeconds, off, pos, arr[0])
	}
	return ^pos
}

func digitAt(s string, i int) int {
	if i < 0 || i >= len(s) || s[i] < '0' || s[i] > '9' {
		return -1
	}
	return int(s[i] - '0')
}

// localizedOffset is Java's LocalizedOffsetIdPrinterParser.parse: GMT,
// then an optional signed offset (O: H[:mm[:ss]], OOOO: HH:mm[:ss]).
func (c *parseCtx) localizedOffset(e *element, position int) int {
	text, end := c.text, len(c.text)
	if !hasPrefixFold(text[position:], "GMT") {
		return ^position
	}
	pos := position + 3
	if pos == end {
		return c.set(fOffsetSeconds, 0, position, pos)
	}
	neg := int64(1)
	switch text[pos] {
	case '+':
	case '-':
		neg = -1
	default:
		return c.set(fOffsetSeconds, 0, position, pos)
	}
	pos++
	var h, m, s int
	if e.full {
		h1, h2 := digitAt(text, pos), digitAt(text, pos+1)
		if h1 < 0 || h2 < 0 || pos+2 >= end || text[pos+2] != ':' {
			return ^position
		}
		pos += 3
		h = h1*10 + h2
		m1, m2 := digitAt(text, pos), digitAt(text, pos+1)
		if m1 < 0 || m2 < 0 {
			return ^position
		}
		pos += 2
		m = m1*10 + m2
		if pos+2 < end && text[pos] == ':' {
			if s1, s2 := digitAt(text, pos+1), digitAt(text, pos+2); s1 >= 0 && s2 >= 0 {
				s = s1*10 + s2
				pos += 3
			}
		}
	} else {
		h = digitAt(text, pos)
		pos++
		if h < 0 {
			return ^position
		}
		if pos < end {
			if h2 := digitAt(text, pos); h2 >= 0 {
				h = h*10 + h2
				pos++
			}
			if pos+2 < end && text[pos] == ':' {
				if m1, m2 := digitAt(text, pos+1), digitAt(text, pos+2); m1 >= 0 && m2 >= 0 {
					m = m1*10 + m2
					pos += 3
					if pos+2 < end && text[pos] == ':' {
						if s1, s2 := digitAt(text, pos+1), digitAt(text, pos+2); s1 >= 0 && s2 >= 0 {
							s = s1*10 + s2
							pos += 3
						}
					}
				}
			}
		}
	}
	return c.set(fOffsetSeconds, neg*int64(h*3600+m*60+s), position, pos)
}

// zoneID reads a zone: "Z", an offset, UTC/GMT/UT with an optional offset,
// or a region id (the longest that exists). Zone names such as PDT are not
// read: Java maps them by locale data in ways no user expects (ksqlDB's
// parser reads PDT as SystemV/PST8PDT, always UTC-8, and BST as
// Africa/Abidjan), so sluice refuses them rather than guess.
func (c *parseCtx) zoneID(e *element, pos int) int {
	text := c.text
	if pos >= len(text) {
		return ^pos
	}
	setZone := func(z *Zone, end int) int {
		if c.p.zone != nil && c.p.zone.id != z.id {
			return ^pos
		}
		c.p.zone = z
		return end
	}
	if text[pos] == '+' || text[pos] == '-' {
		sub := &parseCtx{text: text, loc: c.loc}
		r := sub.offset(&element{kind: eOffset, offPat: 10, noOffset: "Z"}, pos)
		if r < 0 {
			return r
		}
		return setZone(offsetZone(int(sub.p.val[fOffsetSeconds])), r)
	}
	end := pos
	for end < len(text) {
		r, n := utf8.DecodeRuneInString(text[end:])
		if !(r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("~/._+-:", r))) {
			break
		}
		end += n
	}
	for j := end; j > pos; j-- {
		cand := text[pos:j]
		if cand == "Z" {
			return setZone(UTC, j)
		}
		if z, err := LoadZone(cand); err == nil {
			return setZone(z, j)
		}
	}
	if e.kind == eZoneText && end-pos >= 2 && end-pos <= 5 && strings.ToUpper(text[pos:end]) == text[pos:end] {
		c.zoneName = text[pos:end]
	}
	return ^pos
}
