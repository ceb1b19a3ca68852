package plan

import (
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/ksql/funcs"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
)

// aggState collects the aggregate calls of a query.
type aggState struct {
	calls []ir.AggCall
	// fixed: every call is known; a new one is a planner bug.
	fixed bool
}

func (a *aggState) index(c ir.AggCall) int {
	for i, x := range a.calls {
		if x.Func == c.Func && sameExpr(&ir.Call{Args: x.Args}, &ir.Call{Args: c.Args}) {
			return i
		}
	}
	if a.fixed {
		panic("plan: aggregate call not collected")
	}
	a.calls = append(a.calls, c)
	return len(a.calls) - 1
}

// aggregate plans a GROUP BY query: Aggregate (group columns, aggregates,
// window bounds), HAVING as a Filter over it, then the projection.
func (pl *planner) aggregate(sel *parse.Select, fp *fromPlan, node ir.Node, persistent bool) *result {
	sc := fp.sc
	if len(sel.GroupBy) == 0 {
		pos := sel.Pos
		if sel.Having != nil {
			pos = sel.Having.Position()
		}
		bail(pos, "aggregate functions and HAVING need GROUP BY (ksqlDB has no aggregation over a whole stream)")
	}
	if len(sel.PartitionBy) > 0 {
		bail(sel.PartitionBy[0].Position(), "PARTITION BY cannot be combined with GROUP BY: the GROUP BY expressions key the result")
	}
	for _, it := range sel.Items {
		if it.Star {
			bail(it.Pos, "SELECT * cannot be used with GROUP BY: list the GROUP BY expressions and aggregates")
		}
	}
	input := node.Kind()
	gt := &typer{funcs: pl.funcs, sc: sc, clause: "GROUP BY", hook: pl.synthHook(fp)}
	var groups []ir.Expr
	for _, g := range sel.GroupBy {
		x := gt.expr(g)
		for i, prev := range groups {
			if sameExpr(x, prev) {
				bail(g.Position(), "GROUP BY lists %s twice (also as expression %d); a key column appears once", parse.Print(g), i+1)
			}
		}
		groups = append(groups, x)
	}
	var win *ir.Window
	if sel.Window != nil {
		if input == ir.Table {
			bail(sel.Window.Pos, "WINDOW groups stream rows; a table cannot be windowed")
		}
		win = window(sel.Window)
	}
	if sel.Emit == parse.EmitFinal && win == nil {
		bail(sel.Pos, "EMIT FINAL applies to windowed aggregations only (add a WINDOW clause)")
	}

	aggs := &aggState{}
	bounds := func() int { return len(groups) + len(aggs.calls) }
	hook := func(e parse.Expr) (ir.Expr, bool) {
		switch e := e.(type) {
		case *parse.Call:
			f, ok := pl.funcs.Lookup(e.Name.Name)
			if !ok || f.Kind != funcs.Aggregate {
				break
			}
			at := &typer{funcs: pl.funcs, sc: sc, clause: "an aggregate's argument", hook: pl.synthHook(fp)}
			args := at.args(e, f)
			conv, ret := resolve(e, f, args)
			if input == ir.Table && !f.Undo {
				bail(e.Pos, "%s cannot aggregate a table: an update of a table row retracts the old row, which %s cannot undo; over a table use COUNT, SUM, AVG or COLLECT_LIST", f.Name, f.Name)
			}
			i := aggs.index(ir.AggCall{Func: f.Name, Args: conv, T: ret})
			return &ir.Column{Index: len(groups) + i, T: ret}, true
		case *parse.ColumnRef:
			if e.Qualifier == nil && (e.Name.Name == windowStart || e.Name.Name == windowEnd) {
				if _, err := sc.resolve(e); err != nil {
					if win == nil {
						bail(e.Pos, "%s is only defined in windowed aggregations (WINDOW TUMBLING|HOPPING|SESSION …)", e.Name.Name)
					}
					i := bounds()
					if e.Name.Name == windowEnd {
						i++
					}
					return &ir.Column{Index: i, T: types.TBigint}, true
				}
			}
		case *parse.NullLit, *parse.BoolLit, *parse.StringLit, *parse.NumberLit:
			return nil, false
		}
		if pl.hasAggregate(e) {
			return nil, false
		}
		plain := &typer{funcs: pl.funcs, sc: sc, hook: pl.synthHook(fp)}
		x := plain.expr(e)
		for i, g := range groups {
			if sameExpr(x, g) {
				return &ir.Column{Index: i, T: g.Type()}, true
			}
		}
		if ref, ok := e.(*parse.ColumnRef); ok {
			bail(ref.Pos, "%s is neither in GROUP BY nor inside an aggregate function", parse.Print(ref))
		}
		return nil, false
	}
	// Pass 1 finds the aggregate calls (their count places the window
	// bounds); pass 2 builds the expressions over the Aggregate's row.
	at := &typer{funcs: pl.funcs, sc: sc, clause: "the SELECT list", hook: hook}
	for _, it := range sel.Items {
		at.expr(it.Expr)
	}
	if sel.Having != nil {
		at.clause = "HAVING"
		at.boolean(sel.Having, "HAVING")
	}
	aggs.fixed = true

	agg := &ir.Aggregate{Input: node, GroupBy: groups, Aggs: aggs.calls, Window: win, Final: sel.Emit == parse.EmitFinal}
	g := newAliasGen(sc)
	internal := newAliasGen(sc)
	for i, x := range groups {
		name := "KSQL_COL_GROUP_" + strconv.Itoa(i)
		if c, ok := x.(*ir.Column); ok {
			name = node.Schema().Columns[c.Index].Name
		} else {
			name = internal.col()
		}
		agg.S.Columns = append(agg.S.Columns, types.Field{Name: name, Type: x.Type()})
		agg.S.Key = append(agg.S.Key, i)
	}
	for i, c := range aggs.calls {
		agg.S.Columns = append(agg.S.Columns, types.Field{Name: "KSQL_AGG_VARIABLE_" + strconv.Itoa(i), Type: c.T})
	}
	if win != nil {
		for _, n := range []string{windowStart, windowEnd} {
			agg.S.Key = append(agg.S.Key, len(agg.S.Columns))
			agg.S.Columns = append(agg.S.Columns, types.Field{Name: n, Type: types.TBigint})
		}
	}
	var out ir.Node = agg
	if sel.Having != nil {
		at.clause = "HAVING"
		out = &ir.Filter{Input: agg, Pred: at.boolean(sel.Having, "HAVING")}
	}

	// The projection: names from the input's scope (ksqlDB names a
	// grouped column by its source column).
	at.clause = "the SELECT list"
	var items []item
	for _, si := range sel.Items {
		name := ""
		if si.Alias != nil {
			name = si.Alias.Name
		} else if ref, ok := si.Expr.(*parse.ColumnRef); ok && ref.Qualifier == nil && (ref.Name.Name == windowStart || ref.Name.Name == windowEnd) && win != nil {
			name = ref.Name.Name
		} else {
			name = itemName(si.Expr, sc, g, fp.synth != nil)
		}
		items = append(items, item{name: name, x: at.expr(si.Expr), src: si.Expr, pos: si.Pos})
	}
	key := keySpec{what: "GROUP BY expression"}
	for i, e := range sel.GroupBy {
		key.slots = append(key.slots, []int{i})
		key.names = append(key.names, parse.Print(e))
	}
	if win != nil {
		// A windowed result is keyed by the group and the window: its
		// bounds are key columns, added when the SELECT list has none.
		for j, n := range []string{windowStart, windowEnd} {
			idx := bounds() + j
			has := false
			for _, it := range items {
				if c, ok := it.x.(*ir.Column); ok && c.Index == idx {
					has = true
				}
			}
			if !has {
				items = append(items, item{name: n, x: &ir.Column{Index: idx, T: types.TBigint}, pos: sel.Pos})
			}
			key.slots = append(key.slots, []int{idx})
			key.names = append(key.names, n)
		}
	}
	seen := map[string]parse.Pos{}
	for _, it := range items {
		if prev, dup := seen[it.name]; dup {
			bail(it.pos, "the SELECT list has two columns named %s (the other at line %d:%d): give one another name with AS", it.name, prev.Line, prev.Col)
		}
		seen[it.name] = it.pos
	}
	proj := project(out, items, pl.projectKey(items, key, sel.Pos, persistent))
	return &result{root: proj, kind: ir.Table, schema: proj.S, windowed: win != nil}
}

// window converts a WINDOW clause: grace 24 hours when not given
// (ksqlDB 0.28), retention the window's size plus grace when not given
// and never less (Kafka Streams refuses a smaller one).
func window(w *parse.Window) *ir.Window {
	out := &ir.Window{Size: w.Size.Value(), Grace: defaultGrace}
	switch w.Kind {
	case parse.Tumbling:
		out.Kind = ir.Tumbling
	case parse.Hopping:
		out.Kind = ir.Hopping
		out.Advance = w.Advance.Value()
	case parse.Session:
		out.Kind = ir.Session
	}
	if out.Size <= 0 {
		bail(w.Size.Pos, "a window's size must be positive")
	}
	if w.Kind == parse.Hopping {
		if out.Advance <= 0 {
			bail(w.Advance.Pos, "ADVANCE BY must be positive")
		}
		if out.Advance > out.Size {
			bail(w.Advance.Pos, "ADVANCE BY %s exceeds the window SIZE %s: hopping windows would leave gaps", fmtDur(out.Advance), fmtDur(out.Size))
		}
	}
	if w.Grace != nil {
		out.Grace = w.Grace.Value()
	}
	out.Retention = out.Size + out.Grace
	if w.Retention != nil {
		r := w.Retention.Value()
		if r < out.Size+out.Grace {
			bail(w.Retention.Pos, "RETENTION %s is less than the window size plus grace (%s): the window would be gone before it closes", fmtDur(r), fmtDur(out.Size+out.Grace))
		}
		out.Retention = r
	}
	return out
}

func fmtDur(d time.Duration) string { return d.String() }
