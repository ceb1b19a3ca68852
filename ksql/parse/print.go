package parse

import (
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/ksql/types"
)

// Print spells a node as canonical SQL: keywords upper-case, names as
// stored (quoted with backquotes when they were quoted), single spaces,
// parentheses only where precedence needs them, statements without their
// ';'. Parsing the output gives the same AST (positions aside).
func Print(n Node) string {
	var b strings.Builder
	pr := printer{&b}
	switch n := n.(type) {
	case Statement:
		pr.stmt(n)
	case Expr:
		pr.expr(n, 0)
	case *Select:
		pr.query(n)
	default:
		fmt.Fprintf(&b, "%v", n)
	}
	return b.String()
}

// PrintStatements spells statements one per line, each ending with ';'.
func PrintStatements(stmts []Statement) string {
	var b strings.Builder
	for _, s := range stmts {
		b.WriteString(Print(s))
		b.WriteString(";\n")
	}
	return b.String()
}

type printer struct{ b *strings.Builder }

func (p printer) w(s ...string) {
	for _, x := range s {
		p.b.WriteString(x)
	}
}

// quoteIdent spells a name: as is when unquoted, in backquotes (doubling
// any backquote) when it was quoted.
func quoteIdent(id Ident) string {
	if id.Quoted {
		return "`" + strings.ReplaceAll(id.Name, "`", "``") + "`"
	}
	return id.Name
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (p printer) stmt(s Statement) {
	switch s := s.(type) {
	case *CreateSource:
		p.w("CREATE ")
		if s.OrReplace {
			p.w("OR REPLACE ")
		}
		if s.Source {
			p.w("SOURCE ")
		}
		p.w(kindWord(s.Table), " ")
		if s.IfNotExists {
			p.w("IF NOT EXISTS ")
		}
		p.w(quoteIdent(s.Name))
		if len(s.Columns) > 0 {
			p.w(" (")
			for i, c := range s.Columns {
				if i > 0 {
					p.w(", ")
				}
				p.w(quoteIdent(c.Name), " ", typeString(c.Type.T))
				switch {
				case c.PrimaryKey:
					p.w(" PRIMARY KEY")
				case c.Key:
					p.w(" KEY")
				case c.Headers:
					p.w(" HEADERS")
				case c.HasHeader:
					p.w(" HEADER(", quoteString(c.Header), ")")
				}
			}
			p.w(")")
		}
		p.props(s.Props, false)
	case *CreateAs:
		p.w("CREATE ")
		if s.OrReplace {
			p.w("OR REPLACE ")
		}
		p.w(kindWord(s.Table), " ")
		if s.IfNotExists {
			p.w("IF NOT EXISTS ")
		}
		p.w(quoteIdent(s.Name))
		p.props(s.Props, false)
		p.w(" AS ")
		p.query(s.Query)
	case *InsertInto:
		p.w("INSERT INTO ", quoteIdent(s.Name))
		p.props(s.Props, false)
		p.w(" ")
		p.query(s.Query)
	case *Drop:
		p.w("DROP ", s.What, " ")
		if s.IfExists {
			p.w("IF EXISTS ")
		}
		p.w(quoteIdent(s.Name))
		if s.DeleteTopic {
			p.w(" DELETE TOPIC")
		}
	case *Set:
		p.w("SET ", quoteString(s.Name), " = ", quoteString(s.Value))
	case *Unset:
		p.w("UNSET ", quoteString(s.Name))
	case *CreateConnector:
		p.w("CREATE ")
		if s.Sink {
			p.w("SINK")
		} else {
			p.w("SOURCE")
		}
		p.w(" CONNECTOR ")
		if s.IfNotExists {
			p.w("IF NOT EXISTS ")
		}
		p.w(quoteIdent(s.Name))
		p.props(s.Props, true)
	case *Show:
		p.w("SHOW ", s.What)
		if s.Extended {
			p.w(" EXTENDED")
		}
	case *Describe:
		p.w("DESCRIBE ", quoteIdent(s.Name))
		if s.Extended {
			p.w(" EXTENDED")
		}
	case *Terminate:
		if s.All {
			p.w("TERMINATE ALL")
		} else {
			p.w("TERMINATE ", quoteIdent(s.ID))
		}
	case *Query:
		p.query(s.Select)
	}
}

func kindWord(table bool) string {
	if table {
		return "TABLE"
	}
	return "STREAM"
}

func (p printer) props(props []Property, connector bool) {
	if len(props) == 0 {
		return
	}
	p.w(" WITH (")
	for i, pr := range props {
		if i > 0 {
			p.w(", ")
		}
		if connector {
			p.w(quoteString(pr.Name))
		} else {
			p.w(strings.ToLower(pr.Name))
		}
		p.w(" = ")
		p.expr(pr.Value, 0)
	}
	p.w(")")
}

func (p printer) query(s *Select) {
	p.w("SELECT ")
	for i, it := range s.Items {
		if i > 0 {
			p.w(", ")
		}
		switch {
		case it.Star && it.Qualifier != nil:
			p.w(quoteIdent(*it.Qualifier), ".*")
		case it.Star:
			p.w("*")
		default:
			p.expr(it.Expr, 0)
			if it.Alias != nil {
				p.w(" AS ", quoteIdent(*it.Alias))
			}
		}
	}
	p.w(" FROM ")
	p.relation(s.From)
	if w := s.Window; w != nil {
		p.w(" WINDOW ")
		switch w.Kind {
		case Tumbling:
			p.w("TUMBLING (SIZE ", dur(w.Size))
		case Hopping:
			p.w("HOPPING (SIZE ", dur(w.Size), ", ADVANCE BY ", dur(*w.Advance))
		case Session:
			p.w("SESSION (", dur(w.Size))
		}
		if w.Retention != nil {
			p.w(", RETENTION ", dur(*w.Retention))
		}
		if w.Grace != nil {
			p.w(", GRACE PERIOD ", dur(*w.Grace))
		}
		p.w(")")
	}
	if s.Where != nil {
		p.w(" WHERE ")
		p.expr(s.Where, 0)
	}
	if len(s.GroupBy) > 0 {
		p.w(" GROUP BY ")
		p.list(s.GroupBy)
	}
	if len(s.PartitionBy) > 0 {
		p.w(" PARTITION BY ")
		p.list(s.PartitionBy)
	}
	if s.Having != nil {
		p.w(" HAVING ")
		p.expr(s.Having, 0)
	}
	switch s.Emit {
	case EmitChanges:
		p.w(" EMIT CHANGES")
	case EmitFinal:
		p.w(" EMIT FINAL")
	}
	if s.HasLimit {
		p.w(fmt.Sprintf(" LIMIT %d", s.Limit))
	}
}

func dur(d Duration) string { return fmt.Sprintf("%d %s", d.N, d.Unit) }

func (p printer) relation(r Relation) {
	switch r := r.(type) {
	case *Table:
		p.table(r)
	case *Join:
		p.relation(r.Left)
		p.w(" ", [...]string{"INNER JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL OUTER JOIN"}[r.Type], " ")
		p.table(r.Right)
		if w := r.Within; w != nil {
			if w.Symmetric {
				p.w(" WITHIN ", dur(w.Before))
			} else {
				p.w(" WITHIN (", dur(w.Before), ", ", dur(w.After), ")")
			}
			if w.Grace != nil {
				p.w(" GRACE PERIOD ", dur(*w.Grace))
			}
		}
		p.w(" ON ")
		p.expr(r.On, 0)
	}
}

func (p printer) table(t *Table) {
	p.w(quoteIdent(t.Name))
	if t.Alias != nil {
		p.w(" AS ", quoteIdent(*t.Alias))
	}
}

func (p printer) list(es []Expr) {
	for i, e := range es {
		if i > 0 {
			p.w(", ")
		}
		p.expr(e, 0)
	}
}

// Precedence levels, loosest first.
const (
	precOr = iota + 1
	precAnd
	precNot
	precPred
	precConcat
	precAdd
	precMul
	precUnary
	precPostfix
)

func binaryPrec(op BinaryOp) int {
	switch op {
	case OpOr:
		return precOr
	case OpAnd:
		return precAnd
	case OpConcat:
		return precConcat
	case OpAdd, OpSub:
		return precAdd
	case OpMul, OpDiv, OpMod:
		return precMul
	}
	return precPred
}

func exprPrec(e Expr) int {
	switch e := e.(type) {
	case *Binary:
		return binaryPrec(e.Op)
	case *Not:
		return precNot
	case *IsNull, *Like, *In, *Between:
		return precPred
	case *Neg:
		return precUnary
	case *NumberLit:
		if strings.HasPrefix(e.Text, "-") {
			return precUnary
		}
	}
	return precPostfix
}

// expr prints e, parenthesised when its precedence is below min.
func (p printer) expr(e Expr, min int) {
	if exprPrec(e) < min {
		p.w("(")
		defer p.w(")")
	}
	switch e := e.(type) {
	case *NullLit:
		p.w("NULL")
	case *BoolLit:
		if e.Value {
			p.w("TRUE")
		} else {
			p.w("FALSE")
		}
	case *NumberLit:
		p.w(e.Text)
	case *StringLit:
		p.w(quoteString(e.Value))
	case *ColumnRef:
		if e.Qualifier != nil {
			p.w(quoteIdent(*e.Qualifier), ".")
		}
		p.w(quoteIdent(e.Name))
	case *Deref:
		p.expr(e.X, precPostfix)
		p.w("->", quoteIdent(e.Field))
	case *Subscript:
		p.expr(e.X, precPostfix)
		p.w("[")
		p.expr(e.Index, 0)
		p.w("]")
	case *Binary:
		prec := binaryPrec(e.Op)
		if prec == precPred {
			p.expr(e.L, precConcat)
			p.w(" ", e.Op.String(), " ")
			p.expr(e.R, precConcat)
			return
		}
		p.expr(e.L, prec)
		p.w(" ", e.Op.String(), " ")
		p.expr(e.R, prec+1)
	case *Neg:
		p.w("-")
		if exprPrec(e.X) <= precUnary {
			p.w("(")
			p.expr(e.X, 0)
			p.w(")")
		} else {
			p.expr(e.X, precUnary)
		}
	case *Not:
		p.w("NOT ")
		p.expr(e.X, precNot)
	case *IsNull:
		p.expr(e.X, precConcat)
		if e.Not {
			p.w(" IS NOT NULL")
		} else {
			p.w(" IS NULL")
		}
	case *Like:
		p.expr(e.X, precConcat)
		p.w(not(e.Not), " LIKE ")
		p.expr(e.Pattern, precConcat)
		if e.Escape != nil {
			p.w(" ESCAPE ", quoteString(*e.Escape))
		}
	case *In:
		p.expr(e.X, precConcat)
		p.w(not(e.Not), " IN (")
		p.list(e.List)
		p.w(")")
	case *Between:
		p.expr(e.X, precConcat)
		p.w(not(e.Not), " BETWEEN ")
		p.expr(e.Lo, precConcat)
		p.w(" AND ")
		p.expr(e.Hi, precConcat)
	case *Case:
		p.w("CASE")
		if e.Operand != nil {
			p.w(" ")
			p.expr(e.Operand, 0)
		}
		for _, w := range e.Whens {
			p.w(" WHEN ")
			p.expr(w.Cond, 0)
			p.w(" THEN ")
			p.expr(w.Then, 0)
		}
		if e.Else != nil {
			p.w(" ELSE ")
			p.expr(e.Else, 0)
		}
		p.w(" END")
	case *Cast:
		p.w("CAST(")
		p.expr(e.X, 0)
		p.w(" AS ", typeString(e.Type.T), ")")
	case *Call:
		p.w(quoteIdent(e.Name), "(")
		switch {
		case e.Star:
			p.w("*")
		case e.Distinct:
			p.w("DISTINCT ")
			p.list(e.Args)
		default:
			p.list(e.Args)
		}
		p.w(")")
	case *ArrayExpr:
		p.w("ARRAY[")
		p.list(e.Elems)
		p.w("]")
	case *MapExpr:
		p.w("MAP(")
		for i := range e.Keys {
			if i > 0 {
				p.w(", ")
			}
			p.expr(e.Keys[i], 0)
			p.w(" := ")
			p.expr(e.Values[i], 0)
		}
		p.w(")")
	case *StructExpr:
		p.w("STRUCT(")
		for i, f := range e.Fields {
			if i > 0 {
				p.w(", ")
			}
			p.w(quoteIdent(f.Name), " := ")
			p.expr(f.Value, 0)
		}
		p.w(")")
	}
}

// typeString spells a type as the parser reads it back: as
// types.Type.String, with STRUCT field names always backquoted (doubling
// a backquote in a name).
func typeString(t types.Type) string {
	switch t.Base {
	case types.Array:
		return "ARRAY<" + typeString(*t.Elem) + ">"
	case types.Map:
		return "MAP<" + typeString(*t.Key) + ", " + typeString(*t.Elem) + ">"
	case types.Struct:
		parts := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			parts[i] = quoteIdent(Ident{Name: f.Name, Quoted: true}) + " " + typeString(f.Type)
		}
		return "STRUCT<" + strings.Join(parts, ", ") + ">"
	}
	return t.String()
}

func not(b bool) string {
	if b {
		return " NOT"
	}
	return ""
}
