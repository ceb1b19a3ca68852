package parse

import (
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/ksql/internal/suggest"
)

// reserved are ksqlDB 0.28's reserved words: its keywords that are not in
// its nonReserved rule. They cannot be unquoted names (quote them:
// `SIZE`); every other keyword can (a column may be called KEY or DATE).
var reserved = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`SELECT FROM AS ALL DISTINCT WHERE WITHIN WINDOW GROUP BY HAVING LIMIT
		AT OR AND IN NOT EXISTS BETWEEN LIKE IS NULL TRUE FALSE MILLISECOND YEARS MONTHS DAYS HOURS
		MINUTES SECONDS MILLISECONDS TUMBLING HOPPING SIZE ADVANCE RETENTION CASE WHEN THEN ELSE END
		JOIN FULL OUTER INNER LEFT RIGHT ON WITH VALUES CREATE TABLE TOPIC STREAM STREAMS INSERT DELETE
		INTO DESCRIBE EXTENDED PRINT CAST LIST TOPICS QUERY QUERIES TERMINATE PAUSE RESUME LOAD DROP TO
		RENAME SAMPLE EXPORT CATALOG PROPERTIES BEGINNING UNSET RUN SCRIPT DECIMAL CONNECTOR CONNECTORS
		NAMESPACE MATERIALIZED VIEW`) {
		reserved[w] = true
	}
}

// maxDepth bounds the nesting of expressions and types, so that a
// hostile text cannot exhaust the stack.
const maxDepth = 200

// parser is a recursive-descent parser over a lazily lexed token stream.
// Errors unwind with panic(bailout) to the statement being parsed, which
// turns them into an *Error; nothing else panics.
type parser struct {
	lex   *lexer
	buf   []token // lookahead; buf[0] is the current token
	tok   token
	depth int
}

type bailout struct{ err *Error }

// peek returns the token k ahead of the current one (0: current).
func (p *parser) peek(k int) token {
	for len(p.buf) <= k {
		if n := len(p.buf); n > 0 && p.buf[n-1].kind == tEOF {
			return p.buf[n-1]
		}
		t, err := p.lex.next()
		if err != nil {
			panic(bailout{err.(*Error)})
		}
		p.buf = append(p.buf, t)
	}
	return p.buf[k]
}

func (p *parser) next() {
	if len(p.buf) > 0 && p.buf[0].kind != tEOF {
		p.buf = p.buf[1:]
	}
	p.tok = p.peek(0)
}

func (p *parser) fail(pos Pos, format string, args ...any) {
	panic(bailout{&Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}})
}

// enter counts one level of nesting; leave undoes it.
func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail(p.tok.pos, "expression nested too deeply (more than %d levels)", maxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) isKw(kw string) bool { return p.tok.kind == tIdent && p.tok.up == kw }

func (p *parser) isKwAt(k int, kw string) bool {
	t := p.peek(k)
	return t.kind == tIdent && t.up == kw
}

func (p *parser) acceptKw(kw string) bool {
	if p.isKw(kw) {
		p.next()
		return true
	}
	return false
}

// expectKw consumes keyword kw or fails with "expected KW context, found
// X", hinting at kw when X is a misspelling of it.
func (p *parser) expectKw(kw, context string) Pos {
	pos := p.tok.pos
	if !p.acceptKw(kw) {
		p.failExpected(kw+context, kw)
	}
	return pos
}

// failExpected fails at the current token: "expected what, found X", with
// "did you mean K?" when X is an identifier near one of the keywords.
func (p *parser) failExpected(what string, keywords ...string) {
	msg := "expected " + what + ", found " + p.tok.describe()
	if p.tok.kind == tIdent && len(keywords) > 0 {
		if near := suggest.Near(p.tok.up, keywords, 2); len(near) > 0 && near[0] != p.tok.up {
			msg += " (did you mean " + suggest.Or(near) + "?)"
		}
	}
	p.fail(p.tok.pos, "%s", msg)
}

func (p *parser) isPunct(s string) bool { return p.tok.kind == tPunct && p.tok.text == s }

func (p *parser) acceptPunct(s string) bool {
	if p.isPunct(s) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectPunct(s, context string) Pos {
	pos := p.tok.pos
	if !p.acceptPunct(s) {
		p.failExpected("'" + s + "'" + context)
	}
	return pos
}

// isName reports whether the current token can be a name: a quoted
// identifier or an unquoted one that is not reserved.
func (p *parser) isName() bool {
	return p.tok.kind == tQuoted || p.tok.kind == tIdent && !reserved[p.tok.up]
}

// ident consumes a name; what says what was expected ("a column name").
func (p *parser) ident(what string) Ident {
	t := p.tok
	switch {
	case t.kind == tQuoted:
		p.next()
		return Ident{Pos: t.pos, Name: t.text, Quoted: true}
	case t.kind == tIdent && !reserved[t.up]:
		p.next()
		return Ident{Pos: t.pos, Name: t.up}
	case t.kind == tIdent:
		p.fail(t.pos, "expected %s, found reserved word %s (quote it as `%s` to use it as a name)", what, t.up, t.text)
	}
	p.failExpected(what)
	return Ident{}
}

// isImplicitAlias reports whether the current token is an alias written
// without AS: a name that does not start the next clause (EMIT CHANGES,
// PARTITION BY, GRACE PERIOD are non-reserved words).
func (p *parser) isImplicitAlias() bool {
	if !p.isName() {
		return false
	}
	if p.tok.kind == tIdent {
		switch p.tok.up {
		case "EMIT":
			// EMIT followed by a name is the EMIT clause (EMIT CHANGES,
			// or a misspelling the clause reports).
			n := p.peek(1)
			return !(n.kind == tIdent && !reserved[n.up])
		case "PARTITION":
			return !p.isKwAt(1, "BY")
		case "GRACE":
			return !p.isKwAt(1, "PERIOD")
		}
	}
	// A name followed by '.' is a qualified column, not an alias.
	n := p.peek(1)
	return !(n.kind == tPunct && n.text == ".")
}

// Parse parses a text of statements separated by ';' (the last may omit
// it). It returns the statements that parsed and, when any failed, an
// ErrorList with one error per failed statement: parsing resumes after
// the next ';', so one run reports every broken statement.
func Parse(src string) ([]Statement, error) {
	p := &parser{lex: newLexer(src)}
	var stmts []Statement
	var errs ErrorList
	for {
		done, err := p.safe(func() {
			p.tok = p.peek(0)
			for p.acceptPunct(";") {
			}
			if p.tok.kind == tEOF {
				return
			}
			s := p.statement()
			if !p.isPunct(";") && p.tok.kind != tEOF {
				p.failExpected("';' after the statement")
			}
			stmts = append(stmts, s)
			if p.isPunct(";") {
				p.next()
			}
		})
		if err != nil {
			errs = append(errs, err)
			p.skipStatement()
			continue
		}
		if done || p.tok.kind == tEOF {
			break
		}
	}
	if len(errs) > 0 {
		return stmts, errs
	}
	return stmts, nil
}

// safe runs f, turning a bailout into its error. done is true when the
// input is exhausted.
func (p *parser) safe(f func()) (done bool, err *Error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			err = b.err
		}
	}()
	f()
	return p.tok.kind == tEOF, nil
}

// skipStatement drops tokens up to and including the next ';', ignoring
// lexical errors (the lexer always advances past them).
func (p *parser) skipStatement() {
	p.depth = 0
	for {
		if len(p.buf) > 0 {
			t := p.buf[0]
			p.buf = p.buf[1:]
			if t.kind == tEOF {
				p.buf = []token{t}
				p.tok = t
				return
			}
			if t.kind == tPunct && t.text == ";" {
				return
			}
			continue
		}
		t, err := p.lex.next()
		if err != nil {
			continue
		}
		p.buf = append(p.buf, t)
	}
}

// ParseExpr parses a single expression (tests and tools).
func ParseExpr(src string) (Expr, error) {
	var e Expr
	p := &parser{lex: newLexer(src)}
	_, err := p.safe(func() {
		p.tok = p.peek(0)
		e = p.expr()
		if p.tok.kind != tEOF {
			p.failExpected("end of the expression")
		}
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

var statementKeywords = []string{"CREATE", "INSERT", "DROP", "SET", "UNSET", "SELECT", "SHOW", "LIST", "DESCRIBE", "TERMINATE"}

func (p *parser) statement() Statement {
	pos := p.tok.pos
	if p.tok.kind == tIdent {
		switch p.tok.up {
		case "CREATE":
			return p.create()
		case "INSERT":
			return p.insert()
		case "DROP":
			return p.drop()
		case "SET":
			p.next()
			name := p.stringLit("a quoted property name after SET (SET 'auto.offset.reset' = 'earliest')")
			p.expectPunct("=", " after the property name")
			value := p.stringLit("a quoted value (SET 'auto.offset.reset' = 'earliest')")
			return &Set{Pos: pos, Name: name, Value: value}
		case "UNSET":
			p.next()
			return &Unset{Pos: pos, Name: p.stringLit("a quoted property name after UNSET")}
		case "SELECT":
			return &Query{Pos: pos, Select: p.query()}
		case "SHOW", "LIST":
			return p.show()
		case "DESCRIBE":
			p.next()
			d := &Describe{Pos: pos, Name: p.ident("a stream or table name after DESCRIBE")}
			d.Extended = p.acceptKw("EXTENDED")
			return d
		case "TERMINATE":
			p.next()
			if p.acceptKw("ALL") {
				return &Terminate{Pos: pos, All: true}
			}
			return &Terminate{Pos: pos, ID: p.ident("a query id or ALL after TERMINATE")}
		case "EXPLAIN", "PRINT", "PAUSE", "RESUME", "ALTER", "DEFINE", "UNDEFINE", "ASSERT", "RUN":
			p.fail(pos, "%s statements are not supported", p.tok.up)
		}
	}
	p.failExpected("a statement ("+strings.Join(statementKeywords, ", ")+")", statementKeywords...)
	return nil
}

func (p *parser) stringLit(what string) string {
	if p.tok.kind != tString {
		p.failExpected(what)
	}
	s := p.tok.text
	p.next()
	return s
}

func (p *parser) ifNotExists() bool {
	if !p.isKw("IF") {
		return false
	}
	p.next()
	p.expectKw("NOT", " after IF")
	p.expectKw("EXISTS", " after IF NOT")
	return true
}

func (p *parser) create() Statement {
	pos := p.tok.pos
	p.next()
	orReplace := false
	if p.acceptKw("OR") {
		p.expectKw("REPLACE", " after CREATE OR")
		orReplace = true
	}
	if p.isKw("SINK") || p.isKw("SOURCE") && p.isKwAt(1, "CONNECTOR") {
		sink := p.tok.up == "SINK"
		p.next()
		p.expectKw("CONNECTOR", "")
		if orReplace {
			p.fail(pos, "CREATE OR REPLACE does not apply to connectors")
		}
		c := &CreateConnector{Pos: pos, Sink: sink, IfNotExists: p.ifNotExists(), Name: p.ident("a connector name")}
		p.expectKw("WITH", " and the connector's properties")
		c.Props = p.properties(true)
		return c
	}
	source := p.acceptKw("SOURCE")
	table := false
	switch {
	case p.acceptKw("STREAM"):
	case p.acceptKw("TABLE"):
		table = true
	default:
		p.failExpected("STREAM, TABLE, SOURCE CONNECTOR or SINK CONNECTOR after CREATE", "STREAM", "TABLE", "SOURCE", "SINK")
	}
	kind := "stream"
	if table {
		kind = "table"
	}
	ine := p.ifNotExists()
	name := p.ident("a " + kind + " name")
	var cols []ColumnDef
	colPos := p.tok.pos
	if p.isPunct("(") {
		cols = p.columnDefs(table)
	}
	var props []Property
	if p.acceptKw("WITH") {
		props = p.properties(false)
	}
	if p.isKw("AS") {
		if source {
			p.fail(pos, "CREATE SOURCE %s cannot be AS SELECT: a source %s reads a topic", strings.ToUpper(kind), kind)
		}
		if cols != nil {
			p.fail(colPos, "CREATE %s … AS SELECT takes no column list: its columns are the SELECT's", strings.ToUpper(kind))
		}
		p.next()
		if err := checkProps(props, createProps, createAsOnlyNot); err != nil {
			panic(bailout{err.(*Error)})
		}
		return &CreateAs{Pos: pos, Table: table, OrReplace: orReplace, IfNotExists: ine, Name: name, Props: props, Query: p.query()}
	}
	if err := checkProps(props, createProps, nil); err != nil {
		panic(bailout{err.(*Error)})
	}
	if p.isKw("SELECT") {
		p.fail(p.tok.pos, "expected AS before SELECT (CREATE %s %s AS SELECT …)", strings.ToUpper(kind), name.Name)
	}
	return &CreateSource{Pos: pos, Table: table, OrReplace: orReplace, Source: source, IfNotExists: ine, Name: name, Columns: cols, Props: props}
}

func (p *parser) columnDefs(table bool) []ColumnDef {
	p.expectPunct("(", "")
	var cols []ColumnDef
	for {
		pos := p.tok.pos
		c := ColumnDef{Pos: pos, Name: p.ident("a column name")}
		c.Type = p.typ()
		switch {
		case p.isKw("PRIMARY"):
			kp := p.tok.pos
			p.next()
			p.expectKw("KEY", " after PRIMARY")
			if !table {
				p.fail(kp, "a stream's key column is declared KEY, not PRIMARY KEY (column %s)", c.Name.Name)
			}
			c.Key, c.PrimaryKey = true, true
		case p.isKw("KEY"):
			if table {
				p.fail(p.tok.pos, "a table's key column is declared PRIMARY KEY, not KEY (column %s)", c.Name.Name)
			}
			p.next()
			c.Key = true
		case p.acceptKw("HEADERS"):
			c.Headers = true
		case p.acceptKw("HEADER"):
			p.expectPunct("(", " after HEADER")
			c.Header, c.HasHeader = p.stringLit("a quoted header key"), true
			p.expectPunct(")", " after the header key")
		}
		cols = append(cols, c)
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")", " or ',' after the column definition")
	return cols
}

// properties parses `(name = literal, …)`. Names of CREATE properties are
// upper-cased (they are case-insensitive); a connector's are kept.
func (p *parser) properties(connector bool) []Property {
	p.expectPunct("(", " after WITH")
	var props []Property
	for {
		pr := Property{Pos: p.tok.pos}
		switch {
		case p.tok.kind == tString:
			pr.Name = p.tok.text
			p.next()
		case p.tok.kind == tIdent || p.tok.kind == tQuoted:
			pr.Name = p.tok.text
			p.next()
		default:
			p.failExpected("a property name")
		}
		if !connector {
			pr.Name = strings.ToUpper(pr.Name)
		}
		p.expectPunct("=", " after the property name")
		pr.Value = p.literal()
		props = append(props, pr)
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")", " or ',' after the property")
	return props
}

// literal parses NULL, TRUE, FALSE, a number (optionally negated) or a
// string.
func (p *parser) literal() Literal {
	t := p.tok
	neg := false
	if p.isPunct("-") {
		neg = true
		p.next()
	}
	switch p.tok.kind {
	case tString:
		if !neg {
			p.next()
			return &StringLit{Pos: t.pos, Value: t.text}
		}
	case tInteger, tDecimal, tFloat:
		n := p.number()
		if neg {
			n.Pos, n.Text = t.pos, "-"+n.Text
		}
		p.checkNumber(n)
		return n
	case tIdent:
		if !neg {
			switch p.tok.up {
			case "NULL":
				p.next()
				return &NullLit{Pos: t.pos}
			case "TRUE", "FALSE":
				p.next()
				return &BoolLit{Pos: t.pos, Value: t.up == "TRUE"}
			}
		}
	}
	p.failExpected("a literal (a 'string', a number, TRUE, FALSE or NULL)")
	return nil
}

func (p *parser) insert() Statement {
	pos := p.tok.pos
	p.next()
	p.expectKw("INTO", " after INSERT")
	ins := &InsertInto{Pos: pos, Name: p.ident("a stream name after INSERT INTO")}
	if p.isPunct("(") || p.isKw("VALUES") {
		p.fail(p.tok.pos, "INSERT INTO … VALUES is not supported: a sluice stream's rows come from its source")
	}
	if p.acceptKw("WITH") {
		ins.Props = p.properties(false)
		if err := checkProps(ins.Props, insertProps, nil); err != nil {
			panic(bailout{err.(*Error)})
		}
	}
	ins.Query = p.query()
	return ins
}

func (p *parser) drop() Statement {
	pos := p.tok.pos
	p.next()
	d := &Drop{Pos: pos}
	switch {
	case p.acceptKw("STREAM"):
		d.What = "STREAM"
	case p.acceptKw("TABLE"):
		d.What = "TABLE"
	case p.acceptKw("CONNECTOR"):
		d.What = "CONNECTOR"
	default:
		p.failExpected("STREAM, TABLE or CONNECTOR after DROP", "STREAM", "TABLE", "CONNECTOR")
	}
	if p.acceptKw("IF") {
		p.expectKw("EXISTS", " after IF")
		d.IfExists = true
	}
	d.Name = p.ident("a name")
	if d.What != "CONNECTOR" && p.acceptKw("DELETE") {
		p.expectKw("TOPIC", " after DELETE")
		d.DeleteTopic = true
	}
	return d
}

func (p *parser) show() Statement {
	pos := p.tok.pos
	p.next()
	s := &Show{Pos: pos}
	switch {
	case p.isKw("SOURCE") || p.isKw("SINK"):
		s.What = p.tok.up + " CONNECTORS"
		p.next()
		p.expectKw("CONNECTORS", "")
		return s
	case p.acceptKw("CONNECTORS"):
		s.What = "CONNECTORS"
		return s
	case p.acceptKw("PROPERTIES"):
		s.What = "PROPERTIES"
		return s
	case p.acceptKw("FUNCTIONS"):
		s.What = "FUNCTIONS"
		return s
	}
	for _, w := range []string{"STREAMS", "TABLES", "QUERIES", "TOPICS"} {
		if p.acceptKw(w) {
			s.What = w
			s.Extended = p.acceptKw("EXTENDED")
			return s
		}
	}
	p.failExpected("STREAMS, TABLES, QUERIES, CONNECTORS, TOPICS, PROPERTIES or FUNCTIONS", "STREAMS", "TABLES", "QUERIES", "CONNECTORS", "TOPICS", "PROPERTIES", "FUNCTIONS")
	return nil
}
