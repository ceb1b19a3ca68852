package eval

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sluice-dev/sluice/event"
)

// Regular expressions are Go's RE2 syntax, which is Java's for everything
// but lookaround, backreferences, possessive quantifiers and atomic
// groups: a pattern using those fails to compile with an error saying so.

// regexCache compiles patterns, keeping the last one (patterns are almost
// always constants, compiled once at build time).
type regexCache struct {
	fn      string
	last    string
	lastRe  *regexp.Regexp
	lastErr error
}

func (c *regexCache) get(p string) (*regexp.Regexp, error) {
	if c.lastRe != nil && p == c.last || c.lastErr != nil && p == c.last {
		return c.lastRe, c.lastErr
	}
	re, err := regexp.Compile(p)
	if err != nil {
		err = fmt.Errorf("%s: invalid regular expression %q: %v (sluice uses RE2 syntax: no lookaround, backreferences or possessive quantifiers)", c.fn, p, err)
	}
	c.last, c.lastRe, c.lastErr = p, re, err
	return re, err
}

// constRegex compiles argument i when it is a constant, so that a bad
// pattern fails the query at planning time.
func constRegex(c *callSite, i int) (*regexCache, error) {
	rc := &regexCache{fn: c.name}
	if i < len(c.lits) && c.lits[i] != nil && c.lits[i].Kind != event.KindNull {
		if _, err := rc.get(c.lits[i].Str); err != nil {
			return nil, err
		}
	}
	return rc, nil
}

// regexpExtract is REGEXP_EXTRACT(pattern, input[, group]) and
// REGEXP_EXTRACT_ALL: the group of the first (every) match, NULL when
// there is no match or no such group.
func regexpExtract(all bool) func(c *callSite) (callFn, error) {
	return func(c *callSite) (callFn, error) {
		rc, err := constRegex(c, 0)
		if err != nil {
			return nil, err
		}
		return func(a []event.Value) (event.Value, error) {
			re, err := rc.get(a[0].Str)
			if err != nil {
				return event.Null, err
			}
			g := int64(0)
			if len(a) > 2 {
				g = a[2].AsInt()
			}
			if g > int64(re.NumSubexp()) {
				return event.Null, nil
			}
			if g < 0 {
				return event.Null, fmt.Errorf("%s: no group %d", c.name, g)
			}
			s := a[1].Str
			if !all {
				m := re.FindStringSubmatchIndex(s)
				if m == nil {
					return event.Null, nil
				}
				return groupValue(s, m, int(g)), nil
			}
			ms := re.FindAllStringSubmatchIndex(s, -1)
			out := make([]event.Value, len(ms))
			for i, m := range ms {
				out[i] = groupValue(s, m, int(g))
			}
			return event.Array(out), nil
		}, nil
	}
}

func groupValue(s string, m []int, g int) event.Value {
	if m[2*g] < 0 {
		return event.Null
	}
	return event.String(s[m[2*g]:m[2*g+1]])
}

// regexpReplace is REGEXP_REPLACE(input, regexp, replacement): every match
// replaced, with Java's replacement syntax ($1, ${name}, \$ for a dollar).
func regexpReplace(c *callSite) (callFn, error) {
	rc, err := constRegex(c, 1)
	if err != nil {
		return nil, err
	}
	return func(a []event.Value) (event.Value, error) {
		re, err := rc.get(a[1].Str)
		if err != nil {
			return event.Null, err
		}
		repl, err := parseJavaReplacement(a[2].Str, re)
		if err != nil {
			return event.Null, fmt.Errorf("%s: %w", c.name, err)
		}
		s := a[0].Str
		var b strings.Builder
		last := 0
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			b.WriteString(s[last:m[0]])
			for _, p := range repl {
				if p.group < 0 {
					b.WriteString(p.lit)
				} else if m[2*p.group] >= 0 {
					b.WriteString(s[m[2*p.group]:m[2*p.group+1]])
				}
			}
			last = m[1]
		}
		b.WriteString(s[last:])
		return event.String(b.String()), nil
	}, nil
}

type replPart struct {
	lit   string
	group int // -1: lit
}

// parseJavaReplacement reads a java.util.regex replacement: \x is x, $n is
// group n (taking more digits while they still name a group), ${name} a
// named group.
func parseJavaReplacement(r string, re *regexp.Regexp) ([]replPart, error) {
	var parts []replPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, replPart{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(r); i++ {
		switch c := r[i]; c {
		case '\\':
			i++
			if i >= len(r) {
				return nil, fmt.Errorf("replacement %q ends with a backslash (character to be escaped is missing)", r)
			}
			lit.WriteByte(r[i])
		case '$':
			i++
			if i >= len(r) {
				return nil, fmt.Errorf("replacement %q ends with $ (illegal group reference)", r)
			}
			if r[i] == '{' {
				end := strings.IndexByte(r[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("replacement %q: named group reference is missing its }", r)
				}
				name := r[i+1 : i+end]
				g := re.SubexpIndex(name)
				if g < 0 {
					return nil, fmt.Errorf("replacement %q: no group named %q", r, name)
				}
				flush()
				parts = append(parts, replPart{group: g})
				i += end
				continue
			}
			if r[i] < '0' || r[i] > '9' {
				return nil, fmt.Errorf("replacement %q: illegal group reference", r)
			}
			g := int(r[i] - '0')
			for i+1 < len(r) && r[i+1] >= '0' && r[i+1] <= '9' {
				n := g*10 + int(r[i+1]-'0')
				if n > re.NumSubexp() {
					break
				}
				g = n
				i++
			}
			if g > re.NumSubexp() {
				return nil, fmt.Errorf("replacement %q: no group %d", r, g)
			}
			flush()
			parts = append(parts, replPart{group: g})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return parts, nil
}

// regexpSplit is REGEXP_SPLIT_TO_ARRAY(s, regexp): the pieces between
// matches, empty ones included; a regexp that matches the empty string
// splits as Java's String.split (no leading empty piece for a match at the
// start, trailing empty pieces dropped).
func regexpSplit(c *callSite) (callFn, error) {
	rc, err := constRegex(c, 1)
	if err != nil {
		return nil, err
	}
	return func(a []event.Value) (event.Value, error) {
		re, err := rc.get(a[1].Str)
		if err != nil {
			return event.Null, err
		}
		s := a[0].Str
		var parts []string
		if a[1].Str == "" || matchesEmptyWhole(re) {
			last := 0
			for _, m := range re.FindAllStringIndex(s, -1) {
				if m[1] == 0 { // a zero-width match at the start gives no piece
					continue
				}
				parts = append(parts, s[last:m[0]])
				last = m[1]
			}
			parts = append(parts, s[last:])
			for len(parts) > 1 && parts[len(parts)-1] == "" {
				parts = parts[:len(parts)-1]
			}
			if s == "" {
				parts = []string{""}
			}
		} else {
			last := 0
			for _, m := range re.FindAllStringIndex(s, -1) {
				parts = append(parts, s[last:m[0]])
				last = m[1]
			}
			parts = append(parts, s[last:])
		}
		out := make([]event.Value, len(parts))
		for i, p := range parts {
			out[i] = event.String(p)
		}
		return event.Array(out), nil
	}, nil
}

// matchesEmptyWhole is Java's p.matcher("").matches().
func matchesEmptyWhole(re *regexp.Regexp) bool {
	m := re.FindStringIndex("")
	return m != nil && m[0] == 0 && m[1] == 0
}
