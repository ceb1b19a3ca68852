// Package namecheck matches names against the one shape of pattern that
// configuration checks use for identifiers: one character from a first
// set, then between Min and Max characters from a second set, anchored at
// both ends — the regular expression ^[first][rest]{min,max}$ over ASCII.
//
// Why not regexp: a counted repetition compiles to an expanded program, so
// ^[A-Za-z][A-Za-z0-9_-]{0,62}$ costs about 60 kB of heap and {0,127}
// about 140 kB, built by package initialisation at every start of the
// binary whether or not the pipeline uses the package; the 14 such
// package-level regexps cost about 0.9 MB of every sluice process
// (`GODEBUG=inittrace=1 sluice version`). A Pattern is two 128-bit sets,
// built without allocating.
//
// Invariant: Match(s) == regexp.MustCompile(p.String()).MatchString(s) for
// every string s (the package test checks it on every pattern in use):
// a byte outside ASCII is never in a set, so counting bytes is counting
// characters.
package namecheck

import (
	"fmt"
	"strings"
)

// set is a set of ASCII bytes, bit b of word b/64.
type set [2]uint64

func (s *set) add(b byte) { s[b/64] |= 1 << (b % 64) }

func (s set) has(b byte) bool { return b < 128 && s[b/64]&(1<<(b%64)) != 0 }

// parseSet reads a bracket expression's body: single characters and
// ranges "a-z"; a "-" first or last is itself. Only printable ASCII
// without escapes: the specs are constants in the code, so anything else
// is a programming error and panics (at initialisation, as
// regexp.MustCompile would).
func parseSet(spec string) set {
	var s set
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		if c < 0x20 || c > 0x7e || c == '\\' {
			panic(fmt.Sprintf("namecheck: character %q in set %q: only printable ASCII, no escapes", spec[i:i+1], spec))
		}
		if i+2 < len(spec) && spec[i+1] == '-' {
			hi := spec[i+2]
			if hi < c || hi > 0x7e || hi == '\\' {
				panic(fmt.Sprintf("namecheck: bad range %q in set %q", spec[i:i+3], spec))
			}
			for b := c; ; b++ {
				s.add(b)
				if b == hi {
					break
				}
			}
			i += 2
			continue
		}
		s.add(c)
	}
	return s
}

// Pattern is ^[First][Rest]{Min,Max}$: made by New.
type Pattern struct {
	first, rest         set
	firstSpec, restSpec string // for String
	min, max            int
}

// New returns the pattern ^[first][rest]{min,max}$ where first and rest are
// bracket-expression bodies such as "A-Za-z0-9_" (a "-" last is itself).
// For [x]{1,n} write New(x, x, 0, n-1).
func New(first, rest string, min, max int) Pattern {
	if min < 0 || max < min {
		panic(fmt.Sprintf("namecheck: bad repetition {%d,%d}", min, max))
	}
	return Pattern{first: parseSet(first), rest: parseSet(rest), firstSpec: first, restSpec: rest, min: min, max: max}
}

// Match reports whether all of s matches the pattern.
func (p Pattern) Match(s string) bool {
	if n := len(s) - 1; n < p.min || n > p.max || !p.first.has(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !p.rest.has(s[i]) {
			return false
		}
	}
	return true
}

// String is the equivalent regular expression (for messages and tests).
func (p Pattern) String() string {
	return "^[" + quoteSet(p.firstSpec) + "][" + quoteSet(p.restSpec) + "]" + fmt.Sprintf("{%d,%d}$", p.min, p.max)
}

// quoteSet escapes the characters a bracket expression gives a meaning.
func quoteSet(spec string) string {
	var b strings.Builder
	for i := 0; i < len(spec); i++ {
		switch c := spec[i]; {
		case c == '[' || c == ']' || (c == '^' && i == 0):
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
