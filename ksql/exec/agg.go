package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
)

// aggCore is what every aggregation shares: the GROUP BY expressions, the
// aggregate functions with their argument expressions, and how an output
// row is laid out (groups, results, then WINDOWSTART, WINDOWEND or
// ROWTIME).
type aggCore struct {
	name    string // for messages
	groups  []ir.Evaluator
	aggs    []ir.Aggregator
	args    [][]ir.Evaluator
	extra   []string // the pseudo-columns after the results
	width   int
	wantOld bool
	st      component.State
	vbuf    []byte
}

func (b *builder) aggCore(n *ir.Aggregate, wantOld bool) (*aggCore, error) {
	a := &aggCore{name: "GROUP BY", width: len(n.S.Columns), wantOld: wantOld, st: b.x.st}
	if len(n.GroupBy) == 0 {
		return nil, fmt.Errorf("an aggregation without GROUP BY")
	}
	for _, g := range n.GroupBy {
		e, err := b.expr(g, "GROUP BY")
		if err != nil {
			return nil, err
		}
		a.groups = append(a.groups, e)
	}
	for _, call := range n.Aggs {
		f, err := b.x.opts.Compiler.Agg(call)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", call.Func, err)
		}
		if n.Window != nil && n.Window.Kind == ir.Session {
			if _, ok := f.(ir.Merger); !ok {
				return nil, fmt.Errorf("%s cannot merge sessions (its aggregator has no Merge)", call.Func)
			}
		}
		a.aggs = append(a.aggs, f)
		var args []ir.Evaluator
		for _, x := range call.Args {
			e, err := b.expr(x, call.Func)
			if err != nil {
				return nil, err
			}
			args = append(args, e)
		}
		a.args = append(a.args, args)
	}
	rest := n.S.Columns[min(len(n.GroupBy)+len(n.Aggs), len(n.S.Columns)):]
	if len(n.GroupBy)+len(n.Aggs)+len(rest) != len(n.S.Columns) {
		return nil, fmt.Errorf("the aggregation's schema has %d columns for %d groups and %d aggregates", len(n.S.Columns), len(n.GroupBy), len(n.Aggs))
	}
	for _, c := range rest {
		switch c.Name {
		case ir.WindowStart, ir.WindowEnd:
			if n.Window == nil {
				return nil, fmt.Errorf("%s in an aggregation without a window", c.Name)
			}
		case ir.RowTime:
		default:
			return nil, fmt.Errorf("the aggregation's column %s is neither a group, an aggregate nor a window bound", c.Name)
		}
		a.extra = append(a.extra, c.Name)
	}
	return a, nil
}

// group evaluates the GROUP BY values; ok is false when one is NULL
// (ksqlDB excludes such rows from the table).
func (a *aggCore) group(r *run, row []event.Value) ([]event.Value, bool, error) {
	g := make([]event.Value, len(a.groups))
	for i, e := range a.groups {
		v, err := e.Eval(row)
		if err != nil {
			return nil, false, &RecordError{Err: err}
		}
		if v.IsNull() {
			r.x.stats.nullKeys.Add(1)
			return nil, false, nil
		}
		g[i] = v
	}
	return g, true, nil
}

func (a *aggCore) argVals(row []event.Value) ([][]event.Value, error) {
	out := make([][]event.Value, len(a.args))
	for i, args := range a.args {
		vs := make([]event.Value, len(args))
		for j, e := range args {
			v, err := e.Eval(row)
			if err != nil {
				return nil, &RecordError{Err: err}
			}
			vs[j] = v
		}
		out[i] = vs
	}
	return out, nil
}

// accs is a group's stored aggregate: its event time and accumulators.
type accs struct {
	ts   int64
	accs [][]byte
}

// load reads a group's accumulators; found is false for a new group,
// whose accumulators are the functions' Init. The accumulators are
// copies (the state's slices die at its next call).
func (a *aggCore) load(k []byte) (accs, bool, error) {
	v, ok, err := a.st.Get(k)
	if err != nil {
		return accs{}, false, err
	}
	if !ok {
		out := accs{accs: make([][]byte, len(a.aggs))}
		for i, f := range a.aggs {
			out.accs[i] = f.Init()
		}
		return out, false, nil
	}
	out, err := decodeAccs(v, len(a.aggs))
	if err != nil {
		return accs{}, false, fmt.Errorf("exec: %s: a stored aggregate does not decode: %w", a.name, err)
	}
	return out, true, nil
}

func decodeAccs(v []byte, n int) (accs, error) {
	ts, k := binary.Varint(v)
	if k <= 0 {
		return accs{}, errBadRow
	}
	v = v[k:]
	buf := bytes.Clone(v)
	out := accs{ts: ts, accs: make([][]byte, n)}
	for i := range out.accs {
		l, k := binary.Uvarint(buf)
		if k <= 0 || l > uint64(len(buf)-k) {
			return accs{}, errBadRow
		}
		out.accs[i] = buf[k : k+int(l) : k+int(l)]
		buf = buf[k+int(l):]
	}
	if len(buf) != 0 {
		return accs{}, errBadRow
	}
	return out, nil
}

// store writes a group's accumulators unless they and the time are
// unchanged.
func (a *aggCore) store(k []byte, old accs, found bool, nw accs) error {
	if found && old.ts == nw.ts && sameAccs(old.accs, nw.accs) {
		return nil
	}
	b := binary.AppendVarint(a.vbuf[:0], nw.ts)
	for _, acc := range nw.accs {
		b = binary.AppendUvarint(b, uint64(len(acc)))
		b = append(b, acc...)
	}
	a.vbuf = b
	return a.st.Set(k, b)
}

func sameAccs(a, b [][]byte) bool {
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// add folds one row's arguments into a copy of in.
func (a *aggCore) add(in accs, args [][]event.Value, seq uint64) (accs, error) {
	out := accs{ts: in.ts, accs: make([][]byte, len(in.accs))}
	for i, f := range a.aggs {
		acc, err := f.Add(bytes.Clone(in.accs[i]), args[i], seq)
		if err != nil {
			return accs{}, &RecordError{Err: fmt.Errorf("%s: %w", "aggregate", err)}
		}
		out.accs[i] = acc
	}
	return out, nil
}

// undo removes one row's arguments from a copy of in (table
// aggregations).
func (a *aggCore) undo(in accs, args [][]event.Value) (accs, error) {
	out := accs{ts: in.ts, accs: make([][]byte, len(in.accs))}
	for i, f := range a.aggs {
		acc, ok, err := f.Undo(bytes.Clone(in.accs[i]), args[i])
		if err != nil {
			return accs{}, &RecordError{Err: err}
		}
		if !ok {
			return accs{}, fmt.Errorf("exec: aggregate %d cannot undo a row, so it cannot aggregate a table (the planner should refuse it)", i)
		}
		out.accs[i] = acc
	}
	return out, nil
}

// result is the output row of a group.
func (a *aggCore) result(group []event.Value, ac accs, win *window) ([]event.Value, error) {
	row := make([]event.Value, 0, a.width)
	row = append(row, group...)
	for i, f := range a.aggs {
		v, err := f.Result(ac.accs[i])
		if err != nil {
			return nil, &RecordError{Err: err}
		}
		row = append(row, v)
	}
	for _, x := range a.extra {
		switch x {
		case ir.WindowStart:
			row = append(row, event.Int(millis(win.start)))
		case ir.WindowEnd:
			row = append(row, event.Int(millis(win.end)))
		default:
			row = append(row, event.Int(millis(ac.ts)))
		}
	}
	return row, nil
}

func (b *builder) aggregate(n *ir.Aggregate, out link) error {
	pfx, err := b.prefix()
	if err != nil {
		return err
	}
	// The parent needs old rows when it filters (HAVING) or projects for a
	// filter; a plain sink does not.
	_, wantOld := out.to.(*filterOp)
	if p, ok := out.to.(*projectOp); ok {
		wantOld = p.wantOld
	}
	a, err := b.aggCore(n, wantOld)
	if err != nil {
		return err
	}
	var in op
	switch {
	case n.Window != nil:
		if n.Input.Kind() != ir.Stream {
			return fmt.Errorf("a windowed aggregation of a table")
		}
		m, err := b.meta(pfx)
		if err != nil {
			return err
		}
		if n.Window.Kind == ir.Session {
			in, err = newSessionAgg(a, n.Window, pfx, m, out)
		} else {
			in, err = newWindowAgg(a, n.Window, pfx, m, out)
		}
		if err != nil {
			return err
		}
	default:
		in = &groupAgg{aggCore: a, space: append(pfx, 'a'), out: out, table: n.Input.Kind() == ir.Table}
	}
	_, err = b.node(n.Input, link{in, 0}, true)
	return err
}

// groupAgg is an unwindowed GROUP BY. Over a stream it is Kafka Streams'
// KStreamAggregate; over a table, KTableAggregate after a groupBy: the
// old row is retracted from its group (Undo) and the new row added, and
// when both fall in the same group that is one update with one output
// (Kafka Streams 3.5's behaviour, KIP-904; 3.3 forwarded the retraction
// and the addition separately, showing an intermediate result).
type groupAgg struct {
	*aggCore
	space []byte // 'a' + group key → time, accumulators
	out   link
	table bool
}

func (g *groupAgg) push(r *run, _ int, c *change) error {
	if !g.table {
		return g.update(r, c.row, nil, c)
	}
	return g.update(r, c.row, c.old, c)
}

// update retracts old and adds row (either may be nil).
func (g *groupAgg) update(r *run, row, old []event.Value, c *change) error {
	var ng, og []event.Value
	var nk, ok []byte
	var err error
	if row != nil {
		var valid bool
		if ng, valid, err = g.group(r, row); err != nil {
			return err
		}
		if valid {
			if nk, err = stateKey(g.space, ng); err != nil {
				return err
			}
		}
	}
	if old != nil {
		// The old row's group was counted as NULL-keyed already; do not
		// count it again.
		if og, err = g.groupQuiet(old); err != nil {
			return err
		}
		if og != nil {
			if ok, err = stateKey(g.space, og); err != nil {
				return err
			}
		}
	}
	if ok != nil && nk != nil && bytes.Equal(ok, nk) {
		return g.apply(r, nk, ng, old, row, c)
	}
	if ok != nil {
		if err := g.apply(r, ok, og, old, nil, c); err != nil {
			return err
		}
	}
	if nk != nil {
		return g.apply(r, nk, ng, nil, row, c)
	}
	return nil
}

func (a *aggCore) groupQuiet(row []event.Value) ([]event.Value, error) {
	g := make([]event.Value, len(a.groups))
	for i, e := range a.groups {
		v, err := e.Eval(row)
		if err != nil {
			return nil, &RecordError{Err: err}
		}
		if v.IsNull() {
			return nil, nil
		}
		g[i] = v
	}
	return g, nil
}

func stateKey(prefix []byte, vals []event.Value) ([]byte, error) {
	k, err := appendKeys(append(make([]byte, 0, len(prefix)+16*len(vals)), prefix...), vals)
	if err != nil {
		return nil, &RecordError{Err: fmt.Errorf("key: %w", err)}
	}
	return k, nil
}

// apply retracts sub and adds add in one group, writes it and emits the
// group's new row. The output time follows KTableAggregate and
// KStreamAggregate: the input's time, or the later of it and the group's
// time once the group exists.
func (g *groupAgg) apply(r *run, k []byte, group, sub, add []event.Value, c *change) error {
	cur, found, err := g.load(k)
	if err != nil {
		return err
	}
	nw := cur
	if sub != nil && found {
		args, err := g.argVals(sub)
		if err != nil {
			return err
		}
		if nw, err = g.undo(nw, args); err != nil {
			return err
		}
	}
	if add != nil {
		args, err := g.argVals(add)
		if err != nil {
			return err
		}
		if nw, err = g.add(nw, args, c.seq); err != nil {
			return err
		}
	}
	nw.ts = c.ts
	if found {
		nw.ts = max(c.ts, cur.ts)
	}
	if err := g.store(k, cur, found, nw); err != nil {
		return err
	}
	row, err := g.result(group, nw, nil)
	if err != nil {
		return err
	}
	var oldRow []event.Value
	if found && g.wantOld {
		if oldRow, err = g.result(group, cur, nil); err != nil {
			return err
		}
	}
	return g.out.emit(r, &change{row: row, old: oldRow, ts: nw.ts, seq: c.seq})
}
