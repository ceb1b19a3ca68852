package eval

import (
	"fmt"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// likePattern is a compiled LIKE pattern: literal runs, '_' (one
// character) and '%' (any run of characters, newlines included).
type likePattern []likeToken

type likeToken struct {
	kind byte // 'l' literal, '_' one character, '%' any run
	lit  string
}

// compileLikePattern reads a LIKE pattern; escape (0: none) makes the
// next character literal. A pattern ending in the escape is an error.
func compileLikePattern(p string, escape rune) (likePattern, error) {
	var out likePattern
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			out = append(out, likeToken{kind: 'l', lit: string(lit)})
			lit = lit[:0]
		}
	}
	escaped := false
	for _, r := range p {
		switch {
		case escaped:
			lit = utf8.AppendRune(lit, r)
			escaped = false
		case escape != 0 && r == escape:
			escaped = true
		case r == '%':
			flush()
			if len(out) == 0 || out[len(out)-1].kind != '%' {
				out = append(out, likeToken{kind: '%'})
			}
		case r == '_':
			flush()
			out = append(out, likeToken{kind: '_'})
		default:
			lit = utf8.AppendRune(lit, r)
		}
	}
	if escaped {
		return nil, fmt.Errorf("LIKE pattern %q ends with the escape character", p)
	}
	flush()
	return out, nil
}

// match reports whether s matches the whole pattern. A '%' backtracks to
// the last one only (the classic wildcard algorithm), so matching is
// O(len(s)·len(pattern)) at worst.
func (p likePattern) match(s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for {
		if pi < len(p) {
			t := p[pi]
			switch t.kind {
			case '%':
				starP, starS = pi, si
				pi++
				continue
			case '_':
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					pi++
					continue
				}
			case 'l':
				if len(s)-si >= len(t.lit) && s[si:si+len(t.lit)] == t.lit {
					si += len(t.lit)
					pi++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		// Mismatch: let the last '%' take one more character.
		if starP < 0 || starS >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		pi, si = starP+1, starS
	}
}

func compileLike(e *ir.Like) (node, error) {
	x, err := compile(e.X)
	if err != nil {
		return node{}, err
	}
	pat, err := compile(e.Pattern)
	if err != nil {
		return node{}, err
	}
	for _, n := range []node{x, pat} {
		if n.t.Base != types.String && n.t.Base != types.Unknown {
			return node{}, fmt.Errorf("LIKE needs STRING values, not %s", n.t)
		}
	}
	escape := e.Escape
	var n node
	if pat.konst {
		pv, err := pat.f(nil)
		if err != nil {
			return node{}, err
		}
		if pv.Kind == event.KindNull {
			return constNode(event.Null, types.TBoolean), nil
		}
		p, err := compileLikePattern(pv.Str, escape)
		if err != nil {
			return node{}, err
		}
		n = mapNode(x, types.TBoolean, func(v event.Value) (event.Value, error) {
			return event.Bool(p.match(v.Str)), nil
		})
	} else {
		// A pattern per row: keep the last compiled one.
		var last string
		var lastP likePattern
		n = binaryNode(x, pat, types.TBoolean, func(a, b event.Value) (event.Value, error) {
			if lastP == nil || b.Str != last {
				p, err := compileLikePattern(b.Str, escape)
				if err != nil {
					return event.Null, err
				}
				last, lastP = b.Str, p
			}
			return event.Bool(lastP.match(a.Str)), nil
		})
	}
	return fold(negate(n, e.Negate)), nil
}
