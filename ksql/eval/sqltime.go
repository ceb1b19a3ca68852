package eval

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/civil"
)

// Units of sluice's temporal values (see package types).
const (
	microsPerMilli  = 1000
	microsPerSecond = 1000 * microsPerMilli
	microsPerDay    = 86400 * microsPerSecond
)

func floorMod(a, b int64) int64 { return a - civil.FloorDiv(a, b)*b }

// maxDateDays bounds the DATEs whose midnight a TIMESTAMP can hold.
const maxDateDays = math.MaxInt64 / microsPerDay

// dateMicros is the TIMESTAMP of a DATE's midnight; ok is false when it
// does not fit (a date some 290,000 years away).
func dateMicros(days int64) (int64, bool) {
	if days > maxDateDays || days < -maxDateDays {
		return 0, false
	}
	return days * microsPerDay, true
}

// appendISOYear writes a year as Java's ISO formatters do: four digits at
// least, a sign when it has more than four digits or is negative.
func appendISOYear(b []byte, y int64) []byte {
	if y > 9999 {
		b = append(b, '+')
	} else if y < 0 {
		b = append(b, '-')
		y = -y
	}
	s := strconv.FormatInt(y, 10)
	for i := len(s); i < 4; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

// formatSQLDate is Java's LocalDate.toString: yyyy-MM-dd.
func formatSQLDate(days int64) string {
	y, m, d := civil.Date(days)
	b := appendISOYear(make([]byte, 0, 12), y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	return string(append2(b, d))
}

// formatSQLTime is ksqlDB's TIME to STRING: Java's LocalTime.toString of
// the whole seconds, which leaves out zero seconds ("10:30", "10:30:05").
func formatSQLTime(micros int64) string {
	s := floorMod(micros, microsPerDay) / microsPerSecond
	b := append2(make([]byte, 0, 8), int(s/3600))
	b = append(b, ':')
	b = append2(b, int(s/60%60))
	if s%60 != 0 {
		b = append(b, ':')
		b = append2(b, int(s%60))
	}
	return string(b)
}

// formatSQLTimestamp is ksqlDB's TIMESTAMP to STRING:
// yyyy-MM-dd'T'HH:mm:ss.SSS in UTC. A value with microseconds (which a
// ksqlDB TIMESTAMP cannot hold) shows all six fraction digits.
func formatSQLTimestamp(micros int64) string {
	days := civil.FloorDiv(micros, microsPerDay)
	tod := micros - days*microsPerDay
	y, m, d := civil.Date(days)
	b := appendISOYear(make([]byte, 0, 32), y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	s := tod / microsPerSecond
	b = append2(b, int(s/3600))
	b = append(b, ':')
	b = append2(b, int(s/60%60))
	b = append(b, ':')
	b = append2(b, int(s%60))
	frac := tod % microsPerSecond
	b = append(b, '.')
	if frac%1000 == 0 {
		return string(append(b, fmt.Sprintf("%03d", frac/1000)...))
	}
	return string(append(b, fmt.Sprintf("%06d", frac)...))
}

// timeParseError is ksqlDB's message for a string it cannot read as a
// TIMESTAMP, DATE or TIME, with the format it expects.
func timeParseError(what, s, format, example string) error {
	return fmt.Errorf("cannot parse %q as a %s: expected %s, for example %s", s, what, format, example)
}

// digitsAt reads exactly n ASCII digits of s at i.
func digitsAt(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for j := i; j < i+n; j++ {
		c := s[j]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseISODate reads yyyy-MM-dd strictly (a year beyond 9999 needs a '+').
func parseISODate(s string) (int64, bool) {
	i, neg := 0, false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		i = 1
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	n := j - i
	if n < 4 || n > 10 || n > 4 && i == 0 {
		return 0, false
	}
	y, _ := strconv.ParseInt(s[i:j], 10, 64)
	if neg {
		y = -y
	}
	if len(s) != j+6 || s[j] != '-' || s[j+3] != '-' {
		return 0, false
	}
	m, ok1 := digitsAt(s, j+1, 2)
	d, ok2 := digitsAt(s, j+4, 2)
	if !ok1 || !ok2 || m < 1 || m > 12 || d < 1 || d > civil.MonthDays(y, m) {
		return 0, false
	}
	return civil.Days(y, m, d), true
}

// parseISOTime reads HH:mm[:ss[.f…]] (Java's ISO_LOCAL_TIME) into
// microseconds; fractions of up to six digits.
func parseISOTime(s string) (int64, bool) {
	h, ok1 := digitsAt(s, 0, 2)
	mi, ok2 := digitsAt(s, 3, 2)
	if !ok1 || !ok2 || len(s) < 5 || s[2] != ':' || h > 23 || mi > 59 {
		return 0, false
	}
	us := int64(h*3600+mi*60) * microsPerSecond
	if len(s) == 5 {
		return us, true
	}
	sec, ok := digitsAt(s, 6, 2)
	if !ok || s[5] != ':' || sec > 59 {
		return 0, false
	}
	us += int64(sec) * microsPerSecond
	if len(s) == 8 {
		return us, true
	}
	frac := s[9:]
	if s[8] != '.' || len(frac) < 1 || len(frac) > 6 {
		return 0, false
	}
	f, ok := digitsAt(frac, 0, len(frac))
	if !ok {
		return 0, false
	}
	for i := len(frac); i < 6; i++ {
		f *= 10
	}
	return us + int64(f), true
}

// parseSQLDate is ksqlDB's STRING to DATE: yyyy-MM-dd, where yyyy and
// yyyy-MM stand for the first day of the year or month.
func parseSQLDate(s string) (int64, error) {
	// As ksqlDB, which counts the parts of String.split("-").
	c := s
	switch len(strings.Split(strings.TrimRight(s, "-"), "-")) {
	case 1:
		c = s + "-01-01"
	case 2:
		c = s + "-01"
	}
	d, ok := parseISODate(c)
	if !ok {
		return 0, timeParseError("DATE", s, "yyyy-MM-dd", "'2020-05-26' (or a part: '2020-05')")
	}
	return d, nil
}

// parseSQLTime is ksqlDB's STRING to TIME: HH:mm[:ss[.SSS]].
func parseSQLTime(s string) (int64, error) {
	t, ok := parseISOTime(s)
	if !ok {
		return 0, timeParseError("TIME", s, "HH:mm:ss.SSS", "'01:34:20.123' or '01:34'")
	}
	return t, nil
}

// parseSQLTimestamp is ksqlDB's STRING to TIMESTAMP:
// yyyy-MM-dd'T'HH:mm:ss.SSS with an optional offset (+hh, +hhmm, +hh:mm,
// or Z for UTC); trailing parts may be left out ('2020-05-26T10',
// '2020-05-26', '2020'). Up to six fraction digits.
func parseSQLTimestamp(s string) (int64, error) {
	bad := func() (int64, error) {
		return 0, timeParseError("TIMESTAMP", s, "yyyy-MM-dd'T'HH:mm:ss.SSS with an optional offset",
			"'2020-05-26T23:59:58.000' or '2020-05-26T23:59:58.000+0200' (or a part: '2020-05-26')")
	}
	t := strings.IndexByte(s, 'T')
	if t < 0 {
		d, err := parseSQLDate(s)
		if err != nil {
			return bad()
		}
		return d * microsPerDay, nil
	}
	date, rest := s[:t], s[t+1:]
	zone := ""
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		rest, zone = rest[:i], rest[i:]
	} else if i := strings.IndexByte(rest, '-'); i >= 0 {
		rest, zone = rest[:i], rest[i:]
	}
	rest = strings.TrimSuffix(rest, "Z")
	const full = "00:00:00.000"
	if len(rest) < len(full) {
		rest += full[len(rest):]
	}
	days, ok := parseISODate(date)
	if !ok {
		return bad()
	}
	tod, ok := parseISOTime(rest)
	if !ok || len(rest) < len(full) {
		return bad()
	}
	off := 0
	if zone != "" {
		if off, ok = parseOffsetID(zone); !ok {
			return 0, fmt.Errorf("cannot parse %q as a TIMESTAMP: %q is not a time zone offset (+hh, +hhmm or +hh:mm)", s, zone)
		}
	}
	return days*microsPerDay + tod - int64(off)*microsPerSecond, nil
}

// parseOffsetID reads a zone offset as Java's ZoneOffset.of: ±h, ±hh,
// ±hh:mm, ±hhmm, ±hh:mm:ss, ±hhmmss, within ±18:00.
func parseOffsetID(z string) (int, bool) {
	if len(z) < 2 || z[0] != '+' && z[0] != '-' {
		return 0, false
	}
	sign, b := 1, z[1:]
	if z[0] == '-' {
		sign = -1
	}
	var layout string
	switch len(b) {
	case 1:
		layout = "h"
	case 2:
		layout = "hh"
	case 4:
		layout = "hhmm"
	case 5:
		layout = "hh:mm"
	case 6:
		layout = "hhmmss"
	case 8:
		layout = "hh:mm:ss"
	default:
		return 0, false
	}
	var f [3]int // hours, minutes, seconds
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c == ':' {
			if b[i] != ':' {
				return 0, false
			}
			continue
		}
		if b[i] < '0' || b[i] > '9' {
			return 0, false
		}
		k := strings.IndexByte("hms", c)
		f[k] = f[k]*10 + int(b[i]-'0')
	}
	h, m, sec := f[0], f[1], f[2]
	if h > 18 || m > 59 || sec > 59 || h == 18 && (m > 0 || sec > 0) {
		return 0, false
	}
	return sign * (h*3600 + m*60 + sec), true
}
