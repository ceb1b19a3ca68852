package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// query is a persistent query's operators.
type query struct {
	id, topic string
	schema    *types.Schema // the root's
	kind      ir.Kind
	sources   []*sourceOp
	// names are the output columns' names, for queries reading the
	// output as a source.
	names []string
}

// change is what flows from an operator to its parent: a stream row
// (row), or a table's change of one key (row: the new row, nil for a
// delete; old: the previous row, nil when the key was absent).
type change struct {
	row, old []event.Value
	ts       int64  // event time, µs
	seq      uint64 // input order (the source row's sequence number)
	win      *window
}

// window is a windowed aggregate's window (end exclusive for time
// windows, inclusive for sessions).
type window struct{ start, end int64 }

// op receives changes from its children; side tells which child (joins:
// 0 left, 1 right).
type op interface {
	push(r *run, side int, c *change) error
}

// link is an operator's edge to its parent.
type link struct {
	to   op
	side int
}

func (l link) emit(r *run, c *change) error { return l.to.push(r, l.side, c) }

// view reads a table node's current row by key, as Kafka Streams' value
// getters do: sources read their materialized rows, filters and
// projections apply themselves to the row below, table-table joins join
// the rows of their sides.
type view interface {
	lookup(r *run, key []event.Value) (row []event.Value, ts int64, ok bool, err error)
}

type builder struct {
	x    *Executor
	q    *query
	next int // the next operator number
}

// prefix returns the state key prefix of a new operator: the query ID
// (length first) and the operator's number in the plan's pre-order.
func (b *builder) prefix() ([]byte, error) {
	if b.next > 255 {
		return nil, fmt.Errorf("the plan has more than 256 operators")
	}
	p := binary.AppendUvarint(nil, uint64(len(b.q.id)))
	p = append(p, b.q.id...)
	p = append(p, byte(b.next))
	b.next++
	return p, nil
}

func (x *Executor) build(q *ir.Query) (*query, error) {
	bq := &query{id: q.ID, topic: q.Topic, schema: q.Root.Schema(), kind: q.Root.Kind()}
	for _, c := range bq.schema.Columns {
		bq.names = append(bq.names, c.Name)
	}
	for _, k := range bq.schema.Key {
		if k < 0 || k >= len(bq.schema.Columns) {
			return nil, fmt.Errorf("the output key names column %d of %d", k, len(bq.schema.Columns))
		}
	}
	b := &builder{x: x, q: bq}
	sink := &sinkOp{q: bq}
	if _, err := b.node(q.Root, link{sink, 0}, false); err != nil {
		return nil, err
	}
	return bq, nil
}

// node builds the operators of n, which emits to out. wantOld says that
// the parent needs the previous row of table changes that are not deletes
// (deletes always carry it). It returns n's view when n is a table.
func (b *builder) node(n ir.Node, out link, wantOld bool) (view, error) {
	switch n := n.(type) {
	case *ir.Source:
		return b.source(n, out)
	case *ir.Filter:
		pred, err := b.expr(n.Pred, "WHERE/HAVING")
		if err != nil {
			return nil, err
		}
		f := &filterOp{pred: pred, out: out, table: n.Kind() == ir.Table}
		v, err := b.node(n.Input, link{f, 0}, true)
		if err != nil {
			return nil, err
		}
		f.child = v
		if v == nil {
			return nil, nil
		}
		return f, nil
	case *ir.Project:
		p := &projectOp{out: out, table: n.Kind() == ir.Table, wantOld: wantOld, width: len(n.S.Columns)}
		if len(n.Exprs) != len(n.S.Columns) {
			return nil, fmt.Errorf("a projection has %d expressions for %d columns", len(n.Exprs), len(n.S.Columns))
		}
		for _, e := range n.Exprs {
			ev, err := b.expr(e, "SELECT")
			if err != nil {
				return nil, err
			}
			p.exprs = append(p.exprs, ev)
		}
		v, err := b.node(n.Input, link{p, 0}, wantOld)
		if err != nil {
			return nil, err
		}
		p.child = v
		if v == nil {
			return nil, nil
		}
		return p, nil
	case *ir.Repartition:
		return nil, b.repartition(n, out)
	case *ir.Aggregate:
		return nil, b.aggregate(n, out)
	case *ir.Join:
		return b.join(n, out, wantOld)
	}
	return nil, fmt.Errorf("unknown plan node %T", n)
}

func (b *builder) expr(e ir.Expr, where string) (ir.Evaluator, error) {
	if e == nil {
		return nil, fmt.Errorf("%s: missing expression", where)
	}
	ev, err := b.x.opts.Compiler.Expr(e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return ev, nil
}

// meta is an operator's stream time, kept in memory and written by Flush
// when it moved (one Set per batch instead of one per row).
type meta struct {
	key          []byte
	st           int64 // the highest event time seen
	known, dirty bool
}

func (b *builder) meta(pfx []byte) (*meta, error) {
	m := &meta{key: append(append([]byte(nil), pfx...), 'M')}
	v, ok, err := b.x.st.Get(m.key)
	if err != nil {
		return nil, err
	}
	if ok {
		st, n := binary.Varint(v)
		if n <= 0 {
			return nil, fmt.Errorf("exec: the stream time of query %s does not decode: %w", b.q.id, errBadRow)
		}
		m.st, m.known = st, true
	}
	b.x.metas = append(b.x.metas, m)
	return m, nil
}

// advance records event time ts and returns the stream time.
func (m *meta) advance(ts int64) int64 {
	if !m.known || ts > m.st {
		m.st, m.known, m.dirty = ts, true, true
	}
	return m.st
}

func (m *meta) saveMeta(st component.State) error {
	if !m.dirty {
		return nil
	}
	m.dirty = false
	return st.Set(m.key, binary.AppendVarint(nil, m.st))
}
