package javatime

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/civil"
)

// temporal is what a pattern formats: a date, a time of day, or an
// instant in a zone (both, with the zone).
type temporal struct {
	hasDate, hasTime, hasZone bool

	year         int64
	month, day   int
	dayOfYear    int
	dayOfWeek    int // 1 Monday … 7 Sunday
	hour, minute int
	second, nano int
	offset       int // seconds east of UTC
	zone         *Zone
	dst          bool // daylight saving time is in effect
}

const (
	nanosPerSecond = 1_000_000_000
	secondsPerDay  = 86400
)

// setDate fills the date fields from days since 1970-01-01.
func (t *temporal) setDate(days int64) {
	t.hasDate = true
	t.year, t.month, t.day = civil.Date(days)
	t.dayOfYear = int(days - civil.Days(t.year, 1, 1) + 1)
	t.dayOfWeek = int(floorMod(days+3, 7)) + 1 // 1970-01-01 was a Thursday
}

func floorMod(a, b int64) int64 { return a - civil.FloorDiv(a, b)*b }

// setTime fills the time fields from nanoseconds of the day.
func (t *temporal) setTime(nanoOfDay int64) {
	t.hasTime = true
	s := nanoOfDay / nanosPerSecond
	t.nano = int(nanoOfDay % nanosPerSecond)
	t.hour, t.minute, t.second = int(s/3600), int(s/60%60), int(s%60)
}

// get is the value of field f, or false when the temporal lacks it.
func (t *temporal) get(f field) (int64, bool) {
	if f.isDate() && !t.hasDate || !f.isDate() && f != fOffsetSeconds && f != fInstantSeconds && !t.hasTime {
		return 0, false
	}
	switch f {
	case fNanoOfSecond:
		return int64(t.nano), true
	case fNanoOfDay:
		return int64(t.hour*3600+t.minute*60+t.second)*nanosPerSecond + int64(t.nano), true
	case fMilliOfDay:
		return int64(t.hour*3600+t.minute*60+t.second)*1000 + int64(t.nano/1e6), true
	case fSecondOfMinute:
		return int64(t.second), true
	case fMinuteOfHour:
		return int64(t.minute), true
	case fHourOfDay:
		return int64(t.hour), true
	case fClockHourOfDay:
		if t.hour == 0 {
			return 24, true
		}
		return int64(t.hour), true
	case fHourOfAmPm:
		return int64(t.hour % 12), true
	case fClockHourOfAmPm:
		if t.hour%12 == 0 {
			return 12, true
		}
		return int64(t.hour % 12), true
	case fAmPmOfDay:
		return int64(t.hour / 12), true
	case fDayOfWeek:
		return int64(t.dayOfWeek), true
	case fDayOfMonth:
		return int64(t.day), true
	case fDayOfYear:
		return int64(t.dayOfYear), true
	case fMonthOfYear:
		return int64(t.month), true
	case fQuarterOfYear:
		return int64((t.month-1)/3 + 1), true
	case fYear:
		return t.year, true
	case fYearOfEra:
		if t.year < 1 {
			return 1 - t.year, true
		}
		return t.year, true
	case fEra:
		if t.year < 1 {
			return 0, true
		}
		return 1, true
	case fOffsetSeconds:
		return int64(t.offset), t.hasZone
	}
	return 0, false
}

// FormatInstant formats an instant (microseconds since the epoch) in a
// zone, as Java's DateTimeFormatter.format of a ZonedDateTime.
func (p *Pattern) FormatInstant(micros int64, z *Zone) (string, error) {
	sec := civil.FloorDiv(micros, 1_000_000)
	off, _ := z.offsetAt(sec)
	local := sec + int64(off)
	t := temporal{hasZone: true, offset: off, zone: z, dst: time.Unix(sec, 0).In(z.loc).IsDST()}
	days := civil.FloorDiv(local, secondsPerDay)
	t.setDate(days)
	t.setTime((local-days*secondsPerDay)*nanosPerSecond + floorMod(micros, 1_000_000)*1000)
	return p.format(&t)
}

// FormatDate formats a date (days since 1970-01-01), as LocalDate.format:
// a time or zone letter is an error.
func (p *Pattern) FormatDate(days int64) (string, error) {
	var t temporal
	t.setDate(days)
	return p.format(&t)
}

// FormatTime formats a time of day (microseconds since midnight), as
// LocalTime.format: a date or zone letter is an error.
func (p *Pattern) FormatTime(micros int64) (string, error) {
	var t temporal
	t.setTime(floorMod(micros, secondsPerDay*1_000_000) * 1000)
	return p.format(&t)
}

func (p *Pattern) format(t *temporal) (string, error) {
	var b strings.Builder
	if _, err := formatElems(&b, p.elems, t, false); err != nil {
		return "", err
	}
	return b.String(), nil
}

// formatElems writes elements; in an optional section (optional) a
// missing field drops the whole section instead of failing.
func formatElems(b *strings.Builder, es []element, t *temporal, optional bool) (bool, error) {
	start := b.Len()
	for i := range es {
		ok, err := formatElem(b, &es[i], t)
		if err != nil {
			return false, err
		}
		if !ok {
			if optional {
				s := b.String()[:start]
				b.Reset()
				b.WriteString(s)
				return true, nil
			}
			return false, fmt.Errorf("the value has no %s", missingName(&es[i]))
		}
	}
	return true, nil
}

func missingName(e *element) string {
	switch e.kind {
	case eOffset, eLocOffset:
		return "offset (pattern letters X, x, Z, O need a zone)"
	case eZoneID, eZoneText:
		return "time zone (pattern letters VV and z need one)"
	}
	return "field " + e.f.String()
}

func formatElem(b *strings.Builder, e *element, t *temporal) (bool, error) {
	switch e.kind {
	case eLiteral:
		b.WriteString(e.lit)
	case eOptional:
		return formatElems(b, e.children, t, true)
	case eNumber:
		v, ok := t.get(e.f)
		if !ok {
			return false, nil
		}
		return true, formatNumber(b, e, v)
	case eReduced:
		v, ok := t.get(e.f)
		if !ok {
			return false, nil
		}
		v %= 100
		if v < 0 {
			v = -v
		}
		b.WriteByte(byte('0' + v/10))
		b.WriteByte(byte('0' + v%10))
	case eFraction:
		v, ok := t.get(e.f)
		if !ok {
			return false, nil
		}
		digits := fmt.Sprintf("%09d", v)[:e.max]
		for len(digits) > e.min && digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
		}
		b.WriteString(digits)
	case eText:
		v, ok := t.get(e.f)
		if !ok {
			return false, nil
		}
		names := texts(e.f, e.style, e.alone, English)
		i := v - textBase(e.f)
		if i < 0 || i >= int64(len(names)) {
			return true, formatNumber(b, &element{f: e.f, min: 1, max: 19, sign: signNormal}, v)
		}
		b.WriteString(names[i])
	case eOffset:
		if !t.hasZone {
			return false, nil
		}
		formatOffset(b, e, t.offset)
	case eLocOffset:
		if !t.hasZone {
			return false, nil
		}
		formatLocalizedOffset(b, e.full, t.offset)
	case eZoneID:
		if !t.hasZone {
			return false, nil
		}
		b.WriteString(t.zone.id)
	case eZoneText:
		if !t.hasZone {
			return false, nil
		}
		if t.zone.fixed || t.zone.prefix {
			b.WriteString(t.zone.id)
			break
		}
		std, dst := t.zone.names()
		name := std
		if t.dst {
			name = dst
		}
		if name == "" {
			return false, fmt.Errorf("pattern letter z: sluice has no short name for time zone %s at this time (Java's comes from its locale data); use VV or XXX", t.zone.id)
		}
		b.WriteString(name)
	}
	return true, nil
}

// formatNumber is Java's NumberPrinterParser.format.
func formatNumber(b *strings.Builder, e *element, v int64) error {
	s := strconv.FormatInt(v, 10)
	neg := v < 0
	if neg {
		s = s[1:]
	}
	if len(s) > e.max {
		return fmt.Errorf("field %s cannot be printed as the value %d exceeds the maximum print width of %d", e.f, v, e.max)
	}
	if !neg {
		if e.sign == signExceedsPad && e.min < 19 && len(s) > e.min || e.sign == signAlways {
			b.WriteByte('+')
		}
	} else {
		if e.sign == signNotNegative {
			return fmt.Errorf("field %s cannot be printed as the value %d cannot be negative according to the SignStyle", e.f, v)
		}
		b.WriteByte('-')
	}
	for i := len(s); i < e.min; i++ {
		b.WriteByte('0')
	}
	b.WriteString(s)
	return nil
}

// formatOffset is Java's OffsetIdPrinterParser.format.
func formatOffset(b *strings.Builder, e *element, total int) {
	if total == 0 {
		b.WriteString(e.noOffset)
		return
	}
	style := e.offPat % 11
	colon := style > 0 && style%2 == 0
	abs := total
	if abs < 0 {
		abs = -abs
	}
	h, m, s := abs/3600%100, abs/60%60, abs%60
	start := b.Len()
	if total < 0 {
		b.WriteByte('-')
	} else {
		b.WriteByte('+')
	}
	b.WriteByte(byte('0' + h/10))
	b.WriteByte(byte('0' + h%10))
	output := h
	if style >= 3 && style <= 8 || style >= 9 && s > 0 || style >= 1 && m > 0 {
		if colon {
			b.WriteByte(':')
		}
		b.WriteByte(byte('0' + m/10))
		b.WriteByte(byte('0' + m%10))
		output += m
		if style == 7 || style == 8 || style >= 5 && s > 0 {
			if colon {
				b.WriteByte(':')
			}
			b.WriteByte(byte('0' + s/10))
			b.WriteByte(byte('0' + s%10))
			output += s
		}
	}
	if output == 0 {
		str := b.String()[:start]
		b.Reset()
		b.WriteString(str)
		b.WriteString(e.noOffset)
	}
}

// formatLocalizedOffset is Java's O (GMT+8, GMT+5:30) and OOOO/ZZZZ
// (GMT+08:00).
func formatLocalizedOffset(b *strings.Builder, full bool, total int) {
	b.WriteString("GMT")
	if total == 0 {
		return
	}
	abs := total
	if total < 0 {
		b.WriteByte('-')
		abs = -abs
	} else {
		b.WriteByte('+')
	}
	h, m, s := abs/3600, abs/60%60, abs%60
	if full {
		b.WriteByte(byte('0' + h/10))
		b.WriteByte(byte('0' + h%10))
		b.WriteByte(':')
		b.WriteByte(byte('0' + m/10))
		b.WriteByte(byte('0' + m%10))
		if s != 0 {
			b.WriteByte(':')
			b.WriteByte(byte('0' + s/10))
			b.WriteByte(byte('0' + s%10))
		}
		return
	}
	b.WriteString(strconv.Itoa(h))
	if m != 0 || s != 0 {
		b.WriteByte(':')
		b.WriteByte(byte('0' + m/10))
		b.WriteByte(byte('0' + m%10))
		if s != 0 {
			b.WriteByte(':')
			b.WriteByte(byte('0' + s/10))
			b.WriteByte(byte('0' + s%10))
		}
	}
}
