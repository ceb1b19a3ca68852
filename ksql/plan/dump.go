package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/funcs"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// Dump renders a plan as readable text: each relation with its columns,
// key and source, each query as a tree of operators whose expressions
// name the columns they read. Golden tests and `sluice validate -v` show
// it.
func Dump(p *Plan) string {
	var b strings.Builder
	for _, r := range p.Relations {
		fmt.Fprintf(&b, "%s %s", kindName(r.Kind), r.Name)
		switch {
		case r.Query != "":
			fmt.Fprintf(&b, " (written by %s to '%s')", r.Query, r.Topic)
		case r.Derived:
			fmt.Fprintf(&b, " ('%s', its query terminated)", r.Topic)
		default:
			fmt.Fprintf(&b, " (reads '%s')", r.Topic)
		}
		if r.Windowed {
			b.WriteString(" windowed")
		}
		b.WriteString("\n  columns: " + schemaText(r.Schema) + "\n")
		if s := r.Source; s != nil && !r.Derived {
			fmt.Fprintf(&b, "  from: %s\n", strings.Join(s.FromColumns, ", "))
			if s.TimestampCol >= 0 {
				fmt.Fprintf(&b, "  event time: %s", r.Schema.Columns[s.TimestampCol].Name)
				if s.TimestampFormat != "" {
					fmt.Fprintf(&b, " parsed with '%s'", s.TimestampFormat)
				}
				b.WriteString("\n")
			}
			if s.DeleteHandling != "" {
				fmt.Fprintf(&b, "  deletes: %s\n", s.DeleteHandling)
			}
		}
	}
	for _, q := range p.Queries {
		fmt.Fprintf(&b, "\nQUERY %s: %s %s to '%s'", q.ID, kindName(q.Kind), q.Name, q.Topic)
		if q.Insert {
			b.WriteString(" (INSERT)")
		}
		b.WriteString("\n")
		if len(q.Props) > 0 {
			keys := make([]string, 0, len(q.Props))
			for k := range q.Props {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, "  SET '%s' = '%s'\n", k, q.Props[k])
			}
		}
		dumpNode(&b, q.Root, 1)
	}
	for _, q := range p.Transient {
		fmt.Fprintf(&b, "\nSELECT (%s)\n", kindName(q.Kind))
		dumpNode(&b, q.Root, 1)
	}
	if len(p.Waiting) > 0 {
		fmt.Fprintf(&b, "\nwaiting for the schema of: %s (%d statements deferred)\n", strings.Join(p.Waiting, ", "), len(p.Deferred))
	}
	return b.String()
}

// DumpNode renders one operator tree.
func DumpNode(n ir.Node) string {
	var b strings.Builder
	dumpNode(&b, n, 0)
	return b.String()
}

func dumpNode(b *strings.Builder, n ir.Node, depth int) {
	pad := strings.Repeat("  ", depth)
	line := func(format string, args ...any) {
		b.WriteString(pad)
		fmt.Fprintf(b, format, args...)
		b.WriteString("\n")
	}
	kind := strings.ToLower(kindName(n.Kind()))
	switch n := n.(type) {
	case *ir.Source:
		line("Source %s %s '%s' %s", n.Name, kind, n.Stream, schemaText(n.S))
	case *ir.Filter:
		line("Filter %s", ExprString(n.Pred, n.Input.Schema().Columns))
		dumpNode(b, n.Input, depth+1)
	case *ir.Project:
		line("Project %s %s", kind, schemaText(n.S))
		in := n.Input.Schema().Columns
		for i, e := range n.Exprs {
			line("  %s := %s", n.S.Columns[i].Name, ExprString(e, in))
		}
		dumpNode(b, n.Input, depth+1)
	case *ir.Repartition:
		in := n.Input.Schema().Columns
		var keys []string
		for _, k := range n.Keys {
			keys = append(keys, ExprString(k, in))
		}
		line("Repartition by [%s] %s", strings.Join(keys, ", "), schemaText(n.S))
		dumpNode(b, n.Input, depth+1)
	case *ir.Aggregate:
		in := n.Input.Schema().Columns
		var groups, aggs []string
		for _, g := range n.GroupBy {
			groups = append(groups, ExprString(g, in))
		}
		for _, a := range n.Aggs {
			aggs = append(aggs, ExprString(&ir.Call{Func: a.Func, Args: a.Args, T: a.T}, in)+" "+a.T.String())
		}
		line("Aggregate by [%s] computing [%s] %s", strings.Join(groups, ", "), strings.Join(aggs, ", "), schemaText(n.S))
		if w := n.Window; w != nil {
			s := fmt.Sprintf("%s size %s", [...]string{"", "TUMBLING", "HOPPING", "SESSION"}[w.Kind], w.Size)
			if w.Kind == ir.Hopping {
				s += " advance " + w.Advance.String()
			}
			line("  window %s grace %s retention %s", s, w.Grace, w.Retention)
		}
		if n.Final {
			line("  emit final")
		}
		dumpNode(b, n.Input, depth+1)
	case *ir.Join:
		jt := [...]string{"INNER", "LEFT", "RIGHT", "FULL OUTER"}[n.Type]
		line("Join %s %s %s-%s -> %s ON %s = %s", jt, map[bool]string{true: "foreign-key", false: "key"}[n.ForeignKey],
			strings.ToLower(kindName(n.Left.Kind())), strings.ToLower(kindName(n.Right.Kind())), kind,
			ExprString(n.LeftKey, n.Left.Schema().Columns), ExprString(n.RightKey, n.Right.Schema().Columns))
		if n.Left.Kind() == ir.Stream && n.Right.Kind() == ir.Stream {
			line("  within before %s after %s grace %s", n.Before, n.After, n.Grace)
		}
		line("  row %s", schemaText(n.S))
		dumpNode(b, n.Left, depth+1)
		dumpNode(b, n.Right, depth+1)
	}
}

// ExprString spells a resolved expression, naming the columns it reads
// from the input row in.
func ExprString(e ir.Expr, in []types.Field) string {
	s := func(x ir.Expr) string { return ExprString(x, in) }
	list := func(xs []ir.Expr) string {
		parts := make([]string, len(xs))
		for i, x := range xs {
			parts[i] = s(x)
		}
		return strings.Join(parts, ", ")
	}
	switch e := e.(type) {
	case *ir.Column:
		if e.Index < len(in) {
			return in[e.Index].Name
		}
		return fmt.Sprintf("$%d", e.Index)
	case *ir.Literal:
		return literalString(e.Value, e.T)
	case *ir.Call:
		return e.Func + "(" + list(e.Args) + ")"
	case *ir.Binary:
		return "(" + s(e.L) + " " + funcs.OpSymbol(e.Op) + " " + s(e.R) + ")"
	case *ir.Not:
		return "NOT " + s(e.X)
	case *ir.Neg:
		return "-" + s(e.X)
	case *ir.IsNull:
		if e.Negate {
			return s(e.X) + " IS NOT NULL"
		}
		return s(e.X) + " IS NULL"
	case *ir.Like:
		not := ""
		if e.Negate {
			not = "NOT "
		}
		out := s(e.X) + " " + not + "LIKE " + s(e.Pattern)
		if e.Escape != 0 {
			out += " ESCAPE '" + string(e.Escape) + "'"
		}
		return out
	case *ir.In:
		not := ""
		if e.Negate {
			not = "NOT "
		}
		return s(e.X) + " " + not + "IN (" + list(e.List) + ")"
	case *ir.Between:
		not := ""
		if e.Negate {
			not = "NOT "
		}
		return s(e.X) + " " + not + "BETWEEN " + s(e.Lo) + " AND " + s(e.Hi)
	case *ir.Case:
		out := "CASE"
		if e.Operand != nil {
			out += " " + s(e.Operand)
		}
		for _, w := range e.Whens {
			out += " WHEN " + s(w.Cond) + " THEN " + s(w.Then)
		}
		if e.Else != nil {
			out += " ELSE " + s(e.Else)
		}
		return out + " END"
	case *ir.Cast:
		return "CAST(" + s(e.X) + " AS " + e.T.String() + ")"
	case *ir.Subscript:
		return s(e.X) + "[" + s(e.Index) + "]"
	case *ir.FieldOf:
		st := e.X.Type()
		if e.Field < len(st.Fields) {
			return s(e.X) + "->" + st.Fields[e.Field].Name
		}
		return fmt.Sprintf("%s->$%d", s(e.X), e.Field)
	}
	return fmt.Sprintf("%T", e)
}

func literalString(v event.Value, t types.Type) string {
	if v.IsNull() {
		if t.Base == types.Unknown {
			return "NULL"
		}
		return "CAST(NULL AS " + t.String() + ")"
	}
	switch t.Base {
	case types.String:
		return "'" + strings.ReplaceAll(v.Str, "'", "''") + "'"
	case types.Array, types.Map, types.Struct:
		return t.String() + v.Text()
	}
	return v.Text()
}
