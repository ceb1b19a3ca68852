package plan

import (
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
)

// defaultGrace is the grace of stream-stream joins and windows that give
// none: 24 hours, ksqlDB 0.28's (Kafka Streams' old default).
const defaultGrace = 24 * time.Hour

// fromPlan is a planned FROM clause.
type fromPlan struct {
	node ir.Node
	sc   *scope
	// viable are the scope columns equivalent to the join key, in
	// ksqlDB's order (JoinTree.viableKeyColumns); synth is the synthetic
	// key of a FULL OUTER join (COALESCE of both sides' keys), nil
	// otherwise.
	viable []int
	synth  ir.Expr
	// equiv is the join's key equivalence set (scope column indexes).
	equiv []int
}

// leaf is a relation read by the query.
func (pl *planner) leaf(t *parse.Table, sc *scope) (ir.Node, []column) {
	rel := pl.lookup(t.Name)
	alias := t.Name.Name
	if t.Alias != nil {
		alias = t.Alias.Name
	}
	if sc.source(alias) != nil {
		at := t.Pos
		if t.Alias != nil {
			at = t.Alias.Pos
		}
		bail(at, "%s names two sources of the query: give them different aliases", alias)
	}
	for _, other := range sc.sources {
		if other.rel == rel {
			bail(t.Pos, "%s is read twice: a query cannot join a relation with itself (ksqlDB has no self-joins); join it with a copy (CREATE TABLE %s_COPY AS SELECT * FROM %s)", rel.Name, rel.Name, rel.Name)
		}
	}
	sc.sources = append(sc.sources, fromSource{alias: alias, rel: rel, pos: t.Pos})
	src := *rel.Source
	var cols []column
	for _, f := range src.S.Columns {
		cols = append(cols, column{source: alias, name: f.Name, t: f.Type, pseudo: isPseudo(f.Name)})
	}
	return &src, cols
}

// from plans a FROM clause: one relation, or joins nested to the left.
func (pl *planner) from(r parse.Relation, t *typer) *fromPlan {
	switch r := r.(type) {
	case *parse.Table:
		sc := &scope{}
		node, cols := pl.leaf(r, sc)
		sc.cols = cols
		return &fromPlan{node: node, sc: sc}
	case *parse.Join:
		left := pl.from(r.Left, t)
		if left.synth != nil {
			bail(r.Pos, "a FULL OUTER join must be the last join of a query (its key is synthetic)")
		}
		return pl.join(r, left, t)
	}
	panic("unreachable")
}

func (pl *planner) join(j *parse.Join, left *fromPlan, t *typer) *fromPlan {
	rightScope := &scope{sources: slices.Clone(left.sc.sources)}
	rightNode, rightCols := pl.leaf(j.Right, rightScope)
	rs := rightScope.sources[len(rightScope.sources)-1]
	for _, src := range rightScope.sources {
		if src.rel.Windowed {
			bail(src.pos, "%s is windowed: joins of windowed tables are not supported", src.rel.Name)
		}
	}
	rightScope.sources = rightScope.sources[len(rightScope.sources)-1:]
	rightScope.cols = rightCols
	lk, rk := left.node.Kind(), rightNode.Kind()
	jt := map[parse.JoinType]ir.JoinType{parse.InnerJoin: ir.Inner, parse.LeftJoin: ir.LeftOuter, parse.RightJoin: ir.RightOuter, parse.FullJoin: ir.FullOuter}[j.Type]
	leftName := sourceNames(left.sc)
	kinds := kindWord(lk) + "-" + kindWord(rk)
	switch {
	case lk == ir.Table && rk == ir.Stream:
		bail(j.Pos, "a table-stream join is not supported; put the stream first (%s JOIN %s)", rs.rel.Name, leftName)
	case lk == ir.Stream && rk == ir.Stream && j.Within == nil:
		bail(j.Pos, "a stream-stream join needs a WITHIN clause: … JOIN %s WITHIN 1 HOUR ON …", rs.rel.Name)
	case !(lk == ir.Stream && rk == ir.Stream) && j.Within != nil:
		bail(j.Within.Pos, "WITHIN applies to stream-stream joins only; this is a %s join, which is not windowed: drop the WITHIN clause", kinds)
	case lk == ir.Stream && rk == ir.Table && jt != ir.Inner && jt != ir.LeftOuter:
		bail(j.Pos, "a stream-table join is INNER or LEFT, not %s", j.Type)
	}

	// The condition: one equality between the two sides.
	eq, ok := j.On.(*parse.Binary)
	if !ok || eq.Op != parse.OpEq {
		bail(j.On.Position(), "a join condition is one equality between the two sides (ON a.x = b.y), got %s", parse.Print(j.On))
	}
	combined := &scope{sources: append(slices.Clone(left.sc.sources), rs), cols: append(slices.Clone(left.sc.cols), rightCols...)}
	lside, rside := pl.side(eq.L, combined, rs.alias), pl.side(eq.R, combined, rs.alias)
	lExpr, rExpr := eq.L, eq.R
	switch {
	case lside == sideLeft && rside == sideRight:
	case lside == sideRight && rside == sideLeft:
		lExpr, rExpr = eq.R, eq.L
	default:
		bail(j.On.Position(), "the join condition must compare an expression of %s with one of %s: %s", leftName, rs.alias, parse.Print(j.On))
	}
	lt := &typer{funcs: t.funcs, sc: left.sc, clause: "ON"}
	rt := &typer{funcs: t.funcs, sc: rightScope, clause: "ON"}
	lkey, rkey := lt.expr(lExpr), rt.expr(rExpr)
	if !lkey.Type().Equal(rkey.Type()) {
		bail(j.On.Position(), "the join condition compares %s (%s) with %s (%s): the types must be the same; CAST one side", parse.Print(lExpr), lkey.Type(), parse.Print(rExpr), rkey.Type())
	}
	rightKey := isKeyOf(rkey, rs.rel)
	out := &ir.Join{Left: left.node, Right: rightNode, Type: jt, LeftKey: lkey, RightKey: rkey}
	switch kinds {
	case "stream-stream":
		out.K = ir.Stream
		out.Before, out.After = j.Within.Before.Value(), j.Within.After.Value()
		out.Grace = defaultGrace
		if j.Within.Grace != nil {
			out.Grace = j.Within.Grace.Value()
		}
	case "stream-table":
		out.K = ir.Stream
		if !rightKey {
			bail(rExpr.Position(), "a stream-table join must use the table's key: %s", keyHint(rs.rel, rExpr))
		}
	case "table-table":
		out.K = ir.Table
		if !rightKey {
			bail(rExpr.Position(), "a table-table join must use the right table's key: %s", keyHint(rs.rel, rExpr))
		}
		if !leftIsKey(lkey, left) {
			out.ForeignKey = true
			if _, leaf := left.node.(*ir.Source); !leaf {
				bail(j.Pos, "a foreign-key join (on %s, not %s's key) cannot follow another join", parse.Print(lExpr), leftName)
			}
			if jt == ir.FullOuter || jt == ir.RightOuter {
				bail(j.Pos, "a foreign-key join (on %s, not %s's key) is INNER or LEFT, not %s", parse.Print(lExpr), leftName, j.Type)
			}
		}
	}

	// The joined row: the left row, then the right one; columns are
	// named ALIAS_COLUMN (ksqlDB's join schema).
	leftSchema := left.node.Schema().Columns
	_, leftLeaf := left.node.(*ir.Source)
	for i, c := range left.sc.cols {
		name := leftSchema[i].Name
		if leftLeaf {
			name = c.source + "_" + c.name
		}
		out.S.Columns = append(out.S.Columns, types.Field{Name: name, Type: c.t})
	}
	for _, c := range rightCols {
		out.S.Columns = append(out.S.Columns, types.Field{Name: rs.alias + "_" + c.name, Type: c.t})
	}
	fp := &fromPlan{node: out, sc: combined}

	// The key of the result (ksqlDB's viableKeyColumns): the column
	// references among both sides' key expressions that are equivalent to
	// the join key; none for FULL OUTER, whose key is synthetic.
	off := len(left.sc.cols)
	lcol, lIsCol := lkey.(*ir.Column)
	rcol, rIsCol := rkey.(*ir.Column)
	if jt == ir.FullOuter {
		fp.synth = &ir.Call{Func: "COALESCE", Args: []ir.Expr{lkey, shift(rkey, off)}, T: lkey.Type()}
		return fp
	}
	if out.ForeignKey {
		// A foreign-key join's result has its left table's key.
		src := left.sc.sources[0]
		for i, c := range left.sc.cols {
			if c.source == src.alias && c.name == src.rel.Schema.Columns[src.rel.Schema.Key[0]].Name {
				fp.viable, fp.equiv = []int{i}, []int{i}
			}
		}
		return fp
	}
	if lIsCol {
		fp.equiv = append(fp.equiv, lcol.Index)
		if slices.Contains(left.equiv, lcol.Index) {
			fp.equiv = append(fp.equiv, left.equiv...)
		}
	}
	if rIsCol {
		fp.equiv = append(fp.equiv, off+rcol.Index)
	}
	cand := slices.Clone(left.viable)
	if lIsCol {
		cand = append(cand, lcol.Index)
	}
	if rIsCol {
		cand = append(cand, off+rcol.Index)
	}
	for _, c := range cand {
		if slices.Contains(fp.equiv, c) && !slices.Contains(fp.viable, c) {
			fp.viable = append(fp.viable, c)
		}
	}
	return fp
}

func kindWord(k ir.Kind) string {
	if k == ir.Table {
		return "table"
	}
	return "stream"
}

func sourceNames(sc *scope) string {
	var names []string
	for _, s := range sc.sources {
		names = append(names, s.alias)
	}
	if len(names) == 1 {
		return names[0]
	}
	return "(" + strings.Join(names, ", ") + ")"
}

type side uint8

const (
	sideNone side = iota
	sideLeft
	sideRight
	sideBoth
)

// side tells which side of a join an operand of its condition reads.
func (pl *planner) side(e parse.Expr, sc *scope, right string) side {
	s := sideNone
	walk(e, func(x parse.Expr) {
		ref, ok := x.(*parse.ColumnRef)
		if !ok {
			return
		}
		i, err := sc.resolve(ref)
		must(err)
		this := sideLeft
		if sc.cols[i].source == right {
			this = sideRight
		}
		if s == sideNone {
			s = this
		} else if s != this {
			s = sideBoth
		}
	})
	return s
}

// isKeyOf reports whether e is the single key column of the relation it
// reads.
func isKeyOf(e ir.Expr, r *Relation) bool {
	c, ok := e.(*ir.Column)
	return ok && len(r.Schema.Key) == 1 && r.Schema.Key[0] == c.Index
}

func keyHint(r *Relation, got parse.Expr) string {
	switch len(r.Schema.Key) {
	case 0:
		return r.Name + " has no key"
	case 1:
		return r.Name + "'s key is " + r.Schema.Columns[r.Schema.Key[0]].Name + ", got " + parse.Print(got)
	}
	return r.Name + " has a key of several columns, which joins do not support"
}

// leftIsKey reports whether a table-table join's left expression is the
// key of the left table it reads.
func leftIsKey(e ir.Expr, left *fromPlan) bool {
	c, ok := e.(*ir.Column)
	if !ok {
		return false
	}
	src := left.sc.source(left.sc.cols[c.Index].source)
	if src == nil || len(src.rel.Schema.Key) != 1 {
		return false
	}
	return src.rel.Schema.Columns[src.rel.Schema.Key[0]].Name == left.sc.cols[c.Index].name
}

// shift moves an expression over the right side's row onto the joined
// row, whose right columns start at off.
func shift(e ir.Expr, off int) ir.Expr {
	return rewrite(e, func(x ir.Expr) ir.Expr {
		if c, ok := x.(*ir.Column); ok {
			return &ir.Column{Index: c.Index + off, T: c.T}
		}
		return nil
	})
}
