package dataprepper

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Data Prepper's conditional expressions (drop_when, routes) translated
// into sluice's expression language (package processor/expr):
//
//	/key                 col("key")      nil when the document lacks it
//	"text", 12, 1.5      "text", 12, 1.5
//	true, false, null    true, false, nil
//	== != < <= > >=      the same
//	=~ !~                matches "^(?:re)$" (Java's matches(): the whole value)
//	and, or, not, ( )    &&, ||, !, ( )
//
// Data Prepper evaluates every operand (no short-circuit) and fails the
// whole expression when a relational or regex operator gets null (a
// missing key) or a key used as a condition is not a boolean. The guard
// says when the evaluation would not fail: for drop_events a failed
// evaluation keeps the event (handle_failed_events: skip) or drops it
// (drop); a route whose evaluation fails does not take the event. A type
// mismatch Data Prepper would fail on (a string compared with <) is a
// record error in sluice: the pipeline stops, or the event goes to the
// dead letter, never a silent choice. Functions (length(), hasTags(),
// getMetadata(), contains(), …) and set membership (in {…}) are not
// translated: errors naming them.

type dpLexer struct {
	src string
	pos int
}

type dpToken struct {
	kind string // "ptr", "str", "num", "word", "op", "(", ")", "eof"
	text string
	at   int
}

func (l *dpLexer) next() (dpToken, error) {
	for l.pos < len(l.src) && unicode.IsSpace(rune(l.src[l.pos])) {
		l.pos++
	}
	at := l.pos
	if l.pos >= len(l.src) {
		return dpToken{kind: "eof", at: at}, nil
	}
	c := l.src[l.pos]
	switch {
	case c == '(' || c == ')':
		l.pos++
		return dpToken{kind: string(c), at: at}, nil
	case c == '/':
		l.pos++
		for l.pos < len(l.src) && !strings.ContainsRune(" \t\r\n()=!<>,{}\"", rune(l.src[l.pos])) {
			l.pos++
		}
		return dpToken{kind: "ptr", text: l.src[at:l.pos], at: at}, nil
	case c == '"':
		l.pos++
		var b strings.Builder
		for l.pos < len(l.src) && l.src[l.pos] != '"' {
			if l.src[l.pos] == '\\' && l.pos+1 < len(l.src) {
				l.pos++
				switch l.src[l.pos] {
				case '"', '\\':
					b.WriteByte(l.src[l.pos])
				default:
					b.WriteByte('\\')
					b.WriteByte(l.src[l.pos])
				}
				l.pos++
				continue
			}
			b.WriteByte(l.src[l.pos])
			l.pos++
		}
		if l.pos >= len(l.src) {
			return dpToken{}, fmt.Errorf("an unclosed string at %d", at+1)
		}
		l.pos++
		return dpToken{kind: "str", text: b.String(), at: at}, nil
	case c == '-' || c >= '0' && c <= '9':
		l.pos++
		for l.pos < len(l.src) && (l.src[l.pos] >= '0' && l.src[l.pos] <= '9' || l.src[l.pos] == '.') {
			l.pos++
		}
		return dpToken{kind: "num", text: l.src[at:l.pos], at: at}, nil
	case unicode.IsLetter(rune(c)):
		for l.pos < len(l.src) && (unicode.IsLetter(rune(l.src[l.pos])) || unicode.IsDigit(rune(l.src[l.pos])) || l.src[l.pos] == '_') {
			l.pos++
		}
		return dpToken{kind: "word", text: l.src[at:l.pos], at: at}, nil
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "=~", "!~", "<", ">"} {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += len(op)
			return dpToken{kind: "op", text: op, at: at}, nil
		}
	}
	return dpToken{}, fmt.Errorf("%q at %d is not translated", string(c), at+1)
}

type dpParser struct {
	lex    dpLexer
	tok    dpToken
	guards []string // what must hold for Data Prepper's evaluation not to fail
	seen   map[string]bool
}

func (p *dpParser) advance() error {
	t, err := p.lex.next()
	p.tok = t
	return err
}

func (p *dpParser) guard(g string) {
	if !p.seen[g] {
		p.seen[g] = true
		p.guards = append(p.guards, g)
	}
}

// translateCondition translates a Data Prepper condition into a sluice
// expression and its guard (see above).
func translateCondition(src string) (cond, guard string, err error) {
	p := &dpParser{lex: dpLexer{src: src}, seen: map[string]bool{}}
	if err := p.advance(); err != nil {
		return "", "", err
	}
	x, err := p.or()
	if err != nil {
		return "", "", err
	}
	if p.tok.kind != "eof" {
		return "", "", fmt.Errorf("%q at %d is not translated", p.lex.src[p.tok.at:], p.tok.at+1)
	}
	if cond, err = p.boolean(x); err != nil {
		return "", "", err
	}
	guard = "true"
	if len(p.guards) > 0 {
		guard = strings.Join(p.guards, " && ")
	}
	return cond, guard, nil
}

// dpExpr is a translated operand or expression; ptr is the key when it
// is a bare /key (a condition then needs it boolean).
type dpExpr struct {
	src   string
	ptr   string
	value bool // a string, number or null: not a condition
}

// boolean is x where a condition is expected.
func (p *dpParser) boolean(x dpExpr) (string, error) {
	if x.value {
		return "", fmt.Errorf("%s is not a condition (true or false)", strings.ReplaceAll(x.src, "$$", "$"))
	}
	if x.ptr != "" {
		p.guard(fmt.Sprintf(`type(%s) == "bool"`, x.src))
		return x.src + " == true", nil
	}
	return x.src, nil
}

// both is boolean of x and y.
func (p *dpParser) both(x, y dpExpr) (string, string, error) {
	a, err := p.boolean(x)
	if err != nil {
		return "", "", err
	}
	b, err := p.boolean(y)
	return a, b, err
}

func (p *dpParser) or() (dpExpr, error) {
	x, err := p.and()
	if err != nil {
		return x, err
	}
	for p.tok.kind == "word" && p.tok.text == "or" {
		if err := p.advance(); err != nil {
			return x, err
		}
		y, err := p.and()
		if err != nil {
			return x, err
		}
		a, b, err := p.both(x, y)
		if err != nil {
			return x, err
		}
		x = dpExpr{src: a + " || " + b}
	}
	return x, nil
}

func (p *dpParser) and() (dpExpr, error) {
	x, err := p.not()
	if err != nil {
		return x, err
	}
	for p.tok.kind == "word" && p.tok.text == "and" {
		if err := p.advance(); err != nil {
			return x, err
		}
		y, err := p.not()
		if err != nil {
			return x, err
		}
		a, b, err := p.both(x, y)
		if err != nil {
			return x, err
		}
		x = dpExpr{src: "(" + a + " && " + b + ")"}
	}
	return x, nil
}

func (p *dpParser) not() (dpExpr, error) {
	if p.tok.kind == "word" && p.tok.text == "not" {
		if err := p.advance(); err != nil {
			return dpExpr{}, err
		}
		x, err := p.not()
		if err != nil {
			return x, err
		}
		a, err := p.boolean(x)
		if err != nil {
			return x, err
		}
		return dpExpr{src: "!(" + a + ")"}, nil
	}
	return p.compare()
}

func (p *dpParser) compare() (dpExpr, error) {
	x, err := p.operand()
	if err != nil {
		return x, err
	}
	if p.tok.kind == "word" && (p.tok.text == "in" || p.tok.text == "not") {
		return x, fmt.Errorf("set membership (%s {…}) is not translated", p.tok.text)
	}
	if p.tok.kind != "op" {
		return x, nil
	}
	op := p.tok.text
	if err := p.advance(); err != nil {
		return x, err
	}
	y, err := p.operand()
	if err != nil {
		return x, err
	}
	switch op {
	case "==", "!=":
		return dpExpr{src: x.src + " " + op + " " + y.src}, nil
	case "=~", "!~":
		if y.ptr != "" || !strings.HasPrefix(y.src, `"`) {
			return x, fmt.Errorf("%s takes a regular expression in quotes", op)
		}
		re, _ := strconv.Unquote(strings.ReplaceAll(y.src, "$$", "$"))
		if _, err := regexp.Compile(re); err != nil {
			return x, fmt.Errorf("the regular expression %q is not translated (RE2 syntax: no lookaround or backreferences): %v", re, err)
		}
		switch {
		case x.ptr != "":
			p.guard(fmt.Sprintf(`type(%s) == "string"`, x.src))
		case !strings.HasPrefix(x.src, `"`):
			return x, fmt.Errorf("%s takes a key or a string on its left", op)
		}
		m := fmt.Sprintf("%s matches %s", x.src, quote("^(?:"+re+")$"))
		if op == "!~" {
			m = "!(" + m + ")"
		}
		return dpExpr{src: m}, nil
	}
	for _, o := range []dpExpr{x, y} {
		if o.ptr != "" {
			p.guard(o.src + " != nil")
		}
		if o.ptr == "" && !isNumber(o.src) {
			return x, fmt.Errorf("%s compares numbers: %s is not one", op, strings.ReplaceAll(o.src, "$$", "$"))
		}
	}
	return dpExpr{src: x.src + " " + op + " " + y.src}, nil
}

func (p *dpParser) operand() (dpExpr, error) {
	t := p.tok
	switch t.kind {
	case "(":
		if err := p.advance(); err != nil {
			return dpExpr{}, err
		}
		x, err := p.or()
		if err != nil {
			return x, err
		}
		if p.tok.kind != ")" {
			return x, fmt.Errorf("a ( at %d is not closed", t.at+1)
		}
		if x.value || x.ptr != "" {
			return dpExpr{src: "(" + x.src + ")", ptr: x.ptr, value: x.value}, p.advance()
		}
		return dpExpr{src: "(" + x.src + ")"}, p.advance()
	case "ptr":
		name := strings.TrimPrefix(t.text, "/")
		if name == "" || strings.ContainsAny(name, "/~") {
			return dpExpr{}, fmt.Errorf("key %s is not translated: sluice translates top-level keys", t.text)
		}
		return dpExpr{src: "col(" + quote(name) + ")", ptr: name}, p.advance()
	case "str":
		return dpExpr{src: quote(t.text), value: true}, p.advance()
	case "num":
		if _, err := strconv.ParseFloat(t.text, 64); err != nil {
			return dpExpr{}, fmt.Errorf("%s is not a number", t.text)
		}
		return dpExpr{src: t.text, value: true}, p.advance()
	case "word":
		switch t.text {
		case "true", "false":
			return dpExpr{src: t.text}, p.advance()
		case "null":
			return dpExpr{src: "nil", value: true}, p.advance()
		}
		if err := p.advance(); err == nil && p.tok.kind == "(" {
			return dpExpr{}, fmt.Errorf("function %s() is not translated", t.text)
		}
		return dpExpr{}, fmt.Errorf("%q is not translated", t.text)
	case "eof":
		return dpExpr{}, fmt.Errorf("an operand is missing at the end")
	}
	return dpExpr{}, fmt.Errorf("%q at %d is not translated", p.lex.src[t.at:], t.at+1)
}

// condition translates the condition held by v; errors name the key.
func (t *translator) condition(v *yaml.Node, path string) (cond, guard string, ok bool) {
	if !scalar(v) || v.Tag == "!!null" || strings.TrimSpace(v.Value) == "" {
		t.fail(v, path, "must be a condition", `e.g. '/status == "deleted"'`)
		return "", "", false
	}
	cond, guard, err := translateCondition(v.Value)
	if err != nil {
		t.fail(v, path, fmt.Sprintf("condition %q: %v", v.Value, err), "sluice translates /key, strings, numbers, true, false, null, == != < <= > >= =~ !~, and, or, not and parentheses; write other conditions as a sluice filter (docs/pipeline.md)")
		return "", "", false
	}
	return cond, guard, true
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(strings.Trim(s, "()"), 64)
	return err == nil
}
