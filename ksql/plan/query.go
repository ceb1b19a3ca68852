package plan

import (
	"reflect"
	"slices"
	"strconv"

	"github.com/sluice-dev/sluice/ksql/internal/suggest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
)

// Names ksqlDB gives to columns it makes.
const (
	rowKey      = "ROWKEY" // a FULL OUTER join's synthetic key
	windowStart = ir.WindowStart
	windowEnd   = ir.WindowEnd
)

// result is a planned SELECT.
type result struct {
	root     ir.Node
	kind     ir.Kind
	schema   types.Schema
	windowed bool
}

// item is one column of the SELECT list, resolved.
type item struct {
	name string
	x    ir.Expr
	src  parse.Expr // nil for a column of *
	pos  parse.Pos
}

// keySpec says which columns of the input row make the result's key:
// each slot is one key column, satisfied by a SELECT item that is one of
// the slot's columns (a join's key has one slot with every equivalent
// column; a GROUP BY one slot per expression).
type keySpec struct {
	slots [][]int
	// synth: the key is a FULL OUTER join's ROWKEY.
	synth bool
	// what and names describe the slots for errors.
	what  string
	names []string
}

// selectQuery plans a SELECT. persistent queries must project their key
// (ksqlDB's rule).
func (pl *planner) selectQuery(sel *parse.Select, persistent bool) *result {
	t := &typer{funcs: pl.funcs}
	fp := pl.from(sel.From, t)
	node := fp.node
	if sel.Where != nil {
		if pl.hasAggregate(sel.Where) {
			bail(sel.Where.Position(), "aggregate functions are not allowed in WHERE: filter groups with HAVING")
		}
		wt := &typer{funcs: pl.funcs, sc: fp.sc, clause: "WHERE", hook: pl.synthHook(fp)}
		node = &ir.Filter{Input: node, Pred: wt.boolean(sel.Where, "WHERE")}
	}
	if sel.HasLimit && persistent {
		bail(sel.Pos, "LIMIT is not supported in a persistent query (CREATE … AS SELECT, INSERT INTO)")
	}
	aggregating := len(sel.GroupBy) > 0 || sel.Having != nil
	for _, it := range sel.Items {
		if it.Expr != nil && pl.hasAggregate(it.Expr) {
			aggregating = true
		}
	}
	if aggregating {
		return pl.aggregate(sel, fp, node, persistent)
	}
	if sel.Window != nil {
		bail(sel.Window.Pos, "WINDOW needs GROUP BY: a window groups rows by key and time")
	}
	if sel.Emit == parse.EmitFinal {
		bail(sel.Pos, "EMIT FINAL applies to windowed aggregations only (WINDOW … GROUP BY …)")
	}
	sc := fp.sc
	var key keySpec
	var partKeys []ir.Expr
	switch {
	case len(sel.PartitionBy) > 0:
		if node.Kind() == ir.Table {
			bail(sel.PartitionBy[0].Position(), "PARTITION BY re-keys a stream; a table is keyed by its PRIMARY KEY")
		}
		node, sc, key, partKeys = pl.partitionBy(sel.PartitionBy, node, fp)
	case fp.synth != nil:
		key = keySpec{synth: true, what: "join key", names: []string{rowKey}, slots: [][]int{nil}}
	case sc.isJoin():
		key = keySpec{what: "join key", slots: [][]int{fp.viable}}
		var names []string
		for _, v := range fp.viable {
			names = append(names, sc.cols[v].source+"."+sc.cols[v].name)
		}
		key.names = []string{suggest.Or(names)}
	default:
		rel := sc.sources[0].rel
		key.what = "key column"
		for _, k := range rel.Schema.Key {
			key.slots = append(key.slots, []int{k})
			key.names = append(key.names, rel.Schema.Columns[k].Name)
		}
	}
	it := &typer{funcs: pl.funcs, sc: sc, clause: "the SELECT list", hook: pl.synthHook(fp)}
	if partKeys != nil {
		base := it.hook
		it.hook = func(e parse.Expr) (ir.Expr, bool) {
			if x, ok := base(e); ok {
				return x, true
			}
			if _, lit := e.(*parse.NullLit); lit || pl.hasAggregate(e) {
				return nil, false
			}
			plain := &typer{funcs: pl.funcs, sc: fp.sc, hook: pl.synthHook(fp)}
			x := plain.expr(e)
			for i, k := range partKeys {
				if sameExpr(x, k) {
					return &ir.Column{Index: key.slots[i][0], T: k.Type()}, true
				}
			}
			return nil, false
		}
	}
	items := pl.items(sel, sc, it, fp.synth != nil)
	var keyItems []int
	if persistent || len(key.slots) > 0 {
		keyItems = pl.projectKey(items, key, sel.Pos, persistent)
	}
	proj := project(node, items, keyItems)
	return &result{root: proj, kind: node.Kind(), schema: proj.S}
}

// project builds the final Project: the key columns first, in key order,
// then the other items in SELECT order — ksqlDB's schemas put the key
// columns first.
func project(input ir.Node, items []item, keyItems []int) *ir.Project {
	proj := &ir.Project{Input: input}
	add := func(it item) {
		proj.Exprs = append(proj.Exprs, it.x)
		proj.S.Columns = append(proj.S.Columns, types.Field{Name: it.name, Type: it.x.Type()})
	}
	for _, k := range keyItems {
		proj.S.Key = append(proj.S.Key, len(proj.S.Columns))
		add(items[k])
	}
	for i, it := range items {
		if !slices.Contains(keyItems, i) {
			add(it)
		}
	}
	return proj
}

// synthHook resolves ROWKEY, a FULL OUTER join's synthetic key, to
// COALESCE(left key, right key).
func (pl *planner) synthHook(fp *fromPlan) func(parse.Expr) (ir.Expr, bool) {
	return func(e parse.Expr) (ir.Expr, bool) {
		if ref, ok := e.(*parse.ColumnRef); ok && fp.synth != nil && ref.Qualifier == nil && ref.Name.Name == rowKey {
			return fp.synth, true
		}
		return nil, false
	}
}

// partitionBy plans PARTITION BY: a Repartition whose row is the input
// row followed by one column per key expression, its value — the new key
// columns (exec appends them). Names follow ksqlDB
// (PartitionByParamsFactory): a key that is a column keeps the column's
// name, and the appended column stands for it (the input's copy is
// hidden, so * and the name both reach the key); another expression is
// named as ksqlDB's alias generator names it over the FROM columns
// (KSQL_COL_n, or the field's name for x->f), which * selects. SELECT
// items equal to a key expression read its column.
func (pl *planner) partitionBy(exprs []parse.Expr, node ir.Node, fp *fromPlan) (ir.Node, *scope, keySpec, []ir.Expr) {
	sc := fp.sc
	if len(exprs) == 1 {
		if _, null := exprs[0].(*parse.NullLit); null {
			// PARTITION BY NULL: a stream without key columns.
			rp := &ir.Repartition{Input: node, S: types.Schema{Columns: node.Schema().Columns}}
			return rp, sc, keySpec{}, nil
		}
	}
	t := &typer{funcs: pl.funcs, sc: sc, clause: "PARTITION BY", hook: pl.synthHook(fp)}
	out := &scope{sources: sc.sources, cols: append([]column(nil), sc.cols...)}
	rp := &ir.Repartition{Input: node}
	rp.S.Columns = append(rp.S.Columns, node.Schema().Columns...)
	key := keySpec{what: "PARTITION BY expression"}
	var keys []ir.Expr
	g := newAliasGen(sc)
	for _, e := range exprs {
		if _, null := e.(*parse.NullLit); null {
			bail(e.Position(), "PARTITION BY NULL cannot be combined with other expressions: it removes the key")
		}
		x := t.expr(e)
		for i, k := range keys {
			if sameExpr(x, k) {
				bail(e.Position(), "PARTITION BY lists %s twice (also as expression %d); a key column appears once", parse.Print(e), i+1)
			}
		}
		rp.Keys = append(rp.Keys, x)
		keys = append(keys, x)
		c := column{t: x.Type(), repart: true}
		var field string
		if ref, ok := x.(*ir.Column); ok {
			// The key column is the column: the appended copy takes its
			// identity, the input's copy leaves the scope.
			c.source, c.name, c.pseudo = sc.cols[ref.Index].source, sc.cols[ref.Index].name, sc.cols[ref.Index].pseudo
			out.cols[ref.Index].name = ""
			field = uniqueField(rp.S, rp.S.Columns[ref.Index].Name)
		} else {
			if d, ok := e.(*parse.Deref); ok {
				c.name = g.field(d.Field.Name)
			} else {
				c.name = g.col()
			}
			field = uniqueField(rp.S, c.name)
		}
		idx := len(rp.S.Columns)
		rp.S.Columns = append(rp.S.Columns, types.Field{Name: field, Type: x.Type()})
		out.cols = append(out.cols, c)
		rp.S.Key = append(rp.S.Key, idx)
		key.slots = append(key.slots, []int{idx})
		key.names = append(key.names, parse.Print(e))
	}
	return rp, out, key, keys
}

// uniqueField is name, or name_1, name_2 … when s has a column so named:
// the Repartition row holds a column key's input copy and the key itself.
func uniqueField(s types.Schema, name string) string {
	taken := func(n string) bool {
		return slices.ContainsFunc(s.Columns, func(f types.Field) bool { return f.Name == n })
	}
	n := name
	for i := 1; taken(n); i++ {
		n = name + "_" + strconv.Itoa(i)
	}
	return n
}

// items resolves the SELECT list: * and alias.* expanded, every item
// named (its alias, else ksqlDB's generated name), names unique.
func (pl *planner) items(sel *parse.Select, sc *scope, t *typer, synth bool) []item {
	g := newAliasGen(sc)
	var items []item
	for _, si := range sel.Items {
		if si.Star {
			items = append(items, starItems(si, sc, synth, t)...)
			continue
		}
		x := t.expr(si.Expr)
		name := ""
		if si.Alias != nil {
			name = si.Alias.Name
		} else {
			name = itemName(si.Expr, sc, g, synth)
		}
		items = append(items, item{name: name, x: x, src: si.Expr, pos: si.Pos})
	}
	seen := map[string]parse.Pos{}
	for _, it := range items {
		if prev, dup := seen[it.name]; dup {
			bail(it.pos, "the SELECT list has two columns named %s (the other at line %d:%d): give one another name with AS", it.name, prev.Line, prev.Col)
		}
		seen[it.name] = it.pos
	}
	return items
}

// starItems expands * or alias.*: every column but the pseudo-columns,
// named as the source names them, or ALIAS_NAME in a join (where a FULL
// OUTER join's ROWKEY comes first).
func starItems(si parse.SelectItem, sc *scope, synth bool, t *typer) []item {
	var out []item
	if si.Qualifier != nil && sc.source(si.Qualifier.Name) == nil {
		var aliases []string
		for _, s := range sc.sources {
			aliases = append(aliases, s.alias)
		}
		bail(si.Qualifier.Pos, "unknown source %s in %s.*%s", si.Qualifier.Name, si.Qualifier.Name, suggest.Hint(si.Qualifier.Name, aliases))
	}
	if synth && si.Qualifier == nil {
		x, _ := t.hook(&parse.ColumnRef{Name: parse.Ident{Name: rowKey}})
		out = append(out, item{name: rowKey, x: x, pos: si.Pos})
	}
	for i, c := range sc.cols {
		if c.pseudo || c.name == "" || si.Qualifier != nil && c.source != si.Qualifier.Name {
			continue
		}
		name := c.name
		if sc.isJoin() && c.source != "" {
			name = c.source + "_" + c.name
		}
		out = append(out, item{name: name, x: &ir.Column{Index: i, T: c.t}, pos: si.Pos})
	}
	return out
}

// projectKey finds the SELECT items that carry the result's key. A
// persistent query must select each key column exactly once, as ksqlDB
// requires (the key becomes the result's key columns).
func (pl *planner) projectKey(items []item, key keySpec, pos parse.Pos, persistent bool) []int {
	var out []int
	for s, slot := range key.slots {
		found := -1
		for i, it := range items {
			match := false
			if key.synth {
				ref, ok := it.src.(*parse.ColumnRef)
				match = ok && ref.Qualifier == nil && ref.Name.Name == rowKey || it.src == nil && it.name == rowKey
			} else if c, ok := it.x.(*ir.Column); ok {
				for _, k := range slot {
					match = match || c.Index == k
				}
			}
			if !match {
				continue
			}
			if found >= 0 {
				if !persistent {
					continue
				}
				bail(it.pos, "the %s %s is in the SELECT list twice (as %s and %s); keep one: it is the key of the result", key.what, key.names[s], items[found].name, it.name)
			}
			found = i
		}
		if found < 0 {
			if !persistent {
				return nil
			}
			msg := "the SELECT list must include the " + key.what + " " + key.names[s] + ": it is the key of the result"
			if key.synth {
				msg += " (a FULL OUTER join's synthetic key, the non-NULL of both sides' keys; SELECT ROWKEY AS name, …)"
			}
			bail(pos, "%s", msg)
		}
		out = append(out, found)
	}
	return out
}

// sameExpr reports whether two resolved expressions are the same.
func sameExpr(a, b ir.Expr) bool { return reflect.DeepEqual(a, b) }
