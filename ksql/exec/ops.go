package exec

import (
	"fmt"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
)

// truth evaluates a predicate: only TRUE passes (NULL and FALSE do not).
func truth(e ir.Evaluator, row []event.Value) (bool, error) {
	v, err := e.Eval(row)
	if err != nil {
		return false, &RecordError{Err: err}
	}
	return v.Kind == event.KindBool && v.AsBool(), nil
}

// filterOp is WHERE or HAVING. Over a table it is Kafka Streams'
// KTableFilter with old values: the new and the old row are each kept if
// they pass, and a change whose both sides fail is not forwarded — so a
// row that stops passing becomes a delete of its key, and a key that
// never passed produces nothing.
type filterOp struct {
	pred  ir.Evaluator
	out   link
	table bool
	child view
}

func (f *filterOp) push(r *run, _ int, c *change) error {
	if !f.table {
		ok, err := truth(f.pred, c.row)
		if err != nil || !ok {
			return err
		}
		return f.out.emit(r, c)
	}
	nc := *c
	nc.row, nc.old = nil, nil
	if c.row != nil {
		ok, err := truth(f.pred, c.row)
		if err != nil {
			return err
		}
		if ok {
			nc.row = c.row
		}
	}
	if c.old != nil {
		ok, err := truth(f.pred, c.old)
		if err != nil {
			return err
		}
		if ok {
			nc.old = c.old
		}
	}
	if nc.row == nil && nc.old == nil {
		return nil
	}
	return f.out.emit(r, &nc)
}

func (f *filterOp) lookup(r *run, key []event.Value) ([]event.Value, int64, bool, error) {
	row, ts, ok, err := f.child.lookup(r, key)
	if err != nil || !ok {
		return nil, 0, false, err
	}
	if ok, err = truth(f.pred, row); err != nil || !ok {
		return nil, 0, false, err
	}
	return row, ts, true, nil
}

// projectOp computes the SELECT list.
type projectOp struct {
	exprs   []ir.Evaluator
	out     link
	table   bool
	wantOld bool
	width   int
	child   view
}

func (p *projectOp) project(row []event.Value) ([]event.Value, error) {
	out := make([]event.Value, len(p.exprs))
	for i, e := range p.exprs {
		v, err := e.Eval(row)
		if err != nil {
			return nil, &RecordError{Err: err}
		}
		out[i] = v
	}
	return out, nil
}

func (p *projectOp) push(r *run, _ int, c *change) error {
	nc := *c
	var err error
	if c.row != nil {
		if nc.row, err = p.project(c.row); err != nil {
			return err
		}
	}
	nc.old = nil
	if c.old != nil && (c.row == nil || p.wantOld) {
		if nc.old, err = p.project(c.old); err != nil {
			return err
		}
	}
	return p.out.emit(r, &nc)
}

func (p *projectOp) lookup(r *run, key []event.Value) ([]event.Value, int64, bool, error) {
	row, ts, ok, err := p.child.lookup(r, key)
	if err != nil || !ok {
		return nil, 0, false, err
	}
	out, err := p.project(row)
	if err != nil {
		return nil, 0, false, err
	}
	return out, ts, true, nil
}

// repartOp is PARTITION BY. sluice's streams have one partition, so
// re-keying moves nothing: the key is a property of the schema (its Key
// columns). When the node's schema is wider than its input's, the extra
// columns are the PARTITION BY expressions' values, appended to the row.
type repartOp struct {
	keys  []ir.Evaluator // evaluated for the appended columns
	out   link
	extra bool
}

func (b *builder) repartition(n *ir.Repartition, out link) error {
	in := n.Input.Schema()
	p := &repartOp{out: out}
	switch {
	case len(n.S.Columns) == len(in.Columns):
	case len(n.S.Columns) == len(in.Columns)+len(n.Keys):
		p.extra = true
		for _, k := range n.Keys {
			e, err := b.expr(k, "PARTITION BY")
			if err != nil {
				return err
			}
			p.keys = append(p.keys, e)
		}
	default:
		return fmt.Errorf("PARTITION BY: the node has %d columns over an input of %d and %d keys", len(n.S.Columns), len(in.Columns), len(n.Keys))
	}
	if n.Input.Kind() != ir.Stream {
		return fmt.Errorf("PARTITION BY applies to streams")
	}
	_, err := b.node(n.Input, link{p, 0}, false)
	return err
}

func (p *repartOp) push(r *run, _ int, c *change) error {
	if !p.extra {
		return p.out.emit(r, c)
	}
	row := make([]event.Value, len(c.row), len(c.row)+len(p.keys))
	copy(row, c.row)
	for _, k := range p.keys {
		v, err := k.Eval(c.row)
		if err != nil {
			return &RecordError{Err: err}
		}
		row = append(row, v)
	}
	nc := *c
	nc.row = row
	return p.out.emit(r, &nc)
}

// sinkOp turns the plan root's changes into output rows.
type sinkOp struct{ q *query }

func (s *sinkOp) push(r *run, _ int, c *change) error {
	row := Row{Query: s.q.id, Topic: s.q.topic, Schema: s.q.schema, Time: c.ts}
	if c.win != nil {
		row.Windowed, row.WindowStart, row.WindowEnd = true, c.win.start, c.win.end
	}
	img := c.row
	switch {
	case s.q.kind == ir.Stream:
		row.Op = Insert
	case c.row == nil:
		row.Op = Delete
		img = c.old
	default:
		row.Op = Upsert
	}
	if img == nil {
		return fmt.Errorf("exec: query %s: a delete without its row (an operator lost the old row)", s.q.id)
	}
	if k := s.q.schema.Key; len(k) > 0 {
		row.Key = make([]event.Value, len(k))
		for i, j := range k {
			row.Key[i] = img[j]
		}
	}
	if row.Op != Delete {
		row.Value = c.row
	}
	r.out = append(r.out, row)
	return nil
}
