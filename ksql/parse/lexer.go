package parse

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pos is a position in the statement text: 1-based line and column (the
// column counts characters, not bytes).
type Pos struct {
	Line, Col int
}

// String spells p as "line 3:14", the prefix of every error.
func (p Pos) String() string { return fmt.Sprintf("line %d:%d", p.Line, p.Col) }

// Position returns p; every AST node embeds a Pos, so every node has it.
func (p Pos) Position() Pos { return p }

// tokKind is a token's lexical class.
type tokKind uint8

const (
	tEOF      tokKind = iota
	tIdent            // unquoted identifier or keyword; text as written
	tQuoted           // `backquoted` or "double-quoted" identifier; text unescaped
	tString           // 'string'; text unescaped
	tInteger          // 123
	tDecimal          // 1.5, .5, 1.
	tFloat            // 1.5e3
	tPunct            // operators and punctuation; text is the symbol
	tVariable         // ${name}
)

// token is one lexeme.
type token struct {
	kind tokKind
	text string
	pos  Pos
	// up is text upper-cased, for tIdent (keyword and name matching).
	up string
}

// describe spells the token for an error: "end of input", "',' ",
// "identifier FOO", "string 'x'".
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tIdent:
		if reserved[t.up] {
			return t.up
		}
		return "'" + t.text + "'"
	case tQuoted:
		return "`" + t.text + "`"
	case tString:
		s := t.text
		if utf8.RuneCountInString(s) > 30 {
			s = string([]rune(s)[:30]) + "…"
		}
		return "string '" + strings.ReplaceAll(s, "'", "''") + "'"
	case tVariable:
		return "variable ${" + t.text + "}"
	case tInteger, tDecimal, tFloat:
		return t.text
	}
	return "'" + t.text + "'"
}

// lexer turns the input into tokens. Comments (-- to end of line, /* … */)
// and whitespace are skipped.
type lexer struct {
	src       string
	off       int
	line, col int
}

func newLexer(src string) *lexer { return &lexer{src: src, line: 1, col: 1} }

func (l *lexer) peekByte(k int) byte {
	if l.off+k < len(l.src) {
		return l.src[l.off+k]
	}
	return 0
}

// advance moves over n bytes, keeping line and column.
func (l *lexer) advance(n int) {
	end := l.off + n
	for l.off < end {
		r, size := utf8.DecodeRuneInString(l.src[l.off:])
		l.off += size
		if r == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
	}
}

// next returns the next token, or an error for a malformed one.
func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	pos := Pos{l.line, l.col}
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: pos}, nil
	}
	c := l.src[l.off]
	switch {
	case c == '\'':
		s, err := l.quoted('\'', "string")
		return token{kind: tString, text: s, pos: pos}, err
	case c == '`' || c == '"':
		s, err := l.quoted(c, "quoted identifier")
		if err == nil && s == "" {
			err = &Error{Pos: pos, Msg: "empty quoted identifier"}
		}
		return token{kind: tQuoted, text: s, pos: pos}, err
	case c >= '0' && c <= '9' || c == '.' && isDigit(l.peekByte(1)):
		return l.number(pos)
	case c == '$' && l.peekByte(1) == '{':
		end := strings.IndexByte(l.src[l.off:], '}')
		if end < 0 {
			l.advance(len(l.src) - l.off)
			return token{}, &Error{Pos: pos, Msg: "unterminated variable reference ${…"}
		}
		name := l.src[l.off+2 : l.off+end]
		l.advance(end + 1)
		return token{kind: tVariable, text: name, pos: pos}, nil
	case isIdentStart(l.src[l.off:]):
		start := l.off
		for l.off < len(l.src) {
			r, size := utf8.DecodeRuneInString(l.src[l.off:])
			if !(r == '_' || r == '@' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
				break
			}
			l.advance(size)
		}
		text := l.src[start:l.off]
		return token{kind: tIdent, text: text, up: strings.ToUpper(text), pos: pos}, nil
	}
	for _, p := range puncts {
		if strings.HasPrefix(l.src[l.off:], p) {
			l.advance(len(p))
			return token{kind: tPunct, text: p, pos: pos}, nil
		}
	}
	r, size := utf8.DecodeRuneInString(l.src[l.off:])
	l.advance(size)
	if r == utf8.RuneError && size == 1 {
		return token{}, &Error{Pos: pos, Msg: "invalid UTF-8 in the statement text"}
	}
	return token{}, &Error{Pos: pos, Msg: fmt.Sprintf("unexpected character %q", r)}
}

// puncts are the symbols, longest first so that "<=" wins over "<".
var puncts = []string{"<>", "!=", "<=", ">=", "||", ":=", "->", "=>", "(", ")", "[", "]", ",", ".", ";", "*", "/", "%", "+", "-", "=", "<", ">"}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '_' || unicode.IsLetter(r)
}

func (l *lexer) skipSpace() error {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			l.advance(1)
		case c == '-' && l.peekByte(1) == '-':
			end := strings.IndexByte(l.src[l.off:], '\n')
			if end < 0 {
				end = len(l.src) - l.off
			}
			l.advance(end)
		case c == '/' && l.peekByte(1) == '*':
			pos := Pos{l.line, l.col}
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				l.advance(len(l.src) - l.off)
				return &Error{Pos: pos, Msg: "unterminated comment /* … (close it with */)"}
			}
			l.advance(end + 4)
		default:
			return nil
		}
	}
	return nil
}

// quoted reads a q-quoted text where a doubled q stands for one.
func (l *lexer) quoted(q byte, what string) (string, error) {
	pos := Pos{l.line, l.col}
	var b strings.Builder
	i := l.off + 1
	for {
		j := strings.IndexByte(l.src[i:], q)
		if j < 0 {
			l.advance(len(l.src) - l.off)
			return "", &Error{Pos: pos, Msg: fmt.Sprintf("unterminated %s (close it with %c)", what, q)}
		}
		b.WriteString(l.src[i : i+j])
		i += j + 1
		if i < len(l.src) && l.src[i] == q {
			b.WriteByte(q)
			i++
			continue
		}
		break
	}
	l.advance(i - l.off)
	return b.String(), nil
}

// number reads 12, 1.5, .5, 1., 1e3, 1.5E-3. A letter right after a
// number is an error (ksqlDB's DIGIT_IDENTIFIER is not supported).
func (l *lexer) number(pos Pos) (token, error) {
	start := l.off
	kind := tInteger
	for isDigit(l.peekByte(0)) {
		l.advance(1)
	}
	if l.peekByte(0) == '.' {
		kind = tDecimal
		l.advance(1)
		for isDigit(l.peekByte(0)) {
			l.advance(1)
		}
	}
	if c := l.peekByte(0); c == 'e' || c == 'E' {
		k := 1
		if s := l.peekByte(1); s == '+' || s == '-' {
			k = 2
		}
		if isDigit(l.peekByte(k)) {
			kind = tFloat
			l.advance(k)
			for isDigit(l.peekByte(0)) {
				l.advance(1)
			}
		}
	}
	if l.off < len(l.src) && isIdentStart(l.src[l.off:]) {
		return token{}, &Error{Pos: pos, Msg: fmt.Sprintf("malformed number %s…: quote an identifier that starts with a digit (`%s…`)", l.src[start:l.off], l.src[start:l.off])}
	}
	return token{kind: kind, text: l.src[start:l.off], pos: pos}, nil
}
