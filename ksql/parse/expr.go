package parse

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/ksql/internal/suggest"
	"github.com/sluice-dev/sluice/ksql/types"
)

// Expression grammar, loosest first (ksqlDB's): OR; AND; NOT; a predicate
// (comparison, [NOT] BETWEEN, [NOT] IN, [NOT] LIKE, IS [NOT] NULL — one
// per operand, they do not chain); ||; + -; * / %; unary - +; postfix x[i]
// and x->f; primaries.

func (p *parser) expr() Expr {
	p.enter()
	defer p.leave()
	l := p.andExpr()
	for p.isKw("OR") {
		p.next()
		l = &Binary{Pos: l.Position(), Op: OpOr, L: l, R: p.andExpr()}
	}
	return l
}

func (p *parser) andExpr() Expr {
	l := p.notExpr()
	for p.isKw("AND") {
		p.next()
		l = &Binary{Pos: l.Position(), Op: OpAnd, L: l, R: p.notExpr()}
	}
	return l
}

func (p *parser) notExpr() Expr {
	if p.isKw("NOT") {
		pos := p.tok.pos
		p.next()
		p.enter()
		defer p.leave()
		return &Not{Pos: pos, X: p.notExpr()}
	}
	return p.predicate()
}

var compareOps = map[string]BinaryOp{"=": OpEq, "<>": OpNe, "!=": OpNe, "<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe}

func (p *parser) predicate() Expr {
	x := p.valueExpr()
	pos := x.Position()
	if p.tok.kind == tPunct {
		if op, ok := compareOps[p.tok.text]; ok {
			p.next()
			return &Binary{Pos: pos, Op: op, L: x, R: p.valueExpr()}
		}
		if p.tok.text == "==" {
			p.fail(p.tok.pos, "unexpected '==' (compare with =)")
		}
		return x
	}
	if p.acceptKw("IS") {
		not := p.acceptKw("NOT")
		if !p.acceptKw("NULL") {
			if p.isKw("DISTINCT") {
				p.fail(p.tok.pos, "IS [NOT] DISTINCT FROM is not supported")
			}
			p.failExpected("NULL after IS", "NULL")
		}
		return &IsNull{Pos: pos, X: x, Not: not}
	}
	not := false
	if p.isKw("NOT") && (p.isKwAt(1, "BETWEEN") || p.isKwAt(1, "IN") || p.isKwAt(1, "LIKE")) {
		p.next()
		not = true
	}
	switch {
	case p.acceptKw("BETWEEN"):
		lo := p.valueExpr()
		p.expectKw("AND", " between the bounds of BETWEEN")
		return &Between{Pos: pos, X: x, Lo: lo, Hi: p.valueExpr(), Not: not}
	case p.acceptKw("IN"):
		p.expectPunct("(", " after IN")
		in := &In{Pos: pos, X: x, Not: not}
		for {
			in.List = append(in.List, p.expr())
			if !p.acceptPunct(",") {
				break
			}
		}
		p.expectPunct(")", " or ',' in the IN list")
		return in
	case p.acceptKw("LIKE"):
		l := &Like{Pos: pos, X: x, Pattern: p.valueExpr(), Not: not}
		if p.isKw("ESCAPE") {
			p.next()
			ep := p.tok.pos
			e := p.stringLit("a quoted escape character after ESCAPE")
			if utf8.RuneCountInString(e) != 1 {
				p.fail(ep, "ESCAPE takes one character, got '%s'", strings.ReplaceAll(e, "'", "''"))
			}
			l.Escape = &e
		}
		return l
	}
	return x
}

// valueExpr is the || level: an operand of a predicate.
func (p *parser) valueExpr() Expr {
	l := p.addExpr()
	for p.isPunct("||") {
		p.next()
		l = &Binary{Pos: l.Position(), Op: OpConcat, L: l, R: p.addExpr()}
	}
	return l
}

func (p *parser) addExpr() Expr {
	l := p.mulExpr()
	for p.isPunct("+") || p.isPunct("-") {
		op := OpAdd
		if p.tok.text == "-" {
			op = OpSub
		}
		p.next()
		l = &Binary{Pos: l.Position(), Op: op, L: l, R: p.mulExpr()}
	}
	return l
}

func (p *parser) mulExpr() Expr {
	l := p.unary()
	for p.isPunct("*") || p.isPunct("/") || p.isPunct("%") {
		op := map[string]BinaryOp{"*": OpMul, "/": OpDiv, "%": OpMod}[p.tok.text]
		p.next()
		l = &Binary{Pos: l.Position(), Op: op, L: l, R: p.unary()}
	}
	return l
}

// unary parses -x and +x. A minus before a number literal folds into the
// literal (-5 is a literal, as ksqlDB's number rule has it).
func (p *parser) unary() Expr {
	if p.isPunct("-") || p.isPunct("+") {
		pos, minus := p.tok.pos, p.tok.text == "-"
		p.next()
		p.enter()
		defer p.leave()
		x := p.unary()
		if !minus {
			return x
		}
		if n, ok := x.(*NumberLit); ok && !strings.HasPrefix(n.Text, "-") {
			n.Pos, n.Text = pos, "-"+n.Text
			p.checkNumber(n)
			return n
		}
		return &Neg{Pos: pos, X: x}
	}
	x := p.postfix()
	if n, ok := x.(*NumberLit); ok {
		p.checkNumber(n)
	}
	return x
}

// checkNumber rejects an integer literal outside BIGINT.
func (p *parser) checkNumber(n *NumberLit) {
	if n.Kind != IntegerNum {
		return
	}
	if _, err := strconv.ParseInt(n.Text, 10, 64); err != nil {
		p.fail(n.Pos, "integer %s is out of range for BIGINT (write it as a decimal, %s.0, or a double, %se0)", n.Text, n.Text, n.Text)
	}
}

func (p *parser) postfix() Expr {
	x := p.primary()
	for {
		switch {
		case p.isPunct("["):
			p.next()
			idx := p.expr()
			p.expectPunct("]", " after the subscript")
			x = &Subscript{Pos: x.Position(), X: x, Index: idx}
		case p.isPunct("->"):
			p.next()
			x = &Deref{Pos: x.Position(), X: x, Field: p.ident("a field name after ->")}
		default:
			return x
		}
	}
}

func (p *parser) number() *NumberLit {
	t := p.tok
	p.next()
	kind := IntegerNum
	switch t.kind {
	case tDecimal:
		kind = DecimalNum
	case tFloat:
		kind = DoubleNum
	}
	return &NumberLit{Pos: t.pos, Kind: kind, Text: t.text}
}

func (p *parser) primary() Expr {
	t := p.tok
	switch t.kind {
	case tString:
		p.next()
		return &StringLit{Pos: t.pos, Value: t.text}
	case tInteger, tDecimal, tFloat:
		return p.number()
	case tVariable:
		p.fail(t.pos, "variable substitution (${%s}) is not supported", t.text)
	case tPunct:
		if t.text == "(" {
			p.next()
			e := p.expr()
			if p.isPunct(",") {
				p.fail(p.tok.pos, "unexpected ',' in parentheses (a list is only allowed after IN, GROUP BY or PARTITION BY)")
			}
			p.expectPunct(")", "")
			return e
		}
	case tQuoted:
		return p.nameExpr()
	case tIdent:
		switch t.up {
		case "NULL":
			p.next()
			return &NullLit{Pos: t.pos}
		case "TRUE", "FALSE":
			p.next()
			return &BoolLit{Pos: t.pos, Value: t.up == "TRUE"}
		case "CASE":
			return p.caseExpr()
		case "CAST":
			return p.cast()
		case "ARRAY":
			if p.peek(1).kind == tPunct && p.peek(1).text == "[" {
				return p.arrayExpr()
			}
		case "MAP":
			if p.peek(1).kind == tPunct && p.peek(1).text == "(" {
				return p.mapExpr()
			}
		case "STRUCT":
			if p.peek(1).kind == tPunct && p.peek(1).text == "(" {
				return p.structExpr()
			}
		}
		if !reserved[t.up] {
			return p.nameExpr()
		}
	}
	p.failExpected("an expression")
	return nil
}

// nameExpr parses a column reference, `qualifier.column` or a call.
func (p *parser) nameExpr() Expr {
	name := p.ident("a name")
	if p.isPunct("(") {
		return p.call(name)
	}
	if p.acceptPunct(".") {
		col := p.ident("a column name after '.'")
		if p.isPunct(".") {
			p.fail(p.tok.pos, "unexpected '.' after %s.%s (read a STRUCT field with ->)", name.Name, col.Name)
		}
		return &ColumnRef{Pos: name.Pos, Qualifier: &name, Name: col}
	}
	return &ColumnRef{Pos: name.Pos, Name: name}
}

func (p *parser) call(name Ident) Expr {
	c := &Call{Pos: name.Pos, Name: name}
	p.next()
	if p.acceptPunct("*") {
		c.Star = true
		p.expectPunct(")", " after *")
		return c
	}
	if p.acceptPunct(")") {
		return c
	}
	if p.acceptKw("DISTINCT") {
		c.Distinct = true
	}
	// DATEADD(DAYS, 3, d) and its kin take a time unit first (ksqlDB's
	// functionArgument: expression | windowUnit); it becomes the string
	// 'DAYS', which the functions also take.
	if unitFuncs[name.Name] && p.tok.kind == tIdent && unitDurations[p.tok.up] != 0 && p.peek(1).kind == tPunct && p.peek(1).text == "," {
		c.Args = append(c.Args, &StringLit{Pos: p.tok.pos, Value: p.tok.up})
		p.next()
		p.next()
	}
	for {
		c.Args = append(c.Args, p.expr())
		if p.isPunct("=>") {
			p.fail(p.tok.pos, "lambda functions (x => …) are not supported")
		}
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")", " or ',' after the argument")
	return c
}

// unitFuncs take a time unit as their first argument.
var unitFuncs = map[string]bool{"DATEADD": true, "DATESUB": true, "TIMEADD": true, "TIMESUB": true, "TIMESTAMPADD": true, "TIMESTAMPSUB": true}

func (p *parser) caseExpr() Expr {
	c := &Case{Pos: p.tok.pos}
	p.next()
	if !p.isKw("WHEN") {
		c.Operand = p.expr()
	}
	for p.isKw("WHEN") {
		w := When{Pos: p.tok.pos}
		p.next()
		w.Cond = p.expr()
		p.expectKw("THEN", " after the WHEN condition")
		w.Then = p.expr()
		c.Whens = append(c.Whens, w)
	}
	if len(c.Whens) == 0 {
		p.failExpected("WHEN", "WHEN")
	}
	if p.acceptKw("ELSE") {
		c.Else = p.expr()
	}
	if !p.acceptKw("END") {
		p.failExpected("WHEN, ELSE or END", "WHEN", "ELSE", "END")
	}
	return c
}

func (p *parser) cast() Expr {
	c := &Cast{Pos: p.tok.pos}
	p.next()
	p.expectPunct("(", " after CAST")
	c.X = p.expr()
	p.expectKw("AS", " and the target type (CAST(x AS type))")
	c.Type = p.typ()
	p.expectPunct(")", " after the type")
	return c
}

func (p *parser) arrayExpr() Expr {
	a := &ArrayExpr{Pos: p.tok.pos}
	p.next()
	p.next()
	if p.acceptPunct("]") {
		return a
	}
	for {
		a.Elems = append(a.Elems, p.expr())
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct("]", " or ',' after the array element")
	return a
}

func (p *parser) mapExpr() Expr {
	m := &MapExpr{Pos: p.tok.pos}
	p.next()
	p.next()
	if p.acceptPunct(")") {
		return m
	}
	for {
		m.Keys = append(m.Keys, p.expr())
		p.expectPunct(":=", " between the map key and value (MAP('k' := v))")
		m.Values = append(m.Values, p.expr())
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")", " or ',' after the map entry")
	return m
}

func (p *parser) structExpr() Expr {
	s := &StructExpr{Pos: p.tok.pos}
	p.next()
	p.next()
	if p.acceptPunct(")") {
		return s
	}
	for {
		f := StructField{Name: p.ident("a field name")}
		p.expectPunct(":=", " between the field name and value (STRUCT(name := v))")
		f.Value = p.expr()
		s.Fields = append(s.Fields, f)
		if !p.acceptPunct(",") {
			break
		}
	}
	p.expectPunct(")", " or ',' after the struct field")
	return s
}

// exprList parses GROUP BY's and PARTITION BY's list: `a, b` or `(a, b)`.
func (p *parser) exprList() []Expr {
	if p.isPunct("(") && p.parenIsList() {
		p.next()
		var list []Expr
		if p.acceptPunct(")") {
			return list
		}
		for {
			list = append(list, p.expr())
			if !p.acceptPunct(",") {
				break
			}
		}
		p.expectPunct(")", " or ',' in the list")
		return list
	}
	var list []Expr
	for {
		list = append(list, p.expr())
		if !p.acceptPunct(",") {
			return list
		}
	}
}

// parenIsList reports whether the parenthesis at the current token holds
// a list (a comma at its top level, or nothing) rather than an expression.
func (p *parser) parenIsList() bool {
	depth := 0
	for k := 0; ; k++ {
		t := p.peek(k)
		if t.kind == tEOF {
			return false
		}
		if t.kind != tPunct {
			continue
		}
		switch t.text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
			if depth == 0 {
				return k == 1
			}
		case ",":
			if depth == 1 {
				return true
			}
		case ";":
			return false
		}
	}
}

var typeNames = []string{"BOOLEAN", "INT", "INTEGER", "BIGINT", "DOUBLE", "DECIMAL", "STRING", "VARCHAR", "BYTES", "DATE", "TIME", "TIMESTAMP", "ARRAY", "MAP", "STRUCT"}

// typ parses a type: BOOLEAN, INT/INTEGER, BIGINT, DOUBLE, DECIMAL(p, s),
// STRING/VARCHAR, BYTES, DATE, TIME, TIMESTAMP, ARRAY<T>, MAP<K, V>,
// STRUCT<name T, …>.
func (p *parser) typ() Type {
	p.enter()
	defer p.leave()
	t := p.tok
	if t.kind != tIdent {
		p.failExpected("a type")
	}
	p.next()
	var out types.Type
	switch t.up {
	case "BOOLEAN":
		out = types.TBoolean
	case "INT", "INTEGER":
		out = types.TInteger
	case "BIGINT":
		out = types.TBigint
	case "DOUBLE":
		out = types.TDouble
	case "STRING", "VARCHAR":
		out = types.TString
		if p.acceptPunct("(") { // VARCHAR(n): ksqlDB ignores the length
			if p.tok.kind != tInteger {
				p.failExpected("a length")
			}
			p.next()
			p.expectPunct(")", " after the length")
		}
	case "BYTES":
		out = types.TBytes
	case "DATE":
		out = types.TDate
	case "TIME":
		out = types.TTime
	case "TIMESTAMP":
		out = types.TTimestamp
	case "DECIMAL":
		p.expectPunct("(", " after DECIMAL (DECIMAL(precision, scale))")
		pp, ppos := p.smallInt("the precision")
		p.expectPunct(",", " and the scale (DECIMAL(precision, scale))")
		s, spos := p.smallInt("the scale")
		p.expectPunct(")", " after the scale")
		if pp < 1 {
			p.fail(ppos, "DECIMAL precision must be at least 1, got %d", pp)
		}
		if s > pp {
			p.fail(spos, "DECIMAL scale %d exceeds its precision %d", s, pp)
		}
		out = types.DecimalOf(pp, s)
	case "ARRAY":
		p.expectPunct("<", " after ARRAY (ARRAY<type>)")
		e := p.typ()
		p.expectPunct(">", " after the element type")
		out = types.ArrayOf(e.T)
	case "MAP":
		p.expectPunct("<", " after MAP (MAP<key type, value type>)")
		k := p.typ()
		p.expectPunct(",", " between the key and value types")
		v := p.typ()
		p.expectPunct(">", " after the value type")
		out = types.MapOf(k.T, v.T)
	case "STRUCT":
		out = types.Type{Base: types.Struct}
		if p.acceptPunct("<>") { // STRUCT<> lexes as STRUCT and <>
			break
		}
		p.expectPunct("<", " after STRUCT (STRUCT<name type, …>)")
		if !p.acceptPunct(">") {
			seen := map[string]bool{}
			for {
				n := p.ident("a field name")
				if seen[n.Name] {
					p.fail(n.Pos, "duplicate field %s in STRUCT", n.Name)
				}
				seen[n.Name] = true
				out.Fields = append(out.Fields, types.Field{Name: n.Name, Type: p.typ().T})
				if !p.acceptPunct(",") {
					break
				}
			}
			p.expectPunct(">", " or ',' after the field")
		}
	default:
		msg := "unknown type " + t.describe()
		if h := suggest.Hint(t.up, typeNames); h != "" {
			msg += h
		} else {
			msg += "; types: " + strings.Join(typeNames, ", ")
		}
		p.fail(t.pos, "%s", msg)
	}
	return Type{Pos: t.pos, T: out}
}

func (p *parser) smallInt(what string) (int, Pos) {
	pos := p.tok.pos
	if p.tok.kind != tInteger {
		p.failExpected(what)
	}
	n, err := strconv.Atoi(p.tok.text)
	if err != nil || n > 1000 {
		p.fail(pos, "%s %s is out of range", what, p.tok.text)
	}
	p.next()
	return n, pos
}
