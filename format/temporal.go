package format

import (
	"strconv"

	"github.com/sluice-dev/sluice/internal/civil"
)

// Temporal values arrive as integers (days, microseconds) and are written as
// Debezium's time.precision.mode=adaptive writes them. The two string forms
// follow java.time's ISO formatters, which Debezium uses.

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

// appendISOYear writes a year as java.time's ISO_LOCAL_DATE does: at least
// four digits, a '-' for years before year 0001 (ISO year 0 is 1 BC) and a
// '+' for years after 9999.
func appendISOYear(dst []byte, y int64) []byte {
	if y > 9999 {
		dst = append(dst, '+')
	} else if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], y, 10)
	for i := len(b); i < 4; i++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// appendZonedTimestamp writes microseconds since the epoch (UTC) as Debezium's
// io.debezium.time.ZonedTimestamp: ISO-8601 with 'Z'. With width 1..9 the
// fraction has exactly that many digits, as Debezium's PostgreSQL converter
// formats it from the column's fractional precision (since Debezium 2.2);
// with width 0 it is ISO_OFFSET_DATE_TIME's shortest fraction (none when
// zero).
func appendZonedTimestamp(dst []byte, micros int64, width int) []byte {
	secs := civil.FloorDiv(micros, 1_000_000)
	frac := micros - secs*1_000_000
	days := civil.FloorDiv(secs, 86400)
	sod := secs - days*86400
	y, m, d := civil.Date(days)
	dst = append(dst, '"')
	dst = appendISOYear(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, 'T')
	dst = append2(dst, int(sod/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(sod/60%60))
	dst = append(dst, ':')
	dst = append2(dst, int(sod%60))
	dst = appendFraction(dst, frac*1000, width)
	return append(dst, 'Z', '"')
}

// appendFraction writes nanoseconds as a fraction: exactly width digits for
// width 1..9, else the shortest form (nothing for zero), as java.time's
// appendFraction(NANO_OF_SECOND, ...) does.
func appendFraction(dst []byte, nanos int64, width int) []byte {
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + nanos%10)
		nanos /= 10
	}
	n := width
	if width <= 0 || width > 9 {
		n = 9
		for n > 0 && digits[n-1] == '0' {
			n--
		}
		if n == 0 {
			return dst
		}
	}
	dst = append(dst, '.')
	return append(dst, digits[:n]...)
}

// appendZonedTime writes a UTC-normalised "HH:MM:SS[.ffffff]Z" time as
// Debezium's io.debezium.time.ZonedTime (java.time ISO_OFFSET_TIME): the
// fraction in its shortest form. Text that is not in that shape is written
// unchanged.
func appendZonedTime(dst []byte, s string) []byte {
	if len(s) < 9 || s[2] != ':' || s[5] != ':' {
		return appendString(dst, s)
	}
	end := 8
	if len(s) > 8 && s[8] == '.' {
		end = 9
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
	}
	zone := s[end:]
	frac := s[8:end]
	for len(frac) > 1 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if frac == "." {
		frac = ""
	}
	if zone == "+00" || zone == "+00:00" || zone == "-00" || zone == "-00:00" {
		zone = "Z"
	}
	dst = append(dst, '"')
	dst = appendStringBody(dst, s[:8])
	dst = append(dst, frac...)
	dst = appendStringBody(dst, zone)
	return append(dst, '"')
}
