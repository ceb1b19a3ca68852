package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	exprlang "github.com/expr-lang/expr"
)

// parse_time(s, layout[, zone]) parses s with a Go layout
// ("2006-01-02 15:04:05"), in zone (an IANA name, default UTC) when the
// layout has no offset; NULL when s is NULL or does not parse, so that
// alternatives chain with ??: parse_time(s, a) ?? parse_time(s, b).
//
// parse_epoch(v, units) reads an integer (or a string of digits) as a
// time since the epoch, its unit told by its number of digits as Data
// Prepper's date processor does: up to 10 digits seconds, 13
// milliseconds, 16 microseconds, more nanoseconds; units lists those
// allowed ("s,ms,us,ns"); NULL when v is not an integer or its unit is
// not allowed.

// format_time(t, layout[, zone]) formats t with a Go layout in zone (an
// IANA name, default UTC); NULL gives NULL.

func timeOptions() []exprlang.Option {
	return []exprlang.Option{
		exprlang.Function("format_time", func(p ...any) (any, error) {
			if p[0] == nil {
				return nil, nil
			}
			t, ok := p[0].(time.Time)
			layout, ok2 := p[1].(string)
			if !ok || !ok2 {
				return nil, fmt.Errorf("format_time takes a time and a layout (got %s, %s)", goTypeName(p[0]), goTypeName(p[1]))
			}
			loc := time.UTC
			if len(p) > 2 {
				z, ok := p[2].(string)
				if !ok {
					return nil, fmt.Errorf("format_time: the zone must be a string (got %s)", goTypeName(p[2]))
				}
				var err error
				if loc, err = time.LoadLocation(z); err != nil {
					return nil, fmt.Errorf("format_time: %v", err)
				}
			}
			return t.In(loc).Format(layout), nil
		}, new(func(any, string) string), new(func(any, string, string) string)),
		exprlang.Function("parse_time", func(p ...any) (any, error) {
			if p[0] == nil {
				return nil, nil
			}
			s, ok := p[0].(string)
			layout, ok2 := p[1].(string)
			if !ok || !ok2 {
				return nil, fmt.Errorf("parse_time takes strings (got %s, %s)", goTypeName(p[0]), goTypeName(p[1]))
			}
			loc := time.UTC
			if len(p) > 2 {
				z, ok := p[2].(string)
				if !ok {
					return nil, fmt.Errorf("parse_time: the zone must be a string (got %s)", goTypeName(p[2]))
				}
				var err error
				if loc, err = time.LoadLocation(z); err != nil {
					return nil, fmt.Errorf("parse_time: %v", err)
				}
			}
			t, err := time.ParseInLocation(layout, s, loc)
			if err != nil {
				return nil, nil
			}
			return t, nil
		}, new(func(any, string) time.Time), new(func(any, string, string) time.Time)),
		exprlang.Function("parse_epoch", func(p ...any) (any, error) {
			units, ok := p[1].(string)
			if !ok {
				return nil, fmt.Errorf("parse_epoch: the units must be a string (got %s)", goTypeName(p[1]))
			}
			var digits string
			switch v := p[0].(type) {
			case string:
				digits = v
			case int64:
				digits = strconv.FormatInt(v, 10)
			case int:
				digits = strconv.Itoa(v)
			default:
				return nil, nil
			}
			n, err := strconv.ParseInt(digits, 10, 64)
			if err != nil {
				return nil, nil
			}
			allowed := func(u string) bool {
				for _, x := range strings.Split(units, ",") {
					if strings.TrimSpace(x) == u {
						return true
					}
				}
				return false
			}
			switch l := len(digits); {
			case l > 16:
				if allowed("ns") {
					return time.Unix(n/1e9, n%1e9).UTC(), nil
				}
			case l > 13:
				if allowed("us") {
					return time.Unix(n/1e6, n%1e6*1e3).UTC(), nil
				}
			case l > 10:
				if allowed("ms") {
					return time.UnixMilli(n).UTC(), nil
				}
			default:
				if allowed("s") {
					return time.Unix(n, 0).UTC(), nil
				}
			}
			return nil, nil
		}, new(func(any, string) time.Time)),
	}
}
