package javatime

import (
	"fmt"

	"github.com/sluice-dev/sluice/internal/civil"
)

// resolved is a parse after Java's SMART resolution: a date and a time of
// day where the fields made them, and the fields left over.
type resolved struct {
	p       parsed
	hasDate bool
	days    int64 // the date, days since 1970-01-01
	hasTime bool
	nanos   int64 // the time, nanoseconds of the day
	// excessDay: the time was 24:00, the end of the date's day.
	excessDay bool
}

type fieldRange struct{ lo, hi int64 }

var ranges = map[field]fieldRange{
	fNanoOfSecond: {0, 999_999_999}, fNanoOfDay: {0, 86400*1e9 - 1}, fMilliOfDay: {0, 86400*1000 - 1},
	fSecondOfMinute: {0, 59}, fMinuteOfHour: {0, 59}, fHourOfAmPm: {0, 11}, fClockHourOfAmPm: {0, 12},
	fHourOfDay: {0, 24}, fClockHourOfDay: {0, 24}, fAmPmOfDay: {0, 1}, fDayOfWeek: {1, 7},
	fDayOfMonth: {1, 31}, fDayOfYear: {1, 366}, fMonthOfYear: {1, 12}, fYearOfEra: {1, 1_000_000_000},
	fYear: {-999_999_999, 999_999_999}, fEra: {0, 1}, fQuarterOfYear: {1, 4}, fOffsetSeconds: {-18 * 3600, 18 * 3600},
}

func (r *resolved) check(f field, v int64) error {
	if rg, ok := ranges[f]; ok && (v < rg.lo || v > rg.hi) {
		return fmt.Errorf("invalid value for %s (valid values %d - %d): %d", f, rg.lo, rg.hi, v)
	}
	return nil
}

func (r *resolved) take(f field) (int64, bool) {
	if !r.p.has[f] {
		return 0, false
	}
	r.p.has[f] = false
	return r.p.val[f], true
}

func (r *resolved) put(f field, v int64) error {
	if r.p.has[f] && r.p.val[f] != v {
		return fmt.Errorf("conflict found: %s %d differs from %s %d", f, r.p.val[f], f, v)
	}
	r.p.has[f], r.p.val[f] = true, v
	return nil
}

// resolve is Java's Parsed.resolve with ResolverStyle.SMART for the fields
// the supported letters give.
func resolve(p *parsed) (*resolved, error) {
	r := &resolved{p: *p}
	for f := field(0); f < numFields; f++ {
		if r.p.has[f] {
			if err := r.check(f, r.p.val[f]); err != nil {
				return nil, err
			}
		}
	}
	// Year of era and era make the year; a year of era alone is the year.
	if yoe, ok := r.take(fYearOfEra); ok {
		y := yoe
		if era, ok := r.take(fEra); ok && era == 0 {
			y = 1 - yoe
		}
		if err := r.put(fYear, y); err != nil {
			return nil, err
		}
	}
	if y, ok := r.p.val[fYear], r.p.has[fYear]; ok {
		switch {
		case r.p.has[fMonthOfYear] && r.p.has[fDayOfMonth]:
			m, d := int(r.p.val[fMonthOfYear]), int(r.p.val[fDayOfMonth])
			d = min(d, civil.MonthDays(y, m)) // SMART: the 31st of a short month is its last day
			r.hasDate, r.days = true, civil.Days(y, m, d)
			r.take(fYear)
			r.take(fMonthOfYear)
			r.take(fDayOfMonth)
		case r.p.has[fDayOfYear]:
			doy := r.p.val[fDayOfYear]
			if doy == 366 && !civil.IsLeap(y) {
				return nil, fmt.Errorf("invalid date 'DayOfYear 366' as '%d' is not a leap year", y)
			}
			r.hasDate, r.days = true, civil.Days(y, 1, 1)+doy-1
			r.take(fYear)
			r.take(fDayOfYear)
		}
	}
	if err := r.resolveTime(); err != nil {
		return nil, err
	}
	if r.hasDate && r.excessDay {
		r.days++
	}
	return r, r.crossCheck()
}

func (r *resolved) resolveTime() error {
	if ch, ok := r.take(fClockHourOfDay); ok {
		if err := r.put(fHourOfDay, ch%24); err != nil {
			return err
		}
	}
	if ch, ok := r.take(fClockHourOfAmPm); ok {
		if err := r.put(fHourOfAmPm, ch%12); err != nil {
			return err
		}
	}
	if r.p.has[fAmPmOfDay] && r.p.has[fHourOfAmPm] {
		ap, _ := r.take(fAmPmOfDay)
		hap, _ := r.take(fHourOfAmPm)
		if err := r.put(fHourOfDay, ap*12+hap); err != nil {
			return err
		}
	}
	if nod, ok := r.take(fNanoOfDay); ok {
		s := nod / 1e9
		for _, fv := range []struct {
			f field
			v int64
		}{{fHourOfDay, s / 3600}, {fMinuteOfHour, s / 60 % 60}, {fSecondOfMinute, s % 60}, {fNanoOfSecond, nod % 1e9}} {
			if err := r.put(fv.f, fv.v); err != nil {
				return err
			}
		}
	}
	if mod, ok := r.take(fMilliOfDay); ok {
		s := mod / 1000
		for _, fv := range []struct {
			f field
			v int64
		}{{fHourOfDay, s / 3600}, {fMinuteOfHour, s / 60 % 60}, {fSecondOfMinute, s % 60}} {
			if err := r.put(fv.f, fv.v); err != nil {
				return err
			}
		}
		ms := (mod % 1000) * 1e6
		if r.p.has[fNanoOfSecond] {
			ms += r.p.val[fNanoOfSecond] % 1e6
			r.take(fNanoOfSecond)
		}
		if err := r.put(fNanoOfSecond, ms); err != nil {
			return err
		}
	}
	// An hour makes a time: missing minutes and seconds are zero, unless
	// a smaller unit is given without a larger one.
	h, hasH := r.p.val[fHourOfDay], r.p.has[fHourOfDay]
	if !hasH {
		return nil
	}
	m, hasM := r.p.val[fMinuteOfHour], r.p.has[fMinuteOfHour]
	s, hasS := r.p.val[fSecondOfMinute], r.p.has[fSecondOfMinute]
	n, hasN := r.p.val[fNanoOfSecond], r.p.has[fNanoOfSecond]
	if !hasM && (hasS || hasN) || hasM && !hasS && hasN {
		return nil
	}
	if h == 24 {
		// SMART: 24:00 is the midnight that ends the day; other times
		// past 23:59 are invalid.
		if m != 0 || s != 0 || n != 0 {
			return fmt.Errorf("invalid value for HourOfDay (valid values 0 - 23): 24")
		}
		h, r.excessDay = 0, true
	}
	r.hasTime, r.nanos = true, ((h*60+m)*60+s)*1e9+n
	r.take(fHourOfDay)
	r.take(fMinuteOfHour)
	r.take(fSecondOfMinute)
	r.take(fNanoOfSecond)
	return nil
}

// crossCheck fails when a field left over contradicts the date or time
// the others made (E that is not the date's day of the week, a that
// disagrees with H).
func (r *resolved) crossCheck() error {
	var t temporal
	if r.hasDate {
		t.setDate(r.days)
	}
	if r.hasTime {
		t.setTime(r.nanos)
	}
	for f := field(0); f < numFields; f++ {
		if !r.p.has[f] || f == fOffsetSeconds {
			continue
		}
		if v, ok := t.get(f); ok {
			if v != r.p.val[f] {
				return fmt.Errorf("conflict found: field %s %d differs from %s %d derived from the date and time", f, r.p.val[f], f, v)
			}
			r.p.has[f] = false
		}
	}
	return nil
}

// ParseTimestamp reads text as ksqlDB's StringToTimestampParser: fields
// the text leaves out default to 1970-01-01T00:00:00, and the time is in
// the text's zone or offset if it has one, else in zone. The result is
// microseconds since the epoch (nanoseconds are truncated).
func (p *Pattern) ParseTimestamp(text string, zone *Zone) (int64, error) {
	ps, err := p.parse(text, Root)
	if err != nil {
		return 0, err
	}
	r, err := resolve(ps)
	if err != nil {
		return 0, p.resolveError(text, err)
	}
	// ksqlDB applies every parsed field to 1970-01-01T00:00 in the zone.
	y, mo, d := int64(1970), 1, 1
	if r.hasDate {
		y, mo, d = civil.Date(r.days)
	} else {
		days := int64(0)
		if dow, ok := r.take(fDayOfWeek); ok { // within the week of 1970-01-01 (Thursday)
			days += dow - 4
		}
		y, mo, d = civil.Date(days)
		if v, ok := r.take(fDayOfMonth); ok {
			if int(v) > civil.MonthDays(y, mo) {
				return 0, p.resolveError(text, fmt.Errorf("invalid date '%s %d'", monthsFull[mo-1], v))
			}
			d = int(v)
		}
		if v, ok := r.take(fDayOfYear); ok {
			if v == 366 {
				yy, ok := r.p.val[fYear], r.p.has[fYear]
				if !ok {
					return 0, p.resolveError(text, fmt.Errorf("leap day cannot be parsed without supplying the year field"))
				}
				y = yy
			}
			if v == 366 && !civil.IsLeap(y) {
				return 0, p.resolveError(text, fmt.Errorf("invalid date 'DayOfYear 366' as '%d' is not a leap year", y))
			}
			y, mo, d = civil.Date(civil.Days(y, 1, 1) + v - 1)
		}
		if v, ok := r.take(fMonthOfYear); ok {
			mo = int(v)
			d = min(d, civil.MonthDays(y, mo))
		}
		if v, ok := r.take(fYear); ok {
			y = v
			d = min(d, civil.MonthDays(y, mo))
		}
		if v, ok := r.take(fEra); ok && v == 0 {
			y = 1 - y
			d = min(d, civil.MonthDays(y, mo))
		}
	}
	nanos := int64(0)
	if r.hasTime {
		// Setting MilliOfSecond after NanoOfSecond, as ksqlDB's loop
		// does, keeps milliseconds only.
		nanos = r.nanos / 1e6 * 1e6
	} else {
		h, m, s, n := int64(0), int64(0), int64(0), int64(0)
		if v, ok := r.take(fNanoOfSecond); ok {
			n = v
		}
		if v, ok := r.take(fSecondOfMinute); ok {
			s = v
		}
		if v, ok := r.take(fMinuteOfHour); ok {
			m = v
		}
		if v, ok := r.take(fHourOfAmPm); ok {
			h = h/12*12 + v
		}
		if v, ok := r.take(fHourOfDay); ok {
			h = v
		}
		if v, ok := r.take(fAmPmOfDay); ok {
			h = h%12 + 12*v
		}
		nanos = ((h*60+m)*60+s)*1e9 + n
	}
	local := civil.Days(y, mo, d)*secondsPerDay + nanos/1e9
	micros := nanos % 1e9 / 1000
	off, hasOff := r.p.val[fOffsetSeconds], r.p.has[fOffsetSeconds]
	var sec int64
	switch {
	case hasOff && r.hasDate && r.hasTime:
		sec = local - off
	case r.p.zone != nil && r.hasDate && r.hasTime:
		sec = r.p.zone.resolveLocal(local, 0, false)
	default:
		z := zone
		if r.p.zone != nil {
			z = r.p.zone
		} else if hasOff {
			z = offsetZone(int(off))
		}
		// The offset ksqlDB's field-by-field application arrives with
		// before setting the year: the same local time in 1970.
		local1970 := civil.Days(1970, mo, min(d, civil.MonthDays(1970, mo)))*secondsPerDay + nanos/1e9
		pref, _ := z.offsetAt(z.resolveLocal(local1970, 0, false))
		sec = z.resolveLocal(local, pref, true)
	}
	return sec*1_000_000 + micros, nil
}

func (p *Pattern) resolveError(text string, err error) error {
	return &ParseError{Text: text, Pattern: p.src, Index: -1, Reason: err.Error()}
}

// ParseDate reads text as Java's LocalDate.parse(text, formatter)
// (STRINGTODATE): the text must give a whole date. The result is days
// since 1970-01-01.
func (p *Pattern) ParseDate(text string, loc Locale) (int64, error) {
	ps, err := p.parse(text, loc)
	if err != nil {
		return 0, err
	}
	r, err := resolve(ps)
	if err != nil {
		return 0, p.resolveError(text, err)
	}
	if !r.hasDate {
		return 0, p.resolveError(text, fmt.Errorf("unable to obtain a date from the fields %s", r.fieldList()))
	}
	return r.days, nil
}

// ParseTime reads text as ksqlDB's PARSE_TIME: a time of day (at least an
// hour), and no date fields. The result is microseconds since midnight.
func (p *Pattern) ParseTime(text string, loc Locale) (int64, error) {
	ps, err := p.parse(text, loc)
	if err != nil {
		return 0, err
	}
	for f := field(0); f < numFields; f++ {
		if ps.has[f] && f.isDate() {
			return 0, p.resolveError(text, fmt.Errorf("time format contains date field"))
		}
	}
	r, err := resolve(ps)
	if err != nil {
		return 0, p.resolveError(text, err)
	}
	if !r.hasTime {
		return 0, p.resolveError(text, fmt.Errorf("unable to obtain a time from the fields %s", r.fieldList()))
	}
	return r.nanos / 1000, nil
}

func (r *resolved) fieldList() string {
	s := "{"
	for f := field(0); f < numFields; f++ {
		if r.p.has[f] {
			if len(s) > 1 {
				s += ", "
			}
			s += fmt.Sprintf("%s=%d", f, r.p.val[f])
		}
	}
	return s + "}"
}
