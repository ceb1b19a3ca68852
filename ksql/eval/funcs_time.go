package eval

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/civil"
	"github.com/sluice-dev/sluice/ksql/eval/javatime"
)

// now is the wall clock of UNIX_TIMESTAMP() and UNIX_DATE() (a variable
// for tests).
var now = time.Now

func timeFuncs() map[string][]*overload {
	return map[string][]*overload{
		"PARSE_TIMESTAMP": {
			over("STRING, STRING -> TIMESTAMP").with(parseTimestamp(false)),
			over("STRING, STRING, STRING -> TIMESTAMP").with(parseTimestamp(false)),
		},
		"STRINGTOTIMESTAMP": {
			over("STRING, STRING -> BIGINT").with(parseTimestamp(true)),
			over("STRING, STRING, STRING -> BIGINT").with(parseTimestamp(true)),
		},
		"FORMAT_TIMESTAMP": {
			over("TIMESTAMP, STRING -> STRING").with(formatTimestamp(false)),
			over("TIMESTAMP, STRING, STRING -> STRING").with(formatTimestamp(false)),
		},
		"TIMESTAMPTOSTRING": {
			over("BIGINT, STRING -> STRING").with(formatTimestamp(true)),
			over("BIGINT, STRING, STRING -> STRING").with(formatTimestamp(true)),
		},
		"PARSE_DATE":   {over("STRING, STRING -> DATE").with(parseDate(false))},
		"STRINGTODATE": {over("STRING, STRING -> INTEGER").with(parseDate(true))},
		"FORMAT_DATE":  {over("DATE, STRING -> STRING").with(formatDate)},
		"DATETOSTRING": {over("INTEGER, STRING -> STRING").with(formatDate)},
		"PARSE_TIME":   {over("STRING, STRING -> TIME").with(parseTime)},
		"FORMAT_TIME":  {over("TIME, STRING -> STRING").with(formatTime)},
		"UNIX_TIMESTAMP": {
			over(" -> BIGINT").impureFn().fn(func([]event.Value) (event.Value, error) {
				return event.Int(now().UnixMilli()), nil
			}),
			over("TIMESTAMP -> BIGINT").fn(func(a []event.Value) (event.Value, error) {
				return event.Int(civil.FloorDiv(a[0].AsInt(), microsPerMilli)), nil
			}),
		},
		"UNIX_DATE": {
			over(" -> INTEGER").impureFn().fn(func([]event.Value) (event.Value, error) {
				return event.Int(civil.FloorDiv(now().Unix(), 86400)), nil
			}),
			over("DATE -> INTEGER").fn(func(a []event.Value) (event.Value, error) { return a[0], nil }),
		},
		"FROM_UNIXTIME": {over("BIGINT -> TIMESTAMP").fn(func(a []event.Value) (event.Value, error) {
			ms := a[0].AsInt()
			if ms > math.MaxInt64/microsPerMilli || ms < math.MinInt64/microsPerMilli {
				return event.Null, fmt.Errorf("FROM_UNIXTIME: %d milliseconds is out of range", ms)
			}
			return event.Int(ms * microsPerMilli), nil
		})},
		"FROM_DAYS":    {over("INTEGER -> DATE").fn(func(a []event.Value) (event.Value, error) { return a[0], nil })},
		"DATEADD":      {over("STRING, INTEGER, DATE -> DATE").with(dateAdd(1))},
		"DATESUB":      {over("STRING, INTEGER, DATE -> DATE").with(dateAdd(-1))},
		"TIMESTAMPADD": {over("STRING, BIGINT, TIMESTAMP -> TIMESTAMP").with(timestampAdd(1))},
		"TIMESTAMPSUB": {over("STRING, BIGINT, TIMESTAMP -> TIMESTAMP").with(timestampAdd(-1))},
		"TIMEADD":      {over("STRING, INTEGER, TIME -> TIME").with(timeAdd(1))},
		"TIMESUB":      {over("STRING, INTEGER, TIME -> TIME").with(timeAdd(-1))},
		"CONVERT_TZ":   {over("TIMESTAMP, STRING, STRING -> TIMESTAMP").with(convertTZ)},
	}
}

// patternCache compiles DateTimeFormatter patterns: a constant pattern
// once at build time (a bad one fails the query), others per row through
// a small cache.
type patternCache struct {
	fn    string
	fixed *javatime.Pattern
	m     map[string]*javatime.Pattern
}

const patternCacheSize = 64

func newPatternCache(c *callSite, i int) (*patternCache, error) {
	pc := &patternCache{fn: c.name}
	if v := c.lits[i]; v != nil && v.Kind != event.KindNull {
		p, err := javatime.Compile(v.Str)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		pc.fixed = p
	}
	return pc, nil
}

func (pc *patternCache) get(s string) (*javatime.Pattern, error) {
	if pc.fixed != nil {
		return pc.fixed, nil
	}
	if p, ok := pc.m[s]; ok {
		return p, nil
	}
	p, err := javatime.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pc.fn, err)
	}
	if pc.m == nil || len(pc.m) >= patternCacheSize {
		pc.m = map[string]*javatime.Pattern{}
	}
	pc.m[s] = p
	return p, nil
}

// zoneArg resolves a time zone argument: constant at build time, else
// per row; absent (i beyond the arguments), def.
func zoneArg(c *callSite, i int, def *javatime.Zone) (func(a []event.Value) (*javatime.Zone, error), error) {
	if i >= len(c.params) {
		return func([]event.Value) (*javatime.Zone, error) { return def, nil }, nil
	}
	if v := c.lits[i]; v != nil && v.Kind != event.KindNull {
		z, err := javatime.LoadZone(v.Str)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		return func([]event.Value) (*javatime.Zone, error) { return z, nil }, nil
	}
	return func(a []event.Value) (*javatime.Zone, error) {
		z, err := javatime.LoadZone(a[i].Str)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		return z, nil
	}, nil
}

// patterned builds the call of a function whose argument 1 is a
// DateTimeFormatter pattern and, when zi > 0, argument zi an optional zone
// (GMT when absent): body gets the compiled pattern, the zone and the
// arguments; its errors are prefixed with the function's name.
func patterned(c *callSite, zi int, body func(p *javatime.Pattern, z *javatime.Zone, a []event.Value) (event.Value, error)) (callFn, error) {
	pc, err := newPatternCache(c, 1)
	if err != nil {
		return nil, err
	}
	zone := func([]event.Value) (*javatime.Zone, error) { return javatime.GMT, nil }
	if zi > 0 {
		if zone, err = zoneArg(c, zi, javatime.GMT); err != nil {
			return nil, err
		}
	}
	return func(a []event.Value) (event.Value, error) {
		p, err := pc.get(a[1].Str)
		if err != nil {
			return event.Null, err
		}
		z, err := zone(a)
		if err != nil {
			return event.Null, err
		}
		v, err := body(p, z, a)
		if err != nil {
			return event.Null, fmt.Errorf("%s: %w", c.name, err)
		}
		return v, nil
	}, nil
}

// parseTimestamp is PARSE_TIMESTAMP (TIMESTAMP) and STRINGTOTIMESTAMP
// (BIGINT milliseconds): the zone defaults to GMT (ksqlDB's
// STRINGTOTIMESTAMP uses the server's zone; sluice's server zone is UTC).
// ksqlDB keeps milliseconds.
func parseTimestamp(millis bool) func(c *callSite) (callFn, error) {
	return func(c *callSite) (callFn, error) {
		return patterned(c, 2, func(p *javatime.Pattern, z *javatime.Zone, a []event.Value) (event.Value, error) {
			us, err := p.ParseTimestamp(a[0].Str, z)
			if err != nil {
				return event.Null, err
			}
			if millis {
				return event.Int(civil.FloorDiv(us, microsPerMilli)), nil
			}
			return event.Int(us), nil
		})
	}
}

// formatTimestamp is FORMAT_TIMESTAMP (a TIMESTAMP) and TIMESTAMPTOSTRING
// (BIGINT milliseconds), in GMT unless a zone is given.
func formatTimestamp(millis bool) func(c *callSite) (callFn, error) {
	return func(c *callSite) (callFn, error) {
		return patterned(c, 2, func(p *javatime.Pattern, z *javatime.Zone, a []event.Value) (event.Value, error) {
			us := a[0].AsInt()
			if millis {
				if us > math.MaxInt64/microsPerMilli || us < math.MinInt64/microsPerMilli {
					return event.Null, fmt.Errorf("%d milliseconds is out of range", us)
				}
				us *= microsPerMilli
			}
			s, err := p.FormatInstant(us, z)
			return event.String(s), err
		})
	}
}

// parseDate is PARSE_DATE (a DATE: the text read as a timestamp in GMT,
// which must be a midnight) and STRINGTODATE (days, the text must give a
// whole date).
func parseDate(days bool) func(c *callSite) (callFn, error) {
	return func(c *callSite) (callFn, error) {
		return patterned(c, 0, func(p *javatime.Pattern, _ *javatime.Zone, a []event.Value) (event.Value, error) {
			if days {
				d, err := p.ParseDate(a[0].Str, javatime.English)
				return event.Int(d), err
			}
			us, err := p.ParseTimestamp(a[0].Str, javatime.GMT)
			if err != nil {
				return event.Null, err
			}
			if floorMod(us, microsPerDay) != 0 {
				return event.Null, fmt.Errorf("the format %q contains a time field", a[1].Str)
			}
			return event.Int(civil.FloorDiv(us, microsPerDay)), nil
		})
	}
}

func formatDate(c *callSite) (callFn, error) {
	return patterned(c, 0, func(p *javatime.Pattern, _ *javatime.Zone, a []event.Value) (event.Value, error) {
		s, err := p.FormatDate(a[0].AsInt())
		return event.String(s), err
	})
}

func parseTime(c *callSite) (callFn, error) {
	return patterned(c, 0, func(p *javatime.Pattern, _ *javatime.Zone, a []event.Value) (event.Value, error) {
		us, err := p.ParseTime(a[0].Str, javatime.English)
		return event.Int(us / microsPerMilli * microsPerMilli), err // ksqlDB keeps milliseconds
	})
}

func formatTime(c *callSite) (callFn, error) {
	return patterned(c, 0, func(p *javatime.Pattern, _ *javatime.Zone, a []event.Value) (event.Value, error) {
		s, err := p.FormatTime(a[0].AsInt())
		return event.String(s), err
	})
}

// timeUnits are the units of DATEADD and friends (Java's TimeUnit), in
// microseconds; nanoseconds truncate.
var timeUnits = map[string]int64{
	"NANOSECONDS": 0, "MICROSECONDS": 1, "MILLISECONDS": microsPerMilli, "SECONDS": microsPerSecond,
	"MINUTES": 60 * microsPerSecond, "HOURS": 3600 * microsPerSecond, "DAYS": microsPerDay,
}

// unitArg reads the constant unit argument (DAYS, HOURS … or their
// singular).
func unitArg(c *callSite) (unit string, micros int64, err error) {
	v, err := c.lit(0, "time unit")
	if err != nil {
		return "", 0, err
	}
	u := strings.ToUpper(v.Str)
	m, ok := timeUnits[u]
	if !ok {
		m, ok = timeUnits[u+"S"]
		u += "S"
	}
	if !ok {
		return "", 0, fmt.Errorf("%s: unknown time unit %q (NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS)", c.name, v.Str)
	}
	return u, m, nil
}

// shift is n units in microseconds, or an overflow error.
func shift(name, unit string, per, n int64, sign int64) (int64, error) {
	if unit == "NANOSECONDS" {
		return sign * (n / 1000), nil
	}
	d := n * per
	if n != 0 && d/n != per {
		return 0, fmt.Errorf("%s: %d %s is out of range", name, n, unit)
	}
	return sign * d, nil
}

func addMicros(name string, a, b int64) (int64, error) {
	s := a + b
	if (s > a) != (b > 0) {
		return 0, fmt.Errorf("%s: the result is out of range", name)
	}
	return s, nil
}

func dateAdd(sign int64) func(c *callSite) (callFn, error) {
	return func(c *callSite) (callFn, error) {
		unit, per, err := unitArg(c)
		if err != nil {
			return nil, err
		}
		return func(a []event.Value) (event.Value, error) {
			d, err := shift(c.name, unit, per, a[1].AsInt(), sign)
			if err != nil {
				return event.Null, err
			}
			start, ok := dateMicros(a[2].AsInt())
			if !ok {
				return event.Null, fmt.Errorf("%s: the date is out of range", c.name)
			}
			us, err := addMicros(c.name, start, d)
			if err != nil {
				return event.Null, err
			}
			return event.Int(civil.FloorDiv(us, microsPerDay)), nil
		}, nil
	}
}

func timestampAdd(sign int64) func(c *callSite) (callFn, error) {
	return func(c *callSite) (callFn, error) {
		unit, per, err := unitArg(c)
		if err != nil {
			return nil, err
		}
		return func(a []event.Value) (event.Value, error) {
			d, err := shift(c.name, unit, per, a[1].AsInt(), sign)
			if err != nil {
				return event.Null, err
			}
			us, err := addMicros(c.name, a[2].AsInt(), d)
			if err != nil {
				return event.Null, err
			}
			return event.Int(us), nil
		}, nil
	}
}

// timeAdd wraps around midnight, as LocalTime.plus.
func timeAdd(sign int64) func(c *callSite) (callFn, error) {
	return func(c *callSite) (callFn, error) {
		unit, per, err := unitArg(c)
		if err != nil {
			return nil, err
		}
		return func(a []event.Value) (event.Value, error) {
			d, err := shift(c.name, unit, per, a[1].AsInt(), sign)
			if err != nil {
				return event.Null, err
			}
			return event.Int(floorMod(a[2].AsInt()+floorMod(d, microsPerDay), microsPerDay)), nil
		}, nil
	}
}

// convertTZ is CONVERT_TZ(ts, from, to): ts shifted by the difference of
// the zones' offsets at ts (ksqlDB's semantics: TIMESTAMPs are zone-less).
func convertTZ(c *callSite) (callFn, error) {
	from, err := zoneArg(c, 1, nil)
	if err != nil {
		return nil, err
	}
	to, err := zoneArg(c, 2, nil)
	if err != nil {
		return nil, err
	}
	return func(a []event.Value) (event.Value, error) {
		fz, err := from(a)
		if err != nil {
			return event.Null, err
		}
		tz, err := to(a)
		if err != nil {
			return event.Null, err
		}
		us := a[0].AsInt()
		sec := civil.FloorDiv(us, microsPerSecond)
		return event.Int(us + int64(tz.Offset(sec)-fz.Offset(sec))*microsPerSecond), nil
	}, nil
}
