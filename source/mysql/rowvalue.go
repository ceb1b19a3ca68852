package mysql

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-dev/sluice/event"
)

// The image decoder's values, one binlog type at a time: go-mysql's
// RowsEvent.decodeValue (with ParseTime, without UseDecimal) ported to
// write into rawValues, with the same acceptance: whatever go-mysql would
// reject or format oddly is either refused (the event then goes to
// go-mysql) or written as go-mysql's text.

// rawValue is a decoded value before the event's strings exist: Kind and
// Num of its event.Value; for KindString and KindDecimal, Num holds the
// string's offsets in the text (start<<32 | end). Without pointers, the
// scratch costs the garbage collector nothing.
type rawValue struct {
	kind event.Kind
	// body: the string's offsets are in the event's body, not its text.
	body bool
	num  uint64
}

func rInt(n int64) rawValue     { return rawValue{kind: event.KindInt, num: uint64(n)} }
func rFloat(f float64) rawValue { return rawValue{kind: event.KindFloat, num: math.Float64bits(f)} }

// bodyStr records the l bytes at h of b, a suffix of the event's body (as
// every b value decodes from is), as a string of the event: its offsets in
// the body, made a string without a copy when the event is complete, as
// go-mysql's own decoding does (the body is the event's: nothing writes
// to it again).
func (d *imageDecoder) bodyStr(b []byte, h, l int) rawValue {
	start := len(d.body) - len(b) + h
	if d.ascii && !isASCII(b[h:h+l]) {
		d.ascii = false
	}
	return rawValue{kind: event.KindString, body: true, num: uint64(start)<<32 | uint64(start+l)}
}

// textf records go-mysql's text form of an unusual temporal value, for
// colType.fromImage to parse as go-mysql's value would be.
func (d *imageDecoder) textf(format string, args ...any) rawValue {
	off := len(d.text)
	d.text = fmt.Appendf(d.text, format, args...)
	return rawValue{kind: event.KindString, num: uint64(off)<<32 | uint64(len(d.text))}
}

// truncFrac is go-mysql's "%06d" fraction cut to dec digits.
func (d *imageDecoder) truncFrac(v rawValue, dec int) rawValue {
	if dec == 0 {
		return v
	}
	end := v.num & (1<<32 - 1)
	d.text = d.text[:end-uint64(6-dec)]
	return rawValue{kind: v.kind, num: v.num&^(1<<32-1) | uint64(len(d.text))}
}

// value decodes one value of binlog type tp as a generic value:
//
//	TINY..LONGLONG, YEAR   KindInt, sign-extended (go-mysql's int8..int64, int)
//	FLOAT, DOUBLE          KindFloat
//	NEWDECIMAL             KindDecimal, go-mysql's text
//	BIT, ENUM, SET         KindInt (go-mysql's int64)
//	DATE, TIME(2)          KindInt (days, µs), or KindString: go-mysql's text
//	DATETIME(2),           KindInt (µs: go-mysql's time.Time), or KindString:
//	TIMESTAMP(2)           go-mysql's text (zero and pre-1970 dates)
//	strings and blobs      KindString, the raw bytes
func (d *imageDecoder) value(b []byte, tp byte, meta uint16) (rawValue, int) {
	length := 0
	if tp == gomysql.MYSQL_TYPE_STRING {
		if meta >= 256 {
			b0, b1 := uint8(meta>>8), uint8(meta&0xff)
			if b0&0x30 != 0x30 {
				length = int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
				tp = b0 | 0x30
			} else {
				length = int(meta & 0xff)
				tp = b0
			}
		} else {
			length = int(meta)
		}
	}
	switch tp {
	case gomysql.MYSQL_TYPE_TINY:
		if len(b) < 1 {
			return rawValue{}, -1
		}
		return rInt(int64(int8(b[0]))), 1
	case gomysql.MYSQL_TYPE_SHORT:
		if len(b) < 2 {
			return rawValue{}, -1
		}
		return rInt(int64(int16(binary.LittleEndian.Uint16(b)))), 2
	case gomysql.MYSQL_TYPE_INT24:
		if len(b) < 3 {
			return rawValue{}, -1
		}
		return rInt(int64(gomysql.ParseBinaryInt24(b))), 3
	case gomysql.MYSQL_TYPE_LONG:
		if len(b) < 4 {
			return rawValue{}, -1
		}
		return rInt(int64(int32(binary.LittleEndian.Uint32(b)))), 4
	case gomysql.MYSQL_TYPE_LONGLONG:
		if len(b) < 8 {
			return rawValue{}, -1
		}
		return rInt(int64(binary.LittleEndian.Uint64(b))), 8
	case gomysql.MYSQL_TYPE_FLOAT:
		if len(b) < 4 {
			return rawValue{}, -1
		}
		return rFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))), 4
	case gomysql.MYSQL_TYPE_DOUBLE:
		if len(b) < 8 {
			return rawValue{}, -1
		}
		return rFloat(math.Float64frombits(binary.LittleEndian.Uint64(b))), 8
	case gomysql.MYSQL_TYPE_NEWDECIMAL:
		return d.decimal(b, int(meta>>8), int(meta&0xff))
	case gomysql.MYSQL_TYPE_YEAR:
		if len(b) < 1 {
			return rawValue{}, -1
		}
		if b[0] == 0 {
			return rInt(0), 1
		}
		return rInt(int64(b[0]) + 1900), 1
	case gomysql.MYSQL_TYPE_BIT:
		nbits := int(meta>>8)*8 + int(meta&0xff)
		n := (nbits + 7) / 8
		if n < 1 || n > 8 || len(b) < n {
			return rawValue{}, -1
		}
		var u uint64
		for _, c := range b[:n] {
			u = u<<8 | uint64(c)
		}
		return rInt(int64(u)), n
	case gomysql.MYSQL_TYPE_ENUM:
		switch meta & 0xff {
		case 1:
			if len(b) < 1 {
				return rawValue{}, -1
			}
			return rInt(int64(b[0])), 1
		case 2:
			if len(b) < 2 {
				return rawValue{}, -1
			}
			return rInt(int64(binary.LittleEndian.Uint16(b))), 2
		}
		return rawValue{}, -1
	case gomysql.MYSQL_TYPE_SET:
		n := int(meta & 0xff)
		if n < 1 || n > 8 || len(b) < n {
			return rawValue{}, -1
		}
		return rInt(int64(gomysql.FixedLengthInt(b[:n]))), n
	case gomysql.MYSQL_TYPE_BLOB:
		var l, h int
		switch meta {
		case 1:
			if len(b) >= 1 {
				l, h = int(b[0]), 1
			}
		case 2:
			if len(b) >= 2 {
				l, h = int(binary.LittleEndian.Uint16(b)), 2
			}
		case 3:
			if len(b) >= 3 {
				l, h = int(gomysql.FixedLengthInt(b[:3])), 3
			}
		case 4:
			if len(b) >= 4 {
				l, h = int(binary.LittleEndian.Uint32(b)), 4
			}
		}
		if h == 0 || len(b)-h < l {
			return rawValue{}, -1
		}
		return d.bodyStr(b, h, l), h + l
	case gomysql.MYSQL_TYPE_VARCHAR, gomysql.MYSQL_TYPE_VAR_STRING:
		return d.varString(b, int(meta))
	case gomysql.MYSQL_TYPE_STRING:
		return d.varString(b, length)
	case gomysql.MYSQL_TYPE_DATE:
		if len(b) < 3 {
			return rawValue{}, -1
		}
		v := uint32(gomysql.FixedLengthInt(b[:3]))
		if v == 0 {
			return d.textf("0000-00-00"), 3
		}
		y, m, day := int64(v/(16*32)), int64(v/32%16), int64(v%32)
		if validDate(y, m, day) {
			return rInt(daysFromCivil(y, m, day)), 3
		}
		return d.textf("%04d-%02d-%02d", y, m, day), 3
	case gomysql.MYSQL_TYPE_TIME:
		if len(b) < 3 {
			return rawValue{}, -1
		}
		v := int64(gomysql.FixedLengthInt(b[:3]))
		h, mi, s := v/10000, v%10000/100, v%100
		if mi > 59 || s > 59 {
			return d.textf("%02d:%02d:%02d", h, mi, s), 3
		}
		return rInt((h*3600 + mi*60 + s) * 1_000_000), 3
	case gomysql.MYSQL_TYPE_TIME2:
		return d.time2(b, meta)
	case gomysql.MYSQL_TYPE_TIMESTAMP:
		if len(b) < 4 {
			return rawValue{}, -1
		}
		t := binary.LittleEndian.Uint32(b)
		if t == 0 {
			return d.textf("0000-00-00 00:00:00"), 4
		}
		return rInt(int64(t) * 1_000_000), 4
	case gomysql.MYSQL_TYPE_TIMESTAMP2:
		return d.timestamp2(b, meta)
	case gomysql.MYSQL_TYPE_DATETIME:
		if len(b) < 8 {
			return rawValue{}, -1
		}
		v := binary.LittleEndian.Uint64(b)
		if v == 0 {
			return d.textf("0000-00-00 00:00:00"), 8
		}
		dd, t := v/1_000_000, v%1_000_000
		y, mo, day := int(dd/10000), int(dd%10000)/100, int(dd%100)
		h, mi, s := int(t/10000), int(t%10000)/100, int(t%100)
		if mo == 0 || day == 0 {
			return d.textf("%04d-%02d-%02d %02d:%02d:%02d", y, mo, day, h, mi, s), 8
		}
		return rInt(datetimeMicros(y, mo, day, h, mi, s, 0)), 8
	case gomysql.MYSQL_TYPE_DATETIME2:
		return d.datetime2(b, meta)
	}
	return rawValue{}, -1
}

// varString is go-mysql's decodeString: a one-byte length below 256, else two.
func (d *imageDecoder) varString(b []byte, length int) (rawValue, int) {
	var l, h int
	switch {
	case length < 256 && len(b) >= 1:
		l, h = int(b[0]), 1
	case length >= 256 && len(b) >= 2:
		l, h = int(binary.LittleEndian.Uint16(b)), 2
	default:
		return rawValue{}, -1
	}
	if len(b)-h < l {
		return rawValue{}, -1
	}
	return d.bodyStr(b, h, l), h + l
}

var compressedBytes = [10]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}

// decimal is go-mysql's decodeDecimal, writing the text into the event's.
func (d *imageDecoder) decimal(b []byte, precision, scale int) (rawValue, int) {
	const dig = 9
	integral := precision - scale
	if integral < 0 {
		return rawValue{}, -1
	}
	uInt, uFrac := integral/dig, scale/dig
	cInt, cFrac := integral-uInt*dig, scale-uFrac*dig
	size := uInt*4 + compressedBytes[cInt] + uFrac*4 + compressedBytes[cFrac]
	if size == 0 || size > len(d.dec) || len(b) < size {
		return rawValue{}, -1
	}
	buf := d.dec[:size]
	copy(buf, b)
	off := len(d.text)
	var mask uint32
	if buf[0]&0x80 == 0 {
		mask = math.MaxUint32
		d.text = append(d.text, '-')
	}
	buf[0] ^= 0x80
	part := func(p, n int) uint32 {
		var v uint32
		for _, c := range buf[p : p+n] {
			v = v<<8 | uint32(c)
		}
		if n == 0 {
			return 0
		}
		return v ^ mask>>(32-8*n)
	}
	leading := true
	p := compressedBytes[cInt]
	if v := part(0, p); v != 0 {
		leading = false
		d.text = strconv.AppendUint(d.text, uint64(v), 10)
	}
	for range uInt {
		v := binary.BigEndian.Uint32(buf[p:]) ^ mask
		p += 4
		if leading {
			if v != 0 {
				leading = false
				d.text = strconv.AppendUint(d.text, uint64(v), 10)
			}
		} else {
			if v > 999_999_999 {
				return rawValue{}, -1 // go-mysql fails
			}
			d.text = appendPadded(d.text, v, dig)
		}
	}
	if leading {
		d.text = append(d.text, '0')
	}
	if p < size {
		d.text = append(d.text, '.')
		for range uFrac {
			v := binary.BigEndian.Uint32(buf[p:]) ^ mask
			p += 4
			if v > 999_999_999 {
				return rawValue{}, -1 // go-mysql fails
			}
			d.text = appendPadded(d.text, v, dig)
		}
		if n := compressedBytes[cFrac]; n > 0 {
			d.text = appendPadded(d.text, part(p, n), cFrac)
			p += n
		}
	}
	return rawValue{kind: event.KindDecimal, num: uint64(off)<<32 | uint64(len(d.text))}, size
}

// appendPadded appends v in decimal, left-padded with zeros to width
// digits (go-mysql's padding: wider values are written whole).
func appendPadded(b []byte, v uint32, width int) []byte {
	var tmp [10]byte
	s := strconv.AppendUint(tmp[:0], uint64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// fracMicros reads the fsp bytes of TIME2/DATETIME2/TIMESTAMP2 as go-mysql
// does: µs for dec 1..6, 0 otherwise.
func fracMicros(b []byte, dec uint16) int64 {
	switch dec {
	case 1, 2:
		return int64(b[0]) * 10000
	case 3, 4:
		return int64(binary.BigEndian.Uint16(b)) * 100
	case 5, 6:
		return int64(gomysql.BFixedLengthInt(b[:3]))
	}
	return 0
}

// timestamp2 is go-mysql's decodeTimestamp2 with ParseTime.
func (d *imageDecoder) timestamp2(b []byte, dec uint16) (rawValue, int) {
	n := int(4 + (dec+1)/2)
	if dec > 6 || len(b) < n {
		return rawValue{}, -1
	}
	sec := int64(binary.BigEndian.Uint32(b))
	us := fracMicros(b[4:], dec)
	if sec == 0 {
		return d.zeroTime(us, int(dec)), n
	}
	return rInt(sec*1_000_000 + us), n
}

// zeroTime is go-mysql's formatZeroTime.
func (d *imageDecoder) zeroTime(us int64, dec int) rawValue {
	if dec == 0 {
		return d.textf("0000-00-00 00:00:00")
	}
	return d.truncFrac(d.textf("0000-00-00 00:00:00.%06d", us), dec)
}

// datetime2 is go-mysql's decodeDatetime2 with ParseTime.
func (d *imageDecoder) datetime2(b []byte, dec uint16) (rawValue, int) {
	n := int(5 + (dec+1)/2)
	if dec > 6 || len(b) < n {
		return rawValue{}, -1
	}
	intPart := int64(gomysql.BFixedLengthInt(b[:5])) - 0x8000000000
	frac := fracMicros(b[5:], dec)
	if intPart == 0 {
		return d.zeroTime(frac, int(dec)), n
	}
	tmp := intPart<<24 + frac
	if tmp < 0 {
		tmp = -tmp
	}
	ymdhms := tmp >> 24
	ymd, hms := ymdhms>>17, ymdhms%(1<<17)
	ym := ymd >> 5
	day, month, year := int(ymd%(1<<5)), int(ym%13), int(ym/13)
	sec, min, hour := int(hms%(1<<6)), int((hms>>6)%(1<<6)), int(hms>>12)
	// 107420450816 is 1970-01-01 00:00:00: go-mysql formats earlier dates.
	if intPart < 107420450816 || month == 0 || day == 0 {
		if dec == 0 {
			return d.textf("%04d-%02d-%02d %02d:%02d:%02d", year, month, day, hour, min, sec), n
		}
		return d.truncFrac(d.textf("%04d-%02d-%02d %02d:%02d:%02d.%06d", year, month, day, hour, min, sec, frac), int(dec)), n
	}
	return rInt(datetimeMicros(year, month, day, hour, min, sec, frac)), n
}

// time2 is go-mysql's decodeTime2 (text), as µs where the text is plain.
func (d *imageDecoder) time2(b []byte, dec uint16) (rawValue, int) {
	n := int(3 + (dec+1)/2)
	if dec > 6 || len(b) < n {
		return rawValue{}, -1
	}
	const intOfs, ofs = 0x800000, 0x800000000000
	var tmp, intPart, frac int64
	switch dec {
	case 1, 2:
		intPart = int64(gomysql.BFixedLengthInt(b[:3])) - intOfs
		frac = int64(b[3])
		if intPart < 0 && frac != 0 {
			intPart++
			frac -= 0x100
		}
		tmp = intPart<<24 + frac*10000
	case 3, 4:
		intPart = int64(gomysql.BFixedLengthInt(b[:3])) - intOfs
		frac = int64(binary.BigEndian.Uint16(b[3:]))
		if intPart < 0 && frac != 0 {
			intPart++
			frac -= 0x10000
		}
		tmp = intPart<<24 + frac*100
	case 5, 6:
		tmp = int64(gomysql.BFixedLengthInt(b[:6])) - ofs
		intPart = 1 // not the "00:00:00" shortcut below
	default:
		intPart = int64(gomysql.BFixedLengthInt(b[:3])) - intOfs
		tmp = intPart << 24
	}
	if intPart == 0 && frac == 0 {
		return rInt(0), n
	}
	neg := tmp < 0
	if neg {
		tmp = -tmp
	}
	hms := tmp >> 24
	hour, min, sec := (hms>>12)%(1<<10), (hms>>6)%(1<<6), hms%(1<<6)
	us := tmp % (1 << 24)
	if min > 59 || sec > 59 || us >= 1_000_000 {
		sign := ""
		if neg {
			sign = "-"
		}
		if us != 0 {
			return d.truncFrac(d.textf("%s%02d:%02d:%02d.%06d", sign, hour, min, sec, us), int(dec)), n
		}
		return d.textf("%s%02d:%02d:%02d", sign, hour, min, sec), n
	}
	if us != 0 && dec < 6 {
		// go-mysql cuts the six digits to dec.
		p := int64(1)
		for range 6 - int(dec) {
			p *= 10
		}
		us -= us % p
	}
	v := (hour*3600+min*60+sec)*1_000_000 + us
	if neg {
		v = -v
	}
	return rInt(v), n
}

// validDate reports whether a date is one parseDate accepts.
func validDate(y, m, d int64) bool {
	if y > 9999 || m < 1 || m > 12 || d < 1 || d > monthDays[m] {
		return false
	}
	return m != 2 || d != 29 || y%4 == 0 && (y%100 != 0 || y%400 == 0)
}

// datetimeMicros is time.Date(...).UnixMicro() in UTC, computed directly
// for fields in their usual ranges.
func datetimeMicros(y, mo, d, h, mi, s int, us int64) int64 {
	if y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59 || us < 0 || us >= 1_000_000 {
		return time.Date(y, time.Month(mo), d, h, mi, s, int(us*1000), time.UTC).UnixMicro()
	}
	days := daysFromCivil(int64(y), int64(mo), int64(d))
	return (days*86400+int64(h)*3600+int64(mi)*60+int64(s))*1_000_000 + us
}
