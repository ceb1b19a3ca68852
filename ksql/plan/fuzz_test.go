package plan

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
)

// planDDL declares relations over featureCatalog for the random
// statements to read.
const planDDL = `CREATE STREAM pageviews WITH (kafka_topic = 'pg.public.pageviews', timestamp = 'viewtime');
CREATE TABLE users WITH (kafka_topic = 'pg.public.users');
CREATE TABLE regions WITH (kafka_topic = 'pg.public.regions');
CREATE STREAM clicks (user_id STRING KEY, page_id STRING, clicked_at BIGINT) WITH (kafka_topic = 'pg.public.clicks');
`

// planRandom builds random, mostly valid statements from seed and plans
// them after planDDL: planning must not panic, must fail only with
// positioned errors, must give a plan whose invariants hold, and must
// give the same plan twice.
func planRandom(t *testing.T, seed int64) {
	ddl, err := parse.Parse(planDDL)
	if err != nil {
		t.Fatal(err)
	}
	g := &pgen{r: rand.New(rand.NewSource(seed))}
	stmts := append([]parse.Statement(nil), ddl...)
	for i := 1 + g.n(4); i > 0; i-- {
		stmts = append(stmts, g.statement())
	}
	// Printed and parsed again, the statements have the positions a
	// user's text gives, which every error must carry.
	stmts, err = parse.Parse(parse.PrintStatements(stmts))
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	p, err := Build(stmts, featureCatalog(), Options{})
	if err != nil {
		if err := checkErrors(err); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
	if err := checkPlan(p); err != nil {
		t.Fatalf("seed %d: %v\n%s", seed, err, parse.PrintStatements(stmts))
	}
	p2, _ := Build(stmts, featureCatalog(), Options{})
	if Dump(p) != Dump(p2) {
		t.Fatalf("seed %d: two plans differ", seed)
	}
}

func TestPlanRandom(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for seed := int64(0); seed < int64(n); seed++ {
		planRandom(t, seed)
	}
}

// FuzzPlan plans random statements built from the fuzzer's bytes.
func FuzzPlan(f *testing.F) {
	for _, s := range []int64{0, 1, 42, 1 << 40} {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(s))
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s [8]byte
		copy(s[:], b)
		planRandom(t, int64(binary.LittleEndian.Uint64(s[:])))
	})
}

// FuzzPlanSQL plans any text that parses, after planDDL.
func FuzzPlanSQL(f *testing.F) {
	src, err := os.ReadFile("testdata/features.sql")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range strings.Split(string(src), ";") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		stmts, err := parse.Parse(planDDL + text)
		if err != nil {
			return
		}
		p, err := Build(stmts, featureCatalog(), Options{})
		if err != nil {
			if err := checkErrors(err); err != nil {
				t.Fatal(err)
			}
		}
		if err := checkPlan(p); err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
	})
}

// pgen generates statements over planDDL's relations: mostly
// type-correct, with a little junk so that errors are reached too.
type pgen struct {
	r     *rand.Rand
	depth int
	made  int
	// scope is what a query being generated reads.
	scope []scopeRel
}

type scopeRel struct {
	alias string
	cols  []types.Field
}

func (g *pgen) n(k int) int            { return g.r.Intn(k) }
func (g *pgen) one(s ...string) string { return s[g.n(len(s))] }
func (g *pgen) junk() bool             { return g.n(15) == 0 }

var relCols = map[string][]types.Field{
	"PAGEVIEWS": {{Name: "ID", Type: types.TBigint}, {Name: "VIEWTIME", Type: types.TBigint}, {Name: "USER_ID", Type: types.TString},
		{Name: "PAGE_ID", Type: types.TString}, {Name: "TAGS", Type: types.ArrayOf(types.TString)}, {Name: "PAYLOAD", Type: types.TString}},
	"USERS": {{Name: "ID", Type: types.TString}, {Name: "GENDER", Type: types.TString}, {Name: "REGION", Type: types.TString},
		{Name: "BALANCE", Type: types.DecimalOf(10, 2)}, {Name: "BORN", Type: types.TDate}, {Name: "SEEN", Type: types.TTimestamp}, {Name: "IP", Type: types.TString}},
	"REGIONS": {{Name: "CODE", Type: types.TString}, {Name: "NAME", Type: types.TString}},
	"CLICKS":  {{Name: "USER_ID", Type: types.TString}, {Name: "PAGE_ID", Type: types.TString}, {Name: "CLICKED_AT", Type: types.TBigint}},
}

var relKey = map[string]string{"USERS": "ID", "REGIONS": "CODE", "CLICKS": "USER_ID"}

var scalarTypes = []types.Type{types.TInteger, types.TBigint, types.TDouble, types.DecimalOf(10, 2), types.TString, types.TBoolean, types.TDate, types.TTimestamp}

func ident(s string) parse.Ident { return parse.Ident{Name: s} }

func ref(alias, name string) *parse.ColumnRef {
	q := ident(alias)
	return &parse.ColumnRef{Qualifier: &q, Name: ident(name)}
}

// colOf picks a column of type t in scope, or nil.
func (g *pgen) colOf(t types.Type) parse.Expr {
	var cs []*parse.ColumnRef
	for _, s := range g.scope {
		for _, c := range s.cols {
			if c.Type.Equal(t) {
				cs = append(cs, ref(s.alias, c.Name))
			}
		}
		if t.Base == types.Bigint {
			cs = append(cs, ref(s.alias, "ROWTIME"))
		}
	}
	if g.junk() {
		return &parse.ColumnRef{Name: ident(g.one("XYZ", "ROWKEY", "WINDOWSTART", "ID", "ROWTIME"))}
	}
	if len(cs) == 0 {
		return nil
	}
	return cs[g.n(len(cs))]
}

func (g *pgen) lit(t types.Type) parse.Expr {
	switch t.Base {
	case types.Integer, types.Bigint:
		return &parse.NumberLit{Kind: parse.IntegerNum, Text: fmt.Sprint(g.n(100) - 10)}
	case types.Double:
		return &parse.NumberLit{Kind: parse.DoubleNum, Text: "2e3"}
	case types.Decimal:
		return &parse.NumberLit{Kind: parse.DecimalNum, Text: "1.5"}
	case types.Boolean:
		return &parse.BoolLit{Value: g.n(2) == 0}
	case types.String:
		return &parse.StringLit{Value: g.one("a", "home%", "2020-01-01T00:00:00")}
	}
	return &parse.Cast{X: &parse.NullLit{}, Type: parse.Type{T: t}}
}

func call(name string, args ...parse.Expr) *parse.Call {
	return &parse.Call{Name: ident(name), Args: args}
}

// expr generates an expression of about type t.
func (g *pgen) expr(t types.Type) parse.Expr {
	g.depth++
	defer func() { g.depth-- }()
	if g.junk() {
		t = scalarTypes[g.n(len(scalarTypes))]
	}
	if g.depth > 3 || g.n(3) == 0 {
		if c := g.colOf(t); c != nil && g.n(4) > 0 {
			return c
		}
		return g.lit(t)
	}
	switch g.n(5) {
	case 0:
		return &parse.Case{Whens: []parse.When{{Cond: g.expr(types.TBoolean), Then: g.expr(t)}}, Else: g.expr(t)}
	case 1:
		return call("COALESCE", g.expr(t), g.expr(t))
	case 2:
		if t.Base != types.String && t.Base != types.Boolean {
			return &parse.Cast{X: g.expr(types.TString), Type: parse.Type{T: t}}
		}
	}
	switch {
	case t.IsNumeric():
		switch g.n(4) {
		case 0:
			return call("ABS", g.expr(t))
		case 1:
			return call("LEN", g.expr(types.TString))
		case 2:
			return &parse.Neg{X: g.expr(t)}
		}
		return &parse.Binary{Op: parse.BinaryOp(g.n(int(parse.OpMod) + 1)), L: g.expr(t), R: g.expr(t)}
	case t.Base == types.String:
		switch g.n(6) {
		case 0:
			return call("UCASE", g.expr(t))
		case 1:
			return &parse.Binary{Op: parse.OpConcat, L: g.expr(t), R: g.expr(t)}
		case 2:
			return call("SUBSTRING", g.expr(t), g.expr(types.TInteger))
		case 3:
			return &parse.Cast{X: g.expr(scalarTypes[g.n(len(scalarTypes))]), Type: parse.Type{T: t}}
		case 4:
			return call("TIMESTAMPTOSTRING", g.expr(types.TBigint), g.lit(t))
		}
		return &parse.Subscript{X: g.expr(types.ArrayOf(types.TString)), Index: g.lit(types.TInteger)}
	case t.Base == types.Boolean:
		switch g.n(7) {
		case 0:
			return &parse.Binary{Op: parse.OpAnd + parse.BinaryOp(g.n(2)), L: g.expr(t), R: g.expr(t)}
		case 1:
			return &parse.Not{X: g.expr(t)}
		case 2:
			return &parse.IsNull{X: g.expr(scalarTypes[g.n(len(scalarTypes))]), Not: g.n(2) == 0}
		case 3:
			return &parse.Like{X: g.expr(types.TString), Pattern: g.lit(types.TString)}
		case 4:
			it := scalarTypes[g.n(len(scalarTypes))]
			return &parse.In{X: g.expr(it), List: []parse.Expr{g.expr(it), g.lit(it)}}
		case 5:
			it := scalarTypes[g.n(4)]
			return &parse.Between{X: g.expr(it), Lo: g.lit(it), Hi: g.expr(it)}
		}
		ct := scalarTypes[g.n(len(scalarTypes))]
		return &parse.Binary{Op: parse.OpEq + parse.BinaryOp(g.n(6)), L: g.expr(ct), R: g.expr(ct)}
	case t.Base == types.Array:
		if g.n(2) == 0 {
			return call("SPLIT", g.expr(types.TString), g.lit(types.TString))
		}
		return &parse.ArrayExpr{Elems: []parse.Expr{g.expr(*t.Elem), g.expr(*t.Elem)}}
	}
	return g.lit(t)
}

func (g *pgen) dur() parse.Duration {
	return parse.Duration{N: int64(1 + g.n(100)), Unit: g.one("SECONDS", "MINUTES", "HOURS", "DAYS")}
}

func (g *pgen) table(rel, alias string) *parse.Table {
	a := ident(alias)
	g.scope = append(g.scope, scopeRel{alias: alias, cols: relCols[rel]})
	return &parse.Table{Name: ident(rel), Alias: &a}
}

func join(t parse.JoinType, l parse.Relation, r *parse.Table, on parse.Expr, within *parse.Within) *parse.Join {
	return &parse.Join{Type: t, Left: l, Right: r, On: on, Within: within}
}

// from picks a FROM shape; it returns the relation, its result kind,
// and the key column references to select.
func (g *pgen) from() (parse.Relation, bool, []parse.Expr) {
	g.scope = nil
	jt := parse.JoinType(g.n(2))
	switch g.n(7) {
	case 0:
		rel := g.one("PAGEVIEWS", "USERS", "REGIONS", "CLICKS")
		t := g.table(rel, "A")
		var keys []parse.Expr
		if k, ok := relKey[rel]; ok {
			keys = append(keys, ref("A", k))
		}
		return t, rel == "USERS" || rel == "REGIONS", keys
	case 1:
		l, r := g.table("PAGEVIEWS", "P"), g.table("USERS", "U")
		return join(jt, l, r, &parse.Binary{Op: parse.OpEq, L: ref("P", "USER_ID"), R: ref("U", "ID")}, nil), false, []parse.Expr{ref("P", "USER_ID")}
	case 2:
		l, r := g.table("CLICKS", "C"), g.table("PAGEVIEWS", "P")
		w := &parse.Within{Before: g.dur(), After: g.dur()}
		return join(parse.JoinType(g.n(4)), l, r, &parse.Binary{Op: parse.OpEq, L: ref("P", "USER_ID"), R: ref("C", "USER_ID")}, w), false, []parse.Expr{ref("C", "USER_ID")}
	case 3:
		l, r := g.table("USERS", "A"), g.table("REGIONS", "B")
		return join(parse.JoinType(g.n(4)), l, r, &parse.Binary{Op: parse.OpEq, L: ref("A", "ID"), R: ref("B", "CODE")}, nil), true, []parse.Expr{ref("A", "ID")}
	case 4:
		l, r := g.table("USERS", "U"), g.table("REGIONS", "R")
		return join(jt, l, r, &parse.Binary{Op: parse.OpEq, L: ref("U", "REGION"), R: ref("R", "CODE")}, nil), true, []parse.Expr{ref("U", "ID")}
	case 5:
		c, p := g.table("CLICKS", "C"), g.table("PAGEVIEWS", "P")
		j1 := join(parse.InnerJoin, c, p, &parse.Binary{Op: parse.OpEq, L: ref("C", "USER_ID"), R: ref("P", "USER_ID")}, &parse.Within{Before: g.dur(), After: g.dur()})
		u := g.table("USERS", "U")
		return join(jt, j1, u, &parse.Binary{Op: parse.OpEq, L: ref("P", "USER_ID"), R: ref("U", "ID")}, nil), false, []parse.Expr{ref("C", "USER_ID")}
	}
	g.made++
	return &parse.Table{Name: ident(fmt.Sprintf("R%d", g.n(4)))}, g.n(2) == 0, nil
}

func (g *pgen) query() (*parse.Select, bool) {
	from, table, keys := g.from()
	s := &parse.Select{From: from, Emit: parse.EmitChanges}
	if g.n(2) == 0 {
		s.Where = g.expr(types.TBoolean)
	}
	item := func(e parse.Expr, i int) parse.SelectItem {
		a := ident(fmt.Sprintf("C%d", i))
		return parse.SelectItem{Expr: e, Alias: &a}
	}
	switch {
	case g.n(3) == 0: // aggregation
		gc := g.colOf(scalarTypes[4+g.n(2)])
		if gc == nil {
			gc = g.lit(types.TString)
		}
		s.GroupBy = []parse.Expr{gc}
		s.Items = []parse.SelectItem{{Expr: gc}}
		aggs := []func() parse.Expr{
			func() parse.Expr { return &parse.Call{Name: ident("COUNT"), Star: true} },
			func() parse.Expr { return call("SUM", g.expr(types.TBigint)) },
			func() parse.Expr { return call("LATEST_BY_OFFSET", g.expr(types.TString)) },
			func() parse.Expr { return call("COLLECT_LIST", g.expr(types.TInteger)) },
			func() parse.Expr { return call("MAX", g.expr(types.TDouble)) },
			func() parse.Expr { return call("AVG", g.expr(types.DecimalOf(10, 2))) },
		}
		for i := 1 + g.n(3); i > 0; i-- {
			s.Items = append(s.Items, item(aggs[g.n(len(aggs))](), i))
		}
		if !table && g.n(3) == 0 {
			w := &parse.Window{Kind: parse.WindowKind(1 + g.n(3)), Size: g.dur()}
			if w.Kind == parse.Hopping {
				d := parse.Duration{N: 1, Unit: "SECONDS"}
				w.Advance = &d
			}
			s.Window = w
			if g.n(2) == 0 {
				s.Items = append(s.Items, parse.SelectItem{Expr: &parse.ColumnRef{Name: ident("WINDOWSTART")}})
			}
		}
		if g.n(3) == 0 {
			s.Having = &parse.Binary{Op: parse.OpGt, L: &parse.Call{Name: ident("COUNT"), Star: true}, R: g.lit(types.TInteger)}
		}
		return s, true
	case g.n(6) == 0:
		s.Items = []parse.SelectItem{{Star: true}}
	default:
		for _, k := range keys {
			if g.n(8) > 0 {
				s.Items = append(s.Items, parse.SelectItem{Expr: k})
			}
		}
		for i := g.n(4); i >= 0; i-- {
			s.Items = append(s.Items, item(g.expr(scalarTypes[g.n(len(scalarTypes))]), i))
		}
		if !table && g.n(5) == 0 {
			pk := g.colOf(types.TString)
			if pk != nil {
				s.PartitionBy = []parse.Expr{pk}
				s.Items = append(s.Items, parse.SelectItem{Expr: pk})
			}
		}
	}
	return s, table
}

func (g *pgen) statement() parse.Statement {
	name := ident(fmt.Sprintf("R%d", g.n(4)))
	switch g.n(10) {
	case 0:
		q, _ := g.query()
		return &parse.InsertInto{Name: name, Query: q}
	case 1:
		q, _ := g.query()
		return &parse.Query{Select: q}
	case 2:
		return &parse.Drop{What: g.one("STREAM", "TABLE"), Name: name}
	case 3:
		cols := []parse.ColumnDef{{Name: ident("ID"), Type: parse.Type{T: types.TString}, Key: true, PrimaryKey: g.n(2) == 0}}
		return &parse.CreateSource{Table: cols[0].PrimaryKey, Name: name, Columns: cols,
			Props: []parse.Property{{Name: "KAFKA_TOPIC", Value: &parse.StringLit{Value: g.one("pg.public.users", "pg.public.clicks", "R1")}}}}
	}
	q, table := g.query()
	if g.junk() {
		table = !table
	}
	return &parse.CreateAs{Table: table, Name: name, Query: q}
}
