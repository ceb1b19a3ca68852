package javatime

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zone rules independent of the host
)

// Zone is a Java ZoneId: a fixed offset (ZoneOffset, id "Z" or "+01:00")
// or a region with rules (ZoneRegion: "Europe/Paris", "UTC",
// "GMT+01:00").
type Zone struct {
	id     string
	loc    *time.Location
	fixed  bool // a ZoneOffset
	prefix bool // UTC+01:00 and the like: a region with fixed rules whose name is its id

	namesOnce sync.Once
	std, dst  string // short names (pattern letter z), "" when unknown
}

// names are the zone's short names in standard and in daylight saving
// time. Java takes them from its locale data, one pair per zone whatever
// the date; sluice takes the abbreviations the tz database uses for the
// zone in 2000-2030, which are the same for the zones that have
// alphabetic ones (PST/PDT, GMT/BST, CET/CEST, IST, JST …).
func (z *Zone) names() (std, dst string) {
	z.namesOnce.Do(func() {
		t := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		end := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for ; t.Before(end); t = t.Add(15 * 24 * time.Hour) {
			lt := t.In(z.loc)
			name, _ := lt.Zone()
			if name == "" || name[0] == '+' || name[0] == '-' {
				continue
			}
			if lt.IsDST() {
				z.dst = name
			} else {
				z.std = name
			}
		}
	})
	return z.std, z.dst
}

// UTC is Java's ZoneOffset.UTC ("Z").
var UTC = &Zone{id: "Z", loc: time.UTC, fixed: true}

// GMT is ZoneId.of("GMT"), what ksqlDB's two-argument PARSE_TIMESTAMP and
// FORMAT_TIMESTAMP use.
var GMT = mustZone("GMT")

func mustZone(id string) *Zone {
	z, err := LoadZone(id)
	if err != nil {
		panic(err)
	}
	return z
}

// ID is the zone's id as Java's ZoneId.getId gives it.
func (z *Zone) ID() string { return z.id }

var zoneCache sync.Map // id → *Zone

// LoadZone is Java's ZoneId.of: "Z", an offset (+h, +hh, +hh:mm, +hhmm,
// +hh:mm:ss, +hhmmss), UTC/GMT/UT with or without an offset, or a region
// id of the tz database.
func LoadZone(id string) (*Zone, error) {
	if z, ok := zoneCache.Load(id); ok {
		return z.(*Zone), nil
	}
	z, err := loadZone(id)
	if err != nil {
		return nil, err
	}
	zoneCache.Store(id, z)
	return z, nil
}

func loadZone(id string) (*Zone, error) {
	if id == "Z" {
		return UTC, nil
	}
	if strings.HasPrefix(id, "+") || strings.HasPrefix(id, "-") {
		off, ok := parseOffsetID(id)
		if !ok {
			return nil, fmt.Errorf("invalid zone offset %q", id)
		}
		return offsetZone(off), nil
	}
	for _, p := range []string{"UTC", "GMT", "UT"} {
		if rest, ok := strings.CutPrefix(id, p); ok && rest != "" && (rest[0] == '+' || rest[0] == '-') {
			off, ok := parseOffsetID(rest)
			if !ok {
				return nil, fmt.Errorf("invalid zone id %q", id)
			}
			name := p
			if off != 0 {
				name += offsetID(off)
			}
			return &Zone{id: name, loc: time.FixedZone(name, off), prefix: true}, nil
		}
	}
	if id == "UTC" || id == "GMT" || id == "UT" {
		return &Zone{id: id, loc: time.FixedZone(id, 0), prefix: true}, nil
	}
	if id == "" || id == "Local" || strings.ContainsAny(id, " ") || !validRegionID(id) {
		return nil, fmt.Errorf("unknown time zone %q", id)
	}
	loc, err := time.LoadLocation(id)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", id)
	}
	return &Zone{id: id, loc: loc}, nil
}

// validRegionID is Java's syntax check for region ids.
func validRegionID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' && i != 0 ||
			i > 0 && (c >= '0' && c <= '9' || c == '~' || c == '.' || c == '_' || c == '+' || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

func offsetZone(off int) *Zone {
	if off == 0 {
		return UTC
	}
	id := offsetID(off)
	return &Zone{id: id, loc: time.FixedZone(id, off), fixed: true}
}

// offsetID is ZoneOffset's id: +hh:mm, or +hh:mm:ss with seconds.
func offsetID(off int) string {
	if off == 0 {
		return "Z"
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b := []byte{sign}
	b = append2(b, off/3600)
	b = append(b, ':')
	b = append2(b, off/60%60)
	if off%60 != 0 {
		b = append(b, ':')
		b = append2(b, off%60)
	}
	return string(b)
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10%10), byte('0'+v%10)) }

// parseOffsetID reads ZoneOffset.of's forms.
func parseOffsetID(z string) (int, bool) {
	if len(z) < 2 || z[0] != '+' && z[0] != '-' {
		return 0, false
	}
	b := z[1:]
	num := func(s string) (int, bool) {
		if len(s) == 0 || len(s) > 2 {
			return 0, false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
		}
		v, _ := strconv.Atoi(s)
		return v, true
	}
	var h, m, s int
	ok := true
	switch len(b) {
	case 1, 2:
		h, ok = num(b)
	case 4:
		var ok2 bool
		h, ok = num(b[:2])
		m, ok2 = num(b[2:])
		ok = ok && ok2
	case 5:
		var ok2 bool
		h, ok = num(b[:2])
		m, ok2 = num(b[3:])
		ok = ok && ok2 && b[2] == ':'
	case 6:
		var ok2, ok3 bool
		h, ok = num(b[:2])
		m, ok2 = num(b[2:4])
		s, ok3 = num(b[4:])
		ok = ok && ok2 && ok3
	case 8:
		var ok2, ok3 bool
		h, ok = num(b[:2])
		m, ok2 = num(b[3:5])
		s, ok3 = num(b[6:])
		ok = ok && ok2 && ok3 && b[2] == ':' && b[5] == ':'
	default:
		return 0, false
	}
	if !ok || h > 18 || m > 59 || s > 59 || h == 18 && (m > 0 || s > 0) {
		return 0, false
	}
	off := h*3600 + m*60 + s
	if z[0] == '-' {
		off = -off
	}
	return off, true
}

// offsetAt is the zone's offset in seconds at an instant.
func (z *Zone) offsetAt(unixSec int64) (int, string) {
	name, off := time.Unix(unixSec, 0).In(z.loc).Zone()
	return off, name
}

// resolveLocal is Java's ZonedDateTime.ofLocal: the instant of a local
// date-time (seconds since the epoch as if it were UTC) in the zone. In a
// gap the time moves forward by the gap's length; in an overlap the
// preferred offset wins if it is one of the two, else the earlier one.
func (z *Zone) resolveLocal(local int64, preferred int, hasPreferred bool) int64 {
	if z.fixed || z.prefix {
		off, _ := z.offsetAt(local)
		return local - int64(off)
	}
	before, _ := z.offsetAt(local - 2*86400)
	after, _ := z.offsetAt(local + 2*86400)
	var valid []int
	for _, o := range []int{before, after} {
		if got, _ := z.offsetAt(local - int64(o)); got == o && (len(valid) == 0 || valid[0] != o) {
			valid = append(valid, o)
		}
	}
	switch len(valid) {
	case 0: // a gap: the offset before it applies
		return local - int64(before)
	case 1:
		return local - int64(valid[0])
	}
	if hasPreferred && (preferred == valid[0] || preferred == valid[1]) {
		return local - int64(preferred)
	}
	return local - int64(before)
}

// Offset is the zone's offset from UTC in seconds at an instant (seconds
// since the epoch).
func (z *Zone) Offset(unixSec int64) int {
	off, _ := z.offsetAt(unixSec)
	return off
}
