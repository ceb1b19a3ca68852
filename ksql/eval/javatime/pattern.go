// Package javatime reads and writes dates and times with Java's
// java.time.format.DateTimeFormatter patterns, as ksqlDB uses them:
// PARSE_TIMESTAMP, FORMAT_TIMESTAMP, TIMESTAMPTOSTRING, the
// timestamp_format of a source, and the other date and time functions.
// Users bring patterns written for Java ('yyyy-MM-dd”T”HH:mm:ss'), so
// sluice compiles the same pattern language and produces the same text
// and the same instants; a test runs Java itself over a table of patterns
// and instants and compares byte for byte.
//
// # Supported pattern letters
//
//	G era             u y year          M L month         d day of month
//	D day of year     Q q quarter       E day of week     a AM/PM
//	h clock hour 1-12 K hour 0-11       k clock hour 1-24 H hour 0-23
//	m minute          s second          S fraction        A milli of day
//	n nano of second  N nano of day     VV zone id        z zone name
//	O localized offset (GMT+8)          X x Z offsets     'text' literal
//	'' quote          [ ] optional section
//
// Counts follow Java: yy is a two-digit year of 2000-2099, yyyy pads to
// four digits and signs longer years, MMM is "Jan", MMMM "January", SSS
// three fraction digits, and so on. Letters Java has but sluice does not
// (week-based fields Y w W e c F, day periods B, generic zone names v,
// full zone names zzzz, padding p, Julian day g) are an error when the
// pattern is compiled, never a wrong result.
//
// # Locale
//
// Text is English: formatting uses Java's en/en_US names (ksqlDB formats
// with the JVM's default locale), parsing by ParseTimestamp uses Java's
// Locale.ROOT names as ksqlDB's parser does (in it MMMM is "Jan", not
// "January"). Parsing is strict and case-insensitive, as ksqlDB's.
//
// # Zones
//
// Zone ids are Java's: IANA region ids ("America/Los_Angeles", "UTC",
// "GMT"), "Z", offsets ("+01:00", "-0800"), and UTC/GMT/UT followed by an
// offset. The zone rules come from the tz database embedded in the binary
// (time/tzdata), so results do not depend on the host. Pattern letter z
// prints the zone's abbreviation from that database; where the database
// has only a numeric one ("+08" for Asia/Singapore, where Java says SGT)
// formatting fails with an error rather than print something Java would
// not.
package javatime

import (
	"fmt"
	"strings"
)

// field is a date-time field (Java's ChronoField, and IsoFields'
// QUARTER_OF_YEAR).
type field uint8

// The fields, in the order of Java's ChronoField.values(), which is the
// order ksqlDB applies parsed fields in.
const (
	fNanoOfSecond field = iota
	fNanoOfDay
	fMicroOfSecond
	fMicroOfDay
	fMilliOfSecond
	fMilliOfDay
	fSecondOfMinute
	fSecondOfDay
	fMinuteOfHour
	fMinuteOfDay
	fHourOfAmPm
	fClockHourOfAmPm
	fHourOfDay
	fClockHourOfDay
	fAmPmOfDay
	fDayOfWeek
	fAlignedDayOfWeekInMonth
	fAlignedDayOfWeekInYear
	fDayOfMonth
	fDayOfYear
	fEpochDay
	fAlignedWeekOfMonth
	fAlignedWeekOfYear
	fMonthOfYear
	fProlepticMonth
	fYearOfEra
	fYear
	fEra
	fInstantSeconds
	fOffsetSeconds
	fQuarterOfYear
	numFields
)

var fieldNames = [numFields]string{
	"NanoOfSecond", "NanoOfDay", "MicroOfSecond", "MicroOfDay", "MilliOfSecond", "MilliOfDay",
	"SecondOfMinute", "SecondOfDay", "MinuteOfHour", "MinuteOfDay", "HourOfAmPm", "ClockHourOfAmPm",
	"HourOfDay", "ClockHourOfDay", "AmPmOfDay", "DayOfWeek", "AlignedDayOfWeekInMonth",
	"AlignedDayOfWeekInYear", "DayOfMonth", "DayOfYear", "EpochDay", "AlignedWeekOfMonth",
	"AlignedWeekOfYear", "MonthOfYear", "ProlepticMonth", "YearOfEra", "Year", "Era",
	"InstantSeconds", "OffsetSeconds", "QuarterOfYear",
}

func (f field) String() string { return fieldNames[f] }

// isDate reports whether f is date-based (ChronoField.isDateBased).
func (f field) isDate() bool { return f >= fDayOfWeek && f <= fEra || f == fQuarterOfYear }

// signStyle is Java's SignStyle.
type signStyle uint8

const (
	signNormal signStyle = iota
	signAlways
	signNever
	signNotNegative
	signExceedsPad
)

// textStyle is Java's TextStyle (without the stand-alone variants, which
// are the same in English).
type textStyle uint8

const (
	styleFull textStyle = iota
	styleShort
	styleNarrow
)

// elemKind says what an element prints and parses.
type elemKind uint8

const (
	eLiteral   elemKind = iota
	eNumber             // a field as digits
	eReduced            // a two-digit year of 2000-2099
	eFraction           // the fraction of the second
	eText               // a field as text
	eOffset             // an offset (X, x, Z, ZZZZZ)
	eLocOffset          // a localized offset (O, ZZZZ)
	eZoneID             // VV
	eZoneText           // z
	eOptional           // [ … ]
)

// element is one printer-parser of a compiled pattern.
type element struct {
	kind      elemKind
	lit       string
	f         field
	min, max  int
	sign      signStyle
	subseq    int // adjacent value parsing: digits reserved for following fixed-width values (-1: fixed)
	style     textStyle
	alone     bool // stand-alone text (L, q)
	offPat    int  // index into offsetPatterns
	noOffset  string
	full      bool      // eLocOffset: OOOO
	children  []element // eOptional
	patLetter byte
}

// Pattern is a compiled DateTimeFormatter pattern.
type Pattern struct {
	src   string
	elems []element
}

// String is the pattern's source text.
func (p *Pattern) String() string { return p.src }

// offsetPatterns are Java's OffsetIdPrinterParser patterns, in its order.
var offsetPatterns = []string{
	"+HH", "+HHmm", "+HH:mm", "+HHMM", "+HH:MM", "+HHMMss", "+HH:MM:ss", "+HHMMSS", "+HH:MM:SS", "+HHmmss", "+HH:mm:ss",
}

var letterFields = map[byte]field{
	'G': fEra, 'y': fYearOfEra, 'u': fYear, 'Q': fQuarterOfYear, 'q': fQuarterOfYear,
	'M': fMonthOfYear, 'L': fMonthOfYear, 'D': fDayOfYear, 'd': fDayOfMonth, 'E': fDayOfWeek,
	'a': fAmPmOfDay, 'H': fHourOfDay, 'k': fClockHourOfDay, 'K': fHourOfAmPm, 'h': fClockHourOfAmPm,
	'm': fMinuteOfHour, 's': fSecondOfMinute, 'S': fNanoOfSecond, 'A': fMilliOfDay,
	'n': fNanoOfSecond, 'N': fNanoOfDay,
}

var unsupportedLetters = map[byte]string{
	'Y': "week-based year", 'w': "week of week-based year", 'W': "week of month", 'e': "localized day of week",
	'c': "localized day of week", 'F': "aligned week of month", 'B': "day period", 'v': "generic zone name",
	'p': "padding", 'g': "modified Julian day",
}

// builder is Java's DateTimeFormatterBuilder, for the parts patterns use.
type builder struct {
	stack [][]element // open optional sections; the last is active
	// valueIdx is the index in the active list of the value parser that
	// following fixed-width values attach to (-1: none).
	valueIdx []int
}

func (b *builder) active() *[]element { return &b.stack[len(b.stack)-1] }

func (b *builder) append(e element) int {
	l := b.active()
	*l = append(*l, e)
	b.valueIdx[len(b.valueIdx)-1] = -1
	return len(*l) - 1
}

// appendValue implements Java's adjacent value parsing: a fixed-width,
// not-negative value after another value reserves its width in it, so
// that "yyyyMMdd" reads a four-digit year.
func (b *builder) appendValue(e element) {
	l := b.active()
	vi := &b.valueIdx[len(b.valueIdx)-1]
	if *vi >= 0 {
		base := &(*l)[*vi]
		if e.min == e.max && e.sign == signNotNegative {
			base.subseq += e.max
			e.subseq = -1
			*l = append(*l, e)
			return
		}
		base.subseq = -1
	}
	*l = append(*l, e)
	*vi = len(*l) - 1
}

func (b *builder) number(f field, min, max int, sign signStyle, letter byte) {
	b.appendValue(element{kind: eNumber, f: f, min: min, max: max, sign: sign, patLetter: letter})
}

// Compile compiles a DateTimeFormatter pattern. Its errors are Java's
// (with the same wording where Java has one), or name a letter sluice does
// not support.
func Compile(pattern string) (*Pattern, error) {
	b := &builder{stack: [][]element{nil}, valueIdx: []int{-1}}
	for pos := 0; pos < len(pattern); pos++ {
		cur := pattern[pos]
		switch {
		case cur >= 'A' && cur <= 'Z' || cur >= 'a' && cur <= 'z':
			start := pos
			for pos+1 < len(pattern) && pattern[pos+1] == cur {
				pos++
			}
			if err := b.letter(cur, pos-start+1); err != nil {
				return nil, err
			}
		case cur == '\'':
			start := pos
			pos++
			for ; pos < len(pattern); pos++ {
				if pattern[pos] == '\'' {
					if pos+1 < len(pattern) && pattern[pos+1] == '\'' {
						pos++
					} else {
						break
					}
				}
			}
			if pos >= len(pattern) {
				return nil, fmt.Errorf("pattern %q ends with an incomplete string literal", pattern)
			}
			s := pattern[start+1 : pos]
			if s == "" {
				b.append(element{kind: eLiteral, lit: "'"})
			} else {
				b.append(element{kind: eLiteral, lit: strings.ReplaceAll(s, "''", "'")})
			}
		case cur == '[':
			b.stack = append(b.stack, nil)
			b.valueIdx = append(b.valueIdx, -1)
		case cur == ']':
			if len(b.stack) == 1 {
				return nil, fmt.Errorf("pattern %q contains ] without a previous [", pattern)
			}
			b.closeOptional()
		case cur == '{' || cur == '}' || cur == '#':
			return nil, fmt.Errorf("pattern %q includes the reserved character '%c'", pattern, cur)
		default:
			// A literal: a whole UTF-8 sequence at once.
			end := pos + 1
			for end < len(pattern) && pattern[end]&0xC0 == 0x80 {
				end++
			}
			b.append(element{kind: eLiteral, lit: pattern[pos:end]})
			pos = end - 1
		}
	}
	for len(b.stack) > 1 { // Java closes sections left open
		b.closeOptional()
	}
	return &Pattern{src: pattern, elems: mergeLiterals(b.stack[0])}, nil
}

func (b *builder) closeOptional() {
	children := mergeLiterals(b.stack[len(b.stack)-1])
	b.stack = b.stack[:len(b.stack)-1]
	b.valueIdx = b.valueIdx[:len(b.valueIdx)-1]
	b.append(element{kind: eOptional, children: children})
}

func mergeLiterals(es []element) []element {
	var out []element
	for _, e := range es {
		if e.kind == eLiteral && len(out) > 0 && out[len(out)-1].kind == eLiteral {
			out[len(out)-1].lit += e.lit
			continue
		}
		out = append(out, e)
	}
	return out
}

func tooMany(c byte) error { return fmt.Errorf("too many pattern letters: %c", c) }

// letter appends the printer-parser for count repeats of pattern letter c.
func (b *builder) letter(c byte, count int) error {
	if what, ok := unsupportedLetters[c]; ok {
		return fmt.Errorf("pattern letter %c (%s) is not supported by sluice", c, what)
	}
	if f, ok := letterFields[c]; ok {
		return b.field(c, count, f)
	}
	switch c {
	case 'z':
		switch {
		case count > 4:
			return tooMany(c)
		case count == 4:
			return fmt.Errorf("pattern letters zzzz (full zone name) are not supported by sluice; use z, VV or an offset (XXX)")
		}
		b.append(element{kind: eZoneText})
	case 'V':
		if count != 2 {
			return fmt.Errorf("pattern letter count must be 2: V")
		}
		b.append(element{kind: eZoneID})
	case 'Z':
		switch {
		case count < 4:
			b.append(element{kind: eOffset, offPat: 3, noOffset: "+0000"})
		case count == 4:
			b.append(element{kind: eLocOffset, full: true})
		case count == 5:
			b.append(element{kind: eOffset, offPat: 6, noOffset: "Z"})
		default:
			return tooMany(c)
		}
	case 'O':
		if count != 1 && count != 4 {
			return fmt.Errorf("pattern letter count must be 1 or 4: O")
		}
		b.append(element{kind: eLocOffset, full: count == 4})
	case 'X', 'x':
		if count > 5 {
			return tooMany(c)
		}
		i := count
		if count != 1 {
			i = count + 1
		}
		zero := "Z"
		if c == 'x' {
			switch {
			case count == 1:
				zero = "+00"
			case count%2 == 0:
				zero = "+0000"
			default:
				zero = "+00:00"
			}
		}
		b.append(element{kind: eOffset, offPat: i, noOffset: zero})
	default:
		return fmt.Errorf("unknown pattern letter: %c", c)
	}
	return nil
}

func (b *builder) field(c byte, count int, f field) error {
	switch c {
	case 'u', 'y':
		switch {
		case count == 2:
			b.appendValue(element{kind: eReduced, f: f, min: 2, max: 2, sign: signNotNegative, patLetter: c})
		case count < 4:
			b.number(f, count, 19, signNormal, c)
		default:
			b.number(f, count, 19, signExceedsPad, c)
		}
	case 'M', 'L', 'Q', 'q', 'E':
		alone := c == 'L' || c == 'q'
		switch count {
		case 1, 2:
			if c == 'E' {
				b.append(element{kind: eText, f: f, style: styleShort, patLetter: c})
			} else if count == 1 {
				b.number(f, 1, 19, signNormal, c)
			} else {
				b.number(f, 2, 2, signNotNegative, c)
			}
		case 3:
			b.append(element{kind: eText, f: f, style: styleShort, alone: alone, patLetter: c})
		case 4:
			b.append(element{kind: eText, f: f, style: styleFull, alone: alone, patLetter: c})
		case 5:
			b.append(element{kind: eText, f: f, style: styleNarrow, alone: alone, patLetter: c})
		default:
			return tooMany(c)
		}
	case 'a':
		if count != 1 {
			return tooMany(c)
		}
		b.append(element{kind: eText, f: f, style: styleShort, patLetter: c})
	case 'G':
		switch {
		case count <= 3:
			b.append(element{kind: eText, f: f, style: styleShort, patLetter: c})
		case count == 4:
			b.append(element{kind: eText, f: f, style: styleFull, patLetter: c})
		case count == 5:
			b.append(element{kind: eText, f: f, style: styleNarrow, patLetter: c})
		default:
			return tooMany(c)
		}
	case 'S':
		if count > 9 {
			return fmt.Errorf("pattern %s: the fraction width must be from 1 to 9", strings.Repeat("S", count))
		}
		b.appendValue(element{kind: eFraction, f: fNanoOfSecond, min: count, max: count, sign: signNotNegative, patLetter: c})
	case 'd', 'h', 'H', 'k', 'K', 'm', 's':
		switch count {
		case 1:
			b.number(f, 1, 19, signNormal, c)
		case 2:
			b.number(f, 2, 2, signNotNegative, c)
		default:
			return tooMany(c)
		}
	case 'D':
		switch count {
		case 1:
			b.number(f, 1, 19, signNormal, c)
		case 2, 3:
			b.number(f, count, 3, signNotNegative, c)
		default:
			return tooMany(c)
		}
	case 'A', 'n', 'N':
		if count > 19 {
			return tooMany(c)
		}
		b.number(f, count, 19, signNotNegative, c)
	}
	return nil
}
