package parse

import (
	"math/rand"
	"reflect"
	"strconv"
	"testing"

	"github.com/sluice-dev/sluice/ksql/types"
)

// TestRoundTrip is a property test: random ASTs, printed and parsed back,
// are the ASTs they were.
func TestRoundTrip(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for seed := int64(0); seed < int64(n); seed++ {
		g := &gen{r: rand.New(rand.NewSource(seed))}
		stmt := g.statement()
		text := Print(stmt)
		got, err := Parse(text)
		if err != nil {
			t.Fatalf("seed %d: printed text does not parse: %v\n%s", seed, err, text)
		}
		if len(got) != 1 {
			t.Fatalf("seed %d: %d statements from\n%s", seed, len(got), text)
		}
		zeroPositions(reflect.ValueOf(got))
		if !reflect.DeepEqual(got[0], stmt) {
			t.Fatalf("seed %d: round trip changed the AST\n%s\n--- generated:\n%s--- parsed:\n%s", seed, text, dump(stmt), dump(got[0]))
		}
		if again := Print(got[0]); again != text {
			t.Fatalf("seed %d: printing is not stable:\n%s\n%s", seed, text, again)
		}
	}
}

// gen builds random ASTs of the shapes the parser produces.
type gen struct {
	r     *rand.Rand
	depth int
}

func (g *gen) n(k int) int       { return g.r.Intn(k) }
func (g *gen) chance(k int) bool { return g.r.Intn(k) == 0 }

var names = []string{"A", "B", "C1", "ORDER_ID", "PRICE", "KEY", "DATE", "SESSION", "EMIT", "PARTITION", "GRACE", "ID", "_X", "VALUE", "TIMESTAMP", "ÉTÉ"}

func (g *gen) ident() Ident {
	if g.chance(5) {
		q := []string{"a b", "Mixed", "x`y", "SELECT", "1st", "é", "'q'", "\"d\""}
		return Ident{Name: q[g.n(len(q))], Quoted: true}
	}
	return Ident{Name: names[g.n(len(names))]}
}

func (g *gen) identPtr() *Ident {
	id := g.ident()
	return &id
}

func (g *gen) duration() Duration {
	units := []string{"MILLISECOND", "MILLISECONDS", "SECOND", "SECONDS", "MINUTE", "MINUTES", "HOUR", "HOURS", "DAY", "DAYS"}
	return Duration{N: int64(g.n(1000)), Unit: units[g.n(len(units))]}
}

func (g *gen) durationPtr() *Duration {
	if g.chance(2) {
		return nil
	}
	d := g.duration()
	return &d
}

func (g *gen) typ(depth int) types.Type {
	k := g.n(14)
	if depth > 2 {
		k = g.n(10)
	}
	switch k {
	case 0:
		return types.TBoolean
	case 1:
		return types.TInteger
	case 2:
		return types.TBigint
	case 3:
		return types.TDouble
	case 4:
		p := 1 + g.n(38)
		return types.DecimalOf(p, g.n(p+1))
	case 5:
		return types.TString
	case 6:
		return types.TBytes
	case 7:
		return types.TDate
	case 8:
		return types.TTime
	case 9:
		return types.TTimestamp
	case 10:
		return types.ArrayOf(g.typ(depth + 1))
	case 11:
		return types.MapOf(g.typ(depth+1), g.typ(depth+1))
	default:
		t := types.Type{Base: types.Struct}
		seen := map[string]bool{}
		for i := g.n(3); i > 0; i-- {
			f := g.ident().Name
			if !seen[f] {
				seen[f] = true
				t.Fields = append(t.Fields, types.Field{Name: f, Type: g.typ(depth + 1)})
			}
		}
		return t
	}
}

func (g *gen) literal() Literal {
	switch g.n(4) {
	case 0:
		return &NullLit{}
	case 1:
		return &BoolLit{Value: g.chance(2)}
	case 2:
		return g.number()
	}
	s := []string{"", "x", "it's", "a''b", "--not a comment", "/* nor this */", "日本", ";"}
	return &StringLit{Value: s[g.n(len(s))]}
}

func (g *gen) number() *NumberLit {
	sign := ""
	if g.chance(3) {
		sign = "-"
	}
	switch g.n(3) {
	case 0:
		return &NumberLit{Kind: IntegerNum, Text: sign + strconv.FormatInt(g.r.Int63n(1<<40), 10)}
	case 1:
		d := []string{"1.5", ".5", "1.", "0.000", "123.456"}
		return &NumberLit{Kind: DecimalNum, Text: sign + d[g.n(len(d))]}
	}
	d := []string{"1e3", "1.5E-3", ".5e+2", "2.e1"}
	return &NumberLit{Kind: DoubleNum, Text: sign + d[g.n(len(d))]}
}

func (g *gen) exprs(min, max int) []Expr {
	var out []Expr
	for i := min + g.n(max-min+1); i > 0; i-- {
		out = append(out, g.expr())
	}
	return out
}

func (g *gen) expr() Expr {
	g.depth++
	defer func() { g.depth-- }()
	k := g.n(22)
	if g.depth > 4 {
		k = g.n(3)
	}
	switch k {
	case 0:
		return g.literal()
	case 1:
		c := &ColumnRef{Name: g.ident()}
		if g.chance(2) {
			c.Qualifier = g.identPtr()
		}
		return c
	case 2:
		return g.number()
	case 3:
		return &Deref{X: g.expr(), Field: g.ident()}
	case 4:
		return &Subscript{X: g.expr(), Index: g.expr()}
	case 5, 6, 7:
		return &Binary{Op: BinaryOp(g.n(int(OpOr) + 1)), L: g.expr(), R: g.expr()}
	case 8:
		x := g.expr()
		if n, ok := x.(*NumberLit); ok && n.Text[0] != '-' {
			return n // the parser folds -5 into the literal
		}
		return &Neg{X: x}
	case 9:
		return &Not{X: g.expr()}
	case 10:
		return &IsNull{X: g.expr(), Not: g.chance(2)}
	case 11:
		l := &Like{X: g.expr(), Pattern: g.expr(), Not: g.chance(2)}
		if g.chance(2) {
			e := []string{"\\", "'", "é"}[g.n(3)]
			l.Escape = &e
		}
		return l
	case 12:
		return &In{X: g.expr(), List: g.exprs(1, 3), Not: g.chance(2)}
	case 13:
		return &Between{X: g.expr(), Lo: g.expr(), Hi: g.expr(), Not: g.chance(2)}
	case 14:
		c := &Case{}
		if g.chance(2) {
			c.Operand = g.expr()
		}
		for i := 1 + g.n(2); i > 0; i-- {
			c.Whens = append(c.Whens, When{Cond: g.expr(), Then: g.expr()})
		}
		if g.chance(2) {
			c.Else = g.expr()
		}
		return c
	case 15:
		return &Cast{X: g.expr(), Type: Type{T: g.typ(0)}}
	case 16, 17:
		fn := []string{"COUNT", "UCASE", "LATEST_BY_OFFSET", "F"}
		c := &Call{Name: Ident{Name: fn[g.n(len(fn))]}}
		if g.chance(6) {
			c.Name = Ident{Name: "my fn", Quoted: true}
		}
		switch g.n(4) {
		case 0:
			c.Star = true
		case 1:
			c.Distinct = true
			c.Args = g.exprs(1, 2)
		default:
			c.Args = g.exprs(0, 3)
		}
		return c
	case 18:
		return &ArrayExpr{Elems: g.exprs(0, 3)}
	case 19:
		m := &MapExpr{}
		for i := g.n(3); i > 0; i-- {
			m.Keys = append(m.Keys, g.expr())
			m.Values = append(m.Values, g.expr())
		}
		return m
	default:
		s := &StructExpr{}
		for i := g.n(3); i > 0; i-- {
			s.Fields = append(s.Fields, StructField{Name: g.ident(), Value: g.expr()})
		}
		return s
	}
}

func (g *gen) table() *Table {
	t := &Table{Name: g.ident()}
	if g.chance(2) {
		t.Alias = g.identPtr()
	}
	return t
}

func (g *gen) query() *Select {
	s := &Select{}
	for i := 1 + g.n(4); i > 0; i-- {
		it := SelectItem{}
		switch g.n(5) {
		case 0:
			it.Star = true
		case 1:
			it.Star, it.Qualifier = true, g.identPtr()
		default:
			it.Expr = g.expr()
			if g.chance(2) {
				it.Alias = g.identPtr()
			}
		}
		s.Items = append(s.Items, it)
	}
	var from Relation = g.table()
	for i := g.n(3); i > 0; i-- {
		j := &Join{Type: JoinType(g.n(4)), Left: from, Right: g.table(), On: g.expr()}
		if g.chance(2) {
			w := &Within{Before: g.duration(), Grace: g.durationPtr()}
			if g.chance(2) {
				w.After, w.Symmetric = w.Before, true
			} else {
				w.After = g.duration()
			}
			j.Within = w
		}
		from = j
	}
	s.From = from
	if g.chance(3) {
		w := &Window{Kind: WindowKind(1 + g.n(3)), Size: g.duration(), Retention: g.durationPtr(), Grace: g.durationPtr()}
		if w.Kind == Hopping {
			d := g.duration()
			w.Advance = &d
		}
		s.Window = w
	}
	if g.chance(2) {
		s.Where = g.expr()
	}
	if g.chance(3) {
		s.GroupBy = g.exprs(1, 3)
	}
	if g.chance(4) {
		s.PartitionBy = g.exprs(1, 2)
	}
	if g.chance(4) {
		s.Having = g.expr()
	}
	s.Emit = Emit(g.n(3))
	if g.chance(3) {
		s.Limit, s.HasLimit = g.n(1000), true
	}
	return s
}

func (g *gen) createProps(except map[string]bool) []Property {
	var props []Property
	seen := map[string]bool{}
	for i := g.n(4); i > 0; i-- {
		var name string
		for name = range createProps {
			break
		}
		keys := make([]string, 0, len(createProps))
		for k := range createProps {
			keys = append(keys, k)
		}
		// Sorted pick for determinism.
		sortStrings(keys)
		name = keys[g.n(len(keys))]
		if seen[name] || except[name] || name == "FORMAT" || name == "KEY_FORMAT" {
			continue
		}
		seen[name] = true
		var v Literal
		switch createProps[name] {
		case propInt:
			v = &NumberLit{Kind: IntegerNum, Text: strconv.Itoa(g.n(100))}
		case propBool:
			v = &BoolLit{Value: g.chance(2)}
		default:
			s := "x"
			switch name {
			case "VALUE_FORMAT":
				s = "json"
			case "WINDOW_TYPE":
				s = "TUMBLING"
			}
			v = &StringLit{Value: s}
		}
		props = append(props, Property{Name: name, Value: v})
	}
	return props
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (g *gen) statement() Statement {
	switch g.n(11) {
	case 0:
		c := &CreateSource{Table: g.chance(2), OrReplace: g.chance(3), Source: g.chance(3), IfNotExists: g.chance(3), Name: g.ident(), Props: g.createProps(nil)}
		for i := g.n(4); i > 0; i-- {
			col := ColumnDef{Name: g.ident(), Type: Type{T: g.typ(0)}}
			switch g.n(5) {
			case 0:
				col.Key, col.PrimaryKey = true, c.Table
			case 1:
				col.Headers = true
			case 2:
				col.Header, col.HasHeader = "h'1", true
			}
			c.Columns = append(c.Columns, col)
		}
		return c
	case 1, 2:
		return &CreateAs{Table: g.chance(2), OrReplace: g.chance(3), IfNotExists: g.chance(3), Name: g.ident(), Props: g.createProps(createAsOnlyNot), Query: g.query()}
	case 3:
		ins := &InsertInto{Name: g.ident(), Query: g.query()}
		if g.chance(2) {
			ins.Props = []Property{{Name: "QUERY_ID", Value: &StringLit{Value: "q"}}}
		}
		return ins
	case 4:
		d := &Drop{What: []string{"STREAM", "TABLE", "CONNECTOR"}[g.n(3)], IfExists: g.chance(2), Name: g.ident()}
		d.DeleteTopic = d.What != "CONNECTOR" && g.chance(2)
		return d
	case 5:
		if g.chance(2) {
			return &Unset{Name: "a'b"}
		}
		return &Set{Name: "auto.offset.reset", Value: "it's"}
	case 6:
		c := &CreateConnector{Sink: g.chance(2), IfNotExists: g.chance(2), Name: g.ident()}
		for i := 1 + g.n(3); i > 0; i-- {
			c.Props = append(c.Props, Property{Name: []string{"connector.class", "Mixed.Case", "it's"}[g.n(3)], Value: g.literal()})
		}
		return c
	case 7:
		w := []string{"STREAMS", "TABLES", "QUERIES", "TOPICS", "CONNECTORS", "SOURCE CONNECTORS", "SINK CONNECTORS", "PROPERTIES", "FUNCTIONS"}[g.n(9)]
		s := &Show{What: w}
		s.Extended = (w == "STREAMS" || w == "TABLES" || w == "QUERIES" || w == "TOPICS") && g.chance(2)
		return s
	case 8:
		return &Describe{Name: g.ident(), Extended: g.chance(2)}
	case 9:
		if g.chance(2) {
			return &Terminate{All: true}
		}
		return &Terminate{ID: g.ident()}
	}
	return &Query{Select: g.query()}
}
